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
                 waiver: Waiver | None = None, as_of: date | None = None) -> CellVerdict:
    """Verdict of `control` on one asset from its checks' (outcome, reason) pairs.

    `waiver` is the waiver covering this control on this asset, if any; `as_of` the date it is judged on.
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
    reasons: list[Reason] = []
    expired = waiver is not None and as_of is not None and waiver.expired(as_of)
    if expired:
        bad += 1
        reasons.append(Reason.of("waiver_expired", expires=waiver.expires.isoformat()))  # type: ignore[union-attr]
    if bad:
        failed = bad - (1 if expired else 0)
        if waiver is not None and not expired:
            return CellVerdict(WAIVED, False, (Reason.of("waived", failed=failed, approved_by=waiver.approved_by,
                                                         expires=waiver.expires.isoformat()),))
        if failed:
            reasons.insert(0, Reason.of("failed", failed=failed, total=decisive))
        return CellVerdict(PARTIAL if passed else NOT_MET, True, tuple(reasons))
    if decisive == 0:
        if not_applicable:
            notes = sorted({reason for outcome, reason in outcomes if outcome == "not_applicable" and reason})
            return CellVerdict(NOT_APPLICABLE, False, (Reason.of("checks_not_applicable", reasons="; ".join(notes)),))
        code = "planned" if control.status == "planned" else "no_result"
        return CellVerdict(NOT_VERIFIED, False, (Reason.of(code),))
    if not passed:
        return CellVerdict(NOT_VERIFIED, False,
                           (Reason.of("not_verifiable", reasons="; ".join(sorted(set(filter(None, unverifiable))))),))
    verdict = MET
    if unverifiable:
        verdict = PARTIAL
        reasons.append(Reason.of("some_unverifiable", passed=passed, unverifiable=len(unverifiable),
                                 reasons="; ".join(sorted(set(filter(None, unverifiable))))))
    else:
        reasons.append(Reason.of("all_passed", passed=passed))
    return cap_by_status(control, CellVerdict(verdict, False, tuple(reasons)))


def cap_by_status(control: Control, cell: CellVerdict) -> CellVerdict:
    """A planned control is never claimed as met, a partial one at most partially met."""
    if control.status == "planned" and cell.verdict in (MET, PARTIAL):
        return CellVerdict(NOT_VERIFIED, False, (Reason.of("planned_checks_passed"), *cell.reasons))
    if control.status == "partial" and cell.verdict == MET:
        return CellVerdict(PARTIAL, False, (Reason.of("partial_status", notes=control.notes), *cell.reasons))
    return cell


def combine(verdicts: Iterable[str]) -> str:
    """One verdict for many cells (a control over its assets, a clause, an article, an asset)."""
    present = {v for v in verdicts if v != NOT_APPLICABLE}
    if not present:
        return NOT_APPLICABLE
    if len(present) == 1:
        return next(iter(present))
    if present <= {NOT_VERIFIED, MANUAL}:
        return NOT_VERIFIED
    if present <= {MET, WAIVED}:
        return WAIVED
    if not present & {MET, PARTIAL, WAIVED}:
        return NOT_MET  # failures beside unverified or manual cells: nothing is met
    return PARTIAL


def met_share(counts: Counter) -> float | None:
    """Share of in-scope cells that are met (不适用 excluded); None when nothing is in scope."""
    in_scope = sum(n for v, n in counts.items() if v != NOT_APPLICABLE)
    return counts[MET] / in_scope if in_scope else None


def overall(counts: Counter, failing: int) -> str:
    """Overall conclusion in the terms of a classified-protection assessment: 符合 / 基本符合 / 不符合."""
    if failing:
        return "fail"
    in_scope = sum(n for v, n in counts.items() if v != NOT_APPLICABLE)
    if in_scope and counts[MET] == in_scope:
        return "pass"
    return "pass_with_gaps"
