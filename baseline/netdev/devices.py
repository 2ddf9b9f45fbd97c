"""Network devices for the client: the inventory's devices (baseline.netdev.definitions, re-exported here), their
secrets masked in output and logs, and the checks made before anything is rendered or pushed.

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
from pathlib import Path
from typing import Any

from baseline import REPO_ROOT, policy
from baseline.netdev.definitions import (
    GROUP,
    ROLES,
    SECRET_VARIABLES,
    DeviceAccount,
    NetdevError,
    NetDevice,
    device_accounts,
    load,
)

__all__ = ["GROUP", "MASK", "ROLES", "SECRET_VARIABLES", "DeviceAccount", "NetDevice", "NetdevError", "Redactor",
           "backup_root", "check_management", "check_secrets", "device_accounts", "load", "mask_secrets_in_logs",
           "secret_values"]

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


def backup_root(device_values: dict[str, Any]) -> Path:
    path = Path(device_values.get("netdev_backup_dir", ".lab/netdev-backups"))
    return path if path.is_absolute() else REPO_ROOT / path
