"""The lab for integration tests: one `scripts/lab up --vm` per test session, `scripts/lab down` at the end.

The session holds the lab lock (one lab user at a time) and tells child processes so (BASELINE_LAB_LOCK_HELD).
"""

from __future__ import annotations

import fcntl
import json
import os
import subprocess
from pathlib import Path

import pytest

from baseline import REPO_ROOT
from baseline.lab import config
from baseline.results import new_run_id

LAB = str(REPO_ROOT / "scripts" / "lab")


def pytest_collection_modifyitems(items):
    """The lab's own checks first (they restart hosts), then the suites that build on the hosts, and the
    teardown check last."""

    here = Path(__file__).parent

    def rank(item):
        if item.get_closest_marker("lab_teardown"):
            return 4
        if here not in item.path.parents:
            # lab-marked tests elsewhere (the report of the lab run) come after the lab suites
            return 3 if item.get_closest_marker("lab") else 0
        return 1 if item.path.name == "test_lab.py" else 2

    items.sort(key=rank)  # stable: keeps file order within each rank


def run_lab(*args: str, check: bool = True, timeout: float = 900) -> subprocess.CompletedProcess:
    proc = subprocess.run([LAB, *args], capture_output=True, text=True, timeout=timeout, check=False)
    if check and proc.returncode != 0:
        raise AssertionError(f"scripts/lab {' '.join(args)} failed:\n{proc.stdout}\n{proc.stderr}")
    return proc


@pytest.fixture(scope="session")
def lab_lock():
    if os.geteuid() != 0:
        pytest.skip("the lab needs root (systemd-nspawn, mounts, bridges)")
    config.LOCK_FILE.parent.mkdir(parents=True, exist_ok=True)
    # The lab brings its own inventory and vault password; settings other tests left in the environment
    # (session fixtures of the device tests set a vault password of their own) must not reach the lab's tools.
    saved = {name: os.environ.pop(name) for name in ("BASELINE_VAULT_PASSWORD", "BASELINE_INVENTORY",
                                                     "BASELINE_SSH_CONFIG") if name in os.environ}
    with open(config.LOCK_FILE, "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        os.environ["BASELINE_LAB_LOCK_HELD"] = "1"
        try:
            yield
        finally:
            os.environ.pop("BASELINE_LAB_LOCK_HELD", None)
            os.environ.update(saved)


@pytest.fixture(scope="session")
def lab_up(lab_lock):
    """Boot every lab host (containers and the VM); yield the figures `up` printed; tear down afterwards."""
    proc = run_lab("--json", "up", "--vm")
    figures = json.loads(proc.stdout.strip().splitlines()[-1])
    yield figures
    run_lab("down")


@pytest.fixture(scope="session")
def lab_results(lab_up):
    """The lab run's results file (results/lab-<time>.jsonl): compliance suites run by the lab tests add their
    records with keep_results(), and the report test renders it."""
    path = REPO_ROOT / "results" / f"lab-{new_run_id()}.jsonl"
    path.parent.mkdir(exist_ok=True)

    def keep_results(source: Path) -> None:
        if source.exists():
            with open(path, "a", encoding="utf-8") as out:
                out.write(source.read_text(encoding="utf-8"))

    return keep_results


@pytest.fixture()
def lab():
    """Run `scripts/lab ARGS...`; fails the test when it exits non-zero (unless check=False)."""
    return run_lab
