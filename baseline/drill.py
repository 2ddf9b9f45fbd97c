"""Restore drills (BR-03): compare the fingerprint of a database taken at backup time with the one taken after
restoring that backup on the drill host, and record the outcome.

    python -m baseline.drill compare --asset db1 --engine postgresql --backup LABEL \
        --source source.json --restored restored.json --json-out results/restore-drill/... \
        [--results-file results/restore-drill.jsonl] [--seconds 12.3]

A fingerprint (roles/backup_client/files/baseline-db-fingerprint) maps each table to its row count and checksum.
The drill passes only when every table of the source is present with the same rows and checksum and the restore
has no table the source lacked. Exit status 0 = pass, 1 = a difference was found.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from baseline.results import Evidence, ResultWriter, now_iso


@dataclass
class DrillOutcome:
    asset: str
    engine: str
    backup: str
    time: str
    tables: int
    rows_source: int
    rows_restored: int
    rows_lost: int
    differences: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def passed(self) -> bool:
        return not self.differences


def compare(source: dict[str, Any], restored: dict[str, Any], asset: str, engine: str, backup: str, *,
            seconds: float = 0.0) -> DrillOutcome:
    """Table-by-table comparison of two fingerprints; every difference is named."""
    src, dst = source.get("tables", {}), restored.get("tables", {})
    differences = []
    for name in sorted(src):
        if name not in dst:
            differences.append(f"table {name}: missing after restore ({src[name]['rows']} rows at backup time)")
            continue
        if src[name]["rows"] != dst[name]["rows"]:
            differences.append(f"table {name}: {dst[name]['rows']} rows after restore, {src[name]['rows']} at backup time")
        if str(src[name]["checksum"]) != str(dst[name]["checksum"]):
            differences.append(f"table {name}: checksum {dst[name]['checksum']} after restore, "
                               f"{src[name]['checksum']} at backup time")
    differences += [f"table {name}: present after restore, absent at backup time" for name in sorted(set(dst) - set(src))]
    rows_source = sum(t["rows"] for t in src.values())
    rows_restored = sum(dst[n]["rows"] for n in src if n in dst)
    return DrillOutcome(asset=asset, engine=engine, backup=backup, time=now_iso(), tables=len(src),
                        rows_source=rows_source, rows_restored=rows_restored,
                        rows_lost=max(0, rows_source - rows_restored), differences=differences, seconds=seconds)


def record(outcome: DrillOutcome, json_out: Path, results_file: Path | None) -> None:
    """Write the drill's JSON and, when asked, one BR-03 record in the results format for the report."""
    json_out.parent.mkdir(parents=True, exist_ok=True)
    json_out.write_text(json.dumps({**asdict(outcome), "passed": outcome.passed}, ensure_ascii=False, indent=1) + "\n",
                        encoding="utf-8")
    if results_file is None:
        return
    writer = ResultWriter(results_file)
    summary = (f"{outcome.tables} tables, {outcome.rows_restored}/{outcome.rows_source} rows restored from "
               f"{outcome.backup}; {outcome.rows_lost} rows lost")
    writer.record(asset=outcome.asset, asset_kind=outcome.engine, control_ids=["BR-03"],
                  check=f"restore_drill[{outcome.engine}]", outcome="pass" if outcome.passed else "fail",
                  reason=summary if outcome.passed else "; ".join(outcome.differences),
                  evidence=[Evidence(command=f"restore drill of {outcome.backup} on the drill host",
                                     observed={"rows": outcome.rows_restored, "differences": outcome.differences},
                                     expected={"rows": outcome.rows_source, "differences": []},
                                     note=f"details: {json_out}")],
                  duration_s=outcome.seconds)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m baseline.drill", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    cmp_ = sub.add_parser("compare", help="compare two fingerprints, write the drill JSON and a BR-03 result")
    cmp_.add_argument("--asset", required=True, help="inventory name of the database host whose backup was restored")
    cmp_.add_argument("--engine", required=True, choices=["postgresql", "mariadb"], help="database engine")
    cmp_.add_argument("--backup", required=True, help="label of the restored backup")
    cmp_.add_argument("--source", required=True, type=Path, help="fingerprint taken at backup time (JSON)")
    cmp_.add_argument("--restored", required=True, type=Path, help="fingerprint taken after the restore (JSON)")
    cmp_.add_argument("--json-out", required=True, type=Path, help="where to write the drill's JSON")
    cmp_.add_argument("--results-file", type=Path, help="results (JSON Lines) file to append the BR-03 record to")
    cmp_.add_argument("--seconds", type=float, default=0.0, help="duration of the restore, seconds")
    args = parser.parse_args(argv)
    outcome = compare(json.loads(args.source.read_text()), json.loads(args.restored.read_text()),
                      args.asset, args.engine, args.backup, seconds=args.seconds)
    record(outcome, args.json_out, args.results_file)
    verdict = "PASS" if outcome.passed else "FAIL"
    print(f"restore drill {verdict}: {outcome.asset} {outcome.engine} {outcome.backup}: {outcome.tables} tables, "
          f"{outcome.rows_restored}/{outcome.rows_source} rows, {outcome.rows_lost} lost")
    for line in outcome.differences:
        print(f"  {line}")
    return 0 if outcome.passed else 1


if __name__ == "__main__":
    sys.exit(main())
