"""BR-01, BR-02 on every server: the files of each backup client (`backup_file_paths`) are copied daily with
restic to the off-site store, the last copy is younger than the policy's full-backup interval and it is there,
encrypted, on the store. Database backups are checked by compliance_tests/databases."""

from __future__ import annotations

import json
import re
import shlex
from datetime import UTC, datetime

import pytest
from linuxcheck import show_properties, timer_calendars

from baseline import compliance, inventory
from baseline.compliance_plugin import not_applicable

testinfra_hosts = compliance.hosts_in("linux_servers")
STATE = "/var/lib/baseline-backup/files.json"
ENV = "/etc/baseline/backup/backup.env"


@pytest.fixture(autouse=True)
def backup_client(host, policy):
    """Skip as not applicable on hosts outside the backup_clients group (the store itself, drill hosts). Autouse, so
    that it decides before anything else, also for the check a read-only run leaves out (not applicable stays so)."""
    groups = policy.get("group_names", [])
    if "backup_clients" not in groups:
        not_applicable(f"{compliance.asset_name(host)} is not in the backup_clients group "
                       f"(groups: {', '.join(sorted(groups))}); its data is not the platform's to back up")
    return host


def _stamp(value: str) -> datetime:
    return datetime.strptime(value, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)


def _files_state(host) -> dict:
    raw = host.run(f"sudo cat {STATE}")
    return json.loads(raw.stdout) if raw.rc == 0 and raw.stdout.strip() else {}


@pytest.mark.control("BR-01")
@pytest.mark.method("record")
def test_file_backup_is_younger_than_the_full_backup_interval(backup_client, policy, evidence):
    limit = policy["backup_full_interval_days"]
    last = _files_state(backup_client).get("last_full")
    age = (datetime.now(UTC) - _stamp(last["time"])).total_seconds() / 86400 if last else None
    evidence.record(command=f"cat {STATE}", observed={"last": last, "age_days": age and round(age, 3)},
                    expected=f"a complete snapshot of {' '.join(policy['backup_file_paths'])} younger than {limit} days")
    assert last, "no file backup recorded on this host"
    assert age < limit


@pytest.mark.control("BR-01")
@pytest.mark.method("state")
def test_file_backup_timer_runs_daily(backup_client, policy, evidence):
    unit = "baseline-backup@files.timer"
    shown = backup_client.run(f"systemctl show {unit} -p UnitFileState -p ActiveState -p TimersCalendar")
    values = show_properties(shown.stdout)
    calendars = timer_calendars(values.get("TimersCalendar", ""))
    wanted = backup_client.run(f"systemd-analyze calendar {shlex.quote(policy['backup_files_calendar'])}")
    normalised = re.search(r"Normalized form: (.+)", wanted.stdout)
    paths = backup_client.run(f"sudo sed -n 's/^FILE_PATHS=//p' {ENV}").stdout.strip().strip("'\"").split()
    evidence.record(command=f"systemctl show {unit}; FILE_PATHS in {ENV}",
                    observed={"state": [values.get("ActiveState"), values.get("UnitFileState")], "calendar": calendars,
                              "paths": paths},
                    expected={"state": ["active", "enabled"], "calendar": policy["backup_files_calendar"],
                              "paths": policy["backup_file_paths"]})
    assert values.get("UnitFileState") == "enabled" and values.get("ActiveState") == "active"
    assert normalised and calendars == [normalised.group(1).strip()]
    # daily: every day of every month, no weekday filter
    assert calendars[0].startswith("*-*-* ")
    assert sorted(paths) == sorted(policy["backup_file_paths"])


@pytest.mark.control("BR-02")
@pytest.mark.method("state")
@pytest.mark.intrusive("restic snapshots takes a lock in the off-site repository and updates its cache on the host")
def test_file_backup_has_an_encrypted_off_site_copy(backup_client, policy, evidence):
    command = (f". {ENV} && RESTIC_PASSWORD_FILE=$RESTIC_PASSWORD_FILE "
               'restic -r "$RESTIC_REPOSITORY" -o sftp.command="$SFTP_COMMAND" snapshots --json --latest 1 --tag files')
    raw = backup_client.run(f"sudo bash -c {shlex.quote(command)}")
    snapshots = json.loads(raw.stdout or "[]") if raw.rc == 0 else []
    repository = backup_client.run(f"sudo sed -n 's/^RESTIC_REPOSITORY=//p' {ENV}").stdout.strip().strip("'\"")
    last = _files_state(backup_client).get("last")
    evidence.record(command="restic snapshots --latest 1 --tag files",
                    observed={"repository": repository, "snapshots": [s.get("time") for s in snapshots]},
                    expected=f"an encrypted restic snapshot on {policy['backup_store_host']}, no older than the last backup")
    assert raw.rc == 0 and snapshots, raw.stderr[-500:]
    store = policy["backup_store_host"]
    address = inventory.load(str(inventory.inventory_path())).vars(store).get("ansible_host", store)
    assert store != compliance.asset_name(backup_client), "the off-site copy must not be on the host itself"
    assert repository.startswith("sftp:") and f"@{address}:" in repository, repository
    taken = datetime.fromisoformat(snapshots[-1]["time"][:19]).replace(tzinfo=UTC)
    assert last and taken >= _stamp(last["time"])
