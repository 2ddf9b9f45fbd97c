"""Action plugin: check a host's policy variables against the floors, on the controller only.

It never opens a connection to the host, so a pre-flight play built on it refuses weak values before any
host is touched. The rules live in baseline/policy.py; this file only hands Ansible's merged variables over.
Values given as `-e name=12` arrive as text; baseline.policy counts whole numbers written as text as numbers.
"""

from __future__ import annotations

import sys
from pathlib import Path

from ansible.plugins.action import ActionBase

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from baseline import policy  # noqa: E402
from baseline.inventory import _plain as plain  # noqa: E402


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _requires_connection = False

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        task_vars = task_vars or {}
        values = {}
        for floor in policy.FLOORS:
            if floor.variable in task_vars:
                values[floor.variable] = plain(self._templar.template(task_vars[floor.variable]))
        found = policy.violations(values, where=task_vars.get("inventory_hostname", ""))
        result["changed"] = False
        result["policy"] = policy.converted(values)
        if found:
            result["failed"] = True
            result["violations"] = found
            result["msg"] = "Policy values refused before any host is touched:\n" + "\n".join(found)
        else:
            result["msg"] = f"{len(values)} policy values pass their floors"
        return result
