"""Benchmark of the controller's cost per task: what one task costs a run on all container hosts of the lab, by kind
of task and by strategy.

A re-apply of the baseline on several hosts is bound by the controller: Ansible forks one process per task and host,
and what that process computes is lost with it. This benchmark measures that cost apart from the baseline's own work,
with generated playbooks of --tasks tasks each on the 7 container hosts of a fresh lab:
  - skipped: a task whose condition is false on every host (nothing reaches the host);
  - builtin: ansible.builtin.stat of one file;
  - collection: community.general.ini_file in check mode (a module of a collection: Mitogen reads the list of
    installed collections before it sends one, plugins/strategy/mitogen_linear.py reads it once per run).
Each playbook runs with ansible.cfg's strategy (the project's mitogen_linear) and with Mitogen's own strategy as
released (the list read for every task and host); one line per kind and strategy: seconds per task for all hosts,
after the time of a playbook without tasks is taken off.

Holds the lab lock for the whole run (one lab user at a time), boots a fresh lab without devices and leaves it down.
"""

from __future__ import annotations

import argparse
import fcntl
import os
import sys
import tempfile
from pathlib import Path

import ansible_mitogen

from devtools.bench.linux import BIN, lab, run
from devtools.lab import config

HOSTS = ",".join(h.name for h in config.CONTAINER_HOSTS)
TASKS = {
    "skipped": "    - ansible.builtin.debug: {msg: never}\n      when: inventory_hostname == 'no such host'\n",
    "builtin": "    - ansible.builtin.stat: {path: /etc/hostname}\n",
    "collection": "    - community.general.ini_file: {path: /tmp/bench-controller.ini, section: s, option: o, value: v}\n"
                  "      check_mode: true\n",
}
# ansible.cfg's strategy_plugins is plugins/strategy (the project's); Mitogen's own directory holds the released one
STRATEGIES = {
    "mitogen_linear (ansible.cfg)": {},
    "Mitogen as released": {"ANSIBLE_STRATEGY_PLUGINS": str(Path(ansible_mitogen.__file__).parent / "plugins" / "strategy")},
}


def playbook(directory: Path, kind: str, count: int) -> Path:
    path = directory / f"{kind}-{count}.yml"
    tasks = "\n" + TASKS[kind] * count if count else " []\n"
    path.write_text(f"- name: controller benchmark, {kind}\n  hosts: {HOSTS}\n  gather_facts: false\n  tasks:{tasks}")
    return path


def timed(path: Path, env_extra: dict) -> float:
    proc, seconds = run([str(BIN / "ansible-playbook"), str(path)], env_extra=env_extra)
    if proc.returncode != 0:
        sys.exit(f"{path.name} failed (exit {proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-2000:]}")
    return seconds


def main():
    parser = argparse.ArgumentParser(prog="scripts/bench-controller", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tasks", type=int, default=40, help="tasks per playbook (default 40)")
    parser.add_argument("--rounds", type=int, default=2, help="runs of each playbook; the fastest counts (default 2)")
    args = parser.parse_args()
    if args.tasks < 1 or args.rounds < 1:
        parser.error("--tasks and --rounds must be at least 1")
    config.LOCK_FILE.parent.mkdir(parents=True, exist_ok=True)
    with open(config.LOCK_FILE, "w") as lock, tempfile.TemporaryDirectory(prefix="bench-controller-") as tmp:
        if os.environ.get("BASELINE_LAB_LOCK_HELD") != "1":
            fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            lab("down")
            print(f"{'lab up (containers, no devices)':<52} {lab('up', '--no-devices'):7.1f} s", flush=True)
            hosts = len(config.CONTAINER_HOSTS)
            print(f"seconds per task for {hosts} hosts ({args.tasks} tasks per playbook, fastest of {args.rounds})",
                  flush=True)
            for strategy, env_extra in STRATEGIES.items():
                empty = min(timed(playbook(Path(tmp), "skipped", 0), env_extra) for _ in range(args.rounds))
                print(f"  {strategy:<30} {'playbook without tasks':<20} {empty:7.2f} s", flush=True)
                for kind in TASKS:
                    path = playbook(Path(tmp), kind, args.tasks)
                    best = min(timed(path, env_extra) for _ in range(args.rounds))
                    print(f"  {strategy:<30} {kind:<20} {(best - empty) / args.tasks:7.3f} s", flush=True)
        finally:
            lab("down")


if __name__ == "__main__":
    main()
