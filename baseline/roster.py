"""The staff roster (`staff`, inventory/group_vars/all/staff.yml) checked on the controller before any host is
contacted: every person complete, known role and status, no name or uid twice, public keys that are public keys,
and a key for every active person where accounts are made from the roster.

Used by the pre-flight play (action plugin `roster_preflight`). Each message names the person (entry number and
username) and the field. Key material is never shown, only its position.
"""

from __future__ import annotations

import base64
import binascii
import re
import struct
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

from baseline import REPO_ROOT
from baseline.policy import shown, type_name, whole_number

VARIABLE = "staff"
EXTRA_KEYS = "staff_ssh_keys"
FIELDS = {
    "username": "account name on servers, databases and devices",
    "name": "the person's name (account comment)",
    "role": "one of the roles of accounts_roles",
    "status": "active or departed",
    "uid": "optional: the account's user id",
    "ssh_keys": "public SSH keys (may be empty when staff_ssh_keys holds the person's keys)",
}
REQUIRED = ("username", "name", "role", "status")
STATUSES = ("active", "departed")
# People's accounts live in the login range; baseline.accounts.unknown_accounts reports accounts in the same range.
UID_MIN, UID_MAX = 1000, 59999
USERNAME = re.compile(r"[a-z_][a-z0-9_-]{0,31}")
KEY_TYPES = ("ssh-ed25519", "ssh-rsa", "ecdsa-sha2-nistp256", "ecdsa-sha2-nistp384", "ecdsa-sha2-nistp521",
             "sk-ssh-ed25519@openssh.com", "sk-ecdsa-sha2-nistp256@openssh.com")
ROLE_DEFAULTS = REPO_ROOT / "roles" / "accounts" / "defaults" / "main.yml"


def default_roles(path: Path = ROLE_DEFAULTS) -> list[str]:
    """The roster roles the accounts role knows (accounts_roles of its defaults)."""
    values = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    return sorted(values.get("accounts_roles", {}))


def key_problem(key: Any) -> str | None:
    """Why `key` is not one OpenSSH public key line (`type base64 [comment]`), without showing the key."""
    if not isinstance(key, str):
        return f"is {type_name(key)}, not a public key line"
    if "PRIVATE KEY" in key:
        return "holds a private key: remove it from the inventory and give the public key (.pub) instead"
    if "\n" in key.strip() or "\r" in key:
        return "spans several lines: one key per entry"
    parts = key.split()
    if not parts:
        return "is empty"
    if parts[0] not in KEY_TYPES:
        if any(part in KEY_TYPES for part in parts[1:]):
            return ("starts with options before the key type: give the bare public key, the role adds "
                    "from=\"admin_networks\" itself")
        return f"is not an OpenSSH public key (type one of {', '.join(KEY_TYPES)})"
    if len(parts) < 2:
        return "has a key type but no key"
    try:
        blob = base64.b64decode(parts[1], validate=True)
        (length,) = struct.unpack(">I", blob[:4])
        kind = blob[4:4 + length].decode("ascii")
    except (binascii.Error, struct.error, UnicodeDecodeError, ValueError):
        return "is not an OpenSSH public key: the key part is not valid base64 key data"
    if kind != parts[0]:
        return f"says {parts[0]} but holds a {kind or 'damaged'} key"
    return None


def _label(index: int, person: Any) -> str:
    if isinstance(person, Mapping):
        username = person.get("username")
        if isinstance(username, str) and username:
            return f"{VARIABLE}[{index}] ({username})"
        name = person.get("name")
        if isinstance(name, str) and name:
            return f"{VARIABLE}[{index}] (name {name}, no username)"
    return f"{VARIABLE}[{index}]"


def _keys(where: str, keys: Any) -> list[str]:
    if not isinstance(keys, Sequence) or isinstance(keys, str):
        return [f"{where} is {type_name(keys)}, not a list of public keys"]
    found = []
    for position, key in enumerate(keys):
        problem = key_problem(key)
        if problem:
            found.append(f"{where}[{position}] {problem}")
    return found


def problems(staff: Any, roles: Iterable[str], extra_keys: Any = None, *, needs_keys: bool = True,
             reserved: Mapping[str, str] | None = None) -> list[str]:
    """Every problem of the roster, one line each.

    roles: the known roster roles (accounts_roles). extra_keys: staff_ssh_keys (username -> public keys), merged
    with each person's ssh_keys by the accounts role. needs_keys: whether accounts with keys are made from the
    roster here (an active person without any key is then refused). reserved: account names that are not people
    (name -> the variable that holds it, e.g. the automation account)."""
    known_roles = sorted(roles)
    reserved = dict(reserved or {})
    if staff is None:
        return [f"{VARIABLE} is not set: the staff roster (inventory/group_vars/all/staff.yml) lists every person"]
    if isinstance(staff, str) or not isinstance(staff, Sequence):
        return [f"{VARIABLE} is {type_name(staff)}, not a list of persons (inventory/group_vars/all/staff.yml)"]
    found: list[str] = []
    extra: Mapping[str, Any] = {}
    if extra_keys is not None:
        if isinstance(extra_keys, Mapping):
            extra = extra_keys
            for owner, keys in extra.items():
                found += _keys(f"{EXTRA_KEYS}[{owner}]", keys)
        else:
            found.append(f"{EXTRA_KEYS} is {type_name(extra_keys)}, not a mapping of username to public keys")
    first_of_name: dict[str, int] = {}
    first_of_uid: dict[int, int] = {}
    for index, person in enumerate(staff):
        where = _label(index, person)
        if not isinstance(person, Mapping):
            found.append(f"{where} is {type_name(person)}, not a person (a mapping with "
                         f"{', '.join(REQUIRED)})")
            continue
        for name in REQUIRED:
            if person.get(name) in (None, ""):
                found.append(f"{where}, field {name}: missing; every person needs {', '.join(REQUIRED)} "
                             f"({name}: {FIELDS[name]})")
        for name in person:
            if name not in FIELDS:
                found.append(f"{where}, field {name}: not a roster field, no tool reads it; the fields are "
                             f"{', '.join(FIELDS)}")
        username = person.get("username")
        if username not in (None, ""):
            if not isinstance(username, str) or not USERNAME.fullmatch(username):
                found.append(f"{where}, field username: {shown(username)} is not an account name (lower-case "
                             "letters, digits, _ and -, starting with a letter or _, at most 32 characters)")
            elif username in reserved:
                found.append(f"{where}, field username: {username} is the account of {reserved[username]}, "
                             "not a person's")
            elif username in first_of_name:
                first = _label(first_of_name[username], staff[first_of_name[username]])
                found.append(f"{where}, field username: {username} is already {first}; one entry per person "
                             "(otherwise the later entry silently decides the account's groups and keys)")
            else:
                first_of_name[username] = index
        full_name = person.get("name")
        if full_name not in (None, "") and (not isinstance(full_name, str) or ":" in full_name or "\n" in full_name):
            found.append(f"{where}, field name: {shown(full_name)} must be text without ':' or line breaks "
                         "(it becomes the account's comment in /etc/passwd)")
        role = person.get("role")
        if role not in (None, "") and role not in known_roles:
            found.append(f"{where}, field role: {shown(role)} is not a known role; known roles: "
                         f"{', '.join(known_roles)} (accounts_roles)")
        status = person.get("status")
        if status not in (None, "") and status not in STATUSES:
            found.append(f"{where}, field status: {shown(status)} is not one of {', '.join(STATUSES)}")
        if "uid" in person:
            uid = whole_number(person["uid"])
            if uid is None:
                found.append(f"{where}, field uid: {shown(person['uid'])} is {type_name(person['uid'])}, not a "
                             "whole number")
            elif not UID_MIN <= uid <= UID_MAX:
                found.append(f"{where}, field uid: {uid} is outside {UID_MIN}..{UID_MAX}, the range of people's "
                             "accounts (below it an account counts as a system account and loses its login "
                             "shell, AC-01; 0 is root)")
            elif uid in first_of_uid:
                first = _label(first_of_uid[uid], staff[first_of_uid[uid]])
                found.append(f"{where}, field uid: {uid} is already the uid of {first}; no two accounts share "
                             "a uid (IA-01)")
            else:
                first_of_uid[uid] = index
        if "ssh_keys" in person:
            found += _keys(f"{where}, field ssh_keys", person["ssh_keys"])
        if status == "active" and needs_keys:
            found += _active_keys(where, person, extra)
    return found


def _active_keys(where: str, person: Mapping[str, Any], extra: Mapping[str, Any]) -> list[str]:
    if "ssh_keys" not in person:
        return [f"{where}, field ssh_keys: missing; give a list of public keys (empty when {EXTRA_KEYS} holds "
                "the person's keys)"]
    own = person["ssh_keys"] if isinstance(person["ssh_keys"], Sequence) else []
    username = person.get("username")
    more = extra.get(username, []) if isinstance(username, str) else []
    more = more if isinstance(more, Sequence) and not isinstance(more, str) else []
    if not own and not more:
        return [f"{where}, field ssh_keys: an active person has no SSH key, neither in ssh_keys nor in "
                f"{EXTRA_KEYS}; every active person needs at least one public key to log in"]
    return []
