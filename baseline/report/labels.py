"""Words of the report in Chinese (default) and English: verdicts, outcomes, reasons, headings."""

from __future__ import annotations

from functools import lru_cache

from baseline.report import verdicts as v

LANGS = ("zh", "en")

VERDICT = {
    v.MET: ("符合", "Met"),
    v.PARTIAL: ("部分符合", "Partially met"),
    v.NOT_MET: ("不符合", "Not met"),
    v.NOT_APPLICABLE: ("不适用", "Not applicable"),
    v.NOT_VERIFIED: ("未验证", "Not verified"),
    v.MANUAL: ("人工核查", "Manual check"),
    v.WAIVED: ("已豁免", "Waived"),
}

OUTCOME = {
    "pass": ("通过", "pass"),
    "fail": ("失败", "fail"),
    "error": ("错误", "error"),
    "not_applicable": ("不适用", "not applicable"),
    "not_verifiable": ("无法验证", "not verifiable here"),
}

OVERALL = {
    "pass": ("符合", "Compliant"),
    "pass_with_gaps": ("基本符合（存在未验证或人工核查项）", "Compliant with gaps (items not verified or manual)"),
    "fail": ("不符合", "Not compliant"),
}

KIND = {
    "linux": ("Linux服务器", "Linux server"),
    "postgresql": ("PostgreSQL数据库", "PostgreSQL database"),
    "mariadb": ("MariaDB数据库", "MariaDB database"),
    "network": ("网络设备", "Network device"),
    "organisation": ("管理制度（单位）", "Organisation"),
}

STATUS = {
    "automated": ("自动化", "automated"),
    "partial": ("部分自动化", "partly automated"),
    "planned": ("计划中", "planned"),
    "manual": ("人工", "manual"),
}

REASON = {
    "level": ("第{level}级要求，本资产定级为第{asset_level}级", "level {level} requirement; asset is at level {asset_level}"),
    "manual": ("人工核查，证据由{owner}保存", "manual control; evidence kept by {owner}"),
    "failed": ("{total}项检查中{failed}项未通过", "{failed} of {total} checks failed"),
    "waived": ("{failed}项未通过，已豁免（{approved_by}批准，有效期至{expires}）",
               "{failed} failing check(s) waived (approved by {approved_by}, valid through {expires})"),
    "waiver_expired": ("豁免已于{expires}到期，计为不符合", "waiver expired on {expires}; counts as a failure"),
    "checks_not_applicable": ("检查判定不适用：{reasons}", "checks found it not applicable: {reasons}"),
    "planned": ("自动化检查尚未建成（状态：计划中），缺少证据", "automation not built yet (status planned); no evidence"),
    "no_result": ("在范围内但没有检查结果（缺少证据）", "in scope but no check result (missing evidence)"),
    "not_verifiable": ("本资产上无法验证：{reasons}", "not verifiable on this asset: {reasons}"),
    "some_unverifiable": ("{passed}项通过，{unverifiable}项无法验证：{reasons}",
                          "{passed} passed, {unverifiable} not verifiable here: {reasons}"),
    "all_passed": ("{passed}项检查全部通过", "all {passed} checks passed"),
    "planned_checks_passed": ("控制项状态为计划中，检查通过也不计为符合",
                              "control status is planned: passing checks are not counted as met"),
    "partial_status": ("仅部分自动化，其余需人工核查：{notes}", "automated in part; still manual: {notes}"),
}

UI = {
    "title": ("等级保护测评报告", "Classified-protection assessment report"),
    "platform": ("系统", "System"),
    "level": ("保护等级", "Protection level"),
    "generated": ("生成时间", "Generated"),
    "as_of": ("评价日期", "Judged as of"),
    "runs": ("检查运行", "Check runs"),
    "overall": ("总体结论", "Overall verdict"),
    "failing_controls": ("不符合的控制项", "Failing controls"),
    "met_share": ("符合率", "Share met"),
    "summary": ("汇总", "Summary"),
    "by_clause": ("按GB/T 22239-2019条款", "By GB/T 22239-2019 clause"),
    "by_article": ("按制度条款（岚信用办发〔2021〕8号）", "By policy article (岚信用办发〔2021〕8号)"),
    "by_asset": ("按测评对象", "By asset"),
    "by_family": ("按控制类别", "By control family"),
    "chart": ("各控制类别符合情况", "Compliance per control family"),
    "controls": ("控制项明细", "Controls in detail"),
    "manual": ("人工核查项及责任人", "Manual controls and their owners"),
    "waivers": ("豁免", "Waivers"),
    "trend": ("历次运行的变化", "Change between runs"),
    "changes": ("与上次运行相比的变化", "Changes since the previous run"),
    "clause": ("条款", "Clause"),
    "article": ("制度条款", "Article"),
    "controls_col": ("控制项", "Controls"),
    "verdict": ("符合情况", "Verdict"),
    "risk": ("风险等级", "Risk"),
    "asset": ("测评对象", "Asset"),
    "kind": ("类型", "Kind"),
    "status": ("自动化状态", "Automation status"),
    "requirement": ("测评指标", "Requirement"),
    "evidence": ("证据", "Evidence"),
    "remediation": ("整改建议", "Remediation"),
    "owner": ("责任人", "Owner"),
    "justification": ("理由", "Justification"),
    "approved_by": ("批准人", "Approved by"),
    "approved_on": ("批准日期", "Approved on"),
    "expires": ("有效期至", "Valid through"),
    "state": ("状态", "State"),
    "valid": ("有效", "valid"),
    "expired": ("已过期", "expired"),
    "unused": ("未使用（无对应失败项）", "unused (no failure to cover)"),
    "check": ("检查", "Check"),
    "outcome": ("结果", "Outcome"),
    "command": ("执行/读取", "Ran or read"),
    "observed": ("观察值", "Observed"),
    "expected": ("期望值", "Expected"),
    "note": ("说明", "Note"),
    "duration": ("耗时", "Duration"),
    "run": ("运行", "Run"),
    "time": ("时间", "Time"),
    "records": ("记录数", "Records"),
    "none": ("无", "none"),
    "warnings": ("数据问题", "Data problems"),
    "switch": ("English", "中文"),
    "no_waivers": ("没有豁免。", "No waivers."),
    "no_trend": ("只有一次运行，提供多个结果文件可查看变化趋势。", "Only one run; give several results files to see the trend."),
    "count": ("数量", "Count"),
    "articles": ("制度条款", "Articles"),
    "clauses": ("标准条款", "Clauses"),
    "category": ("安全类", "Security category"),
    "control_point": ("控制点", "Control point"),
    "result_record": ("结果记录", "Result record"),
    "control_id": ("控制项编号", "Control ID"),
    "waiver_col": ("豁免", "Waiver"),
    "cells": ("对象×控制项", "Asset × control cells"),
    "legend_explain": ("未验证与人工核查项不计为符合；过期豁免计为不符合。",
                       "Not-verified and manual items never count as met; an expired waiver counts as a failure."),
}


def pick(pair: tuple[str, str], lang: str) -> str:
    return pair[0] if lang == "zh" else pair[1]


def verdict(code: str, lang: str) -> str:
    return pick(VERDICT[code], lang)


def reason(code: str, params: dict, lang: str) -> str:
    zh, en = REASON[code]
    return (zh if lang == "zh" else en).format(**params)


@lru_cache(maxsize=8192)
def reasons(items: tuple[v.Reason, ...], lang: str) -> str:
    """All reasons of a verdict in one line (cached: most cells share their reasons)."""
    return ("；" if lang == "zh" else "; ").join(reason(r.code, r.as_dict(), lang) for r in items)


def ui(key: str, lang: str) -> str:
    return pick(UI[key], lang)


def kind(code: str, lang: str) -> str:
    return pick(KIND.get(code, (code, code)), lang)
