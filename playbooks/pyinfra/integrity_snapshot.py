"""pyinfra: the state of the paths the integrity database watches before this run (IP-05), as
playbooks/integrity_snapshot.yml (roles/hardening/tasks/aide_snapshot.yml) for Ansible.

    deploy.include("integrity_snapshot", snapshot_hosts="linux_servers")   # linux.py, databases.py

Hosts: `{snapshot_hosts}:&linux_servers:!kernel_hosts` (snapshot_hosts from the host's data, default linux_servers).
pyinfra prepares every operation of the run before it executes any, so the snapshot is taken while the run is
prepared — before any change — by a fact, not an operation: it changes nothing that is managed and never counts as a
change. It is kept apart (SAVED) so that every approval of the run (integrity_approve.py, settle.py) compares with the
state before the whole run. Not taken with --dry (as Ansible skips it in check mode), nor where the approval program
of the baseline is not installed yet (a first run: its database is built, and approved whole, by this run).
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

from pyinfra import host
from pyinfra.facts.files import File
from pyinfra.facts.server import Command

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
    if not helpers.as_bool(v["hardening_manage_integrity"]) or "--dry" in sys.argv:
        return
    if state.get("snapshot_taken") or not host.get_fact(File, path=APPROVE_PROGRAM):
        return
    db = v["hardening_aide_db"]
    saved = f"{db}.pre-run.pyinfra"
    # a host converging from the former database path: the snapshot is of the database there (hardening.py moves it)
    used = db if host.get_fact(File, path=db) or not host.get_fact(File, path=v["hardening_aide_former_db"]) \
        else v["hardening_aide_former_db"]
    found = host.get_fact(Command, command=(
        f"{APPROVE_PROGRAM} --config {AIDE_CONFIG} --db {used} snapshot >/dev/null && "
        f"if [ -e {used}.pre-run ]; then mv {used}.pre-run {saved} && echo taken; else rm -f {saved}; echo none; fi"))
    state["snapshot_taken"] = True
    state["snapshot"] = (found or "").strip() == "taken"


if __name__ != "baseline_pyinfra_helpers":  # loaded by the unit tests under that name: no host, no operation
    deploy.check_preflight()
    snapshot()
