"""pytest compliance_tests --host-jobs N (baseline/compliance_jobs.py): hosts split into groups of about equal
weight, one pytest process per group with one run id and results file, exit status and JUnit of all groups."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from baseline import REPO_ROOT, compliance_jobs

GROUPS = {"linux_servers": ["app1", "db1", "db2", "log1", "bak1", "drill1", "mgmt1", "kern1"],
          "postgresql_servers": ["db1"], "mariadb_servers": ["db2"], "backup_servers": ["bak1"]}
HOSTS = GROUPS["linux_servers"]


def test_groups_hold_every_host_once_with_about_equal_weight():
    weight = compliance_jobs.weights(GROUPS, HOSTS)
    assert weight == {"app1": 2, "db1": 3, "db2": 3, "log1": 2, "bak1": 3, "drill1": 2, "mgmt1": 2, "kern1": 2}
    groups = compliance_jobs.split(HOSTS, 4, weight)
    assert sorted(h for g in groups for h in g) == sorted(HOSTS) and len(groups) == 4
    totals = [sum(weight[h] for h in g) for g in groups]
    assert max(totals) - min(totals) <= 1, groups
    assert all(g == sorted(g, key=HOSTS.index) for g in groups)  # inventory order inside a group
    assert compliance_jobs.split(["app1", "db1"], 4, weight) == [["db1"], ["app1"]]  # never an empty group
    assert compliance_jobs.split(HOSTS, 1, weight) == [HOSTS]


def test_the_groups_arguments_drop_what_the_parent_sets_for_each():
    args = ["compliance_tests", "-q", "--host-jobs", "4", "--hosts=app1,db1", "-k", "ssh", "--junitxml", "j.xml",
            "--run-id=r1", "--results-file", "r.jsonl", "--read-only", "-m", "not slow"]
    assert compliance_jobs.child_args(args) == ["compliance_tests", "-q", "-k", "ssh", "--read-only", "-m", "not slow"]


@pytest.mark.parametrize(("codes", "status"), [
    ([0, 0], 0), ([0, 1], 1), ([1, 2], 2), ([5, 1], 1), ([5, 0], 5), ([4, 1, 3], 3), ([0, 7], 7)])
def test_exit_status_of_the_groups(codes, status):
    assert compliance_jobs.exit_status(codes) == status


def test_junit_of_the_groups_is_merged(tmp_path):
    for i in (1, 2):
        (tmp_path / f"{i}.xml").write_text(
            f'<testsuites><testsuite name="pytest" tests="1"><testcase name="t{i}"/></testsuite></testsuites>')
    compliance_jobs.merge_junit([tmp_path / "1.xml", tmp_path / "2.xml", tmp_path / "absent.xml"],
                                tmp_path / "out" / "junit.xml")
    root = ET.parse(tmp_path / "out" / "junit.xml").getroot()  # noqa: S314 - written by the test
    assert root.tag == "testsuites" and [c.get("name") for c in root.iter("testcase")] == ["t1", "t2"]


def _fake_suite(tmp_path: Path) -> Path:
    """A test directory that takes the options a group's process gets and records what it was given (--hosts is
    pytest-testinfra's)."""
    suite = tmp_path / "suite"
    suite.mkdir()
    (suite / "conftest.py").write_text(
        "def pytest_addoption(parser):\n"
        "    for name in ('--run-id', '--results-file'):\n"
        "        parser.addoption(name)\n", encoding="utf-8")
    (suite / "test_fake.py").write_text(
        "import json, os, time\n"
        "def test_one(request):\n"
        "    o = request.config.option\n"
        "    start = time.time(); time.sleep(1.5)\n"
        "    line = json.dumps({'hosts': o.hosts, 'run_id': o.run_id, 'start': start, 'end': time.time(),\n"
        "                       'child': os.environ.get('BASELINE_HOST_JOB')})\n"
        "    with open(o.results_file, 'a') as fh:\n"
        "        fh.write(line + '\\n')\n"
        "    assert 'db1' not in o.hosts, 'db1 fails'\n", encoding="utf-8")
    return suite


def test_groups_run_side_by_side_with_one_run_id_and_results_file(tmp_path):
    suite = _fake_suite(tmp_path)
    results, out = tmp_path / "r.jsonl", io.StringIO()
    status = compliance_jobs.run([str(suite), "-q", "-p", "no:cacheprovider", "--host-jobs", "3"],
                                 ["app1", "db1", "log1"], 3, groups={}, run_id="run-7", results=results,
                                 junit=str(tmp_path / "junit.xml"), cwd=tmp_path, out=out)
    assert results.exists(), out.getvalue()
    records = [json.loads(line) for line in results.read_text().splitlines()]
    assert sorted(r["hosts"] for r in records) == ["app1", "db1", "log1"]
    assert {r["run_id"] for r in records} == {"run-7"} and {r["child"] for r in records} == {"1"}
    assert max(r["start"] for r in records) < min(r["end"] for r in records), "the groups did not overlap"
    assert status == 1, out.getvalue()  # db1's group failed
    text = out.getvalue()
    assert "group 2/3: db1 (exit 1" in text and "db1 fails" in text and "app1 exit 0" in text
    assert len(list(ET.parse(tmp_path / "junit.xml").getroot().iter("testcase"))) == 3  # noqa: S314


def test_the_suites_refuse_host_jobs_with_xdist_and_below_one():
    env = {**os.environ, "BASELINE_INVENTORY": str(REPO_ROOT / "inventory" / "lab")}
    for extra, said in ((["--host-jobs", "2", "-n", "2"], "do not go together"),
                        (["--host-jobs", "-1"], "1 or more")):
        proc = subprocess.run([sys.executable, "-m", "pytest", "compliance_tests", "-p", "no:cacheprovider", *extra],
                              cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=120, check=False)
        assert proc.returncode == 4 and said in proc.stderr, proc.stdout[-2000:] + proc.stderr[-2000:]
