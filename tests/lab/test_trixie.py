"""Debian 13 (trixie) beside Debian 12: after the other lab suites, `scripts/lab up --trixie --vm` adds the Debian 13
hosts (app13, pg13, maria13: one of each server class, backup clients of bak1 like app1, db1 and db2; drill13, the
drill host of the Debian 13 database servers; kern13, the VM kind on Debian 13 for the kernel-level controls; all from
the trixie images and offline repository) and upg1, a Debian 12 app server, to the running lab. site.yml applies the
baseline to them (the Debian 13 hosts with the values of playbooks/group_vars/debian_13.yml), with the backup store
and both drill hosts, whose keys the store's accounts hold; each new backup client makes its first backups. upg1 is
then upgraded in place as an administrator upgrades a server (its apt source pointed at the Debian 13 repository,
`apt-get full-upgrade` keeping the configuration files the baseline manages, a reboot so that every service runs the
new libraries, then the upgrade's file changes approved in the integrity database). One more run of site.yml converges
upg1 and changes nothing elsewhere; the restore drill on drill13 restores pg13's PostgreSQL 17 and maria13's MariaDB
11.8 backups; and the compliance suites pass on every host with the checks and outcomes that the demo's verification
gave the Debian 12 host of its class.
pyinfra, run after Ansible, finds nothing to change on the Debian 13 servers.

In `make test` the steps up to the drill run beside pyinfra's parity tests (tests/lab/test_engine_parity.py, whose
hosts are the twins), started by tests/lab/conftest.py; this module's tests then check what they did."""

from __future__ import annotations

import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
from lab_run import Ahead, changed_tasks, on, playbook, playbooks_beside, recap, run

from baseline import REPO_ROOT
from baseline.operations import changes
from baseline.results import read_results
from devtools.lab import config

pytestmark = [pytest.mark.lab, pytest.mark.trixie]
# what the expensive fixtures may take on CI's machine (devtools/lab/deadline.py): joining with the images built,
# first apply, upgrade, second apply, drill, suites; once the steps up to the drill run ahead (AHEAD below), what
# each may still take is its cost less the time it has run
COSTS = {"trixie_up": 150, "first_apply": 680, "upgraded": 100, "second_apply": 300, "drilled": 120, "verified": 170}
TRIXIE = [h.name for h in config.TRIXIE_HOSTS + config.TRIXIE_VM_HOSTS]
UPGRADED = [h.name for h in config.UPGRADE_HOSTS]
# a Debian 12 host of the same class
TWIN_OF = {"app13": "app1", "pg13": "db1", "maria13": "db2", "drill13": "drill1", "kern13": "kern1", "upg1": "app1"}
# the store and the Debian 12 drill host as well: the store's accounts hold every drill host's key, so a run writes
# them only with the keys of all drill hosts read (roles/backup_store)
LIMIT = ",".join([*TRIXIE, *UPGRADED, "bak1", "drill1"])
DRILL = [h.name for h in config.TRIXIE_HOSTS if "drill_hosts" in h.groups]
UPGRADE = (f"echo 'deb [trusted=yes] http://{config.CONTROLLER_ADDRESS}:{config.REPO_PORTS['trixie']}/ ./' "
           "| sudo tee /etc/apt/sources.list >/dev/null && sudo apt-get -q update >/dev/null"
           " && sudo DEBIAN_FRONTEND=noninteractive apt-get -q -y full-upgrade"
           " -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold")
# after the reboot (whose first boot after an upgrade writes /etc/.updated): the upgrade replaced hundreds of watched
# programs, which the administrator approves after checking them
APPROVE = "sudo baseline-aide-approve approve --all >/dev/null"
SUITES = ("compliance_tests/linux", "compliance_tests/databases")
HOST_JOBS = 4  # a complete run with hosts side by side, as the demo verifies (baseline/compliance_jobs.py)


def release(name: str) -> str:
    return on(name, ". /etc/os-release && echo $VERSION_ID").strip()


def join() -> tuple[subprocess.CompletedProcess, dict[str, str]]:
    """The Debian 13 hosts join the running lab (the hosts already running stay as they are); the release of each
    new host, of upg1 and of app1 right after."""
    proc = run([str(REPO_ROOT / "scripts" / "lab"), "up", "--trixie", "--vm"], timeout=1800)
    assert proc.returncode == 0, f"scripts/lab up --trixie failed:\n{proc.stdout}\n{proc.stderr}"
    return proc, {name: release(name) for name in [*TRIXIE, "app1", *UPGRADED]}


def site() -> subprocess.CompletedProcess:
    """site.yml on the hosts of this test: the VM (software-emulated) in a run of its own beside the containers'."""
    runs = playbooks_beside("playbooks/site.yml", "--limit", LIMIT, timeout=1800)
    return subprocess.CompletedProcess([r.args for r in runs], max(r.returncode for r in runs),
                                       "".join(r.stdout for r in runs), "".join(r.stderr for r in runs))


def upgrade() -> dict[str, str]:
    """upg1 upgraded in place after its Debian 12 baseline; its release before and after."""
    before = {name: release(name) for name in UPGRADED}
    for name in UPGRADED:
        on(name, UPGRADE, timeout=900)
    # then the reboot that ends a release upgrade: every service starts with the new libraries
    proc = run([str(REPO_ROOT / "scripts" / "lab"), "reboot", *UPGRADED], timeout=600)
    assert proc.returncode == 0, f"scripts/lab reboot failed:\n{proc.stdout}\n{proc.stderr}"
    for name in UPGRADED:
        on(name, APPROVE, timeout=600)
    return {name: before[name] + "->" + release(name) for name in UPGRADED}


def drill() -> tuple[subprocess.CompletedProcess, float]:
    """The restore drill of the Debian 13 database servers, on their drill host; and when it started."""
    started = time.time()
    return playbook("playbooks/restore_drill.yml", "--limit", ",".join(DRILL), timeout=1500), started


# The fixtures' steps up to the drill, in order. They start beside tests/lab/test_engine_parity.py (tests/lab/
# conftest.py, AHEAD_OF), whose hosts are the twins; in a session without it (make test-trixie) each fixture runs
# its step. The suites and pyinfra's run come after parity's tests, in this module's tests.
AHEAD = Ahead(join, site, upgrade, site, drill,
              fixtures=["trixie_up", "first_apply", "upgraded", "second_apply", "drilled"])
LAB_FIXTURE_COSTS = AHEAD.costs(COSTS)


def suite(tmp: Path, name: str, hosts: list[str]) -> tuple[subprocess.CompletedProcess, list]:
    results = tmp / f"{name}.jsonl"
    proc = subprocess.run([sys.executable, "-m", "pytest", *SUITES, "-q",
                           "-p", "no:cacheprovider", "--hosts", ",".join(hosts), "--host-jobs", str(HOST_JOBS),
                           "--results-file", str(results)],
                          cwd=REPO_ROOT, capture_output=True, text=True, timeout=900, check=False)
    return proc, (list(read_results([results])) if results.exists() else [])


@pytest.fixture(scope="module")
def trixie_up(demo_run) -> tuple[subprocess.CompletedProcess, dict[str, str]]:
    return AHEAD.value("trixie_up", join)


@pytest.fixture(scope="module")
def first_apply(trixie_up) -> subprocess.CompletedProcess:
    return AHEAD.value("first_apply", site)


@pytest.fixture(scope="module")
def upgraded(first_apply) -> dict[str, str]:
    return AHEAD.value("upgraded", upgrade)


@pytest.fixture(scope="module")
def second_apply(upgraded) -> subprocess.CompletedProcess:
    return AHEAD.value("second_apply", site)


@pytest.fixture(scope="module")
def drilled(second_apply) -> tuple[subprocess.CompletedProcess, float]:
    return AHEAD.value("drilled", drill)


@pytest.fixture(scope="module")
def verified(drilled, tmp_path_factory, lab_results):
    tmp = tmp_path_factory.mktemp("trixie")
    outcome = suite(tmp, "trixie", TRIXIE + UPGRADED)
    lab_results(tmp / "trixie.jsonl")
    return outcome


def test_the_debian_13_hosts_run_debian_13(trixie_up):
    """As they joined (upg1 is upgraded later)."""
    _proc, releases = trixie_up
    assert releases == {**dict.fromkeys(TRIXIE, "13"), **dict.fromkeys(["app1", *UPGRADED], "12")}


def test_site_yml_applies_the_baseline_to_debian_13(first_apply):
    assert first_apply.returncode == 0, first_apply.stdout[-8000:] + first_apply.stderr[-2000:]
    assert set(TRIXIE + UPGRADED) <= set(recap(first_apply.stdout)), "a host was left out of the run"
    assert re.search(r"^ok: \[app13\]", first_apply.stdout, re.M)


def test_a_debian_12_host_upgrades_in_place_to_13(upgraded):
    assert upgraded == {name: "12->13" for name in UPGRADED}


def test_one_run_converges_the_upgraded_host_and_changes_nothing_on_debian_13(second_apply):
    assert second_apply.returncode == 0, second_apply.stdout[-5000:]
    changed = {h: r["changed"] for h, r in recap(second_apply.stdout).items() if r["changed"]}
    assert set(changed) <= set(UPGRADED), [line for line in changed_tasks(second_apply.stdout)
                                           if not any(f"[{name}]" in line for name in UPGRADED)]
    for name in TRIXIE + UPGRADED:
        on(name, "sudo -n true", timeout=120)


def test_the_suites_pass_on_debian_13_with_the_checks_of_debian_12(verified, demo_run):
    """The Debian 12 hosts' outcomes are the demo's: the same suites on the same baseline (a run of the suites on them
    again would only repeat them)."""
    proc, records = verified
    assert records, proc.stdout[-5000:] + proc.stderr[-2000:]
    bad = sorted({(r.asset, r.check) for r in records if r.outcome in ("fail", "error")})
    assert bad == [], proc.stdout[-8000:]
    debian_12 = [r for r in demo_run.records if r.check.startswith(SUITES)]
    for name in TRIXIE + UPGRADED:
        mine = {(r.check.split("[")[0], r.outcome) for r in records if r.asset == name}
        theirs = {(r.check.split("[")[0], r.outcome) for r in debian_12 if r.asset == TWIN_OF[name]}
        assert theirs, f"no result of the demo for {TWIN_OF[name]}"
        assert mine, f"no result for {name}"
        assert mine == theirs, (name, sorted(mine ^ theirs))



def test_the_drill_restores_the_debian_13_backups_with_their_own_database_servers(drilled):
    proc, started = drilled
    assert proc.returncode == 0, proc.stdout[-8000:] + proc.stderr[-2000:]
    for source, engine in (("pg13", "postgresql"), ("maria13", "mariadb")):
        found = [p for p in (REPO_ROOT / "results" / "restore-drill").glob(f"*/{source}-{engine}.json")
                 if p.stat().st_mtime >= started]
        assert found, f"this drill wrote no result for {source} ({engine}):\n{proc.stdout[-4000:]}"
    # drill13 restores the Debian 13 servers alone (drill1 the Debian 12 ones)
    assert not [p for p in (REPO_ROOT / "results" / "restore-drill").glob("*/db[12]-*.json")
                if p.stat().st_mtime >= started]


def test_pyinfra_after_ansible_changes_nothing_on_debian_13(verified):
    """The pyinfra deploys read the Debian 13 values too (baseline/pyinfra_deploy.py, release_values): after
    Ansible, pyinfra's whole site deploy finds nothing to change on the Debian 13 servers (the engines never fight)."""
    servers = [h.name for h in config.TRIXIE_HOSTS if {"app_servers", "postgresql_servers", "mariadb_servers"}
               & set(h.groups)]
    limits = [arg for name in servers for arg in ("--limit", name)]
    proc = subprocess.run([str(Path(sys.executable).parent / "pyinfra"), "-y", "inventory/lab/pyinfra_inventory.py",
                           "playbooks/pyinfra/site.py", *limits], cwd=REPO_ROOT, capture_output=True, text=True,
                          timeout=1800, check=False)
    assert proc.returncode == 0, proc.stdout[-6000:] + proc.stderr[-3000:]
    record = changes.archive().read()[-1]
    made = sorted({(c["host"], c["task"]) for c in record.get("changes") or []})
    assert made == [], made
