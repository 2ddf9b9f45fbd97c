"""pyinfra and Ansible are equal engines: pyinfra applies the twins (app2, db3, db4) while Ansible applied the
originals (app1, db1, db2, by scripts/demo), and then

- `--dry` on the fresh twins predicts exactly the operations the real run changes, and a second run changes nothing;
- the compliance suites give the same verdict per check on each pair (host names aside; the originals are backup
  clients, the twins are not: the backup checks are compared only where both have them);
- every file under the directories the baseline manages is byte-identical with the same owner, group and mode,
  host-specific files (keys, certificates, databases of host state) aside, listed in HOST_SPECIFIC;
- Ansible run on the twins after pyinfra changes nothing, and pyinfra run on the originals after Ansible changes
  nothing: the engines never fight;
- a drift made by hand on a twin is caught by the suite and repaired by the pyinfra deploy, and one on an original
  (hardened by Ansible, pam_tmpdir in place) is repaired by pyinfra as well.

`make test` runs the module but for the two tests marked `extended` (pyinfra on an original: the repair of a drift
and the run after a stopped run), which `make test-extended` runs.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from lab_run import on, recap

from baseline import REPO_ROOT
from baseline.operations import changes
from baseline.results import read_results
from devtools.lab import config, filecompare

pytestmark = pytest.mark.lab
# pyinfra's safety on an original, beyond the parity proof (see above): make test-extended
ON_AN_ORIGINAL = pytest.mark.extended
# what the expensive fixtures may take on CI's machine (devtools/lab/deadline.py)
LAB_FIXTURE_COSTS = {"twins_applied": 430}
BIN = Path(sys.executable).parent
TWINS = dict(config.TWIN_OF)  # twin -> original
ORIGINALS = {original: twin for twin, original in TWINS.items()}
PYINFRA_INVENTORY = "inventory/lab/pyinfra_inventory.py"
SUITES = ("compliance_tests/linux", "compliance_tests/databases")

# Directories whose every file both engines must leave identical (bytes, owner, group, mode).
MANAGED_DIRS = (
    "/etc/ssh/sshd_config.d", "/etc/ssh/sshd_config", "/etc/pam.d", "/etc/security", "/etc/sudoers.d", "/etc/sudoers",
    "/etc/profile.d", "/etc/issue", "/etc/issue.net", "/etc/motd", "/etc/login.defs", "/etc/default/useradd",
    "/etc/rsyslog.d", "/etc/rsyslog.conf", "/etc/systemd/journald.conf.d", "/etc/chrony", "/etc/logrotate.d",
    "/etc/audit", "/etc/sysctl.d", "/etc/modprobe.d", "/etc/nftables.conf", "/etc/apt/apt.conf.d",
    "/etc/aide", "/etc/clamav", "/etc/postgresql", "/etc/mysql", "/etc/cron.allow", "/etc/at.allow",
    "/etc/cron.d", "/etc/systemd/system", "/usr/local/sbin", "/usr/local/bin", "/etc/passwd", "/etc/group",
    "/etc/aliases", "/etc/baseline-pki", "/etc/needrestart/conf.d", "/etc/systemd/coredump.conf.d",
    "/etc/tmpfiles.d/tmp.conf", "/etc/default/sysstat", "/etc/sysstat/sysstat",
)
# Files that are the host's own by nature: keys and certificates issued per host, and Ansible's dated copies of a
# replaced file (`backup: true`, named by process id and time). Paths are compared with the host's own name written
# as @HOST@, contents by their bytes or with the name so written (rsyslog names the host's certificate; devtools/lab/
# filecompare.py). A path matches when it starts with an entry.
HOST_SPECIFIC = (
    "/etc/baseline-pki/@HOST@.", "/etc/baseline-pki/postgresql.", "/etc/baseline-pki/mariadb.",
    "/etc/ssh/ssh_host_", "/etc/aide/aide.db",
)
DATED_COPY = re.compile(r"\.\d+\.\d{4}-\d\d-\d\d@\d\d:\d\d:\d\d~$")
# The originals are backup clients of the store, the twins are not: the backup client's files exist on one side.
BACKUP_CLIENT_FILES = (
    "/etc/systemd/system/baseline-backup@", "/usr/local/sbin/baseline-backup", "/usr/local/sbin/baseline-db-fingerprint",
    "/etc/logrotate.d/pgbackrest", "/etc/postgresql/15/main/conf.d/60-pgbackrest.conf",
)


# Checks of the backups: the originals are clients of the store (bak1, set up by Ansible), the twins are not, so a
# database twin has no backup to show. Compared where both are clients: never here (tests/lab/
# test_pyinfra_mariadb_backup.py runs pyinfra's backup deploy on the originals).
BACKUP_CHECKS = ("compliance_tests/linux/test_backups.py::", "compliance_tests/databases/test_db_backups.py::")


def pyinfra(limit: str, *args: str, deploy: str = "playbooks/pyinfra/site.py",
            timeout: float = 1800) -> subprocess.CompletedProcess:
    """pyinfra on `limit`; a --dry run without -y (with -y pyinfra skips the change detection --dry exists for)."""
    env = {**os.environ, "ANSIBLE_CONFIG": str(REPO_ROOT / "ansible.cfg")}
    confirm = [] if "--dry" in args else ["-y"]
    limits = [arg for name in limit.split(",") for arg in ("--limit", name)]  # pyinfra: one --limit per name
    return subprocess.run([str(BIN / "pyinfra"), *confirm, PYINFRA_INVENTORY, deploy, *limits, *args],
                          cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=timeout, check=False)


def last_record() -> dict:
    """The last change record of pyinfra: the Debian 13 hosts' Ansible runs (applies, drill) record their own beside
    this module's runs (tests/lab/conftest.py, AHEAD_OF)."""
    records = [r for r in changes.archive().read() if r.get("engine") == "pyinfra"]
    assert records, "the pyinfra run left no change record (CM-01)"
    return records[-1]


def changed(record: dict) -> dict[str, list[str]]:
    """host -> names of the operations the run changed (or, for --dry, would change), in order."""
    found: dict[str, list[str]] = {}
    for entry in record.get("changes") or []:
        found.setdefault(entry["host"], []).append(entry["task"])
    return found


def run_ok(proc: subprocess.CompletedProcess, what: str) -> None:
    assert proc.returncode == 0, f"{what} failed (exit {proc.returncode}):\n{proc.stdout[-5000:]}\n{proc.stderr[-3000:]}"


def suite(hosts: list[str], inventory_dir: Path, tmp: Path, name: str,
          suites: tuple[str, ...] = SUITES) -> dict[tuple[str, str], str]:
    """(host, check) -> outcome of the compliance suites on `hosts` read from `inventory_dir`, the hosts side by
    side (one process each, as the demo verifies)."""
    results = tmp / f"{name}.jsonl"
    env = {**os.environ, "ANSIBLE_CONFIG": str(REPO_ROOT / "ansible.cfg"), "BASELINE_INVENTORY": str(inventory_dir),
           "BASELINE_SSH_CONFIG": str(config.INVENTORY_DIR / "ssh_config")}
    cmd = [sys.executable, "-m", "pytest", *suites, "-q", "-p", "no:cacheprovider", "--hosts", ",".join(hosts),
           "--host-jobs", str(len(hosts)), "--results-file", str(results)]
    proc = subprocess.run(cmd, cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=1800, check=False)
    records = list(read_results([results])) if results.exists() else []
    assert records, f"{' '.join(cmd)} recorded nothing:\n{proc.stdout[-3000:]}{proc.stderr[-3000:]}"
    return {(r.asset, re.sub(r"\[.*\]$", "", r.check)): r.outcome for r in records
            if r.asset in hosts and not r.check.startswith(BACKUP_CHECKS)}


def managed_files(host: str) -> dict[str, filecompare.FileState]:
    """path -> owner, group, mode and digests (devtools/lab/filecompare.py) of every file under MANAGED_DIRS on
    `host`; host-specific files, dated copies and the backup client's files left out."""
    found = filecompare.read_listing(on(host, filecompare.listing_command(MANAGED_DIRS, host)), host)
    return {path: state for path, state in found.items()
            if not path.startswith(HOST_SPECIFIC + BACKUP_CLIENT_FILES) and not DATED_COPY.search(path)}


@pytest.fixture(scope="module")
def twins_applied(demo_run, tmp_path_factory):
    """Dry run, real run and second run of pyinfra's site deploy on the fresh twins; the change records of each."""
    limit = ",".join(TWINS)
    dry = pyinfra(limit, "--dry")
    run_ok(dry, "pyinfra --dry on the fresh twins")
    predicted = changed(last_record())
    first = pyinfra(limit)
    run_ok(first, "pyinfra on the fresh twins")
    made = changed(last_record())
    second = pyinfra(limit)
    run_ok(second, "the second pyinfra run on the twins")
    again = changed(last_record())
    return {"predicted": predicted, "made": made, "again": again, "tmp": tmp_path_factory.mktemp("parity")}


def test_dry_run_predicts_the_real_run_and_a_second_run_changes_nothing(twins_applied):
    predicted, made = twins_applied["predicted"], twins_applied["made"]
    assert set(made) == set(TWINS), f"every twin is changed by its first run: {sorted(made)}"
    for twin in TWINS:
        assert predicted.get(twin) == made.get(twin), f"{twin}: --dry predicted other operations than the run made"
    assert twins_applied["again"] == {}, f"second pyinfra run changed: {twins_applied['again']}"


@pytest.mark.lab_cost(75)
def test_the_suites_give_each_twin_the_verdicts_of_its_original(demo_run, twins_applied):
    """The originals' verdicts are the demo's (a second run of the suites on them would add its failed-login probes
    to the ones the daily inspection counts)."""
    tmp = twins_applied["tmp"]
    originals = {(r.asset, re.sub(r"\[.*\]$", "", r.check)): r.outcome for r in demo_run.records
                 if r.asset in ORIGINALS and r.check.startswith("compliance_tests/")
                 and not r.check.startswith(BACKUP_CHECKS)}
    twins = suite(list(TWINS), config.TWIN_INVENTORY_DIR, tmp, "twins")
    for twin, original in TWINS.items():
        mine = {check: outcome for (host, check), outcome in twins.items() if host == twin}
        theirs = {check: outcome for (host, check), outcome in originals.items() if host == original}
        assert mine, f"no results for {twin}"
        failing = {check: outcome for check, outcome in mine.items() if outcome in ("fail", "error")}
        assert not failing, f"{twin}: failing checks after pyinfra: {failing}"
        differ = {check: (theirs.get(check), outcome) for check, outcome in mine.items()
                  if check in theirs and theirs[check] != outcome}
        assert not differ, f"{twin} vs {original}: (Ansible, pyinfra) verdicts differ: {differ}"
        assert set(theirs) == set(mine), f"checks of only one of {original}, {twin}: {sorted(set(theirs) ^ set(mine))}"


def test_managed_files_are_byte_identical_on_each_pair(twins_applied):
    for twin, original in TWINS.items():
        mine, theirs = managed_files(twin), managed_files(original)
        differ = filecompare.differences(mine, theirs)
        assert not differ, f"{original} (Ansible) vs {twin} (pyinfra): {differ}"


@pytest.mark.lab_cost(185)
def test_the_engines_never_fight(twins_applied):
    ansible = subprocess.run([str(BIN / "ansible-playbook"), "-i", str(config.TWIN_INVENTORY_DIR),
                              "playbooks/site.yml"], cwd=REPO_ROOT, capture_output=True, text=True, timeout=1800,
                             env={**os.environ, "ANSIBLE_CONFIG": str(REPO_ROOT / "ansible.cfg")}, check=False)
    run_ok(ansible, "Ansible on the twins after pyinfra")
    figures = recap(ansible.stdout)
    assert {twin: figures.get(twin, {}).get("changed") for twin in TWINS} == dict.fromkeys(TWINS, 0), \
        ansible.stdout[-5000:]
    after_ansible = pyinfra(",".join(TWINS) + "," + ",".join(ORIGINALS))
    run_ok(after_ansible, "pyinfra on twins and originals after Ansible")
    assert changed(last_record()) == {}, "pyinfra after Ansible changed something"


@pytest.mark.lab_cost(85)
def test_a_drift_on_a_twin_is_caught_and_repaired_by_pyinfra(twins_applied):
    """The identification checks (sshd's among them) see the drift; pyinfra's repair changes sshd's drop-in alone,
    and the same checks pass again. The whole suite ran on the twin in the verdict comparison."""
    tmp = twins_applied["tmp"]
    identification = ("compliance_tests/linux/test_identification.py",)
    on("app2", "sudo sed -i 's/^MaxAuthTries .*/MaxAuthTries 6/' /etc/ssh/sshd_config.d/50-baseline.conf")
    caught = suite(["app2"], config.TWIN_INVENTORY_DIR, tmp, "drift", identification)
    failing = {check.rsplit("::", 1)[-1] for (_host, check), outcome in caught.items() if outcome in ("fail", "error")}
    assert "test_ssh_attempts_limited" in failing, f"the suite did not see the hand-made MaxAuthTries: {failing}"
    repaired = pyinfra("app2")
    run_ok(repaired, "pyinfra repairing app2")
    made = changed(last_record())
    # besides sshd (IA-05, under the lockout guard): the integrity approval of what the run changed (IP-05) and the
    # end of the guard's hold once the run stands
    other = [task for task in made.get("app2", []) if "IA-05 |" not in task
             and not task.startswith(("IP-05 | ", "Lockout safety | "))]
    assert set(made) == {"app2"} and any(t.startswith("IA-05 | Install the sshd drop-in") for t in made["app2"]) \
        and not other, f"the repair changed more than sshd's settings on app2: {made}"
    again = suite(["app2"], config.TWIN_INVENTORY_DIR, tmp, "repaired", identification)
    still = {check for (_host, check), outcome in again.items() if outcome in ("fail", "error")}
    assert again and not still, f"still failing after the pyinfra run: {still}"


@ON_AN_ORIGINAL
def test_pyinfra_repairs_a_drift_on_a_host_ansible_hardened(twins_applied):
    """An upload on a host that Ansible hardened: pam_tmpdir (RI-01) is in place there, and pyinfra must still write
    its upload's temporary file where the login account can. No suite run on the original (its failed-login probes
    would count in the daily inspection); sshd's effective value shows the repair."""
    drop_in = "/etc/ssh/sshd_config.d/50-baseline.conf"
    before = on("app1", f"sudo grep '^MaxAuthTries ' {drop_in}").strip()
    assert before and before != "MaxAuthTries 6", before
    on("app1", f"sudo sed -i 's/^MaxAuthTries .*/MaxAuthTries 6/' {drop_in}")
    try:
        repaired = pyinfra("app1")
        run_ok(repaired, "pyinfra repairing app1 after Ansible hardened it")
        assert any("IA-" in task for task in changed(last_record()).get("app1", [])), "no sshd repair was recorded"
        assert on("app1", f"sudo grep '^MaxAuthTries ' {drop_in}").strip() == before
        assert f"maxauthtries {before.split()[1]}" in on("app1", "sudo sshd -T -C user=root,host=x,addr=127.0.0.1")
        # the change was guarded (armed, confirmed by a new login) and, the whole run standing, site.py's own
        # finish() let the rollback's copies of the access files go: nothing is left armed or held
        assert "arm the rollback before the change" in repaired.stdout + repaired.stderr
        held = json.loads(on("app1", "sudo /usr/local/sbin/baseline-rollback status access"))
        assert held.get("access", {}).get("plan") is None, held
    finally:
        # only when the run did not repair it (a rewrite of a repaired file would be an integrity difference)
        on("app1", f"sudo grep -qx '{before}' {drop_in} || "
                   f"{{ sudo sed -i 's/^MaxAuthTries .*/{before}/' {drop_in} && sudo systemctl reload ssh; }}")


@ON_AN_ORIGINAL
def test_the_run_after_a_stopped_pyinfra_run_approves_what_that_run_changed(twins_applied):
    """A pyinfra run that stops after a change and before its approvals leaves its snapshot of the state before it
    (integrity_snapshot.py). On app1 that state is made as such a run leaves it: the approved state has one sshd
    value, the snapshot is taken, the file is then changed to the baseline's value and nothing approves it. The next
    pyinfra run changes no file, yet hands the snapshot back and approves what the stopped run changed (no pending
    integrity difference); the run that stands lets its snapshot go, and the run after it changes nothing."""
    drop_in = "/etc/ssh/sshd_config.d/50-baseline.conf"
    db = "/var/lib/aide/aide.db"
    program = f"sudo /usr/local/sbin/baseline-aide-approve --config /etc/aide/baseline.conf --db {db}"

    def pending() -> list[str]:
        return json.loads(on("app1", f"{program} pending").strip().splitlines()[-1])["pending"]

    before = on("app1", f"sudo grep '^MaxAuthTries ' {drop_in}").strip()
    assert before and before != "MaxAuthTries 6" and pending() == [], before
    try:
        on("app1", f"sudo sed -i 's/^MaxAuthTries .*/MaxAuthTries 6/' {drop_in} && {program} approve --path {drop_in} "
                   f">/dev/null && {program} snapshot >/dev/null && sudo mv {db}.pre-run {db}.pre-run.pyinfra && "
                   f"sudo sed -i 's/^MaxAuthTries .*/{before}/' {drop_in}")
        assert pending() == [drop_in], "the stopped run's change is not an integrity difference"
        resumed = pyinfra("app1")
        run_ok(resumed, "pyinfra after a stopped run")
        said = resumed.stdout + resumed.stderr
        assert "IP-05 | Approve what this run changed" in said and "IP-05 | The run stands" in said, said[-4000:]
        assert pending() == [], "the stopped run's change was not approved"
        assert on("app1", f"sudo sh -c 'test -e {db}.pre-run.pyinfra && echo left || echo gone'").strip() == "gone"
        again = pyinfra("app1")
        run_ok(again, "pyinfra after the run that approved")
        assert changed(last_record()).get("app1", []) == [], changed(last_record())
        assert on("app1", f"sudo sh -c 'test -e {db}.pre-run.pyinfra && echo left || echo gone'").strip() == "gone"
    finally:
        on("app1", f"sudo grep -qx '{before}' {drop_in} || sudo sed -i 's/^MaxAuthTries .*/{before}/' {drop_in}; "
                   f"{program} pending | grep -q '{drop_in}' && {program} approve --path {drop_in} >/dev/null; true")


def test_a_value_below_the_policy_floor_stops_pyinfra_before_the_host_is_changed(twins_applied):
    """The pre-flight under pyinfra, as under Ansible: an inventory whose value for a twin is below the policy's
    floor (host_vars of a copy of the twins' inventory, named to pyinfra with --data) ends the real run with exit 2
    and the variable and the rule named, and the files the value governs stay as they were."""
    copy = twins_applied["tmp"] / "weak-inventory"
    (copy / "host_vars").mkdir(parents=True)
    hosts = copy / "hosts.yml"
    hosts.touch(mode=0o600)
    hosts.write_bytes((config.TWIN_INVENTORY_DIR / "hosts.yml").read_bytes())
    (copy / "group_vars").symlink_to((config.TWIN_INVENTORY_DIR / "group_vars").resolve())
    (copy / "host_vars" / "app2.yml").write_text("password_min_length: 8\n", encoding="utf-8")
    governed = "sudo sh -c 'sha256sum /etc/security/pwquality.conf.d/* /etc/login.defs /etc/pam.d/common-password'"
    before = on("app2", governed)
    refused = pyinfra("app2", "--data", f"baseline_inventory={copy}",
                      "--data", "change_reason=the pre-flight under pyinfra (a weak value must be refused)")
    assert refused.returncode == 2, f"exit {refused.returncode}:\n{refused.stdout[-3000:]}\n{refused.stderr[-3000:]}"
    said = refused.stdout + refused.stderr
    assert "password_min_length = 8 is below the policy floor 10" in said, said[-3000:]
    assert "Pre-flight refused the run before any host is changed" in said, said[-3000:]
    assert on("app2", governed) == before
