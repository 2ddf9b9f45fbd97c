"""pyinfra deploy of the MariaDB baseline (DB-01 .. DB-06): what roles/mariadb does, in its order, from its
defaults, templates and the inventory (mariadb_servers).

    pyinfra inventory/lab/pyinfra_inventory.py playbooks/pyinfra/mariadb.py [--limit db4] [--dry]

Every decision is taken from facts read when pyinfra prepares the run (the server's accounts, grants, password
hashes, databases), so a second run has no operation and `--dry` lists what the real run changes. SQL that carries
a password goes to the `mariadb` client on stdin, never on a command line, and operation names carry account
names only. The helpers (SQL facts, passwords, grants) are also used by playbooks/pyinfra/backup.py (mariabackup
account); loaded that way (`__name__ == HELPERS`), this file defines them and deploys nothing.
"""

from __future__ import annotations

import hashlib
import importlib.util
import re
import sys
from typing import Any

from pyinfra import host
from pyinfra.facts.server import Command
from pyinfra.operations import apt, files, server

from baseline import REPO_ROOT, preflight
from baseline import pyinfra_deploy as deploy

HELPERS = "baseline_pyinfra_mariadb_helpers"
ROLE = "mariadb"
PATTERN = "mariadb_servers"
CONFIG = "/etc/mysql/mariadb.conf.d/60-baseline.cnf"
VALIDATE = "mariadbd --defaults-file={path} --help --verbose --user=mysql"


def _filters() -> Any:
    """The role's filters (plugins/filter/databases.py): mariadb_host, mariadb_privileges, read by both engines."""
    spec = importlib.util.spec_from_file_location("baseline_filter_databases",
                                                  REPO_ROOT / "plugins" / "filter" / "databases.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


filters = _filters()


# --- SQL --------------------------------------------------------------------------------------------------------

def literal(text: str) -> str:
    """A MariaDB string literal (default sql_mode: backslash escapes)."""
    return "'" + str(text).replace("\\", "\\\\").replace("'", "\\'").replace("\0", "\\0") + "'"


def ident(text: str) -> str:
    return "`" + str(text).replace("`", "``") + "`"


def account(user: str, hostname: str) -> str:
    return f"{literal(user)}@{literal(hostname)}"


def query(sql: str, socket: str = "/run/mysqld/mysqld.sock") -> list[list[str]]:
    """Rows of a read-only query run as root over the local socket, at prepare time (a fact: no change). No rows
    when the server is not installed or not running yet (a fresh host: the plan then is to create everything).
    The SQL holds no secret: it is on the fact's command line."""
    command = (f"if command -v mariadb >/dev/null 2>&1 && [ -S {socket} ]; then "
               f"mariadb --batch --skip-column-names --force -e {_sh(sql)} 2>/dev/null; fi; true")
    out = host.get_fact(Command, command=command) or ""
    return [line.split("\t") for line in str(out).splitlines() if line]


def _sh(text: str) -> str:
    return "'" + text.replace("'", "'\"'\"'") + "'"


def run_sql(name: str, statements: list[str], socket: str = "/run/mysqld/mysqld.sock") -> None:
    """One operation that sends the statements to the server on stdin (passwords never on a command line)."""
    server.shell(name=name, commands=[f"mariadb --batch --socket={socket}"],
                 _stdin="\n".join(s.rstrip(";") + ";" for s in statements) + "\n")


def put_secret(name: str, content: str, dest: str, *, mode: str = "600", user: str = "root",
               group: str = "root") -> bool:
    """A file holding a secret, where it differs (a fact of the prepare), written by deploy.put_secret (on stdin,
    umask 077, never on a command line or through an upload's temporary file). Returns whether it is to change."""
    if not deploy.differs(deploy.Managed(dest, content, mode=mode, user=user, group=group)):
        return False
    deploy.put_secret(name, content, dest, mode=mode, user=user, group=group)
    return True


def native_hash(secret: str) -> str:
    """mysql_native_password's stored form, as the role compares it: '*' + upper(sha1(sha1(password)))."""
    inner = hashlib.sha1(str(secret).encode(), usedforsecurity=False).digest()
    return "*" + hashlib.sha1(inner, usedforsecurity=False).hexdigest().upper()


def stored_accounts(socket: str) -> dict[tuple[str, str], dict[str, str]]:
    """Every account: authentication string, TLS requirement (ssl_type 1 = REQUIRE SSL) and lock."""
    rows = query("SELECT user, host, IFNULL(JSON_VALUE(priv, '$.authentication_string'), ''), "
                 "IFNULL(JSON_VALUE(priv, '$.ssl_type'), 0), IFNULL(JSON_VALUE(priv, '$.account_locked'), 0) "
                 "FROM mysql.global_priv", socket)
    return {(r[0], r[1]): {"auth": r[2], "ssl_type": r[3], "locked": r[4]} for r in rows if len(r) >= 5}


def locked(info: dict[str, str]) -> bool:
    """account_locked as JSON_VALUE reads it from mysql.global_priv (true, or 1)."""
    return str(info.get("locked")).lower() in ("1", "true")


def password_statements(wanted: list[tuple[str, str, str]], stored: dict[tuple[str, str], dict[str, str]]
                        ) -> tuple[list[str], list[str]]:
    """(labels, statements) for the accounts whose stored hash differs from the inventory's password: CREATE USER
    when absent, ALTER USER otherwise, as plain text so that simple_password_check judges it (tasks/password.yml)."""
    labels, statements = [], []
    for user, hostname, secret in wanted:
        found = stored.get((user, hostname))
        if found is not None and found["auth"] == native_hash(secret):
            continue
        verb = "CREATE USER" if found is None else "ALTER USER"
        labels.append(f"{user}@{hostname}")
        statements.append(f"{verb} {account(user, hostname)} IDENTIFIED BY {literal(secret)}")
    return labels, statements


_GRANT = re.compile(r"^GRANT (?P<privs>.+?) ON (?P<target>\S+) TO (?P<who>\S+)(?P<rest>.*)$")


def _unquote(who: str) -> tuple[str, str]:
    user, _, hostname = who.partition("@")
    return user.strip("`'"), hostname.strip("`'")


def stored_grants(accounts: list[tuple[str, str]], socket: str) -> dict[tuple[str, str], dict[str, set[str]]]:
    """Privileges per account and `db.table` as the server's SHOW GRANTS gives them (a fact)."""
    if not accounts:
        return {}
    return parse_grants(query("; ".join(f"SHOW GRANTS FOR {account(u, h)}" for u, h in accounts), socket))


def parse_grants(rows: list[list[str]]) -> dict[tuple[str, str], dict[str, set[str]]]:
    """SHOW GRANTS lines -> {(user, host): {db.table: privileges}}; USAGE on *.* is no privilege."""
    found: dict[tuple[str, str], dict[str, set[str]]] = {}
    for row in rows:
        match = _GRANT.match(row[0])
        if not match or match["privs"].startswith("PROXY"):
            continue
        who = _unquote(match["who"])
        target = match["target"].replace("`", "")
        privs = {p.strip() for p in match["privs"].split(",")} - {"USAGE"}
        if "WITH GRANT OPTION" in match["rest"]:
            privs.add("GRANT")
        if privs:
            found.setdefault(who, {}).setdefault(target, set()).update(privs)
    return found


def normalise(priv: dict[str, str]) -> dict[str, set[str]]:
    """community.mysql's `priv` mapping as sets (ALL is ALL PRIVILEGES; USAGE grants nothing)."""
    out: dict[str, set[str]] = {}
    for target, text in priv.items():
        privs = {p.strip().upper() for p in str(text).split(",") if p.strip()}
        privs = {"ALL PRIVILEGES" if p == "ALL" else p for p in privs} - {"USAGE"}
        if privs:
            out[target.replace("`", "")] = privs
    return out


def _target(text: str) -> str:
    db, _, table = text.partition(".")
    return ".".join(part if part == "*" else ident(part) for part in (db, table))


def grant_statements(wanted: list[tuple[str, str, dict[str, str]]], current: dict[tuple[str, str], dict[str, set[str]]],
                     *, require_ssl: bool, stored: dict[tuple[str, str], dict[str, str]]) -> tuple[list[str], list[str]]:
    """(labels, statements) making each account's privileges exactly `priv` (every other grant revoked) and, with
    `require_ssl`, REQUIRE SSL — for the accounts where the server (`current` grants, `stored` accounts) differs,
    as mysql_user replaces `priv`. An account absent from `stored` is made by this run: it gets its grants."""
    labels, statements = [], []
    for user, hostname, priv in wanted:
        want = normalise(priv)
        ssl_ok = not require_ssl or stored.get((user, hostname), {}).get("ssl_type") == "1"
        if (user, hostname) in stored and current.get((user, hostname), {}) == want and ssl_ok:
            continue
        labels.append(f"{user}@{hostname}")
        who = account(user, hostname)
        statements.append(f"REVOKE ALL PRIVILEGES, GRANT OPTION FROM {who}")
        for target, privs in sorted(want.items()):
            statements.append(f"GRANT {', '.join(sorted(privs))} ON {_target(target)} TO {who}")
        if require_ssl:
            statements.append(f"ALTER USER {who} REQUIRE SSL")
    return labels, statements


def service_down(unit: str) -> bool:
    """Whether the unit is not both active and enabled (a fact; Ansible's service: started, enabled)."""
    out = host.get_fact(Command, command=f"echo $(systemctl is-active {unit} 2>/dev/null) "
                                         f"$(systemctl is-enabled {unit} 2>/dev/null); true")
    return str(out or "").split()[:2] != ["active", "enabled"]


def running(name: str, unit: str) -> None:
    """Start and enable the unit when it is not (one operation, only then)."""
    if service_down(unit):
        server.shell(name=name, commands=[f"systemctl enable {unit} && systemctl start {unit}"])


def packages_missing(names: list[str]) -> list[str]:
    from pyinfra.facts.deb import DebPackages

    installed = host.get_fact(DebPackages) or {}
    return [name for name in names if name not in installed]


# --- the deploy -------------------------------------------------------------------------------------------------

def secret(values: dict[str, Any], variable: str) -> str:
    if variable not in values:
        print(f"{deploy.name()}: {variable} is not set (ansible-vault): the account's password is unknown",
              file=sys.stderr)
        raise SystemExit(deploy.EXIT_REFUSED)
    return str(values[variable])


def tls(values: dict[str, Any]) -> None:
    """DB-03: the server certificate from the project CA (roles/pki host_cert with the role's parameters; the
    pki deploy issues it on the controller from the same CA directory and installs it where it differs)."""
    deploy.include("pki", pki_cert_name=values["mariadb_tls_cert_name"], pki_key_owner=values["mariadb_tls_key_owner"],
                   pki_key_group=values["mariadb_tls_key_group"], pki_key_mode=values["mariadb_tls_key_mode"])


def main() -> None:
    deploy.check_preflight()
    if not deploy.targets(PATTERN):
        return
    v = deploy.values(ROLE)
    socket = v["mariadb_socket"]

    # tasks/preflight.yml, and the DB-01 play of databases.yml (which adds the backup account on MariaDB servers):
    # every password the run sets here passes the policy while pyinfra prepares, before any host is changed.
    problems = preflight.database_password_problems(
        v, [{"name": "mariabackup", "password_variable": "db_mariabackup_password"}],
        require_mixed_case=int(v["mariadb_password_letters_same_case"]) > 0)
    if problems:
        print("Database passwords refused before any host is changed:\n" + "\n".join(problems), file=sys.stderr)
        raise SystemExit(deploy.EXIT_REFUSED)

    # tasks/install.yml (update_cache: the index is refreshed once per host and run while pyinfra prepares)
    deploy.refresh_package_index()
    if packages_missing(v["mariadb_packages"]):
        apt.packages(name="DB-01 | Install MariaDB and the driver Ansible uses (DB-06: server_audit comes with it)",
                     packages=v["mariadb_packages"])
    running("DB-03 | MariaDB running", v["mariadb_service"])

    # tasks/tls.yml
    tls(v)

    # tasks/config.yml
    files.directory(name="DB-04 | Directory for server-side file operations (empty, server only)", path=v["mariadb_files_dir"],
                    present=True, user="mysql", group="mysql", mode=v["mariadb_files_dir_mode"])
    settings = dict(v, min_length=v["password_min_length"], digits=v["mariadb_password_digits"],
                    letters_same_case=v["mariadb_password_letters_same_case"],
                    other_characters=v["mariadb_password_other_characters"],
                    max_password_errors=v["login_max_failures"], bind_address=v["mariadb_bind_address"],
                    mariadb_port_value=v["mariadb_port"], tls_dir=v["mariadb_tls_dir"],
                    tls_versions=v["mariadb_tls_versions"], audit_events=v["mariadb_audit_events"],
                    audit_facility=v["mariadb_audit_syslog_facility"], audit_ident=v["mariadb_audit_syslog_ident"])
    deploy.install("DB-01", "baseline settings drop-in (DB-01, DB-02, DB-03, DB-04, DB-06), validated by the server",
                   [deploy.Managed(CONFIG, deploy.render(ROLE, "60-baseline.cnf.j2", settings), validate=VALIDATE)],
                   then=[f"systemctl restart {v['mariadb_service']}"])

    # tasks/defaults_removed.yml
    stored = stored_accounts(socket)
    if not stored:
        # No server to read while pyinfra prepares (a new host): what an installation may bring is removed when it
        # exists, by name (the anonymous and remote root accounts mysql_install_db makes, the test database).
        from pyinfra.facts.server import Hostname

        names = sorted({"localhost", str(host.get_fact(Hostname) or "localhost")})
        run_sql("DB-04 | No anonymous accounts, no remote root, no test database (a new server)",
                [*(f"DROP USER IF EXISTS {account('', n)}" for n in names),
                 *(f"DROP USER IF EXISTS {account('root', n)}" for n in ("127.0.0.1", "::1", *names)
                   if n != "localhost"),
                 "DROP DATABASE IF EXISTS `test`"], socket)
    anonymous = sorted(h for (u, h) in stored if u == "")
    if anonymous:
        run_sql(f"DB-04 | No anonymous accounts ({len(anonymous)})",
                [f"DROP USER {account('', h)}" for h in anonymous], socket)
    if query("SHOW DATABASES LIKE 'test'", socket):
        run_sql("DB-04 | No test database", ["DROP DATABASE `test`"], socket)
    remote_root = sorted(h for (u, h) in stored if u == "root" and h != "localhost")
    if remote_root:
        run_sql("DB-04 | No remote root: " + ", ".join(f"root@{h}" for h in remote_root),
                [f"DROP USER {account('root', h)}" for h in remote_root], socket)

    # tasks/accounts.yml
    database = v["database_name"]
    if not query(f"SHOW DATABASES LIKE {literal(database)}", socket):
        run_sql(f"DB-05 | Platform database {database}",
                [f"CREATE DATABASE IF NOT EXISTS {ident(database)} CHARACTER SET 'utf8mb4'"], socket)
    tables_sql = "SELECT table_name FROM information_schema.tables WHERE table_schema = " + literal(database)  # noqa: S608 (quoted)
    present = {r[0] for r in query(tables_sql, socket)}
    missing = [t for t in v["database_tables"] if t["name"] not in present]
    if v["mariadb_manage_tables"] and missing:
        run_sql("DB-05 | Platform tables (created when absent): " + ", ".join(t["name"] for t in missing),
                [f"CREATE TABLE {ident(database)}.{ident(t['name'])} ({', '.join(t['columns'])}) ENGINE=InnoDB"
                 for t in missing], socket)

    hosts = [filters.mariadb_host(n) for n in v["database_client_networks"]]
    dbas = [p for p in v["staff"] if p.get("role") == "dba" and p.get("status") == "active"]
    departed = [p["username"] for p in v["staff"] if p.get("status") == "departed"]
    purpose = v["mariadb_purpose_privileges"]

    labels, statements = password_statements(
        [(a["name"], h, secret(v, a["password_variable"])) for a in v["database_accounts"] for h in hosts], stored)
    if statements:
        run_sql("DB-01 | Passwords of the application, query and auditor accounts (checked by the server too): "
                + ", ".join(labels), statements, socket)
    grants = stored_grants(sorted(stored), socket)
    labels, statements = grant_statements(
        [(a["name"], h, filters.mariadb_privileges(a, database, purpose[a["purpose"]]))
         for a in v["database_accounts"] for h in hosts], grants, require_ssl=True, stored=stored)
    if statements:
        run_sql("DB-05 | Application, query and auditor accounts, TLS required, privileges per table and nothing "
                "more (DB-03): " + ", ".join(labels), statements, socket)

    prefix = v["database_dba_password_prefix"]
    labels, statements = password_statements(
        [(p["username"], h, secret(v, f"{prefix}{p['username']}_password")) for p in dbas for h in hosts], stored)
    if statements:
        run_sql("DB-01 | Passwords of the DBA accounts (checked by the server too): " + ", ".join(labels),
                statements, socket)
    labels, statements = grant_statements(
        [(p["username"], h, {f"{database}.*": "ALL", **purpose["dba"]}) for p in dbas for h in hosts], grants,
        require_ssl=True, stored=stored)
    if statements:
        run_sql("DB-05 | DBA accounts from the staff roster (platform database only, no SUPER, no GRANT OPTION): "
                + ", ".join(labels), statements, socket)

    unlocked = sorted((u, h) for (u, h), info in stored.items() if u in departed and not locked(info))
    if unlocked:
        run_sql("DB-04 | Departed staff cannot log in (account locked, kept for the audit trail): "
                + ", ".join(f"{u}@{h}" for u, h in unlocked),
                [f"ALTER USER {account(u, h)} ACCOUNT LOCK" for u, h in unlocked], socket)
    deploy.finish()


if __name__ != HELPERS:
    main()
