"""Realistic configurations (devtools/simulator/realworld/): the simulator starts from them and prints them back byte for
byte, lines its grammar does not model included; audit -> push -> audit on them changes only the baseline's areas,
and every VTY range the device has is audited and pushed."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from baseline.netdev import configdiff
from baseline.netdev import devices as devices_mod
from baseline.netdev.cli import main
from baseline.netdev.render import render
from baseline.netdev.vendors import Vendor, config_body
from devtools.simulator import Simulator, from_inventory
from devtools.simulator.device import FLAVOURS
from devtools.simulator.grammar import grammar
from devtools.simulator.model import Config, LoadError
from devtools.simulator.realworld import FILES, realworld_text
from devtools.simulator.testbed import make_inventory

GENERATED = re.compile(r"^(Building configuration|Current configuration|!Software Version|!Last configuration|\s*$)")
KINDS = {  # device name -> (netmiko device type, group, vendor, role)
    "rw-vrp5": ("huawei", "huawei_devices", "huawei_vrp", "access"),
    "rw-vrp8": ("huawei_vrpv8", "huawei_devices", "huawei_vrp", "core"),
    "rw-comware": ("hp_comware", "h3c_devices", "h3c_comware", "access"),
    "rw-ios": ("cisco_ios", "cisco_devices", "cisco_ios", "border"),
}
SECOND_VTY = {"rw-vrp5": "user-interface vty 16 20", "rw-vrp8": "user-interface vty 16 20",
              "rw-comware": "line vty 16 63", "rw-ios": "line vty 5 15"}

CHARACTERISTIC = {  # lines the simulator does not model, of each configuration, that the push must keep
    "rw-vrp5": ("vlan batch 10 20 30 99 100", "port-security max-mac-num 2", "ospf 10 router-id 10.250.255.41 > area "
                "0.0.0.0 > network 10.250.1.0 0.0.0.3", "port trunk allow-pass vlan 10 20 30 99 to 100"),
    "rw-vrp8": ("bgp 65010 > ipv4-family unicast > peer 203.0.113.1 enable", "vlan 200 > name credit-app",
                "interface Eth-Trunk1 > mode lacp-static", "ospf 1 router-id 10.250.255.1"),
    "rw-comware": ("bgp 65010 > address-family ipv4 unicast > peer 172.16.30.1 enable", "vlan 10 > name office-users",
                   "port-security max-mac-count 2", "ospf 10 router-id 10.250.255.42 > area 0.0.0.0",
                   "line class vty > user-role network-operator"),
    "rw-ios": ("router bgp 65010 > address-family ipv4 > neighbor 198.51.100.1 activate", "vlan 10 > name office-users",
               "switchport port-security maximum 2", "router ospf 10 > passive-interface default",
               "switchport trunk allowed vlan 10,20,30,99,100"),
}


def _body(text: str) -> list[str]:
    """A printout without the lines the simulator writes itself (software version, byte count)."""
    return [line for line in text.splitlines() if not GENERATED.match(line)]


def _config(device_type: str) -> Config:
    return Config(grammar(FLAVOURS[device_type][0]))


@pytest.mark.parametrize("device_type", sorted(FILES))
def test_realistic_configuration_is_printed_back_byte_for_byte(device_type):
    text = realworld_text(device_type, "sw-x", "automation", "Plain#Passw0rd-x")
    assert len(text.splitlines()) >= 400, "several hundred lines, like a real device"
    config = _config(device_type)
    config.load_text(text, FILES[device_type])
    opaque = [node for _, node in config.lines() if node.opaque]
    assert len(opaque) >= 100, "most of an installed device's lines are not modeled by the simulator"
    assert _body(config.render()) == _body(text)
    if device_type == "cisco_ios":  # IOS pads `deny` to the width of `permit`; the simulator prints it so too
        assert " deny   ip any any log" in config.render().splitlines()
    again = _config(device_type)  # the state file (ACL sequence numbers kept) loads back to the same printout
    again.load_text(config.render(keep_sequence=True), "running.cfg")
    assert again.render() == config.render()


@pytest.mark.parametrize(("device_type", "text", "number", "problem"), [
    ("huawei", "#\nsysname a\n#\nuser-interface vty 0 99\n authentication-mode aaa\n#\nreturn\n", 4,
     "a value the command does not accept"),
    ("cisco_ios", "!\nhostname a\n!\nrouter ospf 1\n   network 10.0.0.0 0.0.0.255 area 0\n!\nend\n", 5,
     "indented 2 level(s) deeper"),
    ("hp_comware", "#\n sysname a\n#\nvlan 10\n name users\n#\n ssh server enable\n  foo bar\n#\nreturn\n", 8,
     "indented under 'ssh server enable', which takes no sub-commands"),
    ("huawei_vrpv8", "#\nsysname a\n#\nssh server port\n#\nreturn\n", 4, "an incomplete command"),
])
def test_malformed_configuration_names_the_file_and_the_line(device_type, text, number, problem):
    with pytest.raises(LoadError) as caught:
        _config(device_type).load_text(text, "site/sw-a.cfg")
    message = str(caught.value)
    assert message.startswith(f"site/sw-a.cfg line {number}: {problem}"), message
    assert text.splitlines()[number - 1].strip() in message
    assert message != "unrecognized"


def test_unknown_lines_are_kept_in_their_section_and_typed_lines_go_beside_their_kind():
    config = _config("huawei")
    config.load_text("!Software Version V200R019C10SPC800\n#\nsysname a\n#\nvlan batch 10 20\n#\n"
                     "interface GigabitEthernet0/0/1\n port link-type access\n port-security enable\n"
                     " port default vlan 10\n#\nuser-interface vty 0 4\n protocol inbound all\n#\nreturn\n", "a.cfg")
    path = config.execute([config.root], "interface GigabitEthernet0/0/1")
    config.execute(path, "description users")
    config.execute([config.root], "info-center loghost 192.0.2.1")
    assert config.render().splitlines()[1:] == [
        "#", "sysname a", "#", "info-center loghost 192.0.2.1", "#", "vlan batch 10 20", "#",
        "interface GigabitEthernet0/0/1", " description users", " port link-type access", " port-security enable",
        " port default vlan 10", "#", "user-interface vty 0 4", " protocol inbound all", "#", "return"]


@dataclass
class RealLab:
    inventory: Path
    simulator: Simulator
    root: Path
    before: dict[str, str]


@pytest.fixture(scope="module")
def real(tmp_path_factory: pytest.TempPathFactory, vault_env: str) -> Iterator[RealLab]:
    root = tmp_path_factory.mktemp("realworld")
    children: dict[str, dict] = {}
    for name, (device_type, group, vendor, role) in KINDS.items():
        host = {"ansible_host": "127.0.0.1", "ansible_port": 0, "host_kind": "simulator",
                "netmiko_device_type": device_type, "device_role": role}
        if role == "border":
            host["border_interface"] = "GigabitEthernet1/1"
        children.setdefault(group, {"vars": {"vendor": vendor}, "hosts": {}})["hosts"][name] = host
    inv = make_inventory(root, vault_env, devices={"network_devices": {"children": children}})
    loaded = devices_mod.load(inv)
    sim = Simulator(from_inventory(loaded, root / "state"), root / "state")
    before = {}
    for device in loaded:
        simulated = sim.devices[device.name]
        config = Config(simulated.grammar)
        config.load_text(realworld_text(device.device_type, device.name, device.login_user, device.login_password()),
                         FILES[device.device_type])
        simulated.running = config
        simulated.save()
        before[device.name] = config.render()
    sim.start()
    yield RealLab(inv, sim, root, before)
    sim.stop()


def _key(words: list[str]) -> list[str]:
    """The words that name a setting: leading keywords, not its value (`idle-timeout` of `idle-timeout 5 0`)."""
    key = []
    for word in words[:-1][:3]:
        if not re.fullmatch(r"[a-z][a-z-]*", word):
            break
        key.append(word)
    return key or [*words, "\n"]  # a one-word line (`aaa`, `snmp-agent`) stands for itself only


def _owned(vendor: Vendor, parents: tuple[str, ...], line: str) -> bool:
    for _, parent_re, line_re in vendor.owned:
        if (re.search(parent_re, parents[-1]) if parent_re and parents else not parent_re and not parents) \
                and re.match(line_re, line):
            return True
    return False


def outside_baseline(vendor: Vendor, printout: str, baseline: str) -> list[str]:
    """The printout's lines (with their sections) that are none of the baseline's business: not a setting the
    baseline makes (same keywords in the same section), not in an area the baseline owns, not under an owned line."""
    intended = configdiff.every_vty(vendor, baseline, printout)
    keys: dict[tuple[str, ...], list[list[str]]] = {}
    parents: list[str] = []
    for line in intended.splitlines():
        depth = len(line) - len(line.lstrip(" "))
        parents = parents[:depth]
        words = line.split()
        if words[0] == vendor.negation:
            words = words[1:]
        keys.setdefault(tuple(parents), []).append(_key(words))
        parents.append(line.strip())
    kept = []
    stack: list[tuple[str, bool]] = []  # (line, in the baseline's area)
    for line in config_body(printout).splitlines():
        depth = len(line) - len(line.lstrip(" "))
        stack = stack[:depth]
        where = tuple(text for text, _ in stack)
        words = line.split()
        words = [*(words[1:] if words[0] == vendor.negation else words), "\n"]
        area = any(owned for _, owned in stack) or _owned(vendor, where, line.strip()) or any(
            words[:len(key)] == key for key in keys.get(where, []))
        stack.append((line.strip(), area and (_owned(vendor, where, line.strip()) or any(o for _, o in stack))))
        if not area:
            kept.append(" > ".join((*where, line.strip())))
    return kept


def _records(path: Path) -> dict[str, str]:
    return {r["control_ids"][0]: r["outcome"] for r in map(json.loads, path.read_text(encoding="utf-8").splitlines())}


@pytest.mark.parametrize("name", sorted(KINDS))
def test_audit_push_audit_on_a_realistic_configuration_changes_only_the_baseline_areas(real, name, tmp_path):
    device = devices_mod.load(real.inventory, [name])[0]
    simulated = real.simulator.devices[name]
    before = real.before[name]
    assert simulated.running.render() == before
    first = tmp_path / "first.jsonl"
    assert main(["-q", "-i", str(real.inventory), "-l", name, "audit", "--results", str(first)]) == 1
    outcomes = _records(first)
    for control in ("NW-01", "NW-03", "NW-04", "NW-05", "NW-06", "NW-08"):
        assert outcomes[control] == "fail", (control, outcomes)
    assert outcomes["NW-07"] == ("fail" if device.role == "border" else "not_applicable")

    assert main(["-q", "-i", str(real.inventory), "-l", name, "push"]) == 0
    after = simulated.running.render()
    assert after != before and simulated.saved == after
    baseline = render(device).text
    assert outside_baseline(device.vendor, after, baseline) == outside_baseline(device.vendor, before, baseline)
    kept = outside_baseline(device.vendor, before, baseline)
    assert len(kept) >= 300, "most of the device's configuration is outside the baseline and must be kept"
    for text in CHARACTERISTIC[name]:
        assert any(text in line for line in kept), text

    second = tmp_path / "second.jsonl"
    assert main(["-q", "-i", str(real.inventory), "-l", name, "audit", "--results", str(second)]) == 0
    assert set(_records(second).values()) <= {"pass", "not_applicable"}, _records(second)
    section = after.split(f"\n{SECOND_VTY[name]}\n")[1].split("\n")
    section = section[:next(i for i, line in enumerate(section) if not line.startswith(" "))]
    ssh_only = " transport input ssh" if device.vendor.key == "cisco" else " protocol inbound ssh"
    assert ssh_only in section, f"the second VTY range is kept, and configured: {section}"

    assert main(["-q", "-i", str(real.inventory), "-l", name, "push"]) == 0
    assert simulated.running.render() == after, "a second push changes nothing"


@pytest.mark.parametrize("name", sorted(KINDS))
def test_a_second_vty_range_with_telnet_fails_nw03_and_nw04(real, name, tmp_path):
    """After the push every range is compliant; opening the second range again (telnet, no ACL) fails NW-03 and,
    where the management ACL is applied per range (VRP, IOS), NW-04, naming that range; the next push closes it.
    Comware applies its management ACL to the SSH server as a whole (`ssh server acl`), not per range."""
    assert main(["-q", "-i", str(real.inventory), "-l", name, "push"]) == 0
    simulated = real.simulator.devices[name]
    vendor = simulated.vendor
    config = simulated.running
    with simulated.lock:
        path = config.execute([config.root], SECOND_VTY[name])
        opening = {"huawei": ["protocol inbound all", "undo acl 2000 inbound"], "h3c": ["protocol inbound all"],
                   "cisco": ["transport input telnet ssh", "no access-class MGMT-SSH in"]}[vendor]
        for line in opening:
            config.execute(path, line)
    results = tmp_path / "audit.jsonl"
    assert main(["-q", "-i", str(real.inventory), "-l", name, "audit", "--results", str(results)]) == 1
    records = {r["control_ids"][0]: r for r in map(json.loads, results.read_text(encoding="utf-8").splitlines())}
    assert records["NW-03"]["outcome"] == "fail" and SECOND_VTY[name] in records["NW-03"]["reason"], records["NW-03"]
    if vendor == "h3c":
        assert records["NW-04"]["outcome"] == "pass", records["NW-04"]
    else:
        assert records["NW-04"]["outcome"] == "fail" and SECOND_VTY[name] in records["NW-04"]["reason"], records["NW-04"]
    assert records["NW-02"]["outcome"] == "pass" and records["NW-01"]["outcome"] == "pass"
    assert main(["-q", "-i", str(real.inventory), "-l", name, "push"]) == 0
    assert main(["-q", "-i", str(real.inventory), "-l", name, "audit", "--results", str(tmp_path / "b.jsonl")]) == 0
