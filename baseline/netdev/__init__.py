"""Network devices (NW-01..NW-08): render, back up, push and audit Huawei VRP, H3C Comware and Cisco IOS baselines.

Modules: devices (inventory, accounts, secrets), render (templates), configdiff (what is missing, rollback),
drivers (netmiko), backup, push, audit, runner (parallel runs), cli (`scripts/netdev`), simulator (the lab's
devices).
"""

from __future__ import annotations

import secrets
import string
from typing import Any

from baseline.netdev.devices import SECRET_VARIABLES, device_accounts

SPECIALS = "#%+-=@_"


def _password(length: int) -> str:
    """Random password with letters, digits and a special character (第十五条(九), 第十六条(一))."""
    alphabet = string.ascii_letters + string.digits + SPECIALS
    while True:
        value = "".join(secrets.choice(alphabet) for _ in range(length))
        if (any(c.isalpha() for c in value) and any(c in SPECIALS for c in value)
                and any(c.isdigit() for c in value) and value[0].isalpha()):
            return value


def lab_secrets(values: dict[str, Any], length: int | None = None) -> dict[str, Any]:
    """Vault variables the network devices need, with fresh compliant random values.

    `values` are the inventory variables (staff roster, netdev_login_user, password_min_length). The lab writes
    the result into its vault-encrypted vars file; names are listed in SECRET_VARIABLES and docs/netdev.md.
    """
    size = max(int(values.get("password_min_length", 10)), length or 16)
    accounts = device_accounts(values, with_secrets=False)
    result: dict[str, Any] = {
        "vault_netdev_passwords": {a.username: _password(size) for a in accounts},
        "vault_netdev_snmp_auth_key": _password(size),
        "vault_netdev_snmp_priv_key": _password(size),
        "vault_netdev_enable_secret": _password(size),
    }
    assert set(result) == set(SECRET_VARIABLES)
    return result
