"""Helpers for the database compliance suites: run SQL on the host under test, locally as the administrator
or over the network as an inventory account, and keep what was run (never a password) as evidence.

Passwords never go on a command line: a remote client reads its password from stdin into its environment
(`IFS= read -r PGPASSWORD`), so neither sudo's log, the log server nor `ps` ever shows it."""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass
from typing import Any

from baseline.hoststdin import run_with_stdin

TLS_CA = "/etc/baseline-pki/ca.crt"
TLS_VERSIONS = ("TLSv1.2", "TLSv1.3")
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


def _run_stdin(host: Any, command: str, data: str) -> Outcome:
    """`command` with `data` on stdin; the command line (all the evidence shows) holds no secret."""
    result = run_with_stdin(host, command, data)
    return Outcome(result.rc, result.stdout.strip(), result.stderr.strip(), command)


def _with_password_from_stdin(variable: str, command: str) -> str:
    """A shell command that reads one line of stdin into `variable` (exported) and runs `command` with it."""
    return f"sh -c {shlex.quote(f'IFS= read -r {variable}; export {variable}; exec {command}')}"


def psql_local(host: Any, sql: str, database: str = "postgres", *, private: bool = False) -> Outcome:
    """SQL as the local superuser over the socket (peer authentication). `private`: the SQL holds a probe password
    and goes on stdin instead of the command line."""
    base = f"sudo -n -u postgres psql -XAt -v ON_ERROR_STOP=1 -d {shlex.quote(database)}"
    if private:
        return _run_stdin(host, f"{base} -f -", sql + "\n")
    command = f"{base} -c {shlex.quote(sql)}"
    return _run(host, command, command)


def psql_remote(host: Any, address: str, user: str, password: str, *, sql: str, database: str,
                sslmode: str = "verify-full") -> Outcome:
    """SQL over TCP to the server's network address (a remote client as far as pg_hba is concerned)."""
    dsn = (f"host={address} dbname={database} user={user} sslmode={sslmode} sslrootcert={TLS_CA} "
           "connect_timeout=10")
    tail = f"psql -XAt -v ON_ERROR_STOP=1 {shlex.quote(dsn)} -c {shlex.quote(sql)}"
    return _run_stdin(host, _with_password_from_stdin("PGPASSWORD", tail), password + "\n")


def mariadb_local(host: Any, sql: str, database: str = "", *, private: bool = False) -> Outcome:
    """SQL as root over the local socket (unix_socket authentication). `private`: the SQL holds a probe password
    and goes on stdin instead of the command line."""
    base = "sudo -n mariadb --batch --skip-column-names" + (f" {shlex.quote(database)}" if database else "")
    if private:
        return _run_stdin(host, base, sql + "\n")
    command = f"{base} -e {shlex.quote(sql)}"
    return _run(host, command, command)


def mariadb_remote(host: Any, address: str, user: str, password: str, *, sql: str, database: str,
                   tls: bool = True) -> Outcome:
    """SQL over TCP to the server's network address, with TLS verified against the project CA or without TLS."""
    tls_args = f"--ssl --ssl-ca={TLS_CA} --ssl-verify-server-cert" if tls else "--skip-ssl"
    tail = (f"mariadb --batch --skip-column-names --connect-timeout=10 -h {shlex.quote(address)} "
            f"-u {shlex.quote(user)} {tls_args} {shlex.quote(database)} -e {shlex.quote(sql)}")
    return _run_stdin(host, _with_password_from_stdin("MYSQL_PWD", tail), password + "\n")


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


def departed_names(values: dict) -> list[str]:
    """User names of departed staff (empty when the roster lists none: the check is then not applicable)."""
    return [p["username"] for p in values["staff"] if p["status"] == "departed"]


def departed_staff(values: dict) -> str:
    """User names of departed staff, comma-joined for SQL. Refuses an empty roster of departed staff: a query over
    an empty list finds nothing and would pass without checking anything."""
    names = departed_names(values)
    if not names:
        raise ValueError("the roster lists no departed staff: nothing to check")
    return ident(*names)


def tls_version(text: str) -> str:
    """The TLS version in a result row (`t|TLSv1.3`, `Ssl_version\tTLSv1.3`), "" when none."""
    match = re.search(r"TLSv\d(?:\.\d)?", text)
    return match.group(0) if match else ""


def drill_problems(drill: dict | None, limit_days: float, age_days: float | None) -> list[str]:
    """Why a restore-drill record does not prove a restore: missing, failed, lost rows, differences, no table
    compared, no row compared, or too old. Empty when it does."""
    if not drill:
        return ["no restore drill recorded"]
    problems = []
    if not drill.get("passed"):
        problems.append("the drill did not pass")
    if drill.get("differences"):
        problems.append(f"differences: {drill['differences']}")
    if drill.get("rows_lost", 1) != 0:
        problems.append(f"rows lost: {drill.get('rows_lost')}")
    if not isinstance(drill.get("tables"), int) or drill["tables"] <= 0:
        problems.append(f"tables compared: {drill.get('tables')} (a comparison of no table proves nothing)")
    if not isinstance(drill.get("rows_source"), int):
        problems.append(f"rows at backup time: {drill.get('rows_source')!r} (the drill recorded no row count)")
    if age_days is None or age_days > limit_days:
        problems.append(f"age {age_days} days, limit {limit_days}")
    return problems


# PostgreSQL's own words (lc_messages C/en): passwordcheck, pg_hba, authentication.
PG_TOO_SHORT = "password is too short"
PG_NEEDS_NONLETTER = "password must contain both letters and nonletters"
PG_AUTH_FAILED = "password authentication failed for user"
PG_NO_TLS = ("pg_hba.conf", "no encryption")  # "no pg_hba.conf entry …" or "pg_hba.conf rejects connection …"
# MariaDB's client error lines.
MARIADB_POLICY = "ERROR 1819"
MARIADB_SECURE_TRANSPORT = ("ERROR 3159", "insecure transport")
MARIADB_ACCESS_DENIED = "ERROR 1045"


def mariadb_plain_refusal(err: str) -> str:
    """What a MariaDB refusal of a connection says: "secure transport required" (3159), "access denied" (1045), or
    "other" (timeouts, unreachable server, anything else — never proof of TLS enforcement)."""
    if any(marker in err for marker in MARIADB_SECURE_TRANSPORT):
        return "secure transport required"
    if MARIADB_ACCESS_DENIED in err:
        return "access denied"
    return "other"


def application_probe(values: dict) -> tuple[str, str, str]:
    """(account, password, table) of the application account and a table it was granted nothing on."""
    name, password = account(values, "application")
    return name, password, ident(ungranted_table(values, name))
