"""No install of the baseline brings a mail transport agent: cron recommends one (default-mta, which is exim4, a
daemon listening on port 25 that nothing of the baseline uses), so every apt task of the roles that installs cron does
so without recommends. pyinfra's deploys are held to the same in test_pyinfra_hardening.py and
test_pyinfra_logserver.py."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from baseline import REPO_ROOT

ROLES = REPO_ROOT / "roles"
VARIABLE = re.compile(r"^\{\{\s*(\w+)\s*\}\}$")
BRINGS_AN_MTA = {"cron"}


def role_data(role: Path) -> dict[str, Any]:
    data: dict[str, Any] = {}
    for part in ("defaults", "vars"):
        path = role / part / "main.yml"
        if path.exists():
            data.update(yaml.safe_load(path.read_text(encoding="utf-8")) or {})
    return data


def apt_tasks(node: Any):
    if isinstance(node, list):
        for item in node:
            yield from apt_tasks(item)
    elif isinstance(node, dict):
        if "ansible.builtin.apt" in node:
            yield node
        for key in ("block", "rescue", "always"):
            yield from apt_tasks(node.get(key))


def installs() -> list[tuple[str, list[str], Any]]:
    found = []
    for tasks_file in sorted(ROLES.glob("*/tasks/*.yml")):
        data = role_data(tasks_file.parents[1])
        for task in apt_tasks(yaml.safe_load(tasks_file.read_text(encoding="utf-8"))):
            args = task["ansible.builtin.apt"]
            names = args.get("name")
            if isinstance(names, str) and (match := VARIABLE.match(names.strip())):
                names = data.get(match.group(1), [])
            found.append((f"{tasks_file.relative_to(REPO_ROOT)}: {task['name']}", list(names or []),
                          args.get("install_recommends")))
    return found


def test_every_install_of_cron_is_without_recommends():
    found = installs()
    assert any(BRINGS_AN_MTA & set(names) for _, names, _ in found), "no install of cron found: the test reads nothing"
    with_recommends = [task for task, names, recommends in found if BRINGS_AN_MTA & set(names) and recommends is not False]
    assert with_recommends == []
