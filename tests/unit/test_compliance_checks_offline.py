"""The compliance checks run against a fake testinfra host that records every command it is sent: no vault value
ever appears on a command line (nor in the evidence), and checks over an empty list never pass vacuously.

No lab needed: the fake host answers every command with a failure unless a test says otherwise, which is enough
to drive the checks through the code that builds their commands.
"""

from __future__ import annotations

import importlib.util
import json
import os
import secrets as pysecrets
import shlex
import subprocess
import sys
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path

import pytest

from baseline import REPO_ROOT
from baseline.accounts import initial_password
from baseline.compliance import HostVars
from baseline.compliance_plugin import NOT_APPLICABLE_PREFIX, EvidenceLog

LINUX = REPO_ROOT / "compliance_tests" / "linux"
DATABASES = REPO_ROOT / "compliance_tests" / "databases"
for suite_dir in (LINUX, DATABASES):
    if str(suite_dir) not in sys.path:
        sys.path.insert(0, str(suite_dir))

import dbcheck  # noqa: E402
import linuxcheck  # noqa: E402
from hoststdin import StdinResult  # noqa: E402

SECRET_NAMES = [line.strip() for line in (REPO_ROOT / "baseline/lab/secret-variables.txt").read_text().splitlines()
                if line.strip() and not line.startswith("#")]


@pytest.fixture(autouse=True)
def _suite_markers(request):
    """The database suites mark their module with asset_kind, a marker the compliance plugin registers."""
    request.config.addinivalue_line("markers", "asset_kind(kind): linux, postgresql, mariadb or network")


def _load(path: Path, name: str):
    """Import a suite module under a private name, with an inventory that has no hosts (no lab is read)."""
    saved = os.environ.get("BASELINE_INVENTORY")
    os.environ["BASELINE_INVENTORY"] = str(REPO_ROOT / "tests" / "unit" / "no-such-inventory")
    try:
        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    finally:
        if saved is None:
            os.environ.pop("BASELINE_INVENTORY", None)
        else:
            os.environ["BASELINE_INVENTORY"] = saved
    return module


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
    host, evidence = FakeHost(), EvidenceLog()
    with pytest.raises((AssertionError, linuxcheck.CommandError, ValueError)):
        getattr(suite, check)(host, "10.231.0.12", policy, evidence)  # the fake host refuses everything
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
    _assert_not_applicable(lambda: accounts.test_departed_staff_key_is_refused(policy, EvidenceLog()))
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
