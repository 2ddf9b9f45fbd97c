"""Control-ID threading: where each catalog ID is applied (task tags, template markers) and verified
(test markers, network audit checks). Used by the threading test and by `baseline catalog trace`.

Sources read:
  applied   - `tags:` of tasks, blocks and plays in roles/**/tasks/*.yml, roles/**/handlers/*.yml, playbooks/*.yml
            - `{# control: NW-03 #}` markers in network_configs/**/*.j2 (device baselines are templates, not tasks)
            - `CONTROLS = ("CM-01",)` at the top of plugins/callback/*.py (a callback that acts on every run, such
              as the change-record plugin), and of baseline/operations/*.py (an operations tool whose run is the
              control: the daily inspection, evidence collection)
  verified  - `@pytest.mark.control("IA-02", ...)` in compliance_tests/**/*.py
            - `@audit_check("NW-03", ...)` decorators in baseline/netdev/**/*.py (network audits)
            - `control_ids=["CM-01"]` of the results records the operations tools write from their own records
              (baseline/operations/*.py: `changes verify`, `incident verify`)
"""

from __future__ import annotations

import ast
import re
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from baseline import REPO_ROOT
from baseline.catalog import CONTROL_ID, Catalog

TEMPLATE_MARKER = re.compile(r"\{#-?\s*control:\s*([A-Z]{2}-\d{2}(?:\s*,\s*[A-Z]{2}-\d{2})*)\s*-?#\}")
ID_LIKE = re.compile(r"^[A-Z]{2}-\d{2}$")


@dataclass
class Trace:
    applied: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))  # id -> places
    verified: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))

    def unknown(self, catalog: Catalog) -> list[str]:
        found = []
        for kind, table in (("task tag or template marker", self.applied), ("test marker or audit check", self.verified)):
            for cid, places in sorted(table.items()):
                if cid not in catalog:
                    found.append(f"{cid}: unknown control ID in {kind} at {', '.join(sorted(places))}")
        return found

    def missing(self, catalog: Catalog) -> list[str]:
        """Automated or partial controls without a place that applies them or a check that verifies them."""
        found = []
        for control in catalog.controls.values():
            if control.status not in ("automated", "partial"):
                continue
            if control.id not in self.applied and "organisation" not in control.targets:
                found.append(f"{control.id}: status {control.status} but no task tag or template marker applies it")
            if control.id not in self.verified:
                found.append(f"{control.id}: status {control.status} but no compliance test or audit check verifies it")
        return found


def _tags_in(node: object, place: str, trace: Trace) -> None:
    if isinstance(node, dict):
        tags = node.get("tags")
        if isinstance(tags, str):
            tags = [t.strip() for t in tags.split(",")]
        if isinstance(tags, list):
            for tag in tags:
                if isinstance(tag, str) and ID_LIKE.match(tag):
                    trace.applied[tag].add(place)
        for value in node.values():
            _tags_in(value, place, trace)
    elif isinstance(node, list):
        for item in node:
            _tags_in(item, place, trace)


def _decorator_ids(tree: ast.AST, names: set[str]) -> list[tuple[str, int]]:
    """String arguments of calls like pytest.mark.control("IA-02") or audit_check("NW-03")."""
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        name = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""
        if name not in names:
            continue
        for arg in node.args:
            if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                found.append((arg.value, node.lineno))
    return found


def _module_controls(tree: ast.Module) -> list[tuple[str, int]]:
    """The IDs of a module-level `CONTROLS = ("CM-01", ...)`."""
    found = []
    for node in tree.body:
        if (isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "CONTROLS" for t in node.targets)
                and isinstance(node.value, (ast.Tuple, ast.List))):
            found += [(e.value, node.lineno) for e in node.value.elts
                      if isinstance(e, ast.Constant) and isinstance(e.value, str)]
    return found


def _results_controls(tree: ast.AST) -> list[tuple[str, int]]:
    """The IDs of `control_ids=[...]` keyword arguments (results records written by a tool)."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.keyword) and node.arg == "control_ids" and isinstance(node.value, (ast.List, ast.Tuple)):
            found += [(e.value, node.value.lineno) for e in node.value.elts
                      if isinstance(e, ast.Constant) and isinstance(e.value, str)]
    return found


def collect(root: Path = REPO_ROOT) -> Trace:
    trace = Trace()
    yaml_files = [*root.glob("roles/*/tasks/*.yml"), *root.glob("roles/*/handlers/*.yml"), *root.glob("playbooks/*.yml")]
    for path in sorted(yaml_files):
        with open(path, encoding="utf-8") as fh:
            _tags_in(yaml.safe_load(fh), str(path.relative_to(root)), trace)
    for path in sorted(root.glob("network_configs/**/*.j2")):
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            for match in TEMPLATE_MARKER.finditer(line):
                for cid in re.split(r"\s*,\s*", match.group(1)):
                    trace.applied[cid].add(f"{path.relative_to(root)}:{number}")
    for pattern, names, table in (
        ("compliance_tests/**/*.py", {"control"}, trace.verified),
        ("baseline/netdev/**/*.py", {"audit_check"}, trace.verified),
    ):
        for path in sorted(root.glob(pattern)):
            tree = ast.parse(path.read_text(encoding="utf-8"))
            for cid, lineno in _decorator_ids(tree, names):
                if CONTROL_ID.match(cid) or ID_LIKE.match(cid):
                    table[cid].add(f"{path.relative_to(root)}:{lineno}")
                else:
                    table[cid].add(f"{path.relative_to(root)}:{lineno} (malformed)")
    for pattern, read, table in (("plugins/callback/*.py", _module_controls, trace.applied),
                                 ("baseline/operations/*.py", _module_controls, trace.applied),
                                 ("baseline/operations/*.py", _results_controls, trace.verified),
                                 ("baseline/sanitise.py", _results_controls, trace.verified)):
        for path in sorted(root.glob(pattern)):
            for cid, lineno in read(ast.parse(path.read_text(encoding="utf-8"))):
                table[cid].add(f"{path.relative_to(root)}:{lineno}")
    return trace
