"""NW-05 on IOS: the device's messages carry its host name only with `logging origin-id hostname`, which the Cisco
baseline sets, the simulator takes as IOS does, and the audit requires. The syslog is read by a UDP listener on
127.0.0.1 standing in for the log server (the simulator's map of the configured log host)."""

from __future__ import annotations

import json
import os
import re
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from baseline.netdev import devices as devices_mod
from baseline.netdev.cli import main
from baseline.netdev.drivers import connect
from baseline.netdev.render import render
from devtools.simulator import Simulator, from_inventory
from devtools.simulator.grammar import grammar
from devtools.simulator.model import Config
from devtools.simulator.realworld import FILES, realworld_text
from devtools.simulator.server import Options
from devtools.simulator.testbed import make_inventory

from .conftest import Lab

NAME = "rt-origin-01"
ORIGIN = "logging origin-id hostname"


@dataclass
class Sending:
    lab: Lab
    listener: socket.socket


@pytest.fixture(scope="module")
def sending(tmp_path_factory: pytest.TempPathFactory, vault_env: str) -> Iterator[Sending]:
    """One simulated IOS device whose configured log host (log_server_address) is mapped to a UDP listener."""
    root = tmp_path_factory.mktemp("origin-id")
    host = {"ansible_host": "127.0.0.1", "ansible_port": 0, "host_kind": "simulator",
            "netmiko_device_type": "cisco_ios", "device_role": "core"}
    inv = make_inventory(root, vault_env, devices={"network_devices": {"children": {
        "cisco_devices": {"vars": {"vendor": "cisco_ios"}, "hosts": {NAME: host}}}}})
    listener = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    listener.bind(("127.0.0.1", 0))
    loaded = devices_mod.load(inv)
    loghost = str(loaded[0].values["log_server_address"])
    options = {NAME: Options(loghosts={loghost: f"127.0.0.1:{listener.getsockname()[1]}"})}
    sim = Simulator(from_inventory(loaded, root / "state"), root / "state", options)
    sim.start()
    yield Sending(Lab(inv, sim, root), listener)
    sim.stop()
    listener.close()


def _drain(sock: socket.socket, quiet: float = 0.3) -> list[str]:
    """Every message that arrives until none has come for `quiet` seconds."""
    out = []
    sock.settimeout(quiet)
    while True:
        try:
            out.append(sock.recvfrom(65535)[0].decode())
        except TimeoutError:
            return out


def _login_messages(sending: Sending) -> list[str]:
    """Log in over SSH and out again; the messages the device sent meanwhile (login success at least)."""
    _drain(sending.listener, 0.1)
    conn = connect(sending.lab.device(NAME))
    conn.disconnect()
    messages: list[str] = []
    end = time.monotonic() + 5
    while time.monotonic() < end and not any("LOGIN_SUCCESS" in m for m in messages):
        messages += _drain(sending.listener)
    return messages + _drain(sending.listener)


def _push(lab: Lab) -> int:
    return main(["-q", "-i", str(lab.inventory), "-l", NAME, "push"])


def _audit(lab: Lab, tmp_path: Path) -> dict[str, dict]:
    results = tmp_path / f"audit-{os.urandom(3).hex()}.jsonl"
    main(["-q", "-i", str(lab.inventory), "-l", NAME, "audit", "--results", str(results)])
    records = [json.loads(line) for line in results.read_text(encoding="utf-8").splitlines()]
    return {r["control_ids"][0]: r for r in records}


def _by_hand(lab: Lab, lines: list[str]) -> None:
    """A change made by hand over SSH and saved, as an administrator would."""
    conn = connect(lab.device(NAME))
    try:
        conn.send_config_set(lines)
        conn.save_config()
    finally:
        conn.disconnect()


def test_the_cisco_baseline_names_the_host_in_its_messages_under_nw05(sending):
    rendered = render(sending.lab.device(NAME), with_secrets=False)
    section = rendered.sections["NW-05"].splitlines()
    assert ORIGIN in section
    assert section.index("logging trap informational") < section.index(ORIGIN) < next(
        i for i, line in enumerate(section) if line.startswith("logging host "))


def test_lab_cisco_devices_render_the_origin_line(committed_lab_inventory):
    lab_devices = [d for d in devices_mod.load(committed_lab_inventory) if d.vendor.key == "cisco"]
    assert lab_devices, "the lab inventory has a Cisco device"
    for device in lab_devices:
        assert ORIGIN in render(device, with_secrets=False).sections["NW-05"].splitlines(), device.name


def test_ios_messages_carry_the_host_name_after_a_push_and_the_address_form_without_the_line(sending):
    lab = sending.lab
    lab.reset(NAME)
    hostname = lab.simulator.devices[NAME].hostname
    assert hostname == NAME
    assert _login_messages(sending) == [], "the factory configuration names no log host: nothing is sent"

    assert _push(lab) == 0
    assert ORIGIN in lab.simulator.devices[NAME].running.render().splitlines()
    named = _login_messages(sending)
    login = next(m for m in named if "LOGIN_SUCCESS" in m)
    assert re.match(rf"<189>\d+: {re.escape(hostname)}: \*\w{{3}} [ \d]\d \d\d:\d\d:\d\d\.\d{{3}}: "
                    r"%SEC_LOGIN-5-LOGIN_SUCCESS", login), login
    assert all(m.split(": ", 2)[1] == hostname for m in named), named

    _by_hand(lab, ["no logging origin-id"])
    plain = _login_messages(sending)
    login = next(m for m in plain if "LOGIN_SUCCESS" in m)
    assert re.match(r"<189>\d+: \*\w{3} [ \d]\d \d\d:\d\d:\d\d\.\d{3}: %SEC_LOGIN-5-LOGIN_SUCCESS", login), login
    assert not any(hostname in m for m in plain), plain  # no origin: the log server files it by the sender's address

    assert _push(lab) == 0
    again = _login_messages(sending)
    assert again and all(m.split(": ", 2)[1] == hostname for m in again), again


def test_audit_fails_nw05_without_the_origin_line_and_passes_after_a_push(sending, tmp_path):
    lab = sending.lab
    lab.reset(NAME)
    assert _push(lab) == 0
    assert _audit(lab, tmp_path)["NW-05"]["outcome"] == "pass"

    _by_hand(lab, ["no logging origin-id"])
    assert ORIGIN not in lab.simulator.devices[NAME].running.render()
    records = _audit(lab, tmp_path)
    assert records["NW-05"]["outcome"] == "fail", records["NW-05"]
    assert ORIGIN in records["NW-05"]["reason"], records["NW-05"]["reason"]
    assert {c: records[c]["outcome"] for c in ("NW-01", "NW-02", "NW-03", "NW-04", "NW-06")} == dict.fromkeys(
        ("NW-01", "NW-02", "NW-03", "NW-04", "NW-06"), "pass"), "only NW-05 depends on the line"

    _by_hand(lab, ["logging origin-id ip"])  # another origin is no host name either
    records = _audit(lab, tmp_path)
    assert records["NW-05"]["outcome"] == "fail" and ORIGIN in records["NW-05"]["reason"], records["NW-05"]

    assert _push(lab) == 0
    records = _audit(lab, tmp_path)
    assert records["NW-05"]["outcome"] == "pass", records["NW-05"]
    printout = lab.simulator.devices[NAME].running.render()
    assert "logging origin-id ip" not in printout, "the baseline's origin replaces the other one"
    assert re.search(rf"\nlogging trap informational\n{ORIGIN}\nlogging host \S+\n", printout), printout


def test_ios_takes_origin_id_in_configuration_mode_and_refuses_malformed_variants(shell):
    sh = shell("rt-border-02")
    sh.send("configure terminal\r")
    prompt = sh.send("\r").strip().split("\n")[-1]
    assert prompt == "rt-border-02(config)#"
    out = sh.send("logging origin-id foo\r")
    assert "% Invalid input detected at '^' marker." in out, out
    caret = next(line for line in out.split("\n") if line.strip() == "^")
    assert caret.index("^") == len(prompt) + len("logging origin-id "), out
    assert "% Incomplete command." in sh.send("logging origin-id\r")
    out = sh.send("logging origin-id hostname extra\r")
    caret = next(line for line in out.split("\n") if line.strip() == "^")
    assert caret.index("^") == len(prompt) + len("logging origin-id hostname "), out

    for line in ("logging host 192.0.2.9", "logging origin-id hostname", "logging trap informational"):
        assert "%" not in sh.send(line + "\r"), line
    shown = sh.send("do show running-config | include ^logging\r").split("\n")
    assert [ln for ln in shown if ln.startswith("logging")] == [
        "logging trap informational", ORIGIN, "logging host 192.0.2.9"], shown
    block = sh.send("do show running-config | begin ^logging trap\r").split("\n")
    assert block[1:4] == ["logging trap informational", ORIGIN, "logging host 192.0.2.9"], block

    assert "%" not in sh.send("no logging origin-id\r")
    shown = sh.send("do show running-config | include ^logging\r").split("\n")
    assert [ln for ln in shown if ln.startswith("logging")] == ["logging trap informational", "logging host 192.0.2.9"]


def test_the_origin_line_goes_beside_the_logging_lines_of_a_real_configuration():
    """Typed into the realistic IOS configuration, the line lands between its `logging trap` and `logging host`,
    and the printout (state file) with it loads back to the same text."""
    text = realworld_text("cisco_ios", "sw-x", "automation", "Plain#Passw0rd-x")
    config = Config(grammar("cisco"))
    config.load_text(text, FILES["cisco_ios"])
    config.execute([config.root], ORIGIN)
    lines = config.render().splitlines()
    at = lines.index(ORIGIN)
    assert lines[at - 1:at + 2] == ["logging trap notifications", ORIGIN, "logging host 10.20.8.30"]
    again = Config(grammar("cisco"))
    again.load_text(config.render(keep_sequence=True), "running.cfg")
    assert again.render() == config.render()
    assert not next(node for node in again.root.children if node.text == ORIGIN).opaque, "modeled, not kept as text"
