"""scripts/netdev when a device cannot be read or the run has nothing to work on: unreachable devices and refused
logins give failing records, an inventory without devices is refused, one run id across producers."""

from __future__ import annotations

import json
import os
import shutil
import socket
from pathlib import Path

import pytest
import yaml

from baseline.netdev import drivers
from baseline.netdev.cli import main
from baseline.results import read_results
from devtools.simulator.testbed import free_port

from .conftest import Lab

CONTROLS = [f"NW-0{i}" for i in range(1, 9)]
WRONG_PASSWORD = "Wrong#Passw0rd-" + os.urandom(3).hex()  # not the device's password


def _inventory_copy(lab: Lab, tmp_path: Path, hostvars: dict[str, dict]) -> Path:
    """The lab's inventory with some device variables changed (a wrong port, a wrong password...)."""
    inv = tmp_path / "inventory"
    shutil.copytree(lab.inventory, inv)
    data = yaml.safe_load((inv / "devices.yml").read_text(encoding="utf-8"))
    for group in data["network_devices"]["children"].values():
        for name, host in group["hosts"].items():
            host.update(hostvars.get(name, {}))
    (inv / "devices.yml").write_text(yaml.safe_dump(data), encoding="utf-8")
    return inv


def _records(path: Path) -> dict[tuple[str, str], dict]:
    return {(r["asset"], r["control_ids"][0]): r for r in map(json.loads, path.read_text(encoding="utf-8").splitlines())}


def test_unreachable_device_and_refused_login_give_an_error_for_every_control(lab, tmp_path, capsys):
    inv = _inventory_copy(lab, tmp_path, {
        "sw-acc-01": {"ansible_port": free_port()},  # nothing listens there: connection refused
        "rt-border-02": {"vault_netdev_passwords": {"automation": WRONG_PASSWORD}},  # login refused
    })
    results = tmp_path / "audit.jsonl"
    rc = main(["-q", "-i", str(inv), "-l", "sw-acc-01", "-l", "rt-border-02", "-l", "sw-acc-02",
               "audit", "--results", str(results)])
    out = capsys.readouterr().out
    assert rc == 1
    assert f"results: {results}" in out and results.exists()
    records = _records(results)
    assert {asset for asset, _ in records} == {"sw-acc-01", "rt-border-02", "sw-acc-02"}

    refused = {cid: records["sw-acc-01", cid] for cid in CONTROLS}
    assert refused["NW-07"]["outcome"] == "not_applicable", "an access device has no boundary ACL, reachable or not"
    for cid in CONTROLS[:6] + ["NW-08"]:
        assert refused[cid]["outcome"] == "error", refused[cid]
        assert "connection refused" in refused[cid]["reason"]
        assert refused[cid]["asset_kind"] == "network" and refused[cid]["vendor"] == "huawei_vrp"
        assert "connection refused" in json.dumps(refused[cid]["evidence"])
    for cid in CONTROLS:  # a border device: every control, NW-07 included
        record = records["rt-border-02", cid]
        assert record["outcome"] == "error" and "authentication failed" in record["reason"], record
    assert WRONG_PASSWORD not in results.read_text(encoding="utf-8") + out

    assert all(records["sw-acc-02", cid]["outcome"] in ("pass", "fail", "not_applicable") for cid in CONTROLS), \
        "the reachable device is audited as usual"
    assert {r["method"] for r in records.values()} == {"config"}, "the device audit reads configurations"
    assert "sw-acc-01 NW-01 error: device not audited, connection refused" in out


def test_device_that_never_answers_is_a_timeout(lab, tmp_path, monkeypatch, capsys):
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(4)  # accepts TCP (the kernel does) but never speaks SSH
    real = drivers.connection_params
    monkeypatch.setattr(drivers, "connection_params",
                        lambda device: {**real(device), "conn_timeout": 1, "banner_timeout": 1, "auth_timeout": 1})
    try:
        inv = _inventory_copy(lab, tmp_path, {"sw-acc-02": {"ansible_port": silent.getsockname()[1]}})
        results = tmp_path / "audit.jsonl"
        assert main(["-q", "-i", str(inv), "-l", "sw-acc-02", "audit", "--results", str(results)]) == 1
    finally:
        silent.close()
    records = _records(results)
    assert {r["outcome"] for r in records.values()} == {"error", "not_applicable"}
    reasons = {r["reason"] for r in records.values() if r["outcome"] == "error"}
    assert len(reasons) == 1, reasons
    reason = reasons.pop()
    assert "not SSH" in reason and "accepts TCP connections but does not speak SSH (sent nothing" in reason, reason
    assert "conn_timeout" not in reason, "no hint to wait longer for a port that will never speak SSH"
    captured = capsys.readouterr()
    assert f"results: {results}" in captured.out
    assert "Traceback" not in captured.err, captured.err


@pytest.mark.parametrize("limit", [[], ["-l", "linux_servers"]])
def test_inventory_without_devices_is_refused_with_exit_2(tmp_path, capsys, limit):
    inv = tmp_path / "empty"
    inv.mkdir()
    (inv / "hosts.yml").write_text("all:\n  children:\n    linux_servers:\n      hosts:\n        app1:\n", encoding="utf-8")
    results = tmp_path / "audit.jsonl"
    assert main(["-q", "-i", str(inv), *limit, "audit", "--results", str(results)]) == 2
    err = capsys.readouterr().err
    assert str(inv) in err and "no devices" in err
    assert not results.exists()


def test_missing_inventory_and_unknown_limit_are_refused_with_exit_2(lab, tmp_path, capsys):
    missing = tmp_path / "no-such-inventory"
    assert main(["-q", "-i", str(missing), "audit"]) == 2
    err = capsys.readouterr().err
    assert str(missing) in err and "lists no devices" in err
    assert main(["-q", "-i", str(lab.inventory), "-l", "nosuchdevice", "audit"]) == 2
    err = capsys.readouterr().err
    assert "--limit nosuchdevice: no such device or group" in err


def test_run_id_option_and_environment(lab, tmp_path, monkeypatch):
    results = tmp_path / "audit.jsonl"
    assert main(["-q", "-i", str(lab.inventory), "-l", "sw-acc-02", "audit", "--results", str(results),
                 "--run-id", "assessment-2025-q1"]) in (0, 1)
    assert {r.run_id for r in read_results([results])} == {"assessment-2025-q1"}
    monkeypatch.setenv("BASELINE_RUN_ID", "from-the-environment")
    results.unlink()
    main(["-q", "-i", str(lab.inventory), "-l", "sw-acc-02", "audit", "--results", str(results)])
    assert {r.run_id for r in read_results([results])} == {"from-the-environment"}
    default = main(["-q", "-i", str(lab.inventory), "-l", "sw-acc-02", "audit", "--run-id", "option-wins",
                    "--results", str(tmp_path / "b.jsonl")])
    assert default in (0, 1)
    assert {r.run_id for r in read_results([tmp_path / "b.jsonl"])} == {"option-wins"}
