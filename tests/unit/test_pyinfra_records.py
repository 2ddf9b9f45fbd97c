"""CM-01 for pyinfra (baseline/pyinfra_records.py): real pyinfra runs on @local whose operations only write into a
temporary directory; each run appends one change record with the Ansible callback's fields to a temporary archive,
whose hash chain verifies."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from baseline import REPO_ROOT
from baseline.operations import changes

SECRET = "Xq7-secret-Value-91"  # noqa: S105 - a test value of a throw-away inventory
PYINFRA = Path(sys.executable).parent / "pyinfra"

DEPLOY = """
from io import StringIO
from pyinfra.operations import files, server
from baseline import pyinfra_records

pyinfra_records.start()
pyinfra_records.start()  # a second call (another deploy file of the run) changes nothing
files.put(name="CM-01 | test file", src=StringIO("hello\\n"), dest="{out}/a.txt", mode="600")
files.directory(name="CM-01 | test directory", path="{out}/d", mode="700")
"""

FAILING = """
from pyinfra.operations import server
from baseline import pyinfra_records

pyinfra_records.start()
server.shell(name="CM-01 | fails", commands=["echo 'refused: {secret}' >&2; exit 3"])
"""


@pytest.fixture
def place(tmp_path: Path) -> Path:
    inventory = tmp_path / "inv"
    inventory.mkdir()
    (inventory / "hosts.yml").write_text(
        "all:\n  children:\n    linux_servers:\n      children:\n        app_servers:\n          hosts:\n"
        f"            ctl:\n              db_credit_app_password: \"{SECRET}\"\n", encoding="utf-8")
    (tmp_path / "out").mkdir()
    return tmp_path


def run(place: Path, deploy: str, *args: str, reason_env: str | None = None) -> subprocess.CompletedProcess:
    path = place / "deploy.py"
    path.write_text(deploy.format(out=place / "out", secret=SECRET), encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if k not in (changes.REASON_ENV, changes.SYSLOG_ENV)}
    env[changes.DIR_ENV] = str(place / "changes")
    if reason_env:
        env[changes.REASON_ENV] = reason_env
    return subprocess.run([str(PYINFRA), "-y", "@local", str(path), "--data", "baseline_host=ctl",
                           "--data", f"baseline_inventory={place / 'inv'}", *args],
                          capture_output=True, text=True, timeout=180, env=env, cwd=REPO_ROOT, check=False)


def records(place: Path) -> list[dict]:
    return changes.archive(place / "changes").read()


def test_a_run_without_a_reason_outside_the_lab_stops_before_any_operation_with_exit_2(place):
    proc = run(place, DEPLOY)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "CM-01: this pyinfra run has no change reason" in proc.stderr
    assert "--data change_reason='...'" in proc.stderr and changes.REASON_ENV in proc.stderr
    assert not (place / "out" / "a.txt").exists() and not (place / "changes").exists()


def test_each_run_appends_one_record_with_its_changes_and_a_second_run_records_none(place):
    first = run(place, DEPLOY, "--data", "change_reason=CR-7: pyinfra test run")
    assert first.returncode == 0, first.stdout + first.stderr
    assert (place / "out" / "a.txt").read_text() == "hello\n"
    second = run(place, DEPLOY, reason_env="CR-8: again")
    assert second.returncode == 0, second.stdout + second.stderr

    one, two = records(place)
    assert one["engine"] == "pyinfra" and one["tool"] == "pyinfra" and one["mode"] == "apply"
    assert one["reason"] == "CR-7: pyinfra test run" and one["reason_source"] == "--data change_reason"
    assert one["result"] == "succeeded" and one["operator"] and one["start"] and one["end"]
    assert one["hosts"] == ["ctl"] and one["assets"] == {"ctl": ["linux"]}
    assert one["inventory"] == [str((place / "inv").resolve())] and one["lab"] is False
    assert one["playbooks"] == [str((place / "deploy.py").resolve())]
    assert [(c["host"], c["task"], c["planned"]) for c in one["changes"]] == [
        ("ctl", "CM-01 | test file", False), ("ctl", "CM-01 | test directory", False)]
    assert "files.upload" in one["changes"][0]["action"]
    assert one["stats"]["ctl"]["changed"] == 2 and one["stats"]["ctl"]["failed"] == 0
    assert one["problems"] == []

    assert two["reason"] == "CR-8: again" and two["reason_source"] == changes.REASON_ENV
    assert two["changes"] == [] and two["stats"]["ctl"]["changed"] == 0 and two["result"] == "succeeded"
    assert changes.main(["--dir", str(place / "changes"), "verify"]) == 0
    assert f"change record {two['id']} (succeeded)" in second.stderr


def test_a_dry_run_records_the_planned_changes_and_changes_nothing(place):
    proc = run(place, DEPLOY, "--dry", reason_env="CR-9: planned")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert not (place / "out" / "a.txt").exists()
    [record] = records(place)
    assert record["mode"] == "check" and record["tool"] == "pyinfra --dry" and record["result"] == "succeeded"
    assert [(c["task"], c["planned"]) for c in record["changes"]] == [
        ("CM-01 | test file", True), ("CM-01 | test directory", True)]


def test_a_failed_operation_is_a_problem_without_the_secret_and_fails_the_record(place):
    proc = run(place, FAILING, reason_env="CR-10: failure")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    [record] = records(place)
    assert record["result"] == "failed" and record["stats"]["ctl"]["failed"] == 1
    [problem] = record["problems"]
    assert problem["task"] == "CM-01 | fails" and problem["what"] == "failed"
    assert "refused: ********" in problem["msg"]
    text = (place / "changes" / "changes.jsonl").read_text(encoding="utf-8")
    assert SECRET not in text and json.loads(text.splitlines()[0])["hash"]


def test_the_lab_inventory_needs_no_reason(place):
    """On the built-in lab's inventory a run without a reason is recorded with the lab default (as Ansible's)."""
    path = place / "deploy.py"
    path.write_text(DEPLOY.format(out=place / "out", secret=SECRET), encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if k != changes.REASON_ENV}
    env[changes.DIR_ENV] = str(place / "changes")
    proc = subprocess.run([str(PYINFRA), "-y", "--dry", "@local", str(path), "--data", "baseline_host=localhost",
                           "--data", f"baseline_inventory={REPO_ROOT / 'inventory' / 'lab'}"],
                          capture_output=True, text=True, timeout=180, env=env, cwd=REPO_ROOT, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    [record] = records(place)
    assert record["reason"] == changes.LAB_REASON and record["reason_source"] == "lab default" and record["lab"]


def test_a_run_that_ends_while_preparing_is_recorded_as_interrupted_without_changes(place):
    broken = DEPLOY.replace("files.put(", "raise RuntimeError('the deploy broke while preparing')\nfiles.put(", 1)
    proc = run(place, broken, reason_env="CR-12: broken")
    assert proc.returncode != 0
    assert not (place / "out" / "a.txt").exists()
    [record] = records(place)
    assert record["result"] == "interrupted" and record["changes"] == []
    assert [p["what"] for p in record["problems"]] == ["interrupted"]
