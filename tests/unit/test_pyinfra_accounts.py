"""The pyinfra deploy of roles/accounts (playbooks/pyinfra/accounts.py) without hosts: its prepare runs against a
simulated host (accounts, password states, groups, files) with pyinfra's operations recorded. On a fresh host it
must carry every control ID the role's tasks are tagged with; on a host where the role's result is already there
it must have no operation (a second run changes nothing); a hand-edited sshd drop-in is repaired; departed staff
and accounts outside the roster are handled as the role handles them. What Ansible computes (the initial password
hash, the staff keys file, the accounts report, lineinfile) is compared with Ansible's own templating and module."""

from __future__ import annotations

import base64
import hashlib
import importlib.util
import json
import os
import re
import shlex
import subprocess
import sys
from io import StringIO
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import yaml
from passlib.hash import sha512_crypt

from baseline import REPO_ROOT, accounts
from baseline import pyinfra_deploy as real_deploy

ROLE = REPO_ROOT / "roles" / "accounts"
DEPLOY = REPO_ROOT / "playbooks" / "pyinfra" / "accounts.py"
CONTROL = re.compile(r"^([A-Z]{2}-\d{2}) \| ")
SEED = "unit-test-seed"
EXTRA_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHJJuqhl6jiV4M8MB+cSF0a3vIYMcho6gtM96xGW4ZYa zhangwei@unit"
LOGIN_DEFS = ("# /etc/login.defs\nMAIL_DIR\t/var/mail\nPASS_MAX_DAYS\t99999\nPASS_MIN_DAYS\t0\nPASS_WARN_AGE\t7\n"
              "UID_MIN\t\t\t 1000\nUID_MAX\t\t\t60000\nUMASK\t\t022\n#HOME_MODE\t0700\nENCRYPT_METHOD SHA512\n")
PAM_SSHD = "# PAM configuration for the Secure Shell service\n@include common-account\n"


# --- the simulated host -----------------------------------------------------------------------------------------

# `ssh -Q kex` of Debian 12's OpenSSH 9.2 (no ML-KEM yet)
OPENSSH_9_2_KEX = ["diffie-hellman-group1-sha1", "diffie-hellman-group14-sha1", "diffie-hellman-group14-sha256",
                   "diffie-hellman-group16-sha512", "diffie-hellman-group18-sha512",
                   "diffie-hellman-group-exchange-sha1", "diffie-hellman-group-exchange-sha256",
                   "ecdh-sha2-nistp256", "ecdh-sha2-nistp384", "ecdh-sha2-nistp521", "curve25519-sha256",
                   "curve25519-sha256@libssh.org", "sntrup761x25519-sha512@openssh.com"]


class Host:
    """A Debian host as the deploy's facts see it."""

    def __init__(self) -> None:
        self.name = "app1"
        self.data = SimpleNamespace(get=lambda key, default=None: {"baseline_host": "app1"}.get(key, default))
        self.passwd = {"root": "x:0:0:root:/root:/bin/bash", "daemon": "x:1:1:daemon:/usr/sbin:/usr/sbin/nologin",
                       "sync": "x:4:65534:sync:/bin:/bin/sync", "nobody": "x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin",
                       "automation": "x:1000:1000::/home/automation:/bin/bash"}
        self.shadow = {"root": ["*", "", "", "", ""], "daemon": ["*", "0", "99999", "7", ""],
                       "sync": ["*", "0", "99999", "7", ""], "nobody": ["*", "0", "99999", "7", ""],
                       "automation": ["!", "0", "99999", "7", ""]}
        self.groups = {"root": "x:0:", "sudo": "x:27:automation", "automation": "x:1000:"}
        self.files: dict[str, tuple[str, str, str, str]] = {   # path -> content, user, group, mode
            "/etc/login.defs": (LOGIN_DEFS, "root", "root", "644"), "/etc/pam.d/sshd": (PAM_SSHD, "root", "root", "644"),
            "/etc/passwd": ("", "root", "root", "644"), "/etc/group": ("", "root", "root", "644"),
            "/etc/shadow": ("", "root", "shadow", "640"), "/etc/gshadow": ("", "root", "shadow", "640"),
            "/etc/sudoers": ("", "root", "root", "440"), "/etc/ssh/sshd_config": ("# Debian\n", "root", "root", "644"),
            "/etc/sudoers.d/README": ("", "root", "root", "440"), "/etc/sudoers.d/10-automation": ("", "root", "root", "440"),
            "/home/automation/.ssh/authorized_keys": ("key\n", "automation", "automation", "600")}
        self.dirs: dict[str, str] = {"/home/automation": "750"}
        self.kex = OPENSSH_9_2_KEX

    def get_fact(self, fact: type, **kwargs: Any) -> Any:
        kind = fact.__name__
        if kind == "Command":
            return self.command(kwargs["command"])
        if kind == "DebPackages":
            return {}
        path = kwargs["path"]
        if kind == "File":
            found = self.files.get(path)
            return {"user": found[1], "group": found[2], "mode": int(found[3])} if found else None
        if kind == "Directory":
            return {"user": "root", "group": "root", "mode": int(self.dirs[path])} if path in self.dirs else None
        if kind in ("Sha256File", "Sha1File"):
            found = self.files.get(path)
            algorithm = hashlib.sha256 if kind == "Sha256File" else hashlib.sha1
            return algorithm(found[0].encode()).hexdigest() if found else None
        raise AssertionError(f"unexpected fact {kind}")

    def command(self, command: str) -> str:
        if command == "getent passwd":
            return "\n".join(f"{k}:{v}" for k, v in self.passwd.items())
        if command == "getent group":
            return "\n".join(f"{k}:{v}" for k, v in self.groups.items())
        if command.startswith("getent shadow"):
            lines = []
            for name, (password, low, high, warn, expire) in self.shadow.items():
                state = "E" if password == "" else (password[0] if password[0] in "!*" else "H")
                lines.append(f"{name}:{state}:{low}:{high}:{warn}:{expire}")
            return "\n".join(lines)
        if "base64 -w0" in command:
            path = shlex.split(command.split("[ -e ", 1)[1].split(" ]", 1)[0])[0]
            found = self.files.get(path)
            return "B64:" + base64.b64encode(found[0].encode()).decode() if found else "__baseline_missing__"
        if command.startswith("for p in"):
            paths = shlex.split(command[len("for p in"):].split("; do", 1)[0])
            return "\n".join(p for p in paths if p in self.files or p in self.dirs)
        if command.startswith("find /etc/sudoers.d"):
            return "\n".join(p.rsplit("/", 1)[1] for p in self.files if p.startswith("/etc/sudoers.d/"))
        if command.startswith("find /etc/ssh/sshd_config.d"):
            return "\n".join(p for p in self.files if p.startswith("/etc/ssh/sshd_config.d/") and p.endswith(".conf")
                             and not p.endswith("/50-baseline.conf"))
        if command.startswith("for h in"):
            return ""
        if command == "ssh -Q kex":
            return "\n".join(self.kex)
        raise AssertionError(f"unexpected command fact {command}")


class Recorder:
    """pyinfra's operation modules and the support module's file installs: every call one recorded operation."""

    def __init__(self, host: Host) -> None:
        self.host = host
        self.ops: list[dict[str, Any]] = []

    def module(self, kind: str) -> SimpleNamespace:
        def make(op: str):
            def record(**kwargs: Any) -> None:
                self.ops.append({"op": f"{kind}.{op}", **kwargs})
            return record
        return SimpleNamespace(**{op: make(op) for op in ("put", "directory", "file", "shell", "packages", "call")})

    def install(self, control: str, change: str, items: list, *, then=(), guard: bool = False) -> bool:
        wanted = [item for item in items if real_deploy.differs(item)]
        if wanted:
            self.ops.append({"op": "deploy.install", "name": f"{control} | Install {change}", "items": wanted,
                             "then": list(then), "guard": guard})
        return bool(wanted)

    def staging_directory(self, control: str) -> None:
        if not any(op["op"] == "files.directory" and op.get("path") == real_deploy.STAGE_DIR for op in self.ops):
            self.ops.append({"op": "files.directory", "name": f"{control} | Staging directory",
                             "path": real_deploy.STAGE_DIR})

    def arm(self, control: str, change: str, paths: list[str], then=()) -> None:
        """The support module's arm: the rollback program once, then the arming command."""
        if not any(op["name"].endswith("on-host rollback program") for op in self.ops):
            self.ops.append({"op": "files.put", "name": f"{control} | Lockout safety: on-host rollback program"})
        argv = [real_deploy.ROLLBACK_PROGRAM, "arm", real_deploy.GUARD_ID, "60", *paths,
                *[f"--then={cmd}" for cmd in then], "--run", real_deploy.RUN_MARK]
        self.ops.append({"op": "server.shell", "commands": [shlex.join(argv) + " >/dev/null"],
                         "name": f"{control} | Lockout safety: arm the rollback before the change: {change}"})

    def confirm(self, control: str, change: str) -> None:
        self.ops.append({"op": "python.call",
                         "name": f"{control} | Lockout safety: a new SSH login with sudo after the change: {change}"})

    @property
    def names(self) -> list[str]:
        return [op["name"] for op in self.ops]

    def changing(self) -> list[str]:
        """Operations whose change the deploy decided itself (pyinfra's own directory/file/package operations
        decide again from facts when they run)."""
        return [op["name"] for op in self.ops if op["op"] not in ("files.directory", "files.file", "apt.packages")]


def inventory_values(**extra: Any) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for path in sorted((REPO_ROOT / "inventory/group_vars/all").glob("*.yml")):
        found.update(yaml.safe_load(path.read_text(encoding="utf-8")) or {})
    found.update({"inventory_hostname": "app1", "inventory_hostname_short": "app1", "group_names": ["linux_servers"],
                  "groups": {"all": ["app1"], "linux_servers": ["app1"]}, "accounts_initial_password_seed": SEED,
                  "staff_ssh_keys": {"zhangwei": [EXTRA_KEY]}, **extra})
    return found


@pytest.fixture
def run(monkeypatch):
    """Run the deploy's prepare against a simulated host; returns the recorded operations."""
    def go(host: Host, **inventory: Any) -> Recorder:
        recorder = Recorder(host)
        for name, value in {"check_preflight": lambda: None, "targets": lambda pattern: False,
                            "finish": lambda: None, "_host": lambda: host, "name": lambda: "app1",
                            "host_vars": lambda: inventory_values(**inventory), "install": recorder.install,
                            "staging_directory": recorder.staging_directory, "arm": recorder.arm,
                            "confirm": recorder.confirm, "packages_arriving": lambda: False,
                            "refresh_package_index": lambda: None,
                            "directory": lambda operation, path, **kw: recorder.ops.append(
                                {"op": "files.directory", "name": operation, "path": path, **kw}),
                            "put_secret": lambda operation, content, dest, **_: recorder.ops.append(
                                {"op": "deploy.put_secret", "name": operation, "dest": dest, "content": content})
                            }.items():
            monkeypatch.setattr(real_deploy, name, value)
        spec = importlib.util.spec_from_file_location("deploy_accounts_under_test", DEPLOY)
        assert spec and spec.loader
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)  # targets() is False: the module-level run does nothing
        monkeypatch.setattr(real_deploy, "targets", lambda pattern: pattern == module.PATTERN)
        module.host = host
        for kind in ("files", "server", "apt", "python"):
            setattr(module, kind, recorder.module(kind))
        module.main()
        return recorder
    return go


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
    found = set()
    for name in names:
        match = CONTROL.match(name)
        assert match, f"operation name without a leading control ID: {name!r}"
        found.add(match.group(1))
    return found


def untidy(host: Host) -> Host:
    """A fresh host with what the role also repairs: an empty password, a system account with a login shell,
    the home of a departed person, no @include common-auth in sshd's PAM stack."""
    host.passwd["postgres"] = "x:110:118::/var/lib/postgresql:/bin/bash"
    host.shadow["postgres"] = ["", "0", "99999", "7", ""]
    departed = next(p for p in inventory_values()["staff"] if p["status"] == "departed")["username"]
    host.dirs[f"/home/{departed}"] = "750"
    host.files["/etc/shadow"] = ("", "root", "root", "644")
    return host


def converge(host: Host, recorder: Recorder, values: dict[str, Any]) -> Host:
    """The host as the recorded run leaves it (files written, roster accounts made)."""
    for op in recorder.ops:
        staged = str(op.get("dest", "")).startswith("/var/lib/baseline-pyinfra")
        if op["op"] == "files.put" and isinstance(op.get("src"), StringIO) and not staged:
            host.files[op["dest"]] = (op["src"].getvalue(), op["user"], op["group"], str(op["mode"]))
        if op["op"] == "deploy.install":
            for item in op["items"]:
                host.files[item.path] = (item.content, item.user, item.group, item.mode)
    for item in values["accounts_sensitive_files"]:
        content = host.files.get(item["path"], ("",))[0]
        host.files[item["path"]] = (content, item["owner"], item["group"], item["mode"].lstrip("0"))
    host.passwd["postgres"] = host.passwd.get("postgres", "x:110:118::/var/lib/postgresql:/bin/bash").replace(
        "/bin/bash", "/usr/sbin/nologin")
    for entry in host.shadow.values():
        if entry[0] == "":
            entry[0] = "!"
    groups = [r["group"] for r in values["accounts_roles"].values()] + [values["accounts_second_factor_group"]]
    members: dict[str, list[str]] = {g: [] for g in groups}
    uid = 1001
    for person in values["staff"]:
        user = person["username"]
        if person["status"] != "active":
            continue
        spec = values["accounts_roles"][person["role"]]
        wanted = [spec["group"]] + ([values["accounts_second_factor_group"]] if spec["second_factor"] else [])
        for group in wanted:
            members[group].append(user)
        host.passwd[user] = f"x:{person.get('uid', uid)}:{uid}:{person['name']} ({person['role']}):/home/{user}:/bin/bash"
        host.shadow[user] = ["$6$x", str(values["password_min_age_days"]), str(values["password_max_age_days"]),
                             str(values["password_warn_age_days"]), ""]
        host.groups[user] = f"x:{uid}:"
        host.dirs[f"/home/{user}"] = "750"
        host.dirs[f"/home/{user}/.ssh"] = "700"
        uid += 1
    for n, group in enumerate(groups):
        host.groups[group] = f"x:{2000 + n}:{','.join(members[group])}"
    for path in list(host.dirs):
        if path.startswith("/home/") and path.count("/") == 2 and path[6:] not in host.passwd:
            del host.dirs[path]
    return host


@pytest.fixture
def module(monkeypatch) -> Any:
    """The deploy file as a module (its module-level run targets no host), for its functions."""
    for name, value in {"check_preflight": lambda: None, "targets": lambda pattern: False, "finish": lambda: None,
                        "host_vars": inventory_values}.items():
        monkeypatch.setattr(real_deploy, name, value)
    spec = importlib.util.spec_from_file_location("deploy_accounts_functions", DEPLOY)
    assert spec and spec.loader
    loaded = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(loaded)
    return loaded


@pytest.fixture
def lab_values(module) -> dict[str, Any]:
    """The role's values as the deploy resolves them for the shared inventory."""
    return module.resolved(real_deploy.values("accounts", "lockout_guard"))


# --- the whole deploy -------------------------------------------------------------------------------------------

def test_fresh_host_carries_every_control_of_the_role_in_the_role_order(run, module, lab_values):
    recorder = run(untidy(Host()))
    assert role_tags() - ids_of(recorder.names) == set()
    names = recorder.names
    order = ["IA-01 | Lock accounts with an empty password", "AC-01 | System accounts have no login shell",
             "AC-03 | Groups of the administrator roles", "AC-02 | Individual accounts for active staff",
             "AC-02 | Lockout safety: arm the rollback before the change: staff keys", "RI-01 | Wipe the homes",
             "AC-03 | Install sudo rights", "AC-02 | Record the accounts outside the roster",
             "IA-02 | Password quality", "IA-02 | Install pwquality", "IA-02 | Test PAM with a real login",
             "IA-05 | Login banners", "IA-06 | Second-factor prompt", "IA-05 | Install the sshd drop-in",
             "IA-04 | Shell idle timeout", "AC-04 | Owner and mode of sensitive files: /etc/shadow",
             "AC-04 | cron and at", "AC-01 | root's mail"]
    missing = [prefix for prefix in order if not any(n.startswith(prefix) for n in names)]
    assert missing == [], names
    positions = [next(i for i, n in enumerate(names) if n.startswith(prefix)) for prefix in order]
    assert positions == sorted(positions)
    # sshd_config: 0644 on the host, but the sshd change of this run installs it root's 0600 already
    assert "AC-04 | Owner and mode of sensitive files: /etc/ssh/sshd_config" not in names
    # every guarded change: armed, made, then confirmed by a new login
    for change in ("staff keys (authorized_keys)", "sudo configuration", "PAM files", "sshd configuration"):
        armed = names.index(next(n for n in names if n.endswith(f"arm the rollback before the change: {change}")))
        confirmed = names.index(next(n for n in names if n.endswith(f"new SSH login with sudo after the change: {change}")))
        assert armed < confirmed
    pam_test = names.index(next(n for n in names if n.startswith("IA-02 | Test PAM")))
    assert pam_test < names.index("IA-02 | Lockout safety: a new SSH login with sudo after the change: PAM files")


def test_a_host_with_the_role_applied_gets_no_operation(run, module, lab_values):
    fresh = run(Host())
    values = lab_values
    host = converge(Host(), fresh, values)
    second = run(host)
    assert second.changing() == []


def test_a_hand_edited_sshd_dropin_and_a_stray_one_are_repaired_under_the_guard(run, module, lab_values):
    values = lab_values
    host = converge(Host(), run(Host()), values)
    dropin = "/etc/ssh/sshd_config.d/50-baseline.conf"
    content, user, group, mode = host.files[dropin]
    host.files[dropin] = (content.replace("PermitRootLogin no", "PermitRootLogin yes"), user, group, mode)
    host.files["/etc/ssh/sshd_config.d/60-local.conf"] = ("PasswordAuthentication yes\n", "root", "root", "644")
    recorder = run(host)
    names = [n for n in recorder.changing() if not n.endswith("on-host rollback program")]
    assert names[0] == "IA-05 | Lockout safety: arm the rollback before the change: sshd configuration"
    arm = next(op for op in recorder.ops if op["name"] == names[0])["commands"][0]
    assert dropin in arm and "/etc/ssh/sshd_config.d/60-local.conf" in arm and "'--then=systemctl reload ssh'" in arm
    install = next(op for op in recorder.ops if op["op"] == "deploy.install")
    assert [item.path for item in install["items"]] == [dropin]
    assert "PermitRootLogin no" in install["items"][0].content
    reload = next(op for op in recorder.ops if op["name"].startswith("AC-01 | Remove sshd drop-ins"))
    assert "rm -f /etc/ssh/sshd_config.d/60-local.conf" in reload["commands"]
    assert names[-1] == "IA-05 | Lockout safety: a new SSH login with sudo after the change: sshd configuration"


def test_sshd_gets_the_inventorys_key_exchanges_that_the_hosts_openssh_knows(run, module, lab_values):
    """Debian 12's OpenSSH does not know ML-KEM: its sshd gets the inventory's list in order without it; Debian 13's
    gets the whole list; a host that knows none of them is stopped before any sshd file is written."""
    assert lab_values["accounts_ssh_kex"][0] == "mlkem768x25519-sha256"

    def kex_of(recorder: Recorder) -> list[str]:
        install = next(op for op in recorder.ops if op["op"] == "deploy.install" and
                       any(item.path.startswith("/etc/ssh/") for item in op["items"]))
        return [line.split()[1].split(",") for line in install["items"][0].content.splitlines()
                if line.startswith("KexAlgorithms ")][0]

    assert kex_of(run(Host())) == [k for k in lab_values["accounts_ssh_kex"] if k != "mlkem768x25519-sha256"]
    trixie = Host()
    trixie.kex = [*OPENSSH_9_2_KEX, "mlkem768x25519-sha256", "sntrup761x25519-sha512"]
    assert kex_of(run(trixie)) == lab_values["accounts_ssh_kex"]
    old = Host()
    old.kex = ["diffie-hellman-group1-sha1", "diffie-hellman-group14-sha1"]
    names = run(old).names
    stop = next(n for n in names if n.startswith("IA-05 | Stop here"))
    assert "accounts_ssh_kex" in stop and "none of these key exchanges is known" in stop
    assert not any(n.startswith("IA-05 | Install the sshd drop-in") for n in names)


def test_departed_staff_and_accounts_outside_the_roster(run, module, lab_values):
    values = lab_values
    host = converge(Host(), run(Host()), values)
    departed = next(p for p in values["staff"] if p["status"] == "departed")["username"]
    host.passwd[departed] = f"x:1050:1050::/home/{departed}:/bin/bash"
    host.shadow[departed] = ["$6$x", "1", "90", "7", ""]
    host.groups["sysadmins"] += f",{departed}"
    host.passwd["intruder"] = "x:1060:1060::/home/intruder:/usr/sbin/nologin"
    host.shadow["intruder"] = ["!", "0", "99999", "7", ""]
    host.files["/home/intruder/.ssh/authorized_keys"] = ("ssh-ed25519 AAAA x\n", "intruder", "intruder", "600")
    host.files["/etc/sudoers.d/90-hand"] = ("intruder ALL=(ALL) NOPASSWD: ALL\n", "root", "root", "440")
    recorder = run(host)
    by_name = {op["name"]: op for op in recorder.ops}
    lock = by_name[f"AC-02 | Departed staff are locked and expired on every host: {departed}"]["commands"][0]
    assert lock == f"usermod -G '' -s /usr/sbin/nologin -e 1970-01-01 -L {departed}"
    # intruder: already nologin and locked, but keys: moved to the quarantine and recorded
    assert not any(n.startswith("AC-02 | No login shell and a locked password") for n in by_name)
    moved = next(op for n, op in by_name.items() if n.startswith("AC-02 | Keep their key files"))["commands"][0]
    assert "rm -f /home/intruder/.ssh/authorized_keys" in moved and '"account": "intruder"' in moved
    sudo = next(op for n, op in by_name.items() if n.startswith("AC-03 | Keep each stray drop-in"))["commands"][0]
    assert "rm -f /etc/sudoers.d/90-hand" in sudo and "/usr/sbin/visudo -c" in sudo
    arm = by_name["AC-03 | Lockout safety: arm the rollback before the change: sudo configuration"]["commands"][0]
    assert "/etc/sudoers.d/50-baseline-roles /etc/sudoers.d/90-hand" in arm
    report = json.loads(next(op for n, op in by_name.items() if n.startswith("AC-02 | Record the accounts"))["src"].getvalue())
    assert report["unknown"] == ["intruder"] and report["open_left_in_place"] == []

    refused = run(host, accounts_unmanaged="fail")
    assert any(n.startswith("AC-03 | Stop here - sudoers drop-ins the baseline does not manage") for n in refused.names)
    reported = run(host, accounts_unmanaged="report")
    assert not any("quarantine" in n for n in reported.names)
    report = json.loads(next(op for op in reported.ops if op["name"].startswith("AC-02 | Record"))["src"].getvalue())
    assert report["open_left_in_place"] == ["intruder"]


def test_an_existing_account_is_brought_to_the_roster_without_a_new_password(run, module, lab_values):
    values = lab_values
    host = converge(Host(), run(Host()), values)
    user = next(p for p in values["staff"] if p["status"] == "active")["username"]
    fields = host.passwd[user].split(":")
    fields[5] = "/bin/sh"
    host.passwd[user] = ":".join(fields)
    host.shadow[user][0] = "!$6$x"
    host.shadow[user][2] = "99999"
    recorder = run(host)
    command = next(op for op in recorder.ops if op["name"].endswith(f"in their role's group: {user}"))["commands"][0]
    assert command == (f"usermod -s /bin/bash -U {user} && chage -M {values['password_max_age_days']} {user}")


def test_settle_runs_the_system_shells_only(run, module, lab_values):
    host = untidy(Host())
    host.data = SimpleNamespace(get=lambda key, default=None: {"baseline_host": "app1",
                                                               "accounts_tasks": "system_shells"}.get(key, default))
    assert run(host).names == ["AC-01 | System accounts have no login shell: postgres"]


# --- what Ansible computes, computed alike -----------------------------------------------------------------------

def staff_task(name: str) -> dict[str, Any]:
    tasks = yaml.safe_load((ROLE / "tasks" / "staff.yml").read_text(encoding="utf-8"))
    return next(t for t in tasks if t["name"] == name)


def ansible_template(expression: str, variables: dict[str, Any]) -> Any:
    from ansible.parsing.dataloader import DataLoader
    from ansible.plugins.loader import add_all_plugin_dirs
    from ansible.template import Templar, trust_as_template

    add_all_plugin_dirs(str(REPO_ROOT / "plugins"))
    return Templar(loader=DataLoader(), variables=variables).template(trust_as_template(expression))


def test_initial_password_hash_is_the_roles(run, module, lab_values):
    task = staff_task("AC-02 | Individual accounts for active staff, in their role's group")
    omit = "__omit_place_holder__test"
    for user in ("zhangwei", "liqiang"):
        expected = ansible_template(task["ansible.builtin.user"]["password"],
                                    {"item": {"username": user}, "accounts_initial_password_seed": SEED,
                                     "ansible_facts": {"getent_passwd": {"root": []}}, "omit": omit})
        found = module.initial_password_hash(SEED, user)
        assert found == str(expected).strip()
        assert sha512_crypt.verify(module.roster.initial_password(SEED, user), found)
    assert module.initial_password_hash(SEED, "zhangwei") != module.initial_password_hash(SEED, "liqiang")
    # an account that exists keeps its password (update_password: on_create): nothing is hashed for it
    existing = ansible_template(task["ansible.builtin.user"]["password"],
                                {"item": {"username": "zhangwei"}, "accounts_initial_password_seed": SEED,
                                 "ansible_facts": {"getent_passwd": {"zhangwei": []}}, "omit": omit})
    assert existing == omit
    assert task["ansible.builtin.user"]["update_password"] == "on_create"  # noqa: S105 - a module option's value


def test_staff_keys_file_is_the_roles(run, module, lab_values):
    task = staff_task("AC-02 | Exactly the roster's keys for active staff, usable from the admin networks only")
    person = {"username": "zhangwei", "ssh_keys": ["ssh-ed25519 AAAA one", "ssh-rsa BBBB two"]}
    networks = ["10.231.0.0/24", "192.0.2.0/28"]
    for extra in ({"zhangwei": [EXTRA_KEY]}, {}):
        expected = ansible_template(task["ansible.builtin.copy"]["content"],
                                    {"item": person, "staff_ssh_keys": extra, "admin_networks": networks})
        assert module.authorized_keys(person, extra, networks) == expected


def test_accounts_report_is_the_roles(run, module, lab_values):
    task = staff_task("AC-02 | Record the accounts outside the roster (exceptions listed apart)")
    for unmanaged in ("remove", "report"):
        variables = {"accounts_unknown": ["intruder", "王五"], "accounts_exceptions": ["automation", "nobody"],
                     "accounts_unmanaged": unmanaged, "accounts_unknown_open": ["intruder"]}
        expected = ansible_template(task["ansible.builtin.copy"]["content"], variables)
        assert module.accounts_report(["intruder", "王五"], ["automation", "nobody"], unmanaged, ["intruder"]) == expected


def test_lineinfile_edits_as_ansibles_module(run, module, lab_values, tmp_path):
    """Ansible's lineinfile module, run for real on local copies, and the deploy's edit give the same bytes."""
    values = lab_values
    cases = {"login.defs": LOGIN_DEFS + "PASS_MAX_DAYS 10\n# UMASK 077\n", "aliases": "postmaster: root",
             "empty": "", "sshd": PAM_SSHD}
    edits = {"login.defs": [(rf"^#?\s*{i['key']}\s", f"{i['key']}\t{i['value']}")
                            for group in ("accounts_login_defs_ageing", "accounts_login_defs_hashing",
                                          "accounts_login_defs_session") for i in values[group]],
             "aliases": [("^root:", "root: ops@localhost")], "empty": [("^root:", "root: ops@localhost")],
             "sshd": [("^@include common-auth", "@include common-auth")]}
    tasks = []
    for name, text in cases.items():
        (tmp_path / name).write_text(text, encoding="utf-8")
        tasks += [{"ansible.builtin.lineinfile": {"path": str(tmp_path / name), "regexp": regexp, "line": line}}
                  for regexp, line in edits[name]]
    playbook = tmp_path / "play.yml"
    playbook.write_text(yaml.safe_dump([{"hosts": "localhost", "gather_facts": False, "tasks": tasks}]))
    result = subprocess.run([str(Path(sys.executable).parent / "ansible-playbook"), "-i", "localhost,", "-c", "local",
                             "-e", f"ansible_python_interpreter={sys.executable}", str(playbook)],
                            capture_output=True, text=True, timeout=300, check=False,
                            env={**os.environ, "ANSIBLE_NOCOLOR": "1"})
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    for name, text in cases.items():
        edited = text
        for regexp, line in edits[name]:
            edited = module.lineinfile(edited, regexp, line)
        assert edited == (tmp_path / name).read_text(encoding="utf-8"), name


# --- data moved into the role's vars, read by both engines --------------------------------------------------------

MOVED = {"accounts_pam_packages": "pam.yml", "accounts_login_defs_ageing": "pam.yml",
         "accounts_login_defs_hashing": "pam.yml", "accounts_login_defs_session": "session.yml",
         "accounts_banner_files": "ssh.yml", "accounts_cron_allow_files": "files.yml",
         "accounts_cron_deny_files": "files.yml", "accounts_startup_files": "files.yml",
         "accounts_nologin_shells": "system_shells.yml"}


@pytest.mark.parametrize("key", sorted(MOVED))
def test_moved_data_is_read_by_both_engines(key):
    role_vars = yaml.safe_load((ROLE / "vars" / "main.yml").read_text(encoding="utf-8"))
    assert role_vars.get(key), key
    assert re.search(rf"\b{key}\b", (ROLE / "tasks" / MOVED[key]).read_text(encoding="utf-8")), key
    assert f'v["{key}"]' in DEPLOY.read_text(encoding="utf-8"), key


def test_no_inline_copy_of_the_moved_data_is_left_in_the_tasks():
    tasks = "".join(p.read_text(encoding="utf-8") for p in (ROLE / "tasks").glob("*.yml"))
    for literal in ("pamtester]", "PASS_MAX_DAYS", "YESCRYPT_COST_FACTOR, value", "HOME_MODE", "/etc/motd]",
                    "/etc/cron.allow", "/etc/at.deny", ".bash_logout", "'/bin/false'"):
        assert literal not in tasks, literal


# --- scripts run on the host --------------------------------------------------------------------------------------

@pytest.mark.skipif(os.geteuid() != 0, reason="the quarantine is root's (chown root:root)")
def test_quarantine_and_record_keep_the_files_root_only(run, module, lab_values, tmp_path):
    stray = tmp_path / "etc" / "sudoers.d" / "90-hand"
    stray.parent.mkdir(parents=True)
    stray.write_text("x ALL=(ALL) NOPASSWD: ALL\n")
    quarantine = str(tmp_path / "q")
    record = str(tmp_path / "unmanaged.jsonl")
    entry = {"time": "T", "host": "app1", "control": "AC-03", "action": "removed sudoers drop-in", "path": str(stray)}
    script = "set -e\n" + "\n".join(module.quarantine_script([str(stray)], "T", quarantine)
                                    + module.record_script(record, [entry]))
    for _ in range(2):
        subprocess.run(["sh", "-c", script], check=True)
    kept = Path(f"{quarantine}/T{stray.parent}/90-hand")
    assert kept.read_text() == stray.read_text() and oct(kept.stat().st_mode & 0o777) == "0o400"
    assert oct(Path(quarantine).stat().st_mode & 0o777) == "0o700"
    assert oct(Path(f"{quarantine}/T{stray.parent}").stat().st_mode & 0o777) == "0o700"
    lines = Path(record).read_text().splitlines()
    assert [json.loads(line) for line in lines] == [entry]
    assert oct(Path(record).stat().st_mode & 0o777) == "0o640"


def test_pam_check_keeps_the_test_password_off_command_lines(run, module, lab_values):
    script = module.pam_check_script(lab_values)
    subprocess.run(["sh", "-n", "-c", script], check=True)
    for line in script.splitlines():
        if "$secret" in line or "$hash" in line:
            # only shell builtins (printf, assignments, unset) see the secret; programs get it on stdin
            for segment in re.split(r"\|\||&&|\||;|\bthen\b|\bif\b", line):
                if "$secret" in segment or "$hash" in segment:
                    first = segment.split()[0]
                    assert first == "printf" or first.startswith(("secret=", "hash=")), line
    assert script.count('pamtester sshd "$user"') == 2 and "restore access --run" in script


def test_the_play_hashes_once_what_a_host_lacks_and_the_account_task_takes_it():
    hashes_task = staff_task("AC-02 | Hash once the initial passwords of staff accounts a host of the play lacks")
    assert hashes_task["run_once"] is True and hashes_task["no_log"] is True
    account_task = staff_task("AC-02 | Individual accounts for active staff, in their role's group")
    hosts = {"h1": {"ansible_facts": {"getent_passwd": {"root": [], "zhangwei": [], "liqiang": []}}},
             "h2": {"ansible_facts": {"getent_passwd": {"root": [], "zhangwei": []}}},
             "h3": {"ansible_facts": {}}}  # its accounts not read yet (free strategy): it may lack any
    active = [{"username": name} for name in ("zhangwei", "liqiang", "wangfang")]
    common = {"accounts_active": active, "accounts_initial_password_seed": SEED, "ansible_play_hosts": ["h1", "h2"],
              "hostvars": hosts}
    hashes = ansible_template(hashes_task["ansible.builtin.set_fact"]["accounts_initial_hashes"], common)
    assert sorted(hashes) == ["liqiang", "wangfang"], "zhangwei is on every host: nothing to hash for him"
    with_h3 = ansible_template(hashes_task["ansible.builtin.set_fact"]["accounts_initial_hashes"],
                               {**common, "ansible_play_hosts": ["h1", "h2", "h3"]})
    assert sorted(with_h3) == ["liqiang", "wangfang", "zhangwei"]
    omit = "__omit_place_holder__test"
    for user in ("liqiang", "wangfang"):
        inline = ansible_template(account_task["ansible.builtin.user"]["password"],
                                  {"item": {"username": user}, "accounts_initial_password_seed": SEED,
                                   "ansible_facts": {"getent_passwd": {"root": []}}, "omit": omit})
        taken = ansible_template(account_task["ansible.builtin.user"]["password"],
                                 {"item": {"username": user}, "accounts_initial_password_seed": SEED,
                                  "accounts_initial_hashes": {user: "$6$taken$from-the-play"},
                                  "ansible_facts": {"getent_passwd": {"root": []}}, "omit": omit})
        assert hashes[user] == str(inline).strip(), "the play's hash differs from the one the task computes"
        assert str(taken).strip() == "$6$taken$from-the-play", "the account task hashed again"
        assert sha512_crypt.verify(accounts.initial_password(SEED, user), hashes[user])


def test_the_initial_password_hash_is_computed_once_per_process():
    accounts.initial_password_hash.cache_clear()
    first = accounts.initial_password_hash(SEED, "zhangwei")
    again = accounts.initial_password_hash(SEED, "zhangwei")
    assert first == again and accounts.initial_password_hash.cache_info().hits == 1
