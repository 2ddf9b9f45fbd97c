"""CM-01 on the lab's devices: playbooks/network.yml leaves the Ansible record and the record of the `netdev push`
it runs (engine netdev, the lab's reason, a diff per changed device), each copied to syslog; `changes verify
--inventory inventory/lab` judges the devices from them; `netdev rollback` brings the devices back to their seed
configuration and records itself; a second push leaves them compliant again for the suites that follow."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
from pathlib import Path

import pytest

from baseline import REPO_ROOT
from baseline.operations import changes
from baseline.results import read_results

pytestmark = pytest.mark.lab
BIN = Path(shutil.which("ansible-playbook") or "ansible-playbook").parent
NETDEV = str(REPO_ROOT / "scripts/netdev")


@pytest.fixture(scope="module")
def seed_devices(lab_up):
    devsim = str(REPO_ROOT / "scripts/devsim")
    subprocess.run([devsim, "stop"], check=True, capture_output=True)
    subprocess.run([devsim, "start", "--reset"], check=True, capture_output=True)


def test_network_play_push_and_rollback_are_recorded(seed_devices, tmp_path):
    archive_dir = tmp_path / "changes"
    sock_path = tmp_path / "log.sock"
    server = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    server.bind(str(sock_path))
    server.settimeout(10)
    env = {**os.environ, "ANSIBLE_CONFIG": str(REPO_ROOT / "ansible.cfg"), "ANSIBLE_NOCOLOR": "1",
           changes.DIR_ENV: str(archive_dir), changes.SYSLOG_ENV: str(sock_path)}
    env.pop(changes.REASON_ENV, None)

    def run(*cmd: str) -> subprocess.CompletedProcess:
        return subprocess.run(list(cmd), cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=900,
                              check=False)

    try:
        play = run(str(BIN / "ansible-playbook"), "playbooks/network.yml")
        assert play.returncode == 0, play.stdout[-3000:]
        copies = [json.loads(server.recv(1 << 20).decode().split("]: ", 1)[1]) for _ in range(2)]
    finally:
        server.close()
    records = changes.archive(archive_dir).read()
    assert sorted(r.get("engine") for r in records) == ["ansible", "netdev"]
    assert sorted(c["hash"] for c in copies) == sorted(r["hash"] for r in records), "each record reaches syslog"
    pushed = next(r for r in records if r["engine"] == "netdev")
    assert pushed["reason"] == changes.LAB_REASON and pushed["result"] == "succeeded" and pushed["mode"] == "apply"
    devices = sorted(pushed["assets"])
    assert devices and all(kinds == ["network"] for kinds in pushed["assets"].values())
    changed = sorted(c["host"] for c in pushed["changes"])
    assert changed and set(changed) <= set(devices), "the seeded devices that were changed are recorded"
    assert all(c["diff"][0]["prepared"] and Path(c["backup"]).is_file() for c in pushed["changes"])

    results = tmp_path / "cm01.jsonl"
    verify = run(str(REPO_ROOT / "scripts/changes"), "verify", "--results-file", str(results), "--inventory",
                 str(REPO_ROOT / "inventory/lab"))
    assert verify.returncode == 0, verify.stdout + verify.stderr
    judged = {r.asset: r for r in read_results([results]) if r.asset_kind == "network"}
    assert sorted(judged) == devices and all(r.outcome == "pass" for r in judged.values()), judged

    rolled = run(NETDEV, "-q", "rollback", pushed["id"], "--yes")
    assert rolled.returncode == 0, rolled.stderr[-3000:]
    audit = run(NETDEV, "-q", "audit", "--results", str(tmp_path / "seed.jsonl"))
    assert audit.returncode == 1, "the seed configuration is back: the audit fails again"
    last = changes.archive(archive_dir).read()[-1]
    assert last["tool"] == "baseline netdev rollback" and pushed["id"] in last["reason"]
    assert sorted(c["host"] for c in last["changes"]) == changed

    again = run(NETDEV, "-q", "push")
    assert again.returncode == 0, again.stderr[-3000:]
    assert run(NETDEV, "-q", "audit", "--results", str(tmp_path / "after.jsonl")).returncode == 0
    assert run(str(REPO_ROOT / "scripts/changes"), "verify").returncode == 0
