"""scripts/netdev against the device simulator: audit, push, restore on error, backups, policy refusal."""

from __future__ import annotations

import json
import os
import socket

import pytest
from netmiko import ConnectHandler

from baseline import trace
from baseline.netdev import backup, configdiff
from baseline.netdev.cli import main
from baseline.netdev.drivers import connect, connection_params
from baseline.netdev.push import read_running
from baseline.netdev.vendors import config_body

from .conftest import Lab, make_inventory

ONE_PER_VENDOR = ["sw-acc-01", "sw-core-01", "fw-border-01", "rt-border-02"]  # VRP5, VRPv8, Comware, IOS
TELNET_ON = {"huawei": ["telnet server enable"], "h3c": ["telnet server enable"],
             "cisco": ["line vty 0 4", "transport input telnet ssh", "exit"]}


def _audit(lab: Lab, name: str, tmp_path, source: str = "running") -> tuple[int, dict[str, dict]]:
    results = tmp_path / f"{name}-{os.urandom(3).hex()}.jsonl"
    rc = main(["-q", "-i", str(lab.inventory), "-l", name, "audit", "--source", source, "--results", str(results)])
    records = [json.loads(line) for line in results.read_text(encoding="utf-8").splitlines()]
    return rc, {r["control_ids"][0]: r for r in records}


def _push(lab: Lab, name: str, *extra: str) -> int:
    return main(["-q", "-i", str(lab.inventory), "-l", name, "push", *extra])


def _running(lab: Lab, name: str) -> str:
    conn = connect(lab.device(name))
    try:
        return read_running(conn, lab.device(name))
    finally:
        conn.disconnect()


@pytest.mark.parametrize("name", ONE_PER_VENDOR)
def test_noncompliant_device_fails_audit_push_fixes_it_and_second_push_sends_nothing(lab, name, tmp_path, capsys):
    lab.reset(name)
    rc, records = _audit(lab, name, tmp_path)
    assert rc == 1, "the audit's status when a check fails"
    failed = {cid for cid, r in records.items() if r["outcome"] == "fail"}
    expected = {"NW-01", "NW-02", "NW-03", "NW-04", "NW-05", "NW-06", "NW-08"}
    if lab.device(name).role == "border":
        expected.add("NW-07")
    assert failed == expected, {cid: r["reason"] for cid, r in records.items()}
    assert all(r["asset_kind"] == "network" and r["host_kind"] == "simulator" and r["vendor"] for r in records.values())
    telnet = records["NW-03"]
    vendor = lab.device(name).vendor.key
    assert {"huawei": "telnet server enable", "h3c": "telnet server enable", "cisco": "transport input ssh"}[vendor] \
        in json.dumps(telnet["evidence"])

    assert _push(lab, name, "--show-commands") == 0
    sent = capsys.readouterr().out
    assert f"### {name}" in sent
    rc, records = _audit(lab, name, tmp_path)
    assert rc == 0, {cid: r["reason"] for cid, r in records.items() if r["outcome"] != "pass"}
    assert {r["outcome"] for r in records.values()} <= {"pass", "not_applicable"}
    rc, saved = _audit(lab, name, tmp_path, source="saved")
    assert rc == 0, "push must save the configuration"

    assert _push(lab, name, "--show-commands") == 0
    assert f"### {name}" not in capsys.readouterr().out, "a second push must send nothing"


@pytest.mark.parametrize("name", ["sw-acc-01", "sw-acc-02", "rt-border-02"])
def test_telnet_enabled_by_hand_fails_nw03_only_and_push_fixes_it(lab, name, tmp_path):
    lab.reset(name)
    assert _push(lab, name) == 0
    lab.configure_by_hand(name, TELNET_ON[lab.device(name).vendor.key])
    assert _push(lab, name, "--dry-run") == 0
    assert main(["-q", "-i", str(lab.inventory), "-l", name, "backup"]) == 0  # NW-08 current again
    rc, records = _audit(lab, name, tmp_path)
    failed = sorted(cid for cid, r in records.items() if r["outcome"] == "fail")
    assert failed == ["NW-03"], {cid: r["reason"] for cid, r in records.items()}
    assert _push(lab, name) == 0
    rc, records = _audit(lab, name, tmp_path)
    assert rc == 0, {cid: r["reason"] for cid, r in records.items() if r["outcome"] != "pass"}


@pytest.mark.parametrize("name", ["sw-acc-01", "sw-core-01", "sw-acc-02", "rt-border-02"])
def test_rejected_line_restores_the_running_config_and_exits_non_zero(lab, name, tmp_path, capsys, monkeypatch):
    lab.reset(name)
    before = _running(lab, name)
    bogus = {"huawei": "ssh server cipher chacha20-poly1305", "h3c": "ssh server cipher chacha20-poly1305",
             "cisco": "ip ssh server algorithm encryption chacha20-poly1305"}[lab.device(name).vendor.key]
    from baseline.netdev import render as render_mod

    real_render = render_mod.render

    def with_bogus_line(device, **kwargs):
        rendered = real_render(device, **kwargs)
        lines = rendered.text.splitlines()
        rendered.text = "\n".join(lines[: len(lines) // 2] + [bogus] + lines[len(lines) // 2:]) + "\n"
        return rendered

    monkeypatch.setattr("baseline.netdev.cli.render", with_bogus_line)
    assert _push(lab, name) != 0
    err = capsys.readouterr().err
    assert "push failed" in err and bogus.split()[0] in err
    assert "Error: Unrecognized command" in err or "% Unrecognized command" in err or "% Invalid input detected" in err
    assert config_body(_running(lab, name)) == config_body(before)


def test_backup_twice_with_a_change_gives_two_verified_archives_and_a_diff(lab, tmp_path, capsys):
    name = "sw-acc-02"
    lab.reset(name)
    root = tmp_path / "archive"
    assert main(["-i", str(lab.inventory), "-l", name, "backup", "--backup-dir", str(root)]) == 0
    assert f"{name}: backed up, the first backup of this device (nothing to compare with)" in capsys.readouterr().err
    lab.configure_by_hand(name, ["info-center loghost 192.0.2.99"])
    assert main(["-i", str(lab.inventory), "backup", "--backup-dir", str(root)]) == 0
    err = capsys.readouterr().err
    assert f"{name}: backed up, 1 changed lines since the previous backup" in err
    assert "sw-acc-01: backed up, the first backup of this device" in err
    found = backup.archives(root)
    assert len(found) == 2
    assert all(backup.verify(a) == [] for a in found)
    assert len([p for p in found[1].glob("*.running.cfg")]) == len(lab.devices())
    diff = (found[1] / f"{name}.diff").read_text(encoding="utf-8")
    assert "+info-center loghost 192.0.2.99" in diff
    assert main(["-q", "-i", str(lab.inventory), "backup", "--backup-dir", str(root)]) == 0
    assert (backup.archives(root)[2] / "sw-acc-01.diff").read_text(encoding="utf-8") == ""
    (found[0] / f"{name}.running.cfg").write_text("tampered\n", encoding="utf-8")
    assert any("altered" in p for p in backup.verify(found[0]))
    assert oct((found[1] / f"{name}.running.cfg").stat().st_mode & 0o777) == "0o600"


def test_nine_character_password_is_refused_before_any_device_is_contacted(tmp_path, vault_env, capsys):
    inv = make_inventory(tmp_path, vault_env, secrets_override={"vault_netdev_passwords": {
        "automation": "Abcdef#12", "liuyang": "Lx-93kdfPq_2", "wangfang": "Wf_83jdkeLq#"}})
    ports = []
    for line in (inv / "devices.yml").read_text(encoding="utf-8").splitlines():
        if "ansible_port" in line:
            ports.append(int(line.split(":")[1]))
    listeners = []
    for port in ports:  # anything listening here would see a connection attempt
        sock = socket.socket()
        sock.bind(("127.0.0.1", port))
        sock.listen(8)
        sock.setblocking(False)
        listeners.append(sock)
    try:
        for command in (["push"], ["render"]):
            assert main(["-q", "-i", str(inv), *command]) == 2
            err = capsys.readouterr().err
            assert "refused before contacting any device" in err
            assert "device account automation has 9 characters, fewer than password_min_length = 10" in err
            assert "Abcdef#12" not in err
        for sock in listeners:
            with pytest.raises(BlockingIOError):
                sock.accept()
    finally:
        for sock in listeners:
            sock.close()


def test_stricter_device_value_passes_and_weaker_inventory_is_not_pushed(lab):
    device = lab.device("sw-acc-01")
    intended = "user-interface vty 0 4\n idle-timeout 10 0\n"
    stricter = "user-interface vty 0 4\n idle-timeout 5 0\n"
    weaker = "user-interface vty 0 4\n idle-timeout 30 0\n"
    never = "user-interface vty 0 4\n idle-timeout 0 0\n"
    assert configdiff.missing(device.vendor, stricter, intended, device.values) == []
    assert configdiff.missing(device.vendor, weaker, intended, device.values) == [
        "user-interface vty 0 4", "idle-timeout 10 0", "quit"]
    assert configdiff.missing(device.vendor, never, intended, device.values) != []


def test_simulator_speaks_the_vendor_cli_to_stock_netmiko(lab):
    device = lab.device("sw-acc-01")
    lab.reset("sw-acc-01")
    conn = ConnectHandler(**connection_params(device))
    try:
        assert conn.find_prompt() == "<sw-acc-01>"
        output = conn.send_command_timing("system-view", strip_prompt=False)
        assert "[sw-acc-01]" in output
        output = conn.send_command_timing("frobnicate the switch")
        assert "Error: Unrecognized command found at '^' position." in output
        output = conn.send_command_timing("user-interface vty 0 4", strip_prompt=False)
        assert "[sw-acc-01-ui-vty0-4]" in output
        conn.send_command_timing("return")
        output = conn.send_command_timing("save", strip_prompt=False)
        assert "Continue? [Y/N]" in output
        output = conn.send_command_timing("n")
        assert "<sw-acc-01>" in conn.find_prompt()
    finally:
        conn.disconnect()
    cisco = lab.device("rt-border-02")
    conn = ConnectHandler(**connection_params(cisco))
    try:
        assert conn.send_command_timing("show flux capacitor").count("% Invalid input detected at '^' marker.") == 1
        conn.config_mode()
        assert conn.find_prompt().endswith("(config)#")
        conn.send_command_timing("no ip http server")
        conn.exit_config_mode()
        assert "no ip http server" in conn.send_command("show running-config")
        assert "no ip http server" not in conn.send_command("show startup-config"), "not saved yet"
    finally:
        conn.disconnect()


def test_management_acl_is_enforced_and_a_lockout_is_refused_before_render(lab, tmp_path, vault_env, capsys):
    name = "sw-acc-01"
    lab.reset(name)
    lab.configure_by_hand(name, ["acl number 2000", "rule 5 permit source 192.0.2.0 0.0.0.255", "rule 10 deny", "quit",
                           "user-interface vty 0 4", "acl 2000 inbound", "return"])
    with pytest.raises(Exception, match="(?i)auth"):
        connect(lab.device(name))
    lab.reset(name)
    inv = make_inventory(tmp_path, vault_env, overrides={"netdev_controller_address": "192.0.2.10"})
    assert main(["-q", "-i", str(inv), "render"]) == 2
    assert "would lock the automation out" in capsys.readouterr().err


def test_every_nw_control_is_applied_by_a_template_and_verified_by_an_audit_check():
    found = trace.collect()
    for cid in [f"NW-0{i}" for i in range(1, 9)]:
        assert cid in found.verified, cid
        if cid != "NW-08":
            assert any("network_configs/" in place for place in found.applied[cid]), cid
