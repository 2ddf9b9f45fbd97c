"""Behaviour probes from the controller: what a TCP connection or an SSH client actually gets from a host.

Each probe says what happened in a few words the checks compare, and keeps apart the answers that prove something
(a refused connection, a refused login, a key exchange without a common algorithm) from the failures that prove
nothing (a timeout while negotiating, a reset, an unreachable host): a check never passes on those.

Every SSH probe checks the host key the server shows against the known_hosts of the SSH client config before it
says anything else, like OpenSSH with StrictHostKeyChecking: a changed or unknown key is an error, never a pass,
and no credential is sent to such a server.

Used by the Linux suites (AC-01, AC-02, IA-04, IA-05, IP-01); tests/unit/test_netprobe.py runs them against local
servers.
"""

from __future__ import annotations

import socket
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import paramiko

from baseline.secrets import generate

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


@dataclass(frozen=True)
class KnownHost:
    """The host key(s) an SSH server must show: the known_hosts entries for `name` (the HostKeyAlias, else the
    HostName the client config gives for the inventory host, as OpenSSH looks them up)."""

    name: str
    keys: paramiko.HostKeys

    def problem(self, transport: paramiko.Transport) -> str | None:
        """None when the server's key is a known key of the host; else what is wrong, in a few words."""
        shown = transport.get_remote_server_key()
        if self.keys.check(self.name, shown):
            return None
        known = self.keys.lookup(self.name)
        if not known:
            return f"host key of {self.name} is not in known_hosts (shown: {shown.get_name()} {shown.fingerprint})"
        return (f"host key of {self.name} has changed: shown {shown.get_name()} {shown.fingerprint}, known "
                + ", ".join(f"{kind} {key.fingerprint}" for kind, key in known.items()))


class HostKeyError(RuntimeError):
    """The SSH client config names no known_hosts that can be read for the host."""


def known_host(ssh_config: str | Path | None, host: str) -> KnownHost:
    """The known host keys of inventory host `host` under the SSH client config `ssh_config` (`ssh -G` resolves the
    config the way the ssh client does: HostName, HostKeyAlias, UserKnownHostsFile)."""
    command = ["ssh", "-G", *(["-F", str(ssh_config)] if ssh_config else []), host]
    proc = subprocess.run(command, capture_output=True, text=True, timeout=30, check=False)
    if proc.returncode != 0:
        raise HostKeyError(f"ssh -G {host} failed ({proc.returncode}): {proc.stderr.strip()}")
    options: dict[str, str] = {}
    for line in proc.stdout.splitlines():
        key, _, value = line.partition(" ")
        options.setdefault(key, value)
    name = options.get("hostkeyalias") or options.get("hostname") or host
    keys = paramiko.HostKeys()
    read = []
    for given in options.get("userknownhostsfile", "").split():
        path = Path(given).expanduser()
        if path.is_file():
            keys.load(str(path))
            read.append(str(path))
    if not read:
        raise HostKeyError(f"no known_hosts file of {host} can be read ({options.get('userknownhostsfile', 'none')})")
    return KnownHost(name, keys)


def _transport(address: str, port: int, timeout: float) -> paramiko.Transport:
    sock = socket.create_connection((address, port), timeout=timeout)
    return paramiko.Transport(sock)


def ssh_negotiation(address: str, port: int = 22, *, known: KnownHost, timeout: float = 10.0,
                    **offered: tuple[str, ...]) -> str:
    """Start an SSH session offering only `offered` (paramiko SecurityOptions names: ciphers=, digests=, kex=):
    "negotiated", "refused: <paramiko's words>" when the key exchange found no common algorithm, or "error: …"
    (no connection, a timeout, the server closing the connection, a host key other than `known`'s: proves
    nothing)."""
    try:
        transport = _transport(address, port, timeout)
    except OSError as exc:
        return f"error: no connection: {exc}"
    try:
        options = transport.get_security_options()
        for name, algorithms in offered.items():
            setattr(options, name, tuple(algorithms))
        transport.start_client(timeout=timeout)
        wrong = known.problem(transport)
        return f"error: {wrong}" if wrong else "negotiated"
    except paramiko.IncompatiblePeer as exc:
        return f"refused: {exc}"
    except (paramiko.SSHException, OSError, EOFError) as exc:
        return f"error: {type(exc).__name__}: {exc}"
    finally:
        transport.close()


def refused_for(outcome: str, *kinds: str) -> bool:
    """True when a negotiation was refused for lack of a common algorithm of one of `kinds` (cipher, mac, kex)."""
    return outcome.startswith("refused:") and any(NO_COMMON[kind] in outcome for kind in kinds)


def ssh_password_login(address: str, user: str, port: int = 22, *, known: KnownHost, password: str | None = None,
                       timeout: float = 10.0) -> dict[str, Any]:
    """Try to log in as `user` with a password (a random one unless given) and say what the server did.

    `methods_offered`: the methods the server lists for the user (from a "none" request); `login`:
    "refused: …" (an authentication refusal: wrong password, or password logins not offered to the user),
    "accepted", "partial: …" (accepted as a first factor) or "error: …" (no SSH session, or a host key other than
    `known`'s — then nothing is sent: proves nothing)."""
    secret = password if password is not None else generate(name="a login probe's password")
    result: dict[str, Any] = {"methods_offered": None, "login": None}
    try:
        transport = _transport(address, port, timeout)
    except OSError as exc:
        result["login"] = f"error: no connection: {exc}"
        return result
    try:
        transport.start_client(timeout=timeout)
        wrong = known.problem(transport)
        if wrong:
            result["login"] = f"error: {wrong}"
            return result
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


def open_verified(address: str, known: KnownHost, port: int = 22, timeout: float = 10.0) -> paramiko.Transport:
    """An SSH transport whose server showed a known host key, for a check that then authenticates itself (with a
    key, a password or both). Raises HostKeyError on any other key, before any credential is offered."""
    transport = _transport(address, port, timeout)
    try:
        transport.start_client(timeout=timeout)
        wrong = known.problem(transport)
    except BaseException:
        transport.close()
        raise
    if wrong:
        transport.close()
        raise HostKeyError(wrong)
    return transport


# What the OpenSSH client says when the server refuses to open a forwarded channel (AllowTcpForwarding no), and when
# it tried to connect on the client's behalf (forwarding allowed, the target did not answer).
FORWARD_PROHIBITED = "administratively prohibited"
FORWARD_TRIED = "connect failed"


def forwarding_outcome(rc: int, stdout: str, stderr: str) -> str:
    """What `ssh -W HOST:PORT` came to: "refused: …" (the server prohibits forwarding), "forwarded: …" (the target's
    answer came back, or the server tried to connect for the client), or "error: …" (no session: proves nothing)."""
    said = stderr.strip().splitlines()[-1] if stderr.strip() else ""
    if FORWARD_PROHIBITED in stderr:
        return f"refused: {said}"
    if stdout.startswith("SSH-"):
        return f"forwarded: the target answered {stdout.splitlines()[0][:60]!r}"
    if FORWARD_TRIED in stderr:
        return f"forwarded: the server tried to connect ({said})"
    return f"error (rc {rc}): {said or 'no output'}"


def ssh_client(ssh_config: str | Path, host: str, options: tuple[str, ...] = (), command: tuple[str, ...] = (),
               timeout: float = 30.0) -> tuple[int, str, str]:
    """The OpenSSH client as the suites' own login (user, key, known hosts of `ssh_config`), on a new connection of
    its own (no shared master), without a terminal or a prompt, stdin empty: (exit status, stdout, stderr). A
    timeout gives exit status 124 and what was printed until then."""
    argv = ["ssh", "-F", str(ssh_config), "-o", "ControlMaster=no", "-o", "ControlPath=none", "-o", "BatchMode=yes",
            "-o", "ConnectTimeout=10", *options, host, *command]
    try:
        proc = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=timeout,
                              check=False)
    except subprocess.TimeoutExpired as exc:
        return 124, _text(exc.stdout), _text(exc.stderr)
    return proc.returncode, proc.stdout, proc.stderr


def _text(data: str | bytes | None) -> str:
    return data.decode(errors="replace") if isinstance(data, bytes) else data or ""
