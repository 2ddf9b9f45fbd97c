"""Operations evidence in the report: CM-01 and IR-01 judged from the records the tools keep.

CM-01: `scripts/changes verify --results-file` on the change archive writes one result per server and device; the
cell is 符合 when the chain is intact and every record of the evidence window is complete, 不符合 naming the record
when one was edited or removed or lacks its reason, 未验证 when there is no archive at all. IR-01: `scripts/incident
verify --results-file` re-grades every kept grading; 符合 with a grading in the window, 不符合 when a kept grading is
not what the rules give, 不适用 when no incident was graded in the window. Each on the asset it belongs to (a host,
the platform's organisation asset), no duplicate organisation asset, no warning about an unknown asset."""

from __future__ import annotations

import json
import os
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml
from report_support import catalog_data

from baseline import REPO_ROOT
from baseline.operations import changes
from baseline.operations.chain import Archive, digest

ORG = "岚县公共信用信息平台"


def now(hours_ago: float = 0) -> str:
    return (datetime.now(UTC) - timedelta(hours=hours_ago)).isoformat(timespec="seconds")


def change(n: int, host: str = "app1", **fields: object) -> dict:
    """A change record as the callback plugin writes it."""
    return {"schema": changes.SCHEMA, "id": f"CHG-{n}", "operator": "lisi", "account": "lisi", "controller": "ctl",
            "reason": f"CR-{n}: rotate the log server certificate", "reason_source": "-e change_reason",
            "start": now(2), "end": now(1), "mode": "apply", "playbooks": ["playbooks/site.yml"],
            "inventory": ["inventory/site"], "hosts": [host], "assets": {host: ["linux"]},
            "changes": [{"host": host, "task": "Write a secret", "action": "copy", "planned": False,
                         "redacted": "no_log: the task's result and diff are not recorded"}],
            "problems": [], "stats": {}, "result": "succeeded", **fields}


@pytest.fixture()
def env(tmp_path) -> dict[str, str]:
    return {**os.environ, "BASELINE_INCIDENTS_DIR": str(tmp_path / "incidents"), "BASELINE_PLATFORM_NAME": ORG,
            "BASELINE_CHANGES_DIR": str(tmp_path / "changes")}


@pytest.fixture()
def archive(tmp_path) -> Archive:
    store = changes.archive(tmp_path / "changes")
    store.append(change(1, "app1"))
    store.append(change(2, "sw1", assets={"sw1": ["network"]}, hosts=["sw1"]))
    store.append(change(3, "app1", mode="check", start=now(0.5), end=now(0.4)))
    return store


def tool(name: str, env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(REPO_ROOT / "scripts" / name), *args], env=env, capture_output=True, text=True,
                          check=False)


def report(tmp_path: Path, results: Path, *, planned: tuple[str, ...] = ()) -> dict:
    """The JSON report of `results` with the committed catalog's CM-01 and IR-01 (as committed, or `planned`)."""
    data = catalog_data(only=("IR-01", "CM-01"))
    for entry in data["controls"]:
        if entry["id"] in planned:
            entry["status"] = "planned"
    catalog = tmp_path / "controls.yml"
    catalog.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    subprocess.run([str(REPO_ROOT / "scripts/report"), "--results", str(results), "--out", str(tmp_path / "out"),
                    "--no-inventory", "--catalog", str(catalog), "--waivers", str(tmp_path / "none.yml"),
                    "--formats", "json"], cwd=REPO_ROOT, capture_output=True, check=False)
    return json.loads((tmp_path / "out/report.json").read_text(encoding="utf-8"))


def cell(data: dict, control: str, asset: str) -> dict:
    row = next(r for r in data["controls"] if r["id"] == control)
    [found] = [c for c in row["cells"] if c["asset"] == asset]
    return found


def text(found: dict) -> str:
    return found["reason"] + " " + " ".join(c["reason"] for c in found["checks"])


def test_the_committed_catalog_judges_the_operational_controls_from_records():
    data = {e["id"]: e["status"] for e in catalog_data()["controls"]}
    assert [data[c] for c in ("OP-01", "CM-01", "IR-01", "IR-02", "AS-01")] == ["automated"] * 5


def test_intact_archive_and_a_graded_incident_are_met(tmp_path, env, archive):
    out = tmp_path / "results.jsonl"
    assert tool("incident", env, "grade", "--outage-hours", "13", "--results-file", str(out)).returncode == 0
    assert tool("incident", env, "verify", "--results-file", str(out)).returncode == 0
    proc = tool("changes", env, "verify", "--results-file", str(out))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    data = report(tmp_path, out)
    app1, sw1 = cell(data, "CM-01", "app1"), cell(data, "CM-01", "sw1")
    assert (app1["asset_kind"], app1["verdict"], sw1["asset_kind"], sw1["verdict"]) == ("linux", "met", "network", "met")
    assert "2 recorded change(s) to app1" in text(app1) and "the last CHG-3 (planned, succeeded)" in text(app1)
    assert "CR-3: rotate the log server certificate" in text(app1) and "by lisi" in text(app1)
    ir = cell(data, "IR-01", ORG)
    assert (ir["asset_kind"], ir["verdict"]) == ("organisation", "met")
    checks = {c["check"].split("[")[0]: c for c in ir["checks"]}
    assert set(checks) == {"incident_grading", "incident_register"}
    assert "level III" in checks["incident_grading"]["reason"]
    assert "re-graded from their facts by the current rules" in checks["incident_register"]["reason"]
    assert [a["key"] for a in data["assets"]].count(f"{ORG}/organisation") == 1
    assert not [w for w in data["warnings"] if "organisation" in w]


def test_while_planned_the_same_records_stay_not_verified(tmp_path, env, archive):
    out = tmp_path / "results.jsonl"
    tool("incident", env, "grade", "--outage-hours", "13", "--results-file", str(out))
    tool("changes", env, "verify", "--results-file", str(out))
    data = report(tmp_path, out, planned=("CM-01", "IR-01"))
    assert cell(data, "CM-01", "app1")["verdict"] == cell(data, "IR-01", ORG)["verdict"] == "not_verified"


@pytest.mark.parametrize("tamper", ["edit", "remove", "remove_last"])
def test_tampering_with_the_archive_makes_cm01_not_met(tmp_path, env, archive, tamper):
    rows = archive.path.read_text(encoding="utf-8").splitlines()
    if tamper == "edit":
        edited = json.loads(rows[0])
        edited["reason"] = "nothing to see"
        rows[0] = json.dumps(edited, ensure_ascii=False)
    elif tamper == "remove":
        del rows[1]
    else:
        del rows[-1]
    archive.path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    out = tmp_path / "results.jsonl"
    assert tool("changes", env, "verify", "--results-file", str(out)).returncode == 1
    data = report(tmp_path, out)
    found = cell(data, "CM-01", "app1")
    assert (found["verdict"], found["failing"]) == ("not_met", True)
    expected = {"edit": "CHG-1, seq 1): edited", "remove": "seq 2 missing after CHG-1",
                "remove_last": "last record(s) were removed"}
    assert "change archive broken" in text(found) and expected[tamper] in text(found)


def test_a_record_of_the_window_without_its_reason_makes_cm01_not_met(tmp_path, env, archive):
    archive.append(change(4, "app1", reason=""))
    out = tmp_path / "results.jsonl"
    proc = tool("changes", env, "verify", "--results-file", str(out))
    assert proc.returncode == 1 and "CHG-4, seq 4: no reason" in proc.stdout
    found = cell(report(tmp_path, out), "CM-01", "app1")
    assert found["verdict"] == "not_met" and "CHG-4, seq 4: no reason" in text(found)


def test_an_old_incomplete_record_outside_the_window_only_counts_for_the_chain(tmp_path, env):
    store = changes.archive(tmp_path / "changes")
    store.append(change(1, "app1", reason="", start=now(60), end=now(59)))
    out = tmp_path / "results.jsonl"
    assert tool("changes", env, "verify", "--results-file", str(out)).returncode == 0
    found = cell(report(tmp_path, out), "CM-01", "app1")
    assert found["verdict"] == "met" and "no change to app1 recorded since" in text(found)


def inventory(tmp_path: Path) -> Path:
    path = tmp_path / "inventory.yml"
    path.write_text(yaml.safe_dump({"all": {"children": {
        "linux_servers": {"hosts": {"app1": {}, "db1": {}}},
        "network_devices": {"hosts": {"sw1": {"vendor": "huawei"}}}}}}), encoding="utf-8")
    return path


def test_no_archive_at_all_leaves_cm01_not_verified_with_the_reason(tmp_path, env):
    out = tmp_path / "results.jsonl"
    proc = tool("changes", env, "verify", "--results-file", str(out), "--inventory", str(inventory(tmp_path)))
    assert proc.returncode == 0 and "3 CM-01 result(s)" in proc.stdout, proc.stdout + proc.stderr
    data = report(tmp_path, out)
    for host in ("app1", "db1", "sw1"):
        found = cell(data, "CM-01", host)
        assert found["verdict"] == "not_verified" and "no change archive at" in text(found), found


def test_with_an_inventory_every_server_and_device_has_a_cm01_cell(tmp_path, env):
    store = changes.archive(tmp_path / "changes")
    store.append(change(1, "old1", start=now(80), end=now(79)))  # before the window, not in the inventory: left out
    store.append(change(2, "app1"))
    out = tmp_path / "results.jsonl"
    proc = tool("changes", env, "verify", "--results-file", str(out), "--inventory", str(inventory(tmp_path)))
    assert proc.returncode == 0 and "3 CM-01 result(s)" in proc.stdout, proc.stdout + proc.stderr
    data = report(tmp_path, out)
    assert not [c for r in data["controls"] for c in r["cells"] if c["asset"] == "old1"]
    app1, db1, sw1 = (cell(data, "CM-01", host) for host in ("app1", "db1", "sw1"))
    assert app1["verdict"] == "met" and "1 recorded change(s) to app1" in text(app1)
    assert db1["verdict"] == "met" and "no change to db1 recorded since" in text(db1)
    # device changes go through netdev push, which writes no change record: not verified, never met
    assert sw1["verdict"] == "not_verified" and "scripts/netdev push" in text(sw1) and not sw1["missing_evidence"]


def test_an_empty_register_makes_ir01_not_applicable_with_its_verification(tmp_path, env, archive):
    out = tmp_path / "results.jsonl"
    assert tool("incident", env, "verify", "--results-file", str(out)).returncode == 0
    tool("changes", env, "verify", "--results-file", str(out))
    data = report(tmp_path, out)
    ir = cell(data, "IR-01", ORG)
    assert ir["verdict"] == "not_applicable" and "no incident recorded in the evidence window" in text(ir)
    assert ir["checks"][0]["evidence"][0]["observed"]["problems"] == []


def test_a_kept_grading_the_rules_do_not_give_makes_ir01_not_met(tmp_path, env, archive):
    out = tmp_path / "results.jsonl"
    assert tool("incident", env, "grade", "--outage-hours", "13", "--results-file", str(out)).returncode == 0
    register = tmp_path / "incidents" / "incidents.jsonl"
    record = json.loads(register.read_text(encoding="utf-8"))
    record["grading"]["level"], record["grading"]["colour"] = "IV", ""  # a grading made lighter, chain re-sealed
    record["hash"] = digest(record)
    register.write_text(json.dumps(record, ensure_ascii=False) + "\n", encoding="utf-8")
    (tmp_path / "incidents" / "incidents.HEAD").write_text(f"1 {record['hash']}\n", encoding="utf-8")
    assert tool("incident", env, "verify", "--results-file", str(out)).returncode == 1
    ir = cell(report(tmp_path, out), "IR-01", ORG)
    assert (ir["verdict"], ir["failing"]) == ("not_met", True)
    assert "level ('IV', the rules give 'III')" in text(ir)
    assert {c["outcome"] for c in ir["checks"]} == {"fail"}
