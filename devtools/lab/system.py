"""Thin edges to the machine: commands, mounts, cgroups, network links, processes."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path


class LabError(RuntimeError):
    pass


def run(cmd: list[str], check: bool = True, quiet: bool = False, **kwargs) -> subprocess.CompletedProcess:
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False, **kwargs)
    if check and proc.returncode != 0:
        raise LabError(f"{' '.join(cmd)} failed ({proc.returncode}): {proc.stderr.strip() or proc.stdout.strip()}")
    if not quiet and proc.returncode != 0:
        pass
    return proc


def is_mounted(path: Path) -> bool:
    target = str(path.resolve()) if path.exists() else str(path)
    with open("/proc/self/mounts", encoding="utf-8") as fh:
        return any(line.split()[1] == target for line in fh)


def mount_overlay(lower: Path, upper: Path, work: Path, target: Path) -> None:
    for path in (upper, work, target):
        path.mkdir(parents=True, exist_ok=True)
    if not is_mounted(target):
        run(["mount", "-t", "overlay", "overlay", "-o", f"lowerdir={lower},upperdir={upper},workdir={work}", str(target)])


def unmount(target: Path) -> None:
    for _ in range(5):
        if not is_mounted(target):
            return
        proc = run(["umount", str(target)], check=False)
        if proc.returncode != 0:
            time.sleep(0.5)
    if is_mounted(target):
        run(["umount", "-l", str(target)])


def link_exists(name: str) -> bool:
    return Path(f"/sys/class/net/{name}").exists()


def ensure_bridge(name: str, address: str, prefix_len: int) -> None:
    if not link_exists(name):
        run(["ip", "link", "add", name, "type", "bridge"])
    addrs = run(["ip", "-o", "-4", "addr", "show", "dev", name]).stdout
    if f"{address}/{prefix_len}" not in addrs:
        run(["ip", "addr", "add", f"{address}/{prefix_len}", "dev", name])
    run(["ip", "link", "set", name, "up"])


def delete_link(name: str) -> None:
    if link_exists(name):
        run(["ip", "link", "delete", name], check=False)


# --- cgroups: each host gets its own, so units inside different containers do not clash -------------------------

def _cgroup_roots() -> list[Path]:
    base = Path("/sys/fs/cgroup")
    if (base / "cgroup.controllers").exists():  # unified hierarchy only
        return [base]
    return [p for p in (base / "systemd", base / "unified") if p.is_dir()]


def cgroup_dirs(group: str) -> list[Path]:
    return [root / "baseline-lab" / group for root in _cgroup_roots()]


def enter_cgroup(group: str) -> None:
    """Move the calling process into the lab's cgroup for `group` (run in the child before exec)."""
    for path in cgroup_dirs(group):
        path.mkdir(parents=True, exist_ok=True)
        (path / "cgroup.procs").write_text(str(os.getpid()))


def remove_cgroup(group: str, wait: float = 10.0) -> None:
    """Remove the group's cgroups. A cgroup stays busy until its last process has exited: processes just killed
    may still be exiting, so removal is retried for up to `wait` seconds (seen with mgmt1 after `down`)."""
    deadline = time.monotonic() + wait
    for top in cgroup_dirs(group):
        while top.exists():
            for dirpath, _dirs, _files in sorted(os.walk(top), key=lambda item: -item[0].count("/")):
                try:
                    os.rmdir(dirpath)
                except OSError:
                    pass
            if top.exists() and time.monotonic() < deadline:
                time.sleep(0.2)
            else:
                break
    for root in _cgroup_roots():
        try:
            os.rmdir(root / "baseline-lab")
        except OSError:
            pass


def cgroup_groups() -> list[str]:
    """The lab's cgroups on this machine (one per host that was started), whatever state the lab keeps of them."""
    return sorted({p.name for root in _cgroup_roots() if (root / "baseline-lab").is_dir()
                   for p in (root / "baseline-lab").iterdir() if p.is_dir()})


def cgroup_pids(group: str) -> list[int]:
    pids: set[int] = set()
    for top in cgroup_dirs(group):
        for dirpath, _dirs, files in os.walk(top):
            if "cgroup.procs" in files:
                text = Path(dirpath, "cgroup.procs").read_text()
                pids.update(int(p) for p in text.split())
    return sorted(pids)


# --- processes -------------------------------------------------------------------------------------------------

def process_cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def pid_alive(pid: int, must_contain: str) -> bool:
    """True if `pid` runs and its command line contains `must_contain` (so a recycled PID is never ours)."""
    return bool(pid) and must_contain in process_cmdline(pid)


def stop_process(pid: int, must_contain: str, timeout: float = 15.0) -> None:
    if not pid_alive(pid, must_contain):
        return
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not pid_alive(pid, must_contain):
            return
        time.sleep(0.1)
    if pid_alive(pid, must_contain):
        os.kill(pid, signal.SIGKILL)
        time.sleep(0.2)


def read_pid(path: Path) -> int:
    try:
        return int(path.read_text().strip())
    except (OSError, ValueError):
        return 0
