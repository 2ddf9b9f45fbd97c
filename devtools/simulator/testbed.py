"""Throw-away inventories for the simulator (tests, benchmark): devices on free loopback ports, the shared
group_vars, and a vault file of fresh compliant secrets, encrypted with the given vault password."""

from __future__ import annotations

import os
import random
import shutil
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

from baseline import REPO_ROOT
from baseline.secrets import generate_values

LAB_DEVICES = REPO_ROOT / "inventory" / "lab" / "devices.yml"


# Ports handed out by free_port in this process (a test may ask for several before it binds any).
_HANDED_OUT: set[int] = set()


def _ephemeral_low(default: int = 32768) -> int:
    try:
        return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return default


def free_port() -> int:
    """A loopback TCP port that is free now, below the kernel's ephemeral range: between this call and the bind
    that follows it, no outgoing connection (the lab's SSH sessions make many while these tests run beside the
    lab) can take it as its source port, as it could take a port the kernel picked with bind(0)."""
    low, high = 20000, min(_ephemeral_low(), 32768)
    for _ in range(500):
        port = random.randrange(low, high)  # noqa: S311 - a port number, not a secret
        if port in _HANDED_OUT:
            continue
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
        _HANDED_OUT.add(port)
        return port
    raise RuntimeError(f"no free loopback port in {low}-{high - 1}")


def many_devices(count: int) -> dict[str, Any]:
    """An inventory document with `count` devices, vendors and roles in turn."""
    kinds = [("huawei_devices", "huawei_vrp", "huawei", "access"), ("h3c_devices", "h3c_comware", "hp_comware", "access"),
             ("cisco_devices", "cisco_ios", "cisco_ios", "core"), ("huawei_devices", "huawei_vrp", "huawei_vrpv8", "core")]
    children: dict[str, Any] = {}
    for index in range(count):
        group, vendor, device_type, role = kinds[index % len(kinds)]
        hosts = children.setdefault(group, {"vars": {"vendor": vendor}, "hosts": {}})["hosts"]
        hosts[f"dev-{index + 1:03d}"] = {"ansible_host": "127.0.0.1", "ansible_port": 0, "host_kind": "simulator",
                                         "netmiko_device_type": device_type, "device_role": role}
    return {"network_devices": {"children": children}}


def make_inventory(root: Path, vault_password: str, *, devices: dict[str, Any] | None = None,
                   overrides: dict[str, Any] | None = None, secrets_override: dict[str, Any] | None = None) -> Path:
    inv = root / "inventory"
    (inv / "group_vars" / "all").mkdir(parents=True)
    data = devices or yaml.safe_load(LAB_DEVICES.read_text(encoding="utf-8"))
    for group in data["network_devices"]["children"].values():
        for host in group["hosts"].values():
            host["ansible_host"] = "127.0.0.1"  # the lab's devices are on its bridge; throw-away ones on loopback
            host["ansible_port"] = free_port()
    (inv / "devices.yml").write_text(yaml.safe_dump(data), encoding="utf-8")
    values: dict[str, Any] = {}
    for path in sorted((REPO_ROOT / "inventory/group_vars/all").glob("*.yml")):
        shutil.copy(path, inv / "group_vars/all" / path.name)
        values.update(yaml.safe_load(path.read_text(encoding="utf-8")) or {})
    local = {"netdev_backup_dir": str(root / "backups"), **(overrides or {})}
    (inv / "group_vars/all/zz-local.yml").write_text(yaml.safe_dump(local), encoding="utf-8")
    vault = inv / "group_vars/all/vault.yml"
    vault.write_text(yaml.safe_dump({**generate_values(values, "devices"), **(secrets_override or {})}), encoding="utf-8")
    env = {**os.environ, "BASELINE_VAULT_PASSWORD": vault_password, "ANSIBLE_CONFIG": str(REPO_ROOT / "ansible.cfg")}
    subprocess.run([str(Path(sys.executable).parent / "ansible-vault"), "encrypt", str(vault)], check=True,
                   capture_output=True, env=env, cwd=REPO_ROOT)
    return inv
