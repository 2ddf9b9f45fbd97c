"""pyinfra: what packages of this run brought keeps the earlier controls (AC-01, IP-02), and what the run changed
becomes the approved integrity state (IP-05), as playbooks/settle.yml for Ansible (end of databases.yml and
restore_drill.yml).

    deploy.include("settle", settle_hosts="postgresql_servers:mariadb_servers:...")   # databases.py

Hosts: `{settle_hosts}:&linux_servers:!kernel_hosts` (settle_hosts from the host's data, default linux_servers), and
of those only hosts with the server baseline (/etc/aide/baseline.conf there, or installed by this run).
AC-01 comes from the accounts deploy (playbooks/pyinfra/accounts.py, included with `accounts_tasks=system_shells`);
IP-02 from the hardening deploy's services part; IP-05 from integrity_approve.py.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

from pyinfra import host
from pyinfra.facts.files import File

from baseline import pyinfra_deploy as deploy

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


def settle() -> None:
    pattern = f"{host.data.get('settle_hosts') or 'linux_servers'}:&linux_servers:!kernel_hosts"
    if not deploy.targets(pattern):
        return
    if not (hardening_helpers().run_state()["integrity"] or host.get_fact(File, path=AIDE_CONFIG)):
        return  # no server baseline here: left be
    deploy.include("accounts", accounts_tasks="system_shells")
    deploy.include("hardening", hardening_tasks="services")
    deploy.include("integrity_approve", approve_hosts=pattern)


if __name__ != "baseline_pyinfra_helpers":  # loaded by the unit tests under that name: no host, no operation
    deploy.check_preflight()
    settle()
