"""Helpers for the compliance suites in compliance_tests/: which hosts a suite runs on, the inventory
variables of the host under test (policy values among them), and what kind of host it is.

    from baseline.compliance import hosts_in
    testinfra_hosts = hosts_in("postgresql_servers")

No conclusion without evidence: `check_inventory()` refuses an inventory that is missing, unreadable or lists no
host, and `select_hosts()` a `--hosts` value that names no inventory host (compliance_tests/conftest.py stops the
run with exit status 2 on either, before any connection).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

from baseline import REPO_ROOT, inventory, policy

CONTAINER = "container"
VM = "vm"
# group -> inventory hosts, for every group a suite asked for with hosts_in() (named when nothing is left to check)
REQUESTED: dict[str, list[str]] = {}


class InventoryError(Exception):
    """The inventory, or the --hosts selection, gives the suites nothing to check; the message names it."""


def _described(path: Path) -> str:
    given = os.environ.get("BASELINE_INVENTORY")
    return f"{path} (BASELINE_INVENTORY)" if given else f"{path} (the default; set BASELINE_INVENTORY for another)"


def check_inventory(path: Path | None = None) -> inventory.Inventory:
    """The inventory the suites read (default $BASELINE_INVENTORY, else the lab's). InventoryError when it is
    missing, unreadable, or lists no host at all."""
    source = Path(path) if path else inventory.inventory_path()
    if not source.exists():
        raise InventoryError(f"inventory {_described(source)} does not exist")
    if not os.access(source, os.R_OK) or (source.is_dir() and not os.access(source, os.X_OK)):
        raise InventoryError(f"inventory {_described(source)} is not readable")
    try:
        loaded = inventory.load(str(source))
        hosts = loaded.hosts("all")
    except Exception as exc:  # noqa: BLE001 - whatever Ansible raises, the run has nothing to check
        raise InventoryError(f"inventory {_described(source)} cannot be read: {exc}") from exc
    if not hosts:
        raise InventoryError(f"inventory {_described(source)} lists no hosts (empty, unreadable or not an Ansible "
                             "inventory)")
    weaker = policy_violations(loaded, hosts)
    if weaker:
        raise InventoryError(f"inventory {_described(source)} holds policy values weaker than the policy's floors; "
                             "the checks compare hosts with these values, so a weak host would pass: "
                             + "; ".join(weaker))
    return loaded


def policy_violations(loaded: inventory.Inventory, hosts: list[str]) -> list[str]:
    """The policy floors (baseline.policy, the validator of the pre-flight) applied to every host's values: one
    line per violation, with the hosts it concerns."""
    found: dict[str, list[str]] = {}
    for host in hosts:
        for problem in policy.violations(loaded.vars(host)):
            found.setdefault(problem, []).append(host)
    return [f"{problem} (hosts: {', '.join(names)})" for problem, names in found.items()]


def select_hosts(inv: inventory.Inventory, spec: str) -> list[str]:
    """Inventory hosts named by a --hosts value: comma-separated host names, groups or Ansible patterns
    (`linux_servers:!kernel_hosts`), each optionally written `ssh://name`. Every item must name at least one
    inventory host; InventoryError otherwise."""
    known = set(inv.hosts("all"))
    selected: list[str] = []
    problems = []
    for item in (part.strip() for part in spec.split(",")):
        if not item:
            continue
        scheme, sep, rest = item.partition("://")
        if sep and scheme != "ssh":
            problems.append(f"--hosts {item}: the compliance suites reach inventory hosts over ssh://; "
                            "give an inventory host name or group")
            continue
        pattern = rest if sep else item
        try:
            names = [n for n in inv.hosts(pattern) if n in known]
        except Exception:  # noqa: BLE001 - a malformed pattern matches nothing
            names = []
        if not names:
            problems.append(f"--hosts {item}: no such host or group in inventory {_described(inv.path)}")
        selected += [n for n in names if n not in selected]
    if problems:
        raise InventoryError("; ".join(problems))
    if not selected:
        raise InventoryError(f"--hosts {spec!r} names no host")
    return selected


def staff_key_path(username: str) -> Path:
    """Where the private key a person used is kept, for the check that a departed person's old key is refused:
    $BASELINE_STAFF_KEYS/<username>/id_ed25519, by default the keys the built-in lab generates (.lab/staff).
    The suites read the path only; they import nothing of the lab."""
    root = Path(os.environ.get("BASELINE_STAFF_KEYS", str(REPO_ROOT / ".lab" / "staff")))
    return root / username / "id_ed25519"


def ssh_config_path() -> Path:
    """SSH client config for the hosts: $BASELINE_SSH_CONFIG, else the one beside the inventory."""
    return Path(os.environ.get("BASELINE_SSH_CONFIG", inventory.inventory_path() / "ssh_config"))


class SharedConnections:
    """One SSH connection per host for a whole compliance run instead of one per command.

    testinfra's ssh backend opens a new connection (key exchange, authentication, PAM session) for every command a
    check sends. This writes a client config into a private directory (mode 0700) that sets a control socket per
    host and then includes the operator's config unchanged, so every host option (address, user, key, known hosts,
    strict host-key checking) still comes from that config. `close()` ends the master connections and removes the
    directory. The behaviour probes (root login, weak ciphers, departed keys) open their own connections and never
    ride on these."""

    def __init__(self, base: Path) -> None:
        self.base = Path(base).resolve()
        self.directory = Path(tempfile.mkdtemp(prefix="baseline-ssh-"))
        self.config = self.directory / "ssh_config"
        self.config.write_text(
            "# written by baseline.compliance.SharedConnections for one compliance run\n"
            "Host *\n"
            f"  ControlPath {self.directory}/%C\n"
            "  ControlMaster auto\n"
            "  ControlPersist 120s\n"
            f"Include {self.base}\n",
            encoding="utf-8",
        )

    def close(self) -> None:
        for socket in self.directory.glob("*"):
            if socket.is_socket():
                subprocess.run(["ssh", "-F", str(self.config), "-o", f"ControlPath={socket}", "-O", "exit", "unused"],
                               capture_output=True, timeout=10, check=False)
        shutil.rmtree(self.directory, ignore_errors=True)


def hosts_in(group: str) -> list[str]:
    """testinfra host specs for every inventory host of `group` (empty when the group has no hosts; a run whose
    suites are left with no host at all is stopped by compliance_tests/conftest.py, see check_inventory)."""
    try:
        names = inventory.load(str(inventory.inventory_path())).hosts(group)
    except Exception:  # noqa: BLE001 - an inventory that cannot be read has no hosts to test
        names = []
    REQUESTED[group] = list(names)
    return [f"ssh://{name}" for name in names]


def asset_name(host: Any) -> str:
    """Inventory name of a testinfra host."""
    return host.backend.hostname


class HostVars(dict):
    """A host's inventory variables. They hold decrypted vault secrets, so the representation that pytest prints
    for a failing test's arguments names the host and the number of variables, never a value."""

    def __init__(self, host: str, values: dict[str, Any]) -> None:
        super().__init__(values)
        self.host = host

    def __repr__(self) -> str:
        return f"<inventory variables of {self.host}: {len(self)} names, values not shown>"

    __str__ = __repr__


def host_vars(host: Any) -> HostVars:
    """The host's inventory variables; policy values written as text ("12") as the numbers the floors accepted."""
    name = asset_name(host)
    values = inventory.load(str(inventory.inventory_path())).vars(name)
    return HostVars(name, {**values, **policy.converted(values)})


def host_kind(host: Any) -> str:
    """container, vm or physical: from the inventory's `host_kind`, else from systemd-detect-virt on the host."""
    declared = host_vars(host).get("host_kind")
    if declared:
        return declared
    if host.run("systemd-detect-virt --container").rc == 0:
        return CONTAINER
    return VM if host.run("systemd-detect-virt --vm").rc == 0 else "physical"


def root_file(host: Any, path: str) -> str:
    """Content of a file as root reads it (many baseline files are readable by root only, as they should be)."""
    with host.sudo():
        return host.file(path).content_string
