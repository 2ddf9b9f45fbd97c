"""Secrets never appear in what scripts/netdev prints or stores: push output (dry run and real), a device's error
echoing a refused line, the rendered baseline on stdout, the audit's records, the archives."""

from __future__ import annotations

import json
import logging
import os
import shutil

import pytest
import yaml

from baseline.netdev import backup
from baseline.netdev.cli import main
from baseline.netdev.devices import MASK, Redactor, secret_values

from .conftest import Lab


def _secrets(lab: Lab, name: str) -> set[str]:
    found = secret_values(lab.device(name).values)
    assert len(found) >= 4
    return found


@pytest.mark.parametrize("name", ["rt-border-02", "sw-acc-02", "sw-core-01"])
def test_secrets_never_appear_in_push_output_or_archives(lab, tmp_path, capsys, name):
    lab.reset(name)
    secrets = _secrets(lab, name)
    root = tmp_path / "archives"
    assert main(["-i", str(lab.inventory), "-l", name, "push", "--dry-run", "--show-commands",
                 "--backup-dir", str(root)]) == 0
    captured = capsys.readouterr()
    shown = captured.out + captured.err
    assert f"### {name}" in shown and MASK in shown
    assert not [s for s in secrets if s in shown]
    assert main(["-i", str(lab.inventory), "-l", name, "push", "--show-commands", "--backup-dir", str(root)]) == 0
    captured = capsys.readouterr()
    shown = captured.out + captured.err
    assert MASK in shown and not [s for s in secrets if s in shown]
    stored = "".join(p.read_text(encoding="utf-8") for p in root.rglob("*") if p.is_file())
    assert stored and not [s for s in secrets if s in stored]
    assert all(backup.verify(a) == [] for a in backup.archives(root))
    assert main(["-i", str(lab.inventory), "-l", name, "render"]) == 0
    shown = capsys.readouterr().out
    assert MASK in shown and not [s for s in secrets if s in shown]


def test_a_refused_line_with_a_secret_is_reported_masked(lab, tmp_path, capsys, monkeypatch):
    name = "sw-acc-01"
    lab.reset(name)
    password = lab.device(name).values["vault_netdev_snmp_priv_key"]
    from baseline.netdev import render as render_mod

    real_render = render_mod.render

    def with_secret_in_a_bad_line(device, **kwargs):
        rendered = real_render(device, **kwargs)
        rendered.text += f"frobnicate key {password}\n"
        return rendered

    monkeypatch.setattr("baseline.netdev.cli.render", with_secret_in_a_bad_line)
    assert main(["-i", str(lab.inventory), "-l", name, "push", "--show-commands",
                 "--backup-dir", str(tmp_path / "a")]) == 1
    captured = capsys.readouterr()
    shown = captured.out + captured.err
    assert "push failed" in shown and f"frobnicate key {MASK}" in shown
    assert password not in shown


def test_redactor_masks_every_vault_value_longest_first():
    class Device:
        values = {"vault_netdev_passwords": {"a": "Abcdef#1234", "b": "Abcdef#1234-longer"}, "vault_other": ["Zz#98765xy"],
                  "vault_netdev_enable_secret": "", "password_min_length": 10, "not_a_secret": "Abcdef#1234x"}
    redact = Redactor([Device()])  # type: ignore[list-item]
    assert redact("x Abcdef#1234-longer y Abcdef#1234 z Zz#98765xy") == "x ****** y ****** z ******"
    assert "" not in redact.secrets


def test_audit_records_and_output_never_carry_a_secret(lab, tmp_path, capsys):
    """A login refused with a (wrong) vault password: the password is a secret, in the records and on screen."""
    wrong = "Wrong#Passw0rd-" + os.urandom(3).hex()
    lab.reset("sw-core-01")  # non-compliant whatever ran before on this lab
    inv = tmp_path / "inventory"
    shutil.copytree(lab.inventory, inv)
    data = yaml.safe_load((inv / "devices.yml").read_text(encoding="utf-8"))
    data["network_devices"]["children"]["h3c_devices"]["hosts"]["sw-acc-02"]["vault_netdev_passwords"] = {
        "automation": wrong}
    (inv / "devices.yml").write_text(yaml.safe_dump(data), encoding="utf-8")
    results = tmp_path / "audit.jsonl"
    assert main(["-i", str(inv), "-l", "sw-acc-02", "-l", "sw-core-01", "audit", "--results", str(results)]) == 1
    captured = capsys.readouterr()
    written = results.read_text(encoding="utf-8")
    secrets = secret_values(lab.device("sw-core-01").values) | {wrong}
    assert not [s for s in secrets if s in written + captured.out + captured.err]
    outcomes = {(r["asset"], r["outcome"]) for r in map(json.loads, written.splitlines())}
    assert ("sw-acc-02", "error") in outcomes and ("sw-core-01", "fail") in outcomes


def test_debug_logs_of_the_connection_library_never_carry_a_secret(lab, tmp_path, caplog):
    """netmiko logs every line it writes to the device at DEBUG level, passwords and keys included."""
    name = "sw-acc-01"
    lab.reset(name)
    caplog.set_level(logging.DEBUG, logger="netmiko")
    assert main(["-q", "-i", str(lab.inventory), "-l", name, "push", "--backup-dir", str(tmp_path / "a")]) == 0
    logged = caplog.text
    assert "write_channel" in logged and "local-user" in logged, "netmiko logged the lines it sent"
    assert MASK in logged and not [s for s in _secrets(lab, name) if s in logged]


def test_dry_run_of_every_device_kind_shows_every_secret_line_masked(lab, tmp_path, capsys, caplog):
    """`push --dry-run --show-commands --rotate-secrets` on the whole inventory (VRP5, VRPv8, Comware, IOS) lists
    every password, key and enable-secret line; none of the inventory's secret values is printed, logged or archived."""
    caplog.set_level(logging.DEBUG)
    names = [d.name for d in lab.devices()]
    for name in names:
        lab.reset(name)
    root = tmp_path / "archives"
    assert main(["-i", str(lab.inventory), "push", "--dry-run", "--show-commands", "--rotate-secrets",
                 "--backup-dir", str(root)]) == 0
    captured = capsys.readouterr()
    shown = captured.out + captured.err
    stored = "".join(p.read_text(encoding="utf-8") for p in root.rglob("*") if p.is_file())
    secrets = set().union(*(_secrets(lab, name) for name in names))
    for where, text in (("output", shown), ("log", caplog.text), ("archive", stored)):
        assert not [s for s in secrets if s in text], f"a secret value in the {where}"
    for name in names:
        device = lab.device(name)
        block = shown.split(f"### {name}\n")[1].split("###")[0]
        secret_lines = [line for line in block.splitlines() if MASK in line]
        kinds = {"huawei": ("local-user", "snmp-agent usm-user"), "h3c": ("password", "snmp-agent usm-user"),
                 "cisco": ("username", "enable secret", "snmp-server user")}[device.vendor.key]
        for kind in kinds:
            assert any(kind in line for line in secret_lines), (name, kind, block)
