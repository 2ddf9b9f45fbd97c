"""NW-05 on the simulator's side: a simulated device sends its syslog to the address its configured log host is mapped
to (`simulator_loghosts`), with its host name in the message, never to a log host without a mapping, and a log host
that is not there never holds it up. The lab's inventory maps the configured log host to the log server itself."""

from __future__ import annotations

import socket
import time
from pathlib import Path

import pytest
import yaml

from baseline import REPO_ROOT
from baseline.netdev import definitions
from devtools.simulator import Device, options_from_inventory
from devtools.simulator.syslog import Syslog

GROUP_VARS = REPO_ROOT / "inventory" / "group_vars" / "all"
CONFIGS = {
    "huawei_vrpv8": "sysname {name}\ninfo-center enable\ninfo-center loghost {loghost}\n",
    "hp_comware": "sysname {name}\ninfo-center enable\ninfo-center loghost {loghost}\n",
    "cisco_ios": "hostname {name}\nlogging trap informational\nlogging host {loghost}\n",
}


def _group_vars(name: str) -> dict:
    return yaml.safe_load((GROUP_VARS / name).read_text(encoding="utf-8"))


@pytest.fixture()
def listener():
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.settimeout(2)
    yield sock
    sock.close()


def _device(device_type: str, name: str, loghost: str, extra: str = "") -> Device:
    """A device whose running configuration is read as a printout (lines the grammar does not model are kept)."""
    device = Device(name, device_type, 0, None)
    device.running.load_text(CONFIGS[device_type].format(name=name, loghost=loghost) + extra, "test configuration",
                             typed=False)
    return device


def _received(sock: socket.socket) -> str:
    return sock.recvfrom(65535)[0].decode()


def test_lab_devices_send_to_the_log_server_on_the_device_syslog_port(committed_lab_inventory):
    """Every lab device maps its configured log host (log_server_address, what the baselines write) to the log
    server's address and netdev_syslog_port, the port the log server's device input and firewall rule take."""
    platform, network = _group_vars("platform.yml"), _group_vars("network.yml")
    devices = definitions.load(str(committed_lab_inventory))
    assert devices, "the lab inventory has no network devices"
    options = options_from_inventory(devices)
    wanted = {platform["log_server_address"]: f"{platform['log_server_address']}:{network['netdev_syslog_port']}"}
    assert {name: option.loghosts for name, option in options.items()} == {d.name: wanted for d in devices}


def test_throw_away_test_inventories_send_nowhere(tmp_path, vault_env):
    """The simulator's test inventories (devtools/simulator/testbed.py) copy devices.yml, not devsim.yml: the lab's
    map to log1 does not reach simulators started by the tests."""
    from devtools.simulator.testbed import make_inventory

    inv = make_inventory(tmp_path, vault_env)
    devices = definitions.load(str(inv))
    assert devices and all(option.loghosts == {} for option in options_from_inventory(devices).values())


def test_lab_device_management_network_holds_the_controller_the_simulators_send_from():
    import ipaddress

    from devtools.lab import config

    nets = [ipaddress.ip_network(n) for n in _group_vars("linux.yml")["device_management_networks"]]
    assert any(ipaddress.ip_address(config.CONTROLLER_ADDRESS) in net for net in nets)
    assert all(net.prefixlen > 0 for net in nets)


@pytest.mark.parametrize(("device_type", "layout"), [
    ("huawei_vrpv8", r"<189>\w{3} \d\d \d{4} \d\d:\d\d:\d\d sw-core-09 %%01SSH/5/SSH_USER_LOGIN_FAIL\(l\)\[1\]:The SSH "
                     r"user failed to login\. \(ServiceType=stelnet, FailedReason=wrong password, UserName=bob, "
                     r"IPAddress=10\.231\.0\.1, VpnInstanceName=_public_\)"),
    ("hp_comware", r"<190>\w{3} [ \d]\d \d\d:\d\d:\d\d \d{4} sw-core-09 %%10SSHS/6/SSHS_AUTH_FAIL: SSH user bob "
                   r"\(IP: 10\.231\.0\.1\) failed to log in: wrong password\."),
])
def test_failed_login_reaches_the_mapped_address_in_the_vendor_layout_with_the_host_name(listener, device_type,
                                                                                          layout):
    import re

    device = _device(device_type, "sw-core-09", "192.0.2.50")
    syslog = Syslog(device, {"192.0.2.50": f"127.0.0.1:{listener.getsockname()[1]}"})
    try:
        syslog.emit("failed", user="bob", address="10.231.0.1", reason="wrong password")
        message = _received(listener)
    finally:
        syslog.close()
    assert re.fullmatch(layout, message), message


def test_ios_names_itself_only_with_origin_id_hostname(listener):
    """As the real IOS: the host name after the sequence number only with `logging origin-id hostname` (here read
    from a printout; tests/netdev/test_ios_origin_id.py types and pushes it)."""
    target = {"192.0.2.50": f"127.0.0.1:{listener.getsockname()[1]}"}
    plain = Syslog(_device("cisco_ios", "rt-border-09", "192.0.2.50"), target)
    named = Syslog(_device("cisco_ios", "rt-border-09", "192.0.2.50", "logging origin-id hostname\n"), target)
    try:
        plain.emit("failed", user="bob", address="10.231.0.1", reason="Login Authentication Failed")
        without = _received(listener)
        named.emit("failed", user="bob", address="10.231.0.1", reason="Login Authentication Failed")
        with_name = _received(listener)
    finally:
        plain.close()
        named.close()
    assert without.startswith("<188>1: *") and "rt-border-09" not in without
    assert with_name.startswith("<188>1: rt-border-09: *"), with_name
    assert "%SEC_LOGIN-4-LOGIN_FAILED: Login failed [user: bob] [Source: 10.231.0.1]" in with_name


def test_a_log_host_without_a_mapping_gets_nothing(listener):
    """The device names 192.0.2.51, the map knows only 192.0.2.50: nothing is sent, to the listener or elsewhere."""
    device = _device("huawei_vrpv8", "sw-acc-09", "192.0.2.51")
    syslog = Syslog(device, {"192.0.2.50": f"127.0.0.1:{listener.getsockname()[1]}"})
    listener.settimeout(0.5)
    try:
        syslog.emit("failed", user="bob", address="10.231.0.1", reason="wrong password")
        with pytest.raises(TimeoutError):
            _received(listener)
    finally:
        syslog.close()
    assert Syslog(device, {}).sock is None  # no map at all: not even a socket


def test_an_absent_log_server_neither_raises_nor_blocks():
    """A closed loopback port (ICMP port unreachable) and an address nothing answers for: each send returns at once."""
    closed = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    closed.bind(("127.0.0.1", 0))
    port = closed.getsockname()[1]
    closed.close()
    device = _device("hp_comware", "sw-acc-09", "192.0.2.50", "info-center loghost 192.0.2.52\n")
    syslog = Syslog(device, {"192.0.2.50": f"127.0.0.1:{port}", "192.0.2.52": "192.0.2.52:514"})
    try:
        started = time.monotonic()
        for _ in range(50):
            syslog.emit("command", user="bob", address="10.231.0.1", command="display version")
        assert time.monotonic() - started < 1.0
    finally:
        syslog.close()


def test_the_device_syslog_port_is_one_inventory_value_for_devices_firewall_and_log_server():
    inbound = {s["name"]: s for s in _group_vars("linux.yml")["server_inbound_services"]}
    for name, proto in (("syslog-devices", "udp"), ("syslog-devices-tcp", "tcp")):
        daemon = {"daemon": "rsyslogd"} if proto == "tcp" else {}  # TCP 514 is rsh's port: IP-01 checks its owner
        assert inbound[name] == {"name": name, "port": "{{ netdev_syslog_port }}", "proto": proto,
                                 "groups": ["log_servers"], "sources": "{{ device_management_networks }}", **daemon}
    conf = Path(REPO_ROOT / "roles/logserver/templates/rsyslog-server.conf.j2").read_text(encoding="utf-8")
    assert conf.count('port="{{ netdev_syslog_port }}" ruleset="baselineDevices"') == 2
