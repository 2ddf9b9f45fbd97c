"""Scale benchmark: how the first apply, the re-apply and the verification of the app class grow with the number of
hosts (1, 6 and 24 app-class container hosts by default). Target: 24 hosts take at most 4 times as long as one host.

Holds the lab lock for the whole run (one lab user at a time) and leaves the lab down. For each N:
  1. a fresh lab: the standard container hosts (the pre-flight wants the whole platform in the inventory) and N
     scale hosts scale01... (`scripts/lab up --scale N --no-devices`);
     the runs are limited to log1 and the scale hosts;
  2. log1 converged (playbooks/linux.yml --limit log1): the app class's log server, time source and anti-malware
     mirror, a prerequisite, printed but not part of the figures;
  3. first apply of playbooks/linux.yml to the N scale hosts (--limit, ansible.cfg's strategy, forks >= N so
     every host runs in parallel), then the re-apply (its changed count must be 0);
  4. the verification: the compliance suites with --hosts for the N scale hosts, read-only (the intrusive checks
     left out) on pytest-xdist workers (at most --max-workers), or with --complete in one process, in order.
Each step is timed; one line per N with the ratio to N=1, then the target per figure (met / NOT met) and the
memory of the lab at the largest N (PSS per host cgroup, and the machine's used memory).
Playbook and pytest output go to --log-dir (default /tmp), one file per step: scale-<N>-<step>.log.
"""

from __future__ import annotations

import argparse
import fcntl
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from baseline import REPO_ROOT as ROOT
from devtools.bench.lab import pss_mib
from devtools.lab import config
from devtools.lab.system import cgroup_pids

BIN = ROOT / ".venv" / "bin"
PLAYBOOK = "playbooks/linux.yml"
PREREQUISITE = "log1"
TARGET_RATIO = 4.0
DEFAULT_COUNTS = (1, 6, 24)
RECAP = re.compile(r"^(\S+)\s+: ok=\d+\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)", re.M)


def counts_arg(text: str) -> list[int]:
    """argparse type of --counts: comma-separated whole numbers from 1 to config.SCALE_MAX."""
    try:
        counts = [int(part) for part in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"--counts takes whole numbers separated by commas, not {text!r}") from None
    bad = [n for n in counts if not 1 <= n <= config.SCALE_MAX]
    if bad or not counts:
        raise argparse.ArgumentTypeError(f"--counts: every count must be from 1 to {config.SCALE_MAX}, not {text!r}")
    return sorted(set(counts))


def run(cmd: list[str], log: Path, timeout: float = 3600) -> tuple[subprocess.CompletedProcess, float]:
    env = {**os.environ, "PATH": f"{BIN}:{os.environ.get('PATH', '')}", "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"),
           "ANSIBLE_NOCOLOR": "1", "BASELINE_LAB_LOCK_HELD": "1"}
    env.pop("BASELINE_RUN_ID", None)
    t0 = time.monotonic()
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout, check=False)
    seconds = time.monotonic() - t0
    log.write_text(f"$ {' '.join(cmd)}\n# exit {proc.returncode} after {seconds:.1f} s\n{proc.stdout}\n{proc.stderr}")
    return proc, seconds


def lab(log: Path, *args: str) -> float:
    proc, seconds = run([str(ROOT / "scripts/lab"), *args], log)
    if proc.returncode != 0:
        sys.exit(f"scripts/lab {' '.join(args)} failed (see {log}):\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}")
    return seconds


def apply(label: str, limit: list[str], log: Path) -> tuple[float, int, bool]:
    """One run of the playbook on `limit`; (seconds, changed count of those hosts, success)."""
    forks = max(len(limit), 10)
    proc, seconds = run([str(BIN / "ansible-playbook"), "-f", str(forks), "--limit", ",".join(limit), PLAYBOOK], log)
    recap = {m[0]: (int(m[1]), int(m[2]), int(m[3])) for m in RECAP.findall(proc.stdout)}
    changed = sum(recap.get(name, (0, 0, 0))[0] for name in limit)
    ok = proc.returncode == 0 and all(name in recap and recap[name][1:] == (0, 0) for name in limit)
    status = "ok" if ok else f"FAILED (exit {proc.returncode}, see {log})"
    print(f"  {label:<44} {seconds:7.1f} s   changed={changed:<5} {status}", flush=True)
    return seconds, changed, ok


def verify(names: list[str], log: Path, max_workers: int, read_only: bool) -> tuple[float, str, bool]:
    # A complete run stays in one process (compliance_tests/conftest.py refuses pytest-xdist for intrusive checks)
    workers = max(1, min(len(names), max_workers)) if read_only else 1
    with tempfile.TemporaryDirectory(prefix="bench-scale-") as tmp:
        results = Path(tmp) / "results.jsonl"
        cmd = [str(BIN / "python"), "-m", "pytest", "compliance_tests", "-q", "-p", "no:cacheprovider",
               f"--hosts={','.join(names)}", "--results-file", str(results)]
        if workers > 1:
            cmd += ["-n", str(workers), "--dist", "loadgroup"]
        if read_only:
            cmd.append("--read-only")
        proc, seconds = run(cmd, log)
        records = results.read_text(encoding="utf-8").count("\n") if results.exists() else 0
    summary = (proc.stdout.strip().splitlines() or ["(no output)"])[-1]
    ok = proc.returncode == 0
    print(f"  {f'verification ({workers} workers)':<44} {seconds:7.1f} s   {records} records, exit {proc.returncode} "
          f"({summary})", flush=True)
    return seconds, summary, ok


def memory_lines(standard: list[str], names: list[str]) -> list[str]:
    per_host = {name: pss_mib(cgroup_pids(name)) for name in standard + names}
    scale = [per_host[n] for n in names]
    meminfo = dict(line.split(":", 1) for line in Path("/proc/meminfo").read_text().splitlines())
    total_kib = int(meminfo["MemTotal"].split()[0])
    used_mib = (total_kib - int(meminfo["MemAvailable"].split()[0])) / 1024
    mean = sum(scale) / max(1, len(scale))
    return [f"memory (PSS) of the lab's {len(per_host)} hosts: {sum(per_host.values()):7.0f} MiB   (standard hosts "
            f"{sum(per_host[n] for n in standard):.0f} MiB, {len(names)} scale host(s) {sum(scale):.0f} MiB: each "
            f"{min(scale, default=0):.0f}-{max(scale, default=0):.0f} MiB, mean {mean:.0f} MiB)",
            f"machine memory in use (MemTotal - MemAvailable): {used_mib:7.0f} MiB of {total_kib / 1024:.0f} MiB"]


def plural(n: int) -> str:
    return f"{n} host" if n == 1 else f"{n} hosts"


def ratio_text(value: float | None, base: float | None) -> str:
    if value is None or not base:
        return "   -  "
    return f"{value / base:5.2f}x"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="scripts/bench-scale", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--counts", type=counts_arg, default=list(DEFAULT_COUNTS),
                        help="host counts to measure, comma separated (default 1,6,24)")
    parser.add_argument("--max-workers", type=int, default=8,
                        help="at most this many pytest-xdist workers for the verification (default 8)")
    parser.add_argument("--complete", action="store_true",
                        help="verify completely, intrusive checks included (default: read-only, as a routine check)")
    parser.add_argument("--no-verify", action="store_true", help="measure the first apply and re-apply only")
    parser.add_argument("--log-dir", type=Path, default=Path("/tmp"), help="where the step logs go (default /tmp)")
    args = parser.parse_args(argv)
    if args.max_workers < 1:
        parser.error("--max-workers must be 1 or more")
    if os.geteuid() != 0:
        parser.error("the lab needs root (systemd-nspawn, mounts, bridges)")
    args.log_dir.mkdir(parents=True, exist_ok=True)
    rows: dict[int, dict] = {}
    memory: list[str] = []
    failed = False
    config.LOCK_FILE.parent.mkdir(parents=True, exist_ok=True)
    with open(config.LOCK_FILE, "w") as lock:
        if os.environ.get("BASELINE_LAB_LOCK_HELD") != "1":
            fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            for n in args.counts:
                logs = {step: args.log_dir / f"scale-{n}-{step}.log"
                        for step in ("lab", "prerequisite", "apply", "reapply", "verify")}
                names = [h.name for h in config.scale_hosts(n)]
                lab(logs["lab"], "down")
                up_s = lab(logs["lab"], "up", "--scale", str(n), "--no-devices")
                scale_text = f"{n} scale host" + ("" if n == 1 else "s")
                print(f"N={n}: lab up (the standard containers and {scale_text}) {up_s:.1f} s", flush=True)
                _s, _c, ok = apply(f"{PREREQUISITE} converged (prerequisite)", [PREREQUISITE], logs["prerequisite"])
                if not ok:
                    failed = True
                    break
                row: dict = {}
                row["apply"], _c, ok = apply(f"first apply, {plural(n)}", names, logs["apply"])
                if ok:
                    row["reapply"], row["changed"], ok = apply(f"re-apply, {plural(n)}", names, logs["reapply"])
                    if ok and not args.no_verify:
                        row["verify"], _summary, ok = verify(names, logs["verify"], args.max_workers, not args.complete)
                failed = failed or not ok or row.get("changed", 0) != 0
                rows[n] = row
                if n == max(args.counts):
                    memory = memory_lines([h.name for h in config.CONTAINER_HOSTS], names)
        finally:
            lab(args.log_dir / "scale-down.log", "down")
    print()
    base = rows.get(1, {})
    print(f"{'hosts':>5}  {'first apply':>18}  {'re-apply (changed)':>24}  {'verification':>18}")
    for n, row in rows.items():
        cells = []
        for key in ("apply", "reapply", "verify"):
            value = row.get(key)
            text = f"{value:6.1f} s {ratio_text(value, base.get(key))}" if value is not None else "not measured"
            if key == "reapply" and value is not None:
                text += f" ({row.get('changed', 0)})"
            cells.append(text)
        print(f"{n:>5}  {cells[0]:>18}  {cells[1]:>24}  {cells[2]:>18}")
    top = max(rows, default=0)
    print()
    for key, label in (("apply", "first apply"), ("reapply", "re-apply"), ("verify", "verification")):
        one, many = base.get(key), rows.get(top, {}).get(key)
        if top <= 1 or one is None or many is None:
            print(f"target {config.SCALE_MAX if top <= 1 else top} hosts <= {TARGET_RATIO:g}x one host, {label}: "
                  "not measured")
            continue
        verdict = "met" if many <= TARGET_RATIO * one else "NOT met"
        print(f"target {top} hosts <= {TARGET_RATIO:g}x one host, {label}: {many / one:.2f}x - {verdict}")
    for line in memory:
        print(line)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
