"""The depth of the server baseline on the lab, after `scripts/demo` (tests/lab/test_demo.py): a host converging from
the former integrity database (`/var/lib/aide/baseline.db`, SHA-256) gets it moved once to Debian's path and
rebuilt with SHA-512 by the baseline's run, after which the integrity checks pass and a second run changes
nothing. The drifts of the depth items are in tests/lab/drifts.py (the `linux` and `integrity-database` batches of
tests/lab/test_drift.py)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from lab_run import on, playbook, recap

from baseline import REPO_ROOT

pytestmark = pytest.mark.lab
HOST = "bak1"
LINUX = ["playbooks/preflight.yml", "playbooks/linux.yml"]
CONFIG = "/etc/aide/baseline.conf"
DB, FORMER = "/var/lib/aide/aide.db", "/var/lib/aide/baseline.db"
# The host as the baseline left it before the move: its configuration naming the former path and SHA-256, and an
# approved database built with it there (nothing at Debian's path).
FORMER_LAYOUT = (
    f"sudo sed -i -e 's|{DB}|{FORMER}|g' -e 's/sha512/sha256/g' {CONFIG}"
    f" && sudo rm -f {DB} {DB}.new"
    f" && sudo aide --config {CONFIG} --init >/dev/null && sudo mv {FORMER}.new {FORMER}"
    f" && sudo grep -q '^@@db_spec.*sha256' {FORMER} && ! sudo test -e {DB}")
INTEGRITY_CHECKS = ("test_aide_detects_a_changed_binary or test_integrity_database_where_debian_expects_it_with_sha512"
                    " or test_package_files_match_their_checksums")


def suite(select: str) -> subprocess.CompletedProcess:
    """The Linux suites' checks named by `select`, on HOST only (its name is in each check's id)."""
    env = {**os.environ, "ANSIBLE_CONFIG": str(REPO_ROOT / "ansible.cfg")}
    return subprocess.run([sys.executable, "-m", "pytest", "compliance_tests/linux", "-q", "-p", "no:cacheprovider",
                           "-k", f"{HOST} and ({select})"], cwd=REPO_ROOT, env=env, capture_output=True, text=True,
                          timeout=900, check=False)


def test_a_host_converging_from_the_former_database_path_is_moved_once(demo_run):
    on(HOST, FORMER_LAYOUT, timeout=600)
    first = playbook(*LINUX, "--limit", HOST, "--tags", "IP-05")
    assert first.returncode == 0, first.stdout[-5000:]
    assert "IP-05 | The approved database moves from its former path (once)" in first.stdout
    on(HOST, f"! sudo test -e {FORMER} && sudo grep -q '^@@db_spec.*sha512' {DB}")
    assert "sha256" not in on(HOST, f"sudo cat {CONFIG}")
    checks = suite(INTEGRITY_CHECKS)
    assert checks.returncode == 0 and " passed" in checks.stdout, checks.stdout[-5000:]
    second = playbook(*LINUX, "--limit", HOST, "--tags", "IP-05")
    assert second.returncode == 0, second.stdout[-5000:]
    assert recap(second.stdout)[HOST]["changed"] == 0, second.stdout[-5000:]
