"""The device simulator on free loopback ports, with a throw-away inventory and vault made at test time."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from baseline import REPO_ROOT
from baseline.netdev import devices as devices_mod
from baseline.netdev import lab_secrets
from baseline.netdev.simulator import Simulator, from_inventory, seed_text
from baseline.netdev.simulator.model import Config

VENV_BIN = Path(os.environ.get("VIRTUAL_ENV", REPO_ROOT / ".venv")) / "bin"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def make_inventory(root: Path, vault_password: str, overrides: dict | None = None,
                   secrets_override: dict | None = None) -> Path:
    """Copy of the lab's device inventory on free ports, the shared group_vars, and a vault file of fresh secrets."""
    inv = root / "inventory"
    (inv / "group_vars" / "all").mkdir(parents=True)
    data = yaml.safe_load((REPO_ROOT / "inventory/lab/devices.yml").read_text(encoding="utf-8"))
    for group in data["network_devices"]["children"].values():
        for host in group["hosts"].values():
            host["ansible_port"] = free_port()
    (inv / "devices.yml").write_text(yaml.safe_dump(data), encoding="utf-8")
    values: dict = {}
    for path in sorted((REPO_ROOT / "inventory/group_vars/all").glob("*.yml")):
        shutil.copy(path, inv / "group_vars/all" / path.name)
        values.update(yaml.safe_load(path.read_text(encoding="utf-8")) or {})
    local = {"netdev_backup_dir": str(root / "backups"), **(overrides or {})}
    (inv / "group_vars/all/zz-test.yml").write_text(yaml.safe_dump(local), encoding="utf-8")
    secrets = {**lab_secrets(values), **(secrets_override or {})}
    vault = inv / "group_vars/all/vault.yml"
    vault.write_text(yaml.safe_dump(secrets), encoding="utf-8")
    env = {**os.environ, "BASELINE_VAULT_PASSWORD": vault_password, "ANSIBLE_CONFIG": str(REPO_ROOT / "ansible.cfg")}
    subprocess.run([str(VENV_BIN / "ansible-vault"), "encrypt", str(vault)], check=True, capture_output=True,
                   env=env, cwd=REPO_ROOT)
    return inv


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
