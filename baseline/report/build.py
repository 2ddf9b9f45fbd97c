"""Assemble a report from results, catalog, assets and waivers. Pure: no files read or written here.

Several results files may name the same check; the latest record of each check on each asset counts
(a re-run replaces what it re-checked and leaves the rest). With an evidence window, a latest record older
than the window is stale: left out of the verdicts and listed. Each run also gives a point of the trend: the
state after that run (judged as of that run's time), so the report shows how compliance moved between runs.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date

from baseline.catalog import Catalog, Control, Family
from baseline.report import verdicts as v
from baseline.report.assets import Asset
from baseline.report.evidence import Window, parse_time, split
from baseline.results import METHODS, CheckResult
from baseline.waivers import Waiver, find

CheckKey = tuple[str, str, str, tuple[str, ...]]


@dataclass
class Cell:
    """One control on one asset: a row of the assessment record sheet."""

    control: Control
    asset: Asset
    verdict: str
    failing: bool
    reasons: tuple[v.Reason, ...]
    checks: list[CheckResult]  # current results only; stale ones are left out
    waiver: Waiver | None = None

    @property
    def duration_s(self) -> float:
        return round(sum(c.duration_s for c in self.checks), 4)

    @property
    def in_scope(self) -> bool:
        return self.verdict != v.NOT_APPLICABLE

    @property
    def evidenced(self) -> bool:
        """A current result shows the control's state here (passed or failed; not merely not verifiable)."""
        return any(c.outcome in v.EVIDENCE_OUTCOMES for c in self.checks)

    @property
    def missing_evidence(self) -> bool:
        """In scope, automated or partly automated, and no current result at all: the evidence is missing."""
        return self.in_scope and self.control.status in ("automated", "partial") and not self.checks

    @property
    def finding(self) -> bool:
        return self.in_scope and v.is_finding(self.verdict, self.failing)

    @property
    def risk(self) -> str | None:
        """high / medium / low for a finding (from the control's severity), else None."""
        return v.risk_level(self.control.severity) if self.finding else None

    @property
    def methods(self) -> Counter:
        """How the current checks of this cell verified: method -> number of checks ("" when a record does not say)."""
        return Counter(c.method for c in self.checks)


@dataclass
class ControlRow:
    control: Control
    family: Family
    cells: list[Cell]
    verdict: str
    failing: bool
    counts: Counter


@dataclass
class Group:
    """A summary line: cells grouped by family, clause, article or asset."""

    key: str
    control_ids: list[str]
    counts: Counter
    verdict: str
    failing: int
    zh: str = ""
    en: str = ""

    @property
    def met_share(self) -> float | None:
        return v.met_share(self.counts)


@dataclass
class RunInfo:
    run_id: str
    first: str
    last: str
    records: int


@dataclass
class TrendPoint:
    run: RunInfo
    counts: Counter
    failing: int

    @property
    def met_share(self) -> float | None:
        return v.met_share(self.counts)


@dataclass
class Change:
    control_id: str
    asset: str
    before: str
    after: str


@dataclass
class MethodCount:
    """Current check records that verified in one way, and how many of them are evidence (passed or failed)."""

    method: str  # one of METHODS, or "" for records that do not say
    checks: int
    evidenced: int


def method_counts(results: Iterable[CheckResult]) -> list[MethodCount]:
    """Records per method, strongest first (probe, state, config, record), then the ones that do not say."""
    checks: Counter = Counter()
    evidenced: Counter = Counter()
    for r in results:
        checks[r.method] += 1
        evidenced[r.method] += r.outcome in v.EVIDENCE_OUTCOMES
    order = [*METHODS, *sorted(m for m in checks if m not in METHODS)]
    return [MethodCount(m, checks[m], evidenced[m]) for m in order if checks[m] or m in METHODS]


@dataclass
class WaiverUse:
    waiver: Waiver
    state: str  # valid / expired
    cells: list[str] = field(default_factory=list)  # asset keys whose failures it covers (or would have)


@dataclass
class Report:
    generated: str
    as_of: date
    platform: str
    level: int
    catalog: Catalog
    assets: list[Asset]
    rows: list[ControlRow]
    by_family: list[Group]
    by_clause: list[Group]
    by_article: list[Group]
    by_asset: list[Group]
    waivers: list[WaiverUse]
    runs: list[RunInfo]
    trend: list[TrendPoint]
    changes: list[Change]
    warnings: list[str]
    counts: Counter
    failing_cells: int
    conclusion: v.Conclusion
    window: Window | None = None
    stale: list[CheckResult] = field(default_factory=list)  # latest records left out for their age
    methods: list[MethodCount] = field(default_factory=list)  # current records per method (how they verified)

    @property
    def overall(self) -> str:
        """pass / pass_with_gaps / fail / inconclusive (符合 / 基本符合 / 不符合 / 无法得出结论)."""
        return self.conclusion.code

    @property
    def failing_controls(self) -> list[ControlRow]:
        return [row for row in self.rows if row.failing]

    @property
    def met_share(self) -> float | None:
        return v.met_share(self.counts)

    @property
    def findings(self) -> list[Cell]:
        """Failing or waived cells, each with its risk level: the security problems found."""
        return [c for row in self.rows for c in row.cells if c.finding]

    @property
    def missing_evidence(self) -> list[Cell]:
        return [c for row in self.rows for c in row.cells if c.missing_evidence]

    @property
    def exit_code(self) -> int:
        """2 no conclusion can be drawn; 1 a cell fails or the conclusion is 不符合; 0 otherwise."""
        if self.overall == v.INCONCLUSIVE:
            return 2
        return 1 if self.failing_cells or self.overall == v.NOT_COMPLIANT else 0


def latest(results: Iterable[CheckResult]) -> list[CheckResult]:
    """The newest record of every check on every asset (ties: the one read last)."""
    newest: dict[CheckKey, tuple[str, int, CheckResult]] = {}
    for index, r in enumerate(results):
        key = (r.asset, r.asset_kind, r.check, tuple(r.control_ids))
        held = newest.get(key)
        if held is None or (r.time, index) >= held[:2]:
            newest[key] = (r.time, index, r)
    return [item[2] for item in sorted(newest.values(), key=lambda item: item[1])]


def runs_of(results: Sequence[CheckResult]) -> list[RunInfo]:
    spans: dict[str, list] = {}
    for r in results:
        span = spans.setdefault(r.run_id, [r.time, r.time, 0])
        span[0], span[1], span[2] = min(span[0], r.time), max(span[1], r.time), span[2] + 1
    return sorted((RunInfo(run_id, *span) for run_id, span in spans.items()), key=lambda run: (run.first, run.run_id))


def remediation(control: Control, asset: Asset) -> str:
    """What to run to bring an asset back to the baseline: the control's tag, limited to the asset."""
    if control.status == "manual" or asset.kind == "organisation":
        return f"{control.owner or '—'}"
    if asset.kind == "network":
        return f"scripts/netdev (device baseline templates marked {{# control: {control.id} #}}) for {asset.name}"
    return f"ansible-playbook playbooks/site.yml --tags {control.id} --limit {asset.name}"


def _index(results: Iterable[CheckResult], catalog: Catalog, warnings: list[str]) -> dict[tuple[str, str], list]:
    by_cell: dict[tuple[str, str], list[CheckResult]] = defaultdict(list)
    unknown: dict[str, int] = Counter()
    for r in results:
        for cid in r.control_ids:
            if cid not in catalog:
                unknown[cid] += 1
                continue
            by_cell[(cid, f"{r.asset}/{r.asset_kind}")].append(r)
    warnings.extend(f"{n} result(s) name control {cid}, which is not in the catalog" for cid, n in sorted(unknown.items()))
    return by_cell


def evaluate(catalog: Catalog, assets: Sequence[Asset], results: Iterable[CheckResult], waivers: Sequence[Waiver],
             *, as_of: date, warnings: list[str] | None = None, stale: Iterable[CheckResult] = ()) -> list[ControlRow]:
    """Verdicts of every control on every asset of a kind it targets, from the current `results`; `stale`
    results are only named in the reasons of their cells."""
    warnings = warnings if warnings is not None else []
    by_cell = _index(results, catalog, warnings)
    stale_times: dict[tuple[str, str], list[str]] = defaultdict(list)
    for r in stale:
        for cid in r.control_ids:
            stale_times[(cid, f"{r.asset}/{r.asset_kind}")].append(r.time)
    by_kind: dict[str, list[Asset]] = defaultdict(list)
    for asset in assets:
        by_kind[asset.kind].append(asset)
    rows = []
    used: set[tuple[str, str]] = set()
    for control in catalog.controls.values():
        cells = []
        for kind in control.targets:
            for asset in by_kind.get(kind, ()):
                checks = by_cell.get((control.id, asset.key), [])
                used.add((control.id, asset.key))
                waiver = find(waivers, control.id, asset.name, asset.kind)
                cv = v.cell_verdict(control, asset.level, [(c.outcome, c.reason) for c in checks], waiver, as_of,
                                    stale=stale_times.get((control.id, asset.key), ()))
                cells.append(Cell(control, asset, cv.verdict, cv.failing, cv.reasons, checks,
                                  waiver if cv.verdict == v.WAIVED or cv.failing else None))
        verdicts = [c.verdict for c in cells] or ([v.MANUAL] if control.status == "manual" else [v.NOT_APPLICABLE])
        rows.append(ControlRow(control, catalog.families[control.family], cells, v.combine(verdicts),
                               any(c.failing for c in cells), Counter(c.verdict for c in cells)))
    present = {asset.kind for asset in assets}
    orphans = sorted(c.id for c in catalog.controls.values() if not present & set(c.targets))
    if orphans:
        warnings.append(f"no asset of the kinds targeted by {', '.join(orphans)}; they are reported as not applicable")
    stray = Counter(cid for cid, key in by_cell if (cid, key) not in used)
    warnings.extend(f"{n} asset(s) have results for {cid} although it does not target their kind; ignored"
                    for cid, n in sorted(stray.items()))
    return rows


def _group(key: str, rows: Iterable[ControlRow], zh: str = "", en: str = "") -> Group:
    rows = list(rows)
    counts: Counter = Counter()
    for row in rows:
        counts.update(row.counts)
    verdicts = [c.verdict for row in rows for c in row.cells] or [row.verdict for row in rows]
    return Group(key, [row.control.id for row in rows], counts, v.combine(verdicts),
                 sum(c.failing for row in rows for c in row.cells), zh, en)


_CN_DIGITS = {"零": 0, "一": 1, "二": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9}


def chinese_number(text: str) -> int:
    """十六 -> 16, 二十一 -> 21, 三十八 -> 38 (enough for article and item numbers)."""
    if "十" not in text:
        return sum(_CN_DIGITS.get(ch, 0) for ch in text)
    tens, _, ones = text.partition("十")
    return (_CN_DIGITS.get(tens, 1) if tens else 1) * 10 + (_CN_DIGITS.get(ones, 0) if ones else 0)


def article_key(article: str) -> tuple[int, int]:
    match = re.match(r"第(.+?)条(?:[(（](.+?)[)）])?", article)
    if not match:
        return (999, 0)
    return (chinese_number(match.group(1)), chinese_number(match.group(2)) if match.group(2) else 0)


def clause_key(clause: str) -> tuple:
    numbers, _, letter = clause.partition(" ")
    return (*(int(p) for p in numbers.split(".") if p.isdigit()), letter)


def summaries(catalog: Catalog, rows: list[ControlRow], assets: Sequence[Asset]) -> dict[str, list[Group]]:
    by_clause: dict[str, list[ControlRow]] = defaultdict(list)
    by_article: dict[str, list[ControlRow]] = defaultdict(list)
    for row in rows:
        for clause in row.control.clauses:
            if re.match(r"^\d+(\.\d+)+", clause):  # GB/T 22239 items; L3-CES1-nn unit ids are shown per control
                by_clause[clause].append(row)
        for article in row.control.articles:
            by_article[article].append(row)
    families = [_group(key, [r for r in rows if r.control.family == key], fam.zh, fam.en)
                for key, fam in catalog.families.items() if any(r.control.family == key for r in rows)]
    cells_of: dict[str, list[Cell]] = defaultdict(list)
    for row in rows:
        for c in row.cells:
            cells_of[c.asset.key].append(c)
    per_asset = []
    for asset in assets:
        cells = cells_of[asset.key]
        counts = Counter(c.verdict for c in cells)
        per_asset.append(Group(asset.key, [c.control.id for c in cells], counts, v.combine(counts.elements()),
                               sum(c.failing for c in cells)))
    return {
        "family": families,
        "clause": [_group(k, by_clause[k]) for k in sorted(by_clause, key=clause_key)],
        "article": [_group(k, by_article[k]) for k in sorted(by_article, key=article_key)],
        "asset": per_asset,
    }


def _cell_map(rows: Iterable[ControlRow]) -> dict[tuple[str, str], str]:
    return {(c.control.id, c.asset.key): c.verdict for row in rows for c in row.cells}


def conclusion_of(rows: Iterable[ControlRow]) -> v.Conclusion:
    """The overall conclusion of judged rows: verdict counts, findings' risks, evidence present and missing.

    One pass over the cells (the same tests as Cell.finding, .evidenced and .missing_evidence, inlined: a large
    estate has tens of thousands of cells)."""
    counts: Counter = Counter()
    findings: list[str] = []
    evidenced = missing = 0
    for row in rows:
        status, risk = row.control.status, v.risk_level(row.control.severity)
        for c in row.cells:
            counts[c.verdict] += 1
            if c.verdict == v.NOT_APPLICABLE:
                continue
            if v.is_finding(c.verdict, c.failing):
                findings.append(risk)
            if not c.checks:
                missing += status in ("automated", "partial")
            elif any(ch.outcome in v.EVIDENCE_OUTCOMES for ch in c.checks):
                evidenced += 1
    return v.conclude(counts, findings, evidenced=evidenced, missing=missing)


def _stale_warning(stale: Sequence[CheckResult], window: Window) -> str:
    last = max(stale, key=lambda r: r.time).time
    return (f"{len(stale)} result record(s) older than the evidence window ({window.hours:g} h before "
            f"{window.reference.isoformat(timespec='seconds')}, from {window.source}) left out of the verdicts; "
            f"the newest of them is from {last}; see the stale evidence list")


def build(results: Sequence[CheckResult], catalog: Catalog, assets: Sequence[Asset], waivers: Sequence[Waiver],
          *, as_of: date, generated: str, platform: str, level: int, warnings: Sequence[str] = (),
          window: Window | None = None) -> Report:
    """The report. With `window`, the latest record of a check older than the window is left out (stale)."""
    warnings = list(warnings)
    runs = runs_of(results)
    current, stale = split(latest(results), window)
    rows = evaluate(catalog, assets, current, waivers, as_of=as_of, warnings=warnings, stale=stale)
    trend: list[TrendPoint] = []
    changes: list[Change] = []
    if len(runs) > 1:
        run_order = {run.run_id: i for i, run in enumerate(runs)}
        previous_rows: list[ControlRow] = []
        for i, run in enumerate(runs):
            if i == len(runs) - 1:
                upto = rows
            else:  # the state after this run, judged as of this run's last result
                run_window = window.at(parse_time(run.last) or window.reference) if window else None
                then, then_stale = split(latest(r for r in results if run_order[r.run_id] <= i), run_window)
                upto = evaluate(catalog, assets, then, waivers, as_of=as_of, stale=then_stale)
            counts = Counter(c.verdict for row in upto for c in row.cells)
            trend.append(TrendPoint(run, counts, sum(c.failing for row in upto for c in row.cells)))
            if i == len(runs) - 1:
                before, after = _cell_map(previous_rows), _cell_map(upto)
                changes = [Change(cid, key, before[(cid, key)], verdict) for (cid, key), verdict in after.items()
                           if (cid, key) in before and before[(cid, key)] != verdict]
            previous_rows = upto
    groups = summaries(catalog, rows, assets)
    counts = Counter(c.verdict for row in rows for c in row.cells)
    failing = sum(c.failing for row in rows for c in row.cells)
    uses = []
    for waiver in waivers:
        keys = [c.asset.key for row in rows for c in row.cells if c.waiver is waiver]
        uses.append(WaiverUse(waiver, waiver.state(as_of), keys))
    missing = [name for w in waivers for name in w.assets if name not in {a.name for a in assets}]
    warnings.extend(f"waiver for {name} names an asset that is neither in the inventory nor in the results"
                    for name in sorted(set(missing)))
    if stale and window is not None:
        warnings.append(_stale_warning(stale, window))
    return Report(
        generated=generated, as_of=as_of, platform=platform, level=level, catalog=catalog,
        assets=list(assets), rows=rows, by_family=groups["family"], by_clause=groups["clause"],
        by_article=groups["article"], by_asset=groups["asset"], waivers=uses, runs=runs, trend=trend,
        changes=changes, warnings=warnings, counts=counts, failing_cells=failing, conclusion=conclusion_of(rows),
        window=window, stale=sorted(stale, key=lambda r: (r.asset, r.asset_kind, r.control_ids, r.check)),
        methods=method_counts(current),
    )
