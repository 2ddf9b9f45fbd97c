"""pyinfra deploy of the PostgreSQL baseline (DB-01 .. DB-06), the counterpart of roles/postgresql on
postgresql_servers (playbooks/databases.yml): packages, the server certificate (pki), the validated configuration,
accounts, grants and pgaudit, in the role's order, from its defaults, vars, templates and the inventory.

    pyinfra inventory/lab/pyinfra_inventory.py playbooks/pyinfra/postgresql.py [--limit db3] [--dry]

Every decision is taken from facts read while pyinfra prepares the run (files, packages, units, and the server's
roles, memberships, ACLs, tables and extensions read over the local socket as postgres), so a second run has no
operation and `--dry` lists what the real run changes. Passwords are compared as community.postgresql does: the
SCRAM-SHA-256 server key is computed from the inventory's password with the stored salt and iteration count; only
a differing one is set, as plain text so that the server hashes it and passwordcheck judges it. SQL that carries a
password goes to psql on stdin, never on a command line; operation names carry account names only.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import shlex
import sys
from typing import Any

from pyinfra import host
from pyinfra.facts.deb import DebPackages
from pyinfra.facts.server import Command
from pyinfra.operations import apt, server

from baseline import pyinfra_deploy as deploy

ROLE = "postgresql"
PLAY = "postgresql_servers"  # playbooks/databases.yml, "PostgreSQL baseline"
SCRAM = re.compile(r"^SCRAM-SHA-256\$(\d+):([A-Za-z0-9+/=]+)\$([A-Za-z0-9+/=]+):([A-Za-z0-9+/=]+)$")
FLAG_COLUMNS = {"SUPERUSER": "rolsuper", "CREATEROLE": "rolcreaterole", "CREATEDB": "rolcreatedb",
                "INHERIT": "rolinherit", "LOGIN": "rolcanlogin", "REPLICATION": "rolreplication",
                "BYPASSRLS": "rolbypassrls"}
ROLE_COLUMNS = ["rolname", *FLAG_COLUMNS.values(), "rolpassword"]
# PostgreSQL's table privileges: what GRANT ALL gives on a table.
TABLE_ALL = {"SELECT", "INSERT", "UPDATE", "DELETE", "TRUNCATE", "REFERENCES", "TRIGGER"}
# relkinds GRANT ... ON ALL TABLES IN SCHEMA covers: tables, views, materialised views, foreign and partitioned.
ALL_TABLES_KINDS = "rvmfp"
# tasks/config.yml: the files on disk are checked by the running server before it loads them.
VALIDATION = ("SELECT 'setting ' || coalesce(name, '?') || ' in ' || sourcefile || ':' || sourceline || ': ' || error "
              "AS problem FROM pg_file_settings WHERE error IS NOT NULL AND error <> 'setting could not be applied' "
              "UNION ALL SELECT 'pg_hba.conf line ' || line_number || ': ' || error FROM pg_hba_file_rules "
              "WHERE error IS NOT NULL")


# --- values -----------------------------------------------------------------------------------------------------

def role_values() -> dict[str, Any]:
    """The role's values for this host (deploy.values: defaults < inventory < vars, Jinja resolved)."""
    return deploy.values(ROLE)


def dbas(values: dict[str, Any]) -> list[str]:
    return [p["username"] for p in values["staff"] if p.get("role") == "dba" and p.get("status") == "active"]


def departed(values: dict[str, Any]) -> list[str]:
    return [p["username"] for p in values["staff"] if p.get("status") == "departed"]


def secret(values: dict[str, Any], variable: str) -> str:
    if variable not in values:
        print(f"{deploy.name()}: {variable} is not set (ansible-vault): the account's password is unknown",
              file=sys.stderr)
        raise SystemExit(deploy.EXIT_REFUSED)
    return str(values[variable])


def login_accounts(values: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(task, account, password variable) for the inventory's accounts, then the active DBAs (tasks/accounts.yml)."""
    found = [("DB-01 | Application, query and auditor accounts (passwords checked against the policy first)",
              a["name"], a["password_variable"]) for a in values["database_accounts"]]
    prefix = values["database_dba_password_prefix"]
    found += [("DB-01 | DBA accounts from the staff roster (no superuser)", name, f"{prefix}{name}_password")
              for name in dbas(values)]
    return found


# --- SQL --------------------------------------------------------------------------------------------------------

def ident(name: str) -> str:
    return '"' + str(name).replace('"', '""') + '"'


def literal(text: str) -> str:
    """A string literal (standard_conforming_strings: only the quote is doubled)."""
    return "'" + str(text).replace("'", "''") + "'"


def names_array(names: list[str]) -> str:
    return "ARRAY[" + ",".join(literal(n) for n in names) + "]::text[]" if names else "ARRAY[]::text[]"


def psql(values: dict[str, Any], database: str) -> str:
    return (f"runuser -u postgres -- psql -X -q -v ON_ERROR_STOP=1 -v VERBOSITY=terse -v SHOW_CONTEXT=never "
            f"-h {shlex.quote(values['postgresql_socket_dir'])} -p {int(values['postgresql_port'])} "
            f"-d {shlex.quote(database)}")


def query(values: dict[str, Any], database: str, queries: list[str]) -> list[list[str]]:
    """Rows of read-only queries run as postgres over the local socket at prepare time (a fact: no change), fields
    split on '|'. No rows when the server is not installed or not running yet (a fresh host: everything is to
    make). The SQL holds no secret: it is on the fact's command line."""
    socket = f"{values['postgresql_socket_dir']}/.s.PGSQL.{int(values['postgresql_port'])}"
    args = " ".join(f"-c {shlex.quote(q)}" for q in queries)
    command = (f"if command -v psql >/dev/null 2>&1 && [ -S {shlex.quote(socket)} ]; then "
               f"{psql(values, database)} -A -t -F '|' {args} 2>/dev/null; fi; true")
    out = host.get_fact(Command, command=command) or ""
    return [line.split("|") for line in str(out).splitlines() if line]


def server_state(values: dict[str, Any]) -> dict[str, Any]:
    """What the tasks of accounts.yml and audit.yml decide on, read from the server now."""
    database = values["database_name"]
    names = sorted({values["postgresql_remote_group"], values["postgresql_pgaudit_role"],
                    *[a[1] for a in login_accounts(values)], *departed(values)})
    rows = query(values, "postgres", [
        f"SELECT 'role', {', '.join(ROLE_COLUMNS[:-1])}, coalesce(rolpassword, '') FROM pg_authid "  # noqa: S608
        f"WHERE rolname = ANY({names_array(names)})",  # names quoted by literal()
        "SELECT 'member', g.rolname, m.rolname FROM pg_auth_members am JOIN pg_roles g ON g.oid = am.roleid "
        "JOIN pg_roles m ON m.oid = am.member",
        f"SELECT 'db', datname, (datacl IS NULL)::text FROM pg_database WHERE datname = {literal(database)}",  # noqa: S608
        f"SELECT 'dbacl', coalesce(g.rolname, 'PUBLIC'), a.privilege_type FROM pg_database d "  # noqa: S608
        f"CROSS JOIN LATERAL aclexplode(d.datacl) a LEFT JOIN pg_roles g ON g.oid = a.grantee "
        f"WHERE d.datname = {literal(database)}",
        "SELECT 'super', rolname FROM pg_roles WHERE rolsuper",
    ])
    accounts = [a["name"] for a in values["database_accounts"]]
    rows += query(values, database, [
        "SELECT 'table', c.relname, c.relkind FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname = 'public'",
        "SELECT 'tacl', c.relname, coalesce(g.rolname, 'PUBLIC'), a.privilege_type FROM pg_class c "
        "JOIN pg_namespace n ON n.oid = c.relnamespace CROSS JOIN LATERAL aclexplode(c.relacl) a "
        "LEFT JOIN pg_roles g ON g.oid = a.grantee WHERE n.nspname = 'public'",
        "SELECT 'held', grantee, table_name, privilege_type FROM information_schema.role_table_grants "  # noqa: S608
        f"WHERE table_schema = 'public' AND grantee = ANY({names_array(accounts)})",
        "SELECT 'ext', extname FROM pg_extension",
    ])
    state: dict[str, Any] = {"roles": {}, "members": set(), "database": None, "dbacl": set(), "superusers": [],
                             "tables": {}, "tacl": set(), "held": [], "extensions": set()}
    for row in rows:
        kind, rest = row[0], row[1:]
        if kind == "role" and len(rest) == len(ROLE_COLUMNS):
            state["roles"][rest[0]] = dict(zip(ROLE_COLUMNS, rest, strict=True))
        elif kind == "member" and len(rest) == 2:
            state["members"].add((rest[0], rest[1]))
        elif kind == "db" and len(rest) == 2:
            state["database"] = {"name": rest[0], "acl_null": rest[1] == "true"}
        elif kind == "dbacl" and len(rest) == 2:
            state["dbacl"].add((rest[0], rest[1]))
        elif kind == "super" and len(rest) == 1:
            state["superusers"].append(rest[0])
        elif kind == "table" and len(rest) == 2:
            state["tables"][rest[0]] = rest[1]
        elif kind == "tacl" and len(rest) == 3:
            state["tacl"].add((rest[0], rest[1], rest[2]))
        elif kind == "held" and len(rest) == 3:
            state["held"].append((rest[0], rest[1], rest[2]))
        elif kind == "ext" and len(rest) == 1:
            state["extensions"].add(rest[0])
    return state


# --- passwords and role attributes ---------------------------------------------------------------------------------

def saslprep(password: str) -> str:
    """The SASLprep normalisation community.postgresql applies before hashing (its module_utils), when available;
    ASCII passwords are unchanged by it."""
    try:
        from ansible_collections.community.postgresql.plugins.module_utils import saslprep as prep

        return str(prep.saslprep(password))
    except ImportError:
        return password


def password_matches(stored: str | None, password: str) -> bool:
    """community.postgresql's test (user_should_we_change_password): the stored SCRAM-SHA-256 verifier's server
    key equals HMAC(Hi(password, salt, iterations), "Server Key"). Anything else (no password, MD5) differs."""
    match = SCRAM.match(stored or "")
    if not match:
        return False
    try:
        iterations, salt, server_key = int(match[1]), base64.b64decode(match[2]), base64.b64decode(match[4])
        salted = hashlib.pbkdf2_hmac("sha256", saslprep(password).encode(), salt, iterations)
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(hmac.new(salted, b"Server Key", hashlib.sha256).digest(), server_key)


def flags_differ(flags: str, role: dict[str, str]) -> bool:
    """community.postgresql's need_to_change_role_attr_flags over `FLAG,NOFLAG,...`."""
    for flag in flags.split(","):
        wanted = not flag.startswith("NO")
        column = FLAG_COLUMNS[flag[2:] if flag.startswith("NO") else flag]
        if (role.get(column) == "t") != wanted:
            return True
    return False


def flags_sql(flags: str) -> str:
    return " ".join(flags.split(","))


def user_statement(name: str, flags: str, role: dict[str, str] | None, password: str | None) -> str | None:
    """The statement community.postgresql's postgresql_user runs for the role, or None when nothing differs."""
    if role is None:
        secret_part = f" WITH ENCRYPTED PASSWORD {literal(password)}" if password else ""
        return f"CREATE USER {ident(name)}{secret_part} {flags_sql(flags)}"
    changing = password is not None and not password_matches(role.get("rolpassword"), password)
    if changing:
        return f"ALTER USER {ident(name)} WITH ENCRYPTED PASSWORD {literal(str(password))} {flags_sql(flags)}"
    if flags_differ(flags, role):
        return f"ALTER USER {ident(name)} WITH {flags_sql(flags)}"
    return None


# --- the plan -------------------------------------------------------------------------------------------------------

def plan(values: dict[str, Any], state: dict[str, Any]) -> list[tuple[str, str, list[str]]]:
    """(operation name, database, statements) for every task of accounts.yml and audit.yml that changes something
    on this server, in the role's order. Statements may hold passwords: they go on stdin only."""
    database = values["database_name"]
    db = ident(database)
    steps: list[tuple[str, str, list[str]]] = []
    roles, tables = state["roles"], state["tables"]

    if state["database"] is None:
        # psql's \gexec: created only when still absent when the operation runs
        steps.append(("DB-05 | Platform database", "postgres",
                      [f"SELECT {literal('CREATE DATABASE ' + db)} WHERE NOT EXISTS (SELECT 1 FROM pg_database "  # noqa: S608
                       f"WHERE datname = {literal(database)}) \\gexec"]))
    if values["postgresql_manage_tables"]:
        missing = [t for t in values["database_tables"] if tables.get(t["name"]) not in ("r", "p")]
        if missing:
            steps.append(("DB-05 | Platform tables (created when absent): " + ", ".join(t["name"] for t in missing),
                          database, [f"CREATE TABLE IF NOT EXISTS {ident(t['name'])} ({', '.join(t['columns'])})"
                                     for t in missing]))
    groups = [values["postgresql_remote_group"], values["postgresql_pgaudit_role"]]
    statements = [s for s in (user_statement(g, values["postgresql_group_flags"], roles.get(g), None)
                              for g in groups) if s]
    if statements:
        steps.append(("DB-05 | Group roles that cannot log in (remote access group, audit object role)", "postgres",
                      statements))
    revoked = values["postgresql_public_revoked"].split(",")
    if state["database"] is None or state["database"]["acl_null"] or any(("PUBLIC", p) in state["dbacl"]
                                                                         for p in revoked):
        steps.append(("DB-05 | Nobody connects to the platform database by default (revoke CONNECT from PUBLIC)",
                      "postgres", [f"REVOKE {', '.join(revoked)} ON DATABASE {db} FROM PUBLIC"]))
    for task in dict.fromkeys(t for t, _, _ in login_accounts(values)):
        labels, statements = [], []
        for _, name, variable in (a for a in login_accounts(values) if a[0] == task):
            statement = user_statement(name, values["postgresql_login_flags"], roles.get(name),
                                       secret(values, variable))
            if statement:
                labels.append(name)
                statements.append(statement)
        if statements:
            steps.append((f"{task}: {', '.join(labels)}", "postgres", statements))

    purposes = values["postgresql_purpose_roles"]
    members = [(a["name"], a["purpose"]) for a in values["database_accounts"]] + [(n, "dba") for n in dbas(values)]
    statements = [f"GRANT {ident(group)} TO {ident(name)}" for name, purpose in members
                  for group in [values["postgresql_remote_group"], *purposes[purpose]]
                  if (group, name) not in state["members"]]
    if statements:
        steps.append(("DB-05 | Remote access group and predefined roles by purpose", "postgres", statements))
    logins = [a["name"] for a in values["database_accounts"]] + dbas(values)
    if any((name, "CONNECT") not in state["dbacl"] for name in logins):
        steps.append(("DB-05 | CONNECT on the platform database for its accounts", "postgres",
                      [f"GRANT CONNECT ON DATABASE {db} TO {', '.join(ident(n) for n in logins)}"]))

    statements = []
    for account in values["database_accounts"]:
        for table, privileges in sorted((account.get("grants") or {}).items()):
            wanted = sorted(str(p).upper() for p in privileges)
            if any((table, account["name"], p) not in state["tacl"] for p in wanted):
                statements.append(f"GRANT {', '.join(wanted)} ON TABLE public.{ident(table)} TO "
                                  f"{ident(account['name'])}")
    if statements:
        steps.append(("DB-05 | Per-table privileges from the inventory, nothing more", database, statements))
    schema_tables = {t for t, kind in tables.items() if kind in ALL_TABLES_KINDS}
    if values["postgresql_manage_tables"]:
        schema_tables |= {t["name"] for t in values["database_tables"]}
    statements = [f"GRANT ALL ON ALL TABLES IN SCHEMA public TO {ident(name)}" for name in dbas(values)
                  if any((t, name, p) not in state["tacl"] for t in schema_tables for p in TABLE_ALL)]
    if statements:
        steps.append(("DB-05 | DBAs manage every table of the platform schema", database, statements))
    granted = {f"{a['name']}|{t}|{str(p).upper()}" for a in values["database_accounts"]
               for t, ps in (a.get("grants") or {}).items() for p in ps}
    extra = [(g, t, p) for g, t, p in state["held"] if f"{g}|{t}|{p}" not in granted]
    if extra:
        steps.append(("DB-05 | Revoke table privileges the inventory does not grant", database,
                      [f"REVOKE {p} ON TABLE public.{ident(t)} FROM {ident(g)}" for g, t, p in extra]))

    statements = [f"ALTER USER {ident(name)} WITH NOLOGIN" for name in departed(values)
                  if roles.get(name, {}).get("rolcanlogin") == "t"]
    if statements:
        steps.append(("DB-04 | Departed staff cannot log in (role kept for the audit trail, LOGIN removed)",
                      "postgres", statements))

    if "pgaudit" not in state["extensions"]:
        steps.append(("DB-06 | pgaudit extension in the platform database", database, ['CREATE EXTENSION "pgaudit"']))
    audited = values["postgresql_audited_privileges"].split(",")
    pgaudit_role = values["postgresql_pgaudit_role"]
    statements = [f"GRANT {', '.join(audited)} ON TABLE public.{ident(t['name'])} TO {ident(pgaudit_role)}"
                  for t in values["database_tables"] if t.get("sensitive")
                  and any((t["name"], pgaudit_role, p) not in state["tacl"] for p in audited)]
    if statements:
        steps.append(("DB-06 | Writes to tables marked sensitive are audited (pgaudit object auditing)", database,
                      statements))
    return steps


def extra_superusers(values: dict[str, Any], state: dict[str, Any]) -> list[str]:
    return sorted(set(state["superusers"]) - set(values["postgresql_superusers"]))


# --- host-side helpers ------------------------------------------------------------------------------------------------

def unit_state(unit: str) -> tuple[bool, bool]:
    """Whether the unit is active and enabled as Ansible's service module tells them (exit status of systemctl
    is-active / is-enabled), read while pyinfra prepares; without a bus (a chroot): neither."""
    found = str(host.get_fact(Command, command=f"systemctl is-active -q {shlex.quote(unit)} 2>/dev/null "
                                               f"&& echo active; systemctl is-enabled -q {shlex.quote(unit)} "
                                               "2>/dev/null && echo enabled; true") or "")
    return "active" in found.split(), "enabled" in found.split()


def service(name: str, unit: str) -> None:
    """service: state started, enabled true - only the commands the unit's state needs."""
    active, enabled = unit_state(unit)
    commands = ([] if enabled else [f"systemctl enable {unit}"]) + ([] if active else [f"systemctl start {unit}"])
    if commands:
        server.shell(name=name, commands=commands)


def run_sql(values: dict[str, Any], name: str, database: str, statements: list[str]) -> None:
    """One operation that sends the statements to psql on stdin (passwords never on a command line)."""
    server.shell(name=name, commands=[psql(values, database)],
                 _stdin="\n".join(s if s.endswith("\\gexec") else s.rstrip(";") + ";" for s in statements) + "\n")


def validation_command(values: dict[str, Any]) -> str:
    """Fails, naming each problem, when the server finds an error in the configuration files on disk."""
    script = (f"out=$({psql(values, 'postgres')} -A -t -c {shlex.quote(VALIDATION)}) || exit 1; "
              "[ -z \"$out\" ] || { echo \"$out\" >&2; exit 1; }")
    return f"sh -c {shlex.quote(script)}"


# --- the deploy -------------------------------------------------------------------------------------------------------

CLUSTERS = "find /etc/postgresql -mindepth 1 -maxdepth 1 -type d -printf '%f\\n' 2>/dev/null; true"


def other_clusters(values: dict[str, Any], listing: str | None) -> list[str]:
    """Major versions of the PostgreSQL clusters on the host other than postgresql_version (/etc/postgresql/N)."""
    return sorted({v for v in (listing or "").split() if v.isdigit() and v != str(values["postgresql_version"])},
                  key=int)


def cluster_problem(values: dict[str, Any], others: list[str]) -> str:
    """tasks/preflight.yml: a cluster of another major version stops the run before anything is installed."""
    first = others[0]
    return (f"holds a PostgreSQL {', '.join(others)} cluster (/etc/postgresql/{first}/main) and postgresql_version is "
            f"{values['postgresql_version']}: the run would install PostgreSQL {values['postgresql_version']} beside "
            f"it as a second, empty cluster. Move the data first (pg_upgradecluster {first} main, then remove the "
            f"old packages), or set postgresql_version: {first} for this host until then. PostgreSQL was left as it is.")


def install(values: dict[str, Any]) -> None:
    """tasks/install.yml."""
    installed = host.get_fact(DebPackages) or {}
    if any(package not in installed for package in values["postgresql_packages"]):
        apt.packages(name="DB-01 | Install PostgreSQL, pgaudit and the driver Ansible uses",
                     packages=list(values["postgresql_packages"]), update=True)
    service("DB-03 | PostgreSQL cluster running", values["postgresql_service"])


def tls(values: dict[str, Any]) -> None:
    """tasks/tls.yml: the server certificate from the project CA (roles/pki host_cert with the role's parameters,
    role vars both engines read)."""
    deploy.include("pki", pki_cert_name=values["postgresql_tls_cert_name"],
                   pki_key_owner=values["postgresql_tls_key_owner"], pki_key_group=values["postgresql_tls_key_group"],
                   pki_key_mode=values["postgresql_tls_key_mode"])


def config_files(values: dict[str, Any]) -> tuple[deploy.Managed, deploy.Managed]:
    conf_dir = values["postgresql_conf_dir"]
    settings = dict(values, listen_addresses=values["postgresql_listen_addresses"], pg_port=values["postgresql_port"],
                    tls_dir=values["postgresql_tls_dir"],
                    ssl_min_protocol_version=values["postgresql_ssl_min_protocol_version"],
                    auth_delay_ms=values["postgresql_auth_delay_ms"],
                    syslog_facility=values["postgresql_syslog_facility"],
                    syslog_ident=values["postgresql_syslog_ident"], pgaudit_log=values["postgresql_pgaudit_log"],
                    pgaudit_role=values["postgresql_pgaudit_role"])
    hba = dict(values, superusers=values["postgresql_superusers"], networks=values["database_client_networks"],
               database=values["database_name"], remote_group=values["postgresql_remote_group"])
    return (deploy.Managed(f"{conf_dir}/conf.d/50-baseline.conf", deploy.render(ROLE, "50-baseline.conf.j2", settings),
                           mode="640", user="postgres", group="postgres"),
            deploy.Managed(f"{conf_dir}/pg_hba.conf", deploy.render(ROLE, "pg_hba.conf.j2", hba),
                           mode="640", user="postgres", group="postgres"))


def config(values: dict[str, Any]) -> None:
    """tasks/config.yml: both files, checked on disk by the server (a refused file puts the previous ones back),
    then the handlers in their file's order: restart for the settings, reload for client authentication."""
    conf, hba = config_files(values)
    conf_changed, hba_changed = deploy.differs(conf), deploy.differs(hba)
    if hba_changed:  # the template task's backup: true
        path = shlex.quote(hba.path)
        server.shell(name="DB-03 | Client authentication: a dated copy of the previous pg_hba.conf (backup)",
                     commands=[f"if [ -e {path} ]; then cp -a {path} {path}.$$.$(date +%Y-%m-%d@%H:%M:%S~); fi"])
    deploy.install("DB-01", "baseline settings drop-in (DB-01, DB-02, DB-03, DB-06) and client authentication "
                   "(DB-03, DB-04), validated by the server (pg_file_settings, pg_hba_file_rules)", [conf, hba],
                   then=[validation_command(values)])
    if conf_changed:
        server.shell(name="DB-03 | Restart postgresql (changed settings applied now; DB-06)",
                     commands=[f"systemctl restart {values['postgresql_service']}"])
    if hba_changed:
        server.shell(name="DB-04 | Reload postgresql (changed client authentication applied now; DB-03)",
                     commands=[f"systemctl reload {values['postgresql_service']}"])


def accounts_and_audit(values: dict[str, Any]) -> None:
    """tasks/accounts.yml and tasks/audit.yml, as the local superuser over the socket."""
    state = server_state(values)
    steps = plan(values, state)
    audit = [s for s in steps if s[0].startswith("DB-06")]
    for name, database, statements in [s for s in steps if not s[0].startswith("DB-06")]:
        run_sql(values, name, database, statements)
    extra = extra_superusers(values, state)
    if extra:
        message = f"superusers other than {', '.join(values['postgresql_superusers'])} exist: {', '.join(extra)}"
        server.shell(name="DB-04 | Only the listed superusers exist",
                     commands=[f"echo {shlex.quote(message)} >&2; exit 1"])
    for name, database, statements in audit:
        run_sql(values, name, database, statements)


def main() -> None:
    values = role_values()
    # tasks/preflight.yml (DB-01): the database passwords are checked by deploy.check_preflight on this host.
    others = other_clusters(values, host.get_fact(Command, command=CLUSTERS))
    if others:
        print(f"{deploy.name()}: DB-01 | {cluster_problem(values, others)}", file=sys.stderr)
        raise SystemExit(deploy.EXIT_REFUSED)
    install(values)
    tls(values)
    config(values)
    accounts_and_audit(values)


deploy.check_preflight()
if deploy.targets(PLAY):
    main()
deploy.finish()
