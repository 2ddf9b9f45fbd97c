"""The depth checks of compliance_tests/linux/test_depth.py against a fake host holding what roles/hardening renders
(same templates, same inventory values) and answering the commands as the packages do: each check passes on what
the baseline writes and fails on the drift that breaks it. The daily integrity check's script is run for real with
stand-ins for aide, debsums and logger. No lab needed."""

from __future__ import annotations

import os
import stat
import subprocess
from pathlib import Path

import pytest
import yaml
from suite_modules import load_suite
from test_hardening_checks_offline import LINUX, FakeHost, Result, _sudo_run, render

from baseline import REPO_ROOT
from baseline.compliance_plugin import EvidenceLog

ROLE = REPO_ROOT / "roles" / "hardening"
# Debian 12's needrestart.conf: the default mode is commented out.
NEEDRESTART_MAIN = "# Restart mode: (l)ist only, (i)nteractive or (a)utomatically.\n#$nrconf{restart} = 'i';\n"
SPEC = "@@db_spec name attr perm inode lcount uid gid size mtime sha512\n"
SESSION = ("session\t[default=1]\t\t\tpam_permit.so\nsession\trequisite\t\t\tpam_deny.so\n"
           "session\trequired\t\t\tpam_permit.so\nsession\trequired\tpam_unix.so \n"
           "session\toptional\tpam_systemd.so \n# end of pam-auth-update config\n")
TMPDIR_LINE = "session\toptional\tpam_tmpdir.so\n"


class Host(FakeHost):
    """FakeHost with installed packages and the suites' SSH client settings."""

    def __init__(self, files, answer=None, packages=("needrestart", "debsums", "acct", "sysstat")):
        super().__init__(files, answer)
        self.installed = set(packages)
        self.backend.ssh_config = "/dev/null"

    def package(self, name: str):
        return type("Package", (), {"is_installed": name in self.installed})()


@pytest.fixture()
def depth(request):
    request.config.addinivalue_line("markers", "method(kind): probe, state, config or record")
    request.config.addinivalue_line("markers", "intrusive(what): the check changes the host while it runs")
    return load_suite(LINUX / "test_depth.py", "depth_offline_test_depth")


# --- IP-04: needrestart ------------------------------------------------------------------------------------------------

def _needrestart_host(depth, dropins: dict[str, str], listing: str = "NEEDRESTART-VER: 3.6\nNEEDRESTART-KSTA: 0\n"):
    files = {depth.NEEDRESTART_MAIN: (NEEDRESTART_MAIN, 0o644), **{p: (t, 0o644) for p, t in dropins.items()}}

    def reply(command: str) -> Result:
        if command.startswith("ls -1 "):
            return Result(0, "".join(f"{p}\n" for p in sorted(dropins)))
        if command == "needrestart -b -r l":
            return Result(0, listing)
        return Result(1, "", "unexpected")
    return Host(files, reply)


def test_needrestart_check_passes_on_the_rendered_drop_in_and_fails_on_a_later_automatic_one(depth):
    ours = {"/etc/needrestart/conf.d/50-baseline.conf": render("hardening", "needrestart.conf.j2")}
    host = _needrestart_host(depth, ours)
    depth.test_services_running_replaced_libraries_are_listed_and_none_restarted(host, EvidenceLog(), _sudo_run(host))
    assert "needrestart -b -r l" in host.commands  # the listing never restarts anything
    later = {**ours, "/etc/needrestart/conf.d/90-local.conf": "$nrconf{restart} = 'a';\n"}
    host = _needrestart_host(depth, later)
    with pytest.raises(AssertionError, match="'a'"):
        depth.test_services_running_replaced_libraries_are_listed_and_none_restarted(host, EvidenceLog(),
                                                                                      _sudo_run(host))
    host = _needrestart_host(depth, {})  # the distribution's default: interactive
    with pytest.raises(AssertionError, match="not 'l'"):
        depth.test_services_running_replaced_libraries_are_listed_and_none_restarted(host, EvidenceLog(),
                                                                                      _sudo_run(host))


def test_needrestart_check_fails_while_services_run_replaced_libraries(depth):
    ours = {"/etc/needrestart/conf.d/50-baseline.conf": render("hardening", "needrestart.conf.j2")}
    host = _needrestart_host(depth, ours, "NEEDRESTART-VER: 3.6\nNEEDRESTART-SVC: ssh.service\n"
                                          "NEEDRESTART-SVC: cron.service\n")
    with pytest.raises(AssertionError, match=r"\['cron.service', 'ssh.service'\]"):
        depth.test_services_running_replaced_libraries_are_listed_and_none_restarted(host, EvidenceLog(),
                                                                                      _sudo_run(host))


# --- IP-05: the integrity database and debsums -------------------------------------------------------------------------

def _aide_host(depth, config: str, spec: str = SPEC, former: bool = False) -> Host:
    def reply(command: str) -> Result:
        if command.startswith("grep -m1 '^@@db_spec' "):
            return Result(0, spec) if command.endswith(depth.AIDE_DB) else Result(2, "", "No such file")
        if command == f"test -e {depth.AIDE_FORMER_DB}":
            return Result(0 if former else 1)
        return Result(1, "", "unexpected")
    return Host({depth.AIDE_CONFIG: (config, 0o600)}, reply)


def test_integrity_database_check_passes_on_the_rendered_configuration(depth):
    config = render("hardening", "aide.conf.j2")
    assert depth.aide_rule_checksums(config) == {"BASELINE": ["sha512"], "ACCOUNTS": ["sha512"]}
    host = _aide_host(depth, config)
    depth.test_integrity_database_where_debian_expects_it_with_sha512(host, EvidenceLog(), _sudo_run(host))


@pytest.mark.parametrize("drift", ["former path", "sha256 rule", "sha256 database", "left behind"])
def test_integrity_database_check_fails_on_each_drift(depth, drift):
    config = render("hardening", "aide.conf.j2")
    spec, former = SPEC, False
    if drift == "former path":
        config = render("hardening", "aide.conf.j2", hardening_aide_db="/var/lib/aide/baseline.db")
    elif drift == "sha256 rule":
        config = render("hardening", "aide.conf.j2", hardening_aide_account_rule="p+n+u+g+s+sha256")
    elif drift == "sha256 database":
        spec = SPEC.replace("sha512", "sha256")
    else:
        former = True
    host = _aide_host(depth, config, spec, former)
    with pytest.raises(AssertionError):
        depth.test_integrity_database_where_debian_expects_it_with_sha512(host, EvidenceLog(), _sudo_run(host))


def test_the_approval_program_and_the_role_name_the_same_database():
    defaults = yaml.safe_load((ROLE / "defaults" / "main.yml").read_text(encoding="utf-8"))
    program = (ROLE / "files" / "baseline-aide-approve").read_text(encoding="utf-8")
    assert defaults["hardening_aide_db"] == "/var/lib/aide/aide.db"
    assert f'DB = "{defaults["hardening_aide_db"]}"' in program
    config = render("hardening", "aide.conf.j2")
    assert "database_in=file:/var/lib/aide/aide.db\n" in config and "database_out=file:/var/lib/aide/aide.db.new\n" in config


def _debsums_host(output: str, rc: int, installed: bool = True) -> Host:
    def reply(command: str) -> Result:
        if command == "debsums -s 2>&1":
            return Result(rc, output)
        if command.startswith("grep -c 'debsums -s' "):
            return Result(0, "1\n")
        return Result(1, "", "unexpected")
    return Host({}, reply, packages=("debsums",) if installed else ())


def test_debsums_check_passes_on_a_clean_host_and_fails_on_a_changed_or_missing_file(depth):
    clean = "debsums: no md5sums for linux-image-6.1.0-18-amd64\n"
    host = _debsums_host(clean, 0)
    depth.test_package_files_match_their_checksums(host, EvidenceLog(), _sudo_run(host))
    changed = "debsums: changed file /usr/bin/tac (from coreutils package)\n"
    host = _debsums_host(changed, 2)
    with pytest.raises(AssertionError, match="/usr/bin/tac"):
        depth.test_package_files_match_their_checksums(host, EvidenceLog(), _sudo_run(host))
    missing = "debsums: missing file /usr/share/zoneinfo/UTC (from tzdata package)\n"
    host = _debsums_host(missing, 2)
    with pytest.raises(AssertionError, match="zoneinfo"):
        depth.test_package_files_match_their_checksums(host, EvidenceLog(), _sudo_run(host))
    host = _debsums_host("", 0, installed=False)
    with pytest.raises(AssertionError, match="not installed"):
        depth.test_package_files_match_their_checksums(host, EvidenceLog(), _sudo_run(host))


def _stand_in(folder: Path, name: str, script: str) -> None:
    path = folder / name
    path.write_text("#!/bin/sh\n" + script)
    path.chmod(path.stat().st_mode | stat.S_IXUSR)


@pytest.mark.parametrize("case", [
    (0, "", 0, 0, False),
    (0, "debsums: changed file /usr/bin/tac (from coreutils package)", 2, 1, True),
    (4, "", 0, 4, False),
    (4, "debsums: missing file /usr/bin/tac (from coreutils package)", 2, 4, True),
])
def test_the_daily_check_runs_debsums_beside_aide(tmp_path, case):
    """The rendered baseline-aide-check, run with stand-ins: a package file that changed is logged as an alert and
    makes the check fail even when AIDE found nothing. case: aide's exit, debsums' message and exit, the check's
    exit, whether an alert is logged."""
    aide_rc, debsums_out, debsums_rc, wanted_rc, alert = case
    log = tmp_path / "log"
    _stand_in(tmp_path, "aide", f"exit {aide_rc}\n")
    _stand_in(tmp_path, "debsums", f"[ \"$1\" = -s ] || exit 9\necho '{debsums_out}' >&2\nexit {debsums_rc}\n")
    _stand_in(tmp_path, "logger", f"echo \"$*\" >> {log}\ncat >> {log} 2>/dev/null || true\n")
    script = tmp_path / "baseline-aide-check"
    script.write_text(render("hardening", "aide-check.sh.j2"))
    run = subprocess.run(["/bin/sh", str(script)], capture_output=True, text=True, check=False, stdin=subprocess.DEVNULL,
                         env={**os.environ, "PATH": f"{tmp_path}:/usr/bin:/bin"})
    logged = log.read_text() if log.exists() else ""
    assert run.returncode == wanted_rc, (run.stdout, run.stderr, logged)
    assert ("package file check found differences" in logged) is alert, logged
    if alert:
        assert "/usr/bin/tac" in logged
    else:
        assert "package file check: no differences" in logged


# --- RI-01: pam_tmpdir ------------------------------------------------------------------------------------------------

def _tmpdir_run(depth, monkeypatch, stacks: dict[str, str], session: str):
    host = Host({p: (t, 0o644) for p, t in stacks.items()})
    calls = []

    def client(config, name, options=(), command=(), timeout=30.0):
        calls.append(command)
        return 0, session, ""
    monkeypatch.setattr(depth, "ssh_client", client)
    depth.test_each_session_gets_its_own_temporary_directory(host, EvidenceLog())
    assert calls == [(depth.SESSION_PROBE,)]


def test_tmpdir_check_passes_with_the_line_the_role_adds_and_a_private_directory(depth, monkeypatch):
    stacks = {p: SESSION + TMPDIR_LINE for p in depth.SESSION_STACKS}
    good = "uid=1000\nuser=baseline\ntmpdir=/tmp/user/1000\ntmp=/tmp/user/1000\ndir=700 baseline\n"
    _tmpdir_run(depth, monkeypatch, stacks, good)
    without = {**stacks, "/etc/pam.d/common-session": SESSION}
    with pytest.raises(AssertionError, match="common-session"):
        _tmpdir_run(depth, monkeypatch, without, "uid=1000\nuser=baseline\ntmpdir=\ntmp=\n")
    with pytest.raises(AssertionError, match="TMPDIR"):
        _tmpdir_run(depth, monkeypatch, stacks, "uid=1000\nuser=baseline\ntmpdir=\ntmp=\n")
    with pytest.raises(AssertionError, match="1777"):
        _tmpdir_run(depth, monkeypatch, stacks, good.replace("dir=700 baseline", "dir=1777 root"))


# --- AU-01: process accounting, OP-01: sysstat ---------------------------------------------------------------------------

def _unit_host(state: dict[str, str], answer, files=None, packages=("acct", "sysstat")) -> Host:
    def reply(command: str) -> Result:
        if command.startswith("systemctl show "):
            return Result(0, "".join(f"{k}={v}\n" for k, v in state.items()))
        return answer(command)
    return Host(files or {}, reply, packages)


RUNNING = {"ActiveState": "active", "UnitFileState": "enabled", "LoadState": "loaded"}


def test_process_accounting_check_needs_records_written_by_an_active_service(depth):
    grows = lambda command: Result(0, "1024 1216\n")  # noqa: E731
    host = _unit_host(RUNNING, grows)
    depth.test_process_accounting_records_every_process(host, EvidenceLog(), None, _sudo_run(host))
    host = _unit_host({**RUNNING, "ActiveState": "inactive", "UnitFileState": "disabled"}, grows)
    with pytest.raises(AssertionError, match="inactive"):
        depth.test_process_accounting_records_every_process(host, EvidenceLog(), None, _sudo_run(host))
    host = _unit_host(RUNNING, lambda command: Result(0, "1024 1024\n"))
    with pytest.raises(AssertionError, match="did not grow"):
        depth.test_process_accounting_records_every_process(host, EvidenceLog(), None, _sudo_run(host))


def _sysstat_answer(command: str, opened: str = "") -> Result:
    if "systemctl start sysstat-collect.service" in command:
        return Result(0, "before=/var/log/sysstat/sa02 4096\nafter=/var/log/sysstat/sa02 6144\nsar=ok\n")
    if command.startswith("find /var/log/sysstat "):
        return Result(0, opened)
    return Result(1, "", "unexpected")


# The end of Debian 12's /etc/sysstat/sysstat, and as the role leaves it.
SYSSTAT_CONF = "SA_DIR=/var/log/sysstat\nZIP=\"xz\"\n# files readable for all users by default\nUMASK=0022\n"
SYSSTAT_OURS = SYSSTAT_CONF.replace("UMASK=0022", "UMASK=0027")


def test_activity_check_passes_on_the_rendered_switch_and_fails_when_collection_stops(depth):
    switch = {depth.SYSSTAT_DEFAULT: (render("hardening", "sysstat-default.j2"), 0o644),
              depth.SYSSTAT_CONFIG: (SYSSTAT_OURS, 0o644)}
    host = _unit_host(RUNNING, _sysstat_answer, switch)
    depth.test_activity_history_is_collected(host, EvidenceLog(), _sudo_run(host))
    host = _unit_host({**RUNNING, "ActiveState": "inactive", "UnitFileState": "disabled"}, _sysstat_answer, switch)
    with pytest.raises(AssertionError, match="disabled"):
        depth.test_activity_history_is_collected(host, EvidenceLog(), _sudo_run(host))
    off = {**switch, depth.SYSSTAT_DEFAULT: (switch[depth.SYSSTAT_DEFAULT][0].replace('"true"', '"false"'), 0o644)}
    host = _unit_host(RUNNING, _sysstat_answer, off)
    with pytest.raises(AssertionError, match="ENABLED"):
        depth.test_activity_history_is_collected(host, EvidenceLog(), _sudo_run(host))
    still = lambda command: Result(0, "before=/var/log/sysstat/sa02 4096\nafter=/var/log/sysstat/sa02 4096\nsar=ok\n")  # noqa: E731
    host = _unit_host(RUNNING, still, switch)
    with pytest.raises(AssertionError, match="no sample"):
        depth.test_activity_history_is_collected(host, EvidenceLog(), _sudo_run(host))
    readable = {**switch, depth.SYSSTAT_CONFIG: (SYSSTAT_CONF, 0o644)}
    host = _unit_host(RUNNING, _sysstat_answer, readable)
    with pytest.raises(AssertionError, match="UMASK=0022"):
        depth.test_activity_history_is_collected(host, EvidenceLog(), _sudo_run(host))
    host = _unit_host(RUNNING, lambda command: _sysstat_answer(command, "/var/log/sysstat/sa01\n"), switch)
    with pytest.raises(AssertionError, match="sa01"):
        depth.test_activity_history_is_collected(host, EvidenceLog(), _sudo_run(host))
