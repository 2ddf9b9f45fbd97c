"""One control at a time, as an administrator previews or repairs a single control: `ansible-playbook --check
--tags ID` with the playbook of the control's part (linux.yml, databases.yml, network.yml; the restore drill:
restore_drill.yml) for every automated or partial control of the servers, databases, backups and devices, on lab
hosts of the control's targets after `scripts/demo` hardened them. The tag selects at least one task of the control
(`--list-tasks`); the run ends without error (no value computed by a task of another control is missing) and
predicts no change: check mode on a compliant host tells the truth. The runs go three at a time on different hosts
(each is mostly Ansible's own start-up and waits on its host); the server controls go in turn to app1, log1 and
mgmt1, all hardened alike, so that three runs can go side by side. `--list-tasks` shows every task with its
tags: one listing per playbook, without --tags, gives what `--tags ID` would select (the tasks tagged ID, and those
tagged `always`)."""

from __future__ import annotations

import re
import subprocess
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait

import pytest
from lab_run import playbook, recap

from baseline import catalog

pytestmark = [pytest.mark.lab, pytest.mark.extended]
KINDS = {"linux", "postgresql", "mariadb", "network"}
# One host of each target kind (devices: the controller's play that drives them, limited to the inventory's devices);
# the backup store and the drill host for the controls that live there.
HOSTS = {"linux": ["app1"], "postgresql": ["db1"], "mariadb": ["db2"], "network": ["localhost", "network_devices"]}
# Controls of the servers alone go to these hosts in turn (two runs never share a host).
SERVERS_IN_TURN = ("app1", "log1", "mgmt1")
LANES = 3  # runs at a time
MORE_HOSTS = {"BR-01": ["bak1"], "BR-02": ["bak1"], "BR-03": ["drill1"], "NW-05": ["log1"]}
# The playbook of the control's part (site.yml imports them all; each brings its own pre-flight).
PART = {"linux": "playbooks/linux.yml", "postgresql": "playbooks/databases.yml", "mariadb": "playbooks/databases.yml",
        "network": "playbooks/network.yml"}
PLAYBOOKS = {"BR-01": ["playbooks/databases.yml"], "BR-02": ["playbooks/databases.yml"],
             "BR-03": ["playbooks/restore_drill.yml"]}


# Controls that no task carries out: they have no tag to select.
NO_TASKS = {"CM-01": "every run's change record is written by the callback plugin plugins/callback/baseline_changes.py",
            "OP-01": "the daily inspection is a run of `baseline inspect` (baseline/operations/inspect.py), not a task; "
                     "its few tasks (sysstat on the servers, the management host's timers) are proven by "
                     "compliance_tests/linux/test_depth.py with its drift and by test_management_host.py",
            "IR-02": "evidence is collected by `baseline incident collect HOST` (baseline/operations/evidence.py), not by a "
                     "task of the baseline"}


def control_ids() -> list[str]:
    return [c.id for c in catalog.load().controls.values()
            if c.status in ("automated", "partial") and set(c.targets) & KINDS and c.id not in NO_TASKS]


def hosts_of(control_id: str) -> list[str]:
    control = catalog.load().controls[control_id]
    kinds = set(control.targets) & KINDS
    if kinds == {"linux"} and control_id not in MORE_HOSTS:
        servers_only = [i for i in control_ids() if set(catalog.load().controls[i].targets) & KINDS == {"linux"}
                        and i not in MORE_HOSTS]
        return [SERVERS_IN_TURN[servers_only.index(control_id) % len(SERVERS_IN_TURN)]]
    hosts = [h for kind in control.targets if kind in HOSTS for h in HOSTS[kind]]
    return sorted(set(hosts + MORE_HOSTS.get(control_id, [])))


def playbooks_of(control_id: str) -> list[str]:
    if control_id in PLAYBOOKS:
        return PLAYBOOKS[control_id]
    books = [PART[kind] for kind in catalog.load().controls[control_id].targets if kind in PART]
    return sorted(set(books), key=list(PART.values()).index)


def run(control_id: str) -> subprocess.CompletedProcess:
    """The check-mode run of the control alone."""
    selection = ("--tags", control_id, "--limit", ",".join(hosts_of(control_id)), *playbooks_of(control_id))
    return playbook("--check", *selection, timeout=1200)


@pytest.fixture(scope="module")
def listings(demo_run) -> dict[str, subprocess.CompletedProcess]:
    """`--list-tasks` of every playbook the controls use, each task with its tags."""
    books = sorted({book for i in control_ids() for book in playbooks_of(i)})
    return {book: playbook("--list-tasks", book, timeout=600) for book in books}


def listing_of(control_id: str, listings: dict[str, subprocess.CompletedProcess]) -> subprocess.CompletedProcess:
    """The listings of the control's playbooks as one (exit status: the worst)."""
    procs = [listings[book] for book in playbooks_of(control_id)]
    return subprocess.CompletedProcess([p.args for p in procs], max(p.returncode for p in procs),
                                       "".join(p.stdout for p in procs), "".join(p.stderr for p in procs))


@pytest.fixture(scope="module")
def runs(demo_run, listings) -> dict[str, tuple[subprocess.CompletedProcess, subprocess.CompletedProcess]]:
    """LANES runs at a time, never two on the same host (each run records the integrity state of its hosts before
    it starts and compares it after: a second run on the host would read the first one's files)."""
    pending, done = control_ids(), {}
    with ThreadPoolExecutor(max_workers=LANES) as pool:
        running: dict = {}
        while pending or running:
            busy = {h for _, hosts in running.values() for h in hosts}
            ready = next((i for i in pending if len(running) < LANES and not busy & set(hosts_of(i))), None)
            if ready:
                pending.remove(ready)
                running[pool.submit(run, ready)] = (ready, set(hosts_of(ready)))
                continue
            finished, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in finished:
                control_id = running.pop(future)[0]
                done[control_id] = (listing_of(control_id, listings), future.result())
    return done


def tasks_of(listing: str, control_id: str) -> list[str]:
    """Tasks of `--list-tasks` output tagged with the control itself (tasks tagged `always` run with any tag and do
    not count)."""
    found = []
    for line in listing.splitlines():
        task, _, tags = line.partition("\tTAGS: [")
        names = {t.strip() for t in tags.rstrip("]").split(",")}
        if tags and control_id in names and "always" not in names and not task.lstrip().startswith("play #"):
            found.append(task.strip())
    return found


@pytest.mark.parametrize("control_id", control_ids())
def test_check_mode_of_one_control_runs_its_tasks_and_predicts_no_change(control_id, runs):
    listing, proc = runs[control_id]
    assert listing.returncode == 0, listing.stdout[-3000:] + listing.stderr[-2000:]
    assert tasks_of(listing.stdout, control_id), f"--tags {control_id} selects no task of the control:\n" + \
        listing.stdout[-3000:]
    assert proc.returncode == 0, proc.stdout[-5000:] + proc.stderr[-2000:]
    changed = {h: r["changed"] for h, r in recap(proc.stdout).items() if r["changed"]}
    assert changed == {}, re.findall(r"^changed: .*$", proc.stdout, re.M)


def test_a_control_whose_tag_selects_nothing_of_its_own_is_seen():
    listing = ("  play #1 (x): Pre-flight\tTAGS: [always]\n"
               "      Pre-flight | check policy values\tTAGS: [always]\n"
               "      pki : Validating arguments\tTAGS: [CF-01, IN-01, always, pki]\n"
               "      pki : IN-01 | Install the CA certificate\tTAGS: [CF-01, IN-01, pki]\n")
    assert tasks_of(listing, "CF-01") == ["pki : IN-01 | Install the CA certificate"]
    assert tasks_of(listing, "DB-02") == []
