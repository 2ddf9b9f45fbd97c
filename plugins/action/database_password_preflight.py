"""Action plugin: check every database password the run is about to set against the policy, on the controller.

Accounts come from the inventory (`database_accounts`, the DBAs of the staff roster, and any `extra_accounts`
given as arguments); each names the variable that holds its password. The rules live in
baseline.policy.check_password; this file only finds the values. No connection is opened, so a weak password
stops the run before any host is changed, and the message names the account, never the password.
"""

from __future__ import annotations

from ansible.plugins.action import ActionBase

try:
    from baseline import policy, preflight
except ImportError as exc:
    raise ImportError(f"{exc}: run Ansible from the project's virtualenv (scripts/setup installs baseline there)") from exc


NEEDED = {*(f.variable for f in policy.FLOORS), "database_accounts", "database_dba_password_prefix", "staff"}


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _requires_connection = False

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        task_vars = task_vars or {}
        extra = self._task.args.get("extra_accounts") or []
        mixed_case = bool(self._task.args.get("require_mixed_case", False))
        values = {name: self._templar.template(task_vars[name]) for name in NEEDED if name in task_vars}
        accounts = preflight.database_accounts(values, extra)
        for account in accounts:
            if account["password_variable"] in task_vars:
                values[account["password_variable"]] = self._templar.template(task_vars[account["password_variable"]])
        problems = preflight.database_password_problems(values, extra, require_mixed_case=mixed_case)
        checked = [a["name"] for a in accounts if a["password_variable"] in values]
        result["changed"] = False
        result["accounts"] = checked
        if problems:
            result["failed"] = True
            result["msg"] = "Database passwords refused before any host is changed:\n" + "\n".join(problems)
        else:
            result["msg"] = f"{len(checked)} database passwords pass the policy: {', '.join(checked)}"
        return result
