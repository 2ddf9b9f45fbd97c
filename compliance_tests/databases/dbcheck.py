"""Helpers for the database compliance suites: run SQL on the host under test, locally as the administrator
or over the network as an inventory account, and keep what was run (never a password) as evidence."""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass
from typing import Any

TLS_CA = "/etc/baseline-pki/ca.crt"
IDENTIFIER = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


def ident(*names: str) -> str:
    """Comma-joined inventory identifiers (accounts, tables, user names), refused unless plain identifiers, so the
    SQL the suites build from inventory values cannot carry anything else."""
    for name in names:
        if not IDENTIFIER.match(name):
            raise ValueError(f"{name!r} is not a plain SQL identifier")
    return ",".join(names)


@dataclass
class Outcome:
    rc: int
    out: str
    err: str
    shown: str  # the command as written into the evidence (passwords replaced)

    @property
    def ok(self) -> bool:
        return self.rc == 0


def _run(host: Any, command: str, shown: str) -> Outcome:
    result = host.run(command)
    return Outcome(result.rc, result.stdout.strip(), result.stderr.strip(), shown)


def psql_local(host: Any, sql: str, database: str = "postgres") -> Outcome:
    """SQL as the local superuser over the socket (peer authentication)."""
    command = f"sudo -u postgres psql -XAt -v ON_ERROR_STOP=1 -d {shlex.quote(database)} -c {shlex.quote(sql)}"
    return _run(host, command, command)


def psql_remote(host: Any, address: str, user: str, password: str, *, sql: str, database: str,
                sslmode: str = "verify-full") -> Outcome:
    """SQL over TCP to the server's network address (a remote client as far as pg_hba is concerned)."""
    dsn = (f"host={address} dbname={database} user={user} sslmode={sslmode} sslrootcert={TLS_CA} "
           "connect_timeout=10")
    tail = f"psql -XAt -v ON_ERROR_STOP=1 {shlex.quote(dsn)} -c {shlex.quote(sql)}"
    return _run(host, f"PGPASSWORD={shlex.quote(password)} {tail}", f"PGPASSWORD=*** {tail}")


def mariadb_local(host: Any, sql: str, database: str = "") -> Outcome:
    """SQL as root over the local socket (unix_socket authentication)."""
    command = f"sudo mariadb --batch --skip-column-names {shlex.quote(database)} -e {shlex.quote(sql)}".replace("  ", " ")
    return _run(host, command, command)


def mariadb_remote(host: Any, address: str, user: str, password: str, *, sql: str, database: str,
                   tls: bool = True) -> Outcome:
    """SQL over TCP to the server's network address, with TLS verified against the project CA or without TLS."""
    tls_args = f"--ssl --ssl-ca={TLS_CA} --ssl-verify-server-cert" if tls else "--skip-ssl"
    tail = (f"mariadb --batch --skip-column-names --connect-timeout=10 -h {shlex.quote(address)} "
            f"-u {shlex.quote(user)} {tls_args} {shlex.quote(database)} -e {shlex.quote(sql)}")
    return _run(host, f"MYSQL_PWD={shlex.quote(password)} {tail}", f"MYSQL_PWD=*** {tail}")


def account(values: dict, purpose: str) -> tuple[str, str]:
    """(name, password) of the first inventory account with this purpose."""
    for item in values["database_accounts"]:
        if item["purpose"] == purpose:
            return item["name"], str(values[item["password_variable"]])
    raise LookupError(f"no database account with purpose {purpose} in the inventory")


def ungranted_table(values: dict, name: str) -> str:
    """A table of the inventory that the account `name` was granted nothing on."""
    granted = next(a.get("grants") or {} for a in values["database_accounts"] if a["name"] == name)
    for table in values["database_tables"]:
        if table["name"] not in granted:
            return table["name"]
    raise LookupError(f"{name} is granted every table; nothing to prove least privilege with")


def expected_grants(values: dict) -> list[str]:
    """`account|table|PRIVILEGE` for every privilege the inventory grants, sorted."""
    return sorted(f"{a['name']}|{table}|{p.upper()}" for a in values["database_accounts"]
                  for table, privileges in (a.get("grants") or {}).items() for p in privileges)


def account_names(values: dict) -> str:
    """The inventory's database accounts, comma-joined for SQL."""
    return ident(*(a["name"] for a in values["database_accounts"]))


def departed_staff(values: dict) -> str:
    """User names of departed staff, comma-joined for SQL."""
    return ident(*(p["username"] for p in values["staff"] if p["status"] == "departed"))


def application_probe(values: dict) -> tuple[str, str, str]:
    """(account, password, table) of the application account and a table it was granted nothing on."""
    name, password = account(values, "application")
    return name, password, ident(ungranted_table(values, name))
