"""The lab for integration tests: one `scripts/lab up --vm` per test session, `scripts/lab down` at the end.
The lab's own checks run first, then `scripts/demo` on the fresh lab (the main job, exactly as a user runs it),
then the suites that build on the hosts the demo hardened, then the drifts (tests/lab/test_drift.py), then pyinfra's
parity on the twins (tests/lab/test_engine_parity.py) with the Debian 13 hosts joining the lab and taking their first
baseline beside it (AHEAD_OF), then the Debian 13 tests (tests/lab/test_trixie.py).

The session holds the lab lock (one lab user at a time) and tells child processes so (BASELINE_LAB_LOCK_HELD).
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
from lab_run import Ahead

from baseline import REPO_ROOT
from baseline.results import new_run_id, read_results
from devtools.lab import config, deadline

LAB = str(REPO_ROOT / "scripts" / "lab")


def pytest_collection_modifyitems(items):
    """The lab's own checks first (they restart hosts), then the suites that build on the hosts, and the
    teardown check last."""

    here = Path(__file__).parent

    def rank(item):
        if item.get_closest_marker("lab_teardown"):
            return 6
        if here not in item.path.parents:
            # lab-marked tests elsewhere (the report of the lab run) come after the lab suites
            return 5 if item.get_closest_marker("lab") else 0
        # the Debian 13 hosts join the lab after the drifts (beside the parity tests, whose hosts and inventory are
        # the twins' own): no suite before them iterates over them
        return {"test_lab.py": 1, "test_demo.py": 2, "test_drift.py": 4, "test_engine_parity.py": 4.2,
                "test_trixie.py": 4.5}.get(item.path.name, 3)

    items.sort(key=rank)  # stable: keeps file order within each rank


# Steps of a later module's fixtures (its AHEAD, a lab_run.Ahead) that start when a module before it starts and run
# beside its tests: module -> the later module. pyinfra's parity tests on the twins leave part of the two cores idle
# (pyinfra's controller is one process, waiting on the twins most of the time: measured 45 % idle during the dry run
# on the twins, 28 % during the first run): meanwhile the Debian 13 hosts join the lab and take their baseline, upg1
# is upgraded and the drill runs (tests/lab/test_trixie.py). Each side has hosts of its own, the change records of
# each are told apart by engine, and `scripts/lab up` writes the inventories whole.
AHEAD_OF = {"test_engine_parity.py": "test_trixie.py"}


def _succeeded(item: pytest.Item, fixture: str) -> bool:
    """The session fixture `fixture` of `item` is set up and did not fail."""
    defs = getattr(getattr(item, "_fixtureinfo", None), "name2fixturedefs", {}).get(fixture)
    cached = getattr(defs[-1], "cached_result", None) if defs else None
    return cached is not None and cached[2] is None


def pytest_runtest_setup(item):
    """Start the AHEAD of the module AHEAD_OF names for the module of `item` (once; only when that module's tests are
    in the session and the demo, which the steps build on, has run)."""
    later = AHEAD_OF.get(item.path.name)
    if not later or not _succeeded(item, "demo_run"):
        return
    for other in item.session.items:
        ahead = getattr(getattr(other, "module", None), "AHEAD", None)
        if other.path.name == later and isinstance(ahead, Ahead):
            ahead.start()
            return


# The lab session's deadline (BASELINE_LAB_DEADLINE; `make test` sets one below CI's limit): a lab test starts only
# when what it may still take fits before it (devtools/lab/deadline.py). The expensive fixtures defined here:
LAB_FIXTURE_COSTS = {"lab_up": 300, "demo_run": 850}


def pytest_configure(config):
    deadline.register(config)


TIMES = REPO_ROOT / "results" / "lab-test-times.tsv"


def pytest_runtest_logreport(report):
    """Each lab test's phases as they end (time, phase, seconds, outcome, test) in results/lab-test-times.tsv, so
    that a run stopped midway still tells where its time went."""
    if report.when == "call" or report.outcome != "passed" or report.duration >= 1:
        TIMES.parent.mkdir(exist_ok=True)
        with open(TIMES, "a", encoding="utf-8") as fh:
            fh.write(f"{time.strftime('%H:%M:%S')}\t{report.when}\t{report.duration:.1f}\t{report.outcome}\t"
                     f"{report.nodeid}\n")


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
    """Boot every lab host (containers, the VM and the pyinfra twins); yield the figures `up` printed; tear
    down afterwards."""
    proc = run_lab("--json", "up", "--vm", "--twins")
    figures = json.loads(proc.stdout.strip().splitlines()[-1])
    yield figures
    for ahead in Ahead.STARTED:  # steps still running when the session ends (stopped, or their tests not run)
        ended = ahead.stop()
        if ended:
            print(f"lab: stopped before `scripts/lab down`: {'; '.join(ended)}")
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


@dataclass
class DemoRun:
    """What `scripts/demo` did: its process, the run id, the records of its results file and its report.json."""

    proc: subprocess.CompletedProcess
    run_id: str
    results: Path
    records: list
    report: dict


@pytest.fixture(scope="session")
def demo_run(lab_up, lab_results) -> DemoRun:
    """`scripts/demo` on the lab: boot (already up), site.yml, restore drill, verification, report."""
    env = {k: v for k, v in os.environ.items() if k not in ("BASELINE_RUN_ID", "ANSIBLE_CONFIG")}
    proc = subprocess.run([str(REPO_ROOT / "scripts" / "demo")], cwd=REPO_ROOT, env=env, capture_output=True,
                          text=True, timeout=3600, check=False)
    (REPO_ROOT / "results").mkdir(exist_ok=True)
    (REPO_ROOT / "results" / "demo-output.log").write_text(proc.stdout + proc.stderr, encoding="utf-8")
    (REPO_ROOT / "results" / ".demo-done").touch()  # `make test` starts lint and the other tests now (Makefile)
    found = re.search(r"verify: .* run (\S+)$", proc.stdout, re.M)
    assert found, (f"scripts/demo did not reach verification (exit {proc.returncode}):\n"
                   f"{proc.stdout[-6000:]}\n{proc.stderr[-3000:]}")
    run_id = found.group(1)
    results = REPO_ROOT / "results" / f"{run_id}.jsonl"
    records = list(read_results([results])) if results.exists() else []
    lab_results(results)
    report_json = REPO_ROOT / "reports" / run_id / "report.json"
    report = json.loads(report_json.read_text(encoding="utf-8")) if report_json.exists() else {}
    return DemoRun(proc, run_id, results, records, report)


@pytest.fixture()
def lab():
    """Run `scripts/lab ARGS...`; fails the test when it exits non-zero (unless check=False)."""
    return run_lab
