"""Audit evidence: what the device showed for each baseline line, next to what the baseline expects."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from baseline.netdev.cli import main


def _records(path: Path) -> dict[str, dict]:
    return {r["control_ids"][0]: r for r in map(json.loads, path.read_text(encoding="utf-8").splitlines())}


def test_passing_checks_record_what_the_device_showed(lab, tmp_path):
    name = "sw-acc-01"
    lab.reset(name)
    assert main(["-q", "-i", str(lab.inventory), "-l", name, "push"]) == 0
    lab.configure_by_hand(name, ["user-interface vty 0 4", "idle-timeout 5 0", "return"])  # stricter, set by hand
    results = tmp_path / "audit.jsonl"
    main(["-q", "-i", str(lab.inventory), "-l", name, "audit", "--results", str(results)])
    records = _records(results)
    nw02 = records["NW-02"]
    assert nw02["outcome"] == "pass", nw02["reason"]
    [evidence] = nw02["evidence"]
    assert evidence["command"] == "display current-configuration"
    assert evidence["observed"] != "as expected"
    assert "user-interface vty 0 4" in evidence["observed"] and " idle-timeout 5 0" in evidence["observed"]
    assert " idle-timeout 10 0" in evidence["expected"]
    nw03 = records["NW-03"]["evidence"][0]
    assert records["NW-03"]["outcome"] == "pass"
    assert "(no 'telnet server enable' line)" in nw03["observed"] and "stelnet server enable" in nw03["observed"]
    nw01 = records["NW-01"]
    assert nw01["outcome"] == "pass"
    accounts = [line for line in nw01["evidence"][0]["observed"] if "password" in line and "local-user" in line]
    assert accounts and all(line.endswith("password <secret>") for line in accounts), accounts
    expected_accounts = [line for line in nw01["evidence"][0]["expected"] if "password" in line and "local-user" in line]
    assert expected_accounts and all(line.endswith("password <secret>") for line in expected_accounts)


@pytest.mark.parametrize("name", ["sw-core-01", "fw-border-01", "rt-border-02"])
def test_every_passing_baseline_check_shows_one_device_line_per_baseline_line(lab, tmp_path, name):
    lab.reset(name)
    assert main(["-q", "-i", str(lab.inventory), "-l", name, "push"]) == 0
    results = tmp_path / "audit.jsonl"
    main(["-q", "-i", str(lab.inventory), "-l", name, "audit", "--results", str(results)])
    passed = {cid: r for cid, r in _records(results).items() if r["outcome"] == "pass" and cid != "NW-08"}
    assert len(passed) >= 6, {cid: r["reason"] for cid, r in _records(results).items()}
    for cid, record in passed.items():
        [evidence] = record["evidence"]
        observed, expected = evidence["observed"], evidence["expected"]
        assert isinstance(observed, list) and len(observed) == len(expected), (cid, observed, expected)
        for seen, wanted in zip(observed, expected, strict=True):  # same structure: the same indentation
            assert len(seen) - len(seen.lstrip(" ")) == len(wanted) - len(wanted.lstrip(" ")), (cid, seen, wanted)
