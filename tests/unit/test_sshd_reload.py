"""The reload of sshd both engines run after a validated change (roles/accounts/vars/main.yml, accounts_sshd_reload):
sshd re-executes itself on SIGHUP and listens on new sockets only once the new process has opened them, so the reload
ends when the main process listens on new sockets only, not when `systemctl reload` returns. Run here with stand-ins
for systemctl, ss and sleep that play the sockets of a reload step by step."""

from __future__ import annotations

import subprocess
from pathlib import Path

import yaml

from baseline import REPO_ROOT

RELOAD = yaml.safe_load((REPO_ROOT / "roles/accounts/vars/main.yml").read_text(encoding="utf-8"))[
    "accounts_sshd_reload"]


def listener(pid: int, inode: int, port: int = 22) -> str:
    return (f"0      128      0.0.0.0:{port}      0.0.0.0:*    users:((\"sshd\",pid={pid},fd=3)) "
            f"ino:{inode} sk:1 cgroup:/system.slice/ssh.service <->")


def run_reload(tmp_path: Path, steps: list[list[str]], reload_rc: int = 0) -> tuple[subprocess.CompletedProcess, int]:
    """The reload with `ss` printing steps[0] on its first call, steps[1] on the second, ... (the last one again
    after that); returns the result and how many times ss was called."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for i, lines in enumerate(steps):
        (tmp_path / f"ss.{i}").write_text("".join(line + "\n" for line in lines))
    scripts = {
        "systemctl": f'case "$1" in show) echo 4242 ;; reload) echo reload >> {tmp_path}/log; exit {reload_rc} ;; '
                     f'*) exit 9 ;; esac',
        "ss": f'n=$(cat {tmp_path}/ss.calls 2>/dev/null || echo 0); echo $((n + 1)) > {tmp_path}/ss.calls\n'
              f'last={len(steps) - 1}; [ "$n" -gt "$last" ] && n=$last; cat {tmp_path}/ss.$n',
        "sleep": "exit 0",
    }
    for name, body in scripts.items():
        path = bin_dir / name
        path.write_text("#!/bin/sh\n" + body + "\n")
        path.chmod(0o755)
    proc = subprocess.run(["/bin/sh", "-c", RELOAD], capture_output=True, text=True, timeout=60, check=False,
                          env={"PATH": f"{bin_dir}:/usr/bin:/bin"})
    calls = int((tmp_path / "ss.calls").read_text()) if (tmp_path / "ss.calls").exists() else 0
    return proc, calls


def test_the_reload_ends_once_the_main_process_listens_on_new_sockets_only(tmp_path):
    old = [listener(4242, 11), listener(4242, 12, port=2222), listener(42420, 99)]
    steps = [old,                                   # before the reload
             old,                                   # SIGHUP not handled yet: the old sockets still listen
             [listener(42420, 99)],                 # closed: a login now would meet "Connection refused"
             [listener(4242, 21), listener(42420, 99)],   # the new process has opened one of its two
             [listener(4242, 21), listener(4242, 22, port=2222), listener(42420, 99)]]
    proc, calls = run_reload(tmp_path, steps)
    assert proc.returncode == 0, proc.stderr
    assert calls == 5  # it ended at the first call that showed both new sockets, not before
    assert (tmp_path / "log").read_text() == "reload\n"


def test_a_reload_after_which_sshd_does_not_listen_again_fails_with_the_reason(tmp_path):
    old = [listener(4242, 11)]
    proc, calls = run_reload(tmp_path, [old, []])
    assert proc.returncode == 1
    assert "sshd does not listen again 20 s after its reload" in proc.stderr
    assert calls == 101  # before, then 100 tries


def test_the_old_sockets_still_listening_are_not_taken_for_the_new_ones(tmp_path):
    old = [listener(4242, 11)]
    proc, _ = run_reload(tmp_path, [old])
    assert proc.returncode == 1


def test_without_sockets_of_its_own_sshd_reloads_without_waiting(tmp_path):
    proc, calls = run_reload(tmp_path, [[listener(1, 7)]])  # socket activation: systemd holds the socket
    assert proc.returncode == 0 and calls == 1


def test_a_failed_reload_fails(tmp_path):
    proc, calls = run_reload(tmp_path, [[listener(4242, 11)]], reload_rc=1)
    assert proc.returncode == 1 and calls == 1
