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
import yaml

from baseline import REPO_ROOT

ANSIBLE_PLAYBOOK = str(Path(sys.executable).parent / "ansible-playbook")
SCRIPT = Path("/usr/local/sbin/baseline-aide-approve")
TASKS = REPO_ROOT / "roles" / "hardening" / "tasks"
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


def task(file: str, name: str) -> dict:
    return next(t for t in yaml.safe_load((TASKS / file).read_text(encoding="utf-8")) if t["name"] == name)


@pytest.mark.parametrize(("facts", "approves"), [
    ({}, False),  # neither the snapshot nor the install ran for this host (a run limited to other tags)
    ({"hardening_aide_approve_script": {"stat": {"exists": True}}}, True),  # found at the start of the run
    ({"hardening_aide_approve_script": {"stat": {"exists": False}}, "hardening_aide_approve_install": {"changed": True}},
     True),  # installed by this run (its first)
    ({"hardening_aide_approve_script": {"stat": {"exists": False}}, "hardening_aide_approve_install": {"changed": False}},
     True),  # installed by this run, unchanged (the snapshot found no script: e.g. a run that removed it by hand)
    ({"hardening_aide_approve_script": {"stat": {"exists": False}},
      "hardening_aide_approve_install": {"changed": False, "skipped": True}}, False),  # integrity not managed
    ({"hardening_aide_approve_script": {"changed": False, "skipped": True}}, False),  # check mode at the start
])
def test_the_approval_knows_from_the_runs_own_results_whether_the_script_is_there(facts, approves):
    """The end of the run asks the host nothing more: the script is there if the snapshot at the run's start found it
    or the run installed it; the names the approval reads are those the two tasks register."""
    from ansible.parsing.dataloader import DataLoader
    from ansible.template import Templar, trust_as_template

    snapshot = task("aide_snapshot.yml", "IP-05 | Is the integrity approval of the baseline installed?")
    install = task("integrity.yml", "IP-05 | Approvals of the integrity database (only what a run changed, or what an "
                                    "administrator names)")
    assert (snapshot["register"], install["register"]) == ("hardening_aide_approve_script",
                                                             "hardening_aide_approve_install")
    condition = task("aide_approve.yml", "IP-05 | Approve what this run changed (and the paths named in "
                                         "integrity_approve)")["when"][-1]
    assert "stat:" not in (TASKS / "aide_approve.yml").read_text(encoding="utf-8"), "no second look at the host"
    assert Templar(loader=DataLoader(), variables=facts).evaluate_conditional(trust_as_template(condition)) is approves
