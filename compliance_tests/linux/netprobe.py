"""Behaviour probes from the controller: what a TCP connection or an SSH client actually gets from a host.

Each probe says what happened in a few words the checks compare, and keeps apart the answers that prove something
(a refused connection, a refused login, a key exchange without a common algorithm) from the failures that prove
nothing (a timeout while negotiating, a reset, an unreachable host): a check never passes on those.

Used by the Linux suites (AC-01, IA-05, IP-01); tests/unit/test_netprobe.py runs them against local servers.
"""

from __future__ import annotations

import secrets
import socket
from typing import Any

import paramiko

# What an SSH client may offer that the baseline refuses (IA-05): CBC and 3DES ciphers, MD5 and SHA-1 MACs (also
# truncated to 96 bits), SHA-1 key exchanges. Only names paramiko can offer (tests/unit/test_netprobe.py checks).
WEAK_CIPHERS = ("3des-cbc", "aes128-cbc", "aes192-cbc", "aes256-cbc")
WEAK_MACS = ("hmac-md5", "hmac-md5-96", "hmac-sha1", "hmac-sha1-96")
WEAK_KEX = ("diffie-hellman-group1-sha1", "diffie-hellman-group14-sha1", "diffie-hellman-group-exchange-sha1")
# Ciphers that need a separate MAC (no AEAD): offered with a weak MAC, so that the MAC is what gets negotiated.
MAC_CIPHERS = ("aes128-ctr", "aes192-ctr", "aes256-ctr")
# paramiko's words when the key exchange finds nothing in common, by what it was looking for.
NO_COMMON = {"cipher": "no acceptable ciphers", "mac": "no acceptable macs", "kex": "no acceptable kex algorithm"}

ACCEPTED = "accepted"
REFUSED = "refused"  # the host answered with a reset: nothing listens, or a firewall rejects
FILTERED = "filtered"  # no answer within the timeout: a firewall drops


def port_outcome(address: str, port: int, timeout: float = 3.0) -> str:
    """A TCP connection from here to address:port: "accepted", "refused", "filtered", or "error: …" (unreachable
    network or host and the like: proves nothing about the port)."""
    try:
        sock = socket.create_connection((address, port), timeout=timeout)
    except ConnectionRefusedError:
        return REFUSED
    except TimeoutError:
        return FILTERED
    except OSError as exc:
        return f"error: {exc}"
    sock.close()
    return ACCEPTED


def _transport(address: str, port: int, timeout: float) -> paramiko.Transport:
    sock = socket.create_connection((address, port), timeout=timeout)
    return paramiko.Transport(sock)


def ssh_negotiation(address: str, port: int = 22, *, timeout: float = 10.0, **offered: tuple[str, ...]) -> str:
    """Start an SSH session offering only `offered` (paramiko SecurityOptions names: ciphers=, digests=, kex=):
    "negotiated", "refused: <paramiko's words>" when the key exchange found no common algorithm, or "error: …"
    (no connection, a timeout, the server closing the connection: proves nothing)."""
    try:
        transport = _transport(address, port, timeout)
    except OSError as exc:
        return f"error: no connection: {exc}"
    try:
        options = transport.get_security_options()
        for name, algorithms in offered.items():
            setattr(options, name, tuple(algorithms))
        transport.start_client(timeout=timeout)
        return "negotiated"
    except paramiko.IncompatiblePeer as exc:
        return f"refused: {exc}"
    except (paramiko.SSHException, OSError, EOFError) as exc:
        return f"error: {type(exc).__name__}: {exc}"
    finally:
        transport.close()


def refused_for(outcome: str, *kinds: str) -> bool:
    """True when a negotiation was refused for lack of a common algorithm of one of `kinds` (cipher, mac, kex)."""
    return outcome.startswith("refused:") and any(NO_COMMON[kind] in outcome for kind in kinds)


def ssh_password_login(address: str, user: str, port: int = 22, *, password: str | None = None,
                       timeout: float = 10.0) -> dict[str, Any]:
    """Try to log in as `user` with a password (a random one unless given) and say what the server did.

    `methods_offered`: the methods the server lists for the user (from a "none" request); `login`:
    "refused: …" (an authentication refusal: wrong password, or password logins not offered to the user),
    "accepted", "partial: …" (accepted as a first factor) or "error: …" (no SSH session: proves nothing)."""
    secret = password if password is not None else "Bl-" + secrets.token_urlsafe(24)
    result: dict[str, Any] = {"methods_offered": None, "login": None}
    try:
        transport = _transport(address, port, timeout)
    except OSError as exc:
        result["login"] = f"error: no connection: {exc}"
        return result
    try:
        transport.start_client(timeout=timeout)
        try:
            transport.auth_none(user)
            result["methods_offered"] = []
            result["login"] = "accepted: logged in without any authentication"
            return result
        except paramiko.BadAuthenticationType as exc:
            result["methods_offered"] = sorted(exc.allowed_types)
        except paramiko.AuthenticationException:
            pass  # refused without naming the methods
        try:
            remaining = transport.auth_password(user, secret)
        except paramiko.BadAuthenticationType as exc:
            result["login"] = f"refused: password logins not offered (offered: {', '.join(exc.allowed_types)})"
        except paramiko.AuthenticationException as exc:
            result["login"] = f"refused: {exc}"
        else:
            result["login"] = "accepted" if transport.is_authenticated() else f"partial: next {remaining}"
    except (paramiko.SSHException, OSError, EOFError) as exc:
        result["login"] = f"error: {type(exc).__name__}: {exc}"
    finally:
        transport.close()
    return result
