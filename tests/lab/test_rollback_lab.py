"""CM-01 rollback on the hardened lab (after `scripts/demo`, tests/lab/test_demo.py): on app1 a run changes the sshd
drop-in through an inventory value given with -e (the accounts part, by its tag), keeping the file it replaces
under its change id; `playbooks/rollback.yml -e change_id=ID` puts it back byte for byte with its owner and mode,
reloads sshd, and is recorded as "rollback of ID"; the suite's sshd checks pass after it. A second rollback of the
same change is refused (the file changed since: the first rollback changed it), and so is a rollback read from an
edited copy of the change archive. pyinfra's rollback (playbooks/pyinfra/rollback.py) does the same to another change
of the drop-in: --dry names the file, the run puts it back under the lockout guard (armed, confirmed by a new SSH
login with sudo) and reloads sshd, recorded as pyinfra's "rollback of ID". app1 is left with the configuration it
had."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from lab_run import BIN, on, playbook

from baseline import REPO_ROOT
from baseline.operations import changes

pytestmark = pytest.mark.lab
HOST = "app1"
DROPIN = "/etc/ssh/sshd_config.d/50-baseline.conf"
LINUX = ["playbooks/preflight.yml", "playbooks/linux.yml"]
SSHD_CHECKS = "ssh_protocol_2 or ssh_attempts_limited or lockout_and_idle_timeouts"


def file_state(path: str = DROPIN) -> str:
    """SHA-256, owner, group and mode of a file on app1."""
    return on(HOST, f"sudo sha256sum {path} && sudo stat -c '%U %G %a' {path}").strip()


def sshd_checks(tmp: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pytest", "compliance_tests/linux", "--hosts", HOST, "-q",
                           "-p", "no:cacheprovider", "-k", SSHD_CHECKS, "--results-file", str(tmp / "sshd.jsonl")],
                          cwd=REPO_ROOT, capture_output=True, text=True, timeout=600, check=False)


@pytest.fixture(scope="module")
def changed(demo_run):
    """The original drop-in's state, and the record of a run that changed it (LoginGraceTime 45 s)."""
    original = file_state()
    proc = playbook(*LINUX, "--limit", HOST, "--tags", "IA-05", "-e", "accounts_ssh_login_grace_seconds=45")
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    record = changes.archive().read()[-1]
    assert "LoginGraceTime 45" in on(HOST, f"sudo cat {DROPIN}")
    return original, record


def test_the_change_record_lists_the_kept_drop_in_with_its_hashes(changed) -> None:
    original, record = changed
    files = {item["path"]: item for item in record["kept"][HOST]["files"]}
    assert files[DROPIN]["sha256_before"] == original.split()[0]
    assert files[DROPIN]["sha256_after"] == file_state().split()[0] != original.split()[0]
    kept = record["kept"][HOST]["dir"]
    assert on(HOST, f"sudo stat -c '%U %a' {kept}").strip() == "root 700"


def test_the_rollback_restores_the_drop_in_byte_for_byte_and_reloads_sshd(changed, tmp_path) -> None:
    original, record = changed
    dry = playbook("playbooks/rollback.yml", "-e", f"change_id={record['id']}", "--limit", HOST, "--check")
    assert dry.returncode == 0, dry.stdout[-4000:]
    assert "would restore" in dry.stdout and DROPIN in dry.stdout and file_state() != original

    since = int(time.time()) - 1
    proc = playbook("playbooks/rollback.yml", "-e", f"change_id={record['id']}", "--limit", HOST)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    assert file_state() == original
    reloads = on(HOST, f"sudo journalctl -u ssh --since @{since} --no-pager -o cat")
    assert "Received SIGHUP" in reloads, reloads
    undo = changes.archive().read()[-1]
    assert undo["rollback_of"] == record["id"] and undo["reason"] == f"rollback of {record['id']}"
    assert undo["result"] == "succeeded" and changes.archive().verify().intact
    checks = sshd_checks(tmp_path)
    assert checks.returncode == 0, checks.stdout[-4000:]

    again = playbook("playbooks/rollback.yml", "-e", f"change_id={record['id']}", "--limit", HOST)
    assert again.returncode == 2, again.stdout[-4000:]
    assert f"{DROPIN}: changed since {record['id']}" in again.stdout + again.stderr
    assert file_state() == original


def test_a_rollback_from_an_edited_archive_is_refused(changed, tmp_path, monkeypatch) -> None:
    _, record = changed
    copy = tmp_path / "changes"
    shutil.copytree(changes.archive().directory, copy)
    path = copy / "changes.jsonl"
    lines = path.read_text(encoding="utf-8").splitlines()
    at = next(n for n, line in enumerate(lines) if json.loads(line).get("id") == record["id"])
    edited = json.loads(lines[at])
    edited["operator"] = "someone-else"
    lines[at] = json.dumps(edited, ensure_ascii=False)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    before = file_state()
    monkeypatch.setenv(changes.DIR_ENV, str(copy))
    proc = playbook("playbooks/rollback.yml", "-e", f"change_id={record['id']}", "--limit", HOST)
    assert proc.returncode == 2, proc.stdout[-4000:]
    assert "hash chain does not verify" in proc.stdout + proc.stderr
    assert file_state() == before


def pyinfra_rollback(change_id: str, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "ANSIBLE_CONFIG": str(REPO_ROOT / "ansible.cfg")}
    confirm = [] if "--dry" in args else ["-y"]
    return subprocess.run([str(BIN / "pyinfra"), *confirm, "inventory/lab/pyinfra_inventory.py",
                           "playbooks/pyinfra/rollback.py", "--limit", HOST, "--data", f"change_id={change_id}", *args],
                          cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=900, check=False)


def test_pyinfra_rolls_back_a_change_under_the_lockout_guard(demo_run, tmp_path) -> None:
    original = file_state()
    proc = playbook(*LINUX, "--limit", HOST, "--tags", "IA-05", "-e", "accounts_ssh_login_grace_seconds=50")
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    record = changes.archive().read()[-1]
    assert "LoginGraceTime 50" in on(HOST, f"sudo cat {DROPIN}")
    changed = file_state()

    dry = pyinfra_rollback(record["id"], "--dry")
    assert dry.returncode == 0, dry.stdout[-4000:] + dry.stderr[-2000:]
    said = next((line for line in dry.stdout.splitlines() if line.startswith(f"{HOST}: would restore ")), "")
    assert DROPIN in said and said.endswith("; then systemctl reload ssh"), dry.stdout[-4000:]
    assert file_state() == changed

    since = int(time.time()) - 1
    undo_run = pyinfra_rollback(record["id"])
    assert undo_run.returncode == 0, undo_run.stdout[-4000:] + undo_run.stderr[-2000:]
    assert file_state() == original
    assert "Lockout safety: a new SSH login with sudo after the change: rollback of" in undo_run.stderr
    reloads = on(HOST, f"sudo journalctl -u ssh --since @{since} --no-pager -o cat")
    assert "Received SIGHUP" in reloads, reloads
    undo = changes.archive().read()[-1]
    assert undo["engine"] == "pyinfra" and undo["rollback_of"] == record["id"] and undo["result"] == "succeeded"
    assert DROPIN in [item["path"] for item in undo["kept"][HOST]["files"]]
    assert changes.archive().verify().intact
    checks = sshd_checks(tmp_path)
    assert checks.returncode == 0, checks.stdout[-4000:]
