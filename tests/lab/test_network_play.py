"""playbooks/network.yml against the lab's simulated devices: the push makes the audit pass, a second run
changes nothing, check mode sends nothing, and every run leaves a verified offline backup (NW-08)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from baseline import REPO_ROOT

pytestmark = pytest.mark.lab
BIN = Path(shutil.which("ansible-playbook") or "ansible-playbook").parent


def run(*cmd: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "ANSIBLE_CONFIG": str(REPO_ROOT / "ansible.cfg"), "ANSIBLE_NOCOLOR": "1"}
    return subprocess.run(list(cmd), cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=600, check=False)


def recap_changed(stdout: str) -> int:
    line = next(line for line in stdout.splitlines() if line.startswith("localhost "))
    return int(line.split("changed=")[1].split()[0])


def task_outcome(stdout: str, task: str) -> str:
    """The status word (ok, changed, skipping, failed) Ansible printed for the one task whose name contains `task`."""
    section = stdout.split(task, 1)[1].split("\nTASK [", 1)[0]
    return next(line.split(":")[0] for line in section.splitlines() if line.startswith(("ok:", "changed:", "skipping:",
                                                                                         "failed:", "fatal:")))


@pytest.fixture(scope="module")
def fresh_devices(lab_up):
    """Devices back at their non-compliant seed configuration."""
    devsim = str(REPO_ROOT / "scripts/devsim")
    subprocess.run([devsim, "stop"], check=True, capture_output=True)
    subprocess.run([devsim, "start", "--reset"], check=True, capture_output=True)


def test_network_play_pushes_then_is_idempotent(fresh_devices, tmp_path, lab_results):
    before = run(str(REPO_ROOT / "scripts/netdev"), "-q", "audit", "--results", str(tmp_path / "before.jsonl"))
    assert before.returncode == 1, "the seed configuration should fail the audit (status 1)"

    check = run(str(BIN / "ansible-playbook"), "playbooks/network.yml", "--check")
    assert check.returncode == 0, check.stdout[-3000:]
    assert task_outcome(check.stdout, "Push the device baseline") == "changed", check.stdout[-3000:]
    still = run(str(REPO_ROOT / "scripts/netdev"), "-q", "audit", "--results", str(tmp_path / "still.jsonl"))
    assert still.returncode == 1, "check mode must not change the devices (the audit still fails, status 1)"

    first = run(str(BIN / "ansible-playbook"), "playbooks/network.yml")
    assert first.returncode == 0, first.stdout[-3000:]
    assert recap_changed(first.stdout) >= 1
    after = run(str(REPO_ROOT / "scripts/netdev"), "-q", "audit", "--results", str(tmp_path / "after.jsonl"))
    assert after.returncode == 0, after.stdout[-3000:] + after.stderr[-3000:]
    lab_results(tmp_path / "after.jsonl")

    archives = REPO_ROOT / ".lab/netdev-backups"
    before_count = len(list(archives.rglob("SHA256SUMS")))
    second = run(str(BIN / "ansible-playbook"), "playbooks/network.yml")
    assert second.returncode == 0, second.stdout[-3000:]
    assert recap_changed(second.stdout) == 0, second.stdout[-3000:]
    assert len(list(archives.rglob("SHA256SUMS"))) > before_count, "every run leaves an offline backup (NW-08)"
