"""Classified-protection assessments (AS-01, 第十九条(六)): the register of the yearly assessment and the report's
coverage of the policy.

    baseline assessment record --date 2026-11-20 --body "XX测评中心" --report-no "DJCP-2026-0417" --conclusion 基本符合
    baseline assessment list
    baseline assessment verify [--results-file F]

`record` keeps one assessment (date, assessing body, report number, conclusion, level, who recorded it) in an
append-only, hash-chained register (baseline/operations/chain.py): results/assessments/assessments.jsonl, or
$BASELINE_ASSESSMENTS_DIR. `verify` checks two things and writes them as AS-01 results on the organisation asset:

  assessment_coverage   every article of the policy in scope (catalog/articles.yml) is cited by a control of the
                        catalog, no control cites an article out of scope or unknown, every control names its GB/T
                        22239 clauses, every manual control names its owner: the report covers every article and
                        clause in scope, automated or marked manual with its owner.
  assessment_interval   the register's chain is intact and the latest assessment is no older than the policy's
                        assessment_interval_days (365: yearly). No assessment recorded: not verified, with the reason
                        (the register holds no evidence either way); older than the interval, or a broken chain: fails.
"""

from __future__ import annotations

import argparse
import getpass
import os
import re
import socket
import sys
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import yaml

from baseline import REPO_ROOT
from baseline.catalog import Catalog
from baseline.catalog import load as load_catalog
from baseline.operations.chain import Archive
from baseline.results import Evidence, ResultWriter, new_run_id

SCHEMA = "baseline.assessment/1"
DIR_ENV = "BASELINE_ASSESSMENTS_DIR"
DEFAULT_DIR = REPO_ROOT / "results" / "assessments"
ARTICLES_PATH = REPO_ROOT / "catalog" / "articles.yml"
CONCLUSIONS = ("符合", "基本符合", "不符合")
INTERVAL_VARIABLE = "assessment_interval_days"
INTERVAL_DEFAULT = 365  # 第十九条(六): yearly
ARTICLE = re.compile(r"^(第[一二三四五六七八九十百零]+条)")


class AssessmentError(ValueError):
    """Bad input for a record; the message names the argument and the rule."""


@dataclass(frozen=True)
class Article:
    key: str
    scope: str  # in / out
    title: str
    reason: str = ""


def load_articles(path: Path = ARTICLES_PATH) -> dict[str, Article]:
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    articles: dict[str, Article] = {}
    for key, entry in (data.get("articles") or {}).items():
        scope = str(entry.get("scope", ""))
        if scope not in ("in", "out"):
            raise ValueError(f"{path}: {key}: scope must be 'in' or 'out', not {scope!r}")
        if scope == "out" and not str(entry.get("reason", "")).strip():
            raise ValueError(f"{path}: {key} is out of scope without a reason")
        articles[str(key)] = Article(str(key), scope, str(entry.get("title", "")), str(entry.get("reason", "")))
    return articles


def cited_article(citation: str) -> str:
    """第十六条(一) -> 第十六条; '' when the citation is not an article."""
    found = ARTICLE.match(citation.strip())
    return found.group(1) if found else ""


def coverage_gaps(catalog: Catalog, articles: dict[str, Article]) -> list[str]:
    """Every way the catalog fails to cover the policy: each gap named, none when the coverage is complete."""
    citing: dict[str, list[str]] = {}
    gaps: list[str] = []
    for control in catalog.controls.values():
        for citation in control.articles:
            key = cited_article(citation)
            if not key:
                gaps.append(f"{control.id} cites {citation!r}, which is not an article (第N条 or 第N条(item))")
                continue
            citing.setdefault(key, []).append(control.id)
        if not control.clauses:
            gaps.append(f"{control.id} names no GB/T 22239-2019 clause")
        if control.status == "manual" and not control.owner.strip():
            gaps.append(f"{control.id} is manual and names no owner who keeps its evidence")
    for key, article in articles.items():
        if article.scope == "in" and key not in citing:
            gaps.append(f"{key} ({article.title}) is in scope and no control cites it")
        if article.scope == "out" and key in citing:
            gaps.append(f"{key} is out of scope ({article.reason}) but {', '.join(citing[key])} cite(s) it")
    for key in sorted(set(citing) - set(articles)):
        gaps.append(f"{key}, cited by {', '.join(citing[key])}, is not in {ARTICLES_PATH.relative_to(REPO_ROOT)}")
    return gaps


def register(directory: str | os.PathLike | None = None) -> Archive:
    return Archive(directory or os.environ.get(DIR_ENV) or DEFAULT_DIR, "assessments")


def operator() -> str:
    return os.environ.get("BASELINE_OPERATOR") or os.environ.get("SUDO_USER") or getpass.getuser()


def parse_date(text: str) -> date:
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise AssessmentError(f"--date {text!r}: give the assessment report's date as YYYY-MM-DD") from None


def new_record(*, on: date, body: str, report_no: str, conclusion: str, level: int, note: str = "",
               today: date | None = None) -> dict[str, Any]:
    today = today or datetime.now(UTC).date()
    if on > today:
        raise AssessmentError(f"--date {on.isoformat()}: an assessment cannot be dated after today ({today.isoformat()})")
    for name, value in (("--body", body), ("--report-no", report_no)):
        if not value.strip():
            raise AssessmentError(f"{name}: required, not empty (the assessing body and the report number identify "
                                  "the assessment)")
    if conclusion not in CONCLUSIONS:
        raise AssessmentError(f"--conclusion {conclusion!r}: one of {', '.join(CONCLUSIONS)}")
    if level not in (2, 3):
        raise AssessmentError(f"--level {level}: the protection level is 2 or 3")
    now = datetime.now(UTC)
    return {"schema": SCHEMA, "id": "ASM-" + now.strftime("%Y%m%dT%H%M%SZ") + "-" + uuid.uuid4().hex[:6],
            "date": on.isoformat(), "body": body.strip(), "report_no": report_no.strip(), "conclusion": conclusion,
            "level": level, "note": note.strip(), "recorded_at": now.isoformat(timespec="seconds"),
            "operator": operator(), "controller": socket.gethostname()}


def interval_days() -> int:
    from baseline.report.assets import policy_value

    value = policy_value(INTERVAL_VARIABLE, INTERVAL_DEFAULT)
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else INTERVAL_DEFAULT


def interval_outcome(records: list[dict[str, Any]], problems: list[str], days: int,
                     today: date) -> tuple[str, str, dict[str, Any]]:
    """(outcome, reason, observed) of the yearly assessment from the register."""
    dated = []
    for record in records:
        try:
            dated.append((date.fromisoformat(str(record.get("date", ""))), record))
        except ValueError:
            problems = [*problems, f"{record.get('id', '?')}: date {record.get('date')!r} is not YYYY-MM-DD"]
    if problems:
        return "fail", "assessment register: " + "; ".join(problems), {"problems": problems}
    if not dated:
        return ("not_verifiable", "no assessment is recorded in the register (baseline assessment record ...): "
                f"nothing shows an assessment in the last {days} days, nor its absence", {"records": 0})
    on, last = max(dated, key=lambda item: item[0])
    age = (today - on).days
    observed = {"records": len(records), "latest": {k: last.get(k) for k in ("id", "date", "body", "report_no",
                                                                             "conclusion", "level")}, "age_days": age}
    summary = f"{last.get('report_no')} by {last.get('body')} on {on.isoformat()} ({last.get('conclusion')})"
    if age > days:
        return "fail", f"the latest assessment, {summary}, is {age} days old: more than {days} (第十九条(六))", observed
    return "pass", f"latest assessment {summary}, {age} days ago (at most {days}); register intact", observed


def write_results(writer: ResultWriter, platform: str, gaps: list[str], articles: dict[str, Article], *,
                  interval: tuple[str, str, dict[str, Any]], register_path: Path, days: int) -> None:
    in_scope = sorted(k for k, a in articles.items() if a.scope == "in")
    writer.record(asset=platform, asset_kind="organisation", control_ids=["AS-01"], check="assessment_coverage",
                  outcome="fail" if gaps else "pass", method="record", host_kind="organisation",
                  reason=("the report's coverage of the policy has gaps: " + "; ".join(gaps)) if gaps else
                         f"all {len(in_scope)} articles in scope are cited by controls of the catalog; "
                         f"{len(articles) - len(in_scope)} out of scope, each with its reason; every control names its "
                         "clauses and every manual control its owner",
                  evidence=[Evidence(command="baseline assessment verify (catalog/controls.yml, catalog/articles.yml)",
                                     observed={"articles_in_scope": len(in_scope), "gaps": gaps},
                                     expected={"gaps": []})])
    outcome, reason, observed = interval
    writer.record(asset=platform, asset_kind="organisation", control_ids=["AS-01"], check="assessment_interval",
                  outcome=outcome, method="record", host_kind="organisation", reason=reason,
                  evidence=[Evidence(command=f"baseline assessment verify ({register_path})", observed=observed,
                                     expected={INTERVAL_VARIABLE: days})])


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="baseline assessment", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--dir", default=None, help=f"register directory (default: ${DIR_ENV}, else results/assessments)")
    sub = p.add_subparsers(dest="command", required=True)
    r = sub.add_parser("record", help="keep one assessment in the register")
    r.add_argument("--date", required=True, help="date of the assessment report, YYYY-MM-DD")
    r.add_argument("--body", required=True, help="the assessing body (测评机构)")
    r.add_argument("--report-no", required=True, help="the assessment report's number")
    r.add_argument("--conclusion", required=True, help=f"the report's conclusion: {', '.join(CONCLUSIONS)}")
    r.add_argument("--level", type=int, default=None, help="protection level assessed (default: the inventory's)")
    r.add_argument("--note", default="", help="anything the record should say")
    sub.add_parser("list", help="the kept assessments, a line each")
    v = sub.add_parser("verify", help="coverage of the policy and the yearly assessment; exit 1 on a gap or an "
                                      "overdue assessment")
    v.add_argument("--results-file", help="write the AS-01 results to this results file")
    v.add_argument("--run-id", help="run id of those results (default: $BASELINE_RUN_ID, else a new one)")
    return p


def main(argv: list[str] | None = None) -> int:
    from baseline.operations.incidents import platform_name
    from baseline.report.assets import policy_value

    args = parser().parse_args(argv)
    archive = register(args.dir)
    if args.command == "record":
        try:
            configured = policy_value("protection_level", 2)
            level = args.level if args.level is not None else configured if isinstance(configured, int) else 2
            record = new_record(on=parse_date(args.date), body=args.body, report_no=args.report_no,
                                conclusion=args.conclusion, level=level, note=args.note)
        except AssessmentError as exc:
            print(f"baseline assessment record: {exc}", file=sys.stderr)
            return 2
        kept = archive.append(record)
        print(f"{kept['id']}  {kept['date']}  {kept['body']}  {kept['report_no']}  {kept['conclusion']}  "
              f"kept in {archive.path} (seq {kept['seq']})")
        return 0
    if args.command == "list":
        for record in archive.read():
            print(f"{record.get('id')}  {record.get('date')}  level {record.get('level')}  {record.get('conclusion')}  "
                  f"{record.get('report_no')}  {record.get('body')}")
        return 0
    checked = archive.verify()
    gaps = coverage_gaps(load_catalog(), load_articles())
    days = interval_days()
    interval = interval_outcome(checked.records, [str(p) for p in checked.problems], days, datetime.now(UTC).date())
    if args.results_file:
        run = args.run_id or os.environ.get("BASELINE_RUN_ID", "").strip() or new_run_id()
        write_results(ResultWriter(Path(args.results_file), run), platform_name(), gaps, load_articles(),
                      interval=interval, register_path=archive.path, days=days)
    for gap in gaps:
        print(f"  coverage: {gap}")
    print(f"  assessment: {interval[1]}")
    print(f"AS-01: coverage {'complete' if not gaps else f'{len(gaps)} gap(s)'}; yearly assessment {interval[0]}")
    return 1 if gaps or interval[0] == "fail" else 0


if __name__ == "__main__":
    sys.exit(main())
