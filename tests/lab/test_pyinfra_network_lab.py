"""playbooks/pyinfra/network.py, the network deploy, on the lab's simulated devices beside Ansible's network play
(tests/lab/test_network_play.py runs before it): from the devices' seed configuration, `--dry` plans the backup and
the push and sends nothing; the run backs up and pushes and the devices' audit passes; a second run has no
operation; Ansible's play after it changes nothing, and the deploy after the play has no operation either (the
engines never fight over a device)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from baseline import REPO_ROOT
from baseline.operations import changes

pytestmark = pytest.mark.lab
BIN = Path(shutil.which("pyinfra") or "pyinfra").parent
DEPLOY = "playbooks/pyinfra/network.py"
NETDEV = str(REPO_ROOT / "scripts" / "netdev")
REASON = "CR-21: device baseline with pyinfra on the lab"


def run(*cmd: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "ANSIBLE_CONFIG": str(REPO_ROOT / "ansible.cfg"), "ANSIBLE_NOCOLOR": "1"}
    return subprocess.run(list(cmd), cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=900, check=False)


def deploy(*args: str) -> subprocess.CompletedProcess:
    return run(str(BIN / "pyinfra"), "-y", "@local", DEPLOY, "--data", f"change_reason={REASON}", *args)


def operations(proc: subprocess.CompletedProcess) -> list[str]:
    """The control IDs of the operations pyinfra started (its `--> Starting operation: NAME` lines)."""
    return [name.split(" |")[0] for name in re.findall(r"--> Starting operation: (.+)", proc.stdout + proc.stderr)]


def last_pyinfra_record() -> dict:
    return [r for r in changes.archive().read() if r.get("engine") == "pyinfra"][-1]


def audit(tmp: Path, name: str) -> subprocess.CompletedProcess:
    return run(NETDEV, "-q", "audit", "--results", str(tmp / f"{name}.jsonl"))


def test_the_network_deploy_pushes_the_lab_devices_and_agrees_with_ansibles_play(demo_run, tmp_path, lab_results):
    devsim = str(REPO_ROOT / "scripts" / "devsim")
    subprocess.run([devsim, "stop"], check=True, capture_output=True)
    subprocess.run([devsim, "start", "--reset"], check=True, capture_output=True)
    assert audit(tmp_path, "seed").returncode == 1, "the seed configuration should fail the audit (status 1)"

    dry = deploy("--dry")
    assert dry.returncode == 0, dry.stdout[-4000:] + dry.stderr[-4000:]
    assert re.search(r"would send [1-9]", dry.stdout + dry.stderr), dry.stdout[-4000:] + dry.stderr[-4000:]
    planned = last_pyinfra_record()
    assert planned["mode"] == "check"
    predicted = [c["task"].split(" |")[0] for c in planned["changes"]]
    assert "NW-01 NW-02 NW-03 NW-04 NW-05 NW-06 NW-07" in predicted, planned["changes"]
    assert audit(tmp_path, "after-dry").returncode == 1, "--dry must send nothing (the audit still fails)"

    first = deploy()
    assert first.returncode == 0, first.stdout[-4000:] + first.stderr[-4000:]
    assert operations(first) == predicted, (operations(first), predicted)
    assert "lines, saved, verified" in first.stdout + first.stderr
    pushed = audit(tmp_path, "pushed")
    assert pushed.returncode == 0, pushed.stdout[-3000:] + pushed.stderr[-3000:]
    lab_results(tmp_path / "pushed.jsonl")

    again = deploy()
    assert again.returncode == 0, again.stdout[-4000:] + again.stderr[-4000:]
    assert operations(again) == [], again.stdout[-4000:]

    play = run(str(BIN / "ansible-playbook"), "playbooks/network.yml")
    assert play.returncode == 0, play.stdout[-4000:]
    recap = next(line for line in play.stdout.splitlines() if line.startswith("localhost "))
    assert " changed=0 " in recap, play.stdout[-4000:]

    after = deploy()
    assert after.returncode == 0, after.stdout[-4000:] + after.stderr[-4000:]
    assert operations(after) == [], after.stdout[-4000:]
    record = last_pyinfra_record()
    assert record["changes"] == [] and record["result"] == "succeeded"
