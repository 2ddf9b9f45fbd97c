"""Action plugin: check the staff roster on the controller only (baseline/roster.py): every person complete, known
role and status, no username or uid twice, valid public keys, and a key for every active person on the hosts
where the accounts role makes accounts from the roster. No connection is opened.
"""

from __future__ import annotations

from ansible.plugins.action import ActionBase

try:
    from baseline import roster
    from baseline.inventory import _plain as plain
    from baseline.policy import boolean
except ImportError as exc:
    raise ImportError(f"{exc}: run Ansible from the project's virtualenv (scripts/setup installs baseline there)") from exc

ACCOUNT_GROUP = "linux_servers"
RESERVED = {"automation_user": "the automation (automation_user)",
            "netdev_login_user": "the device automation (netdev_login_user)"}


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _requires_connection = False

    def _value(self, task_vars, name, default=None):
        return plain(self._templar.template(task_vars[name])) if name in task_vars else default

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        task_vars = task_vars or {}
        host = task_vars.get("inventory_hostname", "")
        groups = task_vars.get("groups") or {}
        staff = self._value(task_vars, roster.VARIABLE)
        roles = self._value(task_vars, "accounts_roles")
        known_roles = list(roles) if isinstance(roles, dict) else roster.default_roles()
        manage = self._value(task_vars, "accounts_manage_staff", True)
        needs_keys = host in groups.get(ACCOUNT_GROUP, []) and boolean(manage) is not False
        reserved = {"root": "root"}
        for variable, what in RESERVED.items():
            name = self._value(task_vars, variable)
            if isinstance(name, str) and name:
                reserved[name] = what
        problems = roster.problems(staff, known_roles, self._value(task_vars, roster.EXTRA_KEYS),
                                   needs_keys=needs_keys, reserved=reserved)
        result["changed"] = False
        if problems:
            result["failed"] = True
            result["msg"] = ("Staff roster refused before any host is contacted:\n"
                             + "\n".join(f"{host}: {p}" for p in problems))
        else:
            count = len(staff) if isinstance(staff, list) else 0
            result["msg"] = f"staff roster passes: {count} persons"
        return result
