"""`baseline orphans` on network devices, against the device simulator: a device with the baseline pushed has no
orphan account; local users added by hand (a stranger, and a departed person) are found with where they were read;
once removed, none is left. The factory account of a fresh device is an orphan too."""

from __future__ import annotations

import json

import pytest

from baseline.netdev.cli import main as netdev
from baseline.operations import orphans
from baseline.secrets import generate

from .conftest import Lab

ONE_PER_VENDOR = ["sw-acc-01", "sw-core-01", "sw-acc-02", "rt-border-02"]  # VRP5, VRPv8, Comware, IOS


def _add_user(vendor: str, name: str, secret: str) -> list[str]:
    return {"huawei": ["aaa", f"local-user {name} password irreversible-cipher {secret}",
                       f"local-user {name} service-type ssh", "quit"],
            "h3c": [f"local-user {name} class manage", f"password simple {secret}", "service-type ssh", "quit"],
            "cisco": [f"username {name} privilege 15 secret {secret}"]}[vendor]


def _remove_user(vendor: str, name: str) -> list[str]:
    return {"huawei": ["aaa", f"undo local-user {name}", "quit"], "h3c": [f"undo local-user {name} class manage"],
            "cisco": [f"no username {name}"]}[vendor]


def _departed(lab: Lab, name: str) -> str:
    staff = lab.device(name).values["staff"]
    return next(p["username"] for p in staff if p["status"] == "departed")


@pytest.mark.parametrize("name", ONE_PER_VENDOR)
def test_users_added_by_hand_are_found_with_where_and_none_after_removal(lab, name, tmp_path, capsys):
    lab.reset(name)
    device = lab.device(name)
    vendor = device.vendor.key
    keyword = "username" if vendor == "cisco" else "local-user"

    seed = orphans.survey(lab.inventory, [name])
    assert [s.error for s in seed] == [""]
    assert "admin" in {f.account for f in seed[0].findings}, "the factory account of a fresh device is an orphan"

    assert netdev(["-q", "-i", str(lab.inventory), "-l", name, "push"]) == 0
    clean = orphans.survey(lab.inventory, [name])
    assert clean[0].error == "" and clean[0].findings == [], clean[0].findings
    assert clean[0].checked == len(device.accounts(with_secrets=False)), "every baseline account was read"

    gone = _departed(lab, name)
    lab.configure_by_hand(name, _add_user(vendor, "intruder", generate()) + _add_user(vendor, gone, generate()), save=False)
    found = {f.account: f for f in orphans.find_orphans(lab.inventory, [name])}
    assert set(found) == {"intruder", gone}
    assert found["intruder"].why == "not in the roster"
    assert found[gone].why.startswith("departed staff (left ") and found[gone].why.endswith("still active")
    assert found["intruder"].where == f"{device.vendor.show_running}: {keyword} intruder"
    assert {f.asset for f in found.values()} == {name} and {f.kind for f in found.values()} == {"network"}

    results = tmp_path / "orphans.jsonl"
    capsys.readouterr()
    assert orphans.main(["-i", str(lab.inventory), "-l", name, "--json", "--results-file", str(results)]) == 1
    printed = json.loads(capsys.readouterr().out)
    assert {f["account"] for f in printed["findings"]} == {"intruder", gone}
    (record,) = [json.loads(line) for line in results.read_text(encoding="utf-8").splitlines()]
    assert (record["asset"], record["asset_kind"], record["control_ids"], record["outcome"]) == (
        name, "network", ["AC-02"], "fail")
    assert record["vendor"] == device.vendor.result_name and record["host_kind"] == "simulator"
    named = {e["observed"]["account"]: e["command"] for e in record["evidence"] if "account" in (e["observed"] or {})}
    assert named == {"intruder": f"{device.vendor.show_running}: {keyword} intruder",
                     gone: f"{device.vendor.show_running}: {keyword} {gone}"}
    for secret in device.values["vault_netdev_passwords"].values():
        assert secret not in results.read_text(encoding="utf-8")

    lab.configure_by_hand(name, _remove_user(vendor, "intruder") + _remove_user(vendor, gone), save=False)
    assert orphans.find_orphans(lab.inventory, [name]) == []
    results.unlink()
    assert orphans.main(["-i", str(lab.inventory), "-l", name, "--results-file", str(results)]) == 0
    (record,) = [json.loads(line) for line in results.read_text(encoding="utf-8").splitlines()]
    assert record["outcome"] == "pass"
    assert record["evidence"][0]["observed"]["orphans"] == 0 and record["evidence"][0]["observed"]["accounts_read"] > 0


def test_a_device_that_does_not_answer_is_not_verified_with_the_reason(lab, tmp_path):
    name = "sw-acc-02"
    device = lab.device(name)
    device.port = 1  # nothing listens on port 1 of the loopback
    item = orphans._device(device, orphans.Roster.from_staff(device.values["staff"]))
    assert item.error.startswith("connection refused") and item.findings == []
    (record,) = [orphans.record_fields(item)]
    assert record["outcome"] == "not_verifiable" and "connection refused" in record["reason"]
