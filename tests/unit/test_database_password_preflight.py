"""Database pre-flight, grant filters and restore-drill comparison: no lab needed.

The pre-flight runs against a throw-away inventory whose only host can be reached solely through a ProxyCommand
that leaves a marker file: a weak password must stop the run, name the account, and leave the marker absent.
"""

import json
import os
import shutil
import subprocess
import sys

import pytest
import yaml
from preflight_inventory import valid_host_vars

from baseline import REPO_ROOT, drill
from baseline.results import read_results

sys.path.insert(0, str(REPO_ROOT / "plugins" / "filter"))
import databases as db_filters  # noqa: E402

STRONG = "Strong!Pass-2024"
SECRETS = ["db_credit_app_password", "db_credit_query_password", "db_credit_auditor_password",
           "db_dba_chenjing_password", "db_mariabackup_password"]


def _run(tmp_path, group: str, override: dict):
    inv = tmp_path / "inv"
    (inv / "group_vars").mkdir(parents=True)
    shutil.copytree(REPO_ROOT / "inventory/group_vars/all", inv / "group_vars/all")
    marker = tmp_path / "contacted"
    host = {"ansible_host": "127.0.0.1", "ansible_port": 9,
            "ansible_ssh_common_args": f"-o ProxyCommand='touch {marker}; exit 1'",
            **valid_host_vars(), **{name: STRONG for name in SECRETS}, **override}
    hosts = {"all": {"children": {"linux_servers": {"children": {group: {"hosts": {"ghost": host}}}}}}}
    (inv / "hosts.yml").write_text(yaml.safe_dump(hosts), encoding="utf-8")
    env = {**os.environ, "ANSIBLE_CONFIG": str(REPO_ROOT / "ansible.cfg"), "ANSIBLE_NOCOLOR": "1"}
    proc = subprocess.run([shutil.which("ansible-playbook") or "ansible-playbook", "-i", str(inv),
                           "playbooks/databases.yml"], cwd=REPO_ROOT, env=env, capture_output=True, text=True,
                          timeout=120, check=False)
    return proc, marker


@pytest.mark.parametrize("case", [
    ("postgresql_servers", "db_credit_app_password", "Short!1x", "credit_app", "has 8 characters"),
    ("mariadb_servers", "db_credit_query_password", "nospecialchars1", "credit_query", "has no special character"),
    ("mariadb_servers", "db_mariabackup_password", "lowercase-only!x", "mariabackup", "upper-case or a lower-case"),
    ("postgresql_servers", "db_dba_chenjing_password", "1234567890!!", "chenjing", "has no letter"),
], ids=lambda case: case[3])
def test_weak_database_password_stops_the_run_naming_the_account(tmp_path, case):
    group, variable, value, account, problem = case
    proc, marker = _run(tmp_path, group, {variable: value})
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0
    assert f"password for {account} " in out and problem in out
    assert value not in out, "the refused password was printed"
    assert not marker.exists(), "a host was contacted although a password was refused"


def test_missing_database_password_is_named(tmp_path):
    proc, marker = _run(tmp_path, "postgresql_servers", {"db_credit_auditor_password": None})
    assert proc.returncode != 0 and "credit_auditor" in proc.stdout + proc.stderr
    assert not marker.exists()


def test_grant_filters_read_the_inventory_grants():
    values = yaml.safe_load((REPO_ROOT / "inventory/group_vars/all/databases.yml").read_text(encoding="utf-8"))
    app = next(a for a in values["database_accounts"] if a["purpose"] == "application")
    rows = db_filters.table_grants([app])
    assert {r["table"] for r in rows} == set(app["grants"])
    assert "credit_app|public_notice|DELETE" in db_filters.grant_keys([app])
    privs = db_filters.mariadb_privileges(app, "credit", {"*.*": "PROCESS"})
    assert privs["credit.enterprise_credit"] == "INSERT,SELECT,UPDATE" and privs["*.*"] == "PROCESS"
    assert db_filters.mariadb_privileges({"name": "x", "grants": {}}, "credit") == {"*.*": "USAGE"}
    assert db_filters.mariadb_host("10.231.0.0/24") == "10.231.0.0/255.255.255.0"
    assert db_filters.mariadb_host("10.231.0.7/32") == "10.231.0.7"


def _fingerprint(**tables):
    return {"tables": {name: {"rows": rows, "checksum": checksum} for name, (rows, checksum) in tables.items()}}


def test_drill_passes_only_when_every_table_matches(tmp_path):
    source = _fingerprint(a=(10, "x1"), b=(5, "y1"))
    same = drill.compare(source, _fingerprint(a=(10, "x1"), b=(5, "y1")), "db1", "postgresql", "L1")
    assert same.passed and same.rows_lost == 0
    lost = drill.compare(source, _fingerprint(a=(9, "x2")), "db1", "postgresql", "L1")
    assert not lost.passed and lost.rows_lost == 6
    assert any("table b: missing" in d for d in lost.differences)
    assert any("table a: 9 rows" in d for d in lost.differences)
    extra = drill.compare(source, _fingerprint(a=(10, "x1"), b=(5, "y1"), c=(1, "z")), "db1", "postgresql", "L1")
    assert not extra.passed and "table c: present after restore" in extra.differences[0]


def test_drill_cli_writes_json_and_a_br03_record(tmp_path):
    src, dst = tmp_path / "s.json", tmp_path / "d.json"
    src.write_text(json.dumps(_fingerprint(a=(3, "q"))))
    dst.write_text(json.dumps(_fingerprint(a=(2, "r"))))
    out, results = tmp_path / "drill.json", tmp_path / "r.jsonl"
    code = drill.main(["compare", "--asset", "db2", "--engine", "mariadb", "--backup", "chain/full", "--source", str(src),
                       "--restored", str(dst), "--json-out", str(out), "--results-file", str(results)])
    assert code == 1
    assert json.loads(out.read_text())["passed"] is False
    (record,) = list(read_results([results]))
    assert record.control_ids == ["BR-03"] and record.outcome == "fail" and record.asset_kind == "mariadb"
    assert "table a" in record.reason
