"""scrapli as a second client of the simulator, beside netmiko: open, show, configure a line, save — on every device
kind (VRP5, VRPv8, Comware 7, IOS) with the drivers an engineer would pick (scrapli_community's `huawei_vrp` and
`hp_comware`, scrapli's `cisco_iosxe`). scrapli sends a command, waits for the device to echo it key by key and only
then sends Enter, so a simulator that echoes a line only after Enter times out here."""

from __future__ import annotations

import re

import pytest
from scrapli import Scrapli

from baseline.netdev.devices import NetDevice

from .conftest import Lab

# device -> (scrapli platform, show command, configuration line, what the line looks like in the configuration)
KINDS = {
    "sw-acc-01": ("huawei_vrp", "display version", "info-center loghost 192.0.2.77", "info-center loghost 192.0.2.77"),
    "sw-core-01": ("huawei_vrp", "display version", "info-center loghost 192.0.2.77", "info-center loghost 192.0.2.77"),
    "sw-acc-02": ("hp_comware", "display version", "info-center loghost 192.0.2.77", "info-center loghost 192.0.2.77"),
    "rt-border-02": ("cisco_iosxe", "show version", "logging host 192.0.2.77", "logging host 192.0.2.77"),
}
SHOWN = {"huawei_vrp": "VRP (R) software", "hp_comware": "Comware Software", "cisco_iosxe": "Cisco IOS Software"}


def _scrapli(device: NetDevice, platform: str, transport: str) -> Scrapli:
    return Scrapli(host=device.host, port=device.port, auth_username=device.login_user,
                   auth_password=device.login_password(), auth_secondary=device.enable_secret(),
                   auth_strict_key=False, platform=platform, transport=transport,
                   timeout_socket=10, timeout_transport=10, timeout_ops=10)


def _save(conn: Scrapli, device: NetDevice) -> str:
    prompt = conn.get_prompt()
    if device.vendor.key == "huawei":
        return conn.send_interactive([("save", "[Y/N]:", False), ("Y", prompt, False)]).result
    if device.vendor.key == "h3c":
        return conn.send_interactive([("save", "[Y/N]:", False), ("Y", "press the enter key):", False),
                                      ("", "overwrite? [Y/N]:", False), ("Y", prompt, False)]).result
    return conn.send_command("write memory").result


@pytest.mark.parametrize("transport", ["paramiko", "system"])
@pytest.mark.parametrize("name", list(KINDS))
def test_scrapli_opens_shows_configures_and_saves(lab: Lab, name: str, transport: str):
    lab.reset(name)
    device = lab.device(name)
    platform, show, line, printed = KINDS[name]
    with _scrapli(device, platform, transport) as conn:
        prompt = conn.get_prompt()
        assert prompt.strip("<>#") == name, prompt
        assert SHOWN[platform] in conn.send_command(show).result
        configs = [line, "commit"] if device.device_type == "huawei_vrpv8" else [line]
        response = conn.send_configs(configs, stop_on_failed=True)
        assert not response.failed, response.result
        running = conn.send_command(device.vendor.show_running).result
        assert printed in running
        assert printed not in conn.send_command(device.vendor.show_saved).result, "not saved yet"
        output = _save(conn, device)
        assert "Error" not in output and "%" not in output, output
        assert printed in conn.send_command(device.vendor.show_saved).result
        wrong = conn.send_command("frobnicate the switch")
        assert wrong.failed, "scrapli recognises the vendor's error text"


# device -> (configuration line the device refuses, scrapli flags it as failed)
REFUSED = {
    "sw-acc-01": ("http s", True),  # http server / http secure-server: Error: Ambiguous command found at '^' position.
    "sw-core-01": ("user-password min-len 99", True),  # out of range: Error: Wrong parameter found at '^' position.
    "sw-acc-02": ("l", False),  # line / local-user: " % Ambiguous command …", not among scrapli's Comware failures
    "rt-border-02": ("ip http s", True),  # % Ambiguous command:  "ip http s"
}


@pytest.mark.parametrize("name", list(KINDS))
def test_scrapli_reads_the_vendors_refusal_of_an_ambiguous_or_out_of_range_line(lab: Lab, name: str):
    lab.reset(name)
    device = lab.device(name)
    platform = KINDS[name][0]
    line, flagged = REFUSED[name]
    with _scrapli(device, platform, "paramiko") as conn:
        response = conn.send_configs([line])
        assert response.failed is flagged, response.result
        assert re.search(r"Ambiguous|Wrong parameter", response.result), response.result
