"""Lab integration: real hosts reached over SSH by Ansible, pyinfra and testinfra; kinds told apart by facts;
recovery from a killed run; nothing left behind by `down`."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest
import testinfra

from baseline import REPO_ROOT
from baseline.compliance import SharedConnections
from devtools.lab import config, hosts
from devtools.lab.system import cgroup_dirs, read_pid

pytestmark = pytest.mark.lab
BIN = Path(shutil.which("ansible-playbook") or "ansible-playbook").parent
CONTAINERS = [h.name for h in config.CONTAINER_HOSTS]
ALL = CONTAINERS + [h.name for h in config.VM_HOSTS]
TWINS = [h.name for h in config.TWIN_HOSTS]


def run(cmd: list[str], timeout: float = 600) -> subprocess.CompletedProcess:
    env = {**os.environ, "ANSIBLE_CONFIG": str(REPO_ROOT / "ansible.cfg"), "ANSIBLE_NOCOLOR": "1"}
    return subprocess.run(cmd, cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=timeout, check=False)


def infra(name: str, ssh_config: Path = config.INVENTORY_DIR / "ssh_config"):
    return testinfra.get_host(f"ssh://{name}", ssh_config=str(ssh_config))


def test_every_host_is_ssh_ready(lab_up):
    assert set(lab_up["per_host_ready_s"]) == set(ALL + TWINS)


def test_ansible_reaches_every_host_and_facts_tell_the_host_kind(lab_up, tmp_path):
    playbook = tmp_path / "kinds.yml"
    playbook.write_text(
        "- hosts: linux_servers\n  gather_facts: true\n  tasks:\n"
        "    - ansible.builtin.assert:\n"
        "        that:\n"
        "          - (host_kind == 'container') == (ansible_virtualization_type == 'systemd-nspawn')\n"
        "          - (host_kind == 'vm') == (ansible_virtualization_type in ['kvm', 'qemu'])\n"
        "          - ansible_distribution == 'Debian' and ansible_distribution_major_version == '12'\n"
        "          - ansible_default_ipv4 == {}\n"
    )
    proc = run([str(BIN / "ansible-playbook"), str(playbook)])
    assert proc.returncode == 0, proc.stdout[-3000:]
    for name in ALL:
        assert f"{name}" in proc.stdout and "failed=0" in proc.stdout.split(name + " ")[-1].split("\n")[0]


def test_pyinfra_runs_commands_on_every_host(lab_up):
    proc = run([str(BIN / "pyinfra"), "-y", "inventory/lab/pyinfra_inventory.py", "exec", "--", "cat /etc/hostname"])
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    for name in ALL:
        assert f"[{name}]" in proc.stdout + proc.stderr


@pytest.fixture()
def shared_ssh():
    """One SSH connection per host for a test's many commands (each login to the emulated VM takes seconds)."""
    shared = SharedConnections(config.INVENTORY_DIR / "ssh_config")
    yield shared.config
    shared.close()


def test_testinfra_sees_real_hosts_with_distinct_identities(lab_up, shared_ssh):
    seen_keys, seen_ids = set(), set()
    for name in ALL:
        host = infra(name, shared_ssh)
        assert host.check_output("hostname") == name
        assert host.system_info.distribution == "debian" and host.system_info.release.startswith("12")
        assert host.interface("host0" if name in CONTAINERS else "eth0").addresses[0] == config.host_by_name(name).address
        assert host.run("ip route show default").stdout.strip() == "", "lab hosts must have no route out"
        assert host.service("ssh").is_running and host.process.filter(comm="systemd")[0].pid == 1
        with host.sudo():
            assert host.check_output("id -u") == "0"
            seen_keys.add(host.file("/etc/ssh/ssh_host_ed25519_key.pub").content_string.split()[1])
        seen_ids.add(host.file("/etc/machine-id").content_string.strip())
    assert len(seen_keys) == len(ALL) and len(seen_ids) == len(ALL)


def test_unknown_host_key_is_refused(lab_up, tmp_path):
    """Strict host-key checking: a known_hosts without the lab's keys makes SSH refuse."""
    empty = tmp_path / "known_hosts"
    empty.write_text("")
    proc = subprocess.run(["ssh", "-F", str(config.INVENTORY_DIR / "ssh_config"), "-o", f"UserKnownHostsFile={empty}",
                           "app1", "true"], capture_output=True, text=True, timeout=30, check=False)
    assert proc.returncode != 0 and "verification failed" in proc.stderr


def test_compliance_run_trusts_no_host_whose_key_changed(lab_up, tmp_path):
    """Every way the suites reach a host verifies its key: with app1's known key replaced by db1's, no app1 check
    passes. The testinfra checks cannot connect; the controller's own SSH probes (root login, weak algorithms) see
    the wrong key, send nothing and record an error naming it."""
    entries = {line.split()[0].split(",")[0]: line for line in (config.INVENTORY_DIR / "known_hosts").read_text().splitlines()}
    names, _, _ = entries["app1"].partition(" ")
    swapped = [f"{names} {entries['db1'].split(' ', 1)[1]}"] + [line for name, line in entries.items() if name != "app1"]
    known_hosts = tmp_path / "known_hosts"
    known_hosts.write_text("\n".join(swapped) + "\n")
    ssh_config = tmp_path / "ssh_config"
    ssh_config.write_text((config.INVENTORY_DIR / "ssh_config").read_text().replace(
        str(config.INVENTORY_DIR / "known_hosts"), str(known_hosts)))
    results = tmp_path / "results.jsonl"
    env = {**os.environ, "BASELINE_SSH_CONFIG": str(ssh_config)}
    proc = subprocess.run([str(BIN / "python"), "-m", "pytest", "compliance_tests", "--hosts", "app1", "-p", "no:cacheprovider",
                           "-k", "root_ssh_login or weak_algorithms or sudo_roles_separated", "--results-file", str(results)],
                          cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=300, check=False)
    records = [json.loads(line) for line in results.read_text().splitlines()]
    outcomes = {r["check"].split("::")[1].split("[")[0]: (r["outcome"], r["reason"]) for r in records}
    assert proc.returncode == 1, proc.stdout[-2000:]
    assert set(outcomes) == {"test_root_ssh_login_is_refused", "test_ssh_refuses_weak_algorithms_at_negotiation",
                             "test_sudo_roles_separated_without_nopasswd_all"}, outcomes
    assert all(outcome in ("fail", "error") for outcome, _ in outcomes.values()), outcomes
    assert "host key" in outcomes["test_root_ssh_login_is_refused"][1].lower(), outcomes
    assert "host key" in outcomes["test_ssh_refuses_weak_algorithms_at_negotiation"][1].lower(), outcomes


def test_hosts_install_packages_from_the_offline_repository(lab_up):
    host = infra("app1")
    with host.sudo():
        sources = host.file("/etc/apt/sources.list").content_string
        assert f"http://{config.CONTROLLER_ADDRESS}:{config.REPO_PORT}/" in sources
        proc = host.run("apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q acl")
        assert proc.rc == 0, proc.stderr
        assert host.package("acl").is_installed


def test_each_host_has_its_own_cgroup(lab_up):
    for name in CONTAINERS:
        procs = set()
        for path in cgroup_dirs(name):
            for dirpath, _dirs, files in os.walk(path):
                if "cgroup.procs" in files:
                    procs.update(Path(dirpath, "cgroup.procs").read_text().split())
        assert str(read_pid(hosts.host_dir(name) / "pid")) in procs


def test_vm_shows_kernel_level_controls(lab_up):
    vm = infra("kern1")
    with vm.sudo():
        assert vm.run("sysctl -w kernel.kptr_restrict=2").rc == 0
    container = infra("app1")
    with container.sudo():
        assert container.run("sysctl -w kernel.kptr_restrict=2").rc != 0, "containers cannot set kernel.* sysctls"


def test_the_emulated_vm_runs_with_a_raised_cpu_share(lab_up):
    """The emulator and its autogroup run at devtools.lab.vm.NICE, so that a login to the VM does not wait behind
    the containers' work (25 to 40 s with an equal share)."""
    from devtools.lab import vm

    pid = read_pid(hosts.host_dir("kern1") / "pid")
    assert vm.is_running("kern1") and pid > 0
    threads = list(Path(f"/proc/{pid}/task").iterdir())
    assert len(threads) > 2  # the vCPU threads were started after the priority was set
    assert {int(Path(t, "stat").read_text().rsplit(")", 1)[1].split()[16]) for t in threads} == {vm.NICE}
    autogroup = Path(f"/proc/{pid}/autogroup")
    if autogroup.exists():
        assert autogroup.read_text().split()[-1] == str(vm.NICE)


def test_up_recovers_from_a_killed_run(lab_up, lab):
    """Kill a host's nspawn process and everything in its cgroup, as the end of a session does; mounts,
    links and cgroups stay. `up` must clean them and boot the host again."""
    pid = read_pid(hosts.host_dir("bak1") / "pid")
    from devtools.lab.system import cgroup_pids
    for victim in [pid, *cgroup_pids("bak1")]:
        try:
            os.kill(victim, signal.SIGKILL)
        except ProcessLookupError:
            pass
    deadline = time.monotonic() + 10
    while hosts.is_running("bak1") and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not hosts.is_running("bak1")
    status = json.loads(lab("--json", "status").stdout.strip().splitlines()[-1])
    assert status["bak1"]["running"] is False and status["bak1"]["mounted"] is True
    proc = lab("up", "--hosts", "bak1")
    assert "cleaned leftovers" in proc.stdout
    assert infra("bak1").check_output("hostname") == "bak1"


@pytest.mark.lab_teardown
def test_down_leaves_nothing_behind(lab_up, lab):
    """Runs after every other lab test (tests/lab/conftest.py orders it last): stop the lab and check. A cgroup of
    a host the lab keeps no state of (its state directory gone first) goes too."""
    for path in cgroup_dirs("ghost9"):
        path.mkdir(parents=True)
    lab("down")
    assert not [p for p in cgroup_dirs("ghost9") if p.exists()]
    with open("/proc/self/mounts", encoding="utf-8") as fh:
        assert not [line for line in fh if str(config.STATE_DIR) in line or "/tmp-" in line and "baseline-lab" in line]
    assert not Path(f"/sys/class/net/{config.BRIDGE}").exists()
    assert not [p for p in Path("/sys/class/net").iterdir() if p.name.startswith(("vb-", "vt-"))]
    for name in ALL:
        assert not any(p.exists() for p in cgroup_dirs(name))
        assert not hosts.is_running(name)
    assert not list((config.STATE_DIR / "hosts").glob("*")) if (config.STATE_DIR / "hosts").exists() else True
    assert not (config.INVENTORY_DIR / "hosts.yml").exists()
