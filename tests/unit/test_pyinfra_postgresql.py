"""The pyinfra deploy of roles/postgresql (playbooks/pyinfra/postgresql.py) without hosts: the control IDs of the
role in its operation names, the configuration files Ansible writes (bytes, owner, mode), the moved data read by
both engines, and - against a throw-away PostgreSQL 15 server on a local socket, where one is installed - the
plan of accounts, grants and passwords: applied once, a second plan is empty; a changed password, an extra
privilege or a departed person's login show up as exactly the statement the role's modules would run."""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from test_pyinfra_antimalware import Recorder, ansible_files, deploy_files, ids_of, lab_values, load_deploy, role_tags

from baseline import REPO_ROOT
from baseline import pyinfra_deploy as real_deploy

ROLE = REPO_ROOT / "roles" / "postgresql"
DEPLOY = REPO_ROOT / "playbooks" / "pyinfra" / "postgresql.py"
# Passwords made up for these tests (they meet the policy: 10+ characters, letters, digits, special characters).
TEST_PASSWORDS = {"db_credit_app_password": "App-test-pass:0001", "db_credit_query_password": "Query'test\\pass2",
                  "db_credit_auditor_password": "Audit-test-pass#3", "db_dba_chenjing_password": "Dba-test-pass$4"}
EMPTY_STATE: dict[str, Any] = {"roles": {}, "members": set(), "database": None, "dbacl": set(), "superusers": [],
                               "tables": {}, "tacl": set(), "held": [], "extensions": set()}


def values_for(**extra: Any) -> dict[str, Any]:
    return lab_values("postgresql", "db1", **TEST_PASSWORDS, **extra)


def run(monkeypatch, facts: dict[str, Any] | None = None, state: dict[str, Any] | None = None):
    """install, config and the account plan against a fresh host (or `facts`), recorded."""
    module = load_deploy(DEPLOY, monkeypatch)
    facts = facts or {}
    recorder = Recorder(lambda item: facts.get(item.path, True))
    values = values_for()
    fake_deploy = SimpleNamespace(render=real_deploy.render, Managed=real_deploy.Managed, install=recorder.install,
                                  differs=lambda item: facts.get(item.path, True), name=lambda: "db1",
                                  values=lambda *roles, **kw: values, include=lambda part, **data: None,
                                  EXIT_REFUSED=2)
    monkeypatch.setattr(module, "deploy", fake_deploy)
    monkeypatch.setattr(module, "host", SimpleNamespace(get_fact=lambda fact, **kw: facts.get(fact.__name__)))
    for kind in ("server", "apt"):
        monkeypatch.setattr(module, kind, recorder.module(kind))
    monkeypatch.setattr(module, "unit_state", lambda unit: facts.get(f"unit:{unit}", (False, False)))
    monkeypatch.setattr(module, "server_state", lambda v: state or EMPTY_STATE)
    module.install(values)
    module.config(values)
    module.accounts_and_audit(values)
    return module, recorder, values


def test_every_control_id_of_the_role_is_in_the_operation_names(monkeypatch):
    _, recorder, _ = run(monkeypatch, state={**EMPTY_STATE, "superusers": ["postgres", "intruder"]})
    assert role_tags(ROLE) == {f"DB-0{n}" for n in range(1, 7)}
    assert ids_of(recorder.names) <= role_tags(ROLE)  # every name starts with one
    assert {i for n in recorder.names for i in re.findall(r"\bDB-0\d\b", n)} == role_tags(ROLE)


def test_a_fresh_host_gets_every_step_in_the_roles_order(monkeypatch):
    _, recorder, _ = run(monkeypatch)
    tasks = [n.split(":")[0] for n in recorder.names]
    expected = ["DB-01 | Install PostgreSQL, pgaudit and the driver Ansible uses", "DB-03 | PostgreSQL cluster running",
                "DB-03 | Client authentication", "DB-01 | Install baseline settings drop-in (DB-01, DB-02, DB-03, DB-06) "
                "and client authentication (DB-03, DB-04), validated by the server (pg_file_settings, "
                "pg_hba_file_rules)", "DB-03 | Restart postgresql (changed settings applied now; DB-06)",
                "DB-04 | Reload postgresql (changed client authentication applied now; DB-03)",
                "DB-05 | Platform database", "DB-05 | Platform tables (created when absent)",
                "DB-05 | Group roles that cannot log in (remote access group, audit object role)",
                "DB-05 | Nobody connects to the platform database by default (revoke CONNECT from PUBLIC)",
                "DB-01 | Application, query and auditor accounts (passwords checked against the policy first)",
                "DB-01 | DBA accounts from the staff roster (no superuser)",
                "DB-05 | Remote access group and predefined roles by purpose",
                "DB-05 | CONNECT on the platform database for its accounts",
                "DB-05 | Per-table privileges from the inventory, nothing more",
                "DB-05 | DBAs manage every table of the platform schema",
                "DB-06 | pgaudit extension in the platform database",
                "DB-06 | Writes to tables marked sensitive are audited (pgaudit object auditing)"]
    assert tasks == expected


def test_no_password_in_operation_names_or_command_lines(monkeypatch):
    _, recorder, _ = run(monkeypatch)
    shells = [op for op in recorder.ops if op["op"] == "server.shell"]
    for op in shells:
        text = op["name"] + "\n".join(op["commands"])
        assert not [p for p in TEST_PASSWORDS.values() if p in text]
    carried = "\n".join(op.get("_stdin", "") for op in shells)
    assert "PASSWORD 'Query''test\\pass2'" in carried  # quote doubled, backslash literal


def test_configuration_files_are_those_ansible_writes(monkeypatch):
    _, recorder, values = run(monkeypatch)
    wanted = ansible_files(ROLE, ["config.yml"], values)
    assert sorted(wanted) == ["/etc/postgresql/15/main/conf.d/50-baseline.conf", "/etc/postgresql/15/main/pg_hba.conf"]
    assert deploy_files(recorder) == wanted


def test_an_applied_host_gets_no_operation(monkeypatch):
    values = values_for()
    facts: dict[str, Any] = {"DebPackages": {p: ["1"] for p in values["postgresql_packages"]},
                             f"unit:{values['postgresql_service']}": (True, True)}
    facts.update({path: False for path in ansible_files(ROLE, ["config.yml"], values)})
    module = load_deploy(DEPLOY, monkeypatch)
    applied = applied_state(module, values)
    _, recorder, _ = run(monkeypatch, facts, applied)
    assert recorder.ops == []


def test_moved_data_is_read_by_both_engines():
    text = "\n".join(p.read_text(encoding="utf-8") for p in sorted((ROLE / "tasks").glob("*.yml")))
    source = DEPLOY.read_text(encoding="utf-8")
    for name in ("postgresql_login_flags", "postgresql_group_flags", "postgresql_public_revoked",
                 "postgresql_audited_privileges", "postgresql_packages"):
        assert "{{ " + name + " }}" in text, f"the Ansible role does not read {name}"
        assert f'values["{name}"]' in source, f"the pyinfra deploy does not read {name}"
    for literal in ("LOGIN,NOSUPERUSER", "privs: CONNECT,TEMPORARY", "privs: INSERT,UPDATE,DELETE"):
        assert literal not in text


def applied_state(module: Any, values: dict[str, Any]) -> dict[str, Any]:
    """The state a server has after the role ran, as server_state() would read it (passwords as SCRAM)."""
    def verifier(password: str) -> str:
        import base64
        import hashlib
        import hmac

        salt, iterations = b"0123456789abcdef", 4096
        salted = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, iterations)
        client = hmac.new(salted, b"Client Key", hashlib.sha256).digest()
        stored = hashlib.sha256(client).digest()
        server = hmac.new(salted, b"Server Key", hashlib.sha256).digest()
        b64 = base64.b64encode
        return f"SCRAM-SHA-256${iterations}:{b64(salt).decode()}${b64(stored).decode()}:{b64(server).decode()}"

    def role(login: bool, password: str = "") -> dict[str, str]:
        return {"rolname": "x", "rolsuper": "f", "rolcreaterole": "f", "rolcreatedb": "f", "rolinherit": "t",
                "rolcanlogin": "t" if login else "f", "rolreplication": "f", "rolbypassrls": "f",
                "rolpassword": verifier(password) if password else ""}

    roles = {values["postgresql_remote_group"]: role(False), values["postgresql_pgaudit_role"]: role(False)}
    for _, name, variable in module.login_accounts(values):
        roles[name] = role(True, values[variable])
    members, tacl = set(), set()
    purposes = values["postgresql_purpose_roles"]
    accounts = [(a["name"], a["purpose"]) for a in values["database_accounts"]]
    for name, purpose in accounts + [(n, "dba") for n in module.dbas(values)]:
        members |= {(g, name) for g in [values["postgresql_remote_group"], *purposes[purpose]]}
    for account in values["database_accounts"]:
        for table, privileges in account["grants"].items():
            tacl |= {(table, account["name"], p) for p in privileges}
    tables = {t["name"]: "r" for t in values["database_tables"]}
    for name in module.dbas(values):
        tacl |= {(t, name, p) for t in tables for p in module.TABLE_ALL}
    for t in values["database_tables"]:
        if t["sensitive"]:
            tacl |= {(t["name"], values["postgresql_pgaudit_role"], p) for p in ("INSERT", "UPDATE", "DELETE")}
    logins = [a["name"] for a in values["database_accounts"]] + module.dbas(values)
    return {"roles": roles, "members": members, "database": {"name": "credit", "acl_null": False},
            "dbacl": {("postgres", "CONNECT"), *[(n, "CONNECT") for n in logins]}, "superusers": ["postgres"],
            "tables": tables, "tacl": tacl, "held": [(g, t, p) for t, g, p in tacl if g in dict(accounts)],
            "extensions": {"plpgsql", "pgaudit"}}


def test_password_comparison_is_the_scram_server_key(monkeypatch):
    module = load_deploy(DEPLOY, monkeypatch)
    values = values_for()
    stored = applied_state(module, values)["roles"]["credit_app"]["rolpassword"]
    assert module.password_matches(stored, TEST_PASSWORDS["db_credit_app_password"])
    assert not module.password_matches(stored, "Another-pass:9")
    assert not module.password_matches("md5" + "0" * 32, TEST_PASSWORDS["db_credit_app_password"])
    assert not module.password_matches(None, "x")


# --- against a real server ------------------------------------------------------------------------------------------

def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def cluster():
    """A PostgreSQL 15 cluster of the postgres account in a scratch directory, on a Unix socket only."""
    bindir = Path("/usr/lib/postgresql/15/bin")
    if os.geteuid() != 0 or not (bindir / "initdb").exists() or not shutil.which("runuser"):
        pytest.skip("needs root, runuser and PostgreSQL 15 (/usr/lib/postgresql/15/bin)")
    try:
        import pwd

        pwd.getpwnam("postgres")
    except KeyError:
        pytest.skip("needs the postgres account")
    base = Path(tempfile.mkdtemp(prefix="pg-pyinfra-", dir="/tmp"))
    shutil.chown(base, "postgres", "postgres")
    data, sock, port = base / "data", base, _free_port()

    def as_postgres(*argv: str) -> subprocess.CompletedProcess:
        return subprocess.run(["runuser", "-u", "postgres", "--", *argv], capture_output=True, text=True,
                              check=True, timeout=120)

    as_postgres(str(bindir / "initdb"), "-D", str(data), "-A", "peer", "--no-sync")
    as_postgres(str(bindir / "pg_ctl"), "-D", str(data), "-l", str(base / "log"), "-w", "-o",
                f"-k {sock} -p {port} -c listen_addresses=''", "start")
    try:
        deadline = time.monotonic() + 30
        while not (sock / f".s.PGSQL.{port}").exists() and time.monotonic() < deadline:
            time.sleep(0.2)
        yield SimpleNamespace(socket_dir=str(sock), port=port)
    finally:
        subprocess.run(["runuser", "-u", "postgres", "--", str(bindir / "pg_ctl"), "-D", str(data), "-m", "fast",
                        "-w", "stop"], capture_output=True, check=False, timeout=120)
        shutil.rmtree(base, ignore_errors=True)


def on_server(monkeypatch, cluster) -> tuple[Any, dict[str, Any], list[str]]:
    """The deploy module whose facts and SQL operations run here against the cluster (commands as the deploy
    writes them), and the operation names that ran."""
    module = load_deploy(DEPLOY, monkeypatch)
    ran: list[str] = []

    def fact(_fact, command: str) -> str:
        return subprocess.run(["sh", "-c", command], capture_output=True, text=True, check=True).stdout.strip()

    def shell(name: str, commands: list[str], _stdin: str = "") -> None:
        ran.append(name)
        subprocess.run(["sh", "-c", commands[0]], input=_stdin, capture_output=True, text=True, check=True)

    monkeypatch.setattr(module, "host", SimpleNamespace(get_fact=fact))
    monkeypatch.setattr(module, "server", SimpleNamespace(shell=shell))
    values = dict(values_for(postgresql_port=cluster.port), postgresql_socket_dir=cluster.socket_dir)
    return module, values, ran


def without_pgaudit(steps: list) -> list:
    """This machine's server has no pgaudit (the lab's has): its extension step is left out here."""
    return [s for s in steps if s[0] != "DB-06 | pgaudit extension in the platform database"]


def apply(module: Any, values: dict[str, Any]) -> list[str]:
    steps = without_pgaudit(module.plan(values, module.server_state(values)))
    for name, database, statements in steps:
        module.run_sql(values, name, database, statements)
    return [name for name, _, _ in steps]


def sql(values: dict[str, Any], database: str, text: str) -> str:
    command = (f"runuser -u postgres -- psql -X -A -t -v ON_ERROR_STOP=1 -h {values['postgresql_socket_dir']} "
               f"-p {values['postgresql_port']} -d {database}")
    return subprocess.run(["sh", "-c", command], input=text, capture_output=True, text=True, check=True).stdout


def test_on_a_real_server_the_second_plan_is_empty(monkeypatch, cluster):
    module, values, _ = on_server(monkeypatch, cluster)
    first = apply(module, values)
    assert len(first) == 11
    assert without_pgaudit(module.plan(values, module.server_state(values))) == []
    roles = sql(values, "postgres", "SELECT rolname, rolcanlogin, rolsuper, rolbypassrls FROM pg_roles "
                "WHERE rolname IN ('credit_app', 'remote_login', 'chenjing') ORDER BY 1;")
    assert roles.split() == ["chenjing|t|f|f", "credit_app|t|f|f", "remote_login|f|f|f"]
    grants = sql(values, "credit", "SELECT has_table_privilege('credit_query', 'public.enterprise_credit', 'INSERT'), "
                 "has_table_privilege('credit_query', 'public.enterprise_credit', 'SELECT'), "
                 "has_database_privilege('public', 'credit', 'CONNECT');")
    assert grants.strip() == "f|t|f"
    stored = sql(values, "postgres", "SELECT rolpassword FROM pg_authid WHERE rolname = 'credit_query';").strip()
    assert module.password_matches(stored, TEST_PASSWORDS["db_credit_query_password"])
    assert not module.password_matches(stored, TEST_PASSWORDS["db_credit_app_password"])


def test_on_a_real_server_drift_gives_exactly_the_roles_statements(monkeypatch, cluster):
    module, values, _ = on_server(monkeypatch, cluster)
    apply(module, values)
    departed = [p["username"] for p in values["staff"] if p["status"] == "departed"][0]
    sql(values, "credit", f"GRANT DELETE ON public.credit_record TO credit_query; CREATE ROLE {departed} LOGIN;")
    changed = {**values, "db_credit_app_password": TEST_PASSWORDS["db_credit_app_password"] + "-changed"}
    steps = without_pgaudit(module.plan(changed, module.server_state(changed)))
    assert [(name, statements if "PASSWORD" not in statements[0] else [statements[0].split(" WITH ")[0]])
            for name, _, statements in steps] == [
        ("DB-01 | Application, query and auditor accounts (passwords checked against the policy first): credit_app",
         ['ALTER USER "credit_app"']),
        ("DB-05 | Revoke table privileges the inventory does not grant",
         ['REVOKE DELETE ON TABLE public."credit_record" FROM "credit_query"']),
        ("DB-04 | Departed staff cannot log in (role kept for the audit trail, LOGIN removed)",
         [f'ALTER USER "{departed}" WITH NOLOGIN']),
    ]
    for name, database, statements in steps:
        module.run_sql(changed, name, database, statements)
    assert without_pgaudit(module.plan(changed, module.server_state(changed))) == []


def test_on_a_real_server_an_extra_superuser_fails_the_run(monkeypatch, cluster):
    module, values, ran = on_server(monkeypatch, cluster)
    apply(module, values)
    sql(values, "postgres", "CREATE ROLE intruder SUPERUSER;")
    assert module.extra_superusers(values, module.server_state(values)) == ["intruder"]
    ran.clear()
    with pytest.raises(subprocess.CalledProcessError) as failed:
        module.accounts_and_audit(values)
    assert "intruder" in failed.value.stderr
    assert ran[-1] == "DB-04 | Only the listed superusers exist"


def test_role_vars_expressions_are_resolved(monkeypatch):
    """The service and configuration directory are expressions over the version and cluster (vars/main.yml)."""
    module = load_deploy(DEPLOY, monkeypatch)
    shared = {k: v for k, v in values_for().items() if not k.startswith("postgresql_")}
    monkeypatch.setattr(real_deploy, "host_vars", lambda: {**shared, "postgresql_version": 16})
    values = module.role_values()
    assert values["postgresql_service"] == "postgresql@16-main"
    assert values["postgresql_conf_dir"] == "/etc/postgresql/16/main"


def test_a_cluster_of_another_major_version_stops_the_deploy_before_anything_is_installed(monkeypatch):
    """A host upgraded in place keeps its cluster (PostgreSQL 15 on Debian 13, whose postgresql_version is 17): the
    deploy refuses at prepare time, before any operation, naming the cluster and the way out."""
    module, _, _ = run(monkeypatch)
    assert module.other_clusters({"postgresql_version": 17}, "15\n17\nlost+found\n") == ["15"]
    assert module.other_clusters({"postgresql_version": "15"}, "15\n") == []
    assert module.other_clusters({"postgresql_version": 17}, None) == []
    message = module.cluster_problem({"postgresql_version": 17}, ["15"])
    assert "PostgreSQL 15 cluster (/etc/postgresql/15/main) and postgresql_version is 17" in message
    assert "pg_upgradecluster 15 main" in message and "postgresql_version: 15" in message
    recorder_ops: list[str] = []
    monkeypatch.setattr(module, "install", lambda values: recorder_ops.append("install"))
    monkeypatch.setattr(module, "role_values", lambda: values_for(postgresql_version=17))
    monkeypatch.setattr(module, "host", SimpleNamespace(get_fact=lambda fact, **kw: "15\n"))
    with pytest.raises(SystemExit) as stopped:
        module.main()
    assert stopped.value.code == 2 and recorder_ops == []
