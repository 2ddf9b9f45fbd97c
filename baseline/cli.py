"""`baseline`: the project's one command line (declared in pyproject.toml, installed into .venv/bin by scripts/setup).

    baseline report ...      compliance report from results files (baseline/report/cli.py)
    baseline netdev ...      network devices: push, audit, backup (baseline/netdev/cli.py)
    baseline changes ...     change records, CM-01 (baseline/operations/changes.py)
    baseline incident ...    incident register, IR-01 (baseline/operations/incidents.py)
    baseline sanitise ...    media sanitisation certificates and their register, RI-02 (baseline/sanitise.py)
    baseline assessment ...  yearly assessments and the policy's coverage, AS-01 (baseline/operations/assessment.py)
    baseline catalog ...     the control catalog: list, trace a control end to end
    baseline policy ...      the policy's floors, and an inventory's values checked against them

Development commands (the lab, the device simulator, benchmarks, role docs) are not part of the runtime: the
development package registers them under the entry-point group `baseline.commands` (pyproject.toml), and they are
listed here only where it is installed. The scripts/ files are shims of these commands.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from importlib.metadata import EntryPoint, entry_points
from importlib.util import find_spec

from baseline import REPO_ROOT

RUNTIME: dict[str, tuple[str, str]] = {
    "report": ("baseline.report.cli", "compliance report (HTML, XLSX, JSON, JUnit) from results files"),
    "netdev": ("baseline.netdev.cli", "network devices: push the baseline, audit, back up"),
    "changes": ("baseline.operations.changes", "change records (CM-01): list, show, verify"),
    "incident": ("baseline.operations.incidents", "incident register (IR-01): grade, record, list, verify"),
    "sanitise": ("baseline.sanitise", "media sanitisation (RI-02): a wipe's certificate, verify the register"),
    "inspect": ("baseline.operations.inspect", "daily inspection (OP-01): every host and device, dated report"),
    "assessment": ("baseline.operations.assessment", "assessments (AS-01): record, list, verify the policy's coverage"),
    "orphans": ("baseline.operations.orphans", "orphan accounts (AC-02): servers, databases, devices vs the roster"),
    "catalog": ("baseline.cli", "control catalog: list the controls, trace one end to end"),
    "policy": ("baseline.cli", "policy values: the floors, and the inventory's values checked against them"),
    "verify": ("baseline.operations.verify", "verify everything in one run, keep a history, report drift (CI)"),
}
DEV_GROUP = "baseline.commands"


def development_commands() -> dict[str, EntryPoint]:
    """Commands the development package registered (entry points), by name, where that package is installed: the
    runtime installed without devtools/ (the execution environment, docs/awx.md) still carries the registrations."""
    return {ep.name: ep for ep in entry_points(group=DEV_GROUP) if _installed(ep.module)}


def _installed(module: str) -> bool:
    """Whether the top-level package of `module` can be imported (found, not imported)."""
    try:
        return find_spec(module.partition(".")[0]) is not None
    except (ImportError, ValueError):
        return False


def catalog_main(argv: list[str] | None = None) -> int:
    from baseline import catalog as catalog_mod
    from baseline import trace as trace_mod

    parser = argparse.ArgumentParser(prog="baseline catalog", description="The control catalog (catalog/controls.yml).")
    sub = parser.add_subparsers(dest="action", required=True)
    sub.add_parser("list", help="every control: ID, status, targets, title")
    tr = sub.add_parser("trace", help="where each control is written, applied, verified and reported")
    tr.add_argument("ids", nargs="*", metavar="ID", help="control IDs (default: every control)")
    args = parser.parse_args(argv)
    cat = catalog_mod.load()
    if args.action == "list":
        for c in cat.controls.values():
            print(f"{c.id}  {c.status:<9} {','.join(c.targets):<28} {c.title_zh} / {c.title_en}")
        return 0
    unknown = [i for i in args.ids if i not in cat.controls]
    if unknown:
        print(f"baseline catalog trace: unknown control ID(s): {', '.join(unknown)}", file=sys.stderr)
        return 2
    found = trace_mod.collect()
    pyinfra = _pyinfra_places()
    for cid in args.ids or list(cat.controls):
        c = cat.controls[cid]
        print(f"{c.id}  {c.title_zh} / {c.title_en}  [{c.status}; targets: {', '.join(c.targets)}]")
        print(f"  policy      {'; '.join(c.articles)}  (GB/T 22239-2019 {', '.join(map(str, c.clauses))})")
        print("  catalog     catalog/controls.yml")
        for label, places in (("applied", found.applied.get(cid, set())), ("pyinfra", pyinfra.get(cid, set())),
                              ("verified", found.verified.get(cid, set()))):
            for place in sorted(places) or ["-"]:
                print(f"  {label:<11} {place}")
        print(f"  report      one row {cid}, one cell per asset of its targets (baseline/report/build.py)")
    return 0


def policy_main(argv: list[str] | None = None) -> int:
    from baseline import inventory as inventory_mod
    from baseline import policy

    parser = argparse.ArgumentParser(prog="baseline policy", description="Policy values and their floors "
                                     "(baseline/policy.py; values in inventory/group_vars/all/policy.yml).")
    sub = parser.add_subparsers(dest="action", required=True)
    sub.add_parser("floors", help="every policy variable with its floor and where the policy sets it")
    check = sub.add_parser("check", help="every host's policy values against the floors (exit 2 when one is weaker)")
    check.add_argument("-i", "--inventory", help="inventory (default: $BASELINE_INVENTORY, else the lab's)")
    args = parser.parse_args(argv)
    if args.action == "floors":
        for row in policy.floors_table():
            print(f"{row['variable']:<40} {row['requirement']:<32} {row['source']}")
        return 0
    inv = inventory_mod.load(args.inventory)
    hosts = [h for h in inv.hosts() if h not in inv.hosts("network_devices")] or inv.hosts()
    if not hosts:
        print(f"baseline policy check: no host in {inv.path}", file=sys.stderr)
        return 2
    found = [v for host in hosts for v in policy.violations(inv.vars(host), where=host)]
    for line in found:
        print(line, file=sys.stderr)
    if found:
        return 2
    print(f"policy values pass their floors on {len(hosts)} host(s) of {inv.path}")
    return 0


def _pyinfra_places() -> dict[str, set[str]]:
    """Control IDs named in the pyinfra deploys (operation names start with the ID, as task names do)."""
    import re

    places: dict[str, set[str]] = {}
    for path in sorted((REPO_ROOT / "playbooks" / "pyinfra").glob("*.py")):
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            for cid in set(re.findall(r"\b([A-Z]{2}-\d{2})\b", line)):
                places.setdefault(cid, set()).add(f"{path.relative_to(REPO_ROOT)}:{number}")
    return places


def usage() -> str:
    lines = ["usage: baseline COMMAND [ARGS...]   (baseline COMMAND --help for a command's options)", "", "commands:"]
    lines += [f"  {name:<12} {about}" for name, (_, about) in RUNTIME.items()]
    dev = development_commands()
    if dev:
        lines += ["", "development commands (the lab, the device simulator, benchmarks, role docs):"]
        lines += [f"  {name:<12} {dev[name].value}" for name in sorted(dev)]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    try:
        return run(sys.argv[1:] if argv is None else argv)
    except BrokenPipeError:  # `baseline ... | head`: the reader has gone, which is no error of ours
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


def run(argv: list[str]) -> int:
    if not argv or argv[0] in ("-h", "--help"):
        print(usage())
        return 0 if argv else 2
    name, rest = argv[0], argv[1:]
    if name == "catalog":
        return catalog_main(rest)
    if name == "policy":
        return policy_main(rest)
    if name in RUNTIME:
        module = importlib.import_module(RUNTIME[name][0])
        sys.argv = [f"baseline {name}", *rest]
        return module.main(rest)
    dev = development_commands()
    if name in dev:
        sys.argv = [f"baseline {name}", *rest]
        return dev[name].load()()
    print(f"baseline: unknown command {name!r}\n\n{usage()}", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
