"""Stateful SSH simulator of Huawei VRP, H3C Comware and Cisco IOS devices (the lab's network devices).

    loaded = baseline.netdev.definitions.load("inventory/lab")
    sim = Simulator(from_inventory(loaded, state_dir), state_dir, options_from_inventory(loaded))
    sim.start(); ...; sim.stop()

A device offers telnet, SNMPv1/v2c or another software platform only when its host variables ask for it:
`simulator_telnet_port`, `simulator_snmp_port` (0: any free port), `simulator_platform` (a key of
shell.PLATFORMS, e.g. `vrp5-v100` for VRP V100R006 and its older save dialogue), `simulator_sources` (client address
on loopback -> the address the device sees), `simulator_loghosts` (configured log host -> `127.0.0.1:port` that
receives the device's syslog in its stead).

`scripts/devsim` runs it as a background daemon; tests start it in-process on free loopback ports.
"""

from __future__ import annotations

import ipaddress
import socket
from pathlib import Path

import jinja2

from baseline.netdev.definitions import NetdevError, NetDevice
from baseline.secrets import generate
from devtools.simulator.device import FLAVOURS, Device
from devtools.simulator.server import Options, Simulator

SEEDS = Path(__file__).parent / "seeds"
SEED_FILES = {"huawei": "huawei.cfg.j2", "huawei_vrpv8": "huawei.cfg.j2", "hp_comware": "hp_comware.cfg.j2",
              "cisco_ios": "cisco_ios.cfg.j2"}

__all__ = ["Device", "Options", "Simulator", "from_inventory", "options_from_inventory", "seed_text"]


def seed_text(device: NetDevice) -> str:
    """The non-compliant factory-like configuration a simulated device starts from; it lets the automation in."""
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(SEEDS)), undefined=jinja2.StrictUndefined,
                             trim_blocks=True, lstrip_blocks=True, autoescape=False)  # noqa: S701 - device configuration, not HTML
    return env.get_template(SEED_FILES[device.device_type]).render(
        hostname=device.values.get("netdev_hostname", device.name),
        login_user=device.login_user, login_password=device.login_password(),
        enable_secret=device.enable_secret() or generate(length=16, name="factory enable secret"),
        factory_password=generate(length=16, name="factory password"), community="public")


def local_address_problem(address: str) -> str | None:
    """Why the simulator cannot serve a device at `address` (None when it can): it serves IPv4 addresses of this
    machine only, loopback or, in the lab, the controller's address on the lab network (the bridge must be up)."""
    try:
        parsed = ipaddress.IPv4Address(address)
    except ValueError:
        return "is not an IPv4 address; the simulator serves addresses of this machine only"
    if parsed.is_loopback:
        return None
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind((address, 0))
        except OSError as exc:
            return (f"is not an address of this machine ({exc.strerror}); the simulator serves loopback or the lab "
                    f"network's controller address (`scripts/lab up` brings its bridge up)")
    return None


def from_inventory(devices: list[NetDevice], state_dir: Path | None) -> list[Device]:
    problems = []
    simulated = []
    for device in devices:
        problem = local_address_problem(device.host)
        if problem:
            problems.append(f"{device.name}: ansible_host {device.host} {problem}")
        if device.device_type not in FLAVOURS:
            problems.append(f"{device.name}: the simulator has no {device.device_type} device")
        if not device.login_password():
            problems.append(f"{device.name}: no password for {device.login_user} in vault_netdev_passwords")
        if problems:
            continue
        sim = Device(device.name, device.device_type, device.port, state_dir,
                     source_address=str(device.values.get("netdev_controller_address", "10.231.0.1")),
                     address=device.host)
        sim.load_or_seed(seed_text(device))
        simulated.append(sim)
    if problems:
        raise NetdevError(problems)
    return simulated


def options_from_inventory(devices: list[NetDevice]) -> dict[str, Options]:
    """Per device, what its `simulator_*` host variables ask the simulator to offer besides SSH."""
    found = {}
    for device in devices:
        values = device.values
        telnet, agent = values.get("simulator_telnet_port"), values.get("simulator_snmp_port")
        found[device.name] = Options(platform=values.get("simulator_platform"),
                                     telnet_port=None if telnet is None else int(telnet),
                                     snmp_port=None if agent is None else int(agent),
                                     sources={str(k): str(v) for k, v in (values.get("simulator_sources") or {}).items()},
                                     loghosts={str(k): str(v) for k, v in (values.get("simulator_loghosts") or {}).items()})
    return found
