"""Assets of the report: what kinds of asset each inventory host is, and its protection level.

A host in `postgresql_servers` is two assets: the Linux server (`db1/linux`) and the database (`db1/postgresql`).
Network devices are `network` assets with their vendor. Controls that people carry out (physical security,
organisation, training) apply to one `organisation` asset named after the platform.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass, replace
from functools import cached_property
from pathlib import Path
from typing import Any

import yaml

from baseline import REPO_ROOT
from baseline.results import CheckResult

KIND_ORDER = ("linux", "postgresql", "mariadb", "network", "organisation")
# Inventory group that makes a host an asset of each kind (docs/contracts.md, "Lab").
KIND_GROUPS = {
    "linux": "linux_servers",
    "postgresql": "postgresql_servers",
    "mariadb": "mariadb_servers",
    "network": "network_devices",
}
VENDOR_VARIABLES = ("vendor", "device_vendor", "netdev_vendor", "ansible_network_os")
POLICY_FILE = REPO_ROOT / "inventory" / "group_vars" / "all" / "policy.yml"
PLATFORM_FILE = REPO_ROOT / "inventory" / "group_vars" / "all" / "platform.yml"


@dataclass(frozen=True)
class Asset:
    name: str  # inventory name
    kind: str  # one of KIND_ORDER
    level: int  # protection level (等级保护级别) of the asset
    host_kind: str = ""  # container / vm / physical / device / simulator
    vendor: str = ""
    in_inventory: bool = True

    @cached_property
    def key(self) -> str:
        return f"{self.name}/{self.kind}"

    def sort_key(self) -> tuple[int, str]:
        return (KIND_ORDER.index(self.kind) if self.kind in KIND_ORDER else len(KIND_ORDER), self.name)


def _group_var(path: Path, name: str, default: Any) -> Any:
    """A variable of a group_vars file, as YAML gives it (any type), or `default`."""
    try:
        with open(path, encoding="utf-8") as fh:
            return (yaml.safe_load(fh) or {}).get(name, default)
    except OSError:
        return default


def default_level() -> int:
    """The platform's protection level from the committed policy values (used when no inventory says)."""
    return int(_group_var(POLICY_FILE, "protection_level", 3))


def policy_value(name: str, default: object = None) -> object:
    """A value of the committed policy file (inventory/group_vars/all/policy.yml), for when no inventory says."""
    return _group_var(POLICY_FILE, name, default)


def platform_name() -> str:
    return str(_group_var(PLATFORM_FILE, "platform_name", "platform"))


def inventory_default() -> Path | None:
    """$BASELINE_INVENTORY, else inventory/lab when it holds a hosts or devices file (written by `scripts/lab up`)."""
    from baseline.inventory import inventory_path

    path = inventory_path()
    if os.environ.get("BASELINE_INVENTORY"):
        return path
    if path.is_dir() and any(p.is_file() and p.suffix in (".yml", ".yaml", ".ini", "") for p in path.iterdir()):
        return path
    return None


def organisation(name: str, level: int) -> Asset:
    return Asset(name=name, kind="organisation", level=level, host_kind="organisation")


# The only inventory variables the report reads; none of them is a secret.
REPORT_VARIABLES = ("protection_level", "host_kind", "platform_name", "inspection_interval_hours", *VENDOR_VARIABLES)


def _report_vars(inv: object, host: str) -> dict:
    """The host's variables the report needs. Falls back to reading them undecrypted when a vault value of the
    host cannot be decrypted in this process (the report needs no secret)."""
    from ansible.errors import AnsibleError  # AnsibleVaultError: no vault secret here can decrypt a value

    try:
        return inv.vars(host)  # type: ignore[attr-defined]
    except (ReferenceError, ValueError, AnsibleError) as exc:
        raw = inv._variables.get_vars(host=inv._manager.get_host(host), include_hostvars=False)  # type: ignore[attr-defined]
        picked = {k: raw[k] for k in REPORT_VARIABLES if k in raw and isinstance(raw[k], (str, int))}
        picked["_vault_error"] = str(exc)
        return picked


def from_inventory(path: str | os.PathLike, level: int | None = None) -> tuple[list[Asset], dict]:
    """Assets of an Ansible inventory, and the variables of its `all` group (platform name, level).

    `level` overrides every host's `protection_level`.
    """
    from baseline import inventory

    inv = inventory.load(str(path))
    groups = inv.groups()
    members = {kind: set(groups.get(group, ())) for kind, group in KIND_GROUPS.items()}
    structural = {"all", "ungrouped", *KIND_GROUPS.values()}
    assets: list[Asset] = []
    common: dict = {}
    for host in inv.hosts("all"):
        hostvars = _report_vars(inv, host)
        common = common or hostvars
        host_level = level if level is not None else int(hostvars.get("protection_level", default_level()))
        host_kind = str(hostvars.get("host_kind", ""))
        for kind in KIND_GROUPS:
            if host not in members[kind]:
                continue
            vendor = ""
            if kind == "network":
                vendor = next((str(hostvars[v]) for v in VENDOR_VARIABLES if hostvars.get(v)), "")
                if not vendor:  # the vendor group the device sits in (network devices by vendor)
                    vendor = next((g for g in sorted(groups) if g not in structural and host in groups[g]), "")
            assets.append(Asset(name=host, kind=kind, level=host_level, host_kind=host_kind, vendor=vendor))
    return sorted(assets, key=Asset.sort_key), common


def from_results(results: Iterable[CheckResult], level: int) -> list[Asset]:
    seen: dict[str, Asset] = {}
    for r in results:
        key = f"{r.asset}/{r.asset_kind}"
        if key not in seen:
            seen[key] = Asset(name=r.asset, kind=r.asset_kind, level=level, host_kind=r.host_kind, vendor=r.vendor,
                              in_inventory=False)
    return sorted(seen.values(), key=Asset.sort_key)


def merge(inventory_assets: list[Asset], result_assets: list[Asset]) -> list[Asset]:
    """Inventory assets, completed with host kind and vendor from results, plus assets only the results name."""
    from_runs = {a.key: a for a in result_assets}
    merged = []
    for asset in inventory_assets:
        seen = from_runs.pop(asset.key, None)
        merged.append(asset if seen is None else replace(
            asset, host_kind=asset.host_kind or seen.host_kind, vendor=asset.vendor or seen.vendor))
    return sorted([*merged, *from_runs.values()], key=Asset.sort_key)
