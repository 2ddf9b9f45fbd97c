"""Lab work that runs ahead of its tests (tests/lab/lab_run.py, Ahead): the steps run in order in a thread, each
fixture gets its step's value or error, what a step may still take shrinks as it runs, and the session's end stops
what still runs. `scripts/lab up` writes the inventories whole (devtools/lab/outputs.py), so that the tests running
beside a join read the former file or the new one."""

from __future__ import annotations

import os
import sys
import threading
import time
from pathlib import Path

import pytest

from baseline import REPO_ROOT
from devtools.lab import outputs

sys.path.insert(0, str(REPO_ROOT / "tests" / "lab"))
from lab_run import RUNNING, Ahead, run  # noqa: E402


def test_steps_run_in_order_beside_the_caller_and_each_fixture_gets_its_value():
    order: list[str] = []
    gate = threading.Event()

    def first():
        order.append("first")
        gate.wait(5)
        return 1

    ahead = Ahead(first, lambda: order.append("second") or 2)
    assert not ahead.started
    ahead.start()
    ahead.start()  # once
    time.sleep(0.1)
    assert order == ["first"], "the steps do not run beside the caller"
    gate.set()
    assert (ahead.step(0), ahead.step(1)) == (1, 2)
    assert order == ["first", "second"]


def test_a_failed_step_raises_its_error_and_the_steps_after_it_do_not_run():
    ran: list[int] = []

    def fails():
        raise RuntimeError("the join failed")

    ahead = Ahead(lambda: ran.append(0) or "up", fails, lambda: ran.append(2))
    ahead.start()
    assert ahead.step(0) == "up"
    with pytest.raises(RuntimeError, match="the join failed"):
        ahead.step(1)
    with pytest.raises(AssertionError, match="not run: an earlier step failed"):
        ahead.step(2)
    assert ran == [0]


def test_what_a_step_may_still_take_is_its_cost_less_the_time_it_ran():
    gate = threading.Event()
    ahead = Ahead(lambda: gate.wait(5), lambda: None)
    assert ahead.remaining(0, 100) == 100  # not started: the whole cost
    ahead.start()
    time.sleep(0.3)
    assert 99 < ahead.remaining(0, 100) < 99.8
    assert ahead.remaining(1, 50) == 50  # not begun yet
    gate.set()
    ahead.step(1)
    assert ahead.remaining(0, 100) == ahead.remaining(1, 50) == 0


def test_a_fixture_takes_its_steps_value_once_started_and_runs_its_work_itself_before():
    ahead = Ahead(lambda: "ahead", lambda: "later", fixtures=["first", "second"])
    assert ahead.value("second", lambda: "here") == "here"  # not started (a session without the module before)
    ahead.start()
    assert (ahead.value("first", lambda: "here"), ahead.value("second", lambda: "here")) == ("ahead", "later")


def test_the_costs_of_fixtures_running_ahead_shrink_as_they_run_and_the_others_stay():
    gate = threading.Event()
    ahead = Ahead(lambda: gate.wait(5), fixtures=["applied"])
    costs = ahead.costs({"applied": 100, "verified": 30})
    assert dict(costs) == {"applied": 100, "verified": 30}  # not started: the whole costs
    ahead.start()
    time.sleep(0.3)
    assert 99 < costs["applied"] < 99.8 and costs["verified"] == 30
    gate.set()
    ahead.step(0)
    assert (costs["applied"], costs["verified"]) == (0, 30)


def test_stop_ends_the_command_a_step_runs_and_the_step_fails():
    ahead = Ahead(lambda: run(["sleep", "60"], timeout=120))
    ahead.start()
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and not RUNNING:
        time.sleep(0.05)
    started = time.monotonic()
    ended = ahead.stop()
    assert ended == ["sleep 60"]
    assert time.monotonic() - started < 10, "stop() waited for the command instead of ending it"
    assert ahead.step(0).returncode == -15  # SIGTERM
    assert ahead in Ahead.STARTED


def test_run_returns_what_subprocess_run_would():
    proc = run([sys.executable, "-c", "import sys; print('out'); print('err', file=sys.stderr); sys.exit(3)"],
               timeout=30)
    assert (proc.returncode, proc.stdout, proc.stderr) == (3, "out\n", "err\n")


def test_the_inventory_is_written_whole_with_its_mode_and_nothing_left_beside_it(tmp_path: Path):
    target = tmp_path / "hosts.yml"
    target.write_text("old\n")
    os.chmod(target, 0o644)
    inode = target.stat().st_ino
    outputs.write_whole(target, "new\n", 0o600)
    assert target.read_text() == "new\n"
    assert target.stat().st_mode & 0o777 == 0o600
    assert target.stat().st_ino != inode, "written in place: a reader could see a part of it"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["hosts.yml"]


def test_a_write_that_fails_leaves_the_former_file_and_no_part(tmp_path, monkeypatch):
    target = tmp_path / "hosts.yml"
    target.write_text("old\n")

    def full(*_args):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", full)
    with pytest.raises(OSError, match="No space left"):
        outputs.write_whole(target, "new\n")
    assert target.read_text() == "old\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["hosts.yml"], "the partial file was left behind"
