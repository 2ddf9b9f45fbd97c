"""The pyinfra deploy of roles/mariadb (playbooks/pyinfra/mariadb.py) without a host: its decisions from the server's
state (accounts, password hashes, grants, databases), run against recorded operations, must carry every control ID
of the role, write the drop-in Ansible writes, keep passwords off names and command lines, and change nothing on a
server that already has the baseline."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import yaml

from baseline import REPO_ROOT, templates
from baseline import pyinfra_deploy as real_deploy

ROLE = REPO_ROOT / "roles" / "mariadb"
DEPLOY = REPO_ROOT / "playbooks" / "pyinfra" / "mariadb.py"
IDS = re.compile(r"\b[A-Z]{2}-\d{2}\b")
# Throw-away secrets for the test (the shared inventory holds none); they pass the policy and the server's check.
SECRETS = {"db_credit_app_password": "App'Pass\\word#2024x", "db_credit_query_password": "Query-Pass#2024xy",
           "db_credit_auditor_password": "Audit@Pass2024xyz", "db_dba_chenjing_password": "Dba:Chen#2024xyzA",
           "db_mariabackup_password": "Maria:Backup#2024x"}


def load(path: Path = DEPLOY, name: str = "baseline_pyinfra_mariadb_helpers") -> Any:
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def role_tags(role: Path) -> set[str]:
    found: set[str] = set()

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            found.update(str(t) for t in node.get("tags") or [] if IDS.fullmatch(str(t)))
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    for path in sorted((role / "tasks").glob("*.yml")) + sorted((role / "handlers").glob("*.yml")):
        walk(yaml.safe_load(path.read_text(encoding="utf-8")))
    return found


def lab_values(role: str, hostname: str, **extra: Any) -> dict[str, Any]:
    """The Debian 12 release file < role defaults < the shared inventory < extra < role vars, resolved by Ansible's
    templating."""
    from ansible.parsing.dataloader import DataLoader
    from ansible.template import Templar, trust_as_template

    from baseline.inventory import _plain

    merged: dict[str, Any] = {}
    # the lab's servers run Debian 12: its release file first, as the deploys merge it (release_values)
    for path in [REPO_ROOT / "playbooks/group_vars/debian_12.yml", REPO_ROOT / "roles" / role / "defaults" / "main.yml",
                 *sorted((REPO_ROOT / "inventory/group_vars/all").glob("*.yml"))]:
        if path.exists():
            merged.update(yaml.safe_load(path.read_text(encoding="utf-8")) or {})
    merged.update({"inventory_hostname": hostname, **extra})
    role_vars = REPO_ROOT / "roles" / role / "vars" / "main.yml"
    if role_vars.exists():
        merged.update(yaml.safe_load(role_vars.read_text(encoding="utf-8")) or {})

    def trust(value: Any) -> Any:
        if isinstance(value, str):
            return trust_as_template(value)
        if isinstance(value, list):
            return [trust(v) for v in value]
        if isinstance(value, dict):
            return {k: trust(v) for k, v in value.items()}
        return value

    trusted = {k: trust(v) for k, v in merged.items()}
    templar = Templar(loader=DataLoader(), variables=trusted)
    out = {}
    for key, value in trusted.items():
        try:
            out[key] = _plain(templar.template(value))
        except Exception:  # noqa: BLE001, S112 - play-only values are left out
            continue
    return out


class Recorder:
    def __init__(self) -> None:
        self.ops: list[dict[str, Any]] = []

    def module(self, kind: str) -> SimpleNamespace:
        def make(op: str):
            def record(**kwargs):
                self.ops.append({"op": f"{kind}.{op}", **kwargs})
            return record
        return SimpleNamespace(**{op: make(op) for op in ("put", "directory", "file", "shell", "packages", "call",
                                                           "user")})

    @property
    def names(self) -> list[str]:
        return [op["name"] for op in self.ops]


def mariadb_show_grants(user: str, hostname: str, priv: dict[str, set[str]], *, ssl: bool) -> list[list[str]]:
    """SHOW GRANTS lines as MariaDB 10.11 prints them for an account with these privileges."""
    who = f"`{user}`@`{hostname}`"
    lines = []
    first = priv.get("*.*")
    head = ", ".join(sorted(first)) if first else "USAGE"
    lines.append([f"GRANT {head} ON *.* TO {who} IDENTIFIED BY PASSWORD '*0123'" + (" REQUIRE SSL" if ssl else "")])
    for target, privs in sorted(priv.items()):
        if target == "*.*":
            continue
        db, _, table = target.partition(".")
        quoted = f"`{db}`." + ("*" if table == "*" else f"`{table}`")
        lines.append([f"GRANT {', '.join(sorted(privs))} ON {quoted} TO {who}"])
    return lines


class Server:
    """A MariaDB server's state as the deploy's facts read it."""

    def __init__(self) -> None:
        self.accounts: dict[tuple[str, str], dict[str, str]] = {}
        self.grants: dict[tuple[str, str], dict[str, set[str]]] = {}
        self.databases: set[str] = set()
        self.tables: set[str] = set()

    def query(self, sql: str, socket: str = "") -> list[list[str]]:
        if sql.startswith("SELECT user, host, IFNULL(JSON_VALUE(priv, '$.authentication_string')"):
            return [[u, h, a["auth"], a["ssl_type"], a["locked"]] for (u, h), a in self.accounts.items()]
        if sql.startswith("SHOW DATABASES LIKE "):
            name = sql.split("LIKE ", 1)[1].strip("'")
            return [[name]] if name in self.databases else []
        if sql.startswith("SELECT table_name"):
            return [[t] for t in sorted(self.tables)]
        if sql.startswith("SHOW GRANTS FOR"):
            rows = []
            for statement in sql.split("; "):
                user, hostname = re.findall(r"'((?:[^'\\]|\\.)*)'", statement)
                if (user, hostname) in self.accounts:
                    rows += mariadb_show_grants(user, hostname, self.grants.get((user, hostname), {}),
                                                ssl=self.accounts[(user, hostname)]["ssl_type"] == "1")
            return rows
        raise AssertionError(f"unexpected query: {sql}")


@pytest.fixture
def values() -> dict[str, Any]:
    return {**lab_values("mariadb", "db2", **SECRETS)}


def run(values: dict[str, Any], server_state: Server, config_same: bool = False) -> tuple[Recorder, Any]:
    module = load()
    recorder = Recorder()
    installed: list[dict[str, Any]] = []

    def install(control, change, items, *, then=(), guard=False):
        if config_same:
            return False
        installed.append({"control": control, "items": items, "then": list(then)})
        recorder.ops.append({"op": "deploy.install", "name": f"{control} | Install {change}", "items": items,
                             "then": list(then), "guard": guard})
        return True

    module.deploy = SimpleNamespace(check_preflight=lambda: None, targets=lambda pattern: pattern == "mariadb_servers",
                                    refresh_package_index=lambda: None, include=lambda *a, **k: None,
                                    install=install, render=real_deploy.render, Managed=real_deploy.Managed,
                                    finish=lambda: None, name=lambda: "db2", EXIT_REFUSED=2,
                                    values=lambda *roles, **kw: values, differs=real_deploy.differs)
    module.apt, module.files, module.server = (recorder.module(k) for k in ("apt", "files", "server"))
    module.deploy.put_secret = lambda name, content, dest, **kw: module.server.shell(
        name=name, commands=[real_deploy.secret_command(content, dest, **kw)[0]],
        _stdin=real_deploy.secret_command(content, dest, **kw)[1])
    module.query = server_state.query
    module.host = SimpleNamespace(get_fact=lambda fact, **kw: "db2" if fact.__name__ == "Hostname" else None)
    module.packages_missing = lambda names: [] if config_same else list(names)
    module.service_down = lambda unit: not config_same
    module.main()
    return recorder, module


def configured(values: dict[str, Any], module: Any) -> Server:
    """A server on which the role has run: every account with its password, TLS required, exactly its grants."""
    server = Server()
    server.databases = {values["database_name"]}
    server.tables = {t["name"] for t in values["database_tables"]}
    hosts = [module.filters.mariadb_host(n) for n in values["database_client_networks"]]
    purpose = values["mariadb_purpose_privileges"]
    for account in values["database_accounts"]:
        for h in hosts:
            server.accounts[(account["name"], h)] = {
                "auth": module.native_hash(values[account["password_variable"]]), "ssl_type": "1", "locked": "0"}
            server.grants[(account["name"], h)] = module.normalise(
                module.filters.mariadb_privileges(account, values["database_name"], purpose[account["purpose"]]))
    for person in values["staff"]:
        if person["role"] == "dba" and person["status"] == "active":
            for h in hosts:
                secret = values[f"{values['database_dba_password_prefix']}{person['username']}_password"]
                server.accounts[(person["username"], h)] = {"auth": module.native_hash(secret), "ssl_type": "1",
                                                            "locked": "0"}
                server.grants[(person["username"], h)] = module.normalise(
                    {f"{values['database_name']}.*": "ALL", **purpose["dba"]})
    server.accounts[("root", "localhost")] = {"auth": "invalid", "ssl_type": "0", "locked": "0"}
    server.grants[("root", "localhost")] = {"*.*": {"ALL PRIVILEGES", "GRANT"}}
    return server


# --- pure helpers -------------------------------------------------------------------------------------------------

def test_native_hash_is_mariadbs_password_function():
    module = load()
    # SELECT PASSWORD('password') on MariaDB / MySQL 5.x
    assert module.native_hash("password") == "*2470C0C06DEE42FD1618BB99005ADCA2EC9D1E19"
    assert module.native_hash("Password") != module.native_hash("password")


def test_literal_escapes_quotes_and_backslashes():
    module = load()
    assert module.literal("it's") == "'it\\'s'"
    assert module.literal("a\\b") == "'a\\\\b'"
    assert module.ident("we`ird") == "`we``ird`"


def test_password_statements_create_alter_or_nothing():
    module = load()
    stored = {("app", "10.0.0.0/255.0.0.0"): {"auth": module.native_hash("Old#Pass2024x")},
              ("kept", "h"): {"auth": module.native_hash("Kept#Pass2024x")}}
    labels, statements = module.password_statements(
        [("new", "h", "New#Pass2024x"), ("app", "10.0.0.0/255.0.0.0", "Changed#2024x"), ("kept", "h", "Kept#Pass2024x")],
        stored)
    assert labels == ["new@h", "app@10.0.0.0/255.0.0.0"]
    assert statements == ["CREATE USER 'new'@'h' IDENTIFIED BY 'New#Pass2024x'",
                          "ALTER USER 'app'@'10.0.0.0/255.0.0.0' IDENTIFIED BY 'Changed#2024x'"]


def test_show_grants_lines_are_read_per_account_and_table():
    module = load()
    rows = [["GRANT USAGE ON *.* TO `credit_app`@`10.231.0.0/255.255.255.0` IDENTIFIED BY PASSWORD '*AB' REQUIRE SSL"],
            ["GRANT SELECT, INSERT, UPDATE ON `credit`.`enterprise_credit` TO `credit_app`@`10.231.0.0/255.255.255.0`"],
            ["GRANT ALL PRIVILEGES ON *.* TO `root`@`localhost` IDENTIFIED VIA unix_socket WITH GRANT OPTION"],
            ["GRANT PROXY ON ''@'%' TO 'root'@'localhost' WITH GRANT OPTION"],
            ["GRANT RELOAD, PROCESS, SHOW DATABASES ON *.* TO `chenjing`@`10.231.0.0/255.255.255.0`"],
            ["GRANT ALL PRIVILEGES ON `credit`.* TO `chenjing`@`10.231.0.0/255.255.255.0`"]]
    found = module.parse_grants(rows)
    net = "10.231.0.0/255.255.255.0"
    assert found[("credit_app", net)] == {"credit.enterprise_credit": {"SELECT", "INSERT", "UPDATE"}}
    assert found[("root", "localhost")] == {"*.*": {"ALL PRIVILEGES", "GRANT"}}
    assert found[("chenjing", net)] == {"*.*": {"RELOAD", "PROCESS", "SHOW DATABASES"}, "credit.*": {"ALL PRIVILEGES"}}


def test_grants_replaced_only_where_they_differ():
    module = load()
    stored = {("a", "h"): {"ssl_type": "1"}, ("b", "h"): {"ssl_type": "1"}, ("c", "h"): {"ssl_type": "0"}}
    current = {("a", "h"): {"db.t": {"SELECT"}}, ("b", "h"): {"db.t": {"SELECT", "DELETE"}},
               ("c", "h"): {"db.t": {"SELECT"}}}
    wanted = [(u, "h", {"db.t": "SELECT"}) for u in ("a", "b", "c", "d")]
    labels, statements = module.grant_statements(wanted, current, require_ssl=True, stored=stored)
    assert labels == ["b@h", "c@h", "d@h"]  # extra DELETE, no TLS requirement, a new account
    assert statements[:3] == ["REVOKE ALL PRIVILEGES, GRANT OPTION FROM 'b'@'h'", "GRANT SELECT ON `db`.`t` TO 'b'@'h'",
                              "ALTER USER 'b'@'h' REQUIRE SSL"]
    labels, _ = module.grant_statements(wanted[:1], current, require_ssl=False, stored=stored)
    assert labels == []


# --- the deploy ----------------------------------------------------------------------------------------------------

def test_fresh_host_every_control_of_the_role_in_the_operation_names(values):
    recorder, _ = run(values, Server())
    named = set(IDS.findall(" ".join(recorder.names)))
    assert role_tags(ROLE) <= named, role_tags(ROLE) - named
    for name in recorder.names:
        assert IDS.match(name), f"operation name without a leading control ID: {name!r}"


def test_a_new_server_loses_what_an_installation_may_bring(values):
    recorder, _ = run(values, Server())
    (op,) = [op for op in recorder.ops if op["name"].startswith("DB-04 | No anonymous accounts, no remote root")]
    assert op["_stdin"].splitlines() == [
        "DROP USER IF EXISTS ''@'db2';", "DROP USER IF EXISTS ''@'localhost';",
        "DROP USER IF EXISTS 'root'@'127.0.0.1';", "DROP USER IF EXISTS 'root'@'::1';",
        "DROP USER IF EXISTS 'root'@'db2';", "DROP DATABASE IF EXISTS `test`;"]
    assert recorder.ops.index(op) < next(i for i, o in enumerate(recorder.ops) if o["name"].startswith("DB-05"))


def test_passwords_reach_the_server_on_stdin_only(values):
    recorder, _ = run(values, Server())
    sent = "".join(op.get("_stdin", "") for op in recorder.ops)
    for variable, secret in SECRETS.items():
        if variable == "db_mariabackup_password":  # set by the backup deploy
            continue
        assert secret.replace("\\", "\\\\").replace("'", "\\'") in sent
        for op in recorder.ops:
            assert secret not in op["name"]
            assert secret not in " ".join(op.get("commands", []))


def test_drop_in_is_the_bytes_ansible_writes_validated_then_restart(values):
    recorder, _ = run(values, Server())
    from ansible.parsing.dataloader import DataLoader
    from ansible.template import Templar, trust_as_template

    task = next(t for t in yaml.safe_load((ROLE / "tasks" / "config.yml").read_text(encoding="utf-8"))
                if "ansible.builtin.template" in t)
    templar = Templar(loader=DataLoader(), variables=values)
    scope = {**values, **{k: templar.template(trust_as_template(v)) for k, v in task["vars"].items()}}
    expected = templates.render_with_ansible(ROLE / "templates" / "60-baseline.cnf.j2", scope)
    install = next(op for op in recorder.ops if op["op"] == "deploy.install")
    (item,) = install["items"]
    args = task["ansible.builtin.template"]
    assert (item.path, item.content, item.mode, item.user, item.group) == (
        args["dest"], expected, args["mode"].lstrip("0"), args["owner"], args["group"])
    assert item.validate == args["validate"].replace("%s", "{path}")
    assert install["then"] == ["systemctl restart mariadb"]


def decided(recorder: Recorder) -> list[dict[str, Any]]:
    """The operations the deploy adds from its own facts (files.directory decides for itself from pyinfra's)."""
    return [op for op in recorder.ops if op["op"] != "files.directory"]


def test_configured_server_gets_no_operation(values):
    module = load()
    recorder, _ = run(values, configured(values, module), config_same=True)
    assert decided(recorder) == []


def test_drift_is_repaired_account_by_account(values):
    module = load()
    server = configured(values, module)
    net = module.filters.mariadb_host(values["database_client_networks"][0])
    server.grants[("credit_query", net)]["credit.public_notice"] = {"SELECT", "DELETE"}  # an extra privilege
    server.accounts[("credit_app", net)]["auth"] = module.native_hash("Someone#Else2024")  # a password changed
    server.accounts[("", "localhost")] = {"auth": "", "ssl_type": "0", "locked": "0"}  # anonymous account
    server.accounts[("root", "%")] = {"auth": "", "ssl_type": "0", "locked": "0"}  # remote root
    departed = next(p["username"] for p in values["staff"] if p["status"] == "departed")
    server.accounts[(departed, net)] = {"auth": "", "ssl_type": "1", "locked": "false"}
    server.databases.add("test")
    recorder, _ = run(values, server, config_same=True)
    by_name = {op["name"].split(":")[0]: op for op in decided(recorder)}
    assert sorted(by_name) == sorted([
        "DB-04 | No anonymous accounts (1)", "DB-04 | No test database", "DB-04 | No remote root",
        "DB-01 | Passwords of the application, query and auditor accounts (checked by the server too)",
        "DB-05 | Application, query and auditor accounts, TLS required, privileges per table and nothing more (DB-03)",
        "DB-04 | Departed staff cannot log in (account locked, kept for the audit trail)"])
    grants = by_name["DB-05 | Application, query and auditor accounts, TLS required, privileges per table and nothing "
                     "more (DB-03)"]
    assert "credit_query@" in grants["name"] and "credit_app@" not in grants["name"]
    assert f"ALTER USER '{departed}'@'{net}' ACCOUNT LOCK;" in by_name[
        "DB-04 | Departed staff cannot log in (account locked, kept for the audit trail)"]["_stdin"]
    assert "ALTER USER 'credit_app'" in by_name[
        "DB-01 | Passwords of the application, query and auditor accounts (checked by the server too)"]["_stdin"]


@pytest.mark.parametrize("variable", ["db_credit_query_password", "db_mariabackup_password"])
def test_weak_password_refused_before_any_operation(values, variable, capsys):
    values[variable] = "short"
    with pytest.raises(SystemExit) as stopped:
        run(values, Server())
    assert stopped.value.code == 2
    assert "short" not in capsys.readouterr().err
