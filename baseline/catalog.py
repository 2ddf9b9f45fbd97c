"""The control catalog (catalog/controls.yml): loading, validation and look-ups."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import yaml

from baseline import REPO_ROOT

CATALOG_PATH = REPO_ROOT / "catalog" / "controls.yml"
CONTROL_ID = re.compile(r"^[A-Z]{2}-\d{2}$")
STATUSES = ("automated", "partial", "planned", "manual")
SEVERITIES = ("高", "中", "低")
TARGETS = ("linux", "postgresql", "mariadb", "network", "organisation")


@dataclass(frozen=True)
class Family:
    key: str
    category: str  # 安全类
    zh: str
    en: str


@dataclass(frozen=True)
class Control:
    id: str
    family: str
    control_point: str
    title_zh: str
    title_en: str
    requirement_zh: str
    requirement_en: str
    articles: tuple[str, ...]
    clauses: tuple[str, ...]
    level: int
    targets: tuple[str, ...]
    status: str
    severity: str
    owner: str = ""
    notes: str = ""

    def in_scope(self, target: str, level: int) -> bool:
        return target in self.targets and self.level <= level


@dataclass(frozen=True)
class Catalog:
    families: dict[str, Family]
    controls: dict[str, Control] = field(default_factory=dict)

    def __getitem__(self, control_id: str) -> Control:
        return self.controls[control_id]

    def __contains__(self, control_id: object) -> bool:
        return control_id in self.controls

    def ids(self, status: str | None = None) -> list[str]:
        return [c.id for c in self.controls.values() if status is None or c.status == status]


class CatalogError(ValueError):
    pass


def parse(data: dict) -> Catalog:
    """Build a Catalog from the YAML structure, refusing anything malformed with a message naming the entry."""
    errors: list[str] = []
    families = {}
    for key, fam in (data.get("families") or {}).items():
        families[key] = Family(key=key, category=fam["category"], zh=fam["zh"], en=fam["en"])
    controls: dict[str, Control] = {}
    for entry in data.get("controls") or []:
        cid = entry.get("id", "?")
        where = f"catalog entry {cid}"
        if not CONTROL_ID.match(str(cid)):
            errors.append(f"{where}: id must look like AB-01")
        if cid in controls:
            errors.append(f"{where}: duplicate id")
        if entry.get("family") not in families or not str(cid).startswith(str(entry.get("family"))):
            errors.append(f"{where}: family {entry.get('family')!r} unknown or not the id's prefix")
        if entry.get("status") not in STATUSES:
            errors.append(f"{where}: status must be one of {', '.join(STATUSES)}")
        if entry.get("severity") not in SEVERITIES:
            errors.append(f"{where}: severity must be one of {', '.join(SEVERITIES)}")
        if entry.get("level") not in (2, 3):
            errors.append(f"{where}: level must be 2 or 3")
        bad_targets = [t for t in entry.get("targets") or [] if t not in TARGETS]
        if bad_targets or not entry.get("targets"):
            errors.append(f"{where}: targets must be a non-empty subset of {', '.join(TARGETS)}")
        if entry.get("status") == "manual" and not entry.get("owner"):
            errors.append(f"{where}: a manual control needs an owner")
        for key in ("articles", "clauses", "title", "requirement", "control_point"):
            if not entry.get(key):
                errors.append(f"{where}: {key} is missing")
        if errors:
            continue
        controls[cid] = Control(
            id=cid,
            family=entry["family"],
            control_point=entry["control_point"],
            title_zh=entry["title"]["zh"],
            title_en=entry["title"]["en"],
            requirement_zh=entry["requirement"]["zh"],
            requirement_en=entry["requirement"]["en"],
            articles=tuple(entry["articles"]),
            clauses=tuple(entry["clauses"]),
            level=entry["level"],
            targets=tuple(entry["targets"]),
            status=entry["status"],
            severity=entry["severity"],
            owner=entry.get("owner", ""),
            notes=entry.get("notes", ""),
        )
    if errors:
        raise CatalogError("\n".join(errors))
    return Catalog(families=families, controls=controls)


@lru_cache(maxsize=4)
def load(path: Path = CATALOG_PATH) -> Catalog:
    with open(path, encoding="utf-8") as fh:
        return parse(yaml.safe_load(fh))
