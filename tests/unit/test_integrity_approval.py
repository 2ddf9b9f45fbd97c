"""The integrity approval at the end of every baseline run (roles/hardening/tasks/aide_approve.yml, tagged `always`
in linux.yml and settle.yml) on a host where the integrity tooling is not installed: a run limited by tags to other
controls (`--tags AC-02` on a fresh host) installs no AIDE and no approval script, and must end without error
instead of failing on the missing script. Run on the controller itself (local connection), where the baseline's
approval script is not installed."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from baseline import REPO_ROOT

ANSIBLE_PLAYBOOK = str(Path(sys.executable).parent / "ansible-playbook")
SCRIPT = Path("/usr/local/sbin/baseline-aide-approve")
PLAY = """
- name: The end of a run limited by tags on a host without the integrity tooling
  hosts: all
  gather_facts: false
  tasks:
    - name: IP-05 | The state the baseline left becomes the approved integrity database
      ansible.builtin.include_role:
        name: hardening
        tasks_from: aide_approve
        apply:
          tags: [always]
      tags: [always]
"""


@pytest.mark.skipif(SCRIPT.exists(), reason=f"{SCRIPT} is installed on this machine")
def test_a_run_limited_to_other_controls_ends_without_error_where_the_approval_is_not_installed(tmp_path: Path):
    values = {"ansible_connection": "local", "ansible_become": False, "ansible_python_interpreter": sys.executable,
              "baseline_keep_root": str(tmp_path / "keep")}
    (tmp_path / "hosts.yml").write_text(json.dumps({"all": {"hosts": {"box": values}}}))
    (tmp_path / "play.yml").write_text(PLAY)
    env = {k: v for k, v in os.environ.items() if k not in ("BASELINE_CHANGE_REASON", "BASELINE_CHANGE_ID")}
    env.update({"ANSIBLE_CONFIG": str(REPO_ROOT / "ansible.cfg"), "ANSIBLE_NOCOLOR": "1",
                "BASELINE_CHANGES_DIR": str(tmp_path / "changes"), "BASELINE_OPERATOR": "zhangwei",
                "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"})
    command = [ANSIBLE_PLAYBOOK, "-i", str(tmp_path / "hosts.yml"), str(tmp_path / "play.yml"), "--tags", "AC-02",
               "-e", "change_reason=one control"]
    proc = subprocess.run(command, cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    approval = proc.stdout.split("IP-05 | Approve what this run changed", 1)[1].split("TASK [", 1)[0]
    assert "skipping: [box]" in approval, approval
