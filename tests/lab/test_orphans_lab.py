"""`baseline orphans` on the hardened lab (AC-02 on every asset): no orphan account anywhere after the demo; an
account added by hand on app1 and a PostgreSQL login role made by hand on db1 are both found, with where they were
read, written as failing AC-02 records and shown as red lines of the daily inspection, whose results carry the same
AC-02 records; both are removed again whatever happens."""

from __future__ import annotations

import json
import os
import subprocess

import pytest
from lab_run import BIN, on

from baseline import REPO_ROOT
from baseline.operations.orphans import CHECK
from baseline.results import read_results

pytestmark = pytest.mark.lab
USER = "intruder"
ROLE = "stray_login"


def orphans(*args: str) -> tuple[subprocess.CompletedProcess, dict]:
    """`baseline orphans --json ARGS...` on the lab inventory (the default), its exit status and printed JSON."""
    env = {k: v for k, v in os.environ.items() if k not in ("BASELINE_INVENTORY", "BASELINE_SSH_CONFIG")}
    proc = subprocess.run([str(BIN / "baseline"), "orphans", "--json", *args], cwd=REPO_ROOT, env=env,
                          capture_output=True, text=True, timeout=600, check=False)
    try:
        printed = json.loads(proc.stdout)
    except json.JSONDecodeError:
        raise AssertionError(f"baseline orphans printed no JSON (exit {proc.returncode}):\n{proc.stdout}\n"
                             f"{proc.stderr}") from None
    return proc, printed


def inspection(tmp_path) -> subprocess.CompletedProcess:
    """`baseline inspect` of the lab inventory into tmp_path/inspection."""
    env = {k: v for k, v in os.environ.items() if k not in ("BASELINE_INVENTORY", "BASELINE_SSH_CONFIG")}
    return subprocess.run([str(BIN / "baseline"), "inspect", "--out", str(tmp_path / "inspection"),
                           "--results-file", str(tmp_path / "inspection.jsonl")], cwd=REPO_ROOT, env=env,
                          capture_output=True, text=True, timeout=600, check=False)


def psql(sql: str) -> str:
    return on("db1", f"cd / && sudo -n -u postgres psql -XAt -v ON_ERROR_STOP=1 -c \"{sql}\"")


def test_the_hardened_lab_has_no_orphan_account(demo_run, tmp_path):
    results = tmp_path / "orphans.jsonl"
    proc, printed = orphans("--results-file", str(results))
    assert printed["not_verified"] == [], printed["not_verified"]
    assert printed["findings"] == [], printed["findings"]
    assert proc.returncode == 0, proc.stderr
    kinds = {(c["asset"], c["kind"]) for c in printed["checked"]}
    assert {("app1", "server"), ("db1", "server"), ("db1", "postgresql"), ("db2", "mariadb")} <= kinds
    assert any(kind == "network" for _, kind in kinds), "the lab's simulated devices are read too"
    records = list(read_results([results]))
    assert records and {r.outcome for r in records} == {"pass"}
    assert all(r.control_ids == ["AC-02"] and r.check == CHECK for r in records)


def test_an_account_and_a_login_role_made_by_hand_are_found_with_where(demo_run, tmp_path):
    results = tmp_path / "orphans.jsonl"
    try:
        on("app1", f"sudo -n useradd -m -s /bin/bash {USER}")
        psql(f"CREATE ROLE {ROLE} LOGIN")
        proc, printed = orphans("--results-file", str(results))
        assert proc.returncode == 1, proc.stderr
        found = {(f["asset"], f["kind"], f["account"]): f for f in printed["findings"]}
        assert set(found) == {("app1", "server", USER), ("db1", "postgresql", ROLE)}, printed["findings"]
        user, role = found[("app1", "server", USER)], found[("db1", "postgresql", ROLE)]
        assert user["why"] == role["why"] == "not in the roster"
        assert user["where"].startswith("getent passwd: uid ") and "shell /bin/bash" in user["where"]
        assert role["where"] == "psql as postgres: pg_roles: rolcanlogin"
        failed = {(r.asset, r.asset_kind): r for r in read_results([results]) if r.outcome == "fail"}
        assert set(failed) == {("app1", "linux"), ("db1", "postgresql")}
        assert failed[("app1", "linux")].evidence[0].observed["account"] == USER
        assert failed[("app1", "linux")].evidence[0].command == user["where"]
        assert failed[("db1", "postgresql")].evidence[0].observed["account"] == ROLE
        # the daily inspection (OP-01) shows the same accounts as red lines of their assets
        shown = inspection(tmp_path)
        assert shown.returncode == 1, shown.stderr[-2000:]
        report = json.loads(next((tmp_path / "inspection").glob("inspection-*.json")).read_text(encoding="utf-8"))
        red = {(x["asset"], x["item"]): x for x in report["lines"] if x["kind"] == "accounts" and x["status"] == "red"}
        assert set(red) == {("app1", "server"), ("db1", "postgresql")}, red
        assert USER in red[("app1", "server")]["value"] and ROLE in red[("db1", "postgresql")]["value"]
        # ... and its results carry the same AC-02 records, from its own survey (verify and the demo survey once)
        from_inspection = [r for r in read_results([tmp_path / "inspection.jsonl"]) if r.control_ids == ["AC-02"]]
        assert {(r.asset, r.asset_kind) for r in from_inspection if r.outcome == "fail"} == set(failed)
        assert {(r.asset, r.asset_kind) for r in from_inspection} == {
            (r.asset, r.asset_kind) for r in read_results([results])}
    finally:
        on("app1", f"sudo -n userdel -r {USER} 2>/dev/null || true")
        psql(f"DROP ROLE IF EXISTS {ROLE}")
    proc, printed = orphans("--limit", "app1", "--limit", "db1")
    assert (proc.returncode, printed["findings"]) == (0, []), "nothing left behind"
