"""Operations evidence in the report: an incident grading (IR-01, scripts/incident) lands on the platform's
organisation asset, change-archive checks (CM-01, scripts/changes verify) on the hosts they name; no duplicate
organisation asset, no warning about an unknown asset. While the catalog says `planned` the cells stay 未验证
with the checks shown; once a control is automated the same records meet it."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
from report_support import write_catalog

from baseline import REPO_ROOT
from baseline.operations import changes

ORG = "岚县公共信用信息平台"


@pytest.fixture()
def results(tmp_path) -> Path:
    out = tmp_path / "results.jsonl"
    env = {**os.environ, "BASELINE_INCIDENTS_DIR": str(tmp_path / "incidents"), "BASELINE_PLATFORM_NAME": ORG}
    subprocess.run([str(REPO_ROOT / "scripts/incident"), "grade", "--outage-hours", "13", "--results-file", str(out)],
                   env=env, check=True, capture_output=True)
    store = changes.archive(tmp_path / "changes")
    store.append({"schema": changes.SCHEMA, "id": "CHG-1", "assets": {"app1": ["linux"]}, "changes": []})
    subprocess.run([str(REPO_ROOT / "scripts/changes"), "--dir", str(store.directory), "verify", "--results-file",
                    str(out)], check=True, capture_output=True)
    return out


def report(tmp_path: Path, results: Path, automated: tuple[str, ...]) -> dict:
    catalog = write_catalog(tmp_path / "controls.yml", automated=automated, only=("IR-01", "CM-01"))
    subprocess.run([str(REPO_ROOT / "scripts/report"), "--results", str(results), "--out",
                    str(tmp_path / "out"), "--no-inventory", "--catalog", str(catalog), "--waivers",
                    str(tmp_path / "none.yml"), "--formats", "json"], cwd=REPO_ROOT, capture_output=True, check=False)
    return json.loads((tmp_path / "out/report.json").read_text(encoding="utf-8"))


def cell(data: dict, control: str) -> dict:
    row = next(r for r in data["controls"] if r["id"] == control)
    [found] = [c for c in row["cells"] if c["checks"]]
    return found


@pytest.mark.parametrize(("automated", "verdict"), [((), "not_verified"), (("IR-01", "CM-01"), "met")])
def test_incident_and_change_records_reach_their_cells(tmp_path, results, automated, verdict):
    data = report(tmp_path, results, automated)
    ir = cell(data, "IR-01")
    assert (ir["asset"], ir["asset_kind"], ir["verdict"]) == (ORG, "organisation", verdict)
    assert ir["checks"][0]["check"].startswith("incident_grading[INC-") and "level III" in ir["checks"][0]["reason"]
    cm = cell(data, "CM-01")
    assert (cm["asset"], cm["asset_kind"], cm["verdict"]) == ("app1", "linux", verdict)
    assert [a["key"] for a in data["assets"]].count(f"{ORG}/organisation") == 1
    assert not [w for w in data["warnings"] if "organisation" in w]
