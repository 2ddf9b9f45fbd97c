"""The assessment record sheet (测评记录表) as XLSX: one row per control × asset, plus summary, manual controls,
waivers and trend sheets. Written in openpyxl's write-only mode so that large estates stay fast."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Alignment, Font, PatternFill

from baseline.report import labels
from baseline.report import verdicts as v
from baseline.report.build import Group, Report, remediation
from baseline.report.text import methods, record, xml_safe

# A write-only worksheet of openpyxl, which has no type information.
Sheet = Any

RECORD_COLUMNS = ("category", "control_point", "requirement", "asset", "result_record", "verdict", "risk", "method",
                  "control_id", "articles", "clauses", "remediation", "waiver_col")
RECORD_WIDTHS = (16, 14, 50, 24, 70, 11, 9, 18, 11, 22, 22, 40, 30)
FILL = {
    v.MET: "C6EFCE", v.PARTIAL: "FFEB9C", v.NOT_MET: "FFC7CE", v.WAIVED: "DDEBF7",
    v.NOT_VERIFIED: "EDEDED", v.MANUAL: "E4DFEC", v.NOT_APPLICABLE: "FFFFFF",
}
MAX_CELL_CHARS = 32000  # Excel's limit is 32,767 characters per cell


def _text(value: object) -> str:
    text = xml_safe("" if value is None else str(value))
    return text if len(text) <= MAX_CELL_CHARS else text[:MAX_CELL_CHARS] + "…"


def asset_label(name: str, kind: str, lang: str) -> str:
    return f"{name}（{labels.kind(kind, lang)}）" if lang == "zh" else f"{name} ({labels.kind(kind, lang)})"


def _asset_key_label(key: str, lang: str) -> str:
    """The label of an asset's key, name/kind (Asset.key)."""
    name, _, kind = key.partition("/")
    return asset_label(name, kind, lang)


class _Styles:
    """Styles resolved once per sheet: assigning a style object to each cell re-hashes it every time, which
    dominates the writing time of a large sheet; cells copy the resolved style array of a template instead."""

    def __init__(self) -> None:
        self.bold = Font(bold=True)
        self.wrap = Alignment(wrap_text=True, vertical="top")
        self.fills = {k: PatternFill("solid", fgColor=c) for k, c in FILL.items()}
        self._resolved: dict[tuple[int, str], object] = {}

    def _styled(self, ws: Sheet, value: object, key: str, **style: object) -> WriteOnlyCell:
        cell = WriteOnlyCell(ws, value)
        resolved = self._resolved.get((id(ws), key))
        if resolved is None:
            for name, obj in style.items():
                setattr(cell, name, obj)
            self._resolved[(id(ws), key)] = cell._style
        else:
            cell._style = resolved  # shared, never changed after resolution
        return cell

    def header(self, ws: Sheet, keys: Iterable[str], lang: str) -> list[WriteOnlyCell]:
        cells = []
        for key in keys:
            cell = WriteOnlyCell(ws, labels.ui(key, lang) if key in labels.UI else key)
            cell.font = self.bold
            cells.append(cell)
        return cells

    def verdict(self, ws: Sheet, verdict: str, lang: str) -> WriteOnlyCell:
        return self._styled(ws, labels.verdict(verdict, lang), f"verdict:{verdict}", fill=self.fills[verdict])

    def wrapped(self, ws: Sheet, value: object) -> WriteOnlyCell:
        return self._styled(ws, _text(value), "wrap", alignment=self.wrap)


def _group_rows(ws: Sheet, styles: _Styles, title: str, groups: list[Group], *, label: Callable[[Group], str],
                lang: str) -> None:
    ws.append([])
    ws.append(styles.header(ws, [title, *(labels.verdict(k, lang) for k in v.VERDICTS), "met_share"], lang))
    for g in groups:
        share = g.met_share
        ws.append([label(g), *(g.counts[k] for k in v.VERDICTS), None if share is None else round(share, 4)])


def _summary(wb: Workbook, report: Report, styles: _Styles, lang: str) -> None:
    ws = wb.create_sheet(labels.ui("summary", lang))
    ws.column_dimensions["A"].width = 36
    title = WriteOnlyCell(ws, f"{report.platform} {labels.ui('title', lang)}")
    title.font = Font(bold=True, size=14)
    ws.append([title])
    share = report.met_share
    for key, value in (
        ("platform", report.platform), ("level", report.level), ("as_of", report.as_of.isoformat()),
        ("generated", report.generated), ("runs", ", ".join(r.run_id for r in report.runs) or labels.ui("none", lang)),
        ("overall", labels.pick(labels.OVERALL[report.overall], lang)),
        ("conclusion_rule", labels.conclusion_rule(report.conclusion, lang)),
        ("template_rule", labels.template_rule(lang)),
        ("failing_controls", ", ".join(r.control.id for r in report.failing_controls) or labels.ui("none", lang)),
        ("met_share", "—" if share is None else f"{share:.1%}"),
        ("findings", ("，" if lang == "zh" else ", ").join(
            f"{labels.pick(labels.RISK_FINDINGS[k], lang)} {n}" for k, n in report.conclusion.findings)),
        ("major", report.conclusion.major),
        ("in_scope_cells", report.conclusion.in_scope),
        ("evidenced_cells", report.conclusion.evidenced),
        ("missing_evidence", ", ".join(f"{c.control.id} {c.asset.key}" for c in report.missing_evidence)
         or labels.ui("none", lang)),
        ("evidence_window", labels.window_text(report.window, lang)),
        ("stale", len(report.stale)),
    ):
        ws.append([*styles.header(ws, [key], lang), _text(value) if isinstance(value, str) else value])
    ws.append([labels.ui("legend_explain", lang)])
    ws.append([])
    ws.append(styles.header(ws, ["methods", "checks_col", "evidenced_checks"], lang))
    for m in report.methods:
        ws.append([labels.method(m.method, lang), m.checks, m.evidenced])
    ws.append([labels.ui("methods_explain", lang)])
    _group_rows(ws, styles, "by_family", report.by_family, label=lambda g: f"{g.key} {g.zh if lang == 'zh' else g.en}",
                lang=lang)
    _group_rows(ws, styles, "by_asset", report.by_asset, label=lambda g: _asset_key_label(g.key, lang), lang=lang)
    _group_rows(ws, styles, "by_clause", report.by_clause, label=lambda g: g.key, lang=lang)
    _group_rows(ws, styles, "by_article", report.by_article, label=lambda g: g.key, lang=lang)


def _records(wb: Workbook, report: Report, styles: _Styles, lang: str) -> None:
    ws = wb.create_sheet("测评记录" if lang == "zh" else "Assessment record")
    for letter, width in zip("ABCDEFGHIJKLM", RECORD_WIDTHS, strict=True):
        ws.column_dimensions[letter].width = width
    ws.freeze_panes = "A2"
    ws.append(styles.header(ws, RECORD_COLUMNS, lang))
    separator = "、" if lang == "zh" else ", "
    for row in report.rows:
        control = row.control
        requirement = control.requirement_zh if lang == "zh" else control.requirement_en
        fixed = [row.family.category, control.control_point, requirement]
        refs = [control.id, separator.join(control.articles), separator.join(control.clauses)]
        for cell in row.cells:
            waiver = None
            if cell.waiver:
                waiver = _text(f"{cell.waiver.approved_by} → {cell.waiver.expires.isoformat()}: {cell.waiver.justification}")
            fix = remediation(control, cell.asset) if cell.failing or cell.verdict == v.NOT_MET else None
            risk = labels.pick(labels.RISK[cell.risk], lang) if cell.risk else None  # findings only
            ws.append([*fixed, asset_label(cell.asset.name, cell.asset.kind, lang), styles.wrapped(ws, record(cell, lang)),
                       styles.verdict(ws, cell.verdict, lang), risk, methods(cell, lang) or None, *refs, fix, waiver])
    ws.auto_filter.ref = f"A1:M{1 + sum(len(r.cells) for r in report.rows)}"


def _manual(wb: Workbook, report: Report, styles: _Styles, lang: str) -> None:
    ws = wb.create_sheet(labels.ui("manual", lang)[:31])
    ws.append(styles.header(ws, ("control_id", "control_point", "requirement", "owner", "articles", "clauses"), lang))
    for row in report.rows:
        c = row.control
        if c.status == "manual":
            ws.append([c.id, c.control_point, c.requirement_zh if lang == "zh" else c.requirement_en, c.owner,
                       "、".join(c.articles), "、".join(c.clauses)])


def _waivers(wb: Workbook, report: Report, styles: _Styles, lang: str) -> None:
    ws = wb.create_sheet(labels.ui("waivers", lang))
    ws.append(styles.header(ws, ("control_id", "asset", "justification", "approved_by", "approved_on", "expires",
                                 "state"), lang))
    for use in report.waivers:
        w = use.waiver
        state = labels.ui(use.state, lang) if use.cells or use.state == "expired" else labels.ui("unused", lang)
        ws.append([w.control, ", ".join(w.assets) + (f" ({w.asset_kind})" if w.asset_kind else ""), _text(w.justification),
                   w.approved_by, w.approved_on.isoformat(), w.expires.isoformat(), state])


def _stale(wb: Workbook, report: Report, styles: _Styles, lang: str) -> None:
    ws = wb.create_sheet(labels.ui("stale", lang)[:31])
    ws.append([labels.ui("evidence_window", lang), labels.window_text(report.window, lang)])
    ws.append(styles.header(ws, ("asset", "control_id", "check", "outcome", "time", "run"), lang))
    for r in report.stale:
        ws.append([asset_label(r.asset, r.asset_kind, lang), ", ".join(r.control_ids), _text(r.check),
                   labels.pick(labels.OUTCOME[r.outcome], lang), r.time, r.run_id])


def _trend(wb: Workbook, report: Report, styles: _Styles, lang: str) -> None:
    ws = wb.create_sheet(labels.ui("trend", lang)[:31])
    ws.append(styles.header(ws, ["run", "time", *(labels.verdict(k, lang) for k in v.VERDICTS), "met_share"], lang))
    for point in report.trend:
        share = point.met_share
        ws.append([point.run.run_id, point.run.last, *(point.counts[k] for k in v.VERDICTS),
                   None if share is None else round(share, 4)])


def write(report: Report, path: str | os.PathLike, lang: str = "zh") -> Path:
    path = Path(path)
    wb = Workbook(write_only=True)
    styles = _Styles()
    _summary(wb, report, styles, lang)
    _records(wb, report, styles, lang)
    _manual(wb, report, styles, lang)
    _waivers(wb, report, styles, lang)
    if report.stale:
        _stale(wb, report, styles, lang)
    if report.trend:
        _trend(wb, report, styles, lang)
    wb.save(path)
    return path
