"""Throw-away inventories for the pre-flight tests, with the shared group_vars of the repository.

The host can be reached only through a ProxyCommand (or an ssh executable) that leaves a marker file: if Ansible
ever tried to connect, the marker exists. Since a ProxyCommand hides the address the host would see, the host
states the controller's address (`controller_address`), and every active person of the committed roster gets a
key through `staff_ssh_keys`, as the lab gives them.
"""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import struct
import subprocess
import sys
from pathlib import Path

import yaml

from baseline import REPO_ROOT

ANSIBLE_PLAYBOOK = str(Path(sys.executable).parent / "ansible-playbook")
CONTROLLER = "10.231.0.1"


def public_key(comment: str, seed: int = 0) -> str:
    """A well-formed ed25519 public key line (not anybody's key)."""
    blob = struct.pack(">I", 11) + b"ssh-ed25519" + struct.pack(">I", 32) + bytes((seed + i) % 256 for i in range(32))
    return f"ssh-ed25519 {base64.b64encode(blob).decode()} {comment}"


def committed_roster() -> list[dict]:
    text = (REPO_ROOT / "inventory/group_vars/all/staff.yml").read_text(encoding="utf-8")
    return yaml.safe_load(text)["staff"]


def roster_keys() -> dict[str, list[str]]:
    """One key per person of the committed roster, the shape of the lab's `staff_ssh_keys`."""
    return {p["username"]: [public_key(f"{p['username']}@test", n)] for n, p in enumerate(committed_roster())}


def valid_host_vars() -> dict:
    return {"controller_address": CONTROLLER, "staff_ssh_keys": roster_keys()}


def inventory(tmp_path: Path, host: dict, groups: tuple[str, ...] = ("linux_servers",),
              others: dict[str, dict] | None = None, proxy: bool = True) -> tuple[Path, Path]:
    """Inventory with the host `ghost` in the nested groups (outermost first); `others`: group -> hosts.
    Returns the inventory directory and the marker path."""
    inv = tmp_path / "inv"
    (inv / "group_vars").mkdir(parents=True)
    shutil.copytree(REPO_ROOT / "inventory/group_vars/all", inv / "group_vars/all")
    marker = tmp_path / "contacted"
    ghost = {"ansible_host": "127.0.0.1", "ansible_port": 9}
    if proxy:
        ghost["ansible_ssh_common_args"] = f"-o ProxyCommand='touch {marker}; exit 1'"
    else:
        fake_ssh = tmp_path / "fake-ssh"
        fake_ssh.write_text(f"#!/bin/sh\ntouch {marker}\nexit 255\n", encoding="utf-8")
        fake_ssh.chmod(0o755)
        ghost["ansible_ssh_executable"] = str(fake_ssh)
    ghost.update(host)
    tree: dict = {"hosts": {"ghost": ghost}}
    for group in reversed(groups[1:]):
        tree = {"children": {group: tree}}
    children = {groups[0]: tree}
    for group, hosts in (others or {}).items():
        children.setdefault(group, {}).setdefault("hosts", {}).update(hosts)
    (inv / "hosts.yml").write_text(yaml.safe_dump({"all": {"children": children}}), encoding="utf-8")
    return inv, marker


def guarded(tmp_path: Path) -> str:
    """A playbook like every playbook of the project: the pre-flight, then a play that connects (gathers facts)."""
    playbook = tmp_path / "guarded.yml"
    playbook.write_text(f"- name: Pre-flight\n  ansible.builtin.import_playbook: {REPO_ROOT}/playbooks/preflight.yml\n"
                        "- name: Contact\n  hosts: all\n  gather_facts: true\n  tasks: []\n", encoding="utf-8")
    return str(playbook)


def run(inv: Path, playbook: str, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "ANSIBLE_CONFIG": str(REPO_ROOT / "ansible.cfg"), "ANSIBLE_NOCOLOR": "1"}
    return subprocess.run([ANSIBLE_PLAYBOOK, "-i", str(inv), playbook, *args], cwd=REPO_ROOT, env=env,
                          capture_output=True, text=True, timeout=180, check=False)


def refusals(proc: subprocess.CompletedProcess) -> list[str]:
    """The lines of the failed task's message (`fatal: [host]: FAILED! => {...}`), in order."""
    found = []
    for match in re.finditer(r"^fatal: \[[^\]]+\]: FAILED! => (\{.*\})$", proc.stdout + proc.stderr, re.MULTILINE):
        found.extend(json.loads(match.group(1))["msg"].splitlines())
    return found


def output(proc: subprocess.CompletedProcess) -> str:
    return proc.stdout + proc.stderr
