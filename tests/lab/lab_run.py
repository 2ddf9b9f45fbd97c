"""Helpers of the lab tests that drive the lab's hosts: ansible-playbook runs, their PLAY RECAP, SSH commands."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from baseline import REPO_ROOT
from devtools.lab import config

BIN = Path(shutil.which("ansible-playbook") or "ansible-playbook").parent
SSH = ["ssh", "-F", str(config.INVENTORY_DIR / "ssh_config")]


def playbook(*args: str, timeout: float = 900, strategy: str = "") -> subprocess.CompletedProcess:
    """`ansible-playbook ARGS...` from the repository root with its ansible.cfg (strategy: another than its own);
    output captured, never raises."""
    env = {**os.environ, "ANSIBLE_CONFIG": str(REPO_ROOT / "ansible.cfg"), "ANSIBLE_NOCOLOR": "1",
           **({"ANSIBLE_STRATEGY": strategy} if strategy else {})}
    return subprocess.run([str(BIN / "ansible-playbook"), *args], cwd=REPO_ROOT, env=env, capture_output=True,
                          text=True, timeout=timeout, check=False)


def kernel_hosts() -> set[str]:
    from baseline import inventory

    return set(inventory.load(str(config.INVENTORY_DIR / "hosts.yml")).hosts("kernel_hosts"))


def playbooks_beside(*args: str, timeout: float = 900) -> list[subprocess.CompletedProcess]:
    """`ansible-playbook ARGS...` whose `--limit` names container and VM hosts as two runs side by side (the VM
    hosts are software-emulated: in one run every task would wait for them), else as one run."""
    at = args.index("--limit") + 1
    hosts = args[at].split(",")
    vms = [h for h in hosts if h in kernel_hosts()]
    if not vms or len(vms) == len(hosts):
        return [playbook(*args, timeout=timeout)]
    parts = [",".join(h for h in hosts if h not in vms), ",".join(vms)]
    with ThreadPoolExecutor(max_workers=2) as pool:
        runs = [pool.submit(playbook, *args[:at], part, *args[at + 1:], timeout=timeout) for part in parts]
        return [run.result() for run in runs]


def on(host: str, command: str, timeout: float = 300) -> str:
    """Run a command on a lab host as the automation account; fails the test when it exits non-zero."""
    proc = subprocess.run([*SSH, host, command], capture_output=True, text=True, timeout=timeout, check=False)
    assert proc.returncode == 0, f"{host}: {command}\n{proc.stdout}\n{proc.stderr}"
    return proc.stdout


def recap(output: str) -> dict[str, dict[str, int]]:
    """PLAY RECAP figures per host (the last recap wins when several playbooks ran)."""
    found = {}
    for host, fields in re.findall(r"^(\S+)\s+: (ok=.*)$", output, re.M):
        found[host] = {k: int(v) for k, v in re.findall(r"(\w+)=(\d+)", fields)}
    return found


def changed_tasks(output: str) -> list[str]:
    """`TASK name: changed: [host]` for every change in ansible-playbook output: what a second run should not do."""
    found, task = [], ""
    for line in output.splitlines():
        if line.startswith("TASK ["):
            task = line[6:].rsplit("]", 1)[0]
        elif line.startswith("changed: "):
            found.append(f"{task}: {line}")
    return found
