"""Network devices from the inventory: management data, device accounts from the staff roster, vault secrets.

Secrets are Ansible vault variables (see docs/netdev.md):
    vault_netdev_passwords      mapping username -> password, for every device account (roster and automation)
    vault_netdev_snmp_auth_key  SNMPv3 authentication key
    vault_netdev_snmp_priv_key  SNMPv3 privacy key
    vault_netdev_enable_secret  Cisco enable secret
Every secret is checked against the policy (baseline.policy.check_password) before anything is rendered or any
device is contacted.
"""

from __future__ import annotations

import ipaddress
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from baseline import REPO_ROOT, policy
from baseline import inventory as inventory_mod
from baseline.netdev.vendors import Vendor, vendor_for

GROUP = "network_devices"
ROLES = ("core", "access", "border")
SECRET_VARIABLES = ("vault_netdev_passwords", "vault_netdev_snmp_auth_key", "vault_netdev_snmp_priv_key",
                    "vault_netdev_enable_secret")


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


MASK = "******"


def _strings(value: Any) -> list[str]:
    if isinstance(value, dict):
        return [s for v in value.values() for s in _strings(v)]
    if isinstance(value, (list, tuple)):
        return [s for v in value for s in _strings(v)]
    return [str(value)] if isinstance(value, str) and value else []


def secret_values(values: dict[str, Any]) -> set[str]:
    """Every secret among a device's inventory values: the device vault variables and any other `vault_*` variable."""
    found: set[str] = set()
    for name, value in values.items():
        if name in SECRET_VARIABLES or name.startswith("vault_"):
            found.update(_strings(value))
    return found


class Redactor:
    """Replaces every secret value of the given devices with ****** in text that is printed, logged or stored."""

    def __init__(self, devices: list[NetDevice]):
        found: set[str] = set()
        for device in devices:
            found |= secret_values(device.values)
        self.secrets = sorted((s for s in found if len(s) >= 4), key=len, reverse=True)  # longest first

    def __call__(self, text: str) -> str:
        for secret in self.secrets:
            text = text.replace(secret, MASK)
        return text


class _RedactingLogFilter(logging.Filter):
    """Masks secrets in log records: netmiko logs every line it writes to a device at DEBUG level."""

    def __init__(self) -> None:
        super().__init__()
        self.secrets: list[str] = []

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        clean = message
        for secret in self.secrets:
            clean = clean.replace(secret, MASK)
        if clean != message:
            record.msg, record.args = clean, ()
        return True


_LOG_FILTER = _RedactingLogFilter()
LOGGERS = ("netmiko", "paramiko")


def mask_secrets_in_logs(devices: list[NetDevice]) -> None:
    """From now on, the secrets of these devices are masked in what the connection libraries log."""
    _LOG_FILTER.secrets = sorted(set(_LOG_FILTER.secrets) | set(Redactor(devices).secrets), key=len, reverse=True)
    for name in LOGGERS:
        logger = logging.getLogger(name)
        if _LOG_FILTER not in logger.filters:
            logger.addFilter(_LOG_FILTER)


def check_secrets(device: NetDevice) -> list[str]:
    """Policy problems of the secrets this device's baseline needs (missing ones included). Never prints a secret."""
    values = device.values
    problems = [f"{device.name}: {v}" for v in policy.violations(values)]
    if problems:
        return problems
    for account in device.accounts():
        if not account.password:
            problems.append(f"{device.name}: no password for device account {account.username} in vault_netdev_passwords")
            continue
        message = policy.check_password(account.password, values, f"device account {account.username}")
        if message:
            problems.append(f"{device.name}: {message}")
    needed = ["vault_netdev_snmp_auth_key", "vault_netdev_snmp_priv_key"]
    if device.vendor.key == "cisco":
        needed.append("vault_netdev_enable_secret")
    for variable in needed:
        secret = values.get(variable, "")
        if not secret:
            problems.append(f"{device.name}: {variable} is not set (vault)")
            continue
        message = policy.check_password(secret, values, variable)
        if message:
            problems.append(f"{device.name}: {message}")
    return problems


def check_management(device: NetDevice) -> list[str]:
    """Refuse a baseline that would lock the automation out: its own address must be in the admin networks."""
    values = device.values
    address = values.get("netdev_controller_address")
    networks = values.get("admin_networks") or []
    if not networks:
        return [f"{device.name}: admin_networks is empty; the management ACL would admit nobody (第十五条(四))"]
    if address and not any(ipaddress.ip_address(address) in ipaddress.ip_network(n, strict=False) for n in networks):
        return [f"{device.name}: netdev_controller_address {address} is outside admin_networks "
                f"{', '.join(networks)}; the management ACL would lock the automation out"]
    return []


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


def backup_root(device_values: dict[str, Any]) -> Path:
    path = Path(device_values.get("netdev_backup_dir", ".lab/netdev-backups"))
    return path if path.is_absolute() else REPO_ROOT / path
