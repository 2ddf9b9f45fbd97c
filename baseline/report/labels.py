"""Words of the report in Chinese (default) and English: verdicts, outcomes, reasons, headings."""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache

from baseline.report import verdicts as v
from baseline.report.evidence import Window

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
    v.COMPLIANT: ("符合", "Compliant"),
    v.BASICALLY_COMPLIANT: ("基本符合", "Basically compliant"),
    v.NOT_COMPLIANT: ("不符合", "Not compliant"),
    v.INCONCLUSIVE: ("无法得出结论", "Inconclusive (no conclusion without evidence)"),
}

# How a check verified (baseline/results.py METHODS), strongest first; "" for records that do not say.
METHOD = {
    "probe": ("行为验证", "probe"),
    "state": ("状态读取", "state"),
    "config": ("配置核查", "config"),
    "record": ("记录核查", "record"),
    "": ("未标明", "not stated"),
}

RISK = {"high": ("高", "High"), "medium": ("中", "Medium"), "low": ("低", "Low")}
RISK_FINDINGS = {"high": ("高风险问题", "high-risk findings"), "medium": ("中风险问题", "medium-risk findings"),
                 "low": ("低风险问题", "low-risk findings")}

# Why the conclusion is what it is (verdicts.conclude), with the values of Conclusion.params().
CONCLUSION_RULE = {
    "no_evidence": ("在范围内的对象×控制项没有任何有效证据（通过或未通过的当前检查结果），无法得出结论。",
                    "No in-scope asset × control cell has evidence (a current check result that passed or failed): "
                    "no conclusion can be drawn."),
    "missing_evidence": ("{missing}个自动化或部分自动化的对象×控制项缺少当前证据（没有结果或结果已过期）；"
                         "补齐证据前无法得出结论（当前符合率{share}，若全部符合可达{upper}）。",
                         "{missing} in-scope cell(s) of automated or partly automated controls have no current evidence "
                         "(no result, or only stale ones); no conclusion until it is there (share met {share}, "
                         "{upper} if all of them were met)."),
    "share_low": ("符合率{share}不高于{basic}（即使缺少证据的项全部符合也只有{upper}）：不符合。",
                  "Share met {share} is not above {basic} ({upper} even if every cell lacking evidence were met): "
                  "not compliant."),
    "share_mid": ("符合率{share}高于{basic}、不高于{full}：基本符合。",
                  "Share met {share} is above {basic} and not above {full}: basically compliant."),
    "major_risk": ("符合率{share}高于{full}，但有{major}个高风险问题，可能构成重大风险隐患：基本符合。",
                   "Share met {share} is above {full}, but {major} high-risk finding(s) may be major hidden risks "
                   "(重大风险隐患): basically compliant."),
    "share_high": ("符合率{share}高于{full}，且没有高风险问题（无重大风险隐患）：符合。",
                   "Share met {share} is above {full} and there is no high-risk finding (no major hidden risk): "
                   "compliant."),
}

# The template's rule, in the report's own words, with where it was confirmed.
TEMPLATE_RULE = (
    "《{template}》（见{source}）：符合率高于{full}且无重大风险隐患为符合；高于{basic}为基本符合；"
    "其余为不符合。本报告把每个高风险问题视为可能的重大风险隐患；恰为{full}或{basic}时取较低结论；"
    "符合率只计符合项（未验证、人工核查、已豁免和部分符合均不计）；自动化控制项缺少当前证据且可能改变结论时不下结论。",
    "{template_en} (as explained in {source}): share met above {full} with no major hidden risk is "
    "compliant; above {basic} basically compliant; otherwise not compliant. This report takes every high-risk "
    "finding as a possible major hidden risk, takes the lower conclusion at exactly {full} or {basic}, and counts "
    "only met cells in the share (not verified, manual, waived and partially met cells are not met); it draws no "
    "conclusion while automated controls lack current evidence that could change it.",
)

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
    "stale": ("{count}项检查结果已过期（最新为{last}），不计入，缺少当前证据",
              "{count} check result(s) older than the evidence window (newest {last}) left out: no current evidence"),
    "stale_left_out": ("另有{count}项过期结果未计入（最新为{last}）",
                       "{count} more result(s) older than the evidence window left out (newest {last})"),
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
    "conclusion_rule": ("结论依据", "Why"),
    "template_rule": ("判定规则", "Rule"),
    "findings": ("安全问题（按风险等级）", "Findings by risk"),
    "major": ("可能的重大风险隐患（高风险问题）", "Possible major hidden risks (high-risk findings)"),
    "missing_evidence": ("缺少证据的自动化控制项", "Automated controls without evidence"),
    "evidence_window": ("证据有效期", "Evidence window"),
    "window_text": ("{hours}小时（{cutoff}之后的结果有效；依据：{source}）",
                    "{hours} h (results from {cutoff} on count; from {source})"),
    "no_window": ("不限", "none"),
    "stale": ("过期证据", "Stale evidence"),
    "stale_explain": ("以下检查的最新结果早于证据有效期，未计入判定：",
                      "The latest result of these checks is older than the evidence window; left out of the verdicts:"),
    "no_stale": ("没有过期证据。", "No stale evidence."),
    "in_scope_cells": ("在范围内的对象×控制项", "In-scope cells"),
    "evidenced_cells": ("有证据的对象×控制项", "Cells with evidence"),
    "method": ("验证方式", "Method"),
    "methods": ("各验证方式的检查", "Checks by method"),
    "methods_explain": ("行为验证：实际尝试登录、端口、弱口令或被禁止的操作并观察结果；状态读取：读取运行中的服务、已加载的规则、"
                        "生效的设置和数据库目录；配置核查：读取配置文件；记录核查：读取项目保存的记录（如恢复演练结果）。"
                        "一项检查做了多种核查时按最强的一种计。",
                        "probe: tried the login, the port, the weak password or the forbidden action and saw the result; "
                        "state: read live state (running services, loaded rules, effective settings, database catalogs); "
                        "config: read configuration files; record: read records the project keeps (e.g. restore drill "
                        "results). A check that does several things counts as the strongest."),
    "checks_col": ("检查数", "Checks"),
    "evidenced_checks": ("其中有证据（通过或未通过）", "of which evidence (passed or failed)"),
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


def method(code: str, lang: str) -> str:
    return pick(METHOD.get(code, (code, code)), lang)


def methods(counts: Mapping[str, int], lang: str) -> str:
    """Methods of some checks with their numbers, strongest first: 行为验证 2、配置核查 1 / probe 2, config 1."""
    order = [m for m in METHOD if counts.get(m)] + sorted(m for m in counts if m not in METHOD and counts[m])
    return ("、" if lang == "zh" else ", ").join(f"{method(m, lang)} {counts[m]}" for m in order)


def kind(code: str, lang: str) -> str:
    return pick(KIND.get(code, (code, code)), lang)


def conclusion_rule(conclusion: v.Conclusion, lang: str) -> str:
    """Why the conclusion is what it is, with its figures."""
    return pick(CONCLUSION_RULE[conclusion.rule], lang).format(**conclusion.params())


def template_rule(lang: str) -> str:
    """The template's rule the conclusion follows, naming the edition and where the rule was confirmed."""
    return pick(TEMPLATE_RULE, lang).format(template=v.TEMPLATE[0], template_en=v.TEMPLATE[1], source=v.RULE_SOURCE,
                                            full=f"{v.FULL_SHARE:.0%}", basic=f"{v.BASIC_SHARE:.0%}")


def window_text(window: Window | None, lang: str) -> str:
    """The evidence window in words (or none)."""
    if window is None:
        return ui("no_window", lang)
    return ui("window_text", lang).format(hours=f"{window.hours:g}", cutoff=window.cutoff.isoformat(timespec="seconds"),
                                          source=window.source)
