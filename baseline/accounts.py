"""Accounts made from the staff roster: which persons get an account, and each person's initial password.

The initial password is derived from a vault seed and the user name, so it differs per person, is never stored
in plain text, and can be handed over out of band (and recomputed by a test that needs to log in). Its shadow entry
is hashed here alone, for the Ansible filters `baseline_initial_password_hash(es)` (plugins/filter/baseline.py), for
pyinfra's accounts deploy, and the password is recomputed by the compliance tests.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from functools import lru_cache
from typing import Any


def initial_password(seed: str, username: str) -> str:
    """Policy-compliant initial password of `username`: 18 characters with letters, digits and specials."""
    if not seed:
        raise ValueError("accounts_initial_password_seed is empty; set it in the vault (see roles/accounts/README.md)")
    digest = hashlib.sha256(f"{seed}:{username}".encode()).hexdigest()
    return f"Ib-{digest[:14]}#"


@lru_cache(maxsize=256)
def initial_password_hash(seed: str, username: str) -> str:
    """The shadow entry of `username`'s initial password: Ansible's `password_hash('sha512', salt)` with the salt
    derived from the seed and the name (sha1, 16 characters), so every host and both engines write the same entry.
    About 0.25 s of the controller's time each (656000 rounds): computed once per process."""
    from ansible.plugins.filter.core import get_encrypted_password

    salt = hashlib.sha1((seed + username).encode()).hexdigest()[:16]  # noqa: S324 - a salt, not a digest of secrets
    return str(get_encrypted_password(initial_password(seed, username), "sha512", salt=salt))


def lacking_accounts(usernames: Iterable[str], passwd_tables: Iterable[Mapping[str, Any] | None]) -> list[str]:
    """The names of `usernames` that at least one host lacks, given each host's `getent passwd` table (None: not
    read on that host yet, so every name may be lacking there)."""
    tables = list(passwd_tables)
    return [name for name in usernames if any(table is None or name not in table for table in tables)]


def persons(staff: Sequence[Mapping[str, Any]], status: str) -> list[Mapping[str, Any]]:
    """Roster entries with the given status (active or departed)."""
    return [p for p in staff if p.get("status") == status]


def local_accounts(getent_passwd: Mapping[str, Sequence[str]]) -> list[dict[str, Any]]:
    """`ansible_facts.getent_passwd` as records: name, uid (int), gid (int), home, shell."""
    found = []
    for name, fields in getent_passwd.items():
        uid, gid = (int(v) if str(v).isdigit() else -1 for v in fields[1:3])
        found.append({"name": name, "uid": uid, "gid": gid, "home": fields[4], "shell": fields[5]})
    return sorted(found, key=lambda a: (a["uid"], a["name"]))


def login_uid_range(login_defs: str) -> list[int]:
    """[UID_MIN, UID_MAX] of /etc/login.defs: the range of login accounts (Debian's 1000 and 60000 when unset)."""
    found = {"UID_MIN": 1000, "UID_MAX": 60000}
    for line in login_defs.splitlines():
        fields = line.split()
        if len(fields) >= 2 and fields[0] in found and fields[1].isdigit():
            found[fields[0]] = int(fields[1])
    return [found["UID_MIN"], found["UID_MAX"]]


def unknown_accounts(accounts: Sequence[Mapping[str, Any]], staff: Sequence[Mapping[str, Any]],
                     exceptions: Sequence[str], uid_min: int = 1000, uid_max: int = 59999) -> list[str]:
    """Login-range accounts (uid_min..uid_max) that are neither in the roster nor documented exceptions."""
    known = {p["username"] for p in staff} | set(exceptions)
    return [a["name"] for a in accounts if uid_min <= a["uid"] <= uid_max and a["name"] not in known]
