"""Compliance reports for assessors and CI: verdicts (pure rules), then HTML, XLSX, JSON and JUnit writers.

    report = build.build(results, catalog, assets, waivers, as_of, generated, platform, level)
    paths = write_all(report, out_dir, lang="zh")
"""

from __future__ import annotations

import os
from pathlib import Path

from baseline.report.build import Report

OUTPUTS = {"html": "report.html", "xlsx": "report.xlsx", "json": "report.json", "junit": "junit.xml"}


def write_all(report: Report, out_dir: str | os.PathLike, lang: str = "zh",
              formats: tuple[str, ...] = tuple(OUTPUTS)) -> dict[str, Path]:
    """Write the chosen outputs into `out_dir`; return their paths by format."""
    from baseline.report import html, json_report, junit, xlsx

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    writers = {
        "html": lambda p: html.write(report, p, lang),
        "xlsx": lambda p: xlsx.write(report, p, lang),
        "json": lambda p: json_report.write(report, p),
        "junit": lambda p: junit.write(report, p),
    }
    return {fmt: writers[fmt](out / OUTPUTS[fmt]) for fmt in formats}
