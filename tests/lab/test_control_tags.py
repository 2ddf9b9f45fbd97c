"""One control at a time, as an administrator previews or repairs a single control: `ansible-playbook --check
--tags ID` with the playbook of the control's part (linux.yml, databases.yml, network.yml; the restore drill:
restore_drill.yml) for every automated or partial control of the servers, databases, backups and devices, on lab
hosts of the control's targets after `scripts/demo` hardened them. Each run ends without error (no value computed by
a task of another control is missing), goes through at least one task of the control, and predicts no change: check
mode on a compliant host tells the truth. The runs go two at a time (each is mostly Ansible's own start-up)."""

from __future__ import annotations

import re
import subprocess
from concurrent.futures import ThreadPoolExecutor

import pytest
from lab_run import playbook, recap

from baseline import catalog

pytestmark = pytest.mark.lab
KINDS = {"linux", "postgresql", "mariadb", "network"}
# One host of each target kind (devices: the controller's play that drives them, limited to the inventory's devices);
# the backup store and the drill host for the controls that live there.
HOSTS = {"linux": ["app1"], "postgresql": ["db1"], "mariadb": ["db2"], "network": ["localhost", "network_devices"]}
MORE_HOSTS = {"BR-01": ["bak1"], "BR-02": ["bak1"], "BR-03": ["drill1"]}
# The playbook of the control's part (site.yml imports them all; each brings its own pre-flight).
PART = {"linux": "playbooks/linux.yml", "postgresql": "playbooks/databases.yml", "mariadb": "playbooks/databases.yml",
        "network": "playbooks/network.yml"}
PLAYBOOKS = {"BR-01": ["playbooks/databases.yml"], "BR-02": ["playbooks/databases.yml"],
             "BR-03": ["playbooks/restore_drill.yml"]}


def control_ids() -> list[str]:
    return [c.id for c in catalog.load().controls.values()
            if c.status in ("automated", "partial") and set(c.targets) & KINDS]


def hosts_of(control_id: str) -> list[str]:
    control = catalog.load().controls[control_id]
    hosts = [h for kind in control.targets if kind in HOSTS for h in HOSTS[kind]]
    return sorted(set(hosts + MORE_HOSTS.get(control_id, [])))


def playbooks_of(control_id: str) -> list[str]:
    if control_id in PLAYBOOKS:
        return PLAYBOOKS[control_id]
    books = [PART[kind] for kind in catalog.load().controls[control_id].targets if kind in PART]
    return sorted(set(books), key=list(PART.values()).index)


def run(control_id: str) -> subprocess.CompletedProcess:
    return playbook("--check", "--tags", control_id, "--limit", ",".join(hosts_of(control_id)),
                    *playbooks_of(control_id), timeout=1200)


@pytest.fixture(scope="module")
def runs(demo_run) -> dict[str, subprocess.CompletedProcess]:
    ids = control_ids()
    with ThreadPoolExecutor(max_workers=2) as pool:
        return dict(zip(ids, pool.map(run, ids), strict=True))


def tasks_of(output: str, control_id: str) -> list[str]:
    """The tasks naming the control that the run went through (check mode skips what it cannot predict, such as
    taking a backup: those count as selected)."""
    return [head for head in re.findall(r"^TASK \[.*$", output, re.M)
            if re.search(rf"(?<![\w-]){re.escape(control_id)}(?![\w-])", head)]


@pytest.mark.parametrize("control_id", control_ids())
def test_check_mode_of_one_control_runs_its_tasks_and_predicts_no_change(control_id, runs):
    proc = runs[control_id]
    assert proc.returncode == 0, proc.stdout[-5000:] + proc.stderr[-2000:]
    assert tasks_of(proc.stdout, control_id), f"--tags {control_id} selected no task of the control:\n" + \
        proc.stdout[-3000:]
    changed = {h: r["changed"] for h, r in recap(proc.stdout).items() if r["changed"]}
    assert changed == {}, re.findall(r"^changed: .*$", proc.stdout, re.M)
