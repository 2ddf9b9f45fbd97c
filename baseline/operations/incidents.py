"""Incident grading (IR-01): from the facts of a network and information security incident to its level, warning
colour, reporting deadline and investigation deadline, exactly as 岚信用办发〔2021〕8号 第二十七–三十四条 say.

    scripts/incident grade --outage-hours 30 --records 12000 --kind leaked --summary "..."
    scripts/incident list | show ID | verify
    scripts/incident collect HOST [--incident ID] | custody verify     evidence preservation, IR-02 (evidence.py)

The rules (the policy's own words in docs/operations.md):
  第二十八条 I   (特别重大): outage of 48 hours or more (“48小时以上”: 以上 includes the figure itself), or more than
                 50,000 records (“超过5万条”: 超过 does not) in any one of the three record clauses
  第二十九条 II  (重大):     24 hours or more, or more than 20,000 records
  第三十条   III (较大):     12 hours or more, or more than 10,000 records
  第三十一条 IV  (一般):     everything else
  The three record clauses: platform data lost, stolen, tampered with, fabricated or deleted against the rules
  (one clause: these kinds add up); credit information touching state secrets, trade secrets or privacy leaked;
  non-public credit information given to a third party without the subject's consent. The “other” clause of each
  article (threat to national security, social order, …) is a judgement of 县信用办's 研判 (第三十三条): `--impact`.
  第三十二条 warning colours: I red, II orange, III yellow; IV has none (the policy has three warning levels).
  第三十三条 report to the county government within 1 hour (I, II) or 2 hours (III, IV) of the incident.
  第三十四条 IV: investigated by the department concerned and closed within 30 days of the end of the emergency
  response, reported to 县信用办; I–III: investigated by 县信用办 with the county government (no time limit given).

Every grading is kept in an append-only, hash-chained register (`results/incidents/incidents.jsonl`, or
--dir / $BASELINE_INCIDENTS_DIR) and written as an IR-01 record of the results format for the report.
"""

from __future__ import annotations

import argparse
import getpass
import json
import math
import os
import socket
import sys
import uuid
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from baseline import REPO_ROOT
from baseline.operations.chain import Archive
from baseline.results import Evidence, ResultWriter, new_run_id

SCHEMA = "baseline.incident/1"
DEFAULT_DIR = REPO_ROOT / "results" / "incidents"
DIR_ENV = "BASELINE_INCIDENTS_DIR"
LEVELS = ("I", "II", "III", "IV")


@dataclass(frozen=True)
class Level:
    level: str
    zh: str
    en: str
    article: str
    outage_hours: float | None  # this many hours or more (以上)
    records_over: int | None  # more than this many records (超过)
    colour: tuple[str, str] | None  # 第三十二条
    report_hours: int  # 第三十三条


LEVEL_RULES = (
    Level("I", "特别重大", "especially serious", "第二十八条", 48, 50_000, ("红色", "red"), 1),
    Level("II", "重大", "serious", "第二十九条", 24, 20_000, ("橙色", "orange"), 1),
    Level("III", "较大", "relatively serious", "第三十条", 12, 10_000, ("黄色", "yellow"), 2),
    Level("IV", "一般", "general", "第三十一条", None, None, None, 2),
)
BY_LEVEL = {rule.level: rule for rule in LEVEL_RULES}
COLOUR_ARTICLE = "第三十二条"
REPORT_ARTICLE = "第三十三条"
INVESTIGATION_ARTICLE = "第三十四条"
INVESTIGATION_DAYS_IV = 30

# Kinds of records affected: the record clause of 第二十八–三十条 each belongs to. The kinds of the data clause add up.
RECORD_KINDS: dict[str, tuple[str, str]] = {
    "lost": ("data", "丢失"),
    "stolen": ("data", "被窃取"),
    "tampered": ("data", "篡改"),
    "fabricated": ("data", "虚构"),
    "deleted": ("data", "违规删除"),
    "leaked": ("leaked", "泄露涉及国家秘密、商业秘密、个人隐私的市场信用信息"),
    "disclosed": ("disclosed", "未经信用主体授权擅自将非公开的市场信用信息提供给第三方查询或者使用"),
}
CLAUSES = {
    "data": ("平台数据丢失或被窃取、篡改、虚构、违规删除信用信息", "platform credit records lost, stolen, tampered with, "
             "fabricated or deleted against the rules"),
    "leaked": ("泄露涉及国家秘密、商业秘密、个人隐私的市场信用信息", "credit records touching state secrets, trade "
               "secrets or privacy leaked"),
    "disclosed": ("未经授权提供给第三方查询或者使用的非公开市场信用信息", "non-public credit records given to a third "
                  "party without the subject's consent"),
}
# The “other” clause of each article: a judgement of the threat and effect (研判, 第三十三条).
IMPACTS = {
    "especially_serious": ("I", "特别严重威胁、特别严重影响"),
    "serious": ("II", "严重威胁、严重影响"),
    "relatively_serious": ("III", "较严重威胁、较严重影响"),
    "some": ("IV", "一定威胁、一定影响"),
}
# 第二十六条: kinds of network and information security events (for the record; they do not change the level).
CATEGORIES = {
    "harmful_program": "有害程序事件",
    "network_attack": "网络攻击事件",
    "information_destruction": "信息破坏事件",
    "information_content": "信息内容安全事件",
    "equipment_failure": "设备设施故障",
    "disaster": "灾害性事件",
    "other": "其他",
}


class FactError(ValueError):
    """A fact that cannot be graded: names the fact and the rule."""


@dataclass
class Facts:
    occurred: str  # ISO 8601, UTC: when the incident happened (the reporting deadline counts from here)
    outage_hours: float = 0.0  # 信息系统中断运行
    records: dict[str, int] = field(default_factory=dict)  # kind -> number of records affected
    impact: str = ""  # key of IMPACTS, or "" when not judged
    category: str = ""  # key of CATEGORIES, or ""
    response_ended: str = ""  # ISO 8601, UTC: end of the emergency response (第三十四条), or "" while it goes on
    summary: str = ""

    def check(self) -> None:
        hours = self.outage_hours
        if isinstance(hours, bool) or not isinstance(hours, (int, float)) or not math.isfinite(hours) or hours < 0:
            raise FactError(f"outage hours = {hours!r}: give a number of hours, 0 or more")
        for kind, count in self.records.items():
            if kind not in RECORD_KINDS:
                raise FactError(f"record kind {kind!r} is not one of {', '.join(RECORD_KINDS)}")
            if isinstance(count, bool) or not isinstance(count, int) or count < 0:
                raise FactError(f"records {kind} = {count!r}: give a whole number of records, 0 or more")
        if self.impact and self.impact not in IMPACTS:
            raise FactError(f"impact {self.impact!r} is not one of {', '.join(IMPACTS)}")
        if self.category and self.category not in CATEGORIES:
            raise FactError(f"category {self.category!r} is not one of {', '.join(CATEGORIES)} (第二十六条)")
        occurred = parse_time(self.occurred, "occurred")
        if self.response_ended and parse_time(self.response_ended, "response ended") < occurred:
            raise FactError(f"the emergency response ended ({self.response_ended}) before the incident occurred "
                            f"({self.occurred})")

    def clause_counts(self) -> dict[str, int]:
        """Records per clause of 第二十八–三十条 (the kinds of the data clause add up)."""
        counts: dict[str, int] = {}
        for kind, count in self.records.items():
            clause = RECORD_KINDS[kind][0]
            counts[clause] = counts.get(clause, 0) + count
        return counts


@dataclass
class Grading:
    level: str  # I / II / III / IV
    level_zh: str
    level_en: str
    article: str
    basis: list[str]  # every criterion met at the level, with its article
    colour: str  # 红色 / 橙色 / 黄色, "" for IV
    colour_en: str
    report_within_hours: int
    report_by: str  # ISO 8601, UTC
    report_to: str
    investigation_by: str  # who investigates
    investigation_deadline: str  # ISO 8601, UTC, or "" when the policy sets none or the response has not ended
    investigation_rule: str


def parse_time(text: str, what: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except (AttributeError, ValueError):
        raise FactError(f"{what} = {text!r} is not a time in ISO 8601 form such as 2026-12-01T08:30+08:00") from None
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).astimezone(UTC)


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="seconds")


def _criteria(facts: Facts, rule: Level) -> list[str]:
    """The criteria of `rule`'s article that the facts meet."""
    met = []
    if rule.outage_hours is not None and facts.outage_hours >= rule.outage_hours:
        limit = f"{rule.outage_hours:g}"
        met.append(f"{rule.article}: 信息系统中断运行{facts.outage_hours:g}小时 ≥ {limit}小时（{limit}小时以上） / "
                   f"outage of {facts.outage_hours:g} h, {limit} h or more")
    if rule.records_over is not None:
        for clause, count in sorted(facts.clause_counts().items()):
            if count > rule.records_over:
                zh, en = CLAUSES[clause]
                met.append(f"{rule.article}: {zh}{count}条 > {rule.records_over}条（超过{rule.records_over // 10_000}万条） / "
                           f"{en}: {count} records, more than {rule.records_over}")
    if facts.impact and IMPACTS[facts.impact][0] == rule.level:
        met.append(f"{rule.article}: 研判为{IMPACTS[facts.impact][1]} / judged: {facts.impact.replace('_', ' ')}")
    return met


def grade(facts: Facts) -> Grading:
    """The level of the most serious article whose criteria the facts meet (第二十九、三十条: 且未达到 the level above),
    IV when none is met (第三十一条), and the colour and deadlines that follow from it."""
    facts.check()
    chosen, basis = BY_LEVEL["IV"], []
    for rule in LEVEL_RULES[:-1]:
        basis = _criteria(facts, rule)
        if basis:
            chosen = rule
            break
    if chosen.level == "IV":
        basis = _criteria(facts, chosen) or [f"{chosen.article}: 未达到第二十八至三十条的任何情形 / none of the criteria of "
                                             "第二十八–三十条 met"]
    occurred = parse_time(facts.occurred, "occurred")
    report_by = occurred + timedelta(hours=chosen.report_hours)
    if chosen.level == "IV":
        by = "相关部门或单位 / the department or unit concerned, reporting to 县信用办"
        deadline = ""
        rule_text = f"{INVESTIGATION_ARTICLE}: 应急响应结束后{INVESTIGATION_DAYS_IV}天内完成调查处理和总结评估，上报县信用办 / " \
                    f"closed within {INVESTIGATION_DAYS_IV} days of the end of the emergency response"
        if facts.response_ended:
            deadline = iso(parse_time(facts.response_ended, "response ended") + timedelta(days=INVESTIGATION_DAYS_IV))
    else:
        by = "县信用办配合县政府和有关部门 / 县信用办 with the county government and the departments concerned"
        deadline = ""
        rule_text = (f"{INVESTIGATION_ARTICLE}: 由县信用办配合县政府调查处理和总结评估，制度未规定时限 / "
                     "the policy sets no time limit")
    colour_zh, colour_en = chosen.colour or ("", "")
    return Grading(level=chosen.level, level_zh=chosen.zh, level_en=chosen.en, article=chosen.article, basis=basis,
                   colour=colour_zh, colour_en=colour_en, report_within_hours=chosen.report_hours,
                   report_by=iso(report_by), report_to="县政府 / the county government", investigation_by=by,
                   investigation_deadline=deadline, investigation_rule=rule_text)


# --- register and results ---------------------------------------------------------------------------------------


def register(directory: str | os.PathLike | None = None) -> Archive:
    return Archive(directory or os.environ.get(DIR_ENV) or DEFAULT_DIR, "incidents")


def operator() -> str:
    return os.environ.get("BASELINE_OPERATOR") or os.environ.get("SUDO_USER") or getpass.getuser()


def new_incident_id(now: datetime) -> str:
    return "INC-" + now.strftime("%Y%m%dT%H%M%SZ") + "-" + uuid.uuid4().hex[:6]


def keep(facts: Facts, grading: Grading, archive: Archive, *, now: datetime | None = None) -> dict[str, Any]:
    """Append the grading to the register; returns the record as kept."""
    now = now or datetime.now(UTC)
    record = {"schema": SCHEMA, "id": new_incident_id(now), "graded_at": iso(now), "operator": operator(),
              "controller": socket.gethostname(), "facts": asdict(facts), "grading": asdict(grading)}
    return archive.append(record)


def platform_name() -> str:
    from baseline.report.assets import platform_name as committed

    return os.environ.get("BASELINE_PLATFORM_NAME") or committed()


def results_writer(results_file: str | None, run_id: str | None) -> ResultWriter:
    run = run_id or os.environ.get("BASELINE_RUN_ID", "").strip() or new_run_id()
    return ResultWriter(Path(results_file) if results_file else REPO_ROOT / "results" / f"{run}.jsonl", run)


def grading_result(writer: ResultWriter, record: dict[str, Any], command: str) -> None:
    """The IR-01 record of one grading, on the organisation asset (the platform)."""
    g = record["grading"]
    colour = f"{g['colour']}预警" if g["colour"] else "无预警颜色"
    writer.record(asset=platform_name(), asset_kind="organisation", control_ids=["IR-01"],
                  check=f"incident_grading[{record['id']}]", outcome="pass", method="record", host_kind="organisation",
                  reason=f"{record['id']} graded level {g['level']} ({g['level_zh']}, {g['article']}), {colour}; report to "
                         f"the county government by {g['report_by']} ({g['report_within_hours']} h, {REPORT_ARTICLE}); "
                         f"{g['investigation_rule']}" + (f", by {g['investigation_deadline']}"
                                                         if g["investigation_deadline"] else ""),
                  evidence=[Evidence(command=command, observed={"facts": record["facts"], "grading": g},
                                     expected="第二十八–三十四条 (docs/operations.md)",
                                     note=f"register {record.get('_register', '')}, seq {record['seq']}")])


def verify_register(archive: Archive) -> list[str]:
    """Chain problems of the register, and every record whose kept grading the current rules no longer give."""
    checked = archive.verify()
    problems = [str(p) for p in checked.problems]
    fields = set(Facts.__dataclass_fields__)
    for record in checked.records:
        try:
            facts = Facts(**{k: v for k, v in record.get("facts", {}).items() if k in fields})
            again = asdict(grade(facts))
        except (FactError, TypeError) as exc:
            problems.append(f"{record.get('id', '?')}, seq {record.get('seq')}: facts cannot be graded: {exc}")
            continue
        kept = record.get("grading", {})
        differs = [k for k in ("level", "colour", "report_by", "investigation_deadline") if kept.get(k) != again[k]]
        if differs:
            problems.append(f"{record.get('id', '?')}, seq {record.get('seq')}: kept grading differs from the rules in "
                            + ", ".join(f"{k} ({kept.get(k)!r}, the rules give {again[k]!r})" for k in differs))
    return problems


def window_hours() -> int:
    """The evidence window in hours: the policy's inspection interval, as the report reads it."""
    from baseline.operations.changes import window_hours as policy_window

    return policy_window()


def graded_since(record: dict[str, Any], since: datetime) -> bool:
    """True when the grading was kept at or after `since` (a record without a readable time counts as recent)."""
    try:
        return parse_time(str(record.get("graded_at", "")), "graded_at") >= since
    except FactError:
        return True


def register_result(writer: ResultWriter, records: list[dict[str, Any]], problems: list[str], path: Path,
                    since: datetime) -> str:
    """The IR-01 result of the register's verification on the organisation asset; returns its outcome.

    fail: the chain is broken, or a kept grading is not what the current rules give for its facts (level, colour,
          reporting deadline, investigation deadline); every problem named.
          Every kept grading is then also written as a failing `incident_grading[ID]`, so that the pass `grade`
          wrote for it earlier does not stand beside the failure (the newest record of a check counts).
    pass: the chain is intact, every grading re-grades to the same, and at least one was kept in the window.
    not_applicable: intact and consistent, but no incident was graded in the evidence window: there was nothing to
          grade (the verification of the register, older gradings included, is the evidence)."""
    recent = [r for r in records if graded_since(r, since)]
    window = f"since {iso(since)}"
    if problems:
        outcome, reason = "fail", "incident register: " + "; ".join(problems)
    elif not recent:
        outcome, reason = "not_applicable", (
            f"not applicable: no incident recorded in the evidence window ({window}); the register of "
            f"{len(records)} grading(s) is intact and each re-grades to the same level and deadlines")
    else:
        levels = ", ".join(f"{r.get('id')} level {r.get('grading', {}).get('level')}" for r in recent)
        outcome, reason = "pass", (
            f"{len(recent)} incident grading(s) {window} ({levels}); all {len(records)} kept grading(s) re-graded "
            "from their facts by the current rules give the same level, warning colour and deadlines; hash chain "
            "intact")
    if problems:  # a grading's own pass (written by `grade`) no longer stands: the register cannot vouch for it
        for record in records:
            own = [p for p in problems if p.startswith(f"{record.get('id', '?')}, seq ")]
            writer.record(asset=platform_name(), asset_kind="organisation", control_ids=["IR-01"],
                          check=f"incident_grading[{record.get('id', '?')}]", outcome="fail", method="record",
                          host_kind="organisation",
                          reason="; ".join(own) if own else "the register that keeps this grading does not verify: "
                                                           + "; ".join(problems),
                          evidence=[Evidence(command=f"scripts/incident verify ({path})",
                                             observed={"grading": record.get("grading", {}), "problems": own or problems},
                                             expected="the kept grading is what 第二十八–三十四条 give for its facts")])
    writer.record(asset=platform_name(), asset_kind="organisation", control_ids=["IR-01"], check="incident_register",
                  outcome=outcome, method="record", host_kind="organisation", reason=reason,
                  evidence=[Evidence(command=f"scripts/incident verify ({path})",
                                     observed={"records": len(records), "records_in_window": len(recent),
                                               "window_since": iso(since), "problems": problems},
                                     expected={"problems": [], "rules": "第二十八–三十四条 (docs/operations.md)"})])
    return outcome


# --- command line -----------------------------------------------------------------------------------------------


def _render(record: dict[str, Any]) -> str:
    g, f = record["grading"], record["facts"]
    lines = [f"{record['id']}  graded {record['graded_at']} by {record['operator']}",
             f"  level      {g['level']} 级（{g['level_zh']}） / level {g['level']} ({g['level_en']})   {g['article']}",
             f"  warning    {g['colour'] + ' / ' + g['colour_en'] if g['colour'] else '无（第三十二条只设 I–III 级预警） / none'}"
             f"   {COLOUR_ARTICLE}",
             f"  report     to {g['report_to']} within {g['report_within_hours']} h: by {g['report_by']}   {REPORT_ARTICLE}",
             f"  investigate  {g['investigation_by']}",
             f"             {g['investigation_rule']}"
             + (f"; deadline {g['investigation_deadline']}" if g["investigation_deadline"] else ""),
             "  basis"]
    lines += [f"    - {line}" for line in g["basis"]]
    facts = [f"occurred {f['occurred']}", f"outage {f['outage_hours']:g} h"]
    facts += [f"{kind} {count}" for kind, count in f.get("records", {}).items()]
    facts += [f"impact {f['impact']}"] if f.get("impact") else []
    facts += [f"category {f['category']} ({CATEGORIES.get(f['category'], '')})"] if f.get("category") else []
    facts += [f"response ended {f['response_ended']}"] if f.get("response_ended") else []
    lines.append("  facts      " + ", ".join(facts))
    if f.get("summary"):
        lines.append(f"  summary    {f['summary']}")
    return "\n".join(lines)


def _facts_from(args: argparse.Namespace) -> Facts:
    records_given, kinds_given = args.records or [], args.kind or []
    if len(records_given) != len(kinds_given):
        raise FactError(f"{len(records_given)} --records and {len(kinds_given)} --kind: give one --kind for each --records "
                        "(e.g. --records 12000 --kind leaked)")
    records: dict[str, int] = {}
    for count, kind in zip(records_given, kinds_given, strict=True):
        records[kind] = records.get(kind, 0) + count
    occurred = iso(parse_time(args.occurred, "--occurred")) if args.occurred else iso(datetime.now(UTC))
    ended = iso(parse_time(args.response_ended, "--response-ended")) if args.response_ended else ""
    return Facts(occurred=occurred, outage_hours=args.outage_hours, records=records, impact=args.impact or "",
                 category=args.category or "", response_ended=ended, summary=args.summary or "")


def _whole(text: str) -> int:
    try:
        value = int(text.replace(",", "").replace("_", ""))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number of records") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"{text!r}: the number of records cannot be negative")
    return value


def _hours(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of hours") from None
    if not math.isfinite(value) or value < 0:
        raise argparse.ArgumentTypeError(f"{text!r}: outage hours must be 0 or more")
    return value


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="scripts/incident", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--dir", default=None, help=f"incident register directory (default: ${DIR_ENV}, else results/incidents)")
    sub = p.add_subparsers(dest="command", required=True)
    g = sub.add_parser("grade", help="grade an incident from its facts, keep the record, write an IR-01 result")
    g.add_argument("--outage-hours", type=_hours, default=0.0, metavar="H",
                   help="hours the information system was out of service (信息系统中断运行), default 0")
    g.add_argument("--records", type=_whole, action="append", metavar="N",
                   help="number of credit records affected; give a --kind for each --records (repeatable)")
    g.add_argument("--kind", action="append", choices=sorted(RECORD_KINDS),
                   help="what happened to those records: lost, stolen, tampered, fabricated, deleted (one clause, they add "
                        "up), leaked (secrets or privacy), disclosed (to a third party without consent)")
    g.add_argument("--impact", choices=list(IMPACTS),
                   help="研判 of the threat and effect (the 'other' clause of each article): especially_serious (I), "
                        "serious (II), relatively_serious (III), some (IV)")
    g.add_argument("--category", choices=list(CATEGORIES), help="kind of event (第二十六条), for the record")
    g.add_argument("--occurred", help="when the incident happened, ISO 8601 (default: now); the reporting deadline counts "
                                      "from it")
    g.add_argument("--response-ended", help="when the emergency response ended, ISO 8601 (level IV's 30 days count from it)")
    g.add_argument("--summary", help="what happened, in a sentence")
    g.add_argument("--results-file", help="results file for the IR-01 record (default: results/<run id>.jsonl)")
    g.add_argument("--run-id", help="run id of the IR-01 record (default: $BASELINE_RUN_ID, else a new one)")
    g.add_argument("--no-results", action="store_true", help="keep the record, write no IR-01 result")
    g.add_argument("--json", action="store_true", help="print the kept record as JSON")
    sub.add_parser("list", help="the kept gradings, a line each")
    s = sub.add_parser("show", help="one kept grading")
    s.add_argument("id")
    v = sub.add_parser("verify", help="check the register's hash chain and re-grade every record; exit 1 on a problem")
    v.add_argument("--results-file", help="also write an IR-01 result of the check to this results file")
    v.add_argument("--run-id", help="run id of that result (default: $BASELINE_RUN_ID, else a new one)")
    v.add_argument("--window-hours", type=int, default=None, metavar="H",
                   help="evidence window: gradings of the last H hours make the result (default: the policy's "
                        "inspection_interval_hours, as the report)")
    v.add_argument("--evidence-dir", metavar="DIR", help="IR-02: the evidence archives and their custody chain "
                                                         "(default: $BASELINE_EVIDENCE_DIR, else evidence/)")
    v.add_argument("--inventory", help="IR-02: also write an evidence_custody result for every Linux server of this "
                                       "inventory, collected from or not")
    from baseline.operations import evidence

    evidence.add_commands(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    if args.command in ("collect", "custody"):
        from baseline.operations import evidence

        if args.command == "collect":
            return evidence.run_collect(args, argv if argv is not None else sys.argv[1:])
        return evidence.run_custody(args)
    archive = register(args.dir)
    if args.command == "grade":
        try:
            facts = _facts_from(args)
            grading = grade(facts)
        except FactError as exc:
            print(f"scripts/incident: {exc}", file=sys.stderr)
            return 2
        try:
            record = keep(facts, grading, archive)
        except OSError as exc:
            print(f"scripts/incident: the grading could not be kept in {archive.path}: {exc}", file=sys.stderr)
            return 1
        if not args.no_results:
            command = "scripts/incident " + " ".join(argv if argv is not None else sys.argv[1:])
            try:
                writer = results_writer(args.results_file, args.run_id)
                grading_result(writer, {**record, "_register": str(archive.path)}, command)
            except OSError as exc:
                print(f"scripts/incident: {record['id']} is kept (seq {record['seq']}), but its IR-01 result could not "
                      f"be written: {exc}", file=sys.stderr)
                return 1
        if args.json:
            print(json.dumps(record, ensure_ascii=False, indent=1))
        else:
            print(_render(record))
            overdue = datetime.now(UTC) - parse_time(grading.report_by, "report_by")
            if overdue > timedelta(0):
                print(f"  ! the reporting deadline passed {overdue.total_seconds() / 3600:.1f} h ago", file=sys.stderr)
            print(f"  kept in {archive.path} (seq {record['seq']})")
        return 0
    if args.command == "list":
        for record in archive.read():
            g = record.get("grading", {})
            print(f"{record.get('id')}  {record.get('graded_at')}  level {g.get('level', '?'):3}  "
                  f"{g.get('colour_en') or '-':6}  report by {g.get('report_by')}  {record.get('facts', {}).get('summary', '')}")
        return 0
    if args.command == "show":
        found = [r for r in archive.read() if r.get("id") == args.id]
        if not found:
            print(f"scripts/incident: no incident {args.id} in {archive.path}", file=sys.stderr)
            return 2
        print(_render(found[-1]))
        return 0
    problems = verify_register(archive)
    kept = archive.read()
    count = len(kept)
    from baseline.operations import evidence

    custody = evidence.verify_custody(args.evidence_dir)
    if args.results_file:
        hours = args.window_hours if args.window_hours and args.window_hours > 0 else window_hours()
        since = datetime.now(UTC) - timedelta(hours=hours)
        writer = results_writer(args.results_file, args.run_id)
        register_result(writer, kept, problems, archive.path, since)
        try:
            servers = evidence_servers(args.inventory) if args.inventory else []
        except Exception as exc:  # the inventory library's errors are of many kinds; name the file and stop
            print(f"scripts/incident: the inventory {args.inventory} cannot be read: {exc}", file=sys.stderr)
            return 2
        graded = [str(r.get("id", "?")) for r in kept if graded_since(r, since)]
        evidence.custody_results(writer, custody, since, hosts=servers, incidents_in_window=graded)
    for problem in problems:
        print(f"  {problem}")
    print(f"incident register {archive.path}: {count} record(s), " + (f"{len(problems)} problem(s)" if problems else "intact"))
    for problem in custody.problems:
        print(f"  {problem}")
    print(f"evidence custody chain {custody.path}: {len(custody.records)} record(s), "
          + (f"{len(custody.problems)} problem(s)" if custody.problems else "intact"))
    return 1 if problems or custody.problems else 0


def evidence_servers(path: str) -> list[str]:
    """The Linux servers of an inventory (the assets IR-02 targets)."""
    from baseline.report.assets import from_inventory

    found, _ = from_inventory(path)
    return [asset.name for asset in found if asset.kind == "linux"]


if __name__ == "__main__":
    sys.exit(main())
