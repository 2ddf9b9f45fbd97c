"""The pyinfra deploys of the backup roles (playbooks/pyinfra/backup.py, restore_drill.py) without hosts: the keys,
store and client parts run against recorded operations must carry every control ID of the roles, write the files
Ansible's tasks write (bytes, owner, group, mode), authorise keys as ansible.posix.authorized_key writes them, leave
the files of hosts outside the run alone, and read the data moved into the roles' vars."""

from __future__ import annotations

import base64
import re
from io import StringIO
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import yaml
from preflight_inventory import public_key
from test_pyinfra_mariadb import IDS, Recorder, lab_values, load, role_tags

from baseline import REPO_ROOT, templates
from baseline import pyinfra_deploy as real_deploy

ROLES = REPO_ROOT / "roles"
BACKUP = REPO_ROOT / "playbooks" / "pyinfra" / "backup.py"
DRILL = REPO_ROOT / "playbooks" / "pyinfra" / "restore_drill.py"
GROUPS = {"all": ["app1", "db1", "db2", "log1", "bak1", "drill1"], "backup_clients": ["app1", "db1", "db2", "log1"],
          "postgresql_servers": ["db1"], "mariadb_servers": ["db2"], "backup_servers": ["bak1"],
          "drill_hosts": ["drill1"]}
ADDRESSES = {"bak1": "10.231.0.16"}
# Throw-away secrets for the test (the shared inventory holds none).
SECRETS = {"backup_restic_password": "Restic#Pass2024x", "backup_pgbackrest_cipher_pass": "Cipher#Pass2024x",
           "db_mariabackup_password": "Maria'Backup#2024"}
STORE_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFakeStoreHostKeyForTheTestOnly0000000000 root@bak1"


def backup_module() -> Any:
    return load(BACKUP, "baseline_pyinfra_backup_helpers")


def values_for(role: str, hostname: str) -> dict[str, Any]:
    store = {"ansible_host": ADDRESSES["bak1"], "backup_store_host_key": " ".join(STORE_KEY.split()[:2])}
    return lab_values(role, hostname, groups=GROUPS, hostvars={"bak1": store}, **SECRETS)


class FakeHost:
    def __init__(self, name: str, pub: str | None) -> None:
        self.name = name
        self.data = {"baseline_host": name}
        self.pub = pub

    def get_fact(self, fact, **kwargs):
        if fact.__name__ == "FileContents":
            return self.pub.splitlines() if self.pub else None
        return None


def wire(module: Any, me: str, recorder: Recorder, *, in_run: dict[str, FakeHost], files_exist=False) -> None:
    """The module's pyinfra and deploy names replaced for host `me` of a run of `in_run` (fresh hosts)."""
    module.deploy = SimpleNamespace(name=lambda: me, render=real_deploy.render, Managed=real_deploy.Managed,
                                    differs=lambda item: not files_exist, refresh_package_index=lambda: None,
                                    EXIT_REFUSED=2, STAGE_DIR=real_deploy.STAGE_DIR,
                                    check_preflight=lambda: None, finish=lambda: None,
                                    put_secret=lambda name, content, dest, **kw: recorder.module("server").shell(
                                        name=name, commands=[real_deploy.secret_command(content, dest, **kw)[0]],
                                        _stdin=real_deploy.secret_command(content, dest, **kw)[1]))
    module.apt, module.files, module.server, module.python = (recorder.module(k)
                                                              for k in ("apt", "files", "server", "python"))
    module.sql.server = module.server
    module.sql.deploy = module.deploy
    module.sql.query = lambda sql, socket="": []
    module.sql.service_down = lambda unit: not files_exist
    module.missing_packages = lambda names: [] if files_exist else list(names)
    module.run_hosts = lambda: in_run
    facts = {"Command": "yes", "File": {"mode": 600}} if files_exist else {"Command": "no"}
    module.host = SimpleNamespace(get_fact=lambda fact, **kw: facts.get(fact.__name__))
    module.client_key_path = lambda name: "/root/.ssh/baseline-backup"
    module.store_host_key = lambda store: " ".join(STORE_KEY.split()[:2])


def content(op: dict[str, Any]) -> str:
    src = op["src"]
    return src.getvalue() if isinstance(src, StringIO) else Path(src).read_text(encoding="utf-8")


SECRET_FILE = re.compile(r"^umask 077 && base64 -d > (\S+) && chown ([^:]+):(\S+) \1 && chmod (\d+) \1 && "
                         r"mv -f \1 '?(.+?)'?$")


def deploy_files(recorder: Recorder) -> dict[str, tuple[str, str, str, str]]:
    """dest -> (bytes, mode, owner, group) of the files the deploy writes: files.put, and the secrets it sends on
    standard input (base64) into a file of umask 077 that then replaces the destination."""
    found = {op["dest"]: (content(op), op["mode"].lstrip("0"), op["user"], op["group"])
             for op in recorder.ops if op["op"] == "files.put"}
    for op in recorder.ops:
        match = SECRET_FILE.match(" ".join(op.get("commands", [""])))
        if op["op"] == "server.shell" and match:
            found[match[5]] = (base64.b64decode(op["_stdin"]).decode(), match[4].lstrip("0"), match[2], match[3])
    return found


def ansible_files(role: str, task_files: list[str], values: dict[str, Any]) -> dict[str, tuple[str, str, str, str]]:
    """dest -> (bytes, mode, owner, group) of every template and copy task of the task files, as Ansible writes."""
    from ansible.parsing.dataloader import DataLoader
    from ansible.template import Templar, trust_as_template

    def expand(text: Any, scope: dict[str, Any]) -> Any:
        return Templar(loader=DataLoader(), variables=scope).template(
            trust_as_template(text) if isinstance(text, str) else text)

    found = {}
    for task_file in task_files:
        for task in yaml.safe_load((ROLES / role / "tasks" / task_file).read_text(encoding="utf-8")):
            module = next((k for k in task if k in ("ansible.builtin.template", "ansible.builtin.copy")), None)
            if not module:
                continue
            args = task[module]
            loop = task.get("loop", [None])
            for item in (expand(loop, values) if isinstance(loop, str) else loop):
                scope = {**values, "item": item}
                scope.update({k: expand(v, scope) for k, v in (task.get("vars") or {}).items()})
                dest = expand(args["dest"], scope)
                if "content" in args:
                    text = expand(args["content"], scope)
                elif module.endswith("template"):
                    text = templates.render_with_ansible(ROLES / role / "templates" / expand(args["src"], scope), scope)
                else:
                    text = (ROLES / role / "files" / expand(args["src"], scope)).read_text(encoding="utf-8")
                found[dest] = (text, str(args["mode"]).lstrip("0"), args["owner"], args["group"])
    return found


# --- authorized_keys as ansible.posix.authorized_key writes it ---------------------------------------------------

def test_authorized_keys_lines_are_what_the_ansible_module_writes():
    from ansible_collections.ansible.posix.plugins.modules import authorized_key

    module = backup_module()
    writer, reader = public_key("baseline-backup@db2", 1), public_key("baseline-backup@drill1", 2)
    lines = ['restrict,command="internal-sftp" ' + writer, 'restrict,command="internal-sftp -R" ' + reader,
             'restrict,command="internal-sftp -R" ' + writer]  # a key given twice stays at its first place
    fake = SimpleNamespace(fail_json=lambda **kw: pytest.fail(kw["msg"]))
    parsed = {}
    for rank, line in enumerate(lines):
        key = authorized_key.parsekey(fake, line, rank=rank)
        parsed.setdefault(key[0], key)
    expected = authorized_key.serialize(parsed)
    assert module._authorized_lines(writer, [reader, writer], "internal-sftp") == expected
    assert module._authorized_lines(None, [reader], "internal-sftp") == \
        f'restrict,command="internal-sftp -R" {reader}\n'


# --- keys ----------------------------------------------------------------------------------------------------------

def test_new_key_made_on_the_host_without_a_secret_on_the_line():
    module = backup_module()
    recorder = Recorder()
    wire(module, "db2", recorder, in_run={})
    module.deploy.values = lambda *roles, **kw: values_for("backup_client", "db2")
    module.keys()
    (op,) = recorder.ops
    assert op["name"] == "BR-02 | SSH key for the off-site store"
    assert "ssh-keygen -q -t ed25519 -N '' -C baseline-backup@db2 -f /root/.ssh/baseline-backup" in op["commands"][0]
    assert module.new_key["db2"] is True


# --- the store -----------------------------------------------------------------------------------------------------

def store_run(in_run: dict[str, FakeHost]) -> Recorder:
    module = backup_module()
    recorder = Recorder()
    wire(module, "bak1", recorder, in_run=in_run)
    module.deploy.values = lambda *roles, **kw: values_for("backup_store", "bak1")
    module.store()
    return recorder


def test_store_authorises_each_client_and_the_drill_host_read_only():
    keys = {n: public_key(f"baseline-backup@{n}", i) for i, n in enumerate(["app1", "db1", "db2", "log1", "drill1"])}
    recorder = store_run({n: FakeHost(n, k) for n, k in keys.items()} | {"bak1": FakeHost("bak1", None)})
    written = {op["dest"]: op for op in recorder.ops if op["op"] == "files.put"}
    assert sorted(written) == [f"/srv/backup/{c}/.ssh/authorized_keys" for c in ["app1", "db1", "db2", "log1"]]
    op = written["/srv/backup/db2/.ssh/authorized_keys"]
    assert content(op) == (f'restrict,command="internal-sftp" {keys["db2"]}\n'
                           f'restrict,command="internal-sftp -R" {keys["drill1"]}\n')
    assert (op["user"], op["group"], op["mode"]) == ("bk-db2", "bk-db2", "600")
    users = [op for op in recorder.ops if op["op"] == "server.user"]
    assert [u["user"] for u in users] == ["bk-app1", "bk-db1", "bk-db2", "bk-log1"]
    assert all(u["shell"] == "/usr/sbin/nologin" and u["system"] and u["password"] == "*" for u in users)  # noqa: S105
    assert [(u["home"], u["comment"], u["ensure_home"], u["create_home"]) for u in users][2] == (
        "/srv/backup/db2", "Off-site backups of db2", False, False)
    assert {"BR-02"} >= set(IDS.findall(" ".join(recorder.names)))


def test_store_leaves_keys_alone_when_the_drill_host_is_out_of_the_run():
    keys = {n: public_key(f"baseline-backup@{n}", i) for i, n in enumerate(["app1", "db1", "db2", "log1"])}
    recorder = store_run({n: FakeHost(n, k) for n, k in keys.items()})
    assert not [op for op in recorder.ops if "authorized_keys" in str(op.get("dest", "")) or op["op"] == "python.call"]


def test_store_reads_keys_this_run_makes_when_its_operation_runs():
    keys = {n: public_key(f"baseline-backup@{n}", i) for i, n in enumerate(["app1", "db1", "log1", "drill1"])}
    in_run = {n: FakeHost(n, k) for n, k in keys.items()} | {"db2": FakeHost("db2", None)}
    recorder = store_run(in_run)
    (call,) = [op for op in recorder.ops if op["op"] == "python.call"]
    assert call["clients"] == ["app1", "db1", "db2", "log1"] and call["readers"] == ["drill1"]
    assert not [op for op in recorder.ops if op["op"] == "files.put"]


# --- the clients ---------------------------------------------------------------------------------------------------

def client_run(me: str, *, files_exist: bool = False) -> tuple[Recorder, dict[str, Any]]:
    module = backup_module()
    recorder = Recorder()
    wire(module, me, recorder, in_run={me: FakeHost(me, None), "bak1": FakeHost("bak1", None)},
         files_exist=files_exist)
    values = values_for("backup_client", me)
    module.client_values = lambda: values
    module.clients()
    return recorder, values


@pytest.mark.parametrize("me, task_files", [
    ("db1", ["offsite.yml", "postgresql.yml", "schedule.yml"]),
    ("db2", ["offsite.yml", "mariadb.yml", "schedule.yml"]),
    ("app1", ["offsite.yml", "schedule.yml"]),
])
def test_client_files_are_the_bytes_owners_and_modes_ansible_writes(me, task_files):
    recorder, values = client_run(me)
    assert deploy_files(recorder) == ansible_files("backup_client", task_files, values)


@pytest.mark.parametrize("me", ["db1", "db2"])
def test_client_secrets_never_in_names_or_command_lines(me):
    recorder, _ = client_run(me)
    for secret in SECRETS.values():
        for op in recorder.ops:
            assert secret not in op["name"]
            assert secret not in " ".join(str(c) for c in op.get("commands", []))
    if me == "db2":
        sent = "".join(op.get("_stdin", "") for op in recorder.ops)
        assert "IDENTIFIED BY 'Maria\\'Backup#2024'" in sent


def test_client_on_a_ready_host_adds_no_operation_of_its_own():
    recorder, _ = client_run("db2", files_exist=True)
    own = [op for op in recorder.ops if op["op"] not in ("files.put", "files.directory")]
    # the mariabackup account is absent in this fake server: its password and grants are the only work left
    assert [op["name"].split(":")[0] for op in own] == [
        "BR-01 | Password of the backup account (checked by the server's password policy)",
        "BR-01 | Backup account (local socket only, backup privileges only)"]


def test_new_key_without_the_store_in_the_run_is_refused(capsys):
    module = backup_module()
    recorder = Recorder()
    wire(module, "db2", recorder, in_run={"db2": FakeHost("db2", None)})
    module.new_key["db2"] = True
    with pytest.raises(SystemExit) as stopped:
        module.offsite(values_for("backup_client", "db2"))
    assert stopped.value.code == 2
    assert "(the store is not part of this run)" in capsys.readouterr().err


def test_new_key_with_the_store_but_without_a_drill_host_is_refused_naming_it(capsys):
    """The store leaves every client's keys as they are when a drill host's key was not read (store()): the
    client stops with the hosts to include instead of failing later at the store's login."""
    module = backup_module()
    recorder = Recorder()
    wire(module, "db2", recorder, in_run={"db2": FakeHost("db2", None), "bak1": FakeHost("bak1", None)})
    module.new_key["db2"] = True
    drill = GROUPS["drill_hosts"]
    with pytest.raises(SystemExit) as stopped:
        module.offsite(values_for("backup_client", "db2"))
    assert stopped.value.code == 2
    err = capsys.readouterr().err
    assert f"the keys of {', '.join(drill)} were not read in this run" in err
    assert "--limit '" + ",".join(["db2", "bak1", *drill]) + "'" in err


# --- controls and data -----------------------------------------------------------------------------------------------

def deploy_ids(path: Path) -> set[str]:
    """Control IDs in the operation names the file writes (name=... literals)."""
    text = path.read_text(encoding="utf-8")
    return {i for literal in re.findall(r'name=f?"([^"]*)"', text) + re.findall(r'\("([A-Z]{2}-\d{2} \|[^"]*)"', text)
            for i in IDS.findall(literal)}


def test_every_control_of_the_roles_in_the_deploys():
    assert role_tags(ROLES / "backup_client") | role_tags(ROLES / "backup_store") <= deploy_ids(BACKUP)
    assert role_tags(ROLES / "restore_drill") <= deploy_ids(DRILL)


@pytest.mark.parametrize("role, variable, task_file", [
    ("backup_client", "backup_client_scripts", "offsite.yml"),
    ("backup_client", "backup_client_postgresql_packages", "postgresql.yml"),
    ("backup_client", "backup_client_postgresql_data", "postgresql.yml"),
    ("backup_client", "backup_client_postgresql_archiving_conf", "postgresql.yml"),
    ("backup_client", "backup_client_postgresql_service", "../handlers/main.yml"),
    ("backup_client", "backup_client_mariadb_packages", "mariadb.yml"),
    ("backup_client", "backup_client_mariadb_privileges", "mariadb.yml"),
    ("backup_store", "backup_store_packages", "main.yml"),
    ("restore_drill", "restore_drill_secret_files", "setup.yml"),
    ("restore_drill", "restore_drill_scripts", "setup.yml"),
])
def test_moved_data_read_by_both_engines(role, variable, task_file):
    data = yaml.safe_load((ROLES / role / "vars" / "main.yml").read_text(encoding="utf-8"))
    assert variable in data
    assert "{{ " + variable + " }}" in (ROLES / role / "tasks" / task_file).read_text(encoding="utf-8")
    deploy = DRILL if role == "restore_drill" else BACKUP
    text = deploy.read_text(encoding="utf-8")
    assert f'"{variable}"' in text or f"'{variable}'" in text


def test_restore_drill_files_are_what_ansible_writes():
    module = load(DRILL, "baseline_pyinfra_restore_drill_helpers")
    recorder = Recorder()
    values = lab_values("restore_drill", "drill1", groups=GROUPS, hostvars={"bak1": {"ansible_host": "10.231.0.16"}},
                        role_path=str(ROLES / "restore_drill"), playbook_dir=str(REPO_ROOT / "playbooks"), **SECRETS)
    module.apt, module.files, module.python = (recorder.module(k) for k in ("apt", "files", "python"))
    module.deploy = SimpleNamespace(refresh_package_index=lambda: None, render=real_deploy.render)
    module.helpers.packages_missing = list
    module.helpers.server = recorder.module("server")
    module.helpers.deploy = SimpleNamespace(
        differs=lambda item: True, Managed=real_deploy.Managed,
        put_secret=lambda name, content, dest, **kw: module.helpers.server.shell(
            name=name, commands=[real_deploy.secret_command(content, dest, **kw)[0]],
            _stdin=real_deploy.secret_command(content, dest, **kw)[1]))
    module.store_host_key = lambda store: " ".join(STORE_KEY.split()[:2])
    module.setup(values)
    module.drills(values)
    expected = ansible_files("restore_drill", ["setup.yml"], {**values, "restore_drill_hostkey": {
        "content": __import__("base64").b64encode(STORE_KEY.encode()).decode()}})
    found = deploy_files(recorder)
    assert found == expected
    assert not [op for op in recorder.ops if "Pass2024x" in " ".join(op.get("commands", [])) + op["name"]]
    drills = [op for op in recorder.ops if op["op"] == "python.call"]
    assert [(op["engine"], op["source"]) for op in drills] == [("postgresql", "db1"), ("mariadb", "db2")]


class ExecHost:
    """A host while the run executes: its backup key (None: unreadable), commands run and files put."""

    def __init__(self, key: str | None = None) -> None:
        self.key, self.commands, self.files = key, [], {}

    def run_shell_command(self, command: str, **kwargs):
        self.commands.append(command)
        if command.startswith("cat "):
            return (self.key is not None, SimpleNamespace(stdout=(self.key or "") + "\n", stderr=""))
        return (True, SimpleNamespace(stdout="", stderr=""))

    def put_file(self, src, dest: str, **kwargs) -> bool:
        self.files[dest] = src.getvalue()
        return True


def run_authorized_keys(keys: dict[str, str | None]) -> ExecHost:
    module = backup_module()
    wire(module, "bak1", Recorder(), in_run={})
    store = ExecHost()
    hosts = {name: ExecHost(key) for name, key in keys.items()}
    module.host, module.run_hosts = store, lambda: hosts
    module._write_authorized_keys(["db2", "log1"], ["drill1"], "internal-sftp", "/srv/backup")
    return store


def test_keys_made_in_the_run_are_authorised_when_the_operation_runs():
    keys = {"db2": public_key("baseline-backup@db2", 1), "log1": public_key("baseline-backup@log1", 2),
            "drill1": public_key("baseline-backup@drill1", 3)}
    store = run_authorized_keys(keys)
    stage = f"{real_deploy.STAGE_DIR}/authorized_keys.db2"
    assert store.files[stage] == (f'restrict,command="internal-sftp" {keys["db2"]}\n'
                                  f'restrict,command="internal-sftp -R" {keys["drill1"]}\n')
    assert any(c.endswith(f"install -o bk-db2 -g bk-db2 -m 600 {stage} /srv/backup/db2/.ssh/authorized_keys; "
                          f"rm -f {stage}") for c in store.commands)


def test_a_key_that_cannot_be_read_leaves_the_files_that_need_it():
    keys = {"db2": None, "log1": public_key("baseline-backup@log1", 2), "drill1": public_key("baseline-backup@d", 3)}
    assert sorted(run_authorized_keys(keys).files) == [f"{real_deploy.STAGE_DIR}/authorized_keys.log1"]
    assert run_authorized_keys({**keys, "db2": keys["log1"], "drill1": None}).files == {}
