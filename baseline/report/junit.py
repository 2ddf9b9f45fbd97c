"""JUnit XML for CI: a test suite per asset, a test case per control on it.

符合 and 已豁免 pass; 不符合 and failing 部分符合 are failures with the evidence; 未验证, 人工核查, 不适用 and a
partial verdict without failures are skipped with the reason, so CI dashboards count requirements, not asserts.
"""

from __future__ import annotations

import os
from collections import defaultdict
from pathlib import Path
from xml.etree import ElementTree as ET

from baseline.report import labels
from baseline.report import verdicts as v
from baseline.report.build import Cell, Report
from baseline.report.text import reasons, record, xml_safe


def to_element(report: Report, lang: str = "en") -> ET.Element:
    by_asset: dict[str, list[Cell]] = defaultdict(list)
    for row in report.rows:
        for cell in row.cells:
            by_asset[cell.asset.key].append(cell)
    root = ET.Element("testsuites", name=f"{report.platform} compliance", timestamp=report.generated)
    totals = {"tests": 0, "failures": 0, "skipped": 0}
    for asset in report.assets:
        cells = by_asset.get(asset.key, [])
        suite = ET.SubElement(root, "testsuite", name=asset.key, timestamp=report.generated)
        counts = {"tests": len(cells), "failures": 0, "skipped": 0}
        time_total = 0.0
        for cell in cells:
            title = cell.control.title_zh if lang == "zh" else cell.control.title_en
            case = ET.SubElement(suite, "testcase", classname=f"{asset.kind}.{asset.name}",
                                 name=f"{cell.control.id} {title}", time=f"{cell.duration_s:.3f}")
            time_total += cell.duration_s
            message = xml_safe(f"{labels.verdict(cell.verdict, lang)}: {reasons(cell, lang)}")
            if cell.failing:
                failure = ET.SubElement(case, "failure", message=message, type=cell.verdict)
                failure.text = xml_safe(record(cell, lang))
                counts["failures"] += 1
            elif cell.verdict not in (v.MET, v.WAIVED):
                ET.SubElement(case, "skipped", message=message)
                counts["skipped"] += 1
            elif cell.verdict == v.WAIVED:
                ET.SubElement(case, "system-out").text = message
        suite.set("tests", str(counts["tests"]))
        suite.set("failures", str(counts["failures"]))
        suite.set("errors", "0")
        suite.set("skipped", str(counts["skipped"]))
        suite.set("time", f"{time_total:.3f}")
        for key in totals:
            totals[key] += counts[key]
    for key, value in totals.items():
        root.set(key, str(value))
    root.set("errors", "0")
    return root


def write(report: Report, path: str | os.PathLike, lang: str = "en") -> Path:
    path = Path(path)
    tree = ET.ElementTree(to_element(report, lang))
    tree.write(path, encoding="utf-8", xml_declaration=True)
    return path
