"""Action plugin: check a host's policy variables against the floors, on the controller only.

It never opens a connection to the host, so a pre-flight play built on it refuses weak values before any
host is touched. The rules live in baseline/policy.py; this file only hands Ansible's merged variables over.
Values given as `-e name=12` arrive as text; baseline.policy counts whole numbers written as text as numbers.
"""

from __future__ import annotations

from ansible.plugins.action import ActionBase

try:
    from baseline import policy
    from baseline.inventory import _plain as plain
except ImportError as exc:
    raise ImportError(f"{exc}: run Ansible from the project's virtualenv (scripts/setup installs baseline there)") from exc


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
