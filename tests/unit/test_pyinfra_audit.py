"""The pyinfra deploy of roles/audit (playbooks/pyinfra/audit.py, log_permissions.py) without hosts: run against a
recorder standing for pyinfra's operations, with the host's state given as facts, it must carry every control ID of
the role, install the files Ansible's tasks write (bytes, owner, group, mode, rendered by Ansible's own templating
for the lab's values), read the data moved into the role's vars, edit auditd.conf exactly as Ansible's lineinfile
does, and have nothing to change on a host where everything is applied.

The helpers here are shared with test_pyinfra_logserver.py and test_pyinfra_pki.py."""

from __future__ import annotations

import importlib.util
import json
import re
import shlex
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import yaml

from baseline import REPO_ROOT, templates
from baseline import pyinfra_deploy as real_deploy

DEPLOYS = REPO_ROOT / "playbooks" / "pyinfra"
ROLE = REPO_ROOT / "roles" / "audit"
CONTROL = re.compile(r"\b([A-Z]{2}-\d{2})\b")
LAB_HOSTS = {  # the lab's hosts as scripts/lab writes them into its inventory
    "app1": ("10.231.0.11", "container", ["linux_servers", "app_servers", "backup_clients"]),
    "log1": ("10.231.0.14", "container", ["linux_servers", "log_servers", "backup_clients"]),
    "kern1": ("10.231.0.20", "vm", ["linux_servers", "kernel_hosts"]),
}


# --- shared helpers ----------------------------------------------------------------------------------------------------

def lab_host_vars(host: str, **extra: Any) -> dict[str, Any]:
    """What deploy.host_vars() gives for a lab host: the shared inventory (it holds no secret), the host's own
    variables, and the names Ansible gives every play."""
    found: dict[str, Any] = {}
    for path in sorted((REPO_ROOT / "inventory" / "group_vars" / "all").glob("*.yml")):
        found.update(yaml.safe_load(path.read_text(encoding="utf-8")) or {})
    address, kind, names = LAB_HOSTS[host]
    groups: dict[str, list[str]] = {"all": sorted(LAB_HOSTS)}
    for name, (_, _, member_of) in LAB_HOSTS.items():
        for group in member_of:
            groups.setdefault(group, []).append(name)
    found.update({"ansible_host": address, "host_kind": kind, "inventory_hostname": host,
                  "inventory_hostname_short": host, "groups": groups, "group_names": sorted(names), **extra})
    return found


def ansible_values(role: str, host: str, **extra: Any) -> dict[str, Any]:
    """The role's values as Ansible has them in a play on `host`: defaults < inventory < role vars, every expression
    resolved by Ansible's templating (independent of the deploy's own resolution)."""
    from ansible.parsing.dataloader import DataLoader
    from ansible.template import Templar, trust_as_template

    from baseline.inventory import _plain

    merged: dict[str, Any] = {}
    for kind in ("defaults", "vars"):
        if kind == "vars":
            merged.update(lab_host_vars(host, **extra))
        path = REPO_ROOT / "roles" / role / kind / "main.yml"
        if path.exists():
            merged.update(yaml.safe_load(path.read_text(encoding="utf-8")) or {})

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
    resolved = {}
    for key, value in trusted.items():
        try:
            resolved[key] = _plain(templar.template(value))
        except Exception:  # noqa: BLE001, S112 - e.g. pki_dir needs playbook_dir, given by a play only
            continue
    return resolved


def load_deploy(name: str, monkeypatch) -> Any:
    """playbooks/pyinfra/NAME.py as a module, its module-level run gated off (no host is targeted)."""
    monkeypatch.setattr(real_deploy, "check_preflight", lambda: None)
    monkeypatch.setattr(real_deploy, "targets", lambda pattern: False)
    monkeypatch.setattr(real_deploy, "finish", lambda: None)
    path = DEPLOYS / f"{name}.py"
    spec = importlib.util.spec_from_file_location(f"deploy_{name}", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, spec.name, module)
    spec.loader.exec_module(module)
    return module


class Recorder:
    """Stands for pyinfra's operation modules and the host's facts: every call is one operation, kept with its
    arguments; `state` holds the host as the prepare would read it (paths that differ, packages, units, ...)."""

    def __init__(self, state: dict[str, Any]) -> None:
        self.ops: list[dict[str, Any]] = []
        self.state = state

    def module(self, kind: str) -> SimpleNamespace:
        def make(op: str):
            def record(**kwargs):
                self.ops.append({"op": f"{kind}.{op}", **kwargs})
                return SimpleNamespace(did_change=lambda: True)
            return record
        return SimpleNamespace(**{op: make(op) for op in ("put", "directory", "file", "shell", "packages", "call",
                                                           "service", "template")})

    def differs(self, item: Any) -> bool:
        return bool(self.state.get(item.path, True))

    def install(self, control: str, change: str, items: list, *, then=(), guard: bool = False) -> bool:
        if not any(self.differs(item) for item in items):
            return False
        self.ops.append({"op": "deploy.install", "name": f"{control} | Install {change}", "items": list(items),
                         "then": list(then), "guard": guard})
        return True

    def get_fact(self, fact: Any, **kwargs: Any) -> Any:
        kind = fact.__name__
        if kind == "DebPackages":
            return {name: ["1"] for name in self.state.get("packages", [])}
        if kind == "File":
            return self.state.get(f"file:{kwargs['path']}", False)
        if kind == "Command":
            command = kwargs["command"]
            unit = re.search(r"is-enabled (\S+)", command)
            if unit:
                return self.state.get(f"unit:{unit.group(1)}", "enabled= active=")
            if command.startswith("python3 -c"):
                path = shlex.split(command)[4]
                return self.state.get(f"lineinfile:{path}", "yes")
            if command.startswith("find /var/log"):
                return self.state.get("logs", "")
        raise AssertionError(f"unexpected fact {kind} {kwargs}")

    @property
    def names(self) -> list[str]:
        return [op["name"] for op in self.ops]

    def changing(self) -> list[str]:
        """Names of operations that change something: every recorded one except those pyinfra itself reports as
        unchanged where the state is already right (files.put / directory / file with the state as wanted)."""
        present = set(self.state.get("packages", []))
        return [op["name"] for op in self.ops
                if not (op["op"] == "files.put" and not self.state.get(op["dest"], True))
                and not (op["op"] in ("files.directory", "files.file") and self.state.get("applied"))
                and not (op["op"] == "apt.packages" and set(op["packages"]) <= present)]


def run_deploy(name: str, host: str, monkeypatch, state: dict[str, Any] | None = None,
               data: dict[str, Any] | None = None, **host_extra: Any) -> tuple[Any, Recorder]:
    """The deploy NAME for lab host `host`, against a fresh host or the given `state`; `data` is pyinfra's host
    data (what an including deploy passes), `host_extra` inventory variables of the host."""
    module = load_deploy(name, monkeypatch)
    recorder = Recorder(state or {})
    monkeypatch.setattr(real_deploy, "host_vars", lambda: lab_host_vars(host, **host_extra))
    monkeypatch.setattr(real_deploy, "targets",
                        lambda pattern: host in _pattern_hosts(pattern, lab_host_vars(host)["groups"]))
    monkeypatch.setattr(real_deploy, "differs", recorder.differs)
    monkeypatch.setattr(real_deploy, "install", recorder.install)
    monkeypatch.setattr(real_deploy, "name", lambda: host)
    monkeypatch.setattr(module, "host", SimpleNamespace(get_fact=recorder.get_fact, name=host,
                                                       data=data or {}))
    for kind in ("files", "server", "apt", "python"):
        if hasattr(module, kind):
            monkeypatch.setattr(module, kind, recorder.module(kind))
    module.main()
    return module, recorder


def _pattern_hosts(pattern: str, groups: dict[str, list[str]]) -> set[str]:
    """Ansible's host pattern of the plays (a:b union, :!x minus, :&x intersection) over the lab's groups."""
    found: set[str] = set()
    for part in pattern.split(":"):
        if part.startswith("!"):
            found -= set(groups.get(part[1:], []))
        elif part.startswith("&"):
            found &= set(groups.get(part[1:], []))
        else:
            found |= set(groups.get(part, [part] if part in groups["all"] else []))
    return found


def role_tags(role: Path) -> set[str]:
    """Every control ID the role's tasks and handlers are tagged with."""
    found: set[str] = set()

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            for tag in node.get("tags") or []:
                if re.fullmatch(r"[A-Z]{2}-\d{2}", str(tag)):
                    found.add(str(tag))
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    for path in sorted((role / "tasks").glob("*.yml")) + sorted((role / "handlers").glob("*.yml")):
        walk(yaml.safe_load(path.read_text(encoding="utf-8")))
    return found


def named_ids(names: list[str]) -> set[str]:
    """Control IDs in the operation names; every name must begin with one."""
    found: set[str] = set()
    for name in names:
        assert re.match(r"^[A-Z]{2}-\d{2} \| ", name), f"operation name without a leading control ID: {name!r}"
        found.update(CONTROL.findall(name))
    return found


def role_tasks(role: Path, name: str) -> list[dict[str, Any]]:
    """The tasks of a task file, blocks flattened."""
    found = []
    for task in yaml.safe_load((role / "tasks" / name).read_text(encoding="utf-8")):
        found.extend(task["block"] if "block" in task else [task])
    return found


def ansible_files(role: Path, task_files: list[str], values: dict[str, Any]) -> dict[str, tuple[str, int, str, str]]:
    """path -> (bytes, mode, owner, group) of every template and copy task of the task files, as Ansible writes."""
    from ansible.parsing.dataloader import DataLoader
    from ansible.template import Templar, trust_as_template

    def expand(text: Any, scope: dict[str, Any]) -> Any:
        return Templar(loader=DataLoader(), variables=scope).template(trust_as_template(str(text)))

    found = {}
    for task_file in task_files:
        for task in role_tasks(role, task_file):
            module = next((k for k in task if k in ("ansible.builtin.template", "ansible.builtin.copy")), None)
            if not module:
                continue
            args = task[module]
            when = task.get("when")
            if when is not None and str(expand("{{ " + str(when) + " }}", values)) != "True":
                continue
            loop = task.get("loop", [None])
            items = expand(loop, values) if isinstance(loop, str) else loop
            for item in items:
                scope = {**values, "item": item}
                dest, src = expand(args["dest"], scope), expand(args["src"], scope)
                if module.endswith("template"):
                    content = templates.render_with_ansible(role / "templates" / src, scope)
                else:
                    content = (role / "files" / src).read_text(encoding="utf-8")
                found[dest] = (content, int(str(expand(args["mode"], scope)), 8), str(expand(args["owner"], scope)),
                               str(expand(args["group"], scope)))
    return found


def deploy_files(recorder: Recorder) -> dict[str, tuple[str, int, str, str]]:
    """path -> (bytes, mode, owner, group) of every file the recorded deploy installs."""
    found = {}
    for op in recorder.ops:
        if op["op"] == "files.put":
            src = op["src"]
            content = src.getvalue() if hasattr(src, "getvalue") else Path(src).read_text(encoding="utf-8")
            found[op["dest"]] = (content, int(str(op["mode"]), 8), op["user"], op["group"])
        if op["op"] == "deploy.install":
            for item in op["items"]:
                found[item.path] = (item.content, int(item.mode, 8), item.user, item.group)
    return found


# --- the audit deploy --------------------------------------------------------------------------------------------------

def run_audit(monkeypatch, host: str, state: dict[str, Any] | None = None) -> tuple[Recorder, list[str]]:
    """The audit deploy for `host`; also which deploy files it runs in its course (log_permissions)."""
    included: list[str] = []
    def run_path(path, *args, **kwargs):
        assert kwargs.get("run_name") == "log_permissions_in_audit"
        included.append(Path(path).name)
        return {"main": lambda: None}

    monkeypatch.setattr("runpy.run_path", run_path)
    _, recorder = run_deploy("audit", host, monkeypatch, state)
    monkeypatch.undo()
    return recorder, included


def test_every_control_id_of_the_role_is_in_the_operation_names(monkeypatch):
    container, _ = run_audit(monkeypatch, "app1")
    kernel, _ = run_audit(monkeypatch, "kern1")
    assert role_tags(ROLE) == {"AU-01", "AU-02", "AU-03", "AU-04", "AU-05", "IN-01", "CF-01"}
    assert named_ids(container.names + kernel.names) == role_tags(ROLE)


def test_container_host_files_are_those_ansible_writes(monkeypatch):
    recorder, included = run_audit(monkeypatch, "app1")
    wanted = ansible_files(ROLE, ["time.yml", "local_logs.yml", "forwarding.yml"], ansible_values("audit", "app1"))
    assert len(wanted) == 8
    assert not [path for path, found in wanted.items() if "{{" in found[0]], "a value was left unresolved"
    assert deploy_files(recorder) == wanted
    assert "target=\"10.231.0.14\"" in wanted["/etc/rsyslog.d/50-baseline-forward.conf"][0]
    assert included == ["log_permissions.py"]
    assert not [name for name in recorder.names if name.startswith(("AU-01", "AU-05"))], "auditd in a container"


def test_kernel_host_gets_the_kernel_part_only_with_ansibles_files(monkeypatch):
    recorder, included = run_audit(monkeypatch, "kern1")
    values = ansible_values("audit", "kern1", audit_kernel_only=True)
    wanted = ansible_files(ROLE, ["auditd.yml", "time.yml"], values)
    assert set(wanted) == {"/etc/audit/rules.d/50-baseline.rules", "/etc/systemd/system/auditd.service.d/50-baseline.conf",
                           "/etc/chrony/chrony.conf"}
    assert deploy_files(recorder) == wanted
    assert "server 10.231.0.14 iburst minpoll 4 maxpoll 6 maxdelay 0.5\n" in wanted["/etc/chrony/chrony.conf"][0]
    assert included == []
    assert not [n for n in recorder.names if n.startswith(("AU-03 | Install rsyslog", "AU-04"))]
    packages = [op for op in recorder.ops if op["op"] == "apt.packages"]
    assert [op["packages"] for op in packages] == [values["audit_auditd_packages"], values["audit_time_packages"]]
    assert values["audit_auditd_packages"] == ["auditd", "audispd-plugins"]
    assert "systemctl start chrony.service" in next(op for op in recorder.ops if op["name"].startswith(
        "AU-02 | chrony enabled"))["commands"]
    shells = [op["name"] for op in recorder.ops if op["op"] == "server.shell"]
    assert shells[-3:] == ["AU-01 | Load audit rules", "AU-05 | Restart auditd", "AU-02 | Restart chrony"]


def test_the_log_server_does_not_forward_to_itself_and_serves_time(monkeypatch):
    recorder, _ = run_audit(monkeypatch, "log1")
    files = deploy_files(recorder)
    assert "/etc/rsyslog.d/50-baseline-forward.conf" not in files
    assert "local stratum 8" in files["/etc/chrony/chrony.conf"][0]
    # a container that serves time: chronyd runs with -x (serves the clock, never sets it)
    assert "ExecStart=!/usr/sbin/chronyd $DAEMON_OPTS -x" in files[
        "/etc/systemd/system/chrony.service.d/50-baseline-serve-only.conf"][0]
    assert files == ansible_files(ROLE, ["time.yml", "local_logs.yml"], ansible_values("audit", "log1"))
    started = next(op for op in recorder.ops if op["name"].startswith("AU-02 | chrony enabled"))
    assert started["commands"][0] == "systemctl daemon-reload" and "systemctl start chrony.service" in started["commands"]


def test_moved_data_is_read_by_both_engines(monkeypatch):
    values = ansible_values("audit", "app1")
    tasks_text = "".join(p.read_text(encoding="utf-8") for p in (ROLE / "tasks").glob("*.yml"))
    for key in ("audit_auditd_packages", "audit_time_packages", "audit_local_log_packages",
                "audit_forwarding_packages", "audit_auditd_settings", "audit_login_record_logs"):
        assert f"{{{{ {key} }}}}" in tasks_text, f"the Ansible tasks do not read {key}"
    recorder, _ = run_audit(monkeypatch, "app1")
    packages = [op["packages"] for op in recorder.ops if op["op"] == "apt.packages"]
    assert packages == [values["audit_time_packages"], values["audit_local_log_packages"],
                        values["audit_forwarding_packages"]]
    rotated = [op["dest"] for op in recorder.ops if op["op"] == "files.put" and "/logrotate.d/" in op["dest"]]
    assert rotated == ["/etc/logrotate.d/rsyslog"] + [f"/etc/logrotate.d/{n}" for n in values["audit_login_record_logs"]]
    kernel, _ = run_audit(monkeypatch, "kern1")
    edit = next(op for op in kernel.ops if op["name"].startswith("AU-03 | auditd log handling"))
    settings = json.loads(shlex.split(edit["commands"][0])[-1])
    assert settings == [[f"^{s['key']}\\s*=", f"{s['key']} = {s['value']}"] for s in values["audit_auditd_settings"]]
    assert settings[0] == ["^max_log_file\\s*=", "max_log_file = 50"]


def test_an_applied_host_gets_no_changing_operation(monkeypatch):
    for host, files in (("app1", ["time.yml", "local_logs.yml", "forwarding.yml"]), ("kern1", ["auditd.yml", "time.yml"]),
                        ("log1", ["time.yml", "local_logs.yml"])):
        values = ansible_values("audit", host)
        state: dict[str, Any] = {path: False for path in ansible_files(ROLE, files, values)}
        state.update({"applied": True, "packages": ["auditd", "audispd-plugins", "chrony", "rsyslog", "logrotate",
                                                    "rsyslog-gnutls"],
                      "lineinfile:/etc/audit/auditd.conf": "no", "lineinfile:/etc/audit/plugins.d/syslog.conf": "no"})
        for unit in ("auditd.service", "chrony.service", "rsyslog.service"):
            state[f"unit:{unit}"] = "enabled=enabled active=active"
        recorder, _ = run_audit(monkeypatch, host, state)
        assert [op for op in recorder.ops if op["op"] not in ("files.put", "files.directory", "apt.packages")] == []
        assert recorder.changing() == []
        assert all(op["update"] is False for op in recorder.ops if op["op"] == "apt.packages")


def test_a_changed_journald_drop_in_restarts_journald_at_the_end(monkeypatch):
    values = ansible_values("audit", "app1")
    state: dict[str, Any] = {path: False for path in ansible_files(ROLE, ["time.yml", "local_logs.yml",
                                                                          "forwarding.yml"], values)}
    state.update({"/etc/systemd/journald.conf.d/50-baseline.conf": True, "applied": True,
                  "packages": ["chrony", "rsyslog", "logrotate", "rsyslog-gnutls"],
                  "unit:chrony.service": "enabled=enabled active=inactive",
                  "unit:rsyslog.service": "enabled=enabled active=active"})
    recorder, _ = run_audit(monkeypatch, "app1", state)
    assert recorder.changing() == ["AU-03 | journald persistent, bounded by space only, handed to rsyslog",
                                   "AU-03 | Restart journald"]
    assert recorder.ops[-1]["commands"] == ["systemctl restart systemd-journald"]


def test_a_changed_chrony_configuration_is_restarted_only_where_chronyd_runs(monkeypatch):
    state = {"packages": ["chrony"], "/etc/chrony/chrony.conf": True}
    recorder, _ = run_audit(monkeypatch, "app1", state)
    assert "AU-02 | Restart chrony" not in recorder.names
    assert not [op for op in recorder.ops if "systemctl start chrony.service" in op.get("commands", [])]
    kernel, _ = run_audit(monkeypatch, "kern1", state)
    assert "AU-02 | Restart chrony" in kernel.names  # the clock is the kernel's: the VM keeps it
    server, _ = run_audit(monkeypatch, "log1", state)
    assert "AU-02 | Restart chrony" in server.names


def test_a_new_auditd_package_brings_the_default_rules_file_which_goes(monkeypatch):
    fresh, _ = run_audit(monkeypatch, "kern1")
    assert "AU-01 | The distribution's default rules file (replaced by the baseline's)" in fresh.names
    applied = {"packages": ["auditd", "audispd-plugins"]}
    recorder, _ = run_audit(monkeypatch, "kern1", applied)
    assert "AU-01 | The distribution's default rules file (replaced by the baseline's)" not in recorder.names
    present = {**applied, "file:/etc/audit/rules.d/audit.rules": {"mode": 640}}
    recorder, _ = run_audit(monkeypatch, "kern1", present)
    assert "AU-01 | The distribution's default rules file (replaced by the baseline's)" in recorder.names


# --- lineinfile as Ansible does it ---------------------------------------------------------------------------------------

CASES = {
    "replaced": ("max_log_file = 8\nnum_logs = 5\n", "^max_log_file\\s*=", "max_log_file = 50"),
    "last-of-two": ("a = 1\nmax_log_file = 8\nmax_log_file=9\nb\n", "^max_log_file\\s*=", "max_log_file = 50"),
    "appended": ("num_logs = 5\n", "^log_group\\s*=", "log_group = adm"),
    "no-final-newline": ("num_logs = 5", "^log_group\\s*=", "log_group = adm"),
    "same": ("active = yes\n", "^active\\s*=", "active = yes"),
    "not-the-longer-key": ("max_log_file_action = ROTATE\n", "^max_log_file\\s*=", "max_log_file = 50"),
    "empty": ("", "^active\\s*=", "active = yes"),
}


def test_the_host_side_lineinfile_edits_as_ansibles_lineinfile(monkeypatch, tmp_path):
    module = load_deploy("audit", monkeypatch)
    ansible_dir, ours_dir = tmp_path / "ansible", tmp_path / "ours"
    ansible_dir.mkdir()
    ours_dir.mkdir()
    play = []
    for name, (text, regexp, line) in CASES.items():
        (ansible_dir / name).write_text(text)
        (ours_dir / name).write_text(text)
        play.append({"name": name, "ansible.builtin.lineinfile": {"path": str(ansible_dir / name), "regexp": regexp,
                                                                  "line": line}})
        edits = json.dumps([[regexp, line]])
        check = subprocess.run([sys.executable, "-c", module.LINEINFILE, "check", str(ours_dir / name), edits],
                               capture_output=True, text=True, check=True)
        subprocess.run([sys.executable, "-c", module.LINEINFILE, "apply", str(ours_dir / name), edits], check=True)
        assert check.stdout.strip() == ("no" if name == "same" else "yes"), name
    playbook = tmp_path / "play.yml"
    playbook.write_text(yaml.safe_dump([{"hosts": "localhost", "connection": "local", "gather_facts": False,
                                         "tasks": play}]))
    bin_dir = Path(sys.executable).parent
    proc = subprocess.run([str(bin_dir / "ansible-playbook"), "-i", "localhost,", "-e",
                           f"ansible_python_interpreter={sys.executable}", str(playbook)],
                          capture_output=True, text=True, check=False, cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout[-2000:]
    for name in CASES:
        assert (ours_dir / name).read_bytes() == (ansible_dir / name).read_bytes(), name
    missing = subprocess.run([sys.executable, "-c", module.LINEINFILE, "check", str(tmp_path / "none"), "[]"],
                             capture_output=True, text=True, check=True)
    assert missing.stdout.strip() == "yes"


# --- log_permissions ------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("host", "logs", "expected"), [
    ("app1", "/var/log/dpkg.log\n", ["AU-03 | Log directory and files readable by root and adm only"]),
    ("app1", "", []),
    ("kern1", "/var/log/dpkg.log\n", []),
])
def test_log_permissions_only_where_a_log_is_readable_by_others(monkeypatch, host, logs, expected):
    _, recorder = run_deploy("log_permissions", host, monkeypatch, {"logs": logs})
    assert recorder.names == expected
    if expected:
        assert recorder.ops[0]["commands"] == ["find /var/log -xdev -type f -perm /o+rwx -exec chmod o-rwx {} +"]


def test_log_permissions_inside_audit_has_no_preflight_or_finish_of_its_own(monkeypatch):
    import runpy

    calls: list[str] = []
    monkeypatch.setattr(real_deploy, "check_preflight", lambda: calls.append("preflight"))
    monkeypatch.setattr(real_deploy, "finish", lambda: calls.append("finish"))
    monkeypatch.setattr(real_deploy, "targets", lambda pattern: False)
    part = runpy.run_path(str(DEPLOYS / "log_permissions.py"), run_name="log_permissions_in_audit")
    assert calls == [] and callable(part["main"])
    runpy.run_path(str(DEPLOYS / "log_permissions.py"))
    assert calls == ["preflight", "finish"]
