"""The report for machines: one JSON document (schema `baseline.report/1`) with every cell and its evidence."""

from __future__ import annotations

import json
import os
from dataclasses import asdict
from pathlib import Path
from typing import Any

from baseline.report import labels
from baseline.report import verdicts as v
from baseline.report.build import Cell, Group, Report, remediation
from baseline.report.text import reasons
from baseline.results import CheckResult

SCHEMA = "baseline.report/1"


def _counts(counts: Any) -> dict[str, int]:
    return {k: counts[k] for k in sorted(counts) if counts[k]}


def _group(group: Group) -> dict[str, Any]:
    return {"key": group.key, "verdict": group.verdict, "failing_cells": group.failing, "counts": _counts(group.counts),
            "met_share": group.met_share, "controls": group.control_ids}


def _cell(cell: Cell) -> dict[str, Any]:
    return {
        "asset": cell.asset.name, "asset_kind": cell.asset.kind, "verdict": cell.verdict, "failing": cell.failing,
        "risk": cell.risk, "missing_evidence": cell.missing_evidence,
        "reasons": [{"code": r.code, **r.as_dict()} for r in cell.reasons], "reason": reasons(cell, "en"),
        "methods": dict(cell.methods),
        "waiver": cell.waiver.to_dict() if cell.waiver else None, "remediation": remediation(cell.control, cell.asset),
        "checks": [_check(c) for c in cell.checks],
    }


def _check(c: CheckResult) -> dict[str, Any]:
    """A results record without what the cell already says (asset, kind); built by hand: asdict() is slow."""
    return {"run_id": c.run_id, "check": c.check, "control_ids": c.control_ids, "outcome": c.outcome,
            "reason": c.reason, "evidence": [dict(e.__dict__) for e in c.evidence], "duration_s": c.duration_s,
            "time": c.time, "host_kind": c.host_kind, "vendor": c.vendor, "method": c.method}


def _conclusion(report: Report) -> dict[str, Any]:
    c = report.conclusion
    return {"rule": c.rule, "why": {"zh": labels.conclusion_rule(c, "zh"), "en": labels.conclusion_rule(c, "en")},
            "template": v.TEMPLATE[0], "source": v.RULE_SOURCE,
            "template_rule": {"zh": labels.template_rule("zh"), "en": labels.template_rule("en")},
            "thresholds": {"compliant_above": v.FULL_SHARE, "basically_compliant_above": v.BASIC_SHARE},
            "share_met": c.share, "in_scope_cells": c.in_scope, "met_cells": c.met, "evidenced_cells": c.evidenced,
            "findings": c.findings_by_risk, "major_risk_candidates": c.major,
            "missing_evidence": [{"control": cell.control.id, "asset": cell.asset.name, "asset_kind": cell.asset.kind}
                                 for cell in report.missing_evidence]}


def _stale(c: CheckResult) -> dict[str, Any]:
    return {"asset": c.asset, "asset_kind": c.asset_kind, "check": c.check, "control_ids": c.control_ids,
            "outcome": c.outcome, "time": c.time, "run_id": c.run_id}


def to_dict(report: Report) -> dict[str, Any]:
    return {
        "schema": SCHEMA,
        "generated": report.generated,
        "as_of": report.as_of.isoformat(),
        "platform": report.platform,
        "protection_level": report.level,
        "overall": {"verdict": report.overall, "zh": labels.OVERALL[report.overall][0],
                    "en": labels.OVERALL[report.overall][1],
                    "failing_cells": report.failing_cells, "failing_controls": [r.control.id for r in report.failing_controls],
                    "counts": _counts(report.counts), "met_share": report.met_share, "exit_code": report.exit_code,
                    "conclusion": _conclusion(report),
                    "methods": {m.method: {"checks": m.checks, "evidenced": m.evidenced,
                                           "zh": labels.method(m.method, "zh"),
                                           "en": labels.method(m.method, "en")} for m in report.methods}},
        "evidence_window": report.window.describe() if report.window else None,
        "stale": [_stale(c) for c in report.stale],
        "runs": [asdict(run) for run in report.runs],
        "assets": [{**asdict(a), "key": a.key} for a in report.assets],
        "summary": {"family": [_group(g) for g in report.by_family], "clause": [_group(g) for g in report.by_clause],
                    "article": [_group(g) for g in report.by_article], "asset": [_group(g) for g in report.by_asset]},
        "controls": [
            {"id": row.control.id, "title": {"zh": row.control.title_zh, "en": row.control.title_en},
             "family": row.control.family, "status": row.control.status, "severity": row.control.severity,
             "risk": v.risk_level(row.control.severity),
             "level": row.control.level, "articles": list(row.control.articles), "clauses": list(row.control.clauses),
             "owner": row.control.owner, "verdict": row.verdict, "failing": row.failing, "cells": [_cell(c) for c in row.cells]}
            for row in report.rows
        ],
        "waivers": [{**use.waiver.to_dict(), "state": use.state, "applied_to": use.cells} for use in report.waivers],
        "trend": [{"run_id": p.run.run_id, "time": p.run.last, "counts": _counts(p.counts), "met_share": p.met_share,
                   "failing_cells": p.failing} for p in report.trend],
        "changes": [asdict(c) for c in report.changes],
        "warnings": report.warnings,
    }


def write(report: Report, path: str | os.PathLike) -> Path:
    path = Path(path)
    # dumps() uses the C encoder; dump() to a file would encode piece by piece in Python
    path.write_text(json.dumps(to_dict(report), ensure_ascii=False, default=str), encoding="utf-8")
    return path
