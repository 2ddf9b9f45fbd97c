"""The pyinfra deploy of roles/management (playbooks/pyinfra/management.py) without hosts, against the recorder of
test_pyinfra_audit.py: only the management hosts are targeted, every operation name starts with a control ID of the
role, the files it writes are those Ansible's tasks write (rendered by Ansible's templating), the automation key and
the vault password go through the secret path (standard input) and never into an upload or a command, and a host
where everything is applied gets no changing operation."""

from __future__ import annotations

import hashlib
import shlex
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import test_pyinfra_audit as audit
from test_pyinfra_audit import Recorder, ansible_values, deploy_files, named_ids, role_tags, run_deploy

from baseline import REPO_ROOT, templates
from baseline import pyinfra_deploy as real_deploy

ROLE = REPO_ROOT / "roles" / "management"
SSH_HOSTS = [["app1", "10.231.0.11"], ["mgmt1", "10.231.0.21"]]
PASSWORD = "Vault-pw#for+tests_42"  # noqa: S105 - a throw-away value of the test
KEY = "-----BEGIN OPENSSH PRIVATE KEY-----\nthrow-away test key\n-----END OPENSSH PRIVATE KEY-----\n"


class ManagementRecorder(Recorder):
    """The shared recorder with the operations and facts this deploy uses besides the others'."""

    def __init__(self, state: dict[str, Any]) -> None:
        super().__init__(state)
        self.secrets: list[dict[str, Any]] = []

    def module(self, kind: str) -> SimpleNamespace:
        found = super().module(kind)
        for op in ("link", "user"):
            def record(op=op, **kwargs):
                self.ops.append({"op": f"{kind}.{op}", **kwargs})
            setattr(found, op, record)
        return found

    def get_fact(self, fact: Any, **kwargs: Any) -> Any:
        kind = fact.__name__
        if kind == "Sha256File":
            return self.state.get(f"sha:{kwargs['path']}")
        if kind == "Command" and " pip install " in kwargs["command"]:
            return self.state.get("pip", "Would install x-1.0")
        return super().get_fact(fact, **kwargs)


@pytest.fixture()
def site(tmp_path: Path) -> dict[str, Any]:
    """The controller's side: wheelhouse, key, known_hosts, vault password program, an inventory."""
    wheels = tmp_path / "wheelhouse"
    wheels.mkdir()
    (wheels / "x-1.0-py3-none-any.whl").write_bytes(b"PK\x03\x04 wheel bytes")
    key = tmp_path / "id_ed25519"
    key.write_text(KEY)
    known = tmp_path / "known_hosts"
    known.write_text("app1,10.231.0.11 ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAItest\n")
    program = tmp_path / "vault-password"
    program.write_text(f"#!/bin/sh\nprintf '%s\\n' {shlex.quote(PASSWORD)}\n")
    program.chmod(0o755)
    inv = tmp_path / "inventory"
    (inv / "group_vars" / "all").mkdir(parents=True)
    (inv / "hosts.yml").write_text("all:\n  hosts:\n    mgmt1: {ansible_host: 10.231.0.21}\n")
    (inv / "group_vars" / "all" / "site.yml").write_text("site: 1\n")
    (inv / "ssh_config").write_text("Host *\n")
    return {"management_wheelhouse": str(wheels), "ansible_ssh_private_key_file": str(key),
            "management_known_hosts_file": str(known), "management_vault_password_command": str(program),
            "management_inventory_source": str(inv), "ansible_user": "automation"}


def deploy(monkeypatch, site: dict[str, Any], host: str = "mgmt1", state: dict[str, Any] | None = None):
    monkeypatch.setitem(audit.LAB_HOSTS, "mgmt1", ("10.231.0.21", "container", ["linux_servers", "management_hosts"]))
    recorder = ManagementRecorder(state or {})
    monkeypatch.setattr(audit, "Recorder", lambda state: recorder)
    monkeypatch.setattr(real_deploy, "inventory_dir", lambda: Path(site["management_inventory_source"]))
    monkeypatch.setattr(real_deploy, "directory", lambda operation, path, **kw: recorder.ops.append(
        {"op": "files.directory", "name": operation, "path": path, **kw}))
    monkeypatch.setattr(real_deploy, "put_secret", lambda operation, content, dest, **kw: recorder.secrets.append(
        {"name": operation, "content": content, "dest": dest, **kw}) or recorder.ops.append(
        {"op": "deploy.put_secret", "name": operation, "dest": dest}))
    from test_pyinfra_audit import load_deploy

    module = load_deploy("management", monkeypatch)
    monkeypatch.setattr(module, "ssh_hosts", lambda inv_dir, pattern: SSH_HOSTS)
    monkeypatch.setattr(audit, "load_deploy", lambda name, mp: module)
    _, found = run_deploy("management", host, monkeypatch, state, **site)
    return module, found


def test_only_management_hosts_are_targeted(monkeypatch, site):
    _, recorder = deploy(monkeypatch, site, host="app1")
    assert recorder.ops == []


def test_every_operation_names_a_control_of_the_role(monkeypatch, site):
    _, recorder = deploy(monkeypatch, site)
    assert role_tags(ROLE) == {"OP-01", "CM-01"}
    assert named_ids(recorder.names) <= role_tags(ROLE) and "OP-01" in named_ids(recorder.names)


def test_files_are_those_ansible_writes(monkeypatch, site):
    _, recorder = deploy(monkeypatch, site)
    values = {**ansible_values("management", "mgmt1", **site), "management_ssh_hosts": SSH_HOSTS}
    files = deploy_files(recorder)
    for name, dest, mode, group in (
            ("requirements.txt.j2", "/opt/baseline/requirements.txt", 0o644, "root"),
            ("baseline-scheduled.sh.j2", "/opt/baseline/bin/baseline-scheduled", 0o755, "root"),
            ("ssh_config.j2", "/etc/baseline-management/ssh_config", 0o640, "baseline")):
        wanted = templates.render_with_ansible(ROLE / "templates" / name, values)
        assert files[dest] == (wanted, mode, "root", group), dest
    for unit in ("baseline-inspect.service", "baseline-inspect.timer", "baseline-verify.service", "baseline-verify.timer"):
        wanted = templates.render_with_ansible(ROLE / "templates" / f"{unit}.j2", values)
        assert files[f"/etc/systemd/system/{unit}"] == (wanted, 0o644, "root", "root"), unit
    assert files["/etc/baseline-management/inventory/hosts.yml"][1:] == (0o640, "root", "baseline")
    assert "/etc/baseline-management/inventory/group_vars/all/site.yml" in files
    assert "/etc/baseline-management/inventory/ssh_config" not in files  # YAML inventory files only
    puts = {op["dest"]: op for op in recorder.ops if op["op"] == "files.put"}
    assert "/opt/baseline/project.tar" in puts and "/opt/baseline/wheelhouse/x-1.0-py3-none-any.whl" in puts
    links = {op["path"]: op["target"] for op in recorder.ops if op["op"] == "files.link"}
    assert links == {f"/opt/baseline/{n}": f"/var/lib/baseline-management/{n}" for n in ("results", "reports", "changes")}
    shells = " ".join(" ".join(op["commands"]) for op in recorder.ops if op["op"] == "server.shell")
    assert "--no-index --find-links /opt/baseline/wheelhouse" in shells and "python3 -m venv /opt/baseline/venv" in shells


def test_the_key_and_the_vault_password_go_the_secret_way_only(monkeypatch, site):
    _, recorder = deploy(monkeypatch, site)
    secrets = {s["dest"]: s for s in recorder.secrets}
    assert secrets["/var/lib/baseline-management/.ssh/id_ed25519"]["content"] == KEY
    assert secrets["/var/lib/baseline-management/.ssh/id_ed25519"]["mode"] == "600"
    assert secrets["/var/lib/baseline-management/.ssh/id_ed25519"]["user"] == "baseline"
    assert secrets["/etc/baseline-management/vault-password"]["content"] == PASSWORD + "\n"
    assert secrets["/etc/baseline-management/vault-password"]["mode"] == "400"
    for path, (content, *_rest) in deploy_files(recorder).items():
        if isinstance(content, bytes):  # a wheel
            continue
        assert PASSWORD not in content and "throw-away test key" not in content, path
    for op in recorder.ops:
        assert PASSWORD not in repr({k: v for k, v in op.items() if k != "items"}), op.get("name")


def test_a_wrong_wheelhouse_is_refused_before_any_operation(monkeypatch, site, tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(SystemExit) as stop:
        deploy(monkeypatch, {**site, "management_wheelhouse": str(empty)})
    assert stop.value.code == real_deploy.EXIT_REFUSED


def test_an_applied_host_gets_no_changing_operation(monkeypatch, site):
    module, fresh = deploy(monkeypatch, site)
    archive = next(op for op in fresh.ops if op["op"] == "files.put" and op["dest"] == "/opt/baseline/project.tar")
    wheel = Path(site["management_wheelhouse"]) / "x-1.0-py3-none-any.whl"
    monkeypatch.undo()
    state: dict[str, Any] = {path: False for path in deploy_files(fresh)}
    state.update({
        "applied": True, "packages": ["python3-venv", "openssh-client"], "pip": "",
        "sha:/opt/baseline/project.tar": hashlib.sha256(Path(archive["src"]).read_bytes()).hexdigest(),
        "file:/opt/baseline/venv/bin/python": {"mode": 755, "user": "root", "group": "root"},
        "file:/opt/baseline/baseline/cli.py": {"mode": 644, "user": "root", "group": "root"},
        "file:/opt/baseline/wheelhouse/x-1.0-py3-none-any.whl": {"mode": 644, "user": "root", "group": "root"},
        "sha:/opt/baseline/wheelhouse/x-1.0-py3-none-any.whl": hashlib.sha256(wheel.read_bytes()).hexdigest(),
        "/var/lib/baseline-management/.ssh/id_ed25519": False, "/etc/baseline-management/vault-password": False,
        "unit:baseline-inspect.timer": "enabled=enabled active=active",
        "unit:baseline-verify.timer": "enabled=enabled active=active"})
    _, recorder = deploy(monkeypatch, site, state=state)
    changing = [name for name in recorder.changing()
                if not any(op["name"] == name and op["op"] in ("files.link", "server.user") for op in recorder.ops)]
    assert changing == []
    assert recorder.secrets == []
