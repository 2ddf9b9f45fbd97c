"""Realistic running configurations, one per device kind, as a device's starting state in the simulator.

Each file is a Jinja2 template of a configuration as the device prints it (`display current-configuration`,
`show running-config`), several hundred lines long, with the lines an installed network has and the simulator's
grammar does not model (VLANs, trunks, port security, OSPF, BGP...) and the weaknesses the baseline removes
(telnet, SNMPv2c communities, factory accounts, a second VTY range left open). The automation account is filled
in with its stored secret, so that the client can log in:

    text = realworld_text("hp_comware", "sw-acc-02", "automation", password)
    device.running.load_text(text, "h3c_comware7.cfg.j2")
"""

from __future__ import annotations

from pathlib import Path

import jinja2

from devtools.simulator.device import FLAVOURS
from devtools.simulator.grammar import grammar

REALWORLD = Path(__file__).parent
FILES = {"huawei": "huawei_vrp5.cfg.j2", "huawei_vrpv8": "huawei_vrp8.cfg.j2", "hp_comware": "h3c_comware7.cfg.j2",
         "cisco_ios": "cisco_ios.cfg.j2"}


def realworld_text(device_type: str, hostname: str, login_user: str, login_password: str) -> str:
    """The realistic configuration of `device_type`, for this host name and automation account."""
    vendor = FLAVOURS[device_type][0]
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(REALWORLD)), undefined=jinja2.StrictUndefined,
                             trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True, autoescape=False)  # noqa: S701 - device configuration, not HTML
    return env.get_template(FILES[device_type]).render(
        hostname=hostname, login_user=login_user, login_cipher=grammar(vendor).cipher(login_password, "password"))
