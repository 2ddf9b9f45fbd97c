"""The pre-flight play refuses weak policy values before any host is contacted.

Each run uses a throw-away inventory whose only host can be reached solely through a ProxyCommand that
leaves a marker file: if Ansible ever tried to connect, the marker exists.
"""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from preflight_inventory import valid_host_vars

from baseline import REPO_ROOT


def _run(tmp_path, override: dict, playbook: str = "playbooks/site.yml"):
    inv = tmp_path / "inv"
    (inv / "group_vars").mkdir(parents=True)
    shutil.copytree(REPO_ROOT / "inventory/group_vars/all", inv / "group_vars/all")
    marker = tmp_path / "contacted"
    hosts = {"all": {"children": {"linux_servers": {"hosts": {"ghost": {
        "ansible_host": "127.0.0.1", "ansible_port": 9,
        "ansible_ssh_common_args": f"-o ProxyCommand='touch {marker}; exit 1'",
        **valid_host_vars(), **override}}}}}}
    (inv / "hosts.yml").write_text(yaml.safe_dump(hosts), encoding="utf-8")
    env = {**os.environ, "ANSIBLE_CONFIG": str(REPO_ROOT / "ansible.cfg"), "ANSIBLE_NOCOLOR": "1"}
    proc = subprocess.run([str(Path(sys.executable).parent / "ansible-playbook"), "-i", str(inv), playbook],
                          cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=120, check=False)
    return proc, marker


def _messages(proc) -> str:
    return proc.stdout + proc.stderr


@pytest.mark.parametrize(
    ("variable", "value", "floor", "article"),
    [("password_min_length", 8, "10", "第十六条(一)"),
     ("log_retention_days", 180, "365", "第二十条(八)"),
     ("backup_full_interval_days", 8, "7", "第十八条(三)")],
)
def test_weak_value_stops_the_run_before_any_host_is_contacted(tmp_path, variable, value, floor, article):
    proc, marker = _run(tmp_path, {variable: value})
    assert proc.returncode == 2, "ansible-playbook's status for a failed task"
    message = _messages(proc)
    assert f"{variable} = {value}" in message and floor in message and article in message
    assert not marker.exists(), "a host was contacted although the policy check failed"


def test_stricter_value_passes_preflight_without_contacting_hosts(tmp_path):
    proc, marker = _run(tmp_path, {"password_min_length": 12}, playbook="playbooks/preflight.yml")
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert _messages(proc).count("ok: [ghost]") == 4, "policy, platform and roster checks pass, and are marked passed"
    assert not marker.exists()


def test_a_run_that_imports_the_preflight_per_part_checks_each_host_once(tmp_path):
    """site.yml imports preflight.yml once per part; the second import leaves out the host this run checked."""
    book = REPO_ROOT / "playbooks" / f".preflight-twice-{os.getpid()}.yml"
    book.write_text("---\n- ansible.builtin.import_playbook: preflight.yml\n"
                    "- ansible.builtin.import_playbook: preflight.yml\n", encoding="utf-8")
    try:
        proc, marker = _run(tmp_path, {}, playbook=str(book))
    finally:
        book.unlink()
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    out = _messages(proc)
    # the three checks and the group of hosts that passed, once; the second play has no host left
    assert out.count("ok: [ghost]") == 4 and "skipping: [ghost]" not in out, out[-3000:]
    assert out.count("skipping: no hosts matched") == 1, out[-3000:]
    assert "Could not match supplied host pattern" not in proc.stdout + proc.stderr  # the group is named once it exists
    assert not marker.exists()


def test_after_preflight_the_run_does_contact_hosts(tmp_path):
    """The marker mechanism itself works: a play that gathers facts does try to connect."""
    playbook = tmp_path / "touch.yml"
    playbook.write_text("- hosts: all\n  gather_facts: true\n  tasks: []\n", encoding="utf-8")
    proc, marker = _run(tmp_path, {}, playbook=str(playbook))
    assert proc.returncode == 4, "ansible-playbook's status for unreachable hosts"
    assert marker.exists()


@pytest.mark.parametrize("playbook", ["site.yml", "linux.yml", "databases.yml", "restore_drill.yml"])
def test_every_server_playbook_starts_with_the_pre_flight(playbook):
    """Each playbook that can be run alone refuses wrong inputs before its first play touches a host."""
    plays = yaml.safe_load((REPO_ROOT / "playbooks" / playbook).read_text(encoding="utf-8"))
    assert plays[0].get("ansible.builtin.import_playbook") == "preflight.yml", plays[0]
