"""Waivers: accepted exceptions to one control on named assets, with justification, approver and expiry.

A waiver never makes a control 符合: the report shows the waived cell as 已豁免 (waived) with the failing
evidence and the justification, and CI does not fail on it while the waiver is valid. From the day after
`expires` the waiver is expired and the cell counts as a failure again (不符合 or 部分符合), whatever the checks
say, so that nobody forgets to renew or remove it. The file format is documented in `inventory/waivers.yml`
and docs/report.md.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import yaml

from baseline.catalog import Catalog

# A waiver lives at most one assessment cycle (第十九条(六): yearly classified-protection assessment).
MAX_WAIVER_DAYS = 365
ASSET_KINDS = ("linux", "postgresql", "mariadb", "network", "organisation")
REQUIRED = ("control", "assets", "justification", "approved_by", "approved_on", "expires")


@dataclass(frozen=True)
class Waiver:
    control: str
    assets: tuple[str, ...]
    justification: str
    approved_by: str
    approved_on: date
    expires: date
    asset_kind: str = ""  # empty: every kind of the named assets (db1 as linux and as postgresql)
    reference: str = ""  # decision document or ticket

    def covers(self, control_id: str, asset: str, asset_kind: str) -> bool:
        return (control_id == self.control and asset in self.assets
                and (not self.asset_kind or self.asset_kind == asset_kind))

    def expired(self, as_of: date) -> bool:
        """Valid through the day `expires`; expired from the day after."""
        return as_of > self.expires

    def state(self, as_of: date) -> str:
        return "expired" if self.expired(as_of) else "valid"

    def to_dict(self) -> dict[str, Any]:
        return {"control": self.control, "assets": list(self.assets), "asset_kind": self.asset_kind,
                "justification": self.justification, "approved_by": self.approved_by,
                "approved_on": self.approved_on.isoformat(), "expires": self.expires.isoformat(),
                "reference": self.reference}


class WaiverError(ValueError):
    """Raised with every problem found in a waivers file, one per line."""


def _date(value: Any) -> date | None:
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        return None


def _entry_problems(entry: dict, where: str, catalog: Catalog) -> list[str]:
    problems = [f"{where}: {key} is missing" for key in REQUIRED if not entry.get(key)]
    control = entry.get("control")
    if control and control not in catalog:
        problems.append(f"{where}: control {control} is not in the catalog")
    assets = entry.get("assets")
    if assets is not None and (not isinstance(assets, list) or not all(isinstance(a, str) and a for a in assets)):
        problems.append(f"{where}: assets must be a list of inventory names")
    elif assets and "*" in assets:
        problems.append(f"{where}: assets must be named one by one; a waiver for every asset is a policy change")
    kind = entry.get("asset_kind", "")
    if kind and kind not in ASSET_KINDS:
        problems.append(f"{where}: asset_kind {kind!r} is not one of {', '.join(ASSET_KINDS)}")
    approved, expires = _date(entry.get("approved_on")), _date(entry.get("expires"))
    for key, value in (("approved_on", approved), ("expires", expires)):
        if entry.get(key) and value is None:
            problems.append(f"{where}: {key} = {entry.get(key)!r} is not a date (YYYY-MM-DD)")
    if approved and expires:
        if expires < approved:
            problems.append(f"{where}: expires {expires} is before approved_on {approved}")
        elif (expires - approved).days > MAX_WAIVER_DAYS:
            problems.append(f"{where}: expires {expires} is more than {MAX_WAIVER_DAYS} days after approved_on "
                            f"{approved}; a waiver lasts at most one assessment cycle (第十九条(六))")
    unknown = set(entry) - {*REQUIRED, "asset_kind", "reference"}
    if unknown:
        problems.append(f"{where}: unknown field(s) {', '.join(sorted(unknown))}")
    return problems


def parse(data: Any, catalog: Catalog, source: str = "waivers") -> list[Waiver]:
    """Waivers from the YAML structure `{waivers: [...]}`; raise WaiverError naming every bad entry."""
    if data is None:
        return []
    if not isinstance(data, dict) or not isinstance(data.get("waivers") or [], list):
        raise WaiverError(f"{source}: expected a mapping with a list `waivers:`")
    problems: list[str] = []
    waivers: list[Waiver] = []
    for number, entry in enumerate(data.get("waivers") or [], 1):
        where = f"{source}: waiver {number} ({entry.get('control', '?') if isinstance(entry, dict) else '?'})"
        if not isinstance(entry, dict):
            problems.append(f"{where}: expected a mapping")
            continue
        found = _entry_problems(entry, where, catalog)
        if found:
            problems.extend(found)
            continue
        waivers.append(Waiver(
            control=entry["control"], assets=tuple(entry["assets"]), asset_kind=entry.get("asset_kind", ""),
            justification=str(entry["justification"]).strip(), approved_by=str(entry["approved_by"]),
            approved_on=_date(entry["approved_on"]), expires=_date(entry["expires"]),  # type: ignore[arg-type]
            reference=str(entry.get("reference", "")),
        ))
    if problems:
        raise WaiverError("\n".join(problems))
    return waivers


def load(path: str | os.PathLike, catalog: Catalog) -> list[Waiver]:
    path = Path(path)
    with open(path, encoding="utf-8") as fh:
        return parse(yaml.safe_load(fh), catalog, str(path))


def find(waivers: Iterable[Waiver], control_id: str, asset: str, asset_kind: str) -> Waiver | None:
    """The waiver covering a control on an asset; the one expiring last when several do."""
    matching = [w for w in waivers if w.covers(control_id, asset, asset_kind)]
    return max(matching, key=lambda w: w.expires) if matching else None
