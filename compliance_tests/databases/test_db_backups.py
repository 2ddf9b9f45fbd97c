"""Backups of the database hosts (BR-01, BR-02) and their restore drills (BR-03): the age of the last good
backup, the off-site copy, the retention, the last verified drill — each against the inventory's policy values."""

import json
import re
import shlex
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from dbcheck import drill_problems

from baseline import REPO_ROOT, compliance

testinfra_hosts = compliance.hosts_in("postgresql_servers") + compliance.hosts_in("mariadb_servers")
STATE_DIR = "/var/lib/baseline-backup"


def _engine(host) -> str:
    groups = compliance.host_vars(host).get("group_names", [])
    return "postgresql" if "postgresql_servers" in groups else "mariadb"


@pytest.fixture(autouse=True)
def engine(host, request):
    """postgresql or mariadb, which is also the records' asset kind: autouse, so that the kind is set before any
    other fixture, also on a check that a read-only run leaves out (it is skipped right after the autouse ones)."""
    kind = _engine(host)
    request.node.add_marker(pytest.mark.asset_kind(kind))
    return kind


def _age_days(stamp: str) -> float:
    when = datetime.strptime(stamp, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    return (datetime.now(UTC) - when).total_seconds() / 86400


def _state(host, engine: str) -> dict:
    raw = host.run(f"sudo cat {STATE_DIR}/{engine}.json")
    return json.loads(raw.stdout) if raw.rc == 0 else {}


@pytest.mark.control("BR-01")
@pytest.mark.method("state")
def test_last_full_backup_is_younger_than_the_policy_interval(host, engine, policy, evidence):
    limit = policy["backup_full_interval_days"]
    state = _state(host, engine)
    full = state.get("last_full")
    evidence.record(command=f"cat {STATE_DIR}/{engine}.json", observed=full, expected=f"a full backup younger than {limit} days")
    assert full, "no full backup recorded on this host"
    if engine == "postgresql":  # pgBackRest's own catalogue must agree
        info = json.loads(host.run("sudo -u postgres pgbackrest --stanza=main --output=json info").stdout)
        fulls = [b for b in info[0]["backup"] if b["type"] == "full"]
        stop = datetime.fromtimestamp(fulls[-1]["timestamp"]["stop"], UTC) if fulls else None
        evidence.record(command="pgbackrest --stanza=main --output=json info", observed=str(stop), expected=f"< {limit} days")
        assert stop and (datetime.now(UTC) - stop).days < limit
    assert _age_days(full["time"]) < limit


def _calendars(shown: str) -> list[str]:
    """OnCalendar expressions in `systemctl show -p TimersCalendar` (`{ OnCalendar=Sun *-*-* 01:30:00 ; … }`)."""
    return [c.strip() for c in re.findall(r"OnCalendar=([^;]+?)\s*;", shown)]


@pytest.mark.control("BR-01")
@pytest.mark.method("state")
def test_incremental_backups_are_scheduled_daily_and_fulls_weekly(host, engine, policy, evidence):
    wanted = {"full": policy["backup_full_calendar"], "incr": policy["backup_incremental_calendar"]}
    timers, expected = {}, {}
    for kind, calendar in wanted.items():
        unit = f"baseline-backup@{engine}-{kind}.timer"
        shown = host.run(f"systemctl show {unit} -p UnitFileState -p ActiveState -p TimersCalendar")
        values = dict(line.split("=", 1) for line in shown.stdout.splitlines() if "=" in line)
        normal = host.run(f"systemd-analyze calendar {shlex.quote(calendar)}")
        match = re.search(r"Normalized form: (.+)", normal.stdout)
        expected[kind] = {"state": ["active", "enabled"], "calendar": [match.group(1).strip()] if match else
                          f"{calendar!r} (systemd-analyze could not read it: {normal.stderr.strip()})"}
        timers[kind] = {"state": [values.get("ActiveState"), values.get("UnitFileState")],
                        "calendar": _calendars(values.get("TimersCalendar", ""))}
    evidence.record(command="systemctl show baseline-backup@…timer; systemd-analyze calendar <inventory calendar>",
                    observed=timers, expected=expected,
                    note=f"inventory: backup_full_calendar {wanted['full']!r}, backup_incremental_calendar {wanted['incr']!r}")
    assert timers == expected


@pytest.mark.control("BR-01")
@pytest.mark.method("config")
def test_pgbackrest_retention_follows_the_policy(host, engine, policy, evidence):
    if engine != "postgresql":
        pytest.skip("not applicable: pgBackRest retention concerns PostgreSQL hosts; MariaDB chains are kept off-site")
    conf = host.run("sudo grep -E '^repo1-(retention-full|cipher-type)=' /etc/pgbackrest.conf")
    evidence.record(command="grep repo1-retention-full /etc/pgbackrest.conf", observed=conf.stdout.split(),
                    expected=f"repo1-retention-full >= {policy['backup_retention_full_count']}, cipher aes-256-cbc")
    values = dict(line.split("=", 1) for line in conf.stdout.split())
    assert int(values["repo1-retention-full"]) >= policy["backup_retention_full_count"]
    assert values["repo1-cipher-type"] == "aes-256-cbc"


@pytest.mark.control("BR-02")
@pytest.mark.method("state")
@pytest.mark.intrusive("restic snapshots takes a lock in the off-site repository and updates its cache on the host")
def test_latest_backup_has_an_encrypted_off_site_copy(host, engine, policy, evidence):
    command = (". /etc/baseline/backup/backup.env && RESTIC_PASSWORD_FILE=$RESTIC_PASSWORD_FILE "
               f"restic -r \"$RESTIC_REPOSITORY\" -o sftp.command=\"$SFTP_COMMAND\" snapshots --json --latest 1 --tag {engine}")
    raw = host.run(f"sudo bash -c {shlex.quote(command)}")
    snapshots = json.loads(raw.stdout or "[]")
    state = _state(host, engine)
    evidence.record(command=f"restic snapshots --latest 1 --tag {engine}", observed=[s.get("time") for s in snapshots],
                    expected=f"a snapshot on {policy['backup_store_host']} no older than the last backup")
    assert raw.rc == 0 and snapshots
    taken = datetime.fromisoformat(snapshots[-1]["time"][:19]).replace(tzinfo=UTC)
    assert state.get("last") and taken >= datetime.strptime(state["last"]["time"], "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)


@pytest.mark.control("BR-03")
@pytest.mark.method("record")
def test_a_verified_restore_drill_is_recent(host, engine, policy, evidence):
    name = compliance.asset_name(host)
    drills = sorted((REPO_ROOT / "results" / "restore-drill").glob(f"*/{name}-{engine}.json"))
    limit = policy["restore_drill_interval_days"]
    latest = json.loads(Path(drills[-1]).read_text()) if drills else None
    age = round((time.time() - datetime.fromisoformat(latest["time"]).timestamp()) / 86400, 3) \
        if latest and latest.get("time") else None
    problems = drill_problems(latest, limit, age)
    evidence.record(command=f"results/restore-drill/*/{name}-{engine}.json", observed={"drill": latest, "age_days": age,
                    "problems": problems},
                    expected={"drill": "passed, > 0 tables and > 0 rows compared, 0 rows lost, no difference",
                              "age_days": f"<= {limit}", "problems": []})
    assert problems == [], problems
