"""The overall conclusion (verdicts.conclude): the 2025 template's rule after the evidence gate, one case per test."""

from __future__ import annotations

from collections import Counter

import pytest

from baseline.catalog import SEVERITIES, load
from baseline.report import labels
from baseline.report import verdicts as v
from baseline.report.verdicts import conclude, risk_level


def cells(met: int = 0, **others: int) -> Counter:
    """Verdict counts: `met` 符合 cells and others by verdict code (not_met=2, not_verified=1, ...)."""
    return Counter({v.MET: met, **others})


def test_no_in_scope_cell_at_all_is_no_conclusion():
    c = conclude(Counter(), [], evidenced=0, missing=0)
    assert (c.code, c.rule, c.share) == (v.INCONCLUSIVE, "no_evidence", None)


def test_only_not_applicable_cells_is_no_conclusion():
    c = conclude(cells(not_applicable=5), [], evidenced=0, missing=0)
    assert (c.code, c.rule, c.in_scope) == (v.INCONCLUSIVE, "no_evidence", 0)


def test_in_scope_cells_without_any_evidence_are_no_conclusion():
    # e.g. only manual, planned and not-verifiable cells: nothing passed or failed
    c = conclude(cells(manual=3, not_verified=4), [], evidenced=0, missing=0)
    assert (c.code, c.rule) == (v.INCONCLUSIVE, "no_evidence")


def test_missing_evidence_that_could_change_the_conclusion_is_no_conclusion():
    # 95 of 100 met, 5 automated cells without a result: 符合 is not claimed without them
    c = conclude(cells(95, not_verified=5), [], evidenced=95, missing=5)
    assert (c.code, c.rule) == (v.INCONCLUSIVE, "missing_evidence")


def test_missing_evidence_never_allows_basically_compliant_either():
    c = conclude(cells(70, not_met=25, not_verified=5), ["medium"] * 25, evidenced=95, missing=5)
    assert (c.code, c.rule) == (v.INCONCLUSIVE, "missing_evidence")


def test_not_compliant_stands_when_even_all_missing_evidence_met_would_not_lift_the_share_above_60():
    # 50 met + 10 missing = 60 of 100 at best: not above 60 %
    c = conclude(cells(50, not_met=40, not_verified=10), ["high"] * 40, evidenced=90, missing=10)
    assert (c.code, c.rule) == (v.NOT_COMPLIANT, "share_low")
    assert c.params()["upper"] == "60.0%"


def test_share_above_90_without_high_risk_finding_is_compliant():
    c = conclude(cells(91, not_met=9), ["medium"] * 5 + ["low"] * 4, evidenced=100, missing=0)
    assert (c.code, c.rule) == (v.COMPLIANT, "share_high")
    assert c.findings_by_risk == {"high": 0, "medium": 5, "low": 4} and c.major == 0


def test_every_cell_met_is_compliant():
    c = conclude(cells(10, not_applicable=3), [], evidenced=10, missing=0)
    assert (c.code, c.share) == (v.COMPLIANT, 1.0)


def test_share_above_90_with_a_high_risk_finding_is_basically_compliant():
    # a high-risk finding may be a major hidden risk (重大风险隐患): 符合 needs none
    c = conclude(cells(99, not_met=1), ["high"], evidenced=100, missing=0)
    assert (c.code, c.rule, c.major) == (v.BASICALLY_COMPLIANT, "major_risk", 1)


def test_a_waived_high_risk_finding_also_bars_compliant():
    c = conclude(cells(99, waived=1), ["high"], evidenced=100, missing=0)
    assert (c.code, c.rule) == (v.BASICALLY_COMPLIANT, "major_risk")


def test_share_of_exactly_90_is_basically_compliant():
    c = conclude(cells(90, not_met=10), ["low"] * 10, evidenced=100, missing=0)
    assert (c.code, c.rule) == (v.BASICALLY_COMPLIANT, "share_mid")


def test_share_between_60_and_90_is_basically_compliant_even_with_high_risk_findings():
    c = conclude(cells(75, not_met=25), ["high"] * 25, evidenced=100, missing=0)
    assert (c.code, c.rule) == (v.BASICALLY_COMPLIANT, "share_mid")


def test_share_of_exactly_60_is_not_compliant():
    c = conclude(cells(60, not_met=40), ["low"] * 40, evidenced=100, missing=0)
    assert (c.code, c.rule) == (v.NOT_COMPLIANT, "share_low")


def test_share_below_60_is_not_compliant_without_any_high_risk_finding():
    c = conclude(cells(40, not_met=60), ["low"] * 60, evidenced=100, missing=0)
    assert (c.code, c.rule) == (v.NOT_COMPLIANT, "share_low")


@pytest.mark.parametrize("verdict", [v.NOT_VERIFIED, v.MANUAL, v.WAIVED, v.PARTIAL])
def test_only_met_cells_count_in_the_share(verdict):
    c = conclude(cells(9, **{verdict: 1}), [], evidenced=10, missing=0)
    assert c.share == 0.9 and c.code == v.BASICALLY_COMPLIANT


def test_unknown_risk_level_is_refused():
    with pytest.raises(ValueError, match="unknown risk level"):
        conclude(cells(1), ["critical"], evidenced=1, missing=0)


@pytest.mark.parametrize(("severity", "risk"), [("高", "high"), ("中", "medium"), ("低", "low")])
def test_catalog_severity_maps_to_a_risk_level(severity, risk):
    assert risk_level(severity) == risk
    assert labels.RISK[risk][0] == severity  # shown as 高 / 中 / 低 again


def test_every_severity_of_the_catalog_has_a_risk_level():
    assert {risk_level(c.severity) for c in load().controls.values()} <= set(v.RISKS)
    assert {risk_level(s) for s in SEVERITIES} == set(v.RISKS)


def test_unknown_severity_is_refused():
    with pytest.raises(ValueError, match="severity 'critical'"):
        risk_level("critical")


@pytest.mark.parametrize("rule", sorted(labels.CONCLUSION_RULE))
def test_every_rule_is_worded_in_both_languages_with_its_figures(rule):
    c = v.Conclusion(v.INCONCLUSIVE, rule, 0.5, 10, 5, 5, 2, (("high", 1), ("medium", 0), ("low", 0)), 1)
    zh, en = labels.conclusion_rule(c, "zh"), labels.conclusion_rule(c, "en")
    assert zh and en and "{" not in zh + en


def test_the_rule_names_the_template_edition_and_where_it_was_confirmed():
    for lang in labels.LANGS:
        text = labels.template_rule(lang)
        assert "2025" in text and "1846" in text and "90%" in text and "60%" in text
