"""Benchmark of the lab: base-image build cold and warm, hosts up to SSH-ready, memory per host, teardown.

Prints one line per figure. Target: the 6 container hosts SSH-ready in under 15 s from a warm cache.
Cold figures use a throw-away cache directory, so the machine's cache is left as it was.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from baseline import REPO_ROOT as ROOT
from devtools.lab import config
from devtools.lab.system import cgroup_pids


def lab(*args, env=None):
    proc = subprocess.run([str(ROOT / "scripts/lab"), "--json", *args], capture_output=True, text=True,
                          env={**os.environ, **(env or {})}, check=False)
    if proc.returncode != 0:
        sys.exit(f"scripts/lab {' '.join(args)} failed:\n{proc.stdout}\n{proc.stderr}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def pss_mib(pids):
    total = 0
    for pid in pids:
        try:
            for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
                if line.startswith("Pss:"):
                    total += int(line.split()[1])
        except OSError:
            pass
    return total / 1024


def main():
    parser = argparse.ArgumentParser(prog="scripts/bench-lab", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--no-cold", action="store_true", help="skip the cold build with the VM (about two minutes)")
    parser.add_argument("--rounds", type=int, default=3, help="warm up/down rounds (default 3)")
    args = parser.parse_args()
    lab("down")
    if not args.no_cold:
        with tempfile.TemporaryDirectory(prefix="baseline-lab-cold-") as cache:
            t0 = time.monotonic()
            cold = lab("up", "--vm", env={"BASELINE_LAB_CACHE": cache})
            lab("down", env={"BASELINE_LAB_CACHE": cache})
            print(f"base image build, cold:              {cold['base_image_build_s']:6.1f} s")
            print(f"offline repository build, cold:      {cold['repo_build_s']:6.1f} s")
            print(f"VM image build, cold:                {cold['vm_image_build_s']:6.1f} s")
            print(f"images ready, cold (the VM image beside the others): {cold['images_ready_s']:6.1f} s")
            print(f"cold up to SSH-ready (total):        {time.monotonic() - t0:6.1f} s")
    lab("up", "--no-devices")  # fills the machine's cache if needed
    lab("down")
    ready, downs, totals = [], [], []
    for _ in range(args.rounds):
        up = lab("up", "--no-devices")
        ready.append(up["ssh_ready_s"])
        totals.append(up["up_total_s"])
        memory = {h.name: pss_mib(cgroup_pids(h.name)) for h in config.CONTAINER_HOSTS}
        downs.append(lab("down")["down_s"])
    print(f"base image build, warm (cache hit):  {up['base_image_build_s']:6.1f} s")
    print(f"{len(config.CONTAINER_HOSTS)} hosts boot to SSH-ready, warm:    "
          f"{min(ready):6.2f} s best, {sorted(ready)[len(ready) // 2]:.2f} s median of {len(ready)} (target < 15 s)")
    print(f"lab up total, warm:                  {min(totals):6.2f} s best")
    for name, mib in memory.items():
        print(f"memory (PSS) of host {name:7}         {mib:6.1f} MiB")
    print(f"memory per host, mean:               {sum(memory.values()) / len(memory):6.1f} MiB")
    print(f"teardown (lab down):                 {min(downs):6.2f} s best")


if __name__ == "__main__":
    main()
