"""Helpers for the compliance suites in compliance_tests/: which hosts a suite runs on, the inventory
variables of the host under test (policy values among them), and what kind of host it is.

    from baseline.compliance import hosts_in
    testinfra_hosts = hosts_in("postgresql_servers")
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from baseline import inventory

CONTAINER = "container"
VM = "vm"


def ssh_config_path() -> Path:
    """SSH client config for the hosts: $BASELINE_SSH_CONFIG, else the one beside the inventory."""
    return Path(os.environ.get("BASELINE_SSH_CONFIG", inventory.inventory_path() / "ssh_config"))


def hosts_in(group: str) -> list[str]:
    """testinfra host specs for every inventory host of `group` (empty when the group has no hosts)."""
    try:
        names = inventory.load(str(inventory.inventory_path())).hosts(group)
    except Exception:  # noqa: BLE001 - an inventory that cannot be read has no hosts to test
        return []
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
    name = asset_name(host)
    return HostVars(name, inventory.load(str(inventory.inventory_path())).vars(name))


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
