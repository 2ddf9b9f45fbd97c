"""The on-host timed rollback of access changes (roles/lockout_guard/files/baseline-rollback, lockout safety): armed
before a change, it puts the files back by itself when nothing confirms the change in time.

Stand-ins for systemd-run, systemctl and logger record what the script asks of them; "the timer fires" is the
test running the command the script gave systemd-run, exactly as systemd would."""

from __future__ import annotations

import fcntl
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from baseline import REPO_ROOT

SCRIPT = REPO_ROOT / "roles/lockout_guard/files/baseline-rollback"
RECORDER = f"""#!{sys.executable}
import json, os, sys
with open(os.path.join(os.environ["FAKE_LOG_DIR"], os.path.basename(sys.argv[0]) + ".jsonl"), "a") as fh:
    fh.write(json.dumps(sys.argv[1:]) + "\\n")
sys.exit(int(os.environ.get("FAKE_EXIT_" + os.path.basename(sys.argv[0]).replace("-", "_"), "0")))
"""


class Host:
    """A fake host: an etc directory, the rollback's state directory and the stand-ins on PATH."""

    def __init__(self, tmp: Path):
        self.tmp = tmp
        self.state = tmp / "state"
        self.etc = tmp / "etc"
        self.etc.mkdir()
        bindir = tmp / "bin"
        bindir.mkdir()
        for tool in ("systemd-run", "systemctl"):
            (bindir / tool).write_text(RECORDER)
            (bindir / tool).chmod(0o755)
        (bindir / "logger").write_text(f"#!/bin/sh\ncat >> {tmp}/syslog\n")
        (bindir / "logger").chmod(0o755)
        self.env = {**os.environ, "PATH": f"{bindir}:{os.environ['PATH']}", "FAKE_LOG_DIR": str(tmp)}

    def start(self, *args: str) -> subprocess.Popen:
        return subprocess.Popen([sys.executable, str(SCRIPT), "--state-dir", str(self.state), *args], env=self.env,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def run(self, *args: str, code: int = 0) -> dict:
        proc = self.start(*args)
        out, err = proc.communicate(timeout=60)
        assert proc.returncode == code, f"exit {proc.returncode}: {out}{err}"
        return json.loads(out)

    def calls(self, tool: str) -> list[list[str]]:
        path = self.tmp / f"{tool}.jsonl"
        return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []

    def scheduled(self) -> list[str]:
        """The command of the last countdown: what systemd would run when the timer elapses."""
        argv = self.calls("systemd-run")[-1]
        first = next(i for i, a in enumerate(argv) if not a.startswith("--"))  # systemd-run's options come first
        return argv[first:]

    def fire(self) -> dict:
        """The timer elapses: systemd runs the scheduled command."""
        proc = subprocess.run(self.scheduled(), env=self.env, capture_output=True, text=True, timeout=60, check=False)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        return json.loads(proc.stdout)

    @property
    def syslog(self) -> str:
        path = self.tmp / "syslog"
        return path.read_text() if path.exists() else ""


@pytest.fixture()
def host(tmp_path) -> Host:
    return Host(tmp_path)


def write(path: Path, data: bytes, mode: int, mtime: int = 1_600_000_000) -> None:
    path.write_bytes(data)
    path.chmod(mode)
    os.utime(path, (mtime, mtime))


def test_arm_keeps_copies_in_a_private_directory_and_schedules_the_restore(host):
    ruleset = host.etc / "nftables.conf"
    write(ruleset, b"table inet old {}\n", 0o600)
    armed = host.run("arm", "access", "60", str(ruleset), str(host.etc / "new.conf"), "--then", "nft -f x",
                     "--run", "r1")["armed"]
    assert [(f["path"], f["existed"]) for f in armed["files"]] == [(str(ruleset), True), (str(host.etc / "new.conf"), False)]
    assert armed["state"] == "armed" and armed["then"] == ["nft -f x"]
    systemd_run = host.calls("systemd-run")[-1]
    assert "--unit=baseline-rollback-access" in systemd_run and "--on-active=60s" in systemd_run
    assert host.scheduled()[-4:] == ["restore", "access", "--timer", armed["token"]]
    assert (host.state.stat().st_mode & 0o777) == 0o700
    assert ((host.state / "access/files/0").stat().st_mode & 0o777) == 0o600
    assert (host.state / "access/files/0").read_bytes() == b"table inet old {}\n"
    assert "access: armed; unless a fresh login confirms the change" in host.syslog


def test_the_timer_puts_every_file_back_byte_for_byte_and_runs_the_reloads(host):
    ruleset, keys, created = host.etc / "nftables.conf", host.etc / "authorized_keys", host.etc / "50-baseline.conf"
    old = b"table inet old {}\n\xff\x00 not text\n"
    write(ruleset, old, 0o600, mtime=1_500_000_000)
    write(keys, b"ssh-ed25519 AAAA old\n", 0o640)
    reloads = host.tmp / "reloads"
    host.run("arm", "access", "60", str(ruleset), str(keys), str(created), "--run", "r1",
             "--then", f"sh -c 'echo nft >> {reloads}'", "--then", f"sh -c 'echo ssh >> {reloads}'")
    # the change: new content, other mode, a file that did not exist
    write(ruleset, b"table inet cut {}\n", 0o644)
    keys.write_bytes(b'from="192.0.2.0/24" ssh-ed25519 AAAA old\n')
    created.write_text("new\n")

    fired = host.fire()

    record = fired["record"]
    assert ruleset.read_bytes() == old
    assert (ruleset.stat().st_mode & 0o777) == 0o600 and ruleset.stat().st_mtime == 1_500_000_000
    assert ruleset.stat().st_uid == os.getuid()
    assert keys.read_bytes() == b"ssh-ed25519 AAAA old\n" and (keys.stat().st_mode & 0o777) == 0o640
    assert not created.exists()
    assert reloads.read_text() == "nft\nssh\n"
    assert [(f["path"], f["action"]) for f in record["files"]] == [
        (str(ruleset), "restored"), (str(keys), "restored"), (str(created), "removed")]
    assert record["restored_by"] == "timer" and record["run"] == "r1"
    assert f"access: restored {ruleset}" in host.syslog and f"access: removed {created}" in host.syslog
    assert "access: access configuration put back by its countdown" in host.syslog
    assert host.run("status", "access")["access"]["plan"] is None
    assert host.run("status", "access")["access"]["last_restore"]["summary"] == record["summary"]
    assert record["summary"].startswith(f"restored: {ruleset}, {keys}; removed (did not exist before): {created}")


def test_restore_run_twice_changes_nothing_the_second_time(host):
    ruleset = host.etc / "nftables.conf"
    write(ruleset, b"old\n", 0o600)
    host.run("arm", "access", "60", str(ruleset))
    ruleset.write_bytes(b"new\n")
    first = host.run("restore", "access")
    assert first["record"]["restored_by"] == "command"
    assert host.calls("systemctl")[-2] == ["stop", "baseline-rollback-access.timer"]
    ruleset.write_bytes(b"changed later by hand\n")
    second = host.run("restore", "access")
    assert second["restored"] is False and second["reason"] == "nothing armed for access"
    assert ruleset.read_bytes() == b"changed later by hand\n"


def test_a_file_that_did_not_change_is_reported_unchanged(host):
    ruleset = host.etc / "nftables.conf"
    write(ruleset, b"same\n", 0o600)
    host.run("arm", "access", "60", str(ruleset))
    record = host.run("restore", "access")["record"]
    assert record["files"] == [{"path": str(ruleset), "action": "unchanged"}]
    assert record["summary"] == f"unchanged: {ruleset}"


def test_confirm_stops_the_countdown_and_holds_the_copies_for_a_later_change_of_the_run(host):
    keys, ruleset = host.etc / "authorized_keys", host.etc / "nftables.conf"
    write(keys, b"before the run\n", 0o600)
    write(ruleset, b"ruleset before the run\n", 0o600)
    host.run("arm", "access", "60", str(keys), "--run", "r1")
    first_timer = host.scheduled()
    keys.write_bytes(b"changed by the run, confirmed\n")
    held = host.run("confirm", "access", "--run", "r1")
    assert held["confirmed"] is True and held["held"]["state"] == "held"
    assert ["stop", "baseline-rollback-access.timer"] in host.calls("systemctl")
    # the cancelled countdown fires anyway (it raced the confirmation): nothing happens
    stale = subprocess.run(first_timer, env=host.env, capture_output=True, text=True, check=False)
    assert json.loads(stale.stdout)["restored"] is False
    assert keys.read_bytes() == b"changed by the run, confirmed\n"
    # a later change of the same run: its own file and the held keys, each back to the state before the run
    host.run("arm", "access", "60", str(ruleset), str(keys), "--then", "true", "--run", "r1")
    ruleset.write_bytes(b"ruleset that cuts access\n")
    keys.write_bytes(b"changed again\n")
    record = host.fire()["record"]
    assert keys.read_bytes() == b"before the run\n"
    assert ruleset.read_bytes() == b"ruleset before the run\n"
    assert [f["path"] for f in record["files"]] == [str(keys), str(ruleset)]


def test_disarm_deletes_the_copies_and_a_timer_firing_afterwards_does_nothing(host):
    ruleset = host.etc / "nftables.conf"
    write(ruleset, b"old\n", 0o600)
    host.run("arm", "access", "60", str(ruleset), "--run", "r1")
    ruleset.write_bytes(b"new and working\n")
    assert host.run("disarm", "access", "--run", "r1") == {"disarmed": True, "files": [str(ruleset)]}
    assert not (host.state / "access").exists()
    assert host.fire()["restored"] is False
    assert ruleset.read_bytes() == b"new and working\n"
    assert host.run("disarm", "access") == {"disarmed": False, "reason": "nothing armed"}


def test_confirm_or_disarm_after_the_timer_restored_say_so_with_exit_3(host):
    ruleset = host.etc / "nftables.conf"
    write(ruleset, b"old\n", 0o600)
    host.run("arm", "access", "60", str(ruleset), "--run", "r1")
    host.fire()
    assert host.run("confirm", "access", "--run", "r1", code=3)["last_restore"]["restored_by"] == "timer"
    assert host.run("disarm", "access", "--run", "r1", code=3)["restored_already"] is True
    assert host.run("confirm", "access", "--run", "r2", code=4)["reason"] == "nothing armed for access"


def test_another_run_cannot_take_over_a_countdown_but_drops_copies_left_held(host):
    ruleset = host.etc / "nftables.conf"
    write(ruleset, b"old\n", 0o600)
    host.run("arm", "access", "60", str(ruleset), "--run", "r1")
    refused = host.run("arm", "access", "60", str(ruleset), "--run", "r2", code=2)
    assert refused["error"].startswith("access is armed by another run (r1) and restores at")
    host.run("confirm", "access", "--run", "r1")  # r1 ends without disarming: its copies stay held
    ruleset.write_bytes(b"state r2 starts from\n")
    armed = host.run("arm", "access", "60", str(ruleset), "--run", "r2")["armed"]
    assert armed["run"] == "r2"
    assert (host.state / "access/files/0").read_bytes() == b"state r2 starts from\n"
    assert "copies held by an earlier run (r1) discarded" in host.syslog


def test_a_countdown_that_cannot_be_scheduled_leaves_nothing_armed(host):
    ruleset = host.etc / "nftables.conf"
    write(ruleset, b"old\n", 0o600)
    host.env["FAKE_EXIT_systemd_run"] = "1"
    refused = host.run("arm", "access", "60", str(ruleset), code=2)
    assert refused["error"].startswith("systemd-run could not schedule the rollback (1)")
    assert host.run("status", "access")["access"]["plan"] is None


def test_the_timer_firing_while_disarm_runs_takes_effect_wholly_or_not_at_all(host):
    ruleset = host.etc / "nftables.conf"
    write(ruleset, b"old\n", 0o600)
    host.run("arm", "access", "60", str(ruleset), "--run", "r1")
    ruleset.write_bytes(b"new\n")
    host.state.mkdir(exist_ok=True)
    with open(host.state / ".lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        timer = subprocess.Popen(host.scheduled(), env=host.env, stdout=subprocess.PIPE, text=True)
        disarming = host.start("disarm", "access", "--run", "r1")
        time.sleep(0.5)
        assert timer.poll() is None and disarming.poll() is None, "both wait for the lock"
        fcntl.flock(lock, fcntl.LOCK_UN)
    fired = json.loads(timer.communicate(timeout=60)[0])
    out = json.loads(disarming.communicate(timeout=60)[0])
    if fired["restored"]:
        assert disarming.returncode == 3 and out["restored_already"] is True
        assert ruleset.read_bytes() == b"old\n"
    else:
        assert disarming.returncode == 0 and out["disarmed"] is True
        assert ruleset.read_bytes() == b"new\n"
    assert host.run("status", "access")["access"]["plan"] is None


def test_restore_for_a_run_leaves_copies_of_another_run_alone(host):
    ruleset = host.etc / "nftables.conf"
    write(ruleset, b"old\n", 0o600)
    host.run("arm", "access", "60", str(ruleset), "--run", "r1")
    host.run("confirm", "access", "--run", "r1")  # r1 ended without disarming
    ruleset.write_bytes(b"state of run r2\n")
    refused = host.run("restore", "access", "--run", "r2", code=4)
    assert refused["reason"] == "access belongs to another run (r1); left as it is"
    assert ruleset.read_bytes() == b"state of run r2\n"


def test_ids_and_paths_are_checked(host):
    proc = host.start("arm", "../x", "60", "/etc/a")
    proc.communicate(timeout=60)
    assert proc.returncode == 2
    assert host.run("arm", "access", "60", "relative/path", code=2)["error"] == "relative/path: not an absolute path"
