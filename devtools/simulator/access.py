"""What a simulated device's own configuration lets in, read the way the device reads it: telnet, SNMPv2c
communities, and the login-failure lockout (which the server enforces with `Guard`).

    telnet_allowed(device)          telnet server on (VRP, Comware) and a vty range taking telnet
    community_allows(device, text)  an SNMPv1/v2c community configured (and the agent on, v2c allowed)
    Guard(device).allows(user)      not locked out by the failures recorded with `failed(user)`
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from devtools.simulator.device import Device
from devtools.simulator.model import Node


def _top(device: Device) -> list[str]:
    return [node.text for node in device.running.root.children]


def _vty_ranges(device: Device) -> list[Node]:
    return [node for node in device.running.root.children if node.text.startswith(("user-interface vty", "line vty"))]


def telnet_allowed(device: Device) -> bool:
    """VRP and Comware: `telnet server enable`, and a vty range whose `protocol inbound` takes telnet (VRP and
    Comware default: all). IOS: a vty range whose `transport input` takes telnet (IOS 15 default: all). One range
    taking telnet is enough: a client reaches that range once the others are in use."""
    if device.vendor != "cisco" and "telnet server enable" not in _top(device):
        return False
    return vty_takes(device, "telnet")


def account_takes(device: Device, username: str, service: str) -> bool:
    """Whether a local account may log in over `service` (telnet, ssh): VRP `local-user X service-type …`, Comware
    `service-type …` in the account's section; IOS accounts have no service types."""
    if device.vendor == "cisco":
        return True
    if device.vendor == "huawei":
        aaa = next((n for n in device.running.root.children if n.text == "aaa"), Node(""))
        lines = [c.text.split()[3:] for c in aaa.children if c.text.startswith(f"local-user {username} service-type ")]
    else:
        user = next((n for n in device.running.root.children if n.text.split()[:2] == ["local-user", username]),
                    Node(""))
        lines = [c.text.split()[1:] for c in user.children if c.text.startswith("service-type ")]
    return any(service in words for words in lines)


def vty_takes(device: Device, protocol: str) -> bool:
    """Whether a vty range takes `protocol` (ssh, telnet): VRP and Comware `protocol inbound`, IOS `transport input`
    (default: all)."""
    word = "transport input" if device.vendor == "cisco" else "protocol inbound"
    for vty in _vty_ranges(device):
        lines = [child.text.split() for child in vty.children if child.text.startswith(word + " ")]
        if not lines or any(w in (protocol, "all") for w in lines[-1][2:]):
            return True
    return not _vty_ranges(device)


def telnet_server_on(device: Device) -> bool:
    """Whether the device listens for telnet at all (VRP and Comware switch the server off; IOS always listens)."""
    return device.vendor == "cisco" or "telnet server enable" in _top(device)


def community_allows(device: Device, community: str, write: bool = False) -> bool:
    """An SNMPv1/v2c request with `community` is answered: the agent is on, v1/v2c is among the versions it speaks,
    and the community is configured (read or write; a write community also reads)."""
    lines = _top(device)
    if device.vendor == "cisco":
        for line in lines:
            words = line.split()
            if words[:2] == ["snmp-server", "community"] and len(words) > 2 and _same(device, community, words[2]):
                access = words[3] if len(words) > 3 and words[3] in ("RO", "RW") else "RO"
                return access == "RW" or not write
        return False
    if "snmp-agent" not in lines:
        return False
    versions = next((line.split()[3:] for line in lines if line.startswith("snmp-agent sys-info version ")), ["v3"])
    if not {"v1", "v2c", "all"} & set(versions):
        return False
    for line in lines:
        words = line.split()
        if words[:2] != ["snmp-agent", "community"] or len(words) < 4:
            continue
        stored = words[4] if words[3] in ("cipher", "simple") and len(words) > 4 else words[3]
        if _same(device, community, stored):
            return words[2] == "write" or not write
    return False


def _same(device: Device, plain: str, stored: str) -> bool:
    return device.grammar.verify(plain, stored) if device.grammar.is_cipher(stored) else plain == stored


@dataclass(frozen=True)
class Policy:
    """After `attempts` failures within `window` seconds (None: since the last success), the account (`scope`
    "user") or every login to the device (`scope` "device", IOS `login block-for`) is refused for `block` seconds
    (None: until an administrator unlocks it)."""

    scope: str
    attempts: int
    window: float | None
    block: float | None


def policies(device: Device) -> list[Policy]:
    """The lockout figures of the device's own configuration lines; no line, no lockout."""
    found = []
    if device.vendor == "huawei":
        aaa = next((n for n in device.running.root.children if n.text == "aaa"), Node(""))
        for child in aaa.children:
            words = child.text.split()
            if words[:2] == ["local-aaa-user", "wrong-password"]:
                figures = dict(zip(words[2::2], words[3::2], strict=False))
                found.append(Policy("user", int(figures["retry-time"]), int(figures["retry-interval"]) * 60.0,
                                    int(figures["block-time"]) * 60.0))
    elif device.vendor == "h3c":
        lines = _top(device)
        for line in lines:
            words = line.split()
            if words[:2] == ["password-control", "login-attempt"] and "password-control enable" in lines:
                how = words[4] if len(words) > 4 else "lock-time"
                if how == "unlock":
                    continue
                minutes = int(words[5]) if how == "lock-time" and len(words) > 5 else 1
                found.append(Policy("user", int(words[2]), None, minutes * 60.0 if how == "lock-time" else None))
    else:
        for line in _top(device):
            words = line.split()
            if words[:2] == ["login", "block-for"]:
                found.append(Policy("device", int(words[4]), float(words[6]), float(words[2])))
            elif words[:5] == ["aaa", "local", "authentication", "attempts", "max-fail"]:
                found.append(Policy("user", int(words[5]), None, None))
    return found


@dataclass
class Guard:
    """Login failures of one device and the lockouts they cause."""

    device: Device
    clock: Callable[[], float] = time.monotonic
    failures: dict[str, list[float]] = field(default_factory=dict)  # per account, since its last success
    device_failures: list[float] = field(default_factory=list)  # every account's, for IOS quiet mode
    locked: dict[str, float] = field(default_factory=dict)  # account -> until (math.inf: until unlocked)
    quiet_until: float = 0.0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def allows(self, username: str) -> str:
        """"" when a login of `username` may be tried; otherwise why not."""
        now = self.clock()
        with self.lock:
            if self.quiet_until > now:
                return "quiet mode (login block-for)"
            if self.locked.get(username, 0.0) > now:
                return f"account {username} locked"
        return ""

    def succeeded(self, username: str) -> None:
        with self.lock:
            self.failures.pop(username, None)

    def failed(self, username: str) -> str:
        """Record a failed login; "" or the lockout it causes."""
        now = self.clock()
        caused = ""
        found = policies(self.device)
        with self.lock:
            mine = self.failures.setdefault(username, [])
            if any(p.scope == "user" for p in found):  # failures count only while a lockout is configured
                mine.append(now)
            if any(p.scope == "device" for p in found):
                self.device_failures.append(now)
            for policy in found:
                times = mine if policy.scope == "user" else self.device_failures
                recent = [t for t in times if policy.window is None or now - t < policy.window]
                if len(recent) < policy.attempts:
                    continue
                until = math.inf if policy.block is None else now + policy.block
                if policy.scope == "user":
                    self.locked[username] = max(self.locked.get(username, 0.0), until)
                    mine.clear()
                    caused = f"account {username} locked"
                else:
                    self.quiet_until = max(self.quiet_until, until)
                    self.device_failures.clear()
                    caused = "quiet mode (login block-for)"
        return caused
