"""The device simulator on free loopback ports, with a throw-away inventory and vault made at test time."""

from __future__ import annotations

import os
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import paramiko
import pytest

from baseline import REPO_ROOT
from baseline.netdev import devices as devices_mod
from baseline.netdev.drivers import connect
from devtools.simulator import Simulator, from_inventory, seed_text
from devtools.simulator.model import Config
from devtools.simulator.testbed import make_inventory

__all__ = ["Lab", "make_inventory"]

@dataclass
class Lab:
    inventory: Path
    simulator: Simulator
    root: Path

    def devices(self, limit: list[str] | None = None) -> list[devices_mod.NetDevice]:
        return devices_mod.load(self.inventory, limit)

    def device(self, name: str) -> devices_mod.NetDevice:
        return self.devices([name])[0]

    def reset(self, name: str) -> None:
        """Back to the non-compliant seed, running and saved."""
        sim = self.simulator.devices[name]
        with sim.lock:
            sim.running = Config(sim.grammar)
            sim.running.load_text(seed_text(self.device(name)))
            sim.saved = sim.running.render()
        self.simulator.forget_logins(name)

    def configure_by_hand(self, name: str, lines: list[str], *, save: bool = True) -> None:
        """A change made by hand on the device (outside the baseline), as an administrator types it, and saved."""
        device = self.device(name)
        conn = connect(device)
        try:
            conn.send_config_set(lines, exit_config_mode=device.device_type != "huawei_vrpv8")
            if device.device_type == "huawei_vrpv8":
                conn.commit()
            if save:
                conn.save_config()
        finally:
            conn.disconnect()


@pytest.fixture(autouse=True)
def _change_records_of_test_pushes(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Pushes to the throw-away inventories need a change reason (CM-01) and keep their records out of the
    repository's archive."""
    monkeypatch.setenv("BASELINE_CHANGE_REASON", "device test run")
    monkeypatch.setenv("BASELINE_CHANGES_DIR", str(tmp_path_factory.mktemp("changes")))


@pytest.fixture(scope="session")
def vault_env() -> Iterator[str]:
    password = "test-" + os.urandom(12).hex()
    before = os.environ.get("BASELINE_VAULT_PASSWORD")
    os.environ["BASELINE_VAULT_PASSWORD"] = password
    yield password
    if before is None:
        os.environ.pop("BASELINE_VAULT_PASSWORD", None)
    else:
        os.environ["BASELINE_VAULT_PASSWORD"] = before


@pytest.fixture(scope="session")
def lab(tmp_path_factory: pytest.TempPathFactory, vault_env: str) -> Iterator[Lab]:
    root = tmp_path_factory.mktemp("netdev")
    inv = make_inventory(root, vault_env)
    state = root / "state"
    sim = Simulator(from_inventory(devices_mod.load(inv), state), state)
    sim.start()
    yield Lab(inv, sim, root)
    sim.stop()


class Shell:
    """A raw interactive SSH shell on a simulated device, as an engineer types into it."""

    def __init__(self, lab: Lab, name: str):
        device = lab.device(name)
        self.client = paramiko.SSHClient()
        self.client.set_missing_host_key_policy(paramiko.AutoAddPolicy())  # noqa: S507 - throw-away simulator
        self.client.connect(device.host, device.port, device.login_user, device.login_password(),
                            allow_agent=False, look_for_keys=False, timeout=10)
        self.channel = self.client.invoke_shell(width=200)
        self.read_until(r"[>#\]]\s*$")

    def read_until(self, pattern: str, timeout: float = 5) -> str:
        data, end = "", time.monotonic() + timeout
        while time.monotonic() < end:
            if self.channel.recv_ready():
                data += self.channel.recv(65536).decode()
                if re.search(pattern, data):
                    return data
            else:
                time.sleep(0.01)
        raise AssertionError(f"no {pattern!r} in {data!r}")

    def send(self, text: str, until: str = r"[>#\]]\s*$") -> str:
        self.channel.send(text)
        return self.read_until(until).replace("\r\n", "\n")

    def close(self) -> None:
        self.client.close()


@pytest.fixture
def shell(lab: Lab) -> Iterator:
    opened: list[Shell] = []

    def open_shell(name: str) -> Shell:
        lab.reset(name)
        opened.append(Shell(lab, name))
        return opened[-1]

    yield open_shell
    for item in opened:
        item.close()


@pytest.fixture()
def committed_lab_inventory(tmp_path: Path) -> Path:
    """The lab inventory as committed (devices.yml, devsim.yml, group_vars), without what `scripts/lab up` writes
    beside it: a running lab's hosts.yml is encrypted with the lab's own vault password, not the tests' one."""
    source = REPO_ROOT / "inventory" / "lab"
    found = tmp_path / "lab-inventory"
    found.mkdir()
    for name in ("devices.yml", "devsim.yml", "group_vars"):
        (found / name).symlink_to(source / name)
    return found
