"""The pyinfra counterpart of playbooks/network.yml (playbooks/pyinfra/network.py) against the device simulator on
loopback: pyinfra runs on @local and only runs `scripts/netdev` on the simulated devices (python.call), so nothing of
this machine changes. The first run backs up and pushes, a second run has no operation, --dry plans without sending,
the play's control IDs are the operations' and the moved data is read by both engines."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from baseline import REPO_ROOT, templates
from baseline.netdev import backup
from baseline.netdev import devices as devices_mod
from baseline.netdev.vendors import config_body
from baseline.operations import changes
from devtools.simulator import Simulator, from_inventory, seed_text
from devtools.simulator.model import Config
from devtools.simulator.testbed import make_inventory

DEPLOY = REPO_ROOT / "playbooks" / "pyinfra" / "network.py"
PLAY = REPO_ROOT / "playbooks" / "network.yml"
PYINFRA = Path(sys.executable).parent / "pyinfra"
PUSH = "NW-01 NW-02 NW-03 NW-04 NW-05 NW-06 NW-07 | Push the device baseline (only missing lines, verified, restored on error)"
ID = re.compile(r"\b[A-Z]{2}-\d{2}\b")


@pytest.fixture(scope="module")
def devices(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, Simulator, str]]:
    """Two simulated devices (Huawei VRP and Cisco IOS) in a throw-away inventory with a fresh vault."""
    password = "test-" + os.urandom(12).hex()
    before = os.environ.get("BASELINE_VAULT_PASSWORD")
    os.environ["BASELINE_VAULT_PASSWORD"] = password
    root = tmp_path_factory.mktemp("pyinfra-network")
    lab = yaml.safe_load((REPO_ROOT / "inventory" / "lab" / "devices.yml").read_text(encoding="utf-8"))
    keep = {"sw-acc-01", "rt-border-02"}
    for group in lab["network_devices"]["children"].values():
        group["hosts"] = {n: h for n, h in group["hosts"].items() if n in keep}
    lab["network_devices"]["children"] = {g: v for g, v in lab["network_devices"]["children"].items() if v["hosts"]}
    inventory = make_inventory(root, password, devices=lab)
    state = root / "state"
    sim = Simulator(from_inventory(devices_mod.load(inventory), state), state)
    sim.start()
    try:
        yield inventory, sim, password
    finally:
        sim.stop()
        if before is None:
            os.environ.pop("BASELINE_VAULT_PASSWORD", None)
        else:
            os.environ["BASELINE_VAULT_PASSWORD"] = before


def pyinfra(inventory: Path, password: str, archive: Path, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in (changes.REASON_ENV, changes.SYSLOG_ENV)}
    env.update({"BASELINE_VAULT_PASSWORD": password, changes.DIR_ENV: str(archive)})
    return subprocess.run([str(PYINFRA), "-y", "@local", str(DEPLOY), "--data", f"baseline_inventory={inventory}",
                           "--data", "change_reason=CR-11: device baseline with pyinfra", *args],
                          capture_output=True, text=True, timeout=600, env=env, cwd=REPO_ROOT, check=False)


def operations(proc: subprocess.CompletedProcess) -> list[str]:
    """Names of the operations pyinfra started (its `--> Starting operation: NAME` lines)."""
    return re.findall(r"--> Starting operation: (.+)", proc.stdout + proc.stderr)


def reset(inventory: Path, sim: Simulator) -> None:
    """Every simulated device back to its non-compliant seed, running and saved."""
    for device in devices_mod.load(inventory):
        state = sim.devices[device.name]
        with state.lock:
            state.running = Config(state.grammar)
            state.running.load_text(seed_text(device))
            state.saved = state.running.render()
        sim.forget_logins(device.name)


def test_first_run_backs_up_and_pushes_a_second_run_changes_nothing(devices, tmp_path):
    inventory, sim, password = devices
    reset(inventory, sim)
    archive = tmp_path / "changes"
    root = Path(devices_mod.load(inventory)[0].values["netdev_backup_dir"])
    names = {"sw-acc-01", "rt-border-02"}

    first = pyinfra(inventory, password, archive)
    assert first.returncode == 0, first.stdout + first.stderr
    assert [op.split(" |")[0] for op in operations(first)] == ["NW-08", "NW-01 NW-02 NW-03 NW-04 NW-05 NW-06 NW-07"]
    assert "sent " in first.stderr and "lines, saved, verified" in first.stderr
    for name in names:
        latest = backup.latest(root, name)
        assert latest is not None and (latest / f"{name}.after.cfg").exists()
        assert config_body(backup.previous_running(latest, name)) == config_body(sim.devices[name].running.render())
    pushed, run = sorted(changes.archive(archive).read(), key=lambda r: r["engine"])
    assert pushed["engine"] == "netdev" and pushed["mode"] == "apply" and run["engine"] == "pyinfra"
    assert pushed["reason"] == run["reason"] == "CR-11: device baseline with pyinfra"
    assert {c["host"] for c in pushed["changes"]} == names
    assert [c["task"].split(" |")[0] for c in run["changes"]] == ["NW-08", "NW-01 NW-02 NW-03 NW-04 NW-05 NW-06 NW-07"]
    assert run["hosts"] == ["localhost"] and run["result"] == "succeeded"

    second = pyinfra(inventory, password, archive)
    assert second.returncode == 0, second.stdout + second.stderr
    assert operations(second) == []
    last = changes.archive(archive).read()[-1]
    assert last["engine"] == "pyinfra" and last["changes"] == [] and last["result"] == "succeeded"

    dry = pyinfra(inventory, password, archive, "--dry")
    assert dry.returncode == 0, dry.stdout + dry.stderr
    assert "would send" not in dry.stderr and "compliant, nothing sent" in dry.stderr
    assert [r["changes"] for r in changes.archive(archive).read()[-2:]] == [[], []]
    assert changes.main(["--dir", str(archive), "verify"]) == 0


def test_dry_runs_netdevs_own_dry_run_sends_nothing_and_predicts_the_real_run(devices, tmp_path):
    inventory, sim, password = devices
    reset(inventory, sim)
    archive = tmp_path / "changes"
    before = {name: state.running.render() for name, state in sim.devices.items()}

    planned = pyinfra(inventory, password, archive, "--dry")
    assert planned.returncode == 0, planned.stdout + planned.stderr
    assert {name: state.running.render() for name, state in sim.devices.items()} == before
    assert re.search(r"sw-acc-01: would send [1-9]", planned.stderr) and "### rt-border-02" in planned.stdout
    netdev, run = sorted(changes.archive(archive).read(), key=lambda r: r["engine"])
    assert netdev["engine"] == "netdev" and netdev["mode"] == "check" and run["mode"] == "check"
    assert {c["host"] for c in netdev["changes"]} == {"sw-acc-01", "rt-border-02"}
    assert all(c["planned"] for c in netdev["changes"] + run["changes"])
    predicted = [c["task"] for c in run["changes"]]

    applied = pyinfra(inventory, password, archive)
    assert applied.returncode == 0, applied.stdout + applied.stderr
    assert [op.strip() for op in operations(applied)] == predicted == [PUSH]


def test_a_device_that_cannot_be_read_gets_the_operations_and_fails_the_run_as_ansibles_would(devices, tmp_path):
    """A device unreachable while preparing: its state is unknown, so the backup and the push run; the backup fails
    on it, the run stops there (as the play's failed task does) and the change record says failed."""
    import shutil

    from devtools.simulator.testbed import free_port

    inventory, _sim, password = devices
    copy = tmp_path / "inventory"
    shutil.copytree(inventory, copy)
    data = yaml.safe_load((copy / "devices.yml").read_text(encoding="utf-8"))
    for group in data["network_devices"]["children"].values():
        if "rt-border-02" in group["hosts"]:
            group["hosts"]["rt-border-02"]["ansible_port"] = free_port()  # nothing listens there
    (copy / "devices.yml").write_text(yaml.safe_dump(data), encoding="utf-8")
    archive = tmp_path / "changes"
    proc = pyinfra(copy, password, archive)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "could not be read while preparing" in proc.stderr and "rt-border-02" in proc.stderr
    assert [op.split(" |")[0] for op in operations(proc)] == ["NW-08"]
    run = changes.archive(archive).read()[-1]
    assert run["engine"] == "pyinfra" and run["result"] == "failed"
    assert [p["task"].split(" |")[0] for p in run["problems"]] == ["NW-08"]


def test_weak_device_secrets_refuse_the_run_before_any_device_is_contacted(tmp_path):
    password = "test-" + os.urandom(12).hex()
    inventory = make_inventory(tmp_path, password, secrets_override={"vault_netdev_enable_secret": "short"})
    proc = pyinfra(inventory, password, tmp_path / "changes")
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "refused before contacting any device" in proc.stderr and "vault_netdev_enable_secret" in proc.stderr
    assert "short" not in proc.stdout + proc.stderr and operations(proc) == []


def test_every_control_id_of_the_play_names_an_operation_of_a_fresh_controller(devices, tmp_path):
    """--dry with the scheduled backup on (never executed: nothing of this machine changes): the planned operations
    carry every control ID the play's tasks are tagged with, in the play's order."""
    inventory, sim, password = devices
    reset(inventory, sim)
    units = [Path("/etc/systemd/system") / u for u in ("baseline-netdev-backup.service", "baseline-netdev-backup.timer")]
    present = [u.exists() for u in units]
    archive = tmp_path / "changes"
    proc = pyinfra(inventory, password, archive, "--dry", "--data", "netdev_backup_schedule_enabled=true")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert [u.exists() for u in units] == present
    run = next(r for r in changes.archive(archive).read() if r["engine"] == "pyinfra")
    tasks = [c["task"] for c in run["changes"]]
    play = yaml.safe_load(PLAY.read_text(encoding="utf-8"))[0]
    tagged = {t for task in play["tasks"] for t in task.get("tags", []) if ID.fullmatch(t)}
    assert tagged == {f"NW-0{i}" for i in range(1, 9)}
    assert tagged <= {i for task in tasks for i in ID.findall(task.split(" | ")[0])}, tasks
    assert tasks[-1] == PUSH and any("Schedule the offline backup" in t for t in tasks)
    names = {t["name"] for t in play["tasks"]}
    assert PUSH in names and "Schedule the offline backup" in " ".join(names)
    # `baseline catalog trace` finds the deploy's controls in its source, line by line
    from baseline.cli import _pyinfra_places

    places = _pyinfra_places()
    assert all(any(p.startswith("playbooks/pyinfra/network.py:") for p in places.get(c, ())) for c in tagged), tagged


def test_the_backup_units_render_as_ansible_renders_them():
    """The deploy renders the play's unit templates with the play's values: the same bytes as Ansible's template."""
    from ansible.template import trust_as_template

    play = yaml.safe_load(PLAY.read_text(encoding="utf-8"))[0]
    values = {**yaml.safe_load((REPO_ROOT / "inventory/group_vars/all/policy.yml").read_text(encoding="utf-8")),
              **{k: trust_as_template(v) if isinstance(v, str) else v for k, v in play["vars"].items()},
              "playbook_dir": str(PLAY.parent), "ansible_inventory_sources": [str(REPO_ROOT / "inventory" / "lab")]}
    values = templates.resolve(values)
    assert values["netdev_command"] == str(REPO_ROOT / "scripts" / "netdev")
    assert values["netdev_backup_calendar"].startswith("*-*-01/")
    for unit in values["netdev_backup_unit_names"]:
        path = PLAY.parent / "templates" / f"{unit}.j2"
        ours = templates.render(path, values)
        assert ours == templates.render_with_ansible(path, values)
        assert str(REPO_ROOT / "inventory" / "lab") in ours or "OnCalendar=*-*-01/" in ours


def test_the_moved_data_is_read_by_both_engines():
    """The unit list and the old cron path are play vars; the play's tasks and the deploy both read them."""
    play = yaml.safe_load(PLAY.read_text(encoding="utf-8"))[0]
    assert play["vars"]["netdev_backup_unit_names"] == ["baseline-netdev-backup.service", "baseline-netdev-backup.timer"]
    tasks = {t["name"].split(" | ")[1][:20]: t for t in play["tasks"]}
    loops = [t.get("loop") for t in tasks.values() if t.get("loop")]
    assert loops == ["{{ netdev_backup_unit_names }}"]
    assert any(t.get("ansible.builtin.file", {}).get("path") == "{{ netdev_backup_old_cron }}" for t in play["tasks"])
    source = DEPLOY.read_text(encoding="utf-8")
    assert 'values["netdev_backup_unit_names"]' in source and 'values["netdev_backup_old_cron"]' in source
    assert "baseline-netdev-backup" not in source
