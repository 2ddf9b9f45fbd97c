"""The control catalog holds every ID of policy/CONTROLS.md, well-formed."""

import re
from pathlib import Path

import pytest

from baseline import catalog

CONTROLS_MD_CANDIDATES = [Path(__file__).resolve().parents[3] / "shared/policy/CONTROLS.md"]


def test_catalog_loads_and_is_well_formed():
    cat = catalog.load()
    assert len(cat.controls) >= 45
    for control in cat.controls.values():
        assert control.family in cat.families
        assert control.articles and control.clauses
        assert control.status in catalog.STATUSES


def test_catalog_has_every_id_of_the_control_map():
    source = next((p for p in CONTROLS_MD_CANDIDATES if p.exists()), None)
    if source is None:
        pytest.skip("policy/CONTROLS.md is not beside this checkout")
    ids = set(re.findall(r"^\| ([A-Z]{2}-\d{2}) \|", source.read_text(encoding="utf-8"), re.M))
    assert ids, "no IDs parsed from CONTROLS.md"
    assert ids - set(catalog.load().controls) == set()


def test_catalog_covers_manual_areas_with_owners():
    cat = catalog.load()
    manual = [c for c in cat.controls.values() if c.status == "manual"]
    covered = {a for c in manual for a in c.articles}
    for article in ("第十四条", "第七条", "第三十五条"):
        assert article in covered
    assert all(c.owner for c in manual)


@pytest.mark.parametrize(
    ("change", "message"),
    [({"id": "ia-1"}, "id must look like"), ({"status": "done"}, "status must be"), ({"level": 4}, "level must be"),
     ({"targets": ["windows"]}, "targets must be"), ({"severity": "high"}, "severity must be")],
)
def test_malformed_entry_is_refused(change, message):
    entry = {"id": "IA-01", "family": "IA", "control_point": "x", "title": {"zh": "x", "en": "x"},
             "requirement": {"zh": "x", "en": "x"}, "articles": ["第十六条(一)"], "clauses": ["8.1.4.1 a"], "level": 2,
             "targets": ["linux"], "status": "planned", "severity": "高"}
    entry.update(change)
    data = {"families": {"IA": {"category": "c", "zh": "z", "en": "e"}}, "controls": [entry]}
    with pytest.raises(catalog.CatalogError, match=message):
        catalog.parse(data)
