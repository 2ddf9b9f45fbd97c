"""Action plugin: check every database password the run is about to set against the policy, on the controller.

Accounts come from the inventory (`database_accounts`, the DBAs of the staff roster, and any `extra_accounts`
given as arguments); each names the variable that holds its password. The rules live in
baseline.policy.check_password; this file only finds the values. No connection is opened, so a weak password
stops the run before any host is changed, and the message names the account, never the password.
"""

from __future__ import annotations

from ansible.plugins.action import ActionBase

try:
    from baseline import policy
except ImportError as exc:
    raise ImportError(f"{exc}: run Ansible from the project's virtualenv (scripts/setup installs baseline there)") from exc


def accounts_to_check(task_vars: dict, extra: list[dict]) -> list[dict]:
    """[{name, password_variable}] for the inventory's database accounts, active DBAs, and `extra`."""
    found = [{"name": a["name"], "password_variable": a["password_variable"]}
             for a in task_vars.get("database_accounts", [])]
    prefix = task_vars.get("database_dba_password_prefix", "db_dba_")
    for person in task_vars.get("staff", []):
        if person.get("role") == "dba" and person.get("status") == "active":
            found.append({"name": person["username"], "password_variable": f"{prefix}{person['username']}_password"})
    return found + list(extra)


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _requires_connection = False

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        task_vars = task_vars or {}
        extra = self._task.args.get("extra_accounts") or []
        mixed_case = bool(self._task.args.get("require_mixed_case", False))
        values = {f.variable: self._templar.template(task_vars[f.variable])
                  for f in policy.FLOORS if f.variable in task_vars}
        problems = []
        checked = []
        for account in accounts_to_check(task_vars, extra):
            name, variable = account["name"], account["password_variable"]
            if variable not in task_vars:
                problems.append(f"password for {name} is not set: define {variable} (ansible-vault)")
                continue
            secret = str(self._templar.template(task_vars[variable]))
            message = policy.check_password(secret, values, name)
            if message:
                problems.append(message)
            elif mixed_case and not (any(c.islower() for c in secret) and any(c.isupper() for c in secret)):
                problems.append(f"password for {name} lacks an upper-case or a lower-case letter, which the "
                                "server's simple_password_check (letters_same_case) requires")
            checked.append(name)
        result["changed"] = False
        result["accounts"] = checked
        if problems:
            result["failed"] = True
            result["msg"] = "Database passwords refused before any host is changed:\n" + "\n".join(problems)
        else:
            result["msg"] = f"{len(checked)} database passwords pass the policy: {', '.join(checked)}"
        return result
