"""The pyinfra deploy of roles/hardening and of the integrity bracket (playbooks/pyinfra/hardening.py,
integrity_snapshot.py, integrity_approve.py, settle.py) without hosts: run against a recorder standing for pyinfra's
operations and facts given per test, the deploy must carry every control ID of the role, write the bytes, owners
and modes Ansible writes (the baseline_sysctl module's files included), read the data moved into the role's vars, plan
nothing on a host already in the wanted state, and approve integrity differences only when the run changes
something, names paths or builds the first database."""

from __future__ import annotations

import base64
import importlib.util
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from types import ModuleType, SimpleNamespace
from typing import Any

import pytest
import yaml

from baseline import REPO_ROOT, templates
from baseline import pyinfra_deploy as real_deploy
from baseline.linux import services_for

ROLE = REPO_ROOT / "roles" / "hardening"
DEPLOYS = REPO_ROOT / "playbooks" / "pyinfra"
HELPERS = "baseline_pyinfra_helpers"
CONTROL = re.compile(r"^((?:[A-Z]{2}-\d{2} )*[A-Z]{2}-\d{2}) \| ")
GROUPS = {"app1": ["app_servers", "backup_clients", "linux_servers"],
          "db1": ["backup_clients", "linux_servers", "postgresql_servers"],
          "log1": ["backup_clients", "linux_servers", "log_servers"],
          "kern1": ["kernel_hosts", "linux_servers"]}
KIND = {"kern1": "vm"}


def load(name: str) -> ModuleType:
    """A deploy file as a module whose module-level run is off (it runs only under pyinfra)."""
    spec = importlib.util.spec_from_file_location(HELPERS, DEPLOYS / f"{name}.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def raw_values(host: str) -> dict[str, Any]:
    """What deploy.values gives for a lab host: dependency and role defaults < shared inventory < role vars."""
    merged: dict[str, Any] = {}
    for role in ("lockout_guard", "hardening"):
        merged.update(yaml.safe_load((REPO_ROOT / "roles" / role / "defaults" / "main.yml").read_text()) or {})
    for path in sorted((REPO_ROOT / "inventory/group_vars/all").glob("*.yml")):
        merged.update(yaml.safe_load(path.read_text(encoding="utf-8")) or {})
    merged.update({"inventory_hostname": host, "inventory_hostname_short": host, "group_names": GROUPS[host],
                   "host_kind": KIND.get(host, "container")})
    merged.update(yaml.safe_load((ROLE / "vars" / "main.yml").read_text(encoding="utf-8")))
    return merged


def lab_values(host: str) -> dict[str, Any]:
    """The same values as a play has them: every Jinja expression resolved by Ansible's templating."""
    from ansible.parsing.dataloader import DataLoader
    from ansible.template import Templar, trust_as_template

    from baseline.inventory import _plain

    def trust(value: Any) -> Any:
        if isinstance(value, str):
            return trust_as_template(value)
        if isinstance(value, list):
            return [trust(v) for v in value]
        if isinstance(value, dict):
            return {k: trust(v) for k, v in value.items()}
        return value

    trusted = {k: trust(v) for k, v in raw_values(host).items()}
    templar = Templar(loader=DataLoader(), variables=trusted)
    resolved = {}
    for key, value in trusted.items():
        try:
            resolved[key] = _plain(templar.template(value))
        except Exception:  # noqa: BLE001, S112 - integrity_approve exists only as an extra variable
            continue
    return resolved


class Recorder:
    """pyinfra's operation modules and the deploy support: every operation call is recorded with its arguments."""

    def __init__(self, host: str, facts: dict[str, Any], differs: bool = True, data: dict | None = None,
                 values: dict | None = None) -> None:
        self.ops: list[dict[str, Any]] = []
        self.facts = facts
        self.differs_default = differs
        self.host_name = host
        self.data = data or {}
        self.values = values
        self.finishers: list = []  # deploy.at_finish callbacks, in order

    def module(self, kind: str) -> SimpleNamespace:
        def make(op: str):
            def record(**kwargs):
                self.ops.append({"op": f"{kind}.{op}", **kwargs})
            return record
        return SimpleNamespace(**{op: make(op) for op in ("put", "directory", "file", "shell", "packages")})

    def differs(self, item: real_deploy.Managed) -> bool:
        return self.facts.get(("differs", item.path), self.differs_default)

    def install(self, control: str, change: str, items: list, *, then=(), guard: bool = False) -> bool:
        if not any(self.differs(item) for item in items):
            return False
        self.ops.append({"op": "deploy.install", "name": f"{control} | Install {change}", "items": list(items),
                         "then": list(then), "guard": guard})
        return True

    def get_fact(self, fact: type, **kwargs: Any) -> Any:
        found = self.facts.get(fact.__name__)
        return found(**kwargs) if callable(found) else found

    def deploy(self) -> SimpleNamespace:
        def values(*roles: str, facts: dict | None = None) -> dict[str, Any]:
            # resolved as the support module's values() resolves them (baseline.templates.resolve)
            return templates.resolve({**(self.values or raw_values(self.host_name)), **(facts or {})})

        def targets(pattern: str) -> bool:
            kernel = "kernel_hosts" in GROUPS[self.host_name]
            return {"linux_servers:!kernel_hosts": not kernel, "kernel_hosts": kernel}.get(pattern, not kernel)

        def include(part: str, **data: Any) -> None:
            self.ops.append({"op": "deploy.include", "name": part, "data": data})

        return SimpleNamespace(values=values, render=real_deploy.render, Managed=real_deploy.Managed,
                               planned_before=lambda path, signature: False,
                               install=self.install, differs=self.differs, name=lambda: self.host_name,
                               targets=targets, include=include, EXIT_REFUSED=real_deploy.EXIT_REFUSED,
                               ROLES=real_deploy.ROLES, at_finish=self.finishers.append)

    def attach(self, module: ModuleType, monkeypatch) -> None:
        monkeypatch.setattr(module, "deploy", self.deploy())
        monkeypatch.setattr(module, "host", SimpleNamespace(get_fact=self.get_fact, data=self.data))
        for kind in ("files", "apt", "server"):
            if hasattr(module, kind):
                monkeypatch.setattr(module, kind, self.module(kind))

    @property
    def names(self) -> list[str]:
        return [op["name"] for op in self.ops]


@pytest.fixture(autouse=True)
def fresh_run_state():
    """Each test is its own pyinfra run (the integrity state is per run and host)."""
    sys.modules.pop("_baseline_integrity_run", None)
    yield
    sys.modules.pop("_baseline_integrity_run", None)


def hardening_run(monkeypatch, host: str = "app1", facts: dict | None = None, **kwargs: Any) -> Recorder:
    module = load("hardening")
    recorder = Recorder(host, facts if facts is not None else {}, **kwargs)
    recorder.attach(module, monkeypatch)
    monkeypatch.setattr(module, "packages_arriving", lambda: False)
    module.apply()
    return recorder


def role_tags() -> set[str]:
    found: set[str] = set()

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            found.update(str(t) for t in node.get("tags") or [] if re.fullmatch(r"[A-Z]{2}-\d{2}", str(t)))
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    for path in sorted((ROLE / "tasks").glob("*.yml")):
        walk(yaml.safe_load(path.read_text(encoding="utf-8")))
    return found


def ids_of(names: list[str]) -> set[str]:
    found: set[str] = set()
    for name in names:
        match = CONTROL.match(name)
        assert match, f"operation name without a leading control ID: {name!r}"
        found.update(match.group(1).split())
    return found


def installed_files(recorder: Recorder) -> dict[str, tuple[str, int, str, str]]:
    found = {}
    for op in recorder.ops:
        if op["op"] == "files.put":
            found[op["dest"]] = (op["src"].getvalue(), int(op["mode"], 8), op["user"], op["group"])
        if op["op"] == "deploy.install":
            for item in op["items"]:
                found[item.path] = (item.content, int(item.mode, 8), item.user, item.group)
    return found


def ansible_files(values: dict[str, Any]) -> dict[str, tuple[str, int, str, str]]:
    """path -> (bytes, mode, owner, group) of every template and copy task of the role, as Ansible writes them."""
    from ansible.parsing.dataloader import DataLoader
    from ansible.template import Templar, trust_as_template

    def expand(text: Any, scope: dict[str, Any]) -> Any:
        return Templar(loader=DataLoader(), variables=scope).template(trust_as_template(text))

    def flat(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [t for task in items for t in (flat(task["block"]) if "block" in task else [task])]

    found = {}
    for path in sorted((ROLE / "tasks").glob("*.yml")):
        for task in flat(yaml.safe_load(path.read_text(encoding="utf-8")) or []):
            module = next((k for k in task if k in ("ansible.builtin.template", "ansible.builtin.copy")), None)
            if not module or task.get("check_mode") is True:
                continue
            args = task[module]
            loop = task.get("loop", [None])
            for item in expand(loop, values) if isinstance(loop, str) else loop:
                scope = {**values, "item": item}
                dest, src = expand(args["dest"], scope), expand(args["src"], scope)
                if module.endswith("template"):
                    content = templates.render_with_ansible(ROLE / "templates" / src, scope)
                else:
                    content = (ROLE / "files" / src).read_text(encoding="utf-8")
                found[dest] = (content, int(str(args["mode"]), 8), args["owner"], args["group"])
    return found


# --- the role ---------------------------------------------------------------------------------------------------------

def test_every_control_id_of_the_role_is_named_by_an_operation(monkeypatch):
    facts = {"DebPackages": {"telnet": ["0.17"]}, "Command": lambda command: "rsync.service" if "list-unit" in command
             else "enabled=enabled active=active"}
    names = hardening_run(monkeypatch, facts=facts).names
    names += hardening_run(monkeypatch, "kern1", facts=facts).names  # process accounting: own kernel only
    approve = load("integrity_approve")
    recorder = Recorder("app1", {"File": {"mode": 755}}, data={"integrity_approve": "all"})
    with_helpers(approve, recorder, monkeypatch)
    approve.approve()
    assert role_tags() <= ids_of(names + recorder.names)
    assert {"IP-01", "IP-02", "IP-03", "IP-04", "IP-05", "RI-01", "AC-04", "IA-05", "AU-01", "OP-01"} <= role_tags()


@pytest.mark.parametrize("host", ["app1", "log1"])
def test_the_files_are_those_ansible_writes(monkeypatch, host):
    values = lab_values(host)
    wanted = ansible_files({**values, "hardening_inbound": services_for(values["server_inbound_services"],
                                                                         values["group_names"])})
    found = installed_files(hardening_run(monkeypatch, host))
    assert len(wanted) == 16, sorted(wanted)
    for path, expected in wanted.items():
        assert found.get(path) == expected, path
    if host == "log1":
        assert 'udp dport 514 accept comment "syslog-devices"' in found["/etc/nftables.conf"][0]


def test_the_sysctl_files_are_those_the_roles_module_writes(monkeypatch, tmp_path):
    """The role's own sysctl tasks (baseline_sysctl with the lab's values) run by Ansible on this machine, each file
    redirected into tmp_path and nothing set: the module writes the bytes the deploy writes, and a second run and a
    run in check mode change nothing."""
    module = load("hardening")
    values = lab_values("app1")
    found = installed_files(hardening_run(monkeypatch, "app1"))
    play_tasks, files = [], {}
    for task in yaml.safe_load((ROLE / "tasks" / "sysctl.yml").read_text(encoding="utf-8")):
        args = task.get("baseline_sysctl")
        if not args:
            continue
        files[args["path"]] = tmp_path / Path(args["path"]).name
        play_tasks.append({"name": task["name"], "baseline_sysctl": {
            **args, "path": str(files[args["path"]]), "set_live": False}})
    play = [{"hosts": "localhost", "gather_facts": False, "connection": "local", "tasks": play_tasks,
             "vars": {k: values[k] for k in ("hardening_ip_forwarding", "hardening_sysctl_net",
                                             "hardening_sysctl_kernel")}}]
    (tmp_path / "play.yml").write_text(yaml.safe_dump(play, sort_keys=False))
    bin_dir = Path(sys.executable).parent

    def playbook(*extra):
        return subprocess.run([str(bin_dir / "ansible-playbook"), "-i", "localhost,", "-e",
                               f"ansible_python_interpreter={sys.executable}", *extra, str(tmp_path / "play.yml")],
                              capture_output=True, text=True, check=False, cwd=tmp_path,
                              env={**os.environ, "ANSIBLE_LIBRARY": str(REPO_ROOT / "plugins" / "modules")})

    dry = playbook("--check")
    assert dry.returncode == 0, dry.stdout[-2000:]
    assert "changed=2" in dry.stdout and not any(path.exists() for path in files.values())
    run = playbook()
    assert run.returncode == 0, run.stdout[-2000:]
    assert "changed=2" in run.stdout
    assert set(files) == {module.NET_FILE, module.KERNEL_FILE}
    for path, written in files.items():
        assert found[path][0] == written.read_text(), path
    assert found[module.NET_FILE][0].startswith("net.ipv4.ip_forward=0\nnet.ipv6.conf.all.forwarding=0\n")
    assert found[module.NET_FILE][1:] == (0o644, "root", "root")
    again = playbook()
    assert again.returncode == 0 and "changed=0" in again.stdout, again.stdout[-2000:]
    # the value rules the deploy takes from the module: booleans and their words as 1/0, other text stripped
    assert [module.sysctl_text(v) for v in (True, "yes", " Off ", 2, " 4096\t87380 ")] == ["1", "1", "0", "2",
                                                                                          "4096\t87380"]


def test_the_services_the_role_masks_are_read_from_systemctls_listing(monkeypatch, tmp_path):
    """The role's IP-02 loop run by Ansible on this machine over a listing as its read task gets it (list-unit-files,
    then list-units with its status bullets): every masked-list service the listing names, loaded or only installed,
    and no other (a name that only starts alike, a template unit, a socket). The deploy runs the same listing (the
    role's hardening_units_listing) and finds the same services in it."""
    tasks = yaml.safe_load((ROLE / "tasks" / "services.yml").read_text(encoding="utf-8"))
    loop = next(t for t in tasks if "ansible.builtin.systemd_service" in t)["loop"]
    read = next(t for t in tasks if "ansible.builtin.shell" in t)
    assert read["ansible.builtin.shell"] == "{{ hardening_units_listing }}"
    defaults = yaml.safe_load((ROLE / "defaults" / "main.yml").read_text(encoding="utf-8"))
    role_vars = yaml.safe_load((ROLE / "vars" / "main.yml").read_text(encoding="utf-8"))
    listing = ["apt-daily.service                      static          -",
               "rsync.service                          enabled         enabled",
               "cups-browsed.service                   enabled         enabled",
               "avahi-daemon.socket                    enabled         enabled",
               "nginx@.service                         disabled        enabled",
               "  ssh.service             loaded active   running OpenBSD Secure Shell server",
               "\u25cf cups.service            loaded failed   failed  CUPS Scheduler",
               "  nfs-server.service      not-found inactive dead  nfs-server.service"]
    play = [{"hosts": "localhost", "gather_facts": False, "connection": "local",
             "vars": {"hardening_masked_services": defaults["hardening_masked_services"],
                      "hardening_unit_name_pattern": role_vars["hardening_unit_name_pattern"],
                      "hardening_known_units": {"stdout_lines": listing}, "masked": loop},
             "tasks": [{"name": "loop", "ansible.builtin.copy": {"content": "{{ masked | to_json }}",
                                                                 "dest": str(tmp_path / "masked.json")}}]}]
    (tmp_path / "play.yml").write_text(yaml.safe_dump(play, sort_keys=False, allow_unicode=True))
    run = subprocess.run([str(Path(sys.executable).parent / "ansible-playbook"), "-i", "localhost,", "-e",
                          f"ansible_python_interpreter={sys.executable}", str(tmp_path / "play.yml")],
                         capture_output=True, text=True, check=False, cwd=tmp_path)
    assert run.returncode == 0, run.stdout[-2000:]
    assert json.loads((tmp_path / "masked.json").read_text()) == ["cups", "nfs-server", "rsync"]

    module = load("hardening")
    commands = []
    monkeypatch.setattr(module, "host", SimpleNamespace(
        get_fact=lambda fact, command: commands.append(command) or "\n".join(listing)))
    known = module.known_services(role_vars)
    assert commands == [f"{{ {role_vars['hardening_units_listing']}; }} 2>/dev/null || true"]
    assert sorted(s for s in defaults["hardening_masked_services"] if s in known) == ["cups", "nfs-server", "rsync"]
    assert {"apt-daily", "ssh", "cups-browsed", "nginx@"} <= known and "avahi-daemon" not in known


def test_the_session_stacks_get_the_line_ansible_lineinfile_writes(monkeypatch, tmp_path):
    """The role's pam_tmpdir task run by Ansible on this machine against copies of Debian's session stacks (one
    without the line, one with pam-auth-update's spelling of it): the deploy's lineinfile gives the same bytes, and a
    second pass changes nothing."""
    module = load("hardening")
    values = lab_values("app1")
    fresh = SESSION_STACK.replace("session\toptional\tpam_tmpdir.so\n", "")
    spelled = fresh.replace("# end of", "session\toptional\t\t\tpam_tmpdir.so\n# end of")
    task = next(t for t in yaml.safe_load((ROLE / "tasks" / "tmpdir.yml").read_text(encoding="utf-8"))
                if "ansible.builtin.lineinfile" in t)
    args = task["ansible.builtin.lineinfile"]
    stacks = {"fresh": fresh, "spelled": spelled}
    for name, text in stacks.items():
        (tmp_path / name).write_text(text)
    play = [{"hosts": "localhost", "gather_facts": False, "connection": "local", "tasks": [
        {"name": task["name"], "loop": sorted(str(tmp_path / n) for n in stacks),
         "ansible.builtin.lineinfile": {**args, "path": "{{ item }}"}}]}]
    (tmp_path / "play.yml").write_text(yaml.safe_dump(play, sort_keys=False))
    bin_dir = Path(sys.executable).parent
    run = subprocess.run([str(bin_dir / "ansible-playbook"), "-i", "localhost,", "-e",
                          f"ansible_python_interpreter={sys.executable}", str(tmp_path / "play.yml")],
                         capture_output=True, text=True, check=False, cwd=tmp_path)
    assert run.returncode == 0, run.stdout[-2000:]
    for name, text in stacks.items():
        written = (tmp_path / name).read_text()
        assert written.count("pam_tmpdir.so") == 1 and "\nsession\toptional\tpam_tmpdir.so\n" in written
        ours = module.lineinfile(text, args["regexp"], args["line"])
        assert ours == written, name
        assert module.lineinfile(ours, args["regexp"], args["line"]) == ours
    assert values["hardening_tmpdir_pam_files"] == ["/etc/pam.d/common-session",
                                                    "/etc/pam.d/common-session-noninteractive"]


def test_sysstat_umask_is_set_as_ansible_lineinfile_sets_it(monkeypatch, tmp_path):
    """The role's umask task run by Ansible on a copy of the package's file, and the deploy's two ways: the file
    there when the run is prepared (lineinfile's result, put), or arriving with this run's package (a command on
    the host, run here against a copy): the same bytes each time."""
    module = load("hardening")
    values = lab_values("app1")
    task = next(t for t in yaml.safe_load((ROLE / "tasks" / "activity.yml").read_text(encoding="utf-8"))
                if "ansible.builtin.lineinfile" in t)
    args = task["ansible.builtin.lineinfile"]
    target = tmp_path / "sysstat"
    target.write_text(SYSSTAT_CONF)
    play = [{"hosts": "localhost", "gather_facts": False, "connection": "local",
             "vars": {"hardening_activity_umask": values["hardening_activity_umask"]},
             "tasks": [{"name": task["name"], "ansible.builtin.lineinfile": {**args, "path": str(target)}}]}]
    (tmp_path / "play.yml").write_text(yaml.safe_dump(play, sort_keys=False))
    bin_dir = Path(sys.executable).parent
    run = subprocess.run([str(bin_dir / "ansible-playbook"), "-i", "localhost,", "-e",
                          f"ansible_python_interpreter={sys.executable}", str(tmp_path / "play.yml")],
                         capture_output=True, text=True, check=False, cwd=tmp_path)
    assert run.returncode == 0, run.stdout[-2000:]
    wanted = target.read_text()
    assert wanted == SYSSTAT_CONF.replace("UMASK=0022", "UMASK=0027")
    # the file there when the run is prepared: its new text is put
    facts = in_place_facts(values)
    in_place = facts["Command"]
    facts["Command"] = lambda command: ("B64:" + base64.b64encode(SYSSTAT_CONF.encode()).decode()
                                        if "base64" in command and "sysstat" in command else in_place(command))
    recorder = hardening_run(monkeypatch, "app1", facts=facts, differs=False)
    put = [op for op in recorder.ops if op["op"] == "files.put" and op["dest"] == module.SYSSTAT_CONFIG]
    assert len(put) == 1 and put[0]["src"].getvalue() == wanted and put[0]["name"].startswith("OP-01 AU-03 | ")
    # the file arrives with the package: the command does the same on the host
    facts["Command"] = lambda command: "missing" if "base64" in command and "sysstat" in command else in_place(command)
    recorder = hardening_run(monkeypatch, "app1", facts=facts, differs=False)
    shell = [op for op in recorder.ops if op["op"] == "server.shell" and "UMASK" in " ".join(op["commands"])]
    assert len(shell) == 1
    copy = tmp_path / "arriving"
    copy.write_text(SYSSTAT_CONF)
    command = shell[0]["commands"][0].replace(module.SYSSTAT_CONFIG, str(copy))
    subprocess.run(["/bin/sh", "-c", command], check=True)
    assert copy.read_text() == wanted
    subprocess.run(["/bin/sh", "-c", command], check=True)  # a second pass changes nothing
    assert copy.read_text() == wanted


def test_a_database_at_the_former_path_is_moved_once_and_not_built_anew(monkeypatch):
    values = lab_values("app1")
    facts = in_place_facts(values)
    in_place = facts["File"]
    former, db = values["hardening_aide_former_db"], values["hardening_aide_db"]
    assert (former, db) == ("/var/lib/aide/baseline.db", "/var/lib/aide/aide.db")
    facts["File"] = lambda path: {"mode": 600} if path == former else (None if path == db else in_place(path))
    recorder = hardening_run(monkeypatch, "app1", facts=facts, differs=False)
    assert recorder.names == ["IP-05 | The approved database moves from its former path (once)"]
    assert recorder.ops[0]["commands"] == [f"mv -f {former} {db}",
                                           f"if [ -e {former}.pre-run ]; then mv -f {former}.pre-run {db}.pre-run; fi"]
    module_state = sys.modules["_baseline_integrity_run"].hosts["app1"]
    assert module_state["first_database"] is False  # the approval compares, it does not approve whole
    # neither database there: the first one is built
    facts["File"] = lambda path: None if path in (former, db) else in_place(path)
    names = hardening_run(monkeypatch, "app1", facts=facts, differs=False).names
    assert [n for n in names if n.startswith("IP-05")] == [
        "IP-05 | Build the AIDE database (first run only; later runs approve what they changed)"]


def test_a_fresh_container_host_gets_the_role_in_its_order(monkeypatch):
    recorder = hardening_run(monkeypatch, "app1")
    order = [ids_of([name]).pop() for name in recorder.names]
    firsts = [order.index(i) for i in ("IP-03", "IP-01", "IP-04", "IP-05", "AC-04")]
    assert firsts == sorted(firsts)
    installs = {op["name"]: op for op in recorder.ops if op["op"] == "deploy.install"}
    ruleset = installs["IP-03 | Install firewall ruleset"]
    assert ruleset["guard"] and ruleset["items"][0].validate == "nft -c -f {path}" and ruleset["items"][0].mode == "600"
    kernel = installs["RI-01 | Install kernel self-protection parameters"]
    assert kernel["then"] == []  # read-only kernel in a container: written, not set
    units = [i for op in installs.values() for i in op["items"] if i.path.startswith("/etc/systemd/system/")]
    assert len(units) == 4 and all("systemd-analyze verify" in str(u.validate) for u in units)
    packages = [op for op in recorder.ops if op["op"] == "apt.packages"]
    assert [op["packages"] for op in packages] == [["nftables"], ["unattended-upgrades", "cron"], ["needrestart"],
                                                   ["aide", "aide-common", "cron", "debsums"], ["libpam-tmpdir"],
                                                   ["sysstat"]]
    assert packages[3]["no_recommends"] and packages[1]["no_recommends"] and not packages[0]["no_recommends"]
    # needrestart's setting (list only) is written before the package and its apt hook arrive
    names = recorder.names
    assert names.index("IP-04 | needrestart lists the services running replaced libraries and restarts none") \
        < names.index("IP-04 | Install needrestart")
    assert any(name.startswith("IP-05 | Build the AIDE database") for name in recorder.names)


def test_the_kernel_host_gets_the_kernel_part_only_and_sets_it(monkeypatch):
    recorder = hardening_run(monkeypatch, "kern1")
    assert ids_of(recorder.names) == {"RI-01", "IP-01", "AU-01"}
    assert [op["packages"] for op in recorder.ops if op["op"] == "apt.packages"] == [["acct"]]
    accounting = [op for op in recorder.ops if op["name"] == "AU-01 | Process accounting enabled and running"]
    assert accounting and accounting[0]["commands"] == ["systemctl enable acct.service", "systemctl start acct.service"]
    kernel = next(op for op in recorder.ops if op["op"] == "deploy.install")
    assert kernel["then"] == ["sysctl -q -p /etc/sysctl.d/99-zz-baseline-kernel.conf"]


# Debian 12's common-session as pam-auth-update writes it, with the line the role adds (tasks/tmpdir.yml).
SESSION_STACK = ("# here are the per-package modules (the \"Primary\" block)\n"
                 "session\t[default=1]\t\t\tpam_permit.so\n"
                 "session\trequisite\t\t\tpam_deny.so\n"
                 "session\trequired\t\t\tpam_permit.so\n"
                 "session\trequired\tpam_unix.so \n"
                 "session\toptional\tpam_systemd.so \n"
                 "# end of pam-auth-update config\n"
                 "session\toptional\tpam_tmpdir.so\n")


# The end of Debian 12's /etc/sysstat/sysstat as the package installs it.
SYSSTAT_CONF = ("SA_DIR=/var/log/sysstat\n\n# Compression program to use.\nZIP=\"xz\"\n\n# The sa1 and sa2 scripts generate "
                "system activity data and report files.\nUMASK=0022\n")


def in_place_facts(values: dict[str, Any]) -> dict[str, Any]:
    """Facts of a host the baseline was applied to: files, packages, units, sysctls, modes all as wanted."""
    wanted_sysctls = {**load("hardening").net_sysctls(values), **values["hardening_sysctl_kernel"]}

    def command(command: str) -> str:
        if "list-unit" in command:
            return "ssh.service cron.service"
        if "base64" in command and "/etc/sysstat/sysstat" in command:
            return "B64:" + base64.b64encode(SYSSTAT_CONF.replace("UMASK=0022", "UMASK=0027").encode()).decode()
        if "base64" in command:  # the session stacks, pam_tmpdir already in them
            return "B64:" + base64.b64encode(SESSION_STACK.encode()).decode()
        return "enabled=masked active=inactive" if "dailyaidecheck" in command else "enabled=enabled active=active"

    def directory(path: str) -> dict[str, Any]:
        modes = {i["path"]: int(i["mode"][1:]) for i in values["hardening_cron_modes"]}
        modes.update({"/etc/modprobe.d": 755, "/var/lib/baseline": 750, "/etc/systemd/coredump.conf.d": 755,
                      "/etc/needrestart/conf.d": 755})
        return {"mode": modes.get(path, 700), "user": "root", "group": "root"}

    packages = {p: ["1"] for p in (values["hardening_firewall_packages"] + values["hardening_updates_packages"]
                                   + values["hardening_integrity_packages"] + values["hardening_needrestart_packages"]
                                   + values["hardening_tmpdir_packages"] + values["hardening_accounting_packages"]
                                   + values["hardening_activity_packages"])}
    return {"DebPackages": packages, "Command": command, "Directory": directory,
            "File": lambda path: None if ("cron.d/baseline" in path or "50-baseline-" in path
                                          or path.startswith(values["hardening_aide_former_db"]))
            else {"mode": 640, "user": "root", "group": "adm"} if path in values["hardening_updates_logs"]
            else directory(path),
            "Sysctl": lambda keys: {k: int(v) for k, v in wanted_sysctls.items() if k in keys}}


@pytest.mark.parametrize("host", ["app1", "kern1"])
def test_a_host_in_the_wanted_state_gets_no_operation(monkeypatch, host):
    recorder = hardening_run(monkeypatch, host, facts=in_place_facts(lab_values(host)), differs=False)
    assert recorder.names == []


def test_each_difference_gives_its_operation_and_no_other(monkeypatch):
    values = lab_values("app1")
    facts = in_place_facts(values)
    facts["Sysctl"] = lambda keys: {k: 1 for k in keys}  # live network values drifted, files unchanged
    facts[("differs", "/etc/aide/baseline.conf")] = True
    recorder = hardening_run(monkeypatch, "app1", facts=facts, differs=False)
    assert recorder.names == ["IP-03 | Network parameters (per network namespace) set",
                              "IP-05 | AIDE configuration of the baseline"]


def test_moved_data_is_read_by_both_engines():
    moved = yaml.safe_load((ROLE / "vars" / "main.yml").read_text(encoding="utf-8"))
    tasks = "".join(p.read_text(encoding="utf-8") for p in sorted((ROLE / "tasks").glob("*.yml")))
    deploy = (DEPLOYS / "hardening.py").read_text(encoding="utf-8")
    for key in moved:
        assert re.search(r"\{\{[^}]*\b" + key + r"\b", tasks), key  # read in a task's expression
        assert f'v["{key}"]' in deploy, key
    assert "loop: [" not in tasks and "content: |" not in tasks
    registered = set(re.findall(r"^\s*register: (\w+)", tasks, re.M))
    assert registered and not registered & set(moved)  # a registered result would shadow the data
    for path in sorted((ROLE / "tasks").glob("*.yml")):
        for task in yaml.safe_load(path.read_text(encoding="utf-8")) or []:
            if "ansible.builtin.apt" in task and "name" in task["ansible.builtin.apt"]:
                assert str(task["ansible.builtin.apt"]["name"]).startswith("{{ hardening_"), task["name"]


def test_no_ssh_rule_for_the_host_stops_the_run(monkeypatch, capsys):
    values = lab_values("app1")
    values["server_inbound_services"] = [s for s in values["server_inbound_services"] if s["port"] != 22]
    with pytest.raises(SystemExit) as stop:
        hardening_run(monkeypatch, "app1", values=values)
    assert stop.value.code == 2
    assert "No inbound SSH rule for app1 in server_inbound_services" in capsys.readouterr().err


def test_services_a_run_installs_before_are_masked_when_they_arrive(monkeypatch):
    module = load("hardening")
    recorder = Recorder("db1", {"Command": lambda command: ""})
    recorder.attach(module, monkeypatch)
    monkeypatch.setattr(module, "packages_arriving", lambda: True)
    module.services_part(lab_values("db1"))
    [op] = recorder.ops
    assert ("if systemctl cat rsync.service >/dev/null 2>&1; then systemctl disable rsync && systemctl mask rsync"
            in " ".join(op["commands"]))
    recorder.ops.clear()
    monkeypatch.setattr(module, "packages_arriving", lambda: False)
    module.services_part(lab_values("db1"))
    assert recorder.ops == []


def test_packages_arriving_reads_the_commands_of_the_planned_operations(monkeypatch):
    module = load("hardening")
    me = object()

    def op(change: bool, *commands: str) -> SimpleNamespace:
        return SimpleNamespace(operation_meta=SimpleNamespace(will_change=change),
                               command_generator=lambda: iter(commands))

    state = SimpleNamespace(ops={me: {"a": op(True, "systemctl reload ssh"),
                                      "b": op(False, "apt-get -y install mariadb-server")}})
    import pyinfra
    import pyinfra.context

    monkeypatch.setattr(pyinfra, "state", state)
    monkeypatch.setattr(pyinfra.context, "ctx_host", SimpleNamespace(get=lambda: me))
    assert not module.packages_arriving()
    state.ops[me]["c"] = op(True, "DEBIAN_FRONTEND=noninteractive apt-get -y install mariadb-server")
    assert module.packages_arriving()


# --- the integrity bracket ------------------------------------------------------------------------------------------

def with_helpers(module: ModuleType, recorder: Recorder, monkeypatch) -> None:
    """The bracket's file and the hardening helpers it loads, both on the recorder."""
    helpers = load("hardening")
    recorder.attach(helpers, monkeypatch)
    recorder.attach(module, monkeypatch)
    monkeypatch.setattr(module, "hardening_helpers", lambda: helpers)


def approval(monkeypatch, changes: bool, data: dict | None = None, program: bool = True) -> Recorder:
    module = load("integrity_approve")
    recorder = Recorder("app1", {"File": {"mode": 755} if program else None}, data=data or {})
    with_helpers(module, recorder, monkeypatch)
    monkeypatch.setattr(module, "changes_planned", lambda: changes)
    module.approve()
    return recorder


def test_nothing_to_approve_gives_no_operation(monkeypatch):
    assert approval(monkeypatch, changes=False).ops == []
    assert approval(monkeypatch, changes=True, program=False).ops == []


def test_a_run_that_changes_approves_what_it_changed_from_the_state_before_the_run(monkeypatch):
    [op] = approval(monkeypatch, changes=True).ops
    restore, command = op["commands"]
    assert restore == ("if [ -e /var/lib/aide/aide.db.pre-run.pyinfra ]; then cp -a "
                       "/var/lib/aide/aide.db.pre-run.pyinfra /var/lib/aide/aide.db.pre-run; fi")
    assert command == ("/usr/local/sbin/baseline-aide-approve --config /etc/aide/baseline.conf "
                       "--db /var/lib/aide/aide.db approve")


def test_named_paths_are_approved_without_other_changes(monkeypatch):
    [op] = approval(monkeypatch, changes=False, data={"integrity_approve": " /etc/foo, ,/usr/bin/bar"}).ops
    assert op["commands"][1].endswith("approve --path=/etc/foo --path=/usr/bin/bar")
    [op] = approval(monkeypatch, changes=False, data={"integrity_approve": ["all"]}).ops
    assert op["commands"][1].endswith("approve --all")


def test_the_run_that_builds_the_first_database_approves_whole(monkeypatch):
    """linux.py's approval and settle.py's after databases.py: the run has no snapshot between its parts, and
    everything after the first database is its own doing."""
    assert approval(monkeypatch, changes=True).ops[0]["commands"][1].endswith("approve")  # an existing database
    hardening_run(monkeypatch, "app1")  # a fresh host: the run builds the first database
    for _ in range(2):
        [op] = approval(monkeypatch, changes=True).ops
        assert op["commands"][1].endswith("approve --all")


def test_changes_planned_looks_at_the_hosts_prepared_operations(monkeypatch):
    module = load("integrity_approve")
    me = object()
    state = SimpleNamespace(ops={me: {"a": SimpleNamespace(operation_meta=SimpleNamespace(will_change=False))}})
    monkeypatch.setattr(module, "state", state)
    monkeypatch.setattr(module, "ctx_host", SimpleNamespace(get=lambda: me))
    assert not module.changes_planned()
    state.ops[me]["b"] = SimpleNamespace(operation_meta=SimpleNamespace(will_change=True))
    assert module.changes_planned()


def snapshot(monkeypatch, argv: list[str], program: bool = True, answer: str = "taken\n") -> tuple[Recorder, list]:
    module = load("integrity_snapshot")
    commands: list[str] = []

    def command(command: str) -> str:
        commands.append(command)
        return answer

    recorder = Recorder("app1", {"File": {"mode": 755} if program else None, "Command": command},
                        data={"snapshot_hosts": "linux_servers"})
    with_helpers(module, recorder, monkeypatch)
    monkeypatch.setattr(sys, "argv", argv)
    module.snapshot()
    return recorder, commands


def test_the_snapshot_is_read_while_preparing_and_kept_for_every_approval_of_the_run(monkeypatch):
    recorder, commands = snapshot(monkeypatch, ["pyinfra", "inv.py", "linux.py"])
    assert recorder.ops == []  # a fact, never an operation
    [command] = commands
    handed_back, taken = command.split("; fi; ", 1)
    assert handed_back + "; fi" == ("if [ -e /var/lib/aide/aide.db.pre-run.pyinfra ]; then "
                                    "mv -f /var/lib/aide/aide.db.pre-run.pyinfra /var/lib/aide/aide.db.pre-run; fi")
    assert taken.startswith("/usr/local/sbin/baseline-aide-approve --config /etc/aide/baseline.conf "
                            "--db /var/lib/aide/aide.db snapshot && ")
    assert "mv /var/lib/aide/aide.db.pre-run /var/lib/aide/aide.db.pre-run.pyinfra" in taken
    assert snapshot(monkeypatch, ["pyinfra", "inv.py", "linux.py"])[1] == []  # once per run and host


def test_a_converging_host_is_snapshotted_at_the_former_database_path(monkeypatch):
    """Only the former database there: the snapshot is of it, and kept under the new path's name for the approval
    (hardening.py moves the database itself)."""
    module = load("integrity_snapshot")
    commands: list[str] = []
    files = {"/usr/local/sbin/baseline-aide-approve": {"mode": 755}, "/var/lib/aide/baseline.db": {"mode": 600}}

    def command(command: str) -> str:
        commands.append(command)
        return "taken\n"

    def file_fact(path: str) -> dict | None:
        return files.get(path)

    recorder = Recorder("app1", {"File": file_fact, "Command": command},
                        data={"snapshot_hosts": "linux_servers"})
    with_helpers(module, recorder, monkeypatch)
    monkeypatch.setattr(sys, "argv", ["pyinfra", "inv.py", "linux.py"])
    module.snapshot()
    [taken] = commands
    assert "--db /var/lib/aide/baseline.db snapshot" in taken
    assert "mv /var/lib/aide/baseline.db.pre-run /var/lib/aide/aide.db.pre-run.pyinfra" in taken


def test_a_snapshot_left_by_a_stopped_run_is_handed_back_and_this_run_approves_both(monkeypatch):
    """The approval program kept the stopped run's snapshot (younger than a day): the run approves even when it
    plans no change of its own, so what the stopped run changed is approved too."""
    module = load("integrity_snapshot")
    recorder = Recorder("app1", {"File": {"mode": 755},
                                 "Command": lambda command: '{"snapshot": true, "kept_from_a_stopped_run_min": 12}\n'
                                                            "taken\n"}, data={"snapshot_hosts": "linux_servers"})
    with_helpers(module, recorder, monkeypatch)
    monkeypatch.setattr(sys, "argv", ["pyinfra", "inv.py", "linux.py"])
    module.snapshot()
    run = module.hardening_helpers().run_state()
    assert run["snapshot"] and run["resumed"]
    [op] = approval(monkeypatch, changes=False).ops
    assert op["commands"][1].endswith("approve")
    assert module.hardening_helpers().run_state()["approval_planned"]


def test_a_fresh_snapshot_is_not_a_resumed_one(monkeypatch):
    recorder, _ = snapshot(monkeypatch, ["pyinfra", "inv.py", "linux.py"], answer='{"snapshot": true}\ntaken\n')
    assert approval(monkeypatch, changes=False).ops == []


def test_the_run_that_stands_lets_its_snapshot_go_at_its_end(monkeypatch):
    """An operation after the run's approvals when it approves anything (also listed by --dry); otherwise removed
    at once while the run is prepared, and nothing at all in a --dry run that approves nothing."""
    saved = "/var/lib/aide/aide.db.pre-run.pyinfra"
    for argv, approving, op_expected, removed in ((["pyinfra", "inv.py", "linux.py"], True, True, False),
                                                  (["pyinfra", "inv.py", "linux.py"], False, False, True),
                                                  (["pyinfra", "--dry", "inv.py", "linux.py"], True, True, False),
                                                  (["pyinfra", "--dry", "inv.py", "linux.py"], False, False, False)):
        sys.modules.pop("_baseline_integrity_run", None)
        module = load("integrity_snapshot")
        commands: list[str] = []

        def command(command: str, seen: list[str] = commands) -> str:
            seen.append(command)
            return '{"snapshot": true}\ntaken\n'

        recorder = Recorder("app1", {"File": {"mode": 755}, "Command": command},
                            data={"snapshot_hosts": "linux_servers"})
        with_helpers(module, recorder, monkeypatch)
        monkeypatch.setattr(sys, "argv", argv)
        module.snapshot()
        assert recorder.finishers == [module.let_go], argv
        if approving:
            module.hardening_helpers().run_state()["approval_planned"] = True
        commands.clear()
        recorder.finishers[0]()
        ops = [op for op in recorder.ops if op["op"] == "server.shell"]
        assert (ops == [{"op": "server.shell", "name": "IP-05 | The run stands: its snapshot of the state before it goes",
                         "commands": [f"rm -f {saved}"]}]) == op_expected, (argv, approving, ops)
        assert (commands == [f"rm -f {saved} && echo gone"]) == removed, (argv, approving, commands)
        assert op_expected or not ops


def test_no_snapshot_in_a_dry_run_or_before_the_baseline(monkeypatch):
    assert snapshot(monkeypatch, ["pyinfra", "--dry", "inv.py", "linux.py"])[1] == []
    assert snapshot(monkeypatch, ["pyinfra", "inv.py", "linux.py"], program=False)[1] == []


def test_the_approval_program_approves_against_the_kept_snapshot(tmp_path):
    """The approval program itself, with a stand-in for aide: a path changed since the snapshot is approved, a
    difference older than the snapshot stays pending."""
    program = ROLE / "files" / "baseline-aide-approve"
    fake = tmp_path / "bin"
    fake.mkdir()
    state = tmp_path / "state.txt"
    (fake / "aide").write_text(
        "#!/bin/sh\n"
        f"db={tmp_path}/db\n"
        "case \"$3\" in\n"
        f"  --init) {{ echo '@@db_spec name sha256'; cat {state}; echo '@@end_db'; }} > $db.new ;;\n"
        "  --check) python3 - \"$db\" <<'E'\nimport sys\n"
        f"a=dict(l.split(' ',1) for l in open(sys.argv[1]).read().splitlines() if l.startswith('/'))\n"
        f"b=dict(l.split(' ',1) for l in open('{state}').read().splitlines())\n"
        "ch=[k for k in sorted(a.keys()|b.keys()) if a.get(k)!=b.get(k)]\n"
        "print('Changed entries:') if ch else None\n"
        "[print('f   ...    : '+k) for k in ch]\nsys.exit(4 if ch else 0)\nE\n ;;\n"
        "esac\n")
    (fake / "aide").chmod(0o755)
    (fake / "logger").write_text("#!/bin/sh\ncat >/dev/null\n")
    (fake / "logger").chmod(0o755)
    env = {"PATH": f"{fake}:/usr/bin:/bin"}
    db = tmp_path / "db"

    def run(*args: str) -> dict[str, Any]:
        done = subprocess.run([sys.executable, str(program), "--db", str(db), *args], capture_output=True, text=True,
                              env=env, check=True)
        return json.loads(done.stdout)

    state.write_text("/etc/a 1\n/etc/b 1\n")
    run("approve", "--all")  # the first database
    state.write_text("/etc/a 1\n/etc/b 2\n")  # changed by hand between runs
    run("snapshot")
    Path(f"{db}.pre-run").rename(f"{db}.pre-run.pyinfra")  # what integrity_snapshot.py keeps
    state.write_text("/etc/a 2\n/etc/b 2\n")  # changed by the run
    for _ in range(2):  # linux.yml's approval, then settle's: each from the kept snapshot
        subprocess.run(["cp", "-a", f"{db}.pre-run.pyinfra", f"{db}.pre-run"], check=True)
        result = run("approve")
        assert result["pending"] == ["/etc/b"]
    assert "/etc/a 2" in db.read_text() and "/etc/b 1" in db.read_text()


def test_a_unit_systemd_does_not_know_reads_as_no_state(monkeypatch):
    module = load("hardening")
    Recorder("app1", {"Command": lambda command: "enabled= active=inactive"}).attach(module, monkeypatch)
    assert module.unit_state("dailyaidecheck.timer") == ("", "inactive")


def test_the_distributions_aide_timer_is_masked_also_when_it_arrives_with_this_run(monkeypatch):
    values = lab_values("app1")
    facts = in_place_facts(values)
    in_place = facts["Command"]
    facts["Command"] = lambda command: "enabled= active=inactive" if "dailyaidecheck" in command else \
        in_place(command)
    assert hardening_run(monkeypatch, "app1", facts=facts, differs=False).names == []  # aide there, no such unit
    facts["DebPackages"] = {p: v for p, v in facts["DebPackages"].items() if p != "aide-common"}
    names = hardening_run(monkeypatch, "app1", facts=facts, differs=False).names
    assert names == ["IP-05 | Install AIDE and debsums",
                     "IP-05 | The distribution's own daily AIDE timer is replaced by the baseline's check"]


def test_settle_keeps_ac01_and_ip02_then_approves_on_hosts_with_the_baseline(monkeypatch):
    module = load("settle")
    pattern = "postgresql_servers:mariadb_servers:&linux_servers:!kernel_hosts"
    recorder = Recorder("db1", {"File": None}, data={"settle_hosts": "postgresql_servers:mariadb_servers"})
    with_helpers(module, recorder, monkeypatch)
    module.settle()
    assert recorder.ops == []  # no server baseline on the host, none made by this run
    hardening_run(monkeypatch, "db1")  # this run installs the baseline (its integrity part) first
    module.settle()
    assert [(op["name"], op["data"]) for op in recorder.ops] == [
        ("accounts", {"accounts_tasks": "system_shells"}), ("hardening", {"hardening_tasks": "services"}),
        ("integrity_approve", {"approve_hosts": pattern})]


def test_the_services_part_alone_for_settle(monkeypatch):
    facts = {"Command": lambda command: "rsync.service" if "list-unit" in command else "enabled=enabled active=active"}
    recorder = hardening_run(monkeypatch, "db1", facts=facts, data={"hardening_tasks": "services"})
    assert recorder.names == ["IP-02 | Disable and mask services that are not needed: rsync"]
    assert recorder.ops[0]["commands"] == ["systemctl disable rsync", "systemctl mask rsync", "systemctl stop rsync"]
