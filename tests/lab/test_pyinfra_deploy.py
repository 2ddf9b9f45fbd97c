"""The pyinfra deploy of the authentication baseline writes the same bytes Ansible's role would write, from
the same inventory values, and a second run changes nothing."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

import pytest
import testinfra

from baseline import REPO_ROOT, inventory, templates
from devtools.lab import config

pytestmark = pytest.mark.lab
HOST = "app1"
PYINFRA = str(Path(sys.executable).parent / "pyinfra")


def deploy() -> subprocess.CompletedProcess:
    return subprocess.run([PYINFRA, "-y", "inventory/lab/pyinfra_inventory.py", "playbooks/pyinfra/accounts.py",
                           "--limit", HOST], cwd=REPO_ROOT, capture_output=True, text=True, timeout=600,
                          env={**os.environ, "PYTHONPATH": str(REPO_ROOT)}, check=False)


def test_pyinfra_deploy_writes_what_ansible_would_and_is_idempotent(lab_up):
    first = deploy()
    assert first.returncode == 0, first.stdout[-3000:] + first.stderr[-3000:]
    values = templates.role_values("accounts", inventory.load(str(config.INVENTORY_DIR)).vars(HOST))
    wanted = {item["dest"]: item["src"] for item in values["accounts_pam_files"]}
    wanted.update({"/etc/profile.d/50-baseline.sh": "tmout.sh.j2", "/etc/issue.net": "issue.net.j2",
                   "/etc/ssh/sshd_config.d/50-baseline.conf": "sshd-baseline.conf.j2"})
    host = testinfra.get_host(f"ssh://{HOST}", ssh_config=str(config.INVENTORY_DIR / "ssh_config"))
    with host.sudo():
        for dest, src in wanted.items():
            expected = templates.render_with_ansible(templates.template_path("accounts", src), values)
            assert host.file(dest).sha256sum == hashlib.sha256(expected.encode()).hexdigest(), dest
        assert host.run("/usr/sbin/sshd -t").rc == 0
    second = deploy()
    assert second.returncode == 0, second.stdout[-3000:] + second.stderr[-3000:]
    output = second.stdout + second.stderr
    assert "Grand total" in output
    total = next(line for line in output.splitlines() if "Grand total" in line).split()
    # columns after "Grand total": operations, changed successfully, errors, no change
    operations, changed, errors, unchanged = total[2:6]
    assert changed == "-" and errors == "-" and unchanged == operations, f"second run: {' '.join(total)}"
