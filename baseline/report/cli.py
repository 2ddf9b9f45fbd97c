"""Write the compliance report (HTML, XLSX assessment record sheet, JSON, JUnit XML) from results files.

The conclusion follows the 网络安全等级测评报告模版（2025版）: share met above 90 % and no high-risk finding 符合,
above 60 % 基本符合, else 不符合 (docs/report.md). No conclusion without evidence: results older than the evidence
window (the policy's inspection interval, or --max-age-days) do not count, and when no in-scope cell has evidence,
or automated controls lack it and it could change the conclusion, the report concludes nothing.

Exit status: 0 a conclusion (符合 or 基本符合) and no in-scope control fails; 1 a control × asset cell fails or the
conclusion is 不符合 (with --strict also when an automated control has only not-verifiable results); 2 no
conclusion can be drawn (无法得出结论: no evidence, or evidence missing), or an input is unusable (bad results,
waivers, inventory or policy values).
"""

from __future__ import annotations

import argparse
import glob
import sys
from datetime import UTC, date, datetime
from pathlib import Path

from baseline import REPO_ROOT as REPO
from baseline import catalog as catalog_mod
from baseline import waivers as waivers_mod
from baseline.report import OUTPUTS, evidence, gc_paused, labels, write_all
from baseline.report import assets as assets_mod
from baseline.report import verdicts as v
from baseline.report.build import build
from baseline.results import read_results


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="scripts/report", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--results", nargs="+", metavar="FILE",
                        help="results files (JSON Lines, baseline.result/1); several files give the trend between runs. "
                             "Default: the newest results/*.jsonl")
    parser.add_argument("--out", default="reports", help="directory for the outputs (default: reports/)")
    parser.add_argument("--lang", choices=labels.LANGS, default="zh",
                        help="language the HTML opens in and the XLSX is written in (default: zh; the HTML can switch)")
    parser.add_argument("--inventory", default=None,
                        help="Ansible inventory naming the assets and their protection_level (default: "
                             "$BASELINE_INVENTORY or inventory/lab when it lists hosts; else the assets named by the results)")
    parser.add_argument("--no-inventory", action="store_true", help="take the assets from the results only")
    parser.add_argument("--waivers", default=str(REPO / "inventory" / "waivers.yml"),
                        help="waivers file (default: inventory/waivers.yml; missing file = no waivers)")
    parser.add_argument("--catalog", default=str(catalog_mod.CATALOG_PATH),
                        help="control catalog (default: catalog/controls.yml)")
    parser.add_argument("--level", type=int, choices=(2, 3), help="protection level for every asset, overriding the inventory")
    parser.add_argument("--as-of", type=date.fromisoformat, default=None,
                        help="judge waiver expiry and the age of evidence as of this date (its end), YYYY-MM-DD "
                             "(default: today, now)")
    parser.add_argument("--max-age-days", type=int, default=None, metavar="N",
                        help="results older than N days do not count (default: the policy's inspection interval, "
                             "inspection_interval_hours)")
    parser.add_argument("--formats", default=",".join(OUTPUTS),
                        help=f"comma-separated outputs to write (default: {','.join(OUTPUTS)})")
    parser.add_argument("--strict", action="store_true",
                        help="also exit 1 when an automated or partial control has no verifiable result on an asset")
    return parser.parse_args(argv)


def results_files(given: list[str] | None) -> list[str]:
    if given:
        files = [f for pattern in given for f in (sorted(glob.glob(pattern)) or [pattern])]
    else:
        found = sorted(glob.glob(str(REPO / "results" / "*.jsonl")), key=lambda p: Path(p).stat().st_mtime)
        files = found[-1:]
    missing = [f for f in files if not Path(f).is_file()]
    if not files or missing:
        raise SystemExit(f"scripts/report: no results file {' '.join(missing) if missing else 'in results/'}; "
                         "run the compliance tests or a network audit first, or pass --results")
    return files


def inventory_assets(args: argparse.Namespace) -> tuple[list[assets_mod.Asset], dict, str]:
    if args.no_inventory:
        return [], {}, ""
    path = Path(args.inventory) if args.inventory else assets_mod.inventory_default()
    if path is None:
        return [], {}, ""
    found, common = assets_mod.from_inventory(path, args.level)
    return found, common, str(path)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    formats = tuple(f.strip() for f in args.formats.split(",") if f.strip())
    unknown = [f for f in formats if f not in OUTPUTS]
    if unknown:
        print(f"scripts/report: unknown format(s) {', '.join(unknown)}; choose from {', '.join(OUTPUTS)}", file=sys.stderr)
        return 2
    try:
        files = results_files(args.results)
        with gc_paused():
            results = list(read_results(files))
        cat = catalog_mod.load(Path(args.catalog))
        waiver_path = Path(args.waivers)
        waivers = waivers_mod.load(waiver_path, cat) if waiver_path.is_file() else []
        inv_assets, common, inv_path = inventory_assets(args)
    except (ValueError, OSError) as exc:
        print(f"scripts/report: {exc}", file=sys.stderr)
        return 2
    level = args.level or int(common.get("protection_level", assets_mod.default_level()))
    platform = str(common.get("platform_name") or assets_mod.platform_name())
    now = datetime.now(UTC)
    reference = evidence.end_of_day(args.as_of) if args.as_of else now
    try:
        if args.max_age_days is not None:
            window = evidence.days_window(args.max_age_days, reference)
        else:
            interval = common.get(evidence.POLICY_VARIABLE, assets_mod.policy_value(evidence.POLICY_VARIABLE))
            values = {} if interval is None else {evidence.POLICY_VARIABLE: interval}
            window = evidence.policy_window(values, reference)
    except ValueError as exc:
        print(f"scripts/report: {exc}", file=sys.stderr)
        return 2
    warnings = []
    org = assets_mod.organisation(platform, level)
    # results on the platform itself (incident gradings, IR-01) are the organisation asset the report always has
    seen = [a for a in assets_mod.from_results(results, level) if a.key != org.key]
    if inv_path:
        strays = [a.key for a in seen if a.name not in {i.name for i in inv_assets}]
        if strays:
            warnings.append(f"results name assets that are not in {inv_path}: {', '.join(strays)}")
    assets = [*assets_mod.merge(inv_assets, seen), org]
    with gc_paused():
        report = build(results, cat, assets, waivers, as_of=args.as_of or date.today(),
                       generated=now.isoformat(timespec="seconds"), platform=platform, level=level,
                       warnings=warnings, window=window)
    paths = write_all(report, args.out, args.lang, formats)
    print(f"report: {labels.pick(labels.OVERALL[report.overall], 'en')} ({labels.OVERALL[report.overall][0]}); "
          f"{report.counts[v.MET]} of {sum(n for k, n in report.counts.items() if k != v.NOT_APPLICABLE)} in-scope "
          f"control × asset cells met; {len(report.failing_controls)} failing control(s)"
          + (f": {', '.join(r.control.id for r in report.failing_controls)}" if report.failing_controls else ""))
    print(f"  {labels.conclusion_rule(report.conclusion, 'en')}")
    findings = report.conclusion.findings_by_risk
    print(f"  findings: {findings['high']} high-risk, {findings['medium']} medium-risk, {findings['low']} low-risk; "
          f"evidence window: {labels.window_text(report.window, 'en')}")
    print(f"  from {len(files)} results file(s), {len(results)} records, {len(report.assets)} assets"
          + (f", inventory {inv_path}" if inv_path else ", assets from the results"))
    for warning in report.warnings:
        print(f"  warning: {warning}")
    for fmt, path in paths.items():
        print(f"  {fmt:5} {path}")
    if report.overall == v.INCONCLUSIVE:
        print(f"scripts/report: no conclusion (无法得出结论): {labels.conclusion_rule(report.conclusion, 'en')}",
              file=sys.stderr)
        gaps = [f"{c.control.id} on {c.asset.key}" for c in report.missing_evidence]
        if gaps:
            print(f"  without current evidence: {', '.join(gaps[:20])}" + (" …" if len(gaps) > 20 else ""),
                  file=sys.stderr)
        if not results:
            print("  the results files hold no record: run the compliance tests or a network audit first",
                  file=sys.stderr)
        elif report.stale and report.conclusion.evidenced == 0:
            print(f"  every result is older than the evidence window ({labels.window_text(report.window, 'en')}); "
                  "run the checks again, or give --max-age-days", file=sys.stderr)
        return 2
    if report.exit_code:
        return report.exit_code
    if args.strict:
        gaps = [f"{c.control.id} on {c.asset.key}" for row in report.rows if row.control.status in ("automated", "partial")
                for c in row.cells if c.verdict == v.NOT_VERIFIED]
        if gaps:
            print(f"strict: {len(gaps)} automated control(s) without verifiable evidence: {', '.join(gaps[:20])}")
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
