"""The HTML report: one self-contained file (inline CSS, SVG and a few lines of script, no external assets),
Chinese by default with an in-page switch to English. Everything that comes from hosts is HTML-escaped."""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined
from markupsafe import Markup, escape

from baseline.report import charts, labels
from baseline.report import verdicts as v
from baseline.report.build import Cell, Report, remediation

TEMPLATES = Path(__file__).resolve().parent / "templates"
RISK = {"高": ("高", "High"), "中": ("中", "Medium"), "低": ("低", "Low")}


def bi(zh: str, en: str) -> Markup:
    """Both languages; the page shows one (CSS class on <html>)."""
    if zh == en:
        return escape(zh)
    return Markup('<span class="l-zh">{}</span><span class="l-en">{}</span>').format(zh, en)


def _pairs(table: dict[str, tuple[str, str]]) -> dict[str, Markup]:
    return {key: bi(*pair) for key, pair in table.items()}


@lru_cache(maxsize=1)
def environment() -> Environment:
    env = Environment(loader=FileSystemLoader(str(TEMPLATES)), autoescape=True, undefined=StrictUndefined,
                      trim_blocks=True, lstrip_blocks=True)
    env.filters["pct"] = lambda share: "—" if share is None else f"{share:.0%}"
    env.filters["pct1"] = lambda share: "—" if share is None else f"{share:.1%}"  # near the 60 % and 90 % lines
    return env


@lru_cache(maxsize=8192)
def _reasons_markup(reasons: tuple[v.Reason, ...]) -> Markup:
    return bi(labels.reasons(reasons, "zh"), labels.reasons(reasons, "en"))


def cell_reason(cell: Cell) -> Markup:
    return _reasons_markup(cell.reasons)


def render(report: Report, lang: str = "zh") -> str:
    verdict_badges = {key: Markup('<span class="badge v-{}">{}</span>').format(key, bi(*pair))
                      for key, pair in labels.VERDICT.items()}
    context = {
        "r": report, "lang": lang, "V": v, "T": _pairs(labels.UI), "badge": verdict_badges,
        "outcome": _pairs(labels.OUTCOME), "kind": _pairs(labels.KIND), "status": _pairs(labels.STATUS),
        "overall": _pairs(labels.OVERALL), "risk": _pairs(RISK), "bi": bi, "reason": cell_reason,
        "remediation": remediation, "verdicts": v.VERDICTS,
        "family_chart": charts.family_bars(report.by_family, labels.VERDICT),
        "trend_chart": charts.trend_line(report.trend) if len(report.trend) > 1 else Markup(""),
        "outcome_words": labels.OUTCOME, "UI": labels.UI, "method_words": labels.METHOD, "method": _pairs(labels.METHOD),
        "manual_rows": [row for row in report.rows if row.control.status == "manual"],
        "risk_level": _pairs(labels.RISK), "risk_findings": _pairs(labels.RISK_FINDINGS), "risks": v.RISKS,
        "conclusion_rule": bi(labels.conclusion_rule(report.conclusion, "zh"),
                              labels.conclusion_rule(report.conclusion, "en")),
        "template_rule": bi(labels.template_rule("zh"), labels.template_rule("en")),
        "window_text": bi(labels.window_text(report.window, "zh"), labels.window_text(report.window, "en")),
    }
    return environment().get_template("report.html.j2").render(context)


def write(report: Report, path: str | os.PathLike, lang: str = "zh") -> Path:
    path = Path(path)
    path.write_text(render(report, lang), encoding="utf-8")
    return path
