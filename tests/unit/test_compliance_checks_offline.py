"""The compliance checks run against a fake testinfra host that records every command it is sent: no vault value
ever appears on a command line (nor in the evidence), and checks over an empty list never pass vacuously.

No lab needed: the fake host answers every command with a failure unless a test says otherwise, which is enough
to drive the checks through the code that builds their commands.
"""

from __future__ import annotations

import json
import secrets as pysecrets
import shlex
import subprocess
import sys
from contextlib import contextmanager
from dataclasses import asdict, dataclass

import pytest
from suite_modules import load_suite

from baseline import REPO_ROOT
from baseline.accounts import initial_password
from baseline.compliance import HostVars
from baseline.compliance_plugin import NOT_APPLICABLE_PREFIX, EvidenceLog
from baseline.secrets import secret_variable_names

LINUX = REPO_ROOT / "compliance_tests" / "linux"
DATABASES = REPO_ROOT / "compliance_tests" / "databases"
for suite_dir in (LINUX, DATABASES):
    if str(suite_dir) not in sys.path:
        sys.path.insert(0, str(suite_dir))

import dbcheck  # noqa: E402
import linuxcheck  # noqa: E402

from baseline.hoststdin import StdinResult  # noqa: E402

SECRET_NAMES = secret_variable_names("servers")  # baseline/secret-variables.txt


@pytest.fixture(autouse=True)
def _suite_markers(request):
    """Markers the compliance plugin registers: the database suites mark their module with asset_kind, every check
    says how it verifies (method) and what it changes on the host (intrusive)."""
    request.config.addinivalue_line("markers", "asset_kind(kind): linux, postgresql, mariadb or network")
    request.config.addinivalue_line("markers", "method(kind): probe, state, config or record")
    request.config.addinivalue_line("markers", "intrusive(what): the check changes the host while it runs")


_load = load_suite


@dataclass
class Result:
    rc: int = 1
    stdout: str = ""
    stderr: str = ""
    command: str = ""

    @property
    def succeeded(self) -> bool:
        return self.rc == 0


class _Backend:
    hostname = "fake1"

    @staticmethod
    def get_connection_type() -> str:
        return "fake"


class _File:
    def __init__(self, host: FakeHost, path: str):
        host.commands.append(f"<stat/read {path}>")
        self.path, self.exists, self.mode, self.content_string = path, False, 0o600, ""


class _Named:
    def __init__(self, name: str):
        self.name, self.exists, self.is_installed, self.is_running = name, True, True, True


class FakeHost:
    """Records every command line; answers with `answer(command)` (default: a failure with empty output)."""

    def __init__(self, answer=None):
        self.commands: list[str] = []
        self.backend = _Backend()
        self.answer = answer or (lambda command: Result(1, "", "", command))

    def run(self, command: str, *args: str) -> Result:
        line = command % tuple(shlex.quote(a) for a in args) if args else command
        self.commands.append(line)
        return self.answer(line)

    def check_output(self, command: str, *args: str) -> str:
        return self.run(command, *args).stdout.strip() or "0"

    @contextmanager
    def sudo(self, user=None):
        yield

    def file(self, path: str) -> _File:
        return _File(self, path)

    def user(self, name: str) -> _Named:
        return _Named(name)

    def package(self, name: str) -> _Named:
        return _Named(name)

    def service(self, name: str) -> _Named:
        return _Named(name)


class StdinRecorder:
    """Stands in for hoststdin.run_with_stdin: records the command line and the stdin data; runs a Python program
    sent to `python3 -` on this machine (the RI-01 scan), answers anything else with a refusal."""

    def __init__(self):
        self.calls: list[tuple[str, str]] = []

    def __call__(self, host, command: str, data, timeout: float = 900) -> StdinResult:
        text = data.decode() if isinstance(data, bytes) else data
        host.commands.append(command)
        self.calls.append((command, text))
        if command.endswith("python3 -"):
            proc = subprocess.run([sys.executable, "-"], input=text, capture_output=True, text=True, timeout=120,
                                  check=False)
            return StdinResult(proc.returncode, proc.stdout, proc.stderr, command)
        return StdinResult(1, "", "ERROR: refused by the fake host", command)


def _sudo_run(host: FakeHost):
    def run(command: str, *args: str):
        with host.sudo():
            return host.run(command, *args)
    return run


def _evidence_text(evidence: EvidenceLog) -> str:
    return json.dumps([asdict(item) for item in evidence.items], ensure_ascii=False, default=str)


STAFF = [{"username": "zhangwei", "role": "system_admin", "status": "active"},
         {"username": "wangfang", "role": "audit_admin", "status": "active"},
         {"username": "sunhao", "role": "system_admin", "status": "departed"}]


def _policy(extra: dict | None = None) -> tuple[HostVars, list[str]]:
    """Inventory variables with a known value for every vault variable; returns them and every secret derived."""
    values = {name: f"Vault#{index}-{pysecrets.token_hex(8)}" for index, name in enumerate(SECRET_NAMES)}
    base = {**values, "staff": STAFF, "automation_user": "automation", "admin_networks": ["10.231.0.0/24"],
            "ansible_host": "10.231.0.99", "password_min_length": 10, "password_require_special": True,
            "password_require_letter": True, "login_max_failures": 5, "database_name": "credit",
            "database_accounts": [
                {"name": "credit_app", "purpose": "application", "password_variable": "db_credit_app_password",
                 "grants": {"public_notice": ["SELECT"]}},
                {"name": "credit_query", "purpose": "read_only", "password_variable": "db_credit_query_password",
                 "grants": {"public_notice": ["SELECT"]}}],
            "database_tables": [{"name": "enterprise_credit", "sensitive": True},
                                {"name": "public_notice", "sensitive": False}],
            **(extra or {})}
    derived = list(values.values())
    seed = values.get("accounts_initial_password_seed")
    if seed:
        derived += [initial_password(seed, p["username"]) for p in STAFF if p["status"] == "active"]
    return HostVars("fake1", base), derived


def _assert_no_secret(secrets: list[str], host: FakeHost, evidence: EvidenceLog):
    shown = _evidence_text(evidence)
    for secret in secrets:
        assert not [c for c in host.commands if secret in c], "a vault value went onto a command line"
        assert secret not in shown, "a vault value went into the evidence"


# --- RI-01: the secret scan ---------------------------------------------------------------------------------------------


@pytest.fixture()
def hardening(monkeypatch, tmp_path):
    suite = _load(LINUX / "test_hardening.py", "offline_test_hardening")
    recorder = StdinRecorder()
    monkeypatch.setattr(suite, "run_with_stdin", recorder)
    roots = (tmp_path / "etc", tmp_path / "home")
    for root in roots:
        root.mkdir()
    monkeypatch.setattr(suite, "RESIDUE_ROOTS", tuple(str(r) for r in roots))
    return suite, recorder, roots


def test_ri01_sends_no_vault_value_and_finds_a_leak(hardening):
    suite, recorder, (etc, _home) = hardening
    policy, secrets = _policy()
    assert secrets, "secret-variables.txt lists no vault variable"
    leaked = etc / "app.conf"
    leaked.write_text(f"token = {secrets[0]}\n")
    leaked.chmod(0o644)
    host, evidence = FakeHost(), EvidenceLog()
    with pytest.raises(AssertionError):
        suite.test_departed_homes_wiped_and_no_secret_in_files(host, policy, evidence, _sudo_run(host))
    _assert_no_secret(secrets, host, evidence)
    assert recorder.calls and all(s not in data for _, data in recorder.calls for s in secrets), \
        "a vault value was sent to the host on stdin (only salted digests may be)"
    observed = evidence.items[-1].observed
    assert observed["files_with_secrets"] == [f"{leaked} (644)"]


def test_ri01_passes_on_a_clean_host_and_allows_a_protected_key_file(hardening):
    suite, recorder, (etc, _home) = hardening
    policy, secrets = _policy()
    (etc / "clean.conf").write_text("nothing = here\n")
    key = etc / "restic-password"
    key.write_text(secrets[0] + "\n")
    key.chmod(0o600)
    host, evidence = FakeHost(), EvidenceLog()
    suite.test_departed_homes_wiped_and_no_secret_in_files(host, policy, evidence, _sudo_run(host))
    _assert_no_secret(secrets, host, evidence)
    assert evidence.items[-1].observed["protected_key_files"] == [f"{key} (600)"]


def test_ri01_scan_error_fails_the_check(hardening, monkeypatch):
    suite, _, _ = hardening
    policy, _ = _policy()
    monkeypatch.setattr(suite, "run_with_stdin", lambda host, command, data: StdinResult(
        2, json.dumps({"found": {}, "errors": ["/etc/x: Input/output error"], "files": 1, "bytes": 1}), "", command))
    host = FakeHost()
    with pytest.raises(linuxcheck.CommandError):
        suite.test_departed_homes_wiped_and_no_secret_in_files(host, policy, EvidenceLog(), _sudo_run(host))


# --- database logins and probe passwords -------------------------------------------------------------------------------

PG_CHECKS = ["test_remote_connection_without_tls_is_refused", "test_remote_connection_uses_verified_tls",
             "test_application_account_cannot_read_a_table_it_was_not_granted", "test_failed_login_is_delayed_and_logged"]
MARIADB_CHECKS = ["test_remote_connection_without_tls_is_refused", "test_remote_connection_uses_verified_tls",
                  "test_application_account_cannot_read_a_table_it_was_not_granted"]


@pytest.mark.parametrize(("suite_file", "check"), [("test_db_postgresql.py", c) for c in PG_CHECKS] +
                         [("test_db_mariadb.py", c) for c in MARIADB_CHECKS])
def test_database_logins_take_the_password_on_stdin(monkeypatch, suite_file, check):
    suite = _load(DATABASES / suite_file, f"offline_{suite_file[:-3]}")
    recorder = StdinRecorder()
    monkeypatch.setattr(dbcheck, "run_with_stdin", recorder)
    policy, secrets = _policy()
    # the fake host refuses everything but the server's version (which names PostgreSQL's log file)
    host = FakeHost(lambda command: Result(0, "170004", "", command) if "server_version_num" in command
                    else Result(1, "", "", command))
    evidence = EvidenceLog()
    with pytest.raises((AssertionError, linuxcheck.CommandError, ValueError)):
        getattr(suite, check)(host, "10.231.0.12", policy, evidence)
    _assert_no_secret(secrets, host, evidence)
    assert recorder.calls, "no login went through stdin"
    assert all("PASSWORD=" not in command and "MYSQL_PWD=" not in command for command, _ in recorder.calls)
    login_passwords = {str(policy[a["password_variable"]]) for a in policy["database_accounts"]}
    if check != "test_failed_login_is_delayed_and_logged":  # that one logs in with a wrong password on purpose
        assert [data for _, data in recorder.calls if data.strip() in login_passwords], \
            "the account's password did not reach the client on stdin"


def test_probe_passwords_go_on_stdin(monkeypatch):
    identification = _load(LINUX / "test_identification.py", "offline_test_identification")
    recorder = StdinRecorder()
    monkeypatch.setattr(identification, "run_with_stdin", recorder)
    host = FakeHost()
    identification._set_password(host, "bltest1", "Probe#Password-123")
    monkeypatch.setattr(dbcheck, "run_with_stdin", recorder)
    dbcheck.psql_local(host, "CREATE ROLE p PASSWORD 'Probe#Password-456'", private=True)
    dbcheck.mariadb_local(host, "CREATE USER 'p'@'localhost' IDENTIFIED BY 'Probe#Password-789'", private=True)
    assert not [c for c in host.commands if "Probe#Password" in c]
    assert [d for _, d in recorder.calls if "Probe#Password" in d] and len(recorder.calls) == 3


# --- empty lists never pass ----------------------------------------------------------------------------------------------


def _no_departed() -> HostVars:
    policy, _ = _policy({"staff": [p for p in STAFF if p["status"] == "active"]})
    return policy


def _assert_not_applicable(call):
    with pytest.raises(pytest.skip.Exception) as skipped:
        call()
    assert str(skipped.value.msg).startswith(NOT_APPLICABLE_PREFIX)


def test_empty_departed_list_is_not_applicable_on_linux():
    accounts = _load(LINUX / "test_accounts.py", "offline_test_accounts")
    host, policy = FakeHost(), _no_departed()
    _assert_not_applicable(lambda: accounts.test_departed_staff_locked_and_keys_gone(
        host, policy, EvidenceLog(), _sudo_run(host), {}))
    _assert_not_applicable(lambda: accounts.test_departed_staff_key_is_refused(policy, EvidenceLog(), None))
    assert host.commands == []


def test_empty_departed_list_is_not_applicable_on_the_databases():
    postgresql = _load(DATABASES / "test_db_postgresql.py", "offline_test_db_postgresql_departed")
    mariadb = _load(DATABASES / "test_db_mariadb.py", "offline_test_db_mariadb_departed")
    host, policy = FakeHost(), _no_departed()
    _assert_not_applicable(lambda: postgresql.test_departed_staff_cannot_log_in(host, policy, EvidenceLog()))
    _assert_not_applicable(lambda: mariadb.test_departed_staff_accounts_are_locked(host, policy, EvidenceLog()))
    assert host.commands == []
    with pytest.raises(ValueError):
        dbcheck.departed_staff(policy)


def test_departed_staff_are_checked_when_listed():
    accounts = _load(LINUX / "test_accounts.py", "offline_test_accounts_listed")
    policy, _ = _policy()

    def answer(command: str) -> Result:
        if command == "getent passwd":
            return Result(0, "root:x:0:0:root:/root:/bin/bash\nsunhao:x:1007:1007::/home/sunhao:/bin/bash\n")
        if command.startswith("date"):
            return Result(0, "1700000000\n")
        if command.startswith("getent shadow"):
            return Result(0, "sunhao:$y$usable:19000:1:90:7:::\n")  # password usable, never expires
        return Result(1)

    host = FakeHost(answer)
    with pytest.raises(AssertionError):
        accounts.test_departed_staff_locked_and_keys_gone(host, policy, EvidenceLog(), _sudo_run(host), {})


# --- AU-03: other users cannot read or delete the logs ---------------------------------------------------------------

DENIED = {"head": "head: cannot open '/var/log/auth.log' for reading: Permission denied",
          "sh -c": "sh: 1: cannot create /var/log/.baseline-probe-x: Permission denied",
          "rm -f": "rm: cannot remove '/var/log/.baseline-probe-x': Permission denied"}


def _log_host(*, nobody=None, logs=("/var/log/auth.log",)) -> FakeHost:
    """A host whose logs are `logs`; what nobody's commands get comes from `nobody(command)` (default: refused)."""
    removed: set[str] = set()

    def answer(command: str) -> Result:
        if command.startswith("test -f "):
            return Result(0 if shlex.split(command)[-1] in logs else 1)
        if command.startswith("install -m "):
            return Result(0, "640 root:adm\n640 root:adm\n")
        if command.startswith("sudo -n -u nobody "):
            result = nobody(command) if nobody else None
            if result is None:
                word = next(w for w in DENIED if w in command)
                result = Result(1, "", DENIED[word])
            if result.rc == 0 and " rm -f -- " in command:
                removed.add(shlex.split(command)[-1])
            return result
        if command.startswith("test -e "):
            return Result(1 if shlex.split(command)[-1] in removed else 0)
        if command.startswith("rm -f -- "):
            return Result(0)
        return Result(1)

    return FakeHost(answer)


@pytest.fixture()
def audit_suite():
    return _load(LINUX / "test_audit.py", "offline_test_audit")


def test_au03_logs_refused_to_nobody_pass_and_only_a_decoy_is_ever_written_or_deleted(audit_suite):
    host, evidence = _log_host(logs=("/var/log/auth.log", "/var/log/sudo.log")), EvidenceLog()
    audit_suite.test_other_users_cannot_read_or_delete_the_logs(host, evidence, _sudo_run(host))
    seen = evidence.items[-1].observed
    assert sorted(seen) == ["/var/log/auth.log", "/var/log/sudo.log"]
    assert all(v["read the log"] == v["append to the decoy"] == v["delete the decoy"] == "refused" for v in seen.values())
    as_nobody = [c for c in host.commands if c.startswith("sudo -n -u nobody ")]
    for log in ("/var/log/auth.log", "/var/log/sudo.log"):  # the log itself is only ever read
        touching = [c for c in as_nobody if f" {log} " in c + " "]
        assert touching == [f"sudo -n -u nobody env LC_ALL=C head -c 1 -- {log} >/dev/null"], touching
    decoys = {shlex.split(c)[-1] for c in as_nobody if "head -c" not in c}
    assert len(decoys) == 2 and all("/.baseline-probe-" in d for d in decoys)
    assert all(f"rm -f -- {d}" in host.commands for d in decoys), "a decoy was left behind"


def test_au03_a_deletable_log_or_a_refusal_that_is_not_the_file_systems_fails(audit_suite):
    def deletes(command):
        return Result(0) if " rm -f -- " in command else None

    host, evidence = _log_host(nobody=deletes), EvidenceLog()
    with pytest.raises(AssertionError):
        audit_suite.test_other_users_cannot_read_or_delete_the_logs(host, evidence, _sudo_run(host))
    seen = evidence.items[-1].observed["/var/log/auth.log"]
    assert seen["decoy left"] is False and seen["delete the decoy"].startswith("not refused (rc 0)")

    def sudo_refuses(command):
        return Result(1, "", "sudo: a password is required")

    host, evidence = _log_host(nobody=sudo_refuses), EvidenceLog()
    with pytest.raises(AssertionError):
        audit_suite.test_other_users_cannot_read_or_delete_the_logs(host, evidence, _sudo_run(host))
    assert evidence.items[-1].observed["/var/log/auth.log"]["read the log"].startswith("not refused")


def test_au03_without_an_auth_log_fails(audit_suite):
    host, evidence = _log_host(logs=()), EvidenceLog()
    with pytest.raises(AssertionError, match="auth.log does not exist"):
        audit_suite.test_other_users_cannot_read_or_delete_the_logs(host, evidence, _sudo_run(host))


# --- AC-03: the audit administrator's role cannot run system-administration commands -----------------------------------


class SudoHost(FakeHost):
    """wangfang (audit administrator) in auditors; sudo as the probe account answers as `policy(command)` says."""

    def __init__(self, allowed: tuple[str, ...] = (), password_ok: bool = True, roster_allowed: tuple[str, ...] = ()):
        super().__init__(self._answer)
        self.allowed, self.password_ok, self.roster_allowed = allowed, password_ok, roster_allowed

    def _answer(self, command: str) -> Result:
        if command == "id -Gn wangfang":
            return Result(0, "wangfang auditors ssh2fa\n")
        if command == "id -gn wangfang":
            return Result(0, "wangfang\n")
        if command.startswith("useradd "):
            return Result(0)
        if command.startswith("sudo -l -U wangfang "):
            path = command.rsplit(maxsplit=1)[-1]
            return Result(0, path + "\n") if path in self.roster_allowed else Result(1)
        return Result(0)

    def sudo_as_probe(self, command: str) -> StdinResult:
        if not self.password_ok:
            return StdinResult(1, "", "Sorry, try again.\nsudo: 1 incorrect password attempt\n", command)
        arguments = command.split("sudo -S -k -p '' ", 1)[1]
        if arguments == "-l":
            return StdinResult(0, "User blaud1 may run the following commands on fake1:\n    (root) /usr/sbin/ausearch\n",
                               "", command)
        if arguments.split()[0] in self.allowed:
            return StdinResult(0, "systemd 252\n", "", command)
        return StdinResult(1, "", f"Sorry, user blaud1 is not allowed to execute '{arguments}' as root on fake1.\n",
                           command)


@pytest.fixture()
def accounts_suite(monkeypatch):
    suite = _load(LINUX / "test_accounts.py", "offline_test_accounts_ac03")
    calls: list[tuple[str, str]] = []

    def fake_stdin(host, command, data, timeout=900):
        calls.append((command, data if isinstance(data, str) else data.decode()))
        host.commands.append(command)
        if command.startswith("sudo -n chpasswd"):
            return StdinResult(0, "", "", command)
        return host.sudo_as_probe(command)

    monkeypatch.setattr(suite, "run_with_stdin", fake_stdin)
    return suite, calls


def _run_ac03(suite, host: SudoHost) -> EvidenceLog:
    policy, _ = _policy()
    evidence = EvidenceLog()
    probe = suite._audit_admin_probe(host, policy, _sudo_run(host))
    made = next(probe)
    try:
        suite.test_audit_administrator_cannot_run_system_administration_commands(host, evidence, _sudo_run(host), made)
    finally:
        probe.close()
    return evidence


def test_ac03_audit_admin_probe_refused_everywhere_passes_and_cleans_up(accounts_suite):
    suite, calls = accounts_suite
    host = SudoHost()
    evidence = _run_ac03(suite, host)
    useradd = next(c for c in host.commands if c.startswith("useradd "))
    name = useradd.split()[-1]
    assert useradd == f"useradd -M -s /usr/sbin/nologin -G auditors,ssh2fa {name}"
    password = next(data for command, data in calls if command.startswith("sudo -n chpasswd")).split(":", 1)[1].strip()
    assert not [c for c in host.commands if password in c], "the probe's password went onto a command line"
    probes = [(c, d) for c, d in calls if "sudo -S -k" in c]
    assert len(probes) == 1 + len(suite.SYSTEM_ADMIN_COMMANDS) and all(d == password + "\n" for _, d in probes)
    tried = evidence.items[0].observed["tried"]
    assert {t["outcome"] for t in tried.values()} == {"refused"}
    assert evidence.items[1].observed == {c: "not permitted" for c, _ in suite.SYSTEM_ADMIN_COMMANDS}
    assert host.commands[-1].startswith(f"pkill -u {name}; userdel -f {name}") and "/var/lib/sudo/lectured/" in \
        host.commands[-1]


@pytest.mark.parametrize("host_args", [
    {"allowed": ("/usr/bin/systemctl",)},  # the audit role may restart services: a fail
    {"password_ok": False},  # sudo never got past the password: proves nothing, never a pass
    {"roster_allowed": ("/usr/bin/dpkg",)},  # the roster's person holds a system-administration right of their own
])
def test_ac03_a_command_that_runs_or_a_failed_password_fails(accounts_suite, host_args):
    suite, _ = accounts_suite
    with pytest.raises(AssertionError):
        _run_ac03(suite, SudoHost(**host_args))


def test_ac03_without_an_audit_administrator_is_not_verifiable(accounts_suite):
    suite, _ = accounts_suite
    policy, _ = _policy({"staff": [p for p in STAFF if p["role"] != "audit_admin"]})
    host = SudoHost()
    with pytest.raises(pytest.skip.Exception, match="no active audit administrator"):
        next(suite._audit_admin_probe(host, policy, _sudo_run(host)))
    assert host.commands == []


# --- IP-05, MP-01: the schedules are read from the timers on the host ----------------------------------------------------

DAILY_AIDE = ("Triggers=baseline-aide.service\nTimersCalendar={ OnCalendar=*-*-* 04:30:00 ; next_elapse=Thu "
              "2026-12-03 04:30:00 UTC }\nActiveState=active\nUnitFileState=enabled\n")
SCAN_EVERY_7 = DAILY_AIDE.replace("baseline-aide", "baseline-clamav-scan").replace("*-*-* 04:30:00", "*-*-01/7 02:00:00")


def _exec_start(program: str) -> str:
    return (f"ExecStart={{ path={program} ; argv[]={program} ; ignore_errors=no ; start_time=[n/a] ; "
            "stop_time=[n/a] ; pid=0 ; code=(null) ; status=0/0 }\n")


def _scheduling_host(timer: str, timer_output: str, program: str, answer=None) -> FakeHost:
    """Answers `systemctl show` of the timer and of its service; everything else goes to `answer`."""
    service = f"{timer.removesuffix('.timer')}.service"

    def respond(command: str) -> Result:
        if command.startswith(f"systemctl show {timer} "):
            return Result(0, timer_output, "", command)
        if command == f"systemctl show {service} -p ExecStart":
            return Result(0, _exec_start(program), "", command)
        return answer(command) if answer else Result(1, "", "", command)
    return FakeHost(respond)


def _aide_answers():
    """aide --check: clean the first time, a changed /usr/bin/tac the second; sha256sum the same before and after."""
    checks = iter([Result(0, "AIDE found NO differences"), Result(4, "f   >    ... : /usr/bin/tac\n")])

    def answer(command: str) -> Result:
        if command.startswith("sha256sum"):
            return Result(0, "ab12  /usr/bin/tac\n", "", command)
        if command.startswith("aide "):
            return next(checks)
        return Result(0, "", "", command)
    return answer


@pytest.mark.parametrize(("timer_output", "passes"), [
    (DAILY_AIDE, True),
    (DAILY_AIDE.replace("=active", "=inactive").replace("=enabled", "=disabled"), False),  # disable --now
    (DAILY_AIDE.replace("*-*-* 04:30:00", "Sun *-*-* 04:30:00"), False),  # weekly only
])
def test_ip05_reads_the_schedule_from_the_timer(hardening, timer_output, passes):
    suite, _, _ = hardening
    host = _scheduling_host("baseline-aide.timer", timer_output, "/usr/local/sbin/baseline-aide-check", _aide_answers())
    evidence = EvidenceLog()
    if passes:
        suite.test_aide_detects_a_changed_binary(host, evidence, _sudo_run(host))
    else:
        with pytest.raises(AssertionError, match="baseline-aide.timer"):
            suite.test_aide_detects_a_changed_binary(host, evidence, _sudo_run(host))
    item = evidence.items[-1]
    assert "systemctl show baseline-aide.timer -p ActiveState -p UnitFileState -p TimersCalendar" in item.command
    assert "systemctl show baseline-aide.service -p ExecStart" in item.command
    assert item.observed["timer"] == timer_output.strip()
    assert "argv[]=/usr/local/sbin/baseline-aide-check" in item.observed["service"]


@pytest.mark.parametrize(("timer_output", "limit", "passes"), [
    (SCAN_EVERY_7, 7, True),
    (SCAN_EVERY_7, 5, False),  # a stricter inventory makes the same host fail
    (SCAN_EVERY_7.replace("=enabled", "=disabled"), 7, False),
    ("ActiveState=inactive\nUnitFileState=\nTimersCalendar=\nTriggers=\n", 7, False),  # not installed
])
def test_mp01_reads_the_scan_schedule_from_the_timer(timer_output, limit, passes):
    suite = _load(LINUX / "test_antimalware.py", "offline_test_antimalware")
    eicar = "{path}: Eicar-Test-Signature FOUND"

    def answer(command: str) -> Result:
        if command.startswith("clamdscan"):
            return Result(1, eicar.format(path=command.rsplit(maxsplit=1)[-1]), "", command)
        return Result(0, "", "", command)
    host = _scheduling_host("baseline-clamav-scan.timer", timer_output, "/usr/local/sbin/baseline-clamav-scan", answer)
    policy, _ = _policy({"malware_scan_interval_days": limit})
    evidence = EvidenceLog()
    if passes:
        suite.test_eicar_is_detected_and_scans_are_scheduled(host, policy, evidence, _sudo_run(host))
    else:
        with pytest.raises(AssertionError, match="baseline-clamav-scan.timer"):
            suite.test_eicar_is_detected_and_scans_are_scheduled(host, policy, evidence, _sudo_run(host))
    item = evidence.items[-1]
    assert "systemctl show baseline-clamav-scan.timer" in item.command
    assert item.observed["timer"] == timer_output.strip()
    assert item.observed["interval_days"] == (7 if "01/7" in timer_output else None)
