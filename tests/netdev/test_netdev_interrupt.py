"""SIGINT and SIGTERM during `scripts/netdev push`: no new device is started, the device in flight is finished (or
restored), the archive gets its manifest, each device's state is printed, and the status is 128 + the signal."""

from __future__ import annotations

import os
import signal
import subprocess
import threading

import pytest

from baseline import REPO_ROOT
from baseline.netdev import backup, push
from baseline.netdev.backup import Archive
from baseline.netdev.render import render

from .conftest import Lab


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_signal_during_push_finishes_the_device_in_flight_and_starts_no_other(lab: Lab, signum, tmp_path):
    names = [d.name for d in lab.devices()]
    for name in names:
        lab.reset(name)
    before = {name: lab.simulator.devices[name].running.render() for name in names}
    archive_root = tmp_path / "archive"
    process = subprocess.Popen(
        [str(REPO_ROOT / "scripts/netdev"), "-i", str(lab.inventory), "-j", "1", "push", "--backup-dir", str(archive_root)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=os.environ.copy())
    seen: list[str] = []
    assert process.stderr is not None
    for line in process.stderr:  # wait until the first device is being changed
        seen.append(line)
        if ": sending " in line:
            break
    first = seen[-1].split(":")[0]
    process.send_signal(signum)
    out, err = process.communicate(timeout=120)
    err = "".join(seen) + err

    assert process.returncode == 128 + signum, err
    assert "Traceback" not in err and "KeyboardInterrupt" not in err, err
    assert f"push interrupted by {signum.name}; state of each device:" in err
    states = {line.split(":")[0].strip(): line.split(":", 1)[1].strip()
              for line in err.split("state of each device:")[1].splitlines() if line.startswith("  ")}
    assert sorted(states) == sorted(names)
    assert states[first] == "pushed, verified and saved"
    assert states[names[-1]] == "not started, unchanged"
    started = {line.split(":")[0] for line in err.splitlines() if line.endswith(": pushing")}
    for name, state in states.items():
        sim = lab.simulator.devices[name]
        assert state in ("pushed, verified and saved", "not started, unchanged",
                         "backed up, not changed (interrupted before the first line)"), (name, state)
        assert sim.running.render() == sim.saved, f"{name}: running and saved differ after the interruption"
        if state.startswith("not started"):
            assert name not in started and sim.running.render() == before[name], name
        elif state.startswith("backed up"):
            assert name in started and sim.running.render() == before[name], name
        else:
            assert name in started and sim.running.render() != before[name], name

    found = backup.archives(archive_root)
    assert len(found) == 1 and backup.verify(found[0]) == [], "the archive is written with its SHA256SUMS"
    assert (found[0] / f"{first}.running.cfg").exists() and (found[0] / f"{first}.after.cfg").exists()
    assert f"backup before push: {found[0]}" in out


def test_interruption_after_the_backup_sends_nothing(lab: Lab, tmp_path, monkeypatch):
    """A device whose backup was being read when the signal came is left unchanged: not_started, nothing sent."""
    name = "sw-acc-01"
    lab.reset(name)
    before = lab.simulator.devices[name].running.render()
    stop = threading.Event()
    real_read = push.read_configs

    def read_then_signal(conn, device):
        configs = real_read(conn, device)
        stop.set()
        return configs

    monkeypatch.setattr(push, "read_configs", read_then_signal)
    device = lab.device(name)
    result = push.push_device(device, render(device), Archive(tmp_path / "a", "push"), stop=stop)
    assert result.status == "interrupted" and result.sent == []
    assert lab.simulator.devices[name].running.render() == before
