"""device_management_networks (NW-05): the networks network devices send syslog from, the only sources the log
server's firewall takes the device syslog port from. Checked by the pre-flight like the other network lists, and
refused empty while the inventory has network devices."""

from __future__ import annotations

import pytest
import yaml
from preflight_inventory import guarded, inventory, output, refusals, run, valid_host_vars

from baseline import REPO_ROOT, platform

DEVICES = {"network_devices": ["sw-core-01", "rt-border-02"]}


def _values(**changes):
    values = {}
    for name in ("platform.yml", "linux.yml", "network.yml"):
        values.update(yaml.safe_load((REPO_ROOT / "inventory/group_vars/all" / name).read_text(encoding="utf-8")))
    values.update(changes)
    return values


def _problems(value, groups=DEVICES):
    return platform.check_host(_values(device_management_networks=value), groups, "log1")


def test_the_repository_value_passes():
    assert _problems(_values()["device_management_networks"]) == []


@pytest.mark.parametrize(("entry", "reason"), [
    ("10.231.0.1/33", "the prefix length 33 is not a whole number from 0 to 32"),
    ("10.231.0.1/24", "host bits are set (the network is 10.231.0.0/24)"),
    ("10.231.0.300", "10.231.0.300 is not an IPv4 address"),
    ("fd00::/64", "it is an IPv6 network"),
])
def test_a_malformed_entry_is_refused_naming_host_variable_entry_and_reason(entry, reason):
    (message,) = _problems(["10.231.0.0/24", entry])
    assert message.startswith(f"log1: device_management_networks[1] = {entry!r} is not a valid IPv4 network")
    assert reason in message


def test_text_instead_of_a_list_is_refused():
    (message,) = _problems("10.231.0.1/32")
    assert "device_management_networks = '10.231.0.1/32' is text, not a list" in message


def test_a_network_admitting_every_address_is_refused():
    (message,) = _problems(["0.0.0.0/0"])
    assert message.startswith("log1: device_management_networks[0] = '0.0.0.0/0' admits every address")
    assert "NW-05" in message


def test_empty_is_refused_while_network_devices_exist_and_names_them():
    (message,) = _problems([])
    assert message.startswith("log1: device_management_networks is empty while the inventory has network devices "
                              "(sw-core-01, rt-border-02)")


def test_empty_is_accepted_without_network_devices():
    assert _problems([], groups={"network_devices": []}) == []
    assert _problems([], groups={}) == []


def test_the_pre_flight_stops_the_run_before_contact_also_in_check_mode(tmp_path):
    """Through the action plugin: a valid inventory with one device, the list given empty on the command line."""
    device = {"sw-x": {"ansible_host": "127.0.0.1", "ansible_port": 9, "netdev_controller_address": "10.231.0.1"}}
    inv, marker = inventory(tmp_path, valid_host_vars(), groups=("linux_servers", "log_servers"),
                            others={"network_devices": device})
    for extra in ((), ("--check",)):
        proc = run(inv, guarded(tmp_path), "--limit", "ghost", "-e", '{"device_management_networks": []}', *extra)
        assert proc.returncode == 2, output(proc)[-2000:]
        assert ("ghost: device_management_networks is empty while the inventory has network devices (sw-x)"
                in "\n".join(refusals(proc))), output(proc)[-2000:]
    assert not marker.exists(), "a host was contacted although the platform check failed"
    # the committed value: the pre-flight passes and the run goes on to contact the host (unreachable: status 4)
    passed = run(inv, guarded(tmp_path), "--limit", "ghost", "--check")
    assert passed.returncode == 4 and "Platform values refused" not in output(passed), output(passed)[-2000:]
    assert marker.exists()
