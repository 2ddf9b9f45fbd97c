"""pyinfra: the state of the paths the integrity database watches before this run (IP-05), as
playbooks/integrity_snapshot.yml (roles/hardening/tasks/aide_snapshot.yml) for Ansible.

    deploy.include("integrity_snapshot", snapshot_hosts="linux_servers")   # linux.py, databases.py

Hosts: `{snapshot_hosts}:&linux_servers:!kernel_hosts` (snapshot_hosts from the host's data, default linux_servers).
pyinfra prepares every operation of the run before it executes any, so the snapshot is taken while the run is
prepared — before any change — by a fact, not an operation: it changes nothing that is managed and never counts as a
change. It is kept apart (SAVED) so that every approval of the run (integrity_approve.py, settle.py) compares with the
state before the whole run. Not taken with --dry (as Ansible skips it in check mode), nor where the approval program
of the baseline is not installed yet (a first run: its database is built, and approved whole, by this run).

A run that stands lets its snapshot go at its end (deploy.at_finish: an operation after the run's last approval, or,
when the run approves nothing, at once while it is prepared). A snapshot still there at the next run is therefore one
of a run that stopped before its approvals: it is handed back to the approval program, which keeps a snapshot
younger than a day (as after a stopped Ansible run), and this run then approves what both runs changed.
"""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType

from pyinfra import host
from pyinfra.facts.files import File
from pyinfra.facts.server import Command
from pyinfra.operations import server

from baseline import pyinfra_deploy as deploy

APPROVE_PROGRAM = "/usr/local/sbin/baseline-aide-approve"
AIDE_CONFIG = "/etc/aide/baseline.conf"


def hardening_helpers() -> ModuleType:
    """The helpers of hardening.py (run state, values, yes/no), loaded without running its deploy."""
    registry = sys.modules.setdefault("_baseline_integrity_run", ModuleType("_baseline_integrity_run"))
    if "helpers" not in registry.__dict__:
        spec = importlib.util.spec_from_file_location("baseline_pyinfra_helpers",
                                                      Path(__file__).with_name("hardening.py"))
        assert spec and spec.loader
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        registry.helpers = module
    return registry.helpers


def snapshot() -> None:
    pattern = f"{host.data.get('snapshot_hosts') or 'linux_servers'}:&linux_servers:!kernel_hosts"
    if not deploy.targets(pattern):
        return
    helpers = hardening_helpers()
    v = helpers.role_values("hardening")
    state = helpers.run_state()
    if not helpers.as_bool(v["hardening_manage_integrity"]):
        return
    if state.get("snapshot_taken") or not host.get_fact(File, path=APPROVE_PROGRAM):
        return
    db = v["hardening_aide_db"]
    saved = f"{db}.pre-run.pyinfra"
    state["snapshot_taken"] = True
    state["saved"] = saved
    deploy.at_finish(let_go)
    if "--dry" in sys.argv:
        return
    # a host converging from the former database path: the snapshot is of the database there (hardening.py moves it)
    used = db if host.get_fact(File, path=db) or not host.get_fact(File, path=v["hardening_aide_former_db"]) \
        else v["hardening_aide_former_db"]
    # a snapshot left by a stopped run goes back to the program, which keeps it when it is younger than a day
    found = host.get_fact(Command, command=(
        f"if [ -e {saved} ]; then mv -f {saved} {used}.pre-run; fi; "
        f"{APPROVE_PROGRAM} --config {AIDE_CONFIG} --db {used} snapshot && "
        f"if [ -e {used}.pre-run ]; then mv {used}.pre-run {saved} && echo taken; else rm -f {saved}; echo none; fi"))
    lines = (found or "").strip().splitlines()
    state["snapshot"] = bool(lines) and lines[-1] == "taken"
    try:
        said = json.loads(lines[0]) if len(lines) > 1 else {}
    except ValueError:
        said = {}
    state["resumed"] = state["snapshot"] and "kept_from_a_stopped_run_min" in said


def let_go() -> None:
    """At the end of the run (deploy.at_finish): the run stands, so its snapshot goes. After the run's approvals as
    an operation when it approves anything (--dry lists it); otherwise at once, while the run is prepared (it
    changes nothing the baseline manages, as the snapshot itself)."""
    state = hardening_helpers().run_state()
    saved = state.get("saved")
    if not saved:
        return
    if state.get("approval_planned"):
        server.shell(name="IP-05 | The run stands: its snapshot of the state before it goes", commands=[f"rm -f {saved}"])
    elif "--dry" not in sys.argv:
        host.get_fact(Command, command=f"rm -f {saved} && echo gone")


if __name__ != "baseline_pyinfra_helpers":  # loaded by the unit tests under that name: no host, no operation
    deploy.check_preflight()
    snapshot()
