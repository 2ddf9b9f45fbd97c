"""Filters for the baseline roles (the logic lives in the baseline package, shared with the tests)."""

from __future__ import annotations

try:
    from baseline.accounts import (
        initial_password_hash,
        lacking_accounts,
        local_accounts,
        login_uid_range,
        unknown_accounts,
    )
    from baseline.linux import services_for
except ImportError as exc:
    raise ImportError(f"{exc}: run Ansible from the project's virtualenv (scripts/setup installs baseline there)") from exc


def baseline_initial_password_hash(username: str, seed: str) -> str:
    return initial_password_hash(seed, username)


def baseline_initial_password_hashes(usernames: list[str], seed: str, facts_of_hosts: list[dict]) -> dict[str, str]:
    """The initial password's shadow entry of each of `usernames` that a host lacks (by each host's
    `ansible_facts.getent_passwd`), computed once for all hosts of a play."""
    tables = [(facts or {}).get("getent_passwd") for facts in facts_of_hosts]
    return {name: initial_password_hash(seed, name) for name in lacking_accounts(usernames, tables)}


class FilterModule:
    def filters(self):
        return {
            "baseline_initial_password_hash": baseline_initial_password_hash,
            "baseline_initial_password_hashes": baseline_initial_password_hashes,
            "baseline_local_accounts": local_accounts,
            "baseline_unknown_accounts": unknown_accounts,
            "baseline_login_uid_range": login_uid_range,
            "baseline_services_for": services_for,
        }
