"""What a network device is, as both the network-device client and the device simulator read it: the inventory
record of a device (`network_devices` group), its accounts from the staff roster and the secret
variables (baseline/secret-variables.txt). Nothing here connects to a device.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

from baseline import inventory as inventory_mod
from baseline.netdev.vendors import Vendor, vendor_for
from baseline.secrets import secret_variable_names

GROUP = "network_devices"
ROLES = ("core", "access", "border")
SECRET_VARIABLES = tuple(secret_variable_names("devices"))  # baseline/secret-variables.txt


@dataclass(frozen=True)
class DeviceAccount:
    username: str
    admin: bool  # full administrator (network_admin, automation) or read-only (auditors)
    password: str = field(repr=False, default="")


@dataclass
class NetDevice:
    name: str
    device_type: str
    vendor: Vendor
    role: str
    host: str
    port: int
    host_kind: str
    values: dict[str, Any] = field(repr=False, default_factory=dict)

    @property
    def login_user(self) -> str:
        return self.values.get("netdev_login_user") or self.values.get("automation_user", "automation")

    def login_password(self) -> str:
        return (self.values.get("vault_netdev_passwords") or {}).get(self.login_user, "")

    def enable_secret(self) -> str:
        return self.values.get("vault_netdev_enable_secret", "")

    def accounts(self, with_secrets: bool = True) -> list[DeviceAccount]:
        return device_accounts(self.values, with_secrets)

    def departed(self) -> list[str]:
        roles = self.values.get("netdev_account_roles", {})
        return sorted(p["username"] for p in self.values.get("staff", [])
                      if p.get("status") != "active" and p.get("role") in roles)


class NetdevError(ValueError):
    """Raised with every problem found, one per line, naming the device or variable and the rule."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("\n".join(problems))


def device_accounts(values: dict[str, Any], with_secrets: bool = True) -> list[DeviceAccount]:
    """Accounts every device carries: active roster members whose role has device access, and the automation account."""
    roles = values.get("netdev_account_roles", {"network_admin": "admin"})
    passwords = values.get("vault_netdev_passwords") or {}
    login = values.get("netdev_login_user") or values.get("automation_user", "automation")
    found = {login: DeviceAccount(login, True, passwords.get(login, "") if with_secrets else "<secret>")}
    for person in values.get("staff", []):
        if person.get("status") != "active" or person.get("role") not in roles:
            continue
        name = person["username"]
        found[name] = DeviceAccount(name, roles[person["role"]] == "admin",
                                    passwords.get(name, "") if with_secrets else "<secret>")
    return [found[k] for k in sorted(found)]


def load(inventory_path: str | os.PathLike | None = None, limit: list[str] | None = None) -> list[NetDevice]:
    """Devices of the `network_devices` group (optionally only those named in `limit`, names or groups)."""
    inv = inventory_mod.load(str(inventory_path) if inventory_path else None)
    names = inv.hosts(GROUP)
    if limit:
        wanted: set[str] = set()
        groups = inv.groups()
        for item in limit:
            if item in groups:
                wanted.update(groups[item])
            elif item in names:
                wanted.add(item)
            else:
                raise NetdevError([f"--limit {item}: no such device or group in {GROUP}"])
        names = [n for n in names if n in wanted]
    devices, problems = [], []
    for name in names:
        values = inv.vars(name)
        device_type = values.get("netmiko_device_type", "")
        role = values.get("device_role", "")
        try:
            vendor = vendor_for(device_type)
        except ValueError as exc:
            problems.append(f"{name}: {exc}")
            continue
        if role not in ROLES:
            problems.append(f"{name}: device_role {role!r} is not one of {', '.join(ROLES)}")
        if role == "border" and not values.get("border_interface"):
            problems.append(f"{name}: a border device needs border_interface (the outside interface) for NW-07")
        devices.append(NetDevice(
            name=name, device_type=device_type, vendor=vendor, role=role,
            host=str(values.get("ansible_host", name)), port=int(values.get("ansible_port", 22)),
            host_kind=values.get("host_kind", "device"), values=values))
    if problems:
        raise NetdevError(problems)
    return devices
