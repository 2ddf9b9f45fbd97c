"""The pyinfra deploy of roles/logserver (playbooks/pyinfra/logserver.py) without hosts: every control ID of the role
in its operation names, the files Ansible writes (bytes, owner, group, mode) for the lab's log server with and
without network devices, the data moved into the role's vars read by both engines, the unit files validated as the
role validates them, and nothing to change on an applied log server."""

from __future__ import annotations

import subprocess
from typing import Any

import pytest
from test_pyinfra_audit import ansible_files, ansible_values, named_ids, role_tags, role_tasks, run_deploy

from baseline import REPO_ROOT

ROLE = REPO_ROOT / "roles" / "logserver"
SERVER_CONF = "/etc/rsyslog.d/10-baseline-server.conf"


def applied_state(values: dict[str, Any]) -> dict[str, Any]:
    state: dict[str, Any] = {path: False for path in ansible_files(ROLE, ["main.yml"], values)}
    state.update({"applied": True, "packages": list(values["logserver_packages"]),
                  "unit:rsyslog.service": "enabled=enabled active=active",
                  "unit:baseline-logspace.timer": "enabled=enabled active=active"})
    return state


def test_every_control_id_of_the_role_is_in_the_operation_names(monkeypatch):
    _, recorder = run_deploy("logserver", "log1", monkeypatch)
    assert role_tags(ROLE) == {"AU-03", "AU-04", "IN-01", "CF-01", "NW-05"}
    assert named_ids(recorder.names) == role_tags(ROLE)


def test_only_log_servers_are_targeted(monkeypatch):
    _, recorder = run_deploy("logserver", "app1", monkeypatch)
    assert recorder.ops == []


@pytest.mark.parametrize("networks", [None, []])
def test_files_are_those_ansible_writes(monkeypatch, networks):
    extra = {} if networks is None else {"device_management_networks": networks}
    _, recorder = run_deploy("logserver", "log1", monkeypatch, **extra)
    values = ansible_values("logserver", "log1", **extra)
    wanted = ansible_files(ROLE, ["main.yml"], values)
    assert len(wanted) == 5
    assert not [path for path, found in wanted.items() if "{{" in found[0]], "a value was left unresolved"
    from test_pyinfra_audit import deploy_files

    assert deploy_files(recorder) == wanted
    devices = "imudp" in wanted[SERVER_CONF][0]
    assert devices is (networks is None)
    nw05 = [name for name in recorder.names if name.startswith("NW-05")]
    assert bool(nw05) is devices
    directories = {op["path"]: (op["user"], op["group"], op["mode"]) for op in recorder.ops
                   if op["op"] == "files.directory"}
    expected = {values["logserver_dir"]: ("root", "adm", "750")}
    if devices:
        expected[values["logserver_device_dir"]] = ("root", "adm", "750")
    assert directories == expected


def test_configuration_and_units_are_validated_as_the_role_validates_them(monkeypatch):
    _, recorder = run_deploy("logserver", "log1", monkeypatch)
    installs = [op for op in recorder.ops if op["op"] == "deploy.install"]
    validations = {item.path: item.validate for op in installs for item in op["items"]}
    assert validations[SERVER_CONF] == "rsyslogd -N1 -f {path}"
    task = next(t for t in role_tasks(ROLE, "main.yml") if t.get("loop") == "{{ logserver_space_unit_files }}")
    role_validate = " ".join(task["ansible.builtin.template"]["validate"].split())
    for unit in ("baseline-logspace.service", "baseline-logspace.timer"):
        ours = validations[f"/etc/systemd/system/{unit}"]
        assert ours.format(path="%s") == role_validate.replace("{{ item }}", unit)


def test_unit_validation_refuses_a_broken_unit_and_accepts_the_rendered_one(monkeypatch, tmp_path):
    if subprocess.run(["sh", "-c", "command -v systemd-analyze"], capture_output=True, check=False).returncode:
        pytest.skip("systemd-analyze is not installed here")
    _, recorder = run_deploy("logserver", "log1", monkeypatch)
    units = [item for op in recorder.ops if op["op"] == "deploy.install" for item in op["items"]
             if item.path.endswith(".timer")]
    good = tmp_path / "good"
    good.write_text(units[0].content)
    bad = tmp_path / "bad"
    bad.write_text(units[0].content.replace("OnCalendar=", "OnCalendar=not-a-time "))
    ok = subprocess.run(["sh", "-c", units[0].validate.format(path=str(good))], capture_output=True, check=False)
    refused = subprocess.run(["sh", "-c", units[0].validate.format(path=str(bad))], capture_output=True, check=False)
    assert (ok.returncode, refused.returncode != 0) == (0, True), ok.stderr


def test_moved_data_is_read_by_both_engines(monkeypatch):
    values = ansible_values("logserver", "log1")
    text = (ROLE / "tasks" / "main.yml").read_text(encoding="utf-8")
    assert "{{ logserver_packages }}" in text and "{{ logserver_space_unit_files }}" in text
    _, recorder = run_deploy("logserver", "log1", monkeypatch)
    assert [op["packages"] for op in recorder.ops if op["op"] == "apt.packages"] == [values["logserver_packages"]]
    units = [item.path for op in recorder.ops if op["op"] == "deploy.install" for item in op["items"]
             if item.path.startswith("/etc/systemd/system/")]
    assert units == [f"/etc/systemd/system/{unit}" for unit in values["logserver_space_unit_files"]]


def test_an_applied_log_server_gets_no_changing_operation(monkeypatch):
    values = ansible_values("logserver", "log1")
    _, recorder = run_deploy("logserver", "log1", monkeypatch, applied_state(values))
    assert recorder.changing() == []
    assert all(op["update"] is False for op in recorder.ops if op["op"] == "apt.packages")


def test_a_changed_configuration_restarts_rsyslog_then_checks_the_device_listeners(monkeypatch):
    values = ansible_values("logserver", "log1")
    state = {**applied_state(values), SERVER_CONF: True}
    _, recorder = run_deploy("logserver", "log1", monkeypatch, state)
    assert recorder.changing() == [
        "AU-03 | Install rsyslog reception: TLS only from servers (IN-01, CF-01), plain syslog from the device "
        "management networks (NW-05), per host",
        "AU-03 | Restart rsyslog (apply a changed configuration before the clients connect)",
        "NW-05 | rsyslog listens for network devices on UDP and TCP 514"]
    check = recorder.ops[-1]["commands"][0]
    assert "ss -Hltun sport = :514" in check and "'tcp udp '" in check


def test_changed_units_reload_systemd_before_the_timer_is_enabled(monkeypatch):
    values = ansible_values("logserver", "log1")
    state = {**applied_state(values), "/etc/systemd/system/baseline-logspace.timer": True}
    _, recorder = run_deploy("logserver", "log1", monkeypatch, state)
    timer = next(op for op in recorder.ops if op["name"].startswith("AU-03 | Run the space check regularly"))
    assert timer["commands"] == ["systemctl daemon-reload"]


def test_the_packages_come_without_recommends_as_the_roles_install(monkeypatch):
    """cron, in the log server's packages, recommends a mail transport agent (exim4): test_package_recommends.py."""
    _, recorder = run_deploy("logserver", "log1", monkeypatch)
    installs = [op for op in recorder.ops if op["op"] == "apt.packages"]
    assert installs and all(op["no_recommends"] for op in installs)
