"""Every check can fail: for every automated or partial control, a hand change on a lab host or device (the drifts
of tests/lab/drifts.py) makes exactly the checks that verify it fail, on exactly that host, and the baseline's
run repairs it so that the same checks pass again. Drifts are applied batch by batch (several unrelated controls
at once), so one verification run per batch shows them all: the whole suites on the batch's hosts before the repair
(nothing but the expected checks fails), the expected checks alone after it (each passes again on its host; the
devices' audit is whole both times). Runs after every other lab suite (conftest ranks it)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from drifts import BATCHES, Batch
from lab_run import on, playbooks_beside

from baseline import REPO_ROOT, inventory
from baseline.netdev import devices, drivers, push
from baseline.results import read_results
from devtools.lab import config

pytestmark = pytest.mark.lab
NETDEV = str(REPO_ROOT / "scripts" / "netdev")
# what a batch may take on CI's machine (devtools/lab/deadline.py); the others fit in the default
COSTS = {"linux": 420, "databases": 160, "integrity-database": 75}
HOST_JOBS = 4  # processes of a whole-suite run (pytest compliance_tests --host-jobs, baseline/compliance_jobs.py)


def apply(batch: Batch) -> None:
    for drift in batch.drifts:
        if drift.on_device:
            device = devices.load(limit=[drift.host])[0]
            conn = drivers.connect(device)
            try:
                refused = push.send(conn, device, list(drift.command))
            finally:
                conn.disconnect()
            assert refused is None, f"{drift.control} on {drift.host}: the device refused the drift: {refused}"
        elif drift.on_controller:
            proc = subprocess.run(drift.command, shell=True, cwd=REPO_ROOT, capture_output=True, text=True,  # noqa: S602
                                  check=False)
            assert proc.returncode == 0, f"{drift.control} on the controller: {proc.stdout}{proc.stderr}"
        else:
            on(drift.host, drift.command)


def verify(batch: Batch, tmp: Path, name: str, expected_only: bool = False) -> tuple[list, str]:
    """Records of one verification of the batch's hosts (compliance suites or device audit) and its output; with
    expected_only, of the suites' checks the batch expects to fail alone."""
    results = tmp / f"{name}.jsonl"
    env = {**os.environ, "ANSIBLE_CONFIG": str(REPO_ROOT / "ansible.cfg")}
    if batch.on_devices:
        limits = [arg for host in batch.hosts for arg in ("-l", host)]
        cmd = [NETDEV, "-q", *limits, "audit", "--results", str(results)]
    else:
        suites, hosts = list(batch.suites), ",".join(batch.hosts)
        select = ["--host-jobs", str(min(HOST_JOBS, len(batch.hosts)))]  # the whole suites: hosts side by side
        if expected_only:
            checks = [c.split("::") for c in sorted(batch.expected) if c.startswith("compliance_tests/")]
            suites = sorted({path for path, _ in checks})
            select = ["-k", " or ".join(sorted({function for _, function in checks}))]
        cmd = [sys.executable, "-m", "pytest", *suites, "-q", "-p", "no:cacheprovider", "--hosts", hosts, *select,
               "--results-file", str(results)]
    proc = subprocess.run(cmd, cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=1800, check=False)
    records = list(read_results([results])) if results.exists() else []
    assert records, f"{' '.join(cmd)} recorded nothing:\n{proc.stdout[-3000:]}{proc.stderr[-3000:]}"
    return records, proc.stdout[-6000:] + proc.stderr[-2000:]


def failures(records) -> set[tuple[str, str]]:
    return {(r.asset, r.check.split("[")[0]) for r in records if r.outcome in ("fail", "error")}


def expected(batch: Batch) -> set[tuple[str, str]]:
    """(host, check) pairs that must fail. Evidence kept on the controller (restore drills) is read by the checks
    of every database host of the batch."""
    lab = inventory.load(str(config.INVENTORY_DIR / "hosts.yml"))
    databases = set(lab.hosts("postgresql_servers")) | set(lab.hosts("mariadb_servers"))
    pairs = set()
    for drift in batch.drifts:
        hosts = [h for h in batch.hosts if h in databases] if drift.on_controller else [drift.host]
        pairs.update((host, check) for host in hosts for check in drift.expected)
    return pairs


def repair(batch: Batch) -> list[subprocess.CompletedProcess]:
    if batch.on_devices:
        env = {**os.environ, "ANSIBLE_CONFIG": str(REPO_ROOT / "ansible.cfg")}
        return [subprocess.run([NETDEV, "-q", *batch.repair], cwd=REPO_ROOT, env=env, capture_output=True, text=True,
                               timeout=1800, check=False)]
    return playbooks_beside(*batch.repair, timeout=1800)


def batch_param(batch: Batch):
    return pytest.param(batch, id=batch.name, marks=[pytest.mark.lab_cost(COSTS[batch.name])] if batch.name in COSTS
                        else [])


@pytest.mark.parametrize("batch", [batch_param(b) for b in BATCHES])
def test_each_drift_fails_exactly_its_checks_until_the_baseline_repairs_it(batch, demo_run, tmp_path):
    apply(batch)
    records, output = verify(batch, tmp_path, "drifted")
    want = expected(batch)
    got = failures(records)
    assert got == want, (f"{output}\nmissing (a drift its check did not see): {sorted(want - got)}\n"
                         f"unexpected (a check failed for no drift): {sorted(got - want)}")
    for fixed in repair(batch):
        assert fixed.returncode == 0, fixed.stdout[-5000:] + fixed.stderr[-2000:]
    records, output = verify(batch, tmp_path, "repaired", expected_only=not batch.on_devices)
    left = [f"{r.asset}: {r.check}: {r.reason}" for r in records if r.outcome in ("fail", "error")]
    assert left == [], output + "\nstill failing after the repair:\n" + "\n".join(left)
    passed = {(r.asset, r.check.split("[")[0]) for r in records if r.outcome == "pass"}
    assert want <= passed, f"{output}\nnot seen passing after the repair: {sorted(want - passed)}"
