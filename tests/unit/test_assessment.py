"""AS-01: the catalog's coverage of the policy's articles and the register of yearly assessments, each able to fail."""

import json
from dataclasses import replace
from datetime import date

import pytest

from baseline import catalog
from baseline.operations import assessment
from baseline.results import read_results


@pytest.fixture()
def articles():
    return assessment.load_articles()


def _with(cat, control_id, **changes):
    controls = dict(cat.controls)
    controls[control_id] = replace(controls[control_id], **changes)
    return catalog.Catalog(cat.families, controls)


def test_the_repository_catalog_covers_every_article_in_scope(articles):
    assert assessment.coverage_gaps(catalog.load(), articles) == []
    assert len(articles) == 41 and {a.scope for a in articles.values()} == {"in", "out"}


def test_an_article_in_scope_that_no_control_cites_is_a_gap(articles):
    cat = catalog.load()
    citing = [c.id for c in cat.controls.values() if any(a.startswith("第三十八条") for a in c.articles)]
    for cid in citing:
        cat = _with(cat, cid, articles=tuple(a for a in cat.controls[cid].articles if not a.startswith("第三十八条")))
    gaps = assessment.coverage_gaps(cat, articles)
    assert gaps == ["第三十八条 (存储介质管理) is in scope and no control cites it"]


def test_citing_an_article_out_of_scope_or_unknown_is_a_gap(articles):
    cat = _with(catalog.load(), "IA-01", articles=("第四十条", "第九十九条", "第十六条(一)"))
    gaps = assessment.coverage_gaps(cat, articles)
    assert any(g.startswith("第四十条 is out of scope") and "IA-01" in g for g in gaps)
    assert any(g.startswith("第九十九条, cited by IA-01, is not in catalog/articles.yml") for g in gaps)


def test_a_manual_control_without_owner_and_a_control_without_clauses_are_gaps(articles):
    cat = catalog.load()
    manual = next(c.id for c in cat.controls.values() if c.status == "manual")
    cat = _with(_with(cat, manual, owner=" "), "IA-01", clauses=())
    gaps = assessment.coverage_gaps(cat, articles)
    assert f"{manual} is manual and names no owner who keeps its evidence" in gaps
    assert "IA-01 names no GB/T 22239-2019 clause" in gaps


def test_an_article_out_of_scope_needs_a_reason(tmp_path):
    path = tmp_path / "articles.yml"
    path.write_text("articles:\n  第一条: {scope: out, title: x}\n", encoding="utf-8")
    with pytest.raises(ValueError, match="第一条 is out of scope without a reason"):
        assessment.load_articles(path)


def record(on, conclusion="基本符合"):
    return assessment.new_record(on=on, body="测评中心", report_no="DJCP-1", conclusion=conclusion, level=3,
                                 today=date(2026, 12, 1))


@pytest.mark.parametrize(("age", "outcome"), [(0, "pass"), (365, "pass"), (366, "fail")])
def test_the_latest_assessment_must_be_at_most_the_interval_old(age, outcome):
    today = date(2026, 12, 1)
    on = date.fromordinal(today.toordinal() - age)
    got, reason, observed = assessment.interval_outcome([record(date(2020, 1, 1)), record(on)], [], 365, today)
    assert got == outcome and observed["age_days"] == age
    assert (f"{age} days old: more than 365" in reason) == (outcome == "fail")


def test_no_assessment_recorded_is_not_verified_never_met():
    outcome, reason, _ = assessment.interval_outcome([], [], 365, date(2026, 12, 1))
    assert outcome == "not_verifiable" and "no assessment is recorded" in reason


@pytest.mark.parametrize(("field", "value", "message"), [
    ("on", date(2027, 1, 1), "cannot be dated after today"),
    ("body", " ", "--body: required"),
    ("conclusion", "pass", "--conclusion 'pass': one of 符合, 基本符合, 不符合"),
    ("level", 4, "--level 4"),
])
def test_bad_input_for_a_record_is_refused_naming_the_argument(field, value, message):
    given = {"on": date(2026, 11, 1), "body": "测评中心", "report_no": "R-1", "conclusion": "符合", "level": 3, field: value}
    with pytest.raises(assessment.AssessmentError, match=message):
        assessment.new_record(**given, today=date(2026, 12, 1))


def test_record_and_verify_write_as01_results_and_detect_an_edited_record(tmp_path, capsys):
    reg = tmp_path / "reg"
    assert assessment.main(["--dir", str(reg), "record", "--date", "not-a-date", "--body", "b", "--report-no", "r",
                            "--conclusion", "符合"]) == 2
    assert "--date 'not-a-date'" in capsys.readouterr().err
    today = date.today().isoformat()
    assert assessment.main(["--dir", str(reg), "record", "--date", today, "--body", "测评中心", "--report-no", "R-7",
                            "--conclusion", "基本符合", "--level", "3"]) == 0
    results = tmp_path / "r.jsonl"
    assert assessment.main(["--dir", str(reg), "verify", "--results-file", str(results), "--run-id", "t1"]) == 0
    got = {r.check: r for r in read_results([results])}
    assert got["assessment_coverage"].outcome == "pass" and got["assessment_interval"].outcome == "pass"
    assert got["assessment_interval"].control_ids == ["AS-01"] and got["assessment_interval"].asset_kind == "organisation"
    # an edited record (the conclusion changed after the fact) breaks the chain: the interval check fails
    path = reg / "assessments.jsonl"
    kept = json.loads(path.read_text(encoding="utf-8").splitlines()[0])
    kept["conclusion"] = "符合"
    path.write_text(json.dumps(kept, ensure_ascii=False) + "\n", encoding="utf-8")
    assert assessment.main(["--dir", str(reg), "verify", "--results-file", str(results), "--run-id", "t2"]) == 1
    latest = [r for r in read_results([results]) if r.run_id == "t2" and r.check == "assessment_interval"]
    assert latest[0].outcome == "fail" and "assessment register" in latest[0].reason
