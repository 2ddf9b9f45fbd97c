"""One verification at a time on a host (baseline/host_lock.py): the lock's shell scripts run for real, against a
temporary lock path on this machine, through a host object that runs commands as testinfra's does."""

from __future__ import annotations

import contextlib
import os
import shlex
import subprocess
import threading
import time
from types import SimpleNamespace

import pytest

from baseline import host_lock


class LocalHost:
    """The part of a testinfra host the lock uses: sudo() and run(command, *args), here on this machine."""

    def __init__(self, broken: bool = False):
        self.broken = broken

    def sudo(self):
        return contextlib.nullcontext()

    def run(self, command: str, *args: str):
        if self.broken:
            raise RuntimeError("ssh: connect to host app1 port 22: No route to host")
        # quoted as testinfra quotes the arguments of run()
        proc = subprocess.run(["sh", "-c", command % tuple(shlex.quote(a) for a in args)], capture_output=True,
                              text=True, timeout=60, check=False)
        return SimpleNamespace(rc=proc.returncode, stdout=proc.stdout, stderr=proc.stderr)


@pytest.fixture
def lock(tmp_path, monkeypatch):
    path = tmp_path / "baseline-verify.lock"
    monkeypatch.setattr(host_lock, "PATH", str(path))
    return path


def test_a_second_run_waits_names_the_holder_and_stops_when_the_wait_runs_out(lock):
    host = LocalHost()
    assert host_lock.take(host, "app1", "ctl pid 1 run A", wait=5)
    assert (lock / "owner").read_text() == "ctl pid 1 run A\n"
    said = []
    started = time.monotonic()
    with pytest.raises(host_lock.HostBusy, match=r"app1: another verification held .* \(ctl pid 1 run A\)"):
        host_lock.take(host, "app1", "mgmt1 pid 2 run B", wait=3, say=said.append)
    assert 3 <= time.monotonic() - started < 15
    assert said == ["app1: another verification is checking this host (ctl pid 1 run A); waiting up to 3 s for it "
                    "to finish"]
    assert (lock / "owner").read_text() == "ctl pid 1 run A\n"


def test_the_waiting_run_goes_on_once_the_holder_lets_go(lock):
    host = LocalHost()
    assert host_lock.take(host, "app1", "run A", wait=0)
    threading.Timer(1.0, host_lock.let_go, (host, "run A")).start()
    started = time.monotonic()
    assert host_lock.take(host, "app1", "run B", wait=30, say=lambda _: None)
    assert time.monotonic() - started < 10
    assert (lock / "owner").read_text() == "run B\n"


def test_only_the_owner_lets_go(lock):
    host = LocalHost()
    assert host_lock.take(host, "app1", "run A", wait=0)
    host_lock.let_go(host, "run B")
    assert lock.exists()
    host_lock.let_go(host, "run A")
    assert not lock.exists()
    host_lock.let_go(host, "run A")  # nothing held: nothing to do


def test_a_lock_left_by_a_killed_run_is_taken_over_once_stale(lock):
    host = LocalHost()
    lock.mkdir()
    (lock / "owner").write_text("ctl pid 9 run killed\n")
    old = time.time() - host_lock.STALE_S - 60
    os.utime(lock, (old, old))
    assert host_lock.take(host, "app1", "run C", wait=5, say=lambda _: None)
    assert (lock / "owner").read_text() == "run C\n"


def test_an_unreachable_host_is_left_to_its_checks(lock):
    assert host_lock.take(LocalHost(broken=True), "app1", "run A", wait=5) is False
    host_lock.let_go(LocalHost(broken=True), "run A")  # never raises


def test_the_wait_comes_from_the_environment():
    assert host_lock.wait_seconds({}) == host_lock.WAIT_S
    assert host_lock.wait_seconds({host_lock.WAIT_ENV: "30"}) == 30
    with pytest.raises(ValueError, match=host_lock.WAIT_ENV):
        host_lock.wait_seconds({host_lock.WAIT_ENV: "soon"})
    assert host_lock.WAIT_S > host_lock.STALE_S  # a lock left by a killed run is always taken over within the wait
