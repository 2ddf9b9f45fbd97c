"""The Linux server baseline on the lab (IA, AC, AU, IP, MP, RI), after `scripts/demo` hardened the lab
(tests/lab/test_demo.py): a second run changes nothing even after the compliance suite's probes and the restore
drill (they leave no trace), the automation account can still log in after every run, and the suite passes a
second time. Controls removed by hand: tests/lab/test_drift.py."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from lab_run import on, playbook, recap

from baseline import REPO_ROOT
from baseline.lab import config
from baseline.results import read_results

pytestmark = pytest.mark.lab
LINUX = ["playbooks/preflight.yml", "playbooks/linux.yml"]
HOST = "app1"  # verified a second time


def linux_hosts() -> list[str]:
    from baseline import inventory

    return inventory.load(str(config.INVENTORY_DIR / "hosts.yml")).hosts("linux_servers")


def assert_logins(hosts) -> None:
    """A new SSH connection of the automation account logs in and sudo works without a prompt."""
    for host in hosts:
        on(host, "sudo -n true", timeout=120)


def compliance(tmp: Path, name: str, *select: str) -> tuple[subprocess.CompletedProcess, list]:
    results = tmp / f"{name}.jsonl"
    proc = subprocess.run([sys.executable, "-m", "pytest", "compliance_tests/linux", "-q", "-p", "no:cacheprovider",
                           "--results-file", str(results), *select], cwd=REPO_ROOT, capture_output=True, text=True,
                          timeout=900, check=False)
    records = list(read_results([results])) if results.exists() else []
    return proc, records


def failed(records) -> set[str]:
    return {r.check for r in records if r.outcome in ("fail", "error")}


@pytest.fixture(scope="module")
def second_run(demo_run):
    """site.yml, the restore drill and the whole compliance suite ran (scripts/demo); the server baseline again."""
    return playbook(*LINUX)


@pytest.fixture(scope="module")
def verified(second_run, tmp_path_factory, lab_results):
    """The suite a second time, on the host the drifts are made on."""
    tmp = tmp_path_factory.mktemp("compliance")
    outcome = compliance(tmp, "second-pass", "-k", HOST)
    lab_results(tmp / "second-pass.jsonl")
    return outcome


def test_second_run_after_the_suite_and_the_drill_changes_nothing(second_run):
    assert second_run.returncode == 0, second_run.stdout[-5000:]
    changed = {h: r["changed"] for h, r in recap(second_run.stdout).items() if r["changed"]}
    assert changed == {}, re.findall(r"^changed: .*$", second_run.stdout, re.M)
    assert_logins(linux_hosts())


def test_the_suite_passes_a_second_time(verified):
    proc, records = verified
    assert proc.returncode == 0, proc.stdout[-6000:]
    assert records and failed(records) == set()
