"""IR-01 incident grading (baseline/operations/incidents.py, scripts/incident): every threshold of 第二十八–三十一条
on each side (以上 includes the figure, 超过 does not), the colours of 第三十二条, the deadlines of 第三十三、三十四条,
the register and the IR-01 results record."""

from __future__ import annotations

import json
import subprocess
from datetime import UTC, datetime, timedelta

import pytest

from baseline import REPO_ROOT
from baseline.operations import incidents as inc
from baseline.results import read_results

T0 = "2026-12-01T08:00:00+00:00"


def level(hours: float = 0.0, records: dict | None = None, impact: str = "") -> str:
    return inc.grade(inc.Facts(occurred=T0, outage_hours=hours, records=records or {}, impact=impact)).level


@pytest.mark.parametrize(("hours", "expected"), [
    (0, "IV"), (11.99, "IV"), (12, "III"), (12.01, "III"), (23.99, "III"), (24, "II"), (24.01, "II"),
    (47.99, "II"), (48, "I"), (48.01, "I"), (1000, "I"),
])
def test_outage_hours_thresholds_include_the_figure(hours, expected):
    assert level(hours) == expected


@pytest.mark.parametrize("kind", sorted(inc.RECORD_KINDS))
@pytest.mark.parametrize(("count", "expected"), [
    (0, "IV"), (9_999, "IV"), (10_000, "IV"), (10_001, "III"), (20_000, "III"), (20_001, "II"),
    (50_000, "II"), (50_001, "I"),
])
def test_record_thresholds_exclude_the_figure(kind, count, expected):
    assert level(records={kind: count}) == expected


def test_kinds_of_the_data_clause_add_up_and_other_clauses_do_not():
    assert level(records={"lost": 25_000, "tampered": 25_001}) == "I"  # 丢失 + 篡改: one clause, 50,001
    assert level(records={"lost": 25_000, "tampered": 25_000}) == "II"  # 50,000: not more than 5万
    assert level(records={"leaked": 30_000, "disclosed": 30_000}) == "II"  # two clauses, each 30,000
    assert level(records={"leaked": 30_000, "lost": 30_000}) == "II"


@pytest.mark.parametrize(("impact", "expected"), [
    ("especially_serious", "I"), ("serious", "II"), ("relatively_serious", "III"), ("some", "IV"),
])
def test_judged_impact_gives_its_level(impact, expected):
    assert level(impact=impact) == expected


def test_the_most_serious_criterion_decides():
    assert level(hours=12, records={"leaked": 20_001}) == "II"
    assert level(hours=48, records={"leaked": 10}, impact="relatively_serious") == "I"
    grading = inc.grade(inc.Facts(occurred=T0, outage_hours=48, records={"stolen": 60_000}))
    assert len(grading.basis) == 2 and all(b.startswith("第二十八条") for b in grading.basis)


@pytest.mark.parametrize(("hours", "colour", "within"), [
    (48, ("红色", "red"), 1), (24, ("橙色", "orange"), 1), (12, ("黄色", "yellow"), 2), (0, ("", ""), 2),
])
def test_colour_and_reporting_deadline(hours, colour, within):
    grading = inc.grade(inc.Facts(occurred="2026-12-01T16:30:00+08:00", outage_hours=hours))
    assert (grading.colour, grading.colour_en) == colour
    assert grading.report_within_hours == within
    assert grading.report_by == (datetime(2026, 12, 1, 8, 30, tzinfo=UTC) + timedelta(hours=within)).isoformat()


def test_investigation_deadline_is_30_days_after_the_response_for_level_iv_only():
    iv = inc.grade(inc.Facts(occurred=T0, response_ended="2026-12-02T10:00:00+00:00"))
    assert iv.investigation_deadline == "2027-01-01T10:00:00+00:00" and "30" in iv.investigation_rule
    assert inc.grade(inc.Facts(occurred=T0)).investigation_deadline == ""  # response not over yet
    iii = inc.grade(inc.Facts(occurred=T0, outage_hours=12, response_ended="2026-12-02T10:00:00+00:00"))
    assert iii.investigation_deadline == "" and "县信用办" in iii.investigation_by


@pytest.mark.parametrize(("facts", "words"), [
    ({"outage_hours": -1}, "outage hours"),
    ({"outage_hours": float("nan")}, "outage hours"),
    ({"records": {"lost": -5}}, "records lost"),
    ({"records": {"lost": 1.5}}, "whole number"),
    ({"records": {"misplaced": 5}}, "record kind"),
    ({"impact": "huge"}, "impact"),
    ({"occurred": "yesterday"}, "ISO 8601"),
    ({"response_ended": "2026-11-30T00:00:00+00:00"}, "before the incident"),
])
def test_facts_that_cannot_be_graded_are_refused_by_name(facts, words):
    with pytest.raises(inc.FactError, match=words):
        inc.grade(inc.Facts(**{"occurred": T0, **facts}))


def run(tmp_path, *args):
    env = {"PATH": "/usr/bin:/bin", "BASELINE_INCIDENTS_DIR": str(tmp_path / "register")}
    return subprocess.run([str(REPO_ROOT / "scripts/incident"), *args], capture_output=True, text=True, env=env,
                          timeout=60, check=False)


def test_command_keeps_the_record_and_writes_an_ir01_result(tmp_path):
    results = tmp_path / "results.jsonl"
    proc = run(tmp_path, "grade", "--outage-hours", "24", "--records", "50,001", "--kind", "leaked",
               "--occurred", "2026-12-01T08:00:00+08:00", "--summary", "portal down", "--results-file", str(results))
    assert proc.returncode == 0, proc.stderr
    assert "level      I " in proc.stdout and "红色" in proc.stdout and "2026-12-01T01:00:00+00:00" in proc.stdout
    [record] = [json.loads(line) for line in (tmp_path / "register/incidents.jsonl").read_text().splitlines()]
    assert record["grading"]["level"] == "I" and record["facts"]["records"] == {"leaked": 50_001}
    [result] = list(read_results([results]))
    assert result.control_ids == ["IR-01"] and result.asset_kind == "organisation" and result.outcome == "pass"
    assert result.method == "record" and record["id"] in result.check and "level I" in result.reason
    listed = run(tmp_path, "list")
    assert record["id"] in listed.stdout and "red" in listed.stdout
    assert "portal down" in run(tmp_path, "show", record["id"]).stdout
    assert run(tmp_path, "verify").returncode == 0


def test_command_refuses_unpaired_records_and_bad_numbers(tmp_path):
    assert run(tmp_path, "grade", "--records", "5", "--no-results").returncode == 2
    assert run(tmp_path, "grade", "--records", "many", "--kind", "lost", "--no-results").returncode == 2
    assert run(tmp_path, "grade", "--outage-hours", "-3", "--no-results").returncode == 2
    assert not (tmp_path / "register/incidents.jsonl").exists()


def test_verify_finds_an_edited_grading(tmp_path):
    for hours in ("1", "30"):
        assert run(tmp_path, "grade", "--outage-hours", hours, "--no-results").returncode == 0
    path = tmp_path / "register/incidents.jsonl"
    lines = path.read_text().splitlines()
    edited = json.loads(lines[1])
    edited["grading"]["level"] = "IV"
    path.write_text("\n".join([lines[0], json.dumps(edited)]) + "\n")
    proc = run(tmp_path, "verify", "--results-file", str(tmp_path / "r.jsonl"))
    assert proc.returncode == 1 and "edited" in proc.stdout and edited["id"] in proc.stdout
    results = {r.check: r for r in read_results([tmp_path / "r.jsonl"])}
    result = results.pop("incident_register")
    assert result.outcome == "fail" and result.control_ids == ["IR-01"]
    # each kept grading's own record fails too, so that the pass `grade` wrote does not stand beside the failure
    assert sorted(results) == sorted(f"incident_grading[{json.loads(line)['id']}]" for line in lines)
    assert {r.outcome for r in results.values()} == {"fail"}
    assert "level" in results[f"incident_grading[{edited['id']}]"].reason
