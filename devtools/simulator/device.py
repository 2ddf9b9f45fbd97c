"""A simulated device: running and saved configuration, kept across sessions and persisted to a state directory."""

from __future__ import annotations

import ipaddress
import os
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from devtools.simulator.grammar import Grammar, grammar
from devtools.simulator.model import Config, Node

FLAVOURS = {  # netmiko device_type -> (grammar, flavour)
    "huawei": ("huawei", "vrp5"),
    "huawei_vrpv8": ("huawei", "vrpv8"),
    "hp_comware": ("h3c", "comware7"),
    "cisco_ios": ("cisco", "ios"),
}


@dataclass
class Account:
    username: str
    stored: str  # cipher text of the password
    level: int  # 15 = full administrator, 1 = read-only
    ssh: bool  # allowed to log in over SSH


@dataclass
class Device:
    name: str
    device_type: str
    port: int
    state_dir: Path | None = None
    source_address: str = "10.231.0.1"  # the address the device sees for clients on this machine (admin network)
    address: str = "127.0.0.1"  # where the simulator serves it: loopback, or this machine's address on the lab network
    grammar: Grammar = field(init=False)
    flavour: str = field(init=False)
    running: Config = field(init=False)
    saved: str = field(init=False, default="")
    lock: threading.RLock = field(init=False, default_factory=threading.RLock)
    failures: dict[str, list[float]] = field(init=False, default_factory=dict)
    sessions: list = field(init=False, default_factory=list)  # open CLI sessions (display users / show users)
    changed: tuple[str, str] = field(init=False, default=("", ""))  # (time, user) of the last configuration change
    saved_by: tuple[str, str] = field(init=False, default=("", ""))  # (time, user) of the last save

    def __post_init__(self) -> None:
        vendor, self.flavour = FLAVOURS[self.device_type]
        self.grammar = grammar(vendor)
        self.running = Config(self.grammar)

    @property
    def vendor(self) -> str:
        return self.grammar.vendor

    @property
    def hostname(self) -> str:
        key = "hostname" if self.vendor == "cisco" else "sysname"
        return self.running.value(key, self.name)

    # --- state ---------------------------------------------------------------------------------------------------
    def _dir(self) -> Path | None:
        return self.state_dir / self.name if self.state_dir else None

    def load_or_seed(self, seed: str) -> None:
        """Load the state kept on disk, or start from `seed` (saved as the startup configuration)."""
        folder = self._dir()
        if folder and (folder / "running.cfg").exists():
            self.running.load_text((folder / "running.cfg").read_text(encoding="utf-8"), str(folder / "running.cfg"))
            saved = folder / "saved.cfg"
            self.saved = saved.read_text(encoding="utf-8") if saved.exists() else ""
            return
        self.running.load_text(seed, "the starting configuration of " + self.name)
        self.saved = self.running.render()
        self.persist()

    def persist(self) -> None:
        folder = self._dir()
        if not folder:
            return
        folder.mkdir(parents=True, exist_ok=True)
        with self.lock:
            for name, text in (("running.cfg", self.running.render(keep_sequence=True)), ("saved.cfg", self.saved)):
                tmp = folder / f".{name}.tmp"
                tmp.write_text(text, encoding="utf-8")
                os.replace(tmp, folder / name)

    def save(self, user: str = "") -> None:
        with self.lock:
            self.saved = self.running.render()
            if user:
                self.saved_by = (_now(), user)
        self.persist()

    def note_change(self, user: str) -> None:
        self.changed = (_now(), user)

    # --- accounts --------------------------------------------------------------------------------------------------
    def accounts(self) -> dict[str, Account]:
        found: dict[str, Account] = {}
        root = self.running.root
        if self.vendor == "huawei":
            aaa = next((n for n in root.children if n.text == "aaa"), Node(""))
            for node in aaa.children:
                words = node.text.split()
                if words[0] != "local-user":
                    continue
                acct = found.setdefault(words[1], Account(words[1], "", 0, False))
                if words[2] == "password":
                    acct.stored = words[-1]
                elif words[2] == "privilege":
                    acct.level = int(words[-1])
                elif words[2] == "service-type":
                    acct.ssh = "ssh" in words[3:]
                elif words[2] == "state" and words[3] == "block":
                    acct.stored = ""
        elif self.vendor == "h3c":
            for node in root.children:
                words = node.text.split()
                if words[0] != "local-user":
                    continue
                acct = Account(words[1], "", 1, False)
                for child in node.children:
                    cw = child.text.split()
                    if cw[0] == "password":
                        acct.stored = cw[-1]
                    elif cw[0] == "service-type":
                        acct.ssh = acct.ssh or "ssh" in cw[1:]
                    elif child.text == "authorization-attribute user-role network-admin":
                        acct.level = 15
                    elif child.text == "state block":
                        acct.stored = ""
                found[acct.username] = acct
        else:
            ranges = []  # whether each vty range lets SSH in: a session takes the first range that does
            for node in root.children:
                if node.text.startswith("line vty"):
                    transport = [c.text.split()[2:] for c in node.children if c.text.startswith("transport input")]
                    ranges.append(not transport or any(w in ("ssh", "all") for w in transport[-1]))
            vty_allows_ssh = any(ranges) if ranges else True
            for node in root.children:
                words = node.text.split()
                if words[0] != "username":
                    continue
                level = int(words[words.index("privilege") + 1]) if "privilege" in words else 1
                found[words[1]] = Account(words[1], words[-1], level, vty_allows_ssh)
        return found

    def idle_seconds(self) -> float | None:
        """The idle timeout of the first vty range (`idle-timeout M S`, IOS `exec-timeout M S`); None when 0 0 turns
        it off. Without the line, the devices' default of 10 minutes."""
        word = "exec-timeout" if self.vendor == "cisco" else "idle-timeout"
        for node in self.running.root.children:
            if node.text.startswith(("user-interface vty", "line vty")):
                for child in node.children:
                    words = child.text.split()
                    if words[0] == word:
                        seconds = int(words[1]) * 60 + (int(words[2]) if len(words) > 2 else 0)
                        return float(seconds) if seconds else None
                break
        return 600.0

    def enable_secret(self) -> str:
        return self.running.value("enable secret").split()[-1] if self.running.value("enable secret") else ""

    # --- management ACL ----------------------------------------------------------------------------------------------
    def management_allows(self, address: str) -> bool:
        """Whether the vty ACL (if any) lets `address` in, evaluated the way the device does: first match wins."""
        rules = self._vty_acl_rules()
        if rules is None:
            return True
        addr = ipaddress.IPv4Address(address)
        for action, network in rules:
            if network is None or addr in network:
                return action == "permit"
        return False

    def _vty_acl_rules(self) -> list[tuple[str, ipaddress.IPv4Network | None]] | None:
        root = self.running.root
        name = None
        for node in root.children:
            if self.vendor == "h3c" and node.text.startswith("ssh server acl "):
                name = node.text.split()[-1]
            if node.text.startswith(("user-interface vty", "line vty")):
                for child in node.children:
                    words = child.text.split()
                    if words[0] == "acl" and words[-1] == "inbound" or words[0] == "access-class" and words[-1] == "in":
                        name = words[1]
        if name is None:
            return None
        header = {"huawei": f"acl number {name}", "h3c": f"acl basic {name}", "cisco": f"ip access-list standard {name}"}
        acl = next((n for n in root.children if n.text == header[self.vendor]), None)
        if acl is None:
            return None  # an ACL that does not exist filters nothing, as on the devices
        rules = []
        for child in acl.children:
            words = child.text.split()
            if words[0].isdigit():
                words = words[1:]
            if words[0] == "rule":
                words = words[2:]
            if not words or words[0] not in ("permit", "deny"):
                continue
            rules.append((words[0], _network(words[1:])))
        return rules


def _now() -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S+00:00", time.gmtime())


def _network(words: list[str]) -> ipaddress.IPv4Network | None:
    if words and words[0] == "source":
        words = words[1:]
    if not words or words[0] == "any":
        return None
    if words[0] == "host":
        return ipaddress.IPv4Network(words[1] + "/32")
    exact = str(ipaddress.IPv4Address(0))
    wildcard = words[1] if len(words) > 1 and words[1] != "log" else exact
    if wildcard == "0":
        wildcard = exact
    return ipaddress.IPv4Network(f"{words[0]}/{wildcard}", strict=False)
