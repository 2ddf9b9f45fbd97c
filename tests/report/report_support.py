"""Helpers for the report tests: results records, catalog variants, assets."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import yaml

from baseline import catalog
from baseline.report.assets import Asset, organisation
from baseline.report.build import Report, build
from baseline.report.evidence import Window
from baseline.results import CheckResult, Evidence

AS_OF = date(2026, 6, 1)
GENERATED = "2026-06-01T08:00:00+00:00"


def catalog_data(automated: tuple[str, ...] = (), partial: tuple[str, ...] = (),
                 only: tuple[str, ...] | None = None) -> dict:
    """The real catalog's data with the named controls' status set; with `only`, just those controls."""
    with open(catalog.CATALOG_PATH, encoding="utf-8") as fh:
        data = yaml.safe_load(fh)
    if only is not None:
        data["controls"] = [entry for entry in data["controls"] if entry["id"] in only]
    for entry in data["controls"]:
        if entry["id"] in automated:
            entry["status"] = "automated"
        if entry["id"] in partial:
            entry["status"] = "partial"
            entry["notes"] = "restore drill sign-off is manual"
    return data


def catalog_with(automated: tuple[str, ...] = (), partial: tuple[str, ...] = (),
                 only: tuple[str, ...] | None = None) -> catalog.Catalog:
    """The real catalog with the named controls' status set, as they will be once their checks exist.

    With `only`, the catalog holds just those controls: a report whose every automated control has evidence.
    """
    return catalog.parse(catalog_data(automated, partial, only))


def write_catalog(path: Path, automated: tuple[str, ...] = (), only: tuple[str, ...] | None = None) -> Path:
    path.write_text(yaml.safe_dump(catalog_data(automated, only=only), allow_unicode=True), encoding="utf-8")
    return path


def result(asset: str, control: str | list[str], outcome: str, check: str = "", *, kind: str = "linux",
           run_id: str = "run-1", time: str = "2026-06-01T07:00:00+00:00", reason: str = "",
           evidence: list[dict[str, Any]] | None = None, method: str = "") -> CheckResult:
    ids = [control] if isinstance(control, str) else control
    return CheckResult(run_id=run_id, asset=asset, asset_kind=kind, control_ids=ids,
                       check=check or f"test_{ids[0].lower()}_{outcome}", outcome=outcome, reason=reason,
                       evidence=[Evidence(**e) for e in evidence or []], duration_s=0.01, time=time, method=method)


def assets(*specs: tuple[str, str] | tuple[str, str, int], level: int = 3) -> list[Asset]:
    found = [Asset(name=s[0], kind=s[1], level=s[2] if len(s) > 2 else level) for s in specs]  # type: ignore[misc]
    return [*found, organisation("platform", level)]


def make_report(results: list[CheckResult], cat: catalog.Catalog, asset_list: list[Asset], waivers=(),
                as_of: date = AS_OF, *, window: Window | None = None) -> Report:
    return build(results, cat, asset_list, list(waivers), as_of=as_of, generated=GENERATED, platform="platform",
                 level=3, window=window)


def cell(report: Report, control: str, asset_key: str):
    row = next(r for r in report.rows if r.control.id == control)
    return next(c for c in row.cells if c.asset.key == asset_key)
