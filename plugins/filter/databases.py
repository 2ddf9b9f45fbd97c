"""Filters over the inventory's database accounts (inventory/group_vars/all/databases.yml), shared by the
PostgreSQL and MariaDB roles so both read grants the same way."""

from __future__ import annotations

import ipaddress
from typing import Any


def table_grants(accounts: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per account and table: {account, table, privileges} with privileges upper-case and sorted."""
    rows = []
    for account in accounts:
        for table, privileges in sorted((account.get("grants") or {}).items()):
            rows.append({"account": account["name"], "table": table,
                         "privileges": sorted(str(p).upper() for p in privileges)})
    return rows


def grant_keys(accounts: list[dict[str, Any]]) -> list[str]:
    """`account|table|PRIVILEGE` for every privilege the inventory grants (to spot extra ones on a server)."""
    return [f"{row['account']}|{row['table']}|{p}" for row in table_grants(accounts) for p in row["privileges"]]


def mariadb_privileges(account: dict[str, Any], database: str, extra: dict[str, str] | None = None) -> dict[str, str]:
    """community.mysql.mysql_user `priv` mapping: `db.table: PRIV,PRIV` per granted table, plus `extra`."""
    privs = {f"{database}.{row['table']}": ",".join(row["privileges"]) for row in table_grants([account])}
    privs.update(extra or {})
    return privs or {"*.*": "USAGE"}


def mariadb_host(network: str) -> str:
    """MariaDB account host for a network: `10.231.0.0/24` -> `10.231.0.0/255.255.255.0`; a single address as is."""
    net = ipaddress.ip_network(network, strict=False)
    if net.num_addresses == 1:
        return str(net.network_address)
    return f"{net.network_address}/{net.netmask}"


class FilterModule:
    def filters(self):
        return {"table_grants": table_grants, "grant_keys": grant_keys, "mariadb_privileges": mariadb_privileges,
                "mariadb_host": mariadb_host}
