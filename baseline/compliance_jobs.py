"""Compliance suites on several hosts at once: `pytest compliance_tests --host-jobs N`.

A complete run changes the hosts while it checks them (probe accounts, failed logins, listeners, test files), so
the checks of one host must run in one process, in order. `--host-jobs N` keeps that and still runs hosts side by
side: the hosts the run covers (the `linux_servers` group, narrowed by `--hosts`) are split into N groups of about
equal weight, and each group gets a pytest process of its own with the same arguments, `--hosts` set to the group,
one run id and one results file (each record is one append, so records never interleave). The checks mostly wait on
the hosts (logins, lockout timers, closed ports), so the run takes about as long as its slowest group.

Output: each group's output, in group order, once all have ended; a JUnit file (`--junitxml`) is the union of the
groups' files. Exit status: 0 when every group passed; otherwise the first of 2, 3, 4 (interrupted, internal,
usage error), then 1 (a check failed), then 5 (nothing collected) that a group returned. Ctrl-C or SIGTERM stops
every group (each ends as pytest does on Ctrl-C, with its records so far) and names what each group had done."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET  # noqa: S405 - JUnit files written by the groups' own pytest processes
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import TextIO

# The inventory groups the suites check, with the weight of a host in each (the database suites add about as many
# checks again as the server suites).
SUITE_GROUPS = {"linux_servers": 2, "postgresql_servers": 1, "mariadb_servers": 1, "backup_servers": 1}
CHILD_ENV = "BASELINE_HOST_JOB"  # set in each group's process: it runs its group, never groups of its own
# Options the parent sets for each group itself (with their value, as the next argument or after "=").
REPLACED = ("--host-jobs", "--hosts", "--junitxml", "--junit-xml", "--run-id", "--results-file")
EXIT_ORDER = (2, 3, 4, 1, 5)


class JobsError(ValueError):
    """Bad input for a run on several processes (exit 2, before any connection)."""


def weights(groups: Mapping[str, Sequence[str]], hosts: Sequence[str]) -> dict[str, int]:
    return {h: max(1, sum(w for g, w in SUITE_GROUPS.items() if h in groups.get(g, ()))) for h in hosts}


def split(hosts: Sequence[str], jobs: int, weight: Mapping[str, int]) -> list[list[str]]:
    """At most `jobs` non-empty groups of about equal total weight; each group keeps the inventory's host order."""
    bins: list[list[str]] = [[] for _ in range(max(1, min(jobs, len(hosts))))]
    totals = [0] * len(bins)
    for host in sorted(hosts, key=lambda h: (-weight.get(h, 1), hosts.index(h))):
        i = totals.index(min(totals))
        bins[i].append(host)
        totals[i] += weight.get(host, 1)
    return [sorted(b, key=list(hosts).index) for b in bins if b]


def child_args(args: Sequence[str]) -> list[str]:
    """The run's arguments without those the parent sets for each group."""
    out: list[str] = []
    skip = False
    for arg in args:
        if skip:
            skip = False
            continue
        name = arg.split("=", 1)[0]
        if name in REPLACED:
            skip = "=" not in arg
            continue
        out.append(arg)
    return out


def exit_status(codes: Sequence[int]) -> int:
    if all(c == 0 for c in codes):
        return 0
    for code in EXIT_ORDER:
        if code in codes:
            return code
    return max(codes)


def merge_junit(parts: Sequence[Path], target: Path) -> None:
    """One JUnit file holding every group's test suites."""
    root = ET.Element("testsuites")
    for part in parts:
        if not part.exists():
            continue
        tree = ET.parse(part)  # noqa: S314 - written by pytest in this run's own directory
        top = tree.getroot()
        root.extend([top] if top.tag == "testsuite" else list(top))
    target.parent.mkdir(parents=True, exist_ok=True)
    ET.ElementTree(root).write(target, encoding="utf-8", xml_declaration=True)


@dataclass
class Group:
    hosts: list[str]
    log: Path
    junit: Path
    proc: subprocess.Popen[bytes] | None = None
    code: int | None = None
    seconds: float = 0.0
    started: float = field(default_factory=time.monotonic)

    @property
    def name(self) -> str:
        return ",".join(self.hosts)


class Interrupted(Exception):
    pass


def run(args: Sequence[str], hosts: Sequence[str], jobs: int, *, groups: Mapping[str, Sequence[str]], run_id: str,
        results: Path, junit: str | None, cwd: Path, environ: Mapping[str, str] | None = None,
        out: TextIO | None = None) -> int:
    """Run the suites for `hosts` on up to `jobs` processes; the exit status as described in the module's text."""
    write = (out or sys.stdout).write
    base = [sys.executable, "-m", "pytest", *child_args(args), "--run-id", run_id, "--results-file", str(results)]
    env = {**(environ if environ is not None else os.environ), CHILD_ENV: "1"}
    scratch = Path(tempfile.mkdtemp(prefix="baseline-host-jobs-"))
    plan = [Group(g, scratch / f"group-{i}.log", scratch / f"group-{i}.xml")
            for i, g in enumerate(split(hosts, jobs, weights(groups, hosts)), 1)]
    write(f"compliance suites on {len(plan)} processes, each host's checks in one of them, in order: "
          + "; ".join(g.name for g in plan) + "\n")
    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGTERM,)}

    def on_term(signum: int, frame: FrameType | None) -> None:
        raise Interrupted

    signal.signal(signal.SIGTERM, on_term)
    interrupted = False
    try:
        for group in plan:
            argv = [*base, "--hosts", group.name, *(["--junitxml", str(group.junit)] if junit else [])]
            with group.log.open("wb") as log:
                group.proc = subprocess.Popen(argv, cwd=cwd, env=env, stdout=log, stderr=subprocess.STDOUT)  # noqa: S603
            group.started = time.monotonic()
        try:
            _wait(plan)
        except (KeyboardInterrupt, Interrupted):
            interrupted = True
            for group in plan:
                if group.proc and group.proc.poll() is None:
                    group.proc.send_signal(signal.SIGINT)
            _wait(plan)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        for group in plan:  # a second interrupt while waiting: nothing of the run is left running
            if group.proc and group.proc.poll() is None:
                group.proc.kill()
                group.proc.wait()
    for i, group in enumerate(plan, 1):
        write(f"==== group {i}/{len(plan)}: {group.name} (exit {group.code}, {group.seconds:.0f} s) ====\n")
        write(group.log.read_text(encoding="utf-8", errors="replace"))
    if junit:
        merge_junit([g.junit for g in plan], Path(junit))
    codes = [g.code if g.code is not None else 2 for g in plan]
    if interrupted:
        write("compliance suites stopped: " + "; ".join(
            f"{g.name}: {'ended' if g.code == 0 else f'exit {g.code}'}" for g in plan)
              + f"; every record written so far is in {results}\n")
        return 2
    write(f"compliance suites on {len(plan)} processes: "
          + "; ".join(f"{g.name} exit {g.code} in {g.seconds:.0f} s" for g in plan) + f"; results {results}\n")
    return exit_status(codes)


def _wait(plan: Sequence[Group]) -> None:
    while True:
        running = False
        for group in plan:
            if group.proc is None or group.code is not None:
                continue
            code = group.proc.poll()
            if code is None:
                running = True
            else:
                group.code, group.seconds = code, time.monotonic() - group.started
        if not running:
            return
        time.sleep(0.2)
