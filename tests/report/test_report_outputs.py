"""The four outputs: XLSX assessment record sheet, JSON, JUnit XML, HTML; and the CLI's exit status."""

from __future__ import annotations

import json
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path
from xml.etree import ElementTree as ET

import openpyxl
import pytest
from report_support import assets, catalog_with, make_report, result, write_catalog

from baseline import REPO_ROOT
from baseline.report import html, json_report, junit, write_all, xlsx
from baseline.report import verdicts as v
from baseline.results import ResultWriter

HOSTILE = '<script>alert("x")</script> & <img src=x onerror=alert(1)>'
AUTOMATED = ("IA-01", "IA-02", "IA-04", "AU-05", "DB-03")


@pytest.fixture()
def lab_like():
    """app1 and db1 (Linux) and db1 (PostgreSQL): met, partially met, not met, not verifiable, hostile evidence.

    The catalog holds the checked controls, IA-03 (automated, no result: missing evidence) and PH-01 (manual):
    4 of 12 cells met, 3 without evidence; 7 of 12 at best, so 不符合 whatever the missing evidence would show."""
    cat = catalog_with(automated=AUTOMATED, only=(*AUTOMATED, "IA-03", "PH-01"))
    results = [
        result("app1", "IA-01", "pass", "uid0", evidence=[{"command": "awk -F: '$3==0' /etc/passwd", "observed": "root"}]),
        result("db1", "IA-01", "pass", "uid0"),
        result("app1", "IA-02", "pass", "minlen"),
        result("db1", "IA-02", "fail", "minlen", reason="minlen = 8 is below 10",
               evidence=[{"command": "cat /etc/security/pwquality.conf.d/50-baseline.conf", "observed": HOSTILE,
                          "expected": "minlen = 10"}]),
        result("db1", "IA-02", "pass", "letters"),
        result("app1", "IA-04", "fail", "faillock"),
        result("db1", "IA-04", "fail", "faillock"),
        result("app1", "AU-05", "not_verifiable", "immutable", reason="container: no kernel audit"),
        result("db1", "DB-03", "pass", "ssl", kind="postgresql"),
    ]
    return results, make_report(results, cat, assets(("app1", "linux"), ("db1", "linux"), ("db1", "postgresql")))


def test_xlsx_is_an_assessment_record_sheet_with_one_row_per_control_and_asset(lab_like, tmp_path):
    results, report = lab_like
    path = xlsx.write(report, tmp_path / "r.xlsx", "zh")
    wb = openpyxl.load_workbook(path)
    assert wb.sheetnames[:2] == ["汇总", "测评记录"]
    ws = wb["测评记录"]
    header = [c.value for c in ws[1]]
    assert header[:7] == ["安全类", "控制点", "测评指标", "测评对象", "结果记录", "符合情况", "风险等级"]
    col = {name: i for i, name in enumerate(header)}
    rows = [[c.value for c in r] for r in ws.iter_rows(min_row=2)]
    assert len(rows) == sum(len(r.cells) for r in report.rows)
    by_key = {(r[col["控制项编号"]], r[col["测评对象"]]): r for r in rows}
    assert len(by_key) == len(rows)  # control × asset is unique
    expected = {("IA-01", "app1（Linux服务器）"): "符合", ("IA-02", "app1（Linux服务器）"): "符合",
                ("IA-02", "db1（Linux服务器）"): "部分符合", ("IA-04", "db1（Linux服务器）"): "不符合",
                ("AU-05", "app1（Linux服务器）"): "未验证", ("DB-03", "db1（PostgreSQL数据库）"): "符合",
                ("IA-03", "app1（Linux服务器）"): "未验证", ("PH-01", "platform（管理制度（单位））"): "人工核查"}
    for key, verdict in expected.items():
        assert by_key[key][col["符合情况"]] == verdict, key
    ia02 = by_key[("IA-02", "db1（Linux服务器）")]
    assert ia02[col["安全类"]] == "安全计算环境" and ia02[col["控制点"]] == "身份鉴别" and ia02[col["风险等级"]] == "高"
    assert "minlen = 8 is below 10" in ia02[col["结果记录"]] and HOSTILE in ia02[col["结果记录"]]
    assert "--tags IA-02 --limit db1" in ia02[col["整改建议"]]
    assert "container: no kernel audit" in by_key[("AU-05", "app1（Linux服务器）")][col["结果记录"]]
    # every results record appears in the record column of its control and asset
    for r in results:
        asset_label = f"{r.asset}（{'PostgreSQL数据库' if r.asset_kind == 'postgresql' else 'Linux服务器'}）"
        assert r.check in by_key[(r.control_ids[0], asset_label)][col["结果记录"]]
    summary = [[c.value for c in r] for r in wb["汇总"].iter_rows()]
    assert ["总体结论", "不符合"] in [row[:2] for row in summary]


def test_xlsx_in_english(lab_like, tmp_path):
    _, report = lab_like
    ws = openpyxl.load_workbook(xlsx.write(report, tmp_path / "r.xlsx", "en"))["Assessment record"]
    assert [c.value for c in ws[1]][:7] == ["Security category", "Control point", "Requirement", "Asset",
                                            "Result record", "Verdict", "Risk"]


def test_json_carries_every_cell_with_evidence(lab_like):
    _, report = lab_like
    data = json.loads(json.dumps(json_report.to_dict(report), ensure_ascii=False, default=str))
    assert data["schema"] == "baseline.report/1"
    assert data["overall"]["verdict"] == "fail" and data["overall"]["exit_code"] == 1
    assert set(data["overall"]["failing_controls"]) == {"IA-02", "IA-04"}
    ia02 = next(c for c in data["controls"] if c["id"] == "IA-02")
    db1 = next(c for c in ia02["cells"] if c["asset"] == "db1")
    assert db1["verdict"] == v.PARTIAL and db1["failing"]
    assert db1["checks"][0]["evidence"][0]["observed"] == HOSTILE


def test_junit_fails_failing_cells_and_skips_unverified(lab_like, tmp_path):
    _, report = lab_like
    root = ET.parse(junit.write(report, tmp_path / "junit.xml")).getroot()  # noqa: S314 - our own file
    cases = {(c.get("classname"), c.get("name").split()[0]): c for c in root.iter("testcase")}
    assert cases[("linux.db1", "IA-02")].find("failure") is not None
    assert HOSTILE in cases[("linux.db1", "IA-02")].find("failure").text
    assert cases[("linux.app1", "AU-05")].find("skipped") is not None
    assert cases[("linux.app1", "IA-01")].find("failure") is None and cases[("linux.app1", "IA-01")].find("skipped") is None
    assert int(root.get("failures")) == report.failing_cells == 3


def test_html_escapes_everything_from_hosts(lab_like):
    _, report = lab_like
    page = html.render(report, "zh")
    assert "<script>alert" not in page and "onerror=alert(1)>" not in page
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in page
    assert '<html lang="zh-CN" class="zh">' in page and 'class="en"' in html.render(report, "en")
    assert "http://" not in page.replace('xmlns="http://www.w3.org/2000/svg"', "")  # no external assets
    assert "<svg" in page


def test_write_all_writes_four_outputs(lab_like, tmp_path):
    _, report = lab_like
    paths = write_all(report, tmp_path / "out")
    assert sorted(paths) == ["html", "json", "junit", "xlsx"] and all(p.stat().st_size for p in paths.values())


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(REPO_ROOT / "scripts" / "report"), *args],
                          capture_output=True, text=True, check=False, cwd=REPO_ROOT)


def _results_file(path: Path, outcome: str, *records: tuple[str, str], time: str | None = None) -> Path:
    """IA-02 on app1 with `outcome`, then (control, outcome) records on app1; written now unless `time`."""
    writer = ResultWriter(path, "cli-run")
    for control, recorded in (("IA-02", outcome), *records):
        extra = {"time": time} if time else {}
        writer.record(asset="app1", asset_kind="linux", control_ids=[control], check=f"check_{control}",
                      outcome=recorded, **extra)
    return path


def _cli(tmp_path: Path, results: Path, *args: str, only: tuple[str, ...] | None = ("IA-02",),
         waivers: str = "none.yml") -> subprocess.CompletedProcess:
    catalog = write_catalog(tmp_path / "controls.yml", automated=("IA-02",), only=only)
    return run_cli("--results", str(results), "--out", str(tmp_path / "out"), "--no-inventory", "--catalog", str(catalog),
                   "--waivers", str(tmp_path / waivers), *args)


@pytest.mark.parametrize(("outcome", "code", "conclusion"), [
    ("pass", 0, "Compliant"),  # the one in-scope cell met: 100 %
    ("fail", 1, "Not compliant"),
    ("error", 1, "Not compliant"),
    ("not_verifiable", 2, "Inconclusive"),  # nothing shows the control's state: no conclusion
])
def test_cli_exit_status_follows_the_conclusion_and_failures(tmp_path, outcome, code, conclusion):
    proc = _cli(tmp_path, _results_file(tmp_path / "r.jsonl", outcome))
    assert proc.returncode == code, proc.stdout + proc.stderr
    assert proc.stdout.startswith(f"report: {conclusion} ")
    assert str(tmp_path / "out" / "report.html") in proc.stdout


def test_cli_strict_fails_on_unverifiable_evidence_and_refuses_bad_waivers(tmp_path):
    # IA-01 and IA-02 pass, IA-03 is not verifiable here: 2 of 3 met, 基本符合
    results = _results_file(tmp_path / "r.jsonl", "pass", ("IA-01", "pass"), ("IA-03", "not_verifiable"))
    only = ("IA-01", "IA-02", "IA-03")
    assert _cli(tmp_path, results, only=only).returncode == 0
    strict = _cli(tmp_path, results, "--strict", only=only)
    assert strict.returncode == 1 and "IA-03 on app1/linux" in strict.stdout
    (tmp_path / "w.yml").write_text("waivers:\n  - control: IA-02\n    assets: [app1]\n", encoding="utf-8")
    proc = _cli(tmp_path, results, waivers="w.yml", only=only)
    assert proc.returncode == 2 and "justification is missing" in proc.stderr


def test_cli_without_any_result_concludes_nothing_and_exits_2(tmp_path):
    empty = tmp_path / "empty.jsonl"
    empty.write_text("", encoding="utf-8")
    proc = _cli(tmp_path, empty, only=None)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "no conclusion (无法得出结论)" in proc.stderr and "hold no record" in proc.stderr
    data = json.loads((tmp_path / "out" / "report.json").read_text(encoding="utf-8"))
    assert data["overall"]["verdict"] == "inconclusive" and data["overall"]["zh"] == "无法得出结论"
    assert data["overall"]["conclusion"]["rule"] == "no_evidence" and data["overall"]["exit_code"] == 2


def test_cli_missing_evidence_for_automated_controls_concludes_nothing(tmp_path):
    # the whole catalog: IA-02 passes on app1, every other automated Linux control has no result there
    proc = _cli(tmp_path, _results_file(tmp_path / "r.jsonl", "pass"), only=None)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "without current evidence: IA-01 on app1/linux" in proc.stderr
    data = json.loads((tmp_path / "out" / "report.json").read_text(encoding="utf-8"))
    conclusion = data["overall"]["conclusion"]
    assert conclusion["rule"] == "missing_evidence"
    assert {"control": "IA-01", "asset": "app1", "asset_kind": "linux"} in conclusion["missing_evidence"]


def test_cli_leaves_out_results_older_than_the_policy_inspection_interval(tmp_path):
    # the policy's inspection interval is 24 h: a result of three days ago is stale, nothing else is left
    old = (datetime.now(UTC) - timedelta(days=3)).isoformat(timespec="seconds")
    results = _results_file(tmp_path / "r.jsonl", "pass", time=old)
    proc = _cli(tmp_path, results)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "older than the evidence window" in proc.stderr and "--max-age-days" in proc.stderr
    assert "inspection_interval_hours = 24" in proc.stdout
    data = json.loads((tmp_path / "out" / "report.json").read_text(encoding="utf-8"))
    assert data["evidence_window"]["max_age_hours"] == 24
    assert [(s["check"], s["time"]) for s in data["stale"]] == [("check_IA-02", old)]
    ia02 = next(c for c in data["controls"] if c["id"] == "IA-02")["cells"][0]
    assert ia02["verdict"] == "not_verified" and ia02["reasons"][0]["code"] == "stale" and ia02["checks"] == []
    # --max-age-days widens the window: the same result counts
    wider = _cli(tmp_path, results, "--max-age-days", "7")
    assert wider.returncode == 0, wider.stdout + wider.stderr
    assert "--max-age-days 7" in wider.stdout


def test_cli_judges_the_age_as_of_the_end_of_the_as_of_day(tmp_path):
    results = _results_file(tmp_path / "r.jsonl", "pass", time="2026-06-01T01:30:00+00:00")
    assert _cli(tmp_path, results, "--as-of", "2026-06-01").returncode == 0  # within 24 h of 2026-06-01 24:00
    assert _cli(tmp_path, results, "--as-of", "2026-06-02").returncode == 2


@pytest.mark.parametrize("days", ["0", "-3"])
def test_cli_refuses_an_empty_evidence_window(tmp_path, days):
    proc = _cli(tmp_path, _results_file(tmp_path / "r.jsonl", "pass"), "--max-age-days", days)
    assert proc.returncode == 2 and "--max-age-days must be" in proc.stderr
