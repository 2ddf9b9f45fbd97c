"""Databases and backups on the lab (DB-01..06, BR-01..03): the roles converge and stay converged, a weak
password stops the run before anything changes, and a full + incremental backup survives the destruction of
the source data: the restore drill finds every row with equal checksums and records the result."""

# SQL below is built from the constants of this module only.
# ruff: noqa: S608

from __future__ import annotations

import json
import os
import re
import subprocess

import pytest
from lab_run import BIN, on, playbook, recap

from baseline import REPO_ROOT, inventory, templates
from baseline.results import read_results
from devtools.lab import config

pytestmark = pytest.mark.lab
ROWS = {"enterprise_credit": 2000, "public_notice": 500, "credit_record": 300}


@pytest.fixture(scope="module")
def first_run(demo_run):
    """scripts/demo applied site.yml, databases.yml among its parts (tests/lab/test_demo.py checks it passed)."""
    return demo_run


def test_weak_database_password_is_refused_before_anything_changes(lab_up, tmp_path):
    weak = tmp_path / "weak.yml"
    weak.write_text("db_credit_app_password: 'Short!1x'\n")
    proc = playbook("playbooks/databases.yml", "-e", f"@{weak}")
    assert proc.returncode != 0
    assert "password for credit_app has 8 characters" in proc.stdout
    assert "Short!1x" not in proc.stdout + proc.stderr
    assert not re.search(r"^changed:", proc.stdout, re.M)
    assert all(r.get("changed", 0) == 0 for r in recap(proc.stdout).values())
    assert "TASK [postgresql" not in proc.stdout and "TASK [mariadb" not in proc.stdout


def test_a_cluster_of_another_major_version_is_refused_before_anything_changes(first_run):
    """As on a server upgraded in place (its PostgreSQL 15 cluster kept, the new release's PostgreSQL 17 wanted): the
    run stops at the role's pre-flight, names the cluster and the way out, and installs nothing beside it."""
    packages = on("db1", "dpkg-query -W -f '${Package}\\n' 'postgresql-*' | sort")
    proc = playbook("playbooks/databases.yml", "--limit", "db1", "-e", "postgresql_version=17")
    assert proc.returncode != 0
    assert "db1 holds a PostgreSQL 15 cluster (/etc/postgresql/15/main) and postgresql_version is 17" in proc.stdout
    assert "pg_upgradecluster 15 main" in proc.stdout
    assert not re.search(r"^TASK \[postgresql : DB-01 \| Install", proc.stdout, re.M)
    assert on("db1", "dpkg-query -W -f '${Package}\\n' 'postgresql-*' | sort") == packages
    assert on("db1", "ls /etc/postgresql").split() == ["15"]


@pytest.mark.lab_cost(140)
def test_second_run_changes_nothing_and_check_mode_alters_nothing(first_run):
    second = playbook("playbooks/databases.yml")
    assert second.returncode == 0, second.stdout[-3000:]
    changed = {h: r["changed"] for h, r in recap(second.stdout).items() if r["changed"]}
    assert changed == {}, re.findall(r"^changed: .*$", second.stdout, re.M)
    before = on("db1", "sudo md5sum /etc/postgresql/15/main/pg_hba.conf /etc/postgresql/15/main/conf.d/*")
    check = playbook("--check", "playbooks/databases.yml")
    assert check.returncode == 0, check.stdout[-3000:]
    assert {h: r["changed"] for h, r in recap(check.stdout).items() if r["changed"]} == {}
    assert on("db1", "sudo md5sum /etc/postgresql/15/main/pg_hba.conf /etc/postgresql/15/main/conf.d/*") == before



@pytest.mark.lab_cost(140)
def test_limited_runs_keep_the_keys_of_the_hosts_they_leave_out(first_run, tmp_path):
    """The store's authorized_keys are exclusive: a run limited to some hosts manages the accounts whose keys it
    read and leaves the others as they are; a client run without the store pins the store's key all the same,
    and stops when the client's key is new (the store has not authorised it)."""
    inv = inventory.load(str(config.INVENTORY_DIR / "hosts.yml"))
    root = inv.vars("bak1")["backup_store_root"]
    client_key = templates.role_values("backup_client", inv.vars("db1"))["backup_client_ssh_key"]

    def keys(host: str) -> str:
        return on("bak1", f"sudo cat {root}/{host}/.ssh/authorized_keys")

    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "stale@left-over", "-f", str(tmp_path / "k")],
                   check=True)
    stale = 'restrict,command="internal-sftp" ' + (tmp_path / "k.pub").read_text().strip()
    for host in ("app1", "db1"):
        on("bak1", f"echo '{stale}' | sudo tee -a {root}/{host}/.ssh/authorized_keys >/dev/null")
    app1_before = keys("app1")

    part = playbook("playbooks/databases.yml", "--tags", "backup", "--limit", "bak1,db1,drill1")
    assert part.returncode == 0, part.stdout[-3000:]
    assert "stale@left-over" not in keys("db1") and keys("app1") == app1_before
    left = re.search(r"authorized_keys left unchanged for (.*?): no key was read from (.*?) in this run", part.stdout)
    left_out = set(inv.hosts("backup_clients")) - {"db1"}
    assert left, part.stdout[-3000:]
    assert set(left.group(1).split(", ")) == {f"bk-{h}" for h in left_out} and set(left.group(2).split(", ")) == left_out

    store_only = playbook("playbooks/databases.yml", "--limit", "bak1")
    assert store_only.returncode == 0, store_only.stdout[-3000:]
    assert recap(store_only.stdout)["bak1"]["changed"] == 0 and keys("app1") == app1_before

    client_only = playbook("playbooks/databases.yml", "--tags", "backup", "--limit", "db1")
    assert client_only.returncode == 0, client_only.stdout[-3000:]
    assert recap(client_only.stdout)["db1"]["changed"] == 0

    on("db1", f"sudo rm {client_key} {client_key}.pub")
    new_key = playbook("playbooks/databases.yml", "--tags", "backup", "--limit", "db1")
    assert new_key.returncode != 0
    assert "db1 has a new backup key that the store bak1 has not authorised" in new_key.stdout, new_key.stdout[-3000:]
    # with the store but without the drill hosts, the store leaves every client's keys as they are: the client
    # stops naming the drill hosts to include, before any login to the store with the key it does not know
    drills = inv.hosts("drill_hosts")
    no_drill = playbook("playbooks/databases.yml", "--tags", "backup", "--limit", "db1,bak1")
    assert no_drill.returncode != 0
    assert f"the keys of {', '.join(drills)} were not read in this run" in no_drill.stdout, no_drill.stdout[-3000:]
    assert "--limit '" + ":".join(["db1", "bak1", *drills]) + "'" in no_drill.stdout, no_drill.stdout[-3000:]
    assert "Permission denied" not in no_drill.stdout

    full = playbook("playbooks/databases.yml", "--tags", "BR-02")
    assert full.returncode == 0, full.stdout[-3000:]
    assert "stale@left-over" not in keys("app1")
    assert on("db1", f"sudo cat {client_key}.pub").split()[1] in keys("db1")


COLUMNS = {  # generated values for each table's columns; {n} is the row number, {text} its cast to text
    "enterprise_credit": "{n}, lpad({n}{text}, 18, '0'), concat('enterprise ', {n}), {n} % 97, now()",
    "credit_record": "{n}, lpad({n}{text}, 18, '0'), 'kept', concat('record ', {n}), now()",
    "public_notice": "{n}, concat('notice ', {n}), repeat('x', {n} % 50), now()",
}


def _load(host: str, engine: str, table: str, first: int, count: int) -> None:
    last = first + count - 1
    if engine == "postgresql":
        values = COLUMNS[table].format(n="n", text="::text")
        sql = f"INSERT INTO {table} SELECT {values} FROM generate_series({first}, {last}) AS n"
        on(host, f"sudo -u postgres psql -XAt -v ON_ERROR_STOP=1 -d credit -c \"{sql}\"")
    else:
        values = COLUMNS[table].format(n="seq", text="")
        sql = f"INSERT INTO {table} SELECT {values} FROM seq_{first}_to_{last}"
        on(host, f"sudo mariadb credit -e \"{sql}\"")


def _destroy(host: str, engine: str) -> None:
    tables = ", ".join(ROWS)
    if engine == "postgresql":
        on(host, f"sudo -u postgres psql -XAt -d credit -c 'TRUNCATE {tables}'")
    else:
        on(host, "sudo mariadb credit -e '" + "; ".join(f"DELETE FROM {t}" for t in ROWS) + "'")


@pytest.mark.lab_cost(75)
def test_full_and_incremental_backups_survive_destruction_with_no_row_lost(first_run):
    sources = {"db1": "postgresql", "db2": "mariadb"}
    for host, engine in sources.items():
        _destroy(host, engine)
        _load(host, engine, "enterprise_credit", 1, 1500)
        _load(host, engine, "credit_record", 1, ROWS["credit_record"])
        on(host, f"sudo systemctl start baseline-backup@{engine}-full")
        _load(host, engine, "enterprise_credit", 1501, ROWS["enterprise_credit"] - 1500)
        _load(host, engine, "public_notice", 1, ROWS["public_notice"])
        on(host, f"sudo systemctl start baseline-backup@{engine}-incr")
        state = json.loads(on(host, f"sudo cat /var/lib/baseline-backup/{engine}.json"))
        assert state["last"]["kind"] == "incremental" and state["last_full"]
        _destroy(host, engine)
    drill = playbook("playbooks/restore_drill.yml")
    assert drill.returncode == 0, drill.stdout[-4000:]
    stamp_dirs = sorted((REPO_ROOT / "results" / "restore-drill").iterdir())
    for host, engine in sources.items():
        outcome = json.loads((stamp_dirs[-1] / f"{host}-{engine}.json").read_text())
        assert outcome["passed"] and outcome["rows_lost"] == 0 and outcome["differences"] == []
        assert outcome["rows_source"] == sum(ROWS.values()) == outcome["rows_restored"]
        restored = json.loads((stamp_dirs[-1] / f"{host}-{engine}-restored.json").read_text())
        source = json.loads((stamp_dirs[-1] / f"{host}-{engine}-source.json").read_text())
        assert restored["tables"] == source["tables"]
    records = [r for r in read_results(sorted((REPO_ROOT / "results").glob("restore-drill-*.jsonl"))[-1:])]
    assert {(r.asset, r.outcome) for r in records} == {("db1", "pass"), ("db2", "pass")}
    assert all(r.control_ids == ["BR-03"] for r in records)
    # the restored copies are the platform's data: on the drill host, root's alone (the PostgreSQL one lets the
    # postgres account in, which reads its repository), whatever the umask of the session that ran the drill
    modes = on("drill1", "sudo sh -c \"stat -c '%n %a %U %G' /srv/drill /srv/drill/*\"").splitlines()
    assert sorted(modes) == ["/srv/drill 711 root root", "/srv/drill/db1-postgresql 750 root postgres",
                             "/srv/drill/db2-mariadb 700 root root"], modes


def test_compliance_suite_passes_on_the_databases(first_run, tmp_path, lab_results):
    results = tmp_path / "results.jsonl"
    env = {**os.environ, "ANSIBLE_CONFIG": str(REPO_ROOT / "ansible.cfg")}
    proc = subprocess.run([str(BIN / "pytest"), "-p", "no:cacheprovider", "-q", "compliance_tests/databases",
                           "--results-file", str(results)], cwd=REPO_ROOT, env=env, capture_output=True, text=True,
                          timeout=600, check=False)
    lab_results(results)
    outcomes = {r.check: r.outcome for r in read_results([results])}
    failed = {k: v for k, v in outcomes.items() if v not in ("pass", "not_verifiable", "not_applicable")}
    assert failed == {}, proc.stdout[-4000:]
    unreadable = [k for k in outcomes if "cannot_be_read_without_the_key" in k]
    assert unreadable and all(outcomes[k] == "pass" for k in unreadable)
    gaps = [k for k, v in outcomes.items() if v == "not_verifiable"]
    assert all("server_side_check_of_the_policy_length" in k for k in gaps), gaps
