"""pyinfra: what this run changed becomes the approved state of the integrity database (IP-05), as
roles/hardening/tasks/aide_approve.yml at the end of playbooks/linux.yml (and of settle.yml) for Ansible.

    deploy.include("integrity_approve")                                # linux.py: linux_servers:!kernel_hosts
    deploy.include("integrity_approve", approve_hosts="postgresql_servers:...")   # settle.py: its hosts

Include it after the deploys of the run. The approval is an operation only when there is something to approve,
decided when the run is prepared: an operation of this run will change the host, the run builds the first database
(approved whole by every approval of that run), or an administrator names paths (`--data
integrity_approve=/etc/foo,/usr/bin/bar`, or `all`, else the inventory's integrity_approve). A run that changes
nothing approves nothing and shows no change; differences made between runs stay alerts of the daily check
(baseline-aide-check) until named.
"""

from __future__ import annotations

import importlib.util
import shlex
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

from pyinfra import host, state
from pyinfra.context import ctx_host
from pyinfra.facts.files import File
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


def named(value: Any) -> list[str]:
    """integrity_approve as the role reads it: a comma-separated text or a list; blanks dropped."""
    items = value.split(",") if isinstance(value, str) else list(value or [])
    return [str(item).strip() for item in items if str(item).strip()]


def changes_planned() -> bool:
    """Whether any operation this run has prepared so far for the host will change it."""
    me = ctx_host.get()
    for data in state.ops.get(me, {}).values():
        try:
            if data.operation_meta.will_change:
                return True
        except RuntimeError:  # an operation whose condition needs an earlier result: it may change the host
            return True
    return False


def approve_args(paths: list[str], first: bool) -> list[str]:
    if "all" in paths or first:
        return ["--all"]
    return [f"--path={path}" for path in paths]


def approve() -> None:
    pattern = host.data.get("approve_hosts") or "linux_servers:!kernel_hosts"
    if not deploy.targets(pattern):
        return
    helpers = hardening_helpers()
    v = helpers.role_values("hardening")
    run = helpers.run_state()
    if not helpers.as_bool(v["hardening_manage_integrity"]):
        return
    if not (run["integrity"] or host.get_fact(File, path=APPROVE_PROGRAM)):
        return  # no integrity database on this host, and this run does not make one
    given = host.data.get("integrity_approve")
    paths = named(given if given is not None else v["hardening_integrity_approve"])
    # the run that built the first database owns every difference from it (what it installed after building it).
    # Ansible approves it whole once and takes a new snapshot for databases.yml; a pyinfra run prepares everything
    # before it changes anything, so it has no state between its parts to compare with: every approval of the run
    # that built the first database approves whole (settle.py after databases.py in site.py included).
    first = run["first_database"]
    # run.get("resumed"): the snapshot is a stopped run's (integrity_snapshot.py), whose changes this run approves too
    if paths or first or run.get("resumed") or changes_planned():
        db = v["hardening_aide_db"]
        saved = f"{db}.pre-run.pyinfra"
        argv = [APPROVE_PROGRAM, "--config", AIDE_CONFIG, "--db", db, "approve", *approve_args(paths, first)]
        restore = f"if [ -e {saved} ]; then cp -a {saved} {db}.pre-run; fi"
        server.shell(name="IP-05 | Approve what this run changed (and the paths named in integrity_approve)",
                     commands=[restore, shlex.join(argv)])
        run["approval_planned"] = True


if __name__ != "baseline_pyinfra_helpers":  # loaded by the unit tests under that name: no host, no operation
    deploy.check_preflight()
    approve()
