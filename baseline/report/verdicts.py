"""Verdict rules: pure functions from check outcomes to a control's verdict on one asset, and on many.

Per control × asset:
  - control level above the asset's protection level, or every check not applicable  -> 不适用
  - control status manual                                                         -> 人工核查 (with owner)
  - failing checks (fail, error) or an expired waiver:
        a valid waiver covers them                                                -> 已豁免 (shown, not failing)
        some checks passed                                                        -> 部分符合 (failing)
        none passed                                                               -> 不符合 (failing)
  - every decisive check passed, none left unverifiable                           -> 符合
  - some passed, others not verifiable here                                       -> 部分符合 (not failing)
  - only not-verifiable results, or no result at all                              -> 未验证 (never 符合)
  - catalog status caps what may be claimed: planned -> at most 未验证, partial -> at most 部分符合.

Overall: `conclude()`, the rule of the 网络安全等级测评报告模版（2025版）, after the evidence gate (see below).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from baseline.catalog import Control
from baseline.waivers import Waiver

MET = "met"
PARTIAL = "partial"
NOT_MET = "not_met"
NOT_APPLICABLE = "not_applicable"
NOT_VERIFIED = "not_verified"
MANUAL = "manual"
WAIVED = "waived"
VERDICTS = (MET, PARTIAL, NOT_MET, WAIVED, NOT_VERIFIED, MANUAL, NOT_APPLICABLE)

FAILING_OUTCOMES = ("fail", "error")


@dataclass(frozen=True)
class Reason:
    """Why a verdict was reached: a code with parameters, worded in each language by `labels.reason`."""

    code: str
    params: tuple[tuple[str, Any], ...] = ()

    @classmethod
    def of(cls, code: str, **params: Any) -> Reason:
        return cls(code, tuple(sorted(params.items())))

    def as_dict(self) -> dict[str, Any]:
        return dict(self.params)


@dataclass(frozen=True)
class CellVerdict:
    verdict: str
    failing: bool  # counts as a failure of an in-scope control (CI exit code)
    reasons: tuple[Reason, ...] = field(default_factory=tuple)


def cell_verdict(control: Control, asset_level: int, outcomes: Sequence[tuple[str, str]],
                 waiver: Waiver | None = None, as_of: date | None = None, *,
                 stale: Sequence[str] = ()) -> CellVerdict:
    """Verdict of `control` on one asset from its checks' (outcome, reason) pairs.

    `waiver` is the waiver covering this control on this asset, if any; `as_of` the date it is judged on.
    `stale` holds the times of this cell's records left out for being older than the evidence window: they
    are named in the reasons, never counted.
    """
    if control.level > asset_level:
        return CellVerdict(NOT_APPLICABLE, False, (Reason.of("level", level=control.level, asset_level=asset_level),))
    if control.status == "manual":
        return CellVerdict(MANUAL, False, (Reason.of("manual", owner=control.owner),))
    passed = bad = not_applicable = 0
    unverifiable: list[str] = []
    for outcome, reason in outcomes:
        if outcome == "pass":
            passed += 1
        elif outcome in FAILING_OUTCOMES:
            bad += 1
        elif outcome == "not_verifiable":
            unverifiable.append(reason)
        else:
            not_applicable += 1
    decisive = passed + bad + len(unverifiable)
    unverifiable_reasons = "; ".join(sorted(set(filter(None, unverifiable))))
    reasons: list[Reason] = []
    expired = waiver is not None and as_of is not None and waiver.expired(as_of)
    if expired:
        bad += 1
        reasons.append(Reason.of("waiver_expired", expires=waiver.expires.isoformat()))  # type: ignore[union-attr]
    stale_note = (Reason.of("stale_left_out", count=len(stale), last=max(stale)),) if stale else ()
    if bad:
        failed = bad - (1 if expired else 0)
        if waiver is not None and not expired:
            extra = (Reason.of("not_verifiable", reasons=unverifiable_reasons),) if unverifiable else ()
            return CellVerdict(WAIVED, False, (Reason.of("waived", failed=failed, approved_by=waiver.approved_by,
                                                         expires=waiver.expires.isoformat()), *extra, *stale_note))
        if failed:
            reasons.insert(0, Reason.of("failed", failed=failed, total=decisive))
        return CellVerdict(PARTIAL if passed else NOT_MET, True, (*reasons, *stale_note))
    if decisive == 0:
        if not_applicable:
            notes = sorted({reason for outcome, reason in outcomes if outcome == "not_applicable" and reason})
            return CellVerdict(NOT_APPLICABLE, False, (Reason.of("checks_not_applicable", reasons="; ".join(notes)),))
        if control.status == "planned":
            return CellVerdict(NOT_VERIFIED, False, (Reason.of("planned"), *stale_note))
        if stale:
            return CellVerdict(NOT_VERIFIED, False, (Reason.of("stale", count=len(stale), last=max(stale)),))
        return CellVerdict(NOT_VERIFIED, False, (Reason.of("no_result"),))
    if not passed:
        return CellVerdict(NOT_VERIFIED, False, (Reason.of("not_verifiable", reasons=unverifiable_reasons), *stale_note))
    verdict = MET
    if unverifiable:
        verdict = PARTIAL
        reasons.append(Reason.of("some_unverifiable", passed=passed, unverifiable=len(unverifiable),
                                 reasons=unverifiable_reasons))
    else:
        reasons.append(Reason.of("all_passed", passed=passed))
    return cap_by_status(control, CellVerdict(verdict, False, (*reasons, *stale_note)))


def cap_by_status(control: Control, cell: CellVerdict) -> CellVerdict:
    """A planned control is never claimed as met, a partial one at most partially met."""
    if control.status == "planned" and cell.verdict in (MET, PARTIAL):
        return CellVerdict(NOT_VERIFIED, False, (Reason.of("planned_checks_passed"), *cell.reasons))
    if control.status == "partial" and cell.verdict == MET:
        return CellVerdict(PARTIAL, False, (Reason.of("partial_status", notes=control.notes), *cell.reasons))
    return cell


def combine(verdicts: Iterable[str]) -> str:
    """One verdict for many cells (a control over its assets, a clause, an article, an asset).

    The combination never claims more than its cells: 已豁免 covers failures but meets nothing, so waived cells
    beside cells that are not met, not verified or manual give no 部分符合 (nothing in them was met).
    """
    present = {v for v in verdicts if v != NOT_APPLICABLE}
    if not present:
        return NOT_APPLICABLE
    if len(present) == 1:
        return next(iter(present))
    if present <= {NOT_VERIFIED, MANUAL}:
        return NOT_VERIFIED
    if present <= {MET, WAIVED}:
        return WAIVED
    if not present & {MET, PARTIAL}:  # nothing met anywhere
        if NOT_MET in present:
            return NOT_MET  # failures beside waived, unverified or manual cells
        return WAIVED  # waived failures beside unverified or manual cells: the known, covered failure shows
    return PARTIAL


def met_share(counts: Counter) -> float | None:
    """Share of in-scope cells that are met (不适用 excluded); None when nothing is in scope."""
    in_scope = sum(n for v, n in counts.items() if v != NOT_APPLICABLE)
    return counts[MET] / in_scope if in_scope else None


# --- Overall conclusion ----------------------------------------------------------------------------------------
#
# The conclusion of the 网络安全等级测评报告模版（2025版）, in force for reports dated from 2025-03-20 on, as the
# Ministry's letter 公网安〔2025〕1846号 (annex, question 20) explains it: the share of the assessment items met
# decides, together with 重大风险隐患 (major hidden risks):
#   share met above 90 % and no major hidden risk   -> 符合
#   share met above 60 % (up to 90 %, or above 90 % with a major hidden risk)  -> 基本符合
#   share met below 60 %                              -> 不符合
# High-risk findings decide nothing on their own in that edition, and no composite score enters the
# conclusion; high-risk findings matter through the major hidden risks, which one high-risk problem can cause
# by itself. The report cannot weigh how several medium or low problems add up (that is the assessor's call), so
# every high-risk finding counts as a candidate major hidden risk and bars 符合. The letter leaves exactly 90 %
# and exactly 60 % unassigned; the report takes the lower conclusion there.
#
# No conclusion without evidence: before any of that, the report needs evidence. No in-scope cell with a
# check result that passed or failed -> 无法得出结论 (inconclusive). In-scope cells of automated or partial
# controls with no current result (none at all, or only results older than the evidence window) -> 无法得出结论,
# unless the share met is at most 60 % even when every such cell is counted as met: then 不符合 stands whatever
# the missing evidence would show.

TEMPLATE = ("网络安全等级测评报告模版（2025版）", "网络安全等级测评报告模版 (2025 edition)")
RULE_SOURCE = "公网安〔2025〕1846号, 附件 问题二十"
FULL_SHARE = 0.9  # 符合: share met above this, and no major hidden risk
BASIC_SHARE = 0.6  # 基本符合: share met above this

COMPLIANT = "pass"  # 符合
BASICALLY_COMPLIANT = "pass_with_gaps"  # 基本符合
NOT_COMPLIANT = "fail"  # 不符合
INCONCLUSIVE = "inconclusive"  # 无法得出结论
CONCLUSIONS = (COMPLIANT, BASICALLY_COMPLIANT, NOT_COMPLIANT, INCONCLUSIVE)

# Risk of a finding (风险等级), from the control's catalog severity (高 / 中 / 低).
RISKS = ("high", "medium", "low")
RISK_OF_SEVERITY = {"高": "high", "中": "medium", "低": "low"}
EVIDENCE_OUTCOMES = ("pass", "fail", "error")  # a result that shows the control's state (not_verifiable does not)


def risk_level(severity: str) -> str:
    """high / medium / low for the catalog's 高 / 中 / 低; anything else is a catalog error."""
    try:
        return RISK_OF_SEVERITY[severity]
    except KeyError:
        raise ValueError(f"severity {severity!r} is not one of {', '.join(RISK_OF_SEVERITY)}") from None


def is_finding(verdict: str, failing: bool) -> bool:
    """A security problem found (安全问题): a failing cell, or failures covered by a waiver (covered, still there)."""
    return failing or verdict == WAIVED


@dataclass(frozen=True)
class Conclusion:
    """The overall conclusion and what decided it."""

    code: str  # pass / pass_with_gaps / fail / inconclusive
    rule: str  # no_evidence / missing_evidence / share_low / share_mid / major_risk / share_high
    share: float | None  # share of in-scope cells met
    in_scope: int
    met: int
    evidenced: int  # in-scope cells with a result that passed or failed
    missing: int  # in-scope cells of automated or partial controls without a current result
    findings: tuple[tuple[str, int], ...]  # (risk, count) for high, medium, low
    major: int  # high-risk findings: candidate major hidden risks (重大风险隐患)

    @property
    def findings_by_risk(self) -> dict[str, int]:
        return dict(self.findings)

    def params(self) -> dict[str, Any]:
        """Values for the wording of the rule (labels.CONCLUSION_RULE)."""
        share = "—" if self.share is None else f"{self.share:.1%}"
        upper = "—" if not self.in_scope else f"{(self.met + self.missing) / self.in_scope:.1%}"
        return {"share": share, "upper": upper, "missing": self.missing, "major": self.major,
                "in_scope": self.in_scope, "full": f"{FULL_SHARE:.0%}", "basic": f"{BASIC_SHARE:.0%}"}


def conclude(counts: Counter, findings: Iterable[str], *, evidenced: int, missing: int) -> Conclusion:
    """Overall conclusion from the cells' verdict counts, the findings' risks (high / medium / low, one per
    failing or waived cell), the number of in-scope cells with evidence and of automated or partial in-scope
    cells without a current result. Pure; the rules are in the comment above."""
    by_risk = Counter(findings)
    unknown = set(by_risk) - set(RISKS)
    if unknown:
        raise ValueError(f"unknown risk level(s) {', '.join(sorted(unknown))}; expected {', '.join(RISKS)}")
    in_scope = sum(n for v, n in counts.items() if v != NOT_APPLICABLE)
    met = counts[MET]
    share = met / in_scope if in_scope else None
    risk_counts = tuple((risk, by_risk[risk]) for risk in RISKS)

    def result(code: str, rule: str) -> Conclusion:
        return Conclusion(code, rule, share, in_scope, met, evidenced, missing, risk_counts, by_risk["high"])

    if not in_scope or not evidenced:
        return result(INCONCLUSIVE, "no_evidence")
    if (met + missing) / in_scope <= BASIC_SHARE:
        return result(NOT_COMPLIANT, "share_low")  # even every missing cell met would not lift the share above 60 %
    if missing:
        return result(INCONCLUSIVE, "missing_evidence")
    if share is not None and share > FULL_SHARE:
        return result(BASICALLY_COMPLIANT, "major_risk") if by_risk["high"] else result(COMPLIANT, "share_high")
    return result(BASICALLY_COMPLIANT, "share_mid")
