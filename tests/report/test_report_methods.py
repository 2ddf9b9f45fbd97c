"""How each check verified (probe / state / config / record, baseline/results.py METHODS) in every output: the
HTML cell details and summary, the XLSX 测评记录 column 验证方式 and the 汇总 counts, the JSON; older results
files without the field still load and show as not stated."""

from __future__ import annotations

import json

import openpyxl
import pytest
from report_support import assets, catalog_with, make_report, result

from baseline.report import html, json_report, xlsx
from baseline.report.build import method_counts
from baseline.results import CheckResult, read_results

AUTOMATED = ("IA-02", "IA-04", "AU-05")


@pytest.fixture()
def methods_report():
    """IA-02 on app1 by a probe and a configuration read (both pass), on db1 by a failing probe; IA-04 on app1 by a
    state read; AU-05 on app1 not verifiable (a probe left out) and on db1 by a record that does not say."""
    cat = catalog_with(automated=AUTOMATED, only=AUTOMATED)
    results = [
        result("app1", "IA-02", "pass", "passwd_probe", method="probe"),
        result("app1", "IA-02", "pass", "pwquality_files", method="config"),
        result("db1", "IA-02", "fail", "passwd_probe", method="probe", reason="a 9-character password was accepted"),
        result("app1", "IA-04", "pass", "sshd_t", method="state"),
        result("app1", "AU-05", "not_verifiable", "auditctl_probe", method="probe",
               reason="read-only run: not run, it would change the host (an audit rule loaded)"),
        result("db1", "AU-05", "pass", "old_record"),
    ]
    return results, make_report(results, cat, assets(("app1", "linux"), ("db1", "linux")))


def test_counts_per_method_strongest_first_with_the_evidence_among_them(methods_report):
    results, report = methods_report
    counted = [(m.method, m.checks, m.evidenced) for m in report.methods]
    assert counted == [("probe", 3, 2), ("state", 1, 1), ("config", 1, 1), ("record", 0, 0), ("", 1, 1)]
    assert [(m.method, m.checks) for m in method_counts(r for r in results if r.method)] == [
        ("probe", 3), ("state", 1), ("config", 1), ("record", 0)]


def test_xlsx_record_sheet_has_a_method_column_and_the_summary_counts(methods_report, tmp_path):
    _, report = methods_report
    wb = openpyxl.load_workbook(xlsx.write(report, tmp_path / "r.xlsx", "zh"))
    ws = wb["测评记录"]
    header = [c.value for c in ws[1]]
    assert header[:8] == ["安全类", "控制点", "测评指标", "测评对象", "结果记录", "符合情况", "风险等级", "验证方式"]
    col = {name: i for i, name in enumerate(header)}
    rows = {(r[col["控制项编号"]], r[col["测评对象"]]): r for r in ([c.value for c in row] for row in ws.iter_rows(min_row=2))}
    assert rows[("IA-02", "app1（Linux服务器）")][col["验证方式"]] == "行为验证 1、配置核查 1"
    assert rows[("IA-02", "db1（Linux服务器）")][col["验证方式"]] == "行为验证 1"
    assert rows[("IA-04", "app1（Linux服务器）")][col["验证方式"]] == "状态读取 1"
    assert rows[("AU-05", "db1（Linux服务器）")][col["验证方式"]] == "未标明 1"
    assert rows[("IA-04", "db1（Linux服务器）")][col["验证方式"]] is None  # no result: nothing verified it
    record = rows[("IA-02", "app1（Linux服务器）")][col["结果记录"]]
    assert "[通过] [行为验证] passwd_probe" in record and "[通过] [配置核查] pwquality_files" in record
    assert "[通过] old_record" in rows[("AU-05", "db1（Linux服务器）")][col["结果记录"]]
    assert ws.auto_filter.ref == f"A1:M{len(rows) + 1}"
    summary = [[c.value for c in r][:3] for r in wb["汇总"].iter_rows()]
    start = summary.index(["各验证方式的检查", "检查数", "其中有证据（通过或未通过）"])
    assert summary[start + 1:start + 6] == [["行为验证", 3, 2], ["状态读取", 1, 1], ["配置核查", 1, 1],
                                            ["记录核查", 0, 0], ["未标明", 1, 1]]


def test_xlsx_method_column_in_english(methods_report, tmp_path):
    _, report = methods_report
    ws = openpyxl.load_workbook(xlsx.write(report, tmp_path / "r.xlsx", "en"))["Assessment record"]
    header = [c.value for c in ws[1]]
    assert header[7] == "Method"
    values = {r[header.index("Control ID")] + " " + r[header.index("Asset")]: r[7]
              for r in ([c.value for c in row] for row in ws.iter_rows(min_row=2))}
    assert values["IA-02 app1 (Linux server)"] == "probe 1, config 1"
    assert values["AU-05 app1 (Linux server)"] == "probe 1"


def test_json_carries_the_method_of_each_check_and_the_counts(methods_report):
    _, report = methods_report
    data = json.loads(json.dumps(json_report.to_dict(report), ensure_ascii=False, default=str))
    ia02 = next(c for c in data["controls"] if c["id"] == "IA-02")
    app1 = next(c for c in ia02["cells"] if c["asset"] == "app1")
    assert {c["check"]: c["method"] for c in app1["checks"]} == {"passwd_probe": "probe", "pwquality_files": "config"}
    assert app1["methods"] == {"probe": 1, "config": 1}
    methods = data["overall"]["methods"]
    assert methods["probe"] == {"checks": 3, "evidenced": 2, "zh": "行为验证", "en": "probe"}
    assert methods["record"]["checks"] == 0 and methods[""]["en"] == "not stated"


def test_html_shows_the_method_of_each_check_and_the_counts(methods_report):
    _, report = methods_report
    page = html.render(report, "zh")
    assert page.count('<span class="m m-probe"></span>') == 3 and page.count('<span class="m m-config"></span>') == 1
    assert 'html.zh .m-probe::before { content: "[行为验证]"; }' in page
    assert 'html.en .m-state::before { content: "[state]"; }' in page
    summary = page[page.index('<table id="methods">'):]
    summary = summary[:summary.index("</table>")]
    assert '<tr class="method-probe"><td><span class="l-zh">行为验证</span><span class="l-en">probe</span></td>' \
           '<td class="n">3</td><td class="n">2</td></tr>' in summary
    assert '<tr class="method-none">' in summary and "未标明" in summary


def test_results_files_without_a_method_still_load_and_unknown_methods_are_refused(tmp_path):
    old = result("app1", "IA-02", "pass", "old_check")
    line = json.loads(old.to_json())
    del line["method"]
    path = tmp_path / "old.jsonl"
    path.write_text(json.dumps(line) + "\n", encoding="utf-8")
    (loaded,) = read_results([path])
    assert loaded.method == "" and loaded.check == "old_check"
    with pytest.raises(ValueError, match="method 'guess' is not one of probe, state, config, record"):
        CheckResult(run_id="r", asset="app1", asset_kind="linux", control_ids=["IA-02"], check="c", outcome="pass",
                    method="guess")
