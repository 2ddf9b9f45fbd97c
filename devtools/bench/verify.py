"""Benchmark of verification on the running lab (after `make demo`): how long the compliance suites take for one
container host and for the whole lab, read-only (no intrusive check) and complete, one check at a time and, for
read-only runs, on pytest-xdist workers (a complete run is refused on workers: compliance_tests/conftest.py); for
comparison, one host with a new SSH connection per command (--ssh-per-command) instead of one shared connection
per host. Prints one line per figure.

Needs the lab up with the baseline applied (`make demo` leaves it so); changes nothing on the hosts in the
read-only runs. Targets: one container host read-only <= 10 s, the whole lab read-only <= 60 s.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from baseline import REPO_ROOT as ROOT

BIN = ROOT / ".venv" / "bin"


def run(label: str, args: list[str], devices: bool = False) -> tuple[float, str]:
    """Time one verification: the compliance suites with `args`, or (devices=True) the device audit."""
    with tempfile.TemporaryDirectory() as tmp:
        results = Path(tmp) / "results.jsonl"
        env = {**os.environ, "PATH": f"{BIN}:{os.environ.get('PATH', '')}", "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg")}
        env.pop("BASELINE_RUN_ID", None)
        if devices:
            command = [str(ROOT / "scripts" / "netdev"), "-q", "audit", "--results", str(results)]
        else:
            command = [str(BIN / "python"), "-m", "pytest", "compliance_tests", "-q", "-p", "no:cacheprovider",
                       "--results-file", str(results), *args]
        start = time.monotonic()
        proc = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=3600, check=False)
        seconds = time.monotonic() - start
        records = results.read_text(encoding="utf-8").count("\n") if results.exists() else 0
    summary = (proc.stdout.strip().splitlines() or ["(no output)"])[-1]
    print(f"{label:<52} {seconds:7.1f} s  {records:4d} records  exit {proc.returncode}  ({summary})", flush=True)
    return seconds, summary


def main() -> int:
    parser = argparse.ArgumentParser(prog="scripts/bench-verify", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--host", default="app1", help="the container host measured alone (default app1)")
    parser.add_argument("--workers", type=int, default=7, help="pytest-xdist workers for the parallel runs (default 7)")
    parser.add_argument("--complete", action="store_true", help="also measure the complete (intrusive) runs")
    args = parser.parse_args()
    if not (ROOT / "inventory" / "lab" / "hosts.yml").exists():
        print("scripts/bench-verify: the lab is not up (inventory/lab/hosts.yml missing); run `make demo` first",
              file=sys.stderr)
        return 2
    parallel = ["-n", str(args.workers), "--dist", "loadgroup"]
    one, _ = run(f"one host ({args.host}), read-only", ["--read-only", f"--hosts={args.host}"])
    print(f"{'  target for one container host':<52} <= 10 s: {'met' if one <= 10 else 'NOT met'}", flush=True)
    run(f"one host ({args.host}), read-only, a connection per command", ["--read-only", f"--hosts={args.host}",
                                                                         "--ssh-per-command"])
    serial, _ = run("whole lab, read-only, one check at a time", ["--read-only"])
    parallel_seconds, _ = run(f"whole lab, read-only, {args.workers} workers",
                              ["--read-only", *parallel])
    devices, _ = run("network devices, device audit (reads only)", [], devices=True)
    servers, how = min((serial, "one at a time"), (parallel_seconds, "in parallel"))
    total = servers + devices
    print(f"{f'whole lab, read-only (servers {how}, then devices)':<52} {total:7.1f} s  target <= 60 s: "
          f"{'met' if total <= 60 else 'NOT met'}", flush=True)
    if args.complete:
        run(f"one host ({args.host}), complete", [f"--hosts={args.host}"])
        run("whole lab, complete, one check at a time (intrusive checks never run on workers)", [])
    return 0


if __name__ == "__main__":
    sys.exit(main())
