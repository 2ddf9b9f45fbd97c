"""Inline SVG charts (no external assets): compliance per control family, and the trend between runs."""

from __future__ import annotations

from collections.abc import Sequence

from markupsafe import Markup, escape

from baseline.report import verdicts as v
from baseline.report.build import Group, TrendPoint

COLOURS = {
    v.MET: "#2e7d32", v.PARTIAL: "#f9a825", v.NOT_MET: "#c62828", v.WAIVED: "#1565c0",
    v.NOT_VERIFIED: "#9e9e9e", v.MANUAL: "#6a1b9a",
}
STACK = (v.MET, v.PARTIAL, v.NOT_MET, v.WAIVED, v.NOT_VERIFIED, v.MANUAL)


def _bilingual_text(x: float, y: float, zh: str, en: str, anchor: str = "end") -> str:
    return (f'<text x="{x:.0f}" y="{y:.0f}" text-anchor="{anchor}" class="l-zh">{escape(zh)}</text>'
            f'<text x="{x:.0f}" y="{y:.0f}" text-anchor="{anchor}" class="l-en">{escape(en)}</text>')


def family_bars(groups: Sequence[Group], verdict_names: dict[str, tuple[str, str]]) -> Markup:
    """A horizontal stacked bar per family: cells by verdict (不适用 left out), share met at the end."""
    label_w, bar_w, row_h, top = 210, 520, 24, 8
    height = top + row_h * len(groups) + 40
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img" viewBox="0 0 {label_w + bar_w + 70} {height}" '
             f'width="{label_w + bar_w + 70}" height="{height}">']
    for i, group in enumerate(groups):
        y = top + i * row_h
        parts.append(_bilingual_text(label_w - 8, y + 15, f"{group.key} {group.zh}", f"{group.key} {group.en}"))
        total = sum(group.counts[k] for k in STACK)
        x = float(label_w)
        for key in STACK:
            n = group.counts[key]
            if not n:
                continue
            w = bar_w * n / total
            title = f"{verdict_names[key][0]} / {verdict_names[key][1]}: {n}"
            parts.append(f'<rect x="{x:.1f}" y="{y + 3}" width="{w:.1f}" height="{row_h - 6}" fill="{COLOURS[key]}">'
                         f"<title>{escape(title)}</title></rect>")
            x += w
        share = group.met_share
        parts.append(f'<text x="{label_w + bar_w + 6}" y="{y + 15}">{"—" if share is None else f"{share:.0%}"}</text>')
    y = top + row_h * len(groups) + 14
    x = float(label_w)
    for key in STACK:
        parts.append(f'<rect x="{x:.0f}" y="{y}" width="12" height="12" fill="{COLOURS[key]}"/>')
        parts.append(_bilingual_text(x + 16, y + 11, verdict_names[key][0], verdict_names[key][1], "start"))
        x += 88
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 - every value from outside is passed through escape() above


def trend_line(points: Sequence[TrendPoint]) -> Markup:
    """Share met after each run (line, left axis 0-100 %), failing cells as labels."""
    width, height, left, right, top, bottom = 760, 220, 60, 60, 16, 40
    inner_w, inner_h = width - left - right, height - top - bottom
    step = inner_w / max(1, len(points) - 1)
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img" viewBox="0 0 {width} {height}" '
             f'width="{width}" height="{height}">']
    for pct in (0, 25, 50, 75, 100):
        y = top + inner_h * (1 - pct / 100)
        parts.append(f'<line x1="{left}" x2="{width - right}" y1="{y:.0f}" y2="{y:.0f}" stroke="#ddd"/>'
                     f'<text x="{left - 6}" y="{y + 4:.0f}" text-anchor="end">{pct}%</text>')
    coords = []
    for i, point in enumerate(points):
        x = left + i * step
        y = top + inner_h * (1 - (point.met_share or 0))
        coords.append(f"{x:.1f},{y:.1f}")
        label = f"{point.run.run_id}: {(point.met_share or 0):.1%}, ✗{point.failing}"
        parts.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="4" fill="{COLOURS[v.MET]}"><title>{escape(label)}</title></circle>'
                     f'<text x="{x:.1f}" y="{y - 8:.1f}" text-anchor="middle">{(point.met_share or 0):.0%}</text>'
                     f'<text x="{x:.1f}" y="{height - 22}" text-anchor="middle" class="small">'
                     f'{escape(point.run.last[:16])}</text>'
                     f'<text x="{x:.1f}" y="{height - 8}" text-anchor="middle" class="small fail">✗ {point.failing}</text>')
    parts.append(f'<polyline fill="none" stroke="{COLOURS[v.MET]}" stroke-width="2" points="{" ".join(coords)}"/>')
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 - every value from outside is passed through escape() above
