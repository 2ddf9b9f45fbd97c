"""The pre-flight of a run, whichever engine runs it: every problem of one host's values, found on the controller
before any host is changed. Ansible runs the parts as action plugins (plugins/action/*_preflight.py, from
playbooks/preflight.yml and playbooks/databases.yml); the pyinfra deploys call `problems` once per host
(baseline/pyinfra_deploy.py). The rules themselves live in baseline/policy.py, platform.py and roster.py.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from baseline import platform, policy, roster

ACCOUNT_GROUP = "linux_servers"
DATABASE_GROUPS = ("postgresql_servers", "mariadb_servers")
RESERVED = {"automation_user": "the automation (automation_user)",
            "netdev_login_user": "the device automation (netdev_login_user)"}


def database_accounts(values: Mapping[str, Any], extra: Sequence[Mapping[str, str]] = ()) -> list[dict[str, str]]:
    """[{name, password_variable}] for the inventory's database accounts, the active DBAs, and `extra`."""
    found = [{"name": a["name"], "password_variable": a["password_variable"]}
             for a in values.get("database_accounts", [])]
    prefix = values.get("database_dba_password_prefix", "db_dba_")
    for person in values.get("staff", []):
        if person.get("role") == "dba" and person.get("status") == "active":
            found.append({"name": person["username"], "password_variable": f"{prefix}{person['username']}_password"})
    return found + [dict(a) for a in extra]


def database_password_problems(values: Mapping[str, Any], extra: Sequence[Mapping[str, str]] = (),
                               require_mixed_case: bool = False) -> list[str]:
    """Every database password the run would set that the policy refuses; messages name the account, never the
    password."""
    floors = {f.variable: values[f.variable] for f in policy.FLOORS if f.variable in values}
    problems = []
    for account in database_accounts(values, extra):
        name, variable = account["name"], account["password_variable"]
        if variable not in values:
            problems.append(f"password for {name} is not set: define {variable} (ansible-vault)")
            continue
        secret = str(values[variable])
        message = policy.check_password(secret, floors, name)
        if message:
            problems.append(message)
        elif require_mixed_case and not (any(c.islower() for c in secret) and any(c.isupper() for c in secret)):
            problems.append(f"password for {name} lacks an upper-case or a lower-case letter, which the "
                            "server's simple_password_check (letters_same_case) requires")
    return problems


def roster_problems(values: Mapping[str, Any], groups: Mapping[str, Sequence[str]], host: str) -> list[str]:
    staff = values.get(roster.VARIABLE)
    roles = values.get("accounts_roles")
    known_roles = list(roles) if isinstance(roles, dict) else roster.default_roles()
    needs_keys = host in groups.get(ACCOUNT_GROUP, []) and policy.boolean(
        values.get("accounts_manage_staff", True)) is not False
    reserved = {"root": "root"}
    for variable, what in RESERVED.items():
        name = values.get(variable)
        if isinstance(name, str) and name:
            reserved[name] = what
    found = roster.problems(staff, known_roles, values.get(roster.EXTRA_KEYS), needs_keys=needs_keys,
                            reserved=reserved)
    return [f"{host}: {p}" for p in found]


def problems(values: Mapping[str, Any], groups: Mapping[str, Sequence[str]], host: str,
             reach_of: Callable[[], platform.Reach] | None = None, store_address: Any = None) -> list[str]:
    """Everything the pre-flight refuses for `host`: policy floors, platform values, the staff roster, and on
    database hosts the database passwords."""
    found = policy.violations(values, where=host)
    found += platform.check_host(values, groups, host, reach_of, store_address)
    found += roster_problems(values, groups, host)
    if any(host in groups.get(group, ()) for group in DATABASE_GROUPS):
        mariadb = host in groups.get("mariadb_servers", ())
        extra = [{"name": "mariabackup", "password_variable": "db_mariabackup_password"}] if mariadb else []
        found += [f"{host}: {p}" for p in database_password_problems(values, extra, require_mixed_case=mariadb)]
    return found
