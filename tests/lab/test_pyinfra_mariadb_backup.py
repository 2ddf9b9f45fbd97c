"""The pyinfra deploys of roles/mariadb and the backup roles (playbooks/pyinfra/mariadb.py, backup.py,
restore_drill.py) in the lab, after Ansible applied the originals (scripts/demo):

- on the originals, pyinfra predicts no change: the MariaDB server db2, the backup clients, the store with its
  authorised keys, the drill host's set-up (only the drills themselves, which always restore);
- on the twin db4, the MariaDB deploy alone: `--dry` predicts the run, a second run changes nothing, and the server
  holds what Ansible gave db2 (drop-in, accounts with TLS required and the same password hashes, grants, databases);
- a restore drill run by pyinfra restores the latest backups of db1 and db2 and records them as passed (BR-03).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from lab_run import on

from baseline import REPO_ROOT

pytestmark = [pytest.mark.lab, pytest.mark.extended]
BIN = Path(sys.executable).parent
INVENTORY = "inventory/lab/pyinfra_inventory.py"
ORIGINALS = "app1,db1,db2,log1,bak1,drill1"
ROW = re.compile(r"^\s+(?:\S+\.py \| )?(?:[A-Z]{2}-\d{2}|Lockout safety) \| ")
CONFIG = "/etc/mysql/mariadb.conf.d/60-baseline.cnf"


def pyinfra(deploy: str, limit: str, *args: str, timeout: float = 1800) -> subprocess.CompletedProcess:
    """A pyinfra deploy on `limit` (a --dry run without -y: with -y pyinfra skips the change detection)."""
    env = {"BASELINE_CHANGE_REASON": "lab test of the pyinfra MariaDB and backup deploys (CM-01 record)",
           **os.environ, "ANSIBLE_CONFIG": str(REPO_ROOT / "ansible.cfg")}
    confirm = [] if "--dry" in args else ["-y"]
    limits = [arg for name in limit.split(",") for arg in ("--limit", name)]  # pyinfra: one --limit per name
    proc = subprocess.run([str(BIN / "pyinfra"), *confirm, INVENTORY, f"playbooks/pyinfra/{deploy}", *limits, *args],
                          cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=timeout, check=False)
    assert proc.returncode == 0, f"pyinfra {deploy} {' '.join(args)} failed:\n{proc.stdout[-5000:]}\n{proc.stderr[-3000:]}"
    return proc


def rows(output: str) -> list[list[str]]:
    return [re.split(r"\s{2,}", line.strip()) for line in output.splitlines() if ROW.match(line)]


def predicted(output: str) -> list[str]:
    """Operations `--dry` says will change a host (its 'Detected changes' table)."""
    return [row[0] for row in rows(output) if len(row) > 1 and row[1] != "-"]


def made(output: str) -> list[str]:
    """Operations the run changed (its results table: operation, hosts, success, error, no change)."""
    return [row[0] for row in rows(output) if len(row) >= 5 and row[2] != "-"]


def sql(host: str, statement: str) -> str:
    return on(host, f"sudo mariadb --batch --skip-column-names -e {json.dumps(statement)}")


def platform_accounts(host: str) -> str:
    """Accounts of the platform (not the server's own, not the backup account: the twins are no backup clients):
    TLS requirement, lock, plugin and a digest of the password hash."""
    return sql(host, "SELECT user, host, JSON_VALUE(priv, '$.ssl_type'), IFNULL(JSON_VALUE(priv, '$.account_locked'), 0), "
                     "JSON_VALUE(priv, '$.plugin'), SHA2(JSON_VALUE(priv, '$.authentication_string'), 256) "
                     "FROM mysql.global_priv WHERE user NOT IN ('root', 'mariadb.sys', 'mysql', 'mariabackup') "
                     "ORDER BY user, host")


def grants(host: str) -> dict[str, str]:
    found = {}
    for line in platform_accounts(host).splitlines():
        user, account_host = line.split("\t")[:2]
        text = sql(host, f"SHOW GRANTS FOR '{user}'@'{account_host}'")
        # the same grants, in the order the server lists them (the order they were given in)
        found[f"{user}@{account_host}"] = "\n".join(sorted(re.sub(r"IDENTIFIED BY PASSWORD '[^']*'", "", text)
                                                            .splitlines()))
    return found


def described(host: str, path: str) -> str:
    return on(host, f"sudo stat -c %U:%G:%a {path}; sudo sha256sum < {path}")


def test_originals_after_ansible_pyinfra_predicts_no_change(demo_run):
    for deploy, limit in (("mariadb.py", "db2"), ("backup.py", ORIGINALS)):
        dry = pyinfra(deploy, limit, "--dry")
        assert predicted(dry.stdout) == [], f"{deploy} on {limit} after Ansible:\n{dry.stdout[-5000:]}"


def test_mariadb_twin_dry_run_second_run_and_the_state_of_the_original(demo_run):
    dry = pyinfra("mariadb.py", "db4", "--dry")
    first = pyinfra("mariadb.py", "db4")
    assert predicted(dry.stdout) == made(first.stdout), f"--dry:\n{dry.stdout[-4000:]}\nrun:\n{first.stdout[-4000:]}"
    second = pyinfra("mariadb.py", "db4")
    assert made(second.stdout) == [], second.stdout[-4000:]
    assert described("db4", CONFIG) == described("db2", CONFIG)
    assert platform_accounts("db4") == platform_accounts("db2")
    assert grants("db4") == grants("db2")
    assert sql("db4", "SHOW DATABASES") == sql("db2", "SHOW DATABASES")
    assert "test" not in sql("db4", "SHOW DATABASES").split()
    assert sql("db4", "SHOW TABLES FROM credit") == sql("db2", "SHOW TABLES FROM credit")
    assert sql("db4", "SELECT COUNT(*) FROM mysql.global_priv WHERE user = ''").strip() == "0"


def test_a_restore_drill_by_pyinfra_passes(demo_run):
    before = set((REPO_ROOT / "results").glob("restore-drill-*.jsonl"))
    run = pyinfra("restore_drill.py", "drill1,bak1", timeout=3600)
    assert "restore drill PASS: db1 postgresql" in run.stdout and "restore drill PASS: db2 mariadb" in run.stdout, \
        run.stdout[-5000:]
    (results,) = set((REPO_ROOT / "results").glob("restore-drill-*.jsonl")) - before
    records = [json.loads(line) for line in results.read_text(encoding="utf-8").splitlines() if line.strip()]
    drills = {r["asset"]: r["outcome"] for r in records if "BR-03" in r["control_ids"]}
    assert drills == {"db1": "pass", "db2": "pass"}, records
