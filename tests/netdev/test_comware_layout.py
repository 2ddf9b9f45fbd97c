"""Comware 7 prints global commands indented by one space, in blocks between `#` lines, some of them after the
`line vty` sections. A compliant device printed that way must be read as compliant: nothing to push, checks pass."""

from __future__ import annotations

from hier_config import get_hconfig

from baseline.netdev import audit, configdiff
from baseline.netdev.cli import main
from baseline.netdev.render import render
from baseline.netdev.vendors import config_body
from devtools.simulator.realworld import realworld_text

from .conftest import Lab

LATE = ("ssh server", "info-center", "ntp-service", "snmp-agent", "password-control")  # printed after line vty


def comware_layout(text: str) -> str:
    """`display current-configuration` as Comware 7 prints it: ` version` header, globals indented by one space,
    sections at column 0 with one-space children, `#` between blocks, late globals after `line vty`, `return`."""
    blocks: list[list[str]] = []
    for line in config_body(text).splitlines():
        if line.startswith(" "):
            blocks[-1].append(line)
        else:
            blocks.append([line])
    early = [b[0] for b in blocks if len(b) == 1 and not b[0].startswith(LATE)]
    late = [b[0] for b in blocks if len(b) == 1 and b[0].startswith(LATE)]
    sections = [b for b in blocks if len(b) > 1]
    out = ["#", " version 7.1.070, Release 6615", "#"]
    out += [" " + line for line in early] + ["#"]
    for section in sections:
        out += section + ["#"]
    for prefix in LATE:  # one `#` block per feature, as the device prints them
        group = [" " + line for line in late if line.startswith(prefix)]
        out += group + ["#"] if group else []
    out.append("return")
    return "\n".join(out) + "\n"


def test_compliant_comware_in_its_real_layout_needs_nothing_and_passes_the_audit(lab: Lab, tmp_path):
    name = "sw-acc-02"
    lab.reset(name)
    assert main(["-q", "-i", str(lab.inventory), "-l", name, "push", "--backup-dir", str(tmp_path / "a")]) == 0
    device = lab.device(name)
    real = comware_layout(lab.simulator.devices[name].running.render())
    assert "\nline vty 0 63\n" in real and "#\n ssh server enable\n" in real.split("line vty")[1], real
    assert " info-center loghost" in real.split("line vty")[1]
    rendered = render(device)
    assert configdiff.missing(device.vendor, real, rendered.text, device.values) == []
    outcomes = {check.control_ids[0]: outcome for check, outcome, _ in
                audit.audit_device(device, rendered, "running", lambda: (real, real))}
    failed = {cid: o.reason for cid, o in outcomes.items() if o.outcome not in ("pass", "not_applicable")}
    failed.pop("NW-08", None)  # the archive holds the simulator's printout, not this one
    assert failed == {}


def test_comware_globals_block_after_line_vty_is_not_read_as_part_of_it(lab: Lab):
    device = lab.device("sw-acc-02")
    text = "#\n sysname sw\n#\nline vty 0 63\n authentication-mode scheme\n protocol inbound ssh\n#\n" \
           " ssh server enable\n ssh server acl 2000\n#\nreturn\n"
    assert config_body(text) == "sysname sw\nline vty 0 63\n authentication-mode scheme\n protocol inbound ssh\n" \
                                "ssh server enable\nssh server acl 2000\n"
    tree = configdiff.parse(device.vendor, text)
    assert tree.get_child(equals="ssh server enable") is not None
    vty = tree.get_child(equals="line vty 0 63")
    assert vty is not None and vty.get_child(equals="ssh server enable") is None


def test_indented_separator_inside_a_cisco_section_keeps_the_section():
    text = "!\nrouter bgp 65001\n !\n address-family ipv4\n  network 192.0.2.0\n exit-address-family\n!\nend\n"
    assert config_body(text) == "router bgp 65001\n address-family ipv4\n  network 192.0.2.0\n exit-address-family\n"


def test_realistic_comware_printout_keeps_its_globals_out_of_the_line_sections(lab: Lab):
    """The realistic Comware 7 configuration (devtools/simulator/realworld/) prints logging, SNMP, SSH and NTP
    globals one column right after `line vty 16 63`; they are read as globals and the VTY sections keep only their
    own lines. Read naively (indentation taken at face value) they would land under the line and role sections."""
    device = lab.device("sw-acc-02")
    text = realworld_text("hp_comware", "sw-acc-02", "automation", "Plain#Passw0rd-x")
    tree = configdiff.parse(device.vendor, text)
    assert [c.text for c in tree.get_child(equals="line vty 16 63").children] == [
        "authentication-mode scheme", "user-role network-operator"]
    assert [c.text for c in tree.get_child(equals="line vty 0 15").children] == [
        "authentication-mode scheme", "user-role network-operator", "protocol inbound all", "idle-timeout 30 0"]
    top = {c.text for c in tree.children}
    for line in ("ssh server enable", "ntp-service enable", "ntp-service unicast-server 10.20.8.21", "snmp-agent",
                 "info-center loghost 10.20.8.30 facility local5", "ip http enable", "user-group system",
                 "domain default enable system", "sysname sw-acc-02"):
        assert line in top, line
    assert tree.get_child(equals="bgp 65010").get_child(equals="address-family ipv4 unicast") is not None
    naive = get_hconfig(device.vendor.platform, "\n".join(
        line for line in text.splitlines() if line.strip() not in ("#", "return")))
    assert naive.get_child(equals="line vty 16 63").get_child(equals="ip route-static 0.0.0.0 0 10.250.1.5") is not None
    rendered = render(device)
    missing = configdiff.missing(device.vendor, text, rendered.text, device.values)
    assert "ssh server enable" not in missing and "ntp-service enable" not in missing, missing
    assert "line vty 16 63" in missing and "protocol inbound ssh" in missing


def test_the_simulator_prints_comware_in_its_real_layout(lab: Lab, tmp_path):
    """The simulated Comware device itself prints globals one column right, the logging, SSH, NTP and SNMP globals
    after `line vty`, the local users after them; the client reads that printout as compliant after a push."""
    name = "sw-acc-02"
    lab.reset(name)
    assert main(["-q", "-i", str(lab.inventory), "-l", name, "push", "--backup-dir", str(tmp_path / "a")]) == 0
    text = lab.simulator.devices[name].running.render()
    assert text.startswith(f"#\n version 7.1.070, Release 6615\n#\n sysname {name}\n"), text
    assert not [line for line in text.splitlines() if line.startswith(("sysname", "ssh server", "info-center"))]
    after_vty = text.split("\nline vty 0 63\n")[1]
    for line in (" ssh server enable", " ssh server acl 2000", " info-center loghost", " ntp-service enable",
                 " snmp-agent sys-info version v3", "local-user automation class manage"):
        assert f"\n{line}" in after_vty, line
    device = lab.device(name)
    assert configdiff.missing(device.vendor, text, render(device).text, device.values) == []
