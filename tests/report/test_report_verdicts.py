"""Verdict rules of the report, one rule per test (baseline/report/verdicts.py)."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta

import pytest
from report_support import AS_OF, assets, catalog_with, cell, make_report, result

from baseline.catalog import load
from baseline.report import verdicts as v
from baseline.report.verdicts import cell_verdict, combine
from baseline.waivers import Waiver

IA02 = replace(load()["IA-02"], status="automated")
PASS, FAIL, ERROR = ("pass", ""), ("fail", "minlen = 8"), ("error", "ssh: connection refused")
NV, NA = ("not_verifiable", "container: no kernel audit"), ("not_applicable", "no sshd on this host")


def waiver(expires: date, control: str = "IA-02", assets_: tuple[str, ...] = ("app1",)) -> Waiver:
    return Waiver(control=control, assets=assets_, justification="vendor appliance cannot run pam_pwquality",
                  approved_by="李强", approved_on=expires - timedelta(days=90), expires=expires)


@pytest.mark.parametrize(("outcomes", "verdict", "failing"), [
    ([PASS, PASS], v.MET, False),
    ([PASS, FAIL], v.PARTIAL, True),
    ([FAIL, FAIL], v.NOT_MET, True),
    ([PASS, ERROR], v.PARTIAL, True),
    ([ERROR], v.NOT_MET, True),
    ([NV], v.NOT_VERIFIED, False),
    ([NV, NV], v.NOT_VERIFIED, False),
    ([PASS, NV], v.PARTIAL, False),
    ([NA], v.NOT_APPLICABLE, False),
    ([PASS, NA], v.MET, False),
    ([], v.NOT_VERIFIED, False),
])
def test_cell_verdict_from_check_outcomes(outcomes, verdict, failing):
    cv = cell_verdict(IA02, 3, outcomes)
    assert (cv.verdict, cv.failing) == (verdict, failing)


def test_error_is_never_a_pass():
    assert cell_verdict(IA02, 3, [ERROR, ERROR]).verdict == v.NOT_MET
    assert cell_verdict(IA02, 3, [PASS, ERROR]).failing


def test_only_not_verifiable_is_never_met_and_keeps_the_reason():
    cv = cell_verdict(IA02, 3, [NV])
    assert cv.verdict == v.NOT_VERIFIED and not cv.failing
    assert cv.reasons[0].code == "not_verifiable"
    assert "container: no kernel audit" in cv.reasons[0].as_dict()["reasons"]


def test_missing_results_for_an_automated_control_are_not_verified_missing_evidence():
    cv = cell_verdict(IA02, 3, [])
    assert cv.verdict == v.NOT_VERIFIED
    assert cv.reasons[0].code == "no_result"


def test_level_3_control_is_not_applicable_on_a_level_2_asset():
    ia06 = replace(load()["IA-06"], status="automated")
    assert ia06.level == 3
    assert cell_verdict(ia06, 2, [FAIL]).verdict == v.NOT_APPLICABLE
    assert cell_verdict(ia06, 3, [FAIL]).verdict == v.NOT_MET


def test_planned_control_is_never_met():
    planned = replace(IA02, status="planned")
    assert cell_verdict(planned, 3, [PASS, PASS]).verdict == v.NOT_VERIFIED
    assert cell_verdict(planned, 3, []).reasons[0].code == "planned"
    assert cell_verdict(planned, 3, [FAIL]).verdict == v.NOT_MET  # a failure found is still shown as one


def test_partial_control_is_at_most_partially_met():
    partial = replace(IA02, status="partial", notes="second factor enrolment is manual")
    cv = cell_verdict(partial, 3, [PASS])
    assert cv.verdict == v.PARTIAL and not cv.failing
    assert cv.reasons[0].code == "partial_status"


def test_manual_control_is_listed_with_its_owner_never_met():
    ph01 = load()["PH-01"]
    cv = cell_verdict(ph01, 3, [PASS])
    assert cv.verdict == v.MANUAL
    assert cv.reasons[0].as_dict()["owner"] == ph01.owner


def test_valid_waiver_covers_failures_without_claiming_met():
    cv = cell_verdict(IA02, 3, [FAIL], waiver(AS_OF + timedelta(days=30)), AS_OF)
    assert cv.verdict == v.WAIVED and not cv.failing


def test_waiver_is_valid_through_its_expiry_day():
    assert cell_verdict(IA02, 3, [FAIL], waiver(AS_OF), AS_OF).verdict == v.WAIVED
    assert cell_verdict(IA02, 3, [FAIL], waiver(AS_OF - timedelta(days=1)), AS_OF).failing


def test_expired_waiver_counts_as_a_failure():
    expired = waiver(AS_OF - timedelta(days=1))
    cv = cell_verdict(IA02, 3, [FAIL], expired, AS_OF)
    assert (cv.verdict, cv.failing) == (v.NOT_MET, True)
    assert "waiver_expired" in [r.code for r in cv.reasons]


def test_expired_waiver_fails_even_when_the_checks_now_pass():
    cv = cell_verdict(IA02, 3, [PASS], waiver(AS_OF - timedelta(days=1)), AS_OF)
    assert (cv.verdict, cv.failing) == (v.PARTIAL, True)


@pytest.mark.parametrize(("verdicts", "combined"), [
    ([v.MET, v.MET], v.MET),
    ([v.MET, v.NOT_MET], v.PARTIAL),
    ([v.NOT_MET, v.NOT_MET, v.NOT_APPLICABLE], v.NOT_MET),
    ([v.NOT_MET, v.NOT_VERIFIED], v.NOT_MET),
    ([v.MET, v.NOT_VERIFIED], v.PARTIAL),
    ([v.NOT_APPLICABLE, v.NOT_APPLICABLE], v.NOT_APPLICABLE),
    ([], v.NOT_APPLICABLE),
    ([v.NOT_VERIFIED, v.MANUAL], v.NOT_VERIFIED),
    ([v.MET, v.WAIVED], v.WAIVED),
])
def test_combining_verdicts_over_assets(verdicts, combined):
    assert combine(verdicts) == combined


@pytest.mark.parametrize(("verdicts", "combined"), [
    ([v.WAIVED, v.NOT_VERIFIED], v.WAIVED),  # a covered failure and nothing verified: nothing met, never 部分符合
    ([v.WAIVED, v.NOT_MET], v.NOT_MET),  # a covered failure and an uncovered one: nothing met
    ([v.WAIVED, v.MANUAL], v.WAIVED),
    ([v.WAIVED, v.NOT_VERIFIED, v.MANUAL, v.NOT_APPLICABLE], v.WAIVED),
    ([v.WAIVED, v.NOT_MET, v.NOT_VERIFIED], v.NOT_MET),
    ([v.WAIVED, v.WAIVED], v.WAIVED),
    ([v.WAIVED, v.MET, v.NOT_VERIFIED], v.PARTIAL),  # something met beside the waived failure
    ([v.WAIVED, v.PARTIAL], v.PARTIAL),
    ([v.WAIVED, v.MET, v.NOT_MET], v.PARTIAL),
])
def test_combining_waived_cells_never_claims_what_nothing_met(verdicts, combined):
    assert combine(verdicts) == combined


def test_waived_failure_beside_unverifiable_checks_is_waived_with_both_reasons():
    cv = cell_verdict(IA02, 3, [FAIL, NV], waiver(AS_OF + timedelta(days=30)), AS_OF)
    assert (cv.verdict, cv.failing) == (v.WAIVED, False)
    assert [r.code for r in cv.reasons] == ["waived", "not_verifiable"]
    assert "container: no kernel audit" in cv.reasons[1].as_dict()["reasons"]


def test_waived_failure_with_nothing_passed_is_waived_not_partially_met():
    cv = cell_verdict(IA02, 3, [FAIL, ERROR], waiver(AS_OF + timedelta(days=30)), AS_OF)
    assert (cv.verdict, cv.failing) == (v.WAIVED, False)
    assert cv.reasons[0].as_dict()["failed"] == 2


def test_cells_of_waived_and_unverified_checks_combine_over_assets_without_partial_credit():
    """A control whose waived failure on one asset meets a not-verifiable or a failing result on another."""
    cat = catalog_with(only=("IA-02",))
    covered = waiver(AS_OF + timedelta(days=30), assets_=("app1",))
    results = [result("app1", "IA-02", "fail", "minlen"), result("db1", "IA-02", "not_verifiable", "minlen"),
               result("db2", "IA-02", "fail", "minlen")]
    with_unverified = make_report(results[:2], cat, assets(("app1", "linux"), ("db1", "linux")), [covered])
    row = with_unverified.rows[0]
    assert [c.verdict for c in row.cells] == [v.WAIVED, v.NOT_VERIFIED] and row.verdict == v.WAIVED
    assert with_unverified.by_asset[0].verdict == v.WAIVED
    with_failure = make_report([results[0], results[2]], cat, assets(("app1", "linux"), ("db2", "linux")), [covered])
    row = with_failure.rows[0]
    assert [c.verdict for c in row.cells] == [v.WAIVED, v.NOT_MET] and row.verdict == v.NOT_MET and row.failing
    assert with_failure.by_clause[0].verdict == v.NOT_MET


def test_report_verdict_per_asset_and_per_control():
    cat = catalog_with(automated=("IA-02", "DB-03"), only=("IA-02", "DB-03"))
    results = [
        result("app1", "IA-02", "pass", "minlen"), result("app1", "IA-02", "pass", "letters"),
        result("db1", "IA-02", "pass", "minlen"), result("db1", "IA-02", "fail", "letters"),
        result("db2", "IA-02", "fail", "minlen"),
        result("db1", "DB-03", "pass", kind="postgresql"),
    ]
    report = make_report(results, cat, assets(("app1", "linux"), ("db1", "linux"), ("db2", "linux"),
                                              ("db1", "postgresql")))
    assert cell(report, "IA-02", "app1/linux").verdict == v.MET
    assert cell(report, "IA-02", "db1/linux").verdict == v.PARTIAL
    assert cell(report, "IA-02", "db2/linux").verdict == v.NOT_MET
    assert cell(report, "DB-03", "db1/postgresql").verdict == v.MET
    row = next(r for r in report.rows if r.control.id == "IA-02")
    assert row.verdict == v.PARTIAL and row.failing
    assert report.exit_code == 1 and report.overall == "fail"  # 2 of 4 cells met: 50 %, 不符合
    # db1 is a Linux asset and a PostgreSQL asset: database controls are judged on the second only
    assert [c.asset.key for c in next(r for r in report.rows if r.control.id == "DB-03").cells] == ["db1/postgresql"]


def test_no_failures_gives_exit_code_zero_with_manual_gaps_when_every_automated_control_has_evidence():
    cat = catalog_with(only=("IA-01", "IA-02", "IA-03", "PH-01"))
    results = [result("app1", cid, "pass") for cid in ("IA-01", "IA-02", "IA-03")]
    report = make_report(results, cat, assets(("app1", "linux")))
    assert report.exit_code == 0
    assert report.overall == "pass_with_gaps"  # 3 of 4 met: PH-01 is manual, 75 %
    assert report.conclusion.rule == "share_mid" and report.conclusion.missing == 0


def test_missing_evidence_for_automated_controls_allows_no_conclusion():
    """The whole catalog with one passing result: automated controls without evidence block 符合 and 基本符合."""
    report = make_report([result("app1", "IA-02", "pass")], catalog_with(automated=("IA-02",)), assets(("app1", "linux")))
    assert report.overall == v.INCONCLUSIVE and report.exit_code == 2
    assert report.conclusion.rule == "missing_evidence"
    missing = {(c.control.id, c.asset.key) for c in report.missing_evidence}
    assert ("IA-01", "app1/linux") in missing and ("IA-02", "app1/linux") not in missing
    assert not any(c.control.status in ("manual", "planned") for c in report.missing_evidence)
    assert report.conclusion.missing == len(report.missing_evidence)
    assert report.conclusion.evidenced == sum(c.in_scope and c.evidenced for row in report.rows for c in row.cells) == 1


def test_zero_results_conclude_nothing():
    report = make_report([], catalog_with(), assets(("app1", "linux")))
    assert report.overall == v.INCONCLUSIVE and report.exit_code == 2
    assert report.conclusion.rule == "no_evidence" and report.conclusion.evidenced == 0


def test_failing_cells_carry_the_risk_of_their_control_and_waived_ones_count_as_findings():
    cat = catalog_with(only=("IA-01", "IA-02", "IA-03", "OG-01"))  # severities 高, 高, 中 and (manual) 低
    covered = waiver(AS_OF + timedelta(days=30), control="IA-01")
    results = [result("app1", "IA-01", "fail"), result("app1", "IA-02", "fail"), result("app1", "IA-03", "fail")]
    report = make_report(results, cat, assets(("app1", "linux")), [covered])
    risks = {c.control.id: c.risk for c in report.findings}
    assert risks == {"IA-01": "high", "IA-02": "high", "IA-03": "medium"}
    assert cell(report, "OG-01", "platform/organisation").risk is None  # manual, not a finding
    assert report.conclusion.findings_by_risk == {"high": 2, "medium": 1, "low": 0} and report.conclusion.major == 2
