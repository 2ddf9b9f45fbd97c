"""The Linux server baseline on the lab (IA, AC, AU, IP, MP, RI), after `scripts/demo` hardened the lab
(tests/lab/test_demo.py): a second run changes nothing even after the compliance suite's probes and the restore
drill (they leave no trace), the automation account can still log in after every run, and the suite passes a
second time. Controls removed by hand: tests/lab/test_drift.py."""

from __future__ import annotations

import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from lab_run import changed_tasks, on, playbook, recap

from baseline import REPO_ROOT
from baseline.results import read_results
from devtools.lab import config

pytestmark = pytest.mark.lab
# what the expensive fixtures may take on CI's machine (devtools/lab/deadline.py)
LAB_FIXTURE_COSTS = {"second_run": 225}
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
def second_run(demo_run) -> list[subprocess.CompletedProcess]:
    """site.yml, the restore drill and the whole compliance suite ran (scripts/demo); the server baseline again,
    the containers and the VM hosts in two runs side by side (as scripts/demo applies them)."""
    with ThreadPoolExecutor(max_workers=2) as pool:
        runs = [pool.submit(playbook, *LINUX, "--limit", limit) for limit in ("all:!kernel_hosts", "kernel_hosts")]
        return [run.result() for run in runs]


@pytest.fixture(scope="module")
def verified(second_run, tmp_path_factory, lab_results):
    """The suite a second time, on the host the drifts are made on."""
    tmp = tmp_path_factory.mktemp("compliance")
    outcome = compliance(tmp, "second-pass", "-k", HOST)
    lab_results(tmp / "second-pass.jsonl")
    return outcome


def test_second_run_after_the_suite_and_the_drill_changes_nothing(second_run):
    for run in second_run:
        assert run.returncode == 0, run.stdout[-5000:]
    recaps = {host: figures for run in second_run for host, figures in recap(run.stdout).items()}
    assert set(linux_hosts()) <= set(recaps), "a Linux server was left out of the second run"
    changed = {h: r["changed"] for h, r in recaps.items() if r["changed"]}
    assert changed == {}, [line for run in second_run for line in changed_tasks(run.stdout)]
    assert_logins(linux_hosts())


def test_the_suite_passes_a_second_time(verified):
    proc, records = verified
    assert proc.returncode == 0, proc.stdout[-6000:]
    assert records and failed(records) == set()


TAKE_TURNS = ["compliance_tests/linux/test_identification.py", "compliance_tests/linux/test_hardening.py", "-k",
              "wrong_ssh_passwords_lock_the_account or aide_detects_a_changed_binary"]


def test_two_verifications_of_one_host_take_turns(demo_run, tmp_path):
    """Two runs of the same probes on app1 at once (a pipeline and the management host's timer): the second waits
    for the first to finish the host (baseline/host_lock.py), then both pass, and the host's integrity database
    shows nothing either left behind. Without the lock the probes write back each other's saved account databases."""
    def run(name: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "pytest", *TAKE_TURNS, "--hosts", HOST, "-q",
                               "-p", "no:cacheprovider", "--results-file", str(tmp_path / f"{name}.jsonl")],
                              cwd=REPO_ROOT, capture_output=True, text=True, timeout=900, check=False)

    with ThreadPoolExecutor(max_workers=2) as pool:
        runs = [pool.submit(run, name) for name in ("first", "second")]
        procs = [r.result() for r in runs]
    for proc in procs:
        assert proc.returncode == 0, proc.stdout[-5000:]
    waited = [proc for proc in procs if f"{HOST}: another verification is checking this host" in proc.stdout]
    assert len(waited) == 1, [proc.stdout[-2000:] for proc in procs]
    assert on(HOST, "sudo baseline-aide-approve pending").strip().endswith('{"pending": []}')
    on(HOST, "! sudo test -e /run/baseline-verify.lock")
