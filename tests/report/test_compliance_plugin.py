"""The result-capture plugin (baseline/compliance_plugin.py), run inside pytester: no real hosts needed."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from baseline.compliance_plugin import asset_from_host_id
from baseline.results import read_results

pytest_plugins = ["pytester"]

SUITE = '''
import pytest
from baseline.compliance_plugin import not_applicable, not_verifiable

ASSET_KIND = "postgresql"

@pytest.fixture()
def broken():
    raise RuntimeError("cannot reach the database")

@pytest.mark.control("DB-01")
def test_passes(evidence):
    evidence.record(command="SHOW password_encryption", observed="scram-sha-256", expected="scram-sha-256")

@pytest.mark.control("DB-01", "DB-04")
def test_fails(evidence):
    evidence.record(command="SELECT rolname FROM pg_roles WHERE rolname = 'test'", observed="test", expected="")
    assert False, "default account test exists"

@pytest.mark.control("DB-02")
def test_setup_error(broken):
    pass

@pytest.mark.control("DB-03")
def test_not_applicable():
    not_applicable("no remote listener on this server")

@pytest.mark.control("DB-05")
def test_not_verifiable():
    not_verifiable("pg_hba.conf is not readable by the audit account")

@pytest.mark.control("DB-06")
def test_plain_skip():
    pytest.skip("pgaudit package missing")

@pytest.mark.control("DB-06")
@pytest.mark.skipif(True, reason="not applicable: MariaDB only")
def test_skipif_not_applicable():
    pass

@pytest.mark.control("DB-06")
@pytest.mark.xfail(reason="known weakness")
def test_expected_failure():
    assert False

@pytest.mark.control("IA-02")
@pytest.mark.asset_kind("linux")
@pytest.mark.asset("db1")
def test_marked_asset_and_kind():
    pass

def test_without_control():
    pass
'''


def run_suite(pytester: pytest.Pytester, source: str, *args: str) -> tuple[pytest.RunResult, list]:
    pytester.makepyfile(test_suite=source)
    out = pytester.path / "out.jsonl"
    run = pytester.runpytest("-p", "baseline.compliance_plugin", "--strict-markers", "--results-file", str(out), *args)
    return run, list(read_results([out])) if out.exists() else []


def test_outcomes_evidence_and_markers(pytester):
    run, records = run_suite(pytester, SUITE)
    by_name = {r.check.split("::")[-1]: r for r in records}
    assert {name: r.outcome for name, r in by_name.items()} == {
        "test_passes": "pass", "test_fails": "fail", "test_setup_error": "error",
        "test_not_applicable": "not_applicable", "test_not_verifiable": "not_verifiable",
        "test_plain_skip": "not_verifiable", "test_skipif_not_applicable": "not_applicable",
        "test_expected_failure": "fail", "test_marked_asset_and_kind": "pass",
    }
    assert "test_without_control" not in by_name
    assert by_name["test_fails"].control_ids == ["DB-01", "DB-04"]
    assert "default account test exists" in by_name["test_fails"].reason
    assert by_name["test_fails"].evidence[0].observed == "test"
    assert by_name["test_passes"].evidence[0].command == "SHOW password_encryption"
    assert "cannot reach the database" in by_name["test_setup_error"].reason
    assert by_name["test_not_applicable"].reason == "no remote listener on this server"
    assert by_name["test_not_verifiable"].reason == "pg_hba.conf is not readable by the audit account"
    assert by_name["test_plain_skip"].reason == "pgaudit package missing"
    assert by_name["test_skipif_not_applicable"].reason == "MariaDB only"
    assert by_name["test_passes"].asset_kind == "postgresql"  # module-level ASSET_KIND
    assert (by_name["test_marked_asset_and_kind"].asset, by_name["test_marked_asset_and_kind"].asset_kind) == ("db1", "linux")
    assert len({r.run_id for r in records}) == 1 and all(r.duration_s >= 0 for r in records)
    run.stdout.fnmatch_lines(["compliance results: *out.jsonl*", "*1 test(s) without @pytest.mark.control*"])


def test_assets_from_testinfra_hosts_without_connecting(pytester):
    source = '''
import pytest

@pytest.mark.control("IA-01")
def test_identity(host, evidence):
    evidence.record(command="(not run)", observed=host.backend.get_pytest_id())
'''
    _, records = run_suite(pytester, source, "--hosts=ssh://app1,paramiko://db1,ssh://automation@log1:22")
    assert sorted(r.asset for r in records) == ["app1", "db1", "log1"]
    assert all(r.outcome == "pass" and r.asset_kind == "linux" for r in records)


def test_asset_fixture_and_default_results_path(pytester):
    source = '''
import pytest

@pytest.fixture()
def asset():
    return "sw1"

@pytest.mark.control("NW-03")
@pytest.mark.asset_kind("network")
def test_ssh_only(asset, evidence):
    evidence.record(command="display current-configuration", observed="x" * 20000)
'''
    pytester.makepyfile(test_suite=source)
    pytester.runpytest("-p", "baseline.compliance_plugin", "--run-id", "audit-1")
    files = list((pytester.path / "results").glob("*.jsonl"))
    assert [f.name for f in files] == ["audit-1.jsonl"]
    (record,) = read_results(files)
    assert (record.asset, record.asset_kind, record.run_id) == ("sw1", "network", "audit-1")
    assert len(record.evidence[0].observed) < 9000 and "clipped" in record.evidence[0].observed


def test_local_testinfra_host_is_this_machine(pytester):
    source = '''
import pytest

@pytest.mark.control("IA-01")
def test_uname(host, evidence):
    out = host.check_output("uname -s")
    evidence.record(command="uname -s", observed=out, expected="Linux")
    assert out == "Linux"
'''
    _, records = run_suite(pytester, source, "--hosts=local://")
    assert [(r.asset, r.outcome, r.evidence[0].observed) for r in records] == [(socket.gethostname(), "pass", "Linux")]


def test_xdist_workers_append_to_one_file_with_one_run_id(pytester):
    source = "\n".join(f'''
import pytest
@pytest.mark.control("IA-0{i}")
def test_{i}():
    pass
''' for i in range(1, 7))
    _, records = run_suite(pytester, source, "-n", "2")
    assert len(records) == 6 and len({r.run_id for r in records}) == 1


@pytest.mark.parametrize(("host_id", "asset"), [
    ("ssh://app1", "app1"), ("paramiko://db1", "db1"), ("ssh://automation@log1:2222", "log1"),
    ("ansible://bak1", "bak1"), ("kern1", "kern1"), ("ssh://[fe80::1]", "fe80::1"),
])
def test_asset_names_from_testinfra_host_ids(host_id, asset):
    assert asset_from_host_id(host_id) == asset


def test_results_are_readable_by_the_report(pytester, tmp_path: Path):
    _, records = run_suite(pytester, SUITE)
    from report_support import assets, catalog_with, cell, make_report

    report = make_report(records, catalog_with(automated=("DB-01", "DB-04", "DB-02", "DB-05")),
                         assets(("db1", "postgresql"), (socket.gethostname(), "postgresql")))
    host = f"{socket.gethostname()}/postgresql"
    assert cell(report, "DB-01", host).verdict == "partial"  # test_passes + test_fails
    assert cell(report, "DB-02", host).verdict == "not_met"  # setup error is never a pass
    assert cell(report, "DB-05", host).verdict == "not_verified"


# --- read-only runs and the method of each check ---------------------------------------------------------------------

READ_ONLY_SUITE = '''
import pytest

MADE = []  # what the checks' own fixtures made on the "host"

@pytest.fixture(autouse=True)
def kernel_host_scope(request):
    """As compliance_tests/linux/conftest.py: decides only whether the check applies here."""
    if request.node.name.endswith("_on_the_kernel_host"):
        pytest.skip("not applicable: the kernel-level host carries only the kernel controls")

@pytest.fixture()
def probe_account():
    MADE.append("probe account")
    yield "bltest1"
    MADE.append("probe account removed")

@pytest.mark.control("IA-02")
@pytest.mark.method("probe")
@pytest.mark.intrusive("a probe account; passwd attempts in the auth log")
def test_passwd_refuses_a_short_password(probe_account, evidence):
    MADE.append("passwd run")

@pytest.mark.control("IA-04")
@pytest.mark.method("probe")
@pytest.mark.intrusive("failed logins that count against the lockout")
def test_lockout_on_the_kernel_host(probe_account):
    MADE.append("logins")

@pytest.mark.control("IA-02")
@pytest.mark.method("config")
def test_pwquality_file(evidence):
    evidence.record(command="cat pwquality.conf", observed={"made": list(MADE)}, expected={"made": []})
    assert MADE == [], MADE

@pytest.mark.control("AU-02")
@pytest.mark.method("state")
def test_chronyc_tracking():
    pass
'''


@pytest.mark.parametrize("how", ["option", "environment"])
def test_read_only_run_leaves_out_intrusive_checks_and_says_so(pytester, monkeypatch, how):
    if how == "environment":
        monkeypatch.setenv("BASELINE_READ_ONLY", "1")
    run, records = run_suite(pytester, READ_ONLY_SUITE, *(["--read-only"] if how == "option" else []))
    by_name = {r.check.split("::")[-1]: r for r in records}
    probe = by_name["test_passwd_refuses_a_short_password"]
    assert (probe.outcome, probe.reason, probe.method) == (
        "not_verifiable", "read-only run: not run, it would change the host (a probe account; passwd attempts in "
        "the auth log)", "probe")
    # the autouse fixture ran first: a check that does not apply stays not applicable
    kernel = by_name["test_lockout_on_the_kernel_host"]
    assert (kernel.outcome, kernel.reason) == ("not_applicable", "the kernel-level host carries only the kernel controls")
    # the non-intrusive checks ran, and nothing was made before them (the probe's fixture never ran)
    assert (by_name["test_pwquality_file"].outcome, by_name["test_pwquality_file"].method) == ("pass", "config")
    assert by_name["test_pwquality_file"].evidence[0].observed == {"made": []}
    assert (by_name["test_chronyc_tracking"].outcome, by_name["test_chronyc_tracking"].method) == ("pass", "state")
    run.stdout.fnmatch_lines([
        "*read-only run: 1 check(s) that would change the host were not run (recorded as not_verifiable):",
        "*test_suite.py::test_passwd_refuses_a_short_password: a probe account; passwd attempts in the auth log",
    ])


def test_without_read_only_intrusive_checks_run(pytester, monkeypatch):
    monkeypatch.setenv("BASELINE_READ_ONLY", "0")
    run, records = run_suite(pytester, READ_ONLY_SUITE.replace("assert MADE == [], MADE", "pass"))
    assert {r.check.split("::")[-1]: r.outcome for r in records} == {
        "test_passwd_refuses_a_short_password": "pass", "test_lockout_on_the_kernel_host": "not_applicable",
        "test_pwquality_file": "pass", "test_chronyc_tracking": "pass"}
    assert "read-only run" not in run.stdout.str()


def test_read_only_under_xdist_lists_what_the_workers_left_out(pytester):
    run, records = run_suite(pytester, READ_ONLY_SUITE.replace("assert MADE == [], MADE", "pass"), "--read-only",
                             "-n", "2")
    outcomes = {r.check.split("::")[-1]: r.outcome for r in records}
    assert outcomes == {"test_passwd_refuses_a_short_password": "not_verifiable",
                        "test_lockout_on_the_kernel_host": "not_applicable", "test_pwquality_file": "pass",
                        "test_chronyc_tracking": "pass"}
    run.stdout.fnmatch_lines(["*read-only run: 1 check(s) that would change the host were not run*",
                              "*test_passwd_refuses_a_short_password: a probe account*"])


def test_unknown_method_is_an_error_and_an_unmarked_method_is_empty(pytester):
    source = '''
import pytest

@pytest.mark.control("IA-01")
@pytest.mark.method("guesswork")
def test_unknown():
    pass

@pytest.mark.control("IA-01")
def test_unmarked():
    pass
'''
    _, records = run_suite(pytester, source)
    by_name = {r.check.split("::")[-1]: r for r in records}
    assert by_name["test_unknown"].outcome == "error" and "method 'guesswork'" in by_name["test_unknown"].reason
    assert (by_name["test_unmarked"].outcome, by_name["test_unmarked"].method) == ("pass", "")


def test_read_only_keeps_the_asset_kind_an_autouse_fixture_sets(pytester):
    """As compliance_tests/databases/test_db_backups.py: the engine (and the record's asset kind) comes from an autouse
    fixture, which still runs before the read-only guard, so the left-out check lands in its database's cell."""
    source = '''
import pytest

@pytest.fixture(autouse=True)
def engine(request):
    request.node.add_marker(pytest.mark.asset_kind("postgresql"))
    return "postgresql"

@pytest.mark.control("BR-02")
@pytest.mark.method("state")
@pytest.mark.intrusive("restic takes a lock in the off-site repository")
def test_off_site_copy(engine):
    pass
'''
    _, records = run_suite(pytester, source, "--read-only")
    assert [(r.asset_kind, r.outcome) for r in records] == [("postgresql", "not_verifiable")]
