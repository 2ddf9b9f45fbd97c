"""Engines benchmark: Ansible and pyinfra applying the same host class on the running lab, side by side.

Ansible applies the original host of the class, pyinfra its twin (`scripts/lab up --twins`, docs/lab.md):

    class        Ansible                                              pyinfra
    app          app1: playbooks/linux.yml                            app2: playbooks/pyinfra/linux.py
    postgresql   db1:  playbooks/linux.yml playbooks/databases.yml    db3:  playbooks/pyinfra/linux.py databases.py
    mariadb      db2:  (the same)                                     db4:  (the same)

The originals db1 and db2 are backup clients of bak1, the twins are not: Ansible's runs of a database class include
the store and the drill host (--limit db1,bak1,drill1), as the backup role asks of a run that makes a new backup key,
and the figures count the original's changes; its time holds the backup client's tasks and the others' share.

In one run: the apply with Ansible, its re-apply, the apply with pyinfra, its re-apply (one after the other, so
that they do not share the machine), each timed; then one table with the changed counts and the ratio
pyinfra / Ansible per step. A re-apply must change nothing; a host that was already converged makes the first
"apply" a re-apply too, which the table says: give --fresh to recreate the lab (with twins) first. A fresh lab has
no service hosts yet, which every class's first apply waits on (log1: log server and the anti-malware mirror; bak1:
the backup store the database servers' backups go to; drill1, whose key the store's accounts hold): --fresh applies
site.yml to them first, timed apart and not part of the table. `--class all` measures the three classes one after
the other on one lab (one fresh lab with --fresh).

Holds the lab lock for the whole run (one lab user at a time). The lab is left as it is (running) unless --fresh
recreated it. Each run's output goes to --log-dir (default /tmp): engines-<class>-<engine>-<step>.log.
Exit status: 0 when every run succeeded and both re-applies changed nothing, 1 otherwise, 2 when the lab is not up
with its twins.
"""

from __future__ import annotations

import argparse
import fcntl
import json
import os
import re
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

from devtools.bench.scale import BIN, RECAP, lab, run
from devtools.lab import config

CLASSES: dict[str, dict[str, list[str] | str]] = {
    "app": {"ansible_host": "app1", "pyinfra_host": "app2", "playbooks": ["playbooks/linux.yml"],
            "deploys": ["playbooks/pyinfra/linux.py"]},
    "postgresql": {"ansible_host": "db1", "ansible_limit": "db1,bak1,drill1", "pyinfra_host": "db3",
                   "playbooks": ["playbooks/linux.yml", "playbooks/databases.yml"],
                   "deploys": ["playbooks/pyinfra/linux.py", "playbooks/pyinfra/databases.py"]},
    "mariadb": {"ansible_host": "db2", "ansible_limit": "db2,bak1,drill1", "pyinfra_host": "db4",
                "playbooks": ["playbooks/linux.yml", "playbooks/databases.yml"],
                "deploys": ["playbooks/pyinfra/linux.py", "playbooks/pyinfra/databases.py"]},
}
PYINFRA_INVENTORY = config.INVENTORY_DIR / "pyinfra_inventory.py"
SERVICE_HOSTS = ("log1", "bak1", "drill1")  # what a first apply of any class needs converged before it
# pyinfra's results table: "Grand total  <hosts> <success (changed)> <error> <no change>", "-" for none
PYINFRA_TOTAL = re.compile(r"^\s*Grand total\s+(\S+)\s+(\S+)\s+(\S+)\s+(\S+)\s*$", re.M)
ANSI = re.compile(r"\x1b\[[0-9;]*m")


@dataclass
class Step:
    seconds: float
    changed: int | None  # None: the output could not be read
    ok: bool
    log: str


def ansible_outcome(output: str, host: str) -> tuple[int | None, bool]:
    """(changed tasks, whether the host neither failed nor was unreachable) from ansible-playbook's recaps; the
    counts of every playbook of the run add up (several playbooks, one recap each)."""
    found = [m for m in RECAP.findall(ANSI.sub("", output)) if m[0] == host]
    if not found:
        return None, False
    return sum(int(m[1]) for m in found), all(m[2] == "0" and m[3] == "0" for m in found)


def pyinfra_outcome(output: str) -> tuple[int | None, bool]:
    """(changed operations, no operation failed) from pyinfra's results table (its Grand total row)."""
    found = PYINFRA_TOTAL.findall(ANSI.sub("", output))
    if not found:
        return None, False
    _hosts, success, error, _no_change = (0 if cell == "-" else int(cell) for cell in found[-1])
    return success, error == 0


def ansible_command(spec: dict) -> list[str]:
    return [str(BIN / "ansible-playbook"), "--limit", str(spec.get("ansible_limit", spec["ansible_host"])),
            *spec["playbooks"]]


def pyinfra_command(spec: dict) -> list[str]:
    return [str(BIN / "pyinfra"), "-y", str(PYINFRA_INVENTORY), *spec["deploys"], "--limit", str(spec["pyinfra_host"])]


def measure(engine: str, step: str, cmd: list[str], host: str, log: Path, *, out=sys.stdout) -> Step:
    proc, seconds = run(cmd, log)
    output = proc.stdout + "\n" + proc.stderr
    changed, host_ok = ansible_outcome(output, host) if engine == "ansible" else pyinfra_outcome(output)
    ok = proc.returncode == 0 and host_ok
    status = "ok" if ok else f"FAILED (exit {proc.returncode}, see {log})"
    print(f"  {engine:<8} {step:<12} {host:<6} {seconds:7.1f} s   changed={changed if changed is not None else '?':<5} "
          f"{status}", file=out, flush=True)
    return Step(round(seconds, 1), changed, ok, str(log))


def ratio(pyinfra: Step | None, ansible: Step | None) -> float | None:
    if pyinfra is None or ansible is None or not ansible.seconds:
        return None
    return round(pyinfra.seconds / ansible.seconds, 2)


def table(cls: str, spec: dict, steps: dict[str, dict[str, Step]]) -> str:
    """The side-by-side table: per step the time and changed count of each engine, and pyinfra / Ansible."""
    a_head, p_head = f"Ansible ({spec['ansible_host']})", f"pyinfra ({spec['pyinfra_host']})"
    lines = [f"class {cls}: Ansible {' '.join(spec['playbooks'])} on {spec['ansible_host']}, pyinfra "
             f"{' '.join(spec['deploys'])} on {spec['pyinfra_host']}",
             f"{'':<12} {a_head:>24} {p_head:>24} {'pyinfra/Ansible':>16}"]

    def cell(item: Step | None) -> str:
        if item is None:
            return "not run"
        changed = "?" if item.changed is None else str(item.changed)
        return f"{item.seconds:.1f} s (changed {changed})" + ("" if item.ok else " FAILED")

    for step, label in (("apply", "apply"), ("reapply", "re-apply")):
        a, p = steps["ansible"].get(step), steps["pyinfra"].get(step)
        value = ratio(p, a)
        lines.append(f"{label:<12} {cell(a):>24} {cell(p):>24} {(f'{value:.2f}x' if value is not None else '-'):>16}")
    for engine, host in (("ansible", spec["ansible_host"]), ("pyinfra", spec["pyinfra_host"])):
        first = steps[engine].get("apply")
        if first is not None and first.ok and first.changed == 0:
            lines.append(f"note: {host} was already converged, so its apply was a re-apply too (--fresh for a fresh lab)")
        again = steps[engine].get("reapply")
        if again is not None and again.changed:
            lines.append(f"NOT idempotent: the {engine} re-apply of {host} changed {again.changed}")
    return "\n".join(lines)


def as_json(cls: str, spec: dict, steps: dict[str, dict[str, Step]]) -> dict:
    return {"class": cls, "ansible": {"host": spec["ansible_host"], "command": ansible_command(spec),
                                      **{k: asdict(v) for k, v in steps["ansible"].items()}},
            "pyinfra": {"host": spec["pyinfra_host"], "command": pyinfra_command(spec),
                        **{k: asdict(v) for k, v in steps["pyinfra"].items()}},
            "ratio": {step: ratio(steps["pyinfra"].get(step), steps["ansible"].get(step))
                      for step in ("apply", "reapply")}}


def succeeded(steps: dict[str, dict[str, Step]]) -> bool:
    every = [s for engine in steps.values() for s in engine.values()]
    return (len(every) == 4 and all(s.ok for s in every)
            and all(steps[e]["reapply"].changed == 0 for e in ("ansible", "pyinfra")))


def lab_problem(spec: dict) -> str:
    """Why the lab cannot be measured now ('' when it can): the generated inventories must name both hosts."""
    if not PYINFRA_INVENTORY.exists():
        return f"{PYINFRA_INVENTORY} does not exist: the lab is not up (scripts/lab up --twins)"
    text = PYINFRA_INVENTORY.read_text(encoding="utf-8")
    missing = [h for h in (spec["ansible_host"], spec["pyinfra_host"]) if f'"{h}"' not in text]
    if missing:
        return f"the running lab has no {', '.join(missing)}: start it with its twins (scripts/lab up --twins)"
    return ""


def apply_services(log: Path, *, out=sys.stdout) -> bool:
    """site.yml on the service hosts of a fresh lab (untimed in the table): what every class's first apply needs."""
    cmd = [str(BIN / "ansible-playbook"), "--limit", ",".join(SERVICE_HOSTS), "playbooks/site.yml"]
    proc, seconds = run(cmd, log)
    recaps = {m[0]: m for m in RECAP.findall(ANSI.sub("", proc.stdout))}
    ok = proc.returncode == 0 and all(h in recaps and recaps[h][2:] == ("0", "0") for h in SERVICE_HOSTS)
    print(f"  services {','.join(SERVICE_HOSTS)} (site.yml, not in the table) {seconds:7.1f} s   "
          + ("ok" if ok else f"FAILED (exit {proc.returncode}, see {log})"), file=out, flush=True)
    return ok


def measure_class(cls: str, log_dir: Path, *, out=sys.stdout) -> dict[str, dict[str, Step]]:
    spec = CLASSES[cls]
    steps: dict[str, dict[str, Step]] = {"ansible": {}, "pyinfra": {}}
    print(f"class {cls}: runs (logs in {log_dir})", file=out, flush=True)
    for engine, command, host in (("ansible", ansible_command(spec), str(spec["ansible_host"])),
                                  ("pyinfra", pyinfra_command(spec), str(spec["pyinfra_host"]))):
        for step in ("apply", "reapply"):
            log = log_dir / f"engines-{cls}-{engine}-{step}.log"
            steps[engine][step] = measure(engine, step, command, host, log, out=out)
            if not steps[engine][step].ok:
                break
    return steps


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="scripts/bench-engines", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--class", dest="cls", choices=[*sorted(CLASSES), "all"], default="app",
                        help="host class: app (app1 / app2), postgresql (db1 / db3), mariadb (db2 / db4), or all three "
                             "one after the other; default app")
    parser.add_argument("--json", action="store_true", help="print the figures as one JSON document instead of a table")
    parser.add_argument("--fresh", action="store_true",
                        help="recreate the lab first (scripts/lab down, then up --twins --no-devices) and converge its "
                             "service hosts: a first apply")
    parser.add_argument("--log-dir", type=Path, default=Path("/tmp"), help="where the run logs go (default /tmp)")
    args = parser.parse_args(argv)
    classes = list(CLASSES) if args.cls == "all" else [args.cls]
    args.log_dir.mkdir(parents=True, exist_ok=True)
    measured: dict[str, dict[str, dict[str, Step]]] = {}
    out = sys.stderr if args.json else sys.stdout
    config.LOCK_FILE.parent.mkdir(parents=True, exist_ok=True)
    with open(config.LOCK_FILE, "w") as lock:
        if os.environ.get("BASELINE_LAB_LOCK_HELD") != "1":
            fcntl.flock(lock, fcntl.LOCK_EX)
        if args.fresh:
            lab(args.log_dir / "engines-lab.log", "down")
            lab(args.log_dir / "engines-lab.log", "up", "--twins", "--no-devices")
        problems = [p for p in (lab_problem(CLASSES[cls]) for cls in classes) if p]
        if problems:
            print(f"scripts/bench-engines: {problems[0]}", file=sys.stderr)
            return 2
        if args.fresh and not apply_services(args.log_dir / "engines-services.log", out=out):
            return 1
        for cls in classes:
            measured[cls] = measure_class(cls, args.log_dir, out=out)
    if args.json:
        documents = [as_json(cls, CLASSES[cls], steps) for cls, steps in measured.items()]
        print(json.dumps(documents[0] if len(documents) == 1 else documents, indent=2, ensure_ascii=False))
    else:
        for cls, steps in measured.items():
            print()
            print(table(cls, CLASSES[cls], steps))
    return 0 if all(succeeded(steps) for steps in measured.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
