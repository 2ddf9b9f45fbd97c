"""The pyinfra deploy of roles/accounts (playbooks/pyinfra/accounts.py) run alone on the twin app2, while Ansible's
role applied the original app1 (scripts/demo): `--dry` lists what the run changes, a second run changes nothing,
the files and the roster accounts (initial password hashes included) equal the original's, the PAM login test
leaves no account behind, and a hand-edited or stray sshd drop-in is repaired under the lockout guard."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from lab_run import on

from baseline import REPO_ROOT
from baseline.operations import changes

pytestmark = [pytest.mark.lab, pytest.mark.extended]
TWIN, ORIGINAL = "app2", "app1"
BIN = Path(sys.executable).parent
DEPLOY = "playbooks/pyinfra/accounts.py"
DROPIN = "/etc/ssh/sshd_config.d/50-baseline.conf"
FILES = ("/etc/security/pwquality.conf.d/50-baseline.conf", "/etc/security/faillock.conf", "/etc/pam.d/common-auth",
         "/etc/pam.d/common-account", "/etc/pam.d/common-password", "/etc/pam.d/sshd", "/etc/login.defs",
         "/etc/profile.d/50-baseline.sh", "/etc/issue.net", "/etc/issue", "/etc/motd", DROPIN, "/etc/ssh/sshd_config",
         "/etc/sudoers.d/50-baseline-roles", "/etc/logrotate.d/baseline-sudo", "/etc/cron.allow", "/etc/at.allow",
         "/etc/aliases", "/var/lib/baseline/accounts-report.json")


def accounts(*args: str) -> subprocess.CompletedProcess:
    """The accounts deploy on the twin (a --dry run without -y: with -y pyinfra skips the change detection)."""
    env = {**os.environ, "ANSIBLE_CONFIG": str(REPO_ROOT / "ansible.cfg")}
    confirm = [] if "--dry" in args else ["-y"]
    proc = subprocess.run([str(BIN / "pyinfra"), *confirm, "inventory/lab/pyinfra_inventory.py", DEPLOY,
                           "--limit", TWIN, *args], cwd=REPO_ROOT, env=env, capture_output=True, text=True,
                          timeout=1200, check=False)
    assert proc.returncode == 0, f"pyinfra {' '.join(args)} failed:\n{proc.stdout[-5000:]}\n{proc.stderr[-3000:]}"
    return proc


def rows(output: str) -> list[list[str]]:
    return [re.split(r"\s{2,}", line.strip()) for line in output.splitlines() if re.match(r"\s+[A-Z]{2}-\d{2} \| ", line)
            or line.strip().startswith("Lockout safety |")]


def predicted(output: str) -> list[str]:
    """Operations `--dry` says will change the host (its 'Detected changes' table)."""
    return [row[0] for row in rows(output) if len(row) > 1 and row[1] != "-"]


def made(output: str) -> list[str]:
    """Operations the run changed (its results table: operation, hosts, success, error, no change)."""
    return [row[0] for row in rows(output) if len(row) >= 5 and row[2] != "-"]


def described(host: str, paths: list[str] | tuple[str, ...]) -> dict[str, str]:
    listing = on(host, "sudo sh -c 'for f in " + " ".join(paths) + "; do [ -f \"$f\" ] && printf \"%s %s %s\\n\" "
                 "\"$f\" \"$(stat -c %U:%G:%a \"$f\")\" \"$(sha256sum < \"$f\" | cut -d\" \" -f1)\"; done; true'")
    return {line.split(" ", 1)[0]: line.split(" ", 1)[1] for line in listing.splitlines() if line}


def active_staff() -> list[str]:
    roster = yaml.safe_load((REPO_ROOT / "inventory/lab/group_vars/all/staff.yml").read_text(encoding="utf-8"))
    return [p["username"] for p in roster["staff"] if p["status"] == "active"]


def account(host: str, user: str) -> str:
    """passwd entry without the UID's home aside, groups, and a digest of the shadow entry without its date of
    last change (the hash itself never leaves the host)."""
    return on(host, f"getent passwd {user} | cut -d: -f1,3-7; id -nG {user} | tr ' ' '\\n' | sort | tr '\\n' ' '; "
                    f"sudo getent shadow {user} | cut -d: -f2,4-9 | sha256sum")


@pytest.fixture(scope="module")
def applied(demo_run):
    """The accounts deploy on the twin (a no-op when the parity test applied it already; its dry run, real run and
    second run are compared there, tests/lab/test_engine_parity.py)."""
    first = accounts()
    assert first.returncode == 0, first.stdout[-3000:] + first.stderr[-2000:]
    return {"first": first.stdout}


def made_by_last_run() -> list[str]:
    """The operations the last pyinfra run changed on the twin, from its change record (CM-01)."""
    return [c["task"] for c in changes.archive().read()[-1].get("changes") or [] if c["host"] == TWIN]


def test_files_and_roster_accounts_equal_the_originals(applied):
    keys = tuple(f"/home/{user}/.ssh/authorized_keys" for user in active_staff())
    original, twin = described(ORIGINAL, FILES + keys), described(TWIN, FILES + keys)
    assert set(original) == set(FILES + keys)
    different = {path: (original[path], twin.get(path)) for path in original if twin.get(path) != original[path]}
    assert different == {}
    for user in active_staff():
        assert account(TWIN, user) == account(ORIGINAL, user), user


def test_the_pam_login_test_leaves_no_account_behind(applied):
    assert on(TWIN, "getent passwd baseline-pamcheck || echo absent").strip() == "absent"
    assert on(TWIN, "sudo ls /var/run/faillock").split().count("baseline-pamcheck") == 0


def test_a_hand_edited_and_a_stray_sshd_dropin_are_repaired(applied):
    on(TWIN, f"sudo sed -i 's/^PermitRootLogin no/PermitRootLogin yes/' {DROPIN}")
    on(TWIN, "echo 'PasswordAuthentication yes' | sudo tee /etc/ssh/sshd_config.d/60-hand.conf >/dev/null")
    accounts()
    changed = made_by_last_run()
    assert any(name.startswith("IA-05 | Install the sshd drop-in") for name in changed), changed
    assert any(name.startswith("IA-05 | Lockout safety: a new SSH login") for name in changed), changed
    assert described(TWIN, (DROPIN,)) == described(ORIGINAL, (DROPIN,))
    assert on(TWIN, "ls /etc/ssh/sshd_config.d").split() == ["50-baseline.conf"]
    on(TWIN, "sudo /usr/sbin/sshd -t")
    accounts()
    assert made_by_last_run() == []
