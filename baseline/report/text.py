"""Plain-text wording of verdict reasons and evidence, shared by the XLSX, JUnit and JSON writers."""

from __future__ import annotations

import re
from typing import Any

from baseline.report import labels
from baseline.report.build import Cell
from baseline.results import CheckResult, Evidence

MAX_VALUE_CHARS = 2000  # one observed value in a text cell; the HTML and JSON keep what the results hold


def clip(value: Any, limit: int = MAX_VALUE_CHARS) -> str:
    text = value if isinstance(value, str) else "" if value is None else str(value)
    return text if len(text) <= limit else text[:limit] + f"… ({len(text)} chars)"


def reasons(cell: Cell, lang: str) -> str:
    return labels.reasons(cell.reasons, lang)


def evidence_line(item: Evidence, lang: str) -> str:
    parts = []
    if item.command:
        parts.append(f"{labels.ui('command', lang)}: {clip(item.command)}")
    if item.observed not in (None, ""):
        parts.append(f"{labels.ui('observed', lang)}: {clip(item.observed)}")
    if item.expected not in (None, ""):
        parts.append(f"{labels.ui('expected', lang)}: {clip(item.expected)}")
    if item.note:
        parts.append(f"{labels.ui('note', lang)}: {clip(item.note)}")
    return " | ".join(parts)


def check_text(check: CheckResult, lang: str) -> str:
    head = f"[{labels.pick(labels.OUTCOME[check.outcome], lang)}]"
    if check.method:
        head += f" [{labels.method(check.method, lang)}]"
    head += f" {check.check}"
    if check.reason:
        head += f" — {clip(check.reason)}"
    lines = [head, *("    " + evidence_line(e, lang) for e in check.evidence)]
    return "\n".join(lines)


def methods(cell: Cell, lang: str) -> str:
    """验证方式 of a cell: its checks per method, strongest first ("" without checks)."""
    return labels.methods(cell.methods, lang)


def record(cell: Cell, lang: str) -> str:
    """结果记录: the verdict's reasons, then each check with its evidence."""
    return "\n".join([reasons(cell, lang), *(check_text(c, lang) for c in cell.checks)])


_XML_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def xml_safe(text: str) -> str:
    """Drop the control characters XML 1.0 (JUnit, XLSX) cannot carry; host output may contain them."""
    return _XML_ILLEGAL.sub("", text)
