"""Orphan accounts (AC-02 on every asset): accounts on servers, databases and network devices that the staff roster
does not know, or that belong to departed staff and can still log in, each with where it was found.

    baseline orphans [--inventory INV] [--limit NAME] [--json] [--results-file F]

What counts as an account that can log in:
  servers     (linux_servers, over SSH as the automation account with `sudo -n`, one ControlMaster connection per
              host, hosts in parallel) an account that is not expired and has a login shell, a usable password or
              an authorized_keys file with keys, and whose UID is in the people's range (UID_MIN of /etc/login.defs,
              1000 by default) or that is a member of an administrator group (sudo, admin, wheel, and the groups of
              the accounts role's `accounts_roles`). System accounts (UID below UID_MIN and no administrator group)
              are not people and are left out. Password hashes never leave the host: the shadow file is reduced
              there to its lock state.
  postgresql  roles with `rolcanlogin` (psql as postgres over the local socket, peer authentication).
  mariadb     users that are not roles and not locked (mariadb as root over the local socket).
  network     `local-user NAME` (Huawei VRP, H3C Comware) and `username NAME` (Cisco IOS) of the running
              configuration, read with the network-device client (baseline/netdev).

Known accounts, read from the inventory (the roles' defaults where the inventory does not set them), are not
orphans: the roster's active staff; on servers the automation account and `accounts_exceptions`; in PostgreSQL
`database_accounts`, the roster's DBAs and `postgresql_superusers`; in MariaDB `database_accounts`, the roster's
DBAs, `backup_client_mariadb_user` and the accounts the MariaDB package makes for itself on localhost
(ENGINE_ACCOUNTS); on devices the accounts the device baseline makes (`netdev_login_user` and the roster's people
whose role has device access, baseline.netdev.definitions.device_accounts).

Every other account that can log in is a finding: "not in the roster", or "departed staff (left …) still active"
when its name is a departed person's (compared without regard to case: `SunHao` is the departed `sunhao`). A name
that differs from a known one only in case is not that account: it is reported as not in the roster.

Results (--results-file): one AC-02 record per asset, check `orphans.accounts_known_to_roster`: fail with one
evidence item per orphan (account, why, where), pass with the counts checked, not_verifiable with the reason when
the asset could not be read. Exit status: 0 no orphan on any asset, 1 orphans found or an asset could not be
checked (no conclusion without evidence), 2 bad input (inventory, roster, device definitions, arguments).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import re
import shlex
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import jinja2
import yaml

from baseline import REPO_ROOT
from baseline import inventory as inventory_mod
from baseline.accounts import login_uid_range
from baseline.results import Evidence, ResultWriter, new_run_id

CONTROL = "AC-02"
CHECK = "orphans.accounts_known_to_roster"
KINDS = ("server", "postgresql", "mariadb", "network")
ASSET_KIND = {"server": "linux", "postgresql": "postgresql", "mariadb": "mariadb", "network": "network"}
GROUPS = {"server": "linux_servers", "postgresql": "postgresql_servers", "mariadb": "mariadb_servers"}
NOT_IN_ROSTER = "not in the roster"
# Shells that give no login (the accounts role's accounts_nologin_shells).
NOLOGIN_SHELLS = ("/usr/sbin/nologin", "/sbin/nologin", "/bin/false", "/usr/bin/false")
# Groups that sudoers of Debian and other distributions grant administration to; the accounts role's own groups
# (accounts_roles) are added from the inventory.
ADMIN_GROUPS = ("sudo", "admin", "wheel")
# Accounts the MariaDB package makes for itself, on localhost only (unix_socket or locked): not people's.
ENGINE_ACCOUNTS = {"mariadb": ("root", "mysql", "mariadb.sys")}
DEFAULT_KEY_FILES = ".ssh/authorized_keys .ssh/authorized_keys2"
SSH_TIMEOUT_S = 120
ROLES_DIR = REPO_ROOT / "roles"


class OrphansError(ValueError):
    """Bad input: the message names the argument or variable."""


# --- what was found -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Finding:
    asset: str  # inventory name of the host or device
    kind: str  # server | postgresql | mariadb | network
    account: str
    why: str  # "not in the roster" / "departed staff (left YYYY-MM-DD) still active"
    where: str  # the command or file it was read from, and what made the account count


@dataclass
class AssetSurvey:
    """One asset checked: the accounts that could log in compared with the roster, or why it could not be read."""

    asset: str
    kind: str
    accounts: int = 0  # accounts read
    checked: int = 0  # accounts that can log in, compared with the roster
    findings: list[Finding] = field(default_factory=list)
    error: str = ""  # why the asset could not be checked ("" when it was)
    commands: list[str] = field(default_factory=list)
    host_kind: str = ""
    vendor: str = ""
    duration_s: float = 0.0


# --- the roster -------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Roster:
    active: frozenset[str]
    departed: Mapping[str, str]  # username -> date the person left ("" when the roster does not say)

    @classmethod
    def from_staff(cls, staff: Iterable[Mapping[str, Any]]) -> Roster:
        active, departed = set(), {}
        for person in staff:
            name = str(person.get("username", ""))
            if not name:
                continue
            if person.get("status") == "active":
                active.add(name)
            else:
                departed[name] = str(person.get("left") or "")
        return cls(frozenset(active), departed)

    def judge(self, account: str, known: Iterable[str] = ()) -> str | None:
        """Why `account` is an orphan, or None when the roster or the inventory knows it."""
        lowered = account.lower()
        for name, left in sorted(self.departed.items()):
            if name.lower() == lowered:
                return f"departed staff (left {left or 'on a date the roster does not record'}) still active" + (
                    f"; the roster writes {name}" if name != account else "")
        allowed = set(self.active) | set(known)
        if account in allowed:
            return None
        alike = sorted(n for n in allowed if n.lower() == lowered)
        return NOT_IN_ROSTER + (f" (the roster or inventory has {alike[0]}: the names differ in case)" if alike else "")


# --- servers: parsing -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PasswdEntry:
    name: str
    uid: int
    gid: int
    home: str
    shell: str


@dataclass(frozen=True)
class ShadowState:
    lock: str  # "locked" (! or *), "empty" (no password at all) or "set" (a hash that can be used)
    expire_day: int | None  # account expiry, days since 1970-01-01; None when never

    def expired(self, today: int) -> bool:
        return self.expire_day is not None and self.expire_day <= today


def parse_passwd(text: str) -> list[PasswdEntry]:
    """`getent passwd` lines as entries (malformed lines are left out)."""
    found = []
    for line in text.splitlines():
        fields = line.split(":")
        if len(fields) < 7 or not fields[0] or not fields[2].isdigit() or not fields[3].isdigit():
            continue
        found.append(PasswdEntry(fields[0], int(fields[2]), int(fields[3]), fields[5], fields[6]))
    return found


def parse_shadow(text: str) -> dict[str, ShadowState]:
    """Shadow lines (`getent shadow`, or the reduced form SHADOW_STATE prints) as lock states; a password hash, if
    given, is read for its first character only and kept nowhere."""
    found = {}
    for line in text.splitlines():
        fields = line.split(":")
        if len(fields) < 8 or not fields[0]:
            continue
        password = fields[1]
        state = "empty" if password == "" else "locked" if password[0] in "!*" else "set"
        expire = fields[7].strip()
        found[fields[0]] = ShadowState(state, int(expire) if expire.lstrip("-").isdigit() else None)
    return found


def parse_group(text: str) -> tuple[dict[int, str], dict[str, set[str]]]:
    """`getent group` as (gid -> group name, group name -> member names)."""
    names: dict[int, str] = {}
    members: dict[str, set[str]] = {}
    for line in text.splitlines():
        fields = line.split(":")
        if len(fields) < 4 or not fields[2].isdigit():
            continue
        names[int(fields[2])] = fields[0]
        members[fields[0]] = {m for m in fields[3].split(",") if m}
    return names, members


def parse_key_files(text: str) -> dict[str, list[tuple[str, int]]]:
    """KEY_FILES output (`user<TAB>path<TAB>number of key lines`) as user -> [(path, keys)]."""
    found: dict[str, list[tuple[str, int]]] = {}
    for line in text.splitlines():
        parts = line.split("\t")
        if len(parts) != 3 or not parts[2].strip().isdigit():
            continue
        found.setdefault(parts[0], []).append((parts[1], int(parts[2])))
    return found


def authorized_keys_patterns(sshd_t: str) -> list[str]:
    """The AuthorizedKeysFile patterns of `sshd -T` (OpenSSH's default when the output does not say)."""
    for line in sshd_t.splitlines():
        words = line.split()
        if words and words[0].lower() == "authorizedkeysfile" and len(words) > 1:
            return [w for w in words[1:] if w.lower() != "none"]
    return DEFAULT_KEY_FILES.split()


def key_paths(patterns: Sequence[str], entry: PasswdEntry) -> list[str]:
    """The files sshd reads keys from for `entry`: %h, %u, %U and %% expanded, relative paths under the home."""
    paths = []
    for pattern in patterns:
        path = re.sub(r"%([%hHuU])", lambda m: {"%": "%", "h": entry.home, "H": entry.home, "u": entry.name,
                                                 "U": str(entry.uid)}[m.group(1)], pattern)
        paths.append(path if path.startswith("/") else f"{entry.home.rstrip('/')}/{path}")
    return paths


def server_findings(asset: str, passwd: Sequence[PasswdEntry], shadow: Mapping[str, ShadowState],
                    group_text: str, keys: Mapping[str, list[tuple[str, int]]], *, roster: Roster,
                    known: Iterable[str], today: int, uid_min: int = 1000, admin_groups: Iterable[str] = ADMIN_GROUPS) -> tuple[
                        list[Finding], int]:
    """Orphans among a server's accounts, and how many accounts could log in and were compared."""
    gid_names, members = parse_group(group_text)
    admin = set(admin_groups)
    known = set(known)
    found, checked = [], 0
    for entry in passwd:
        groups = {gid_names.get(entry.gid, "")} | {g for g, names in members.items() if entry.name in names}
        in_admin = sorted(groups & admin)
        if entry.uid < uid_min and not in_admin:
            continue  # a system account, not a person's (AC-01 keeps its shell away)
        state = shadow.get(entry.name)
        if state is not None and state.expired(today):
            continue  # an expired account cannot log in at all
        shell = entry.shell or "/bin/sh"
        login_shell = shell not in NOLOGIN_SHELLS
        usable = state is not None and state.lock != "locked"
        files = [(path, n) for path, n in keys.get(entry.name, []) if n > 0]
        if not (login_shell or usable or files):
            continue
        checked += 1
        why = roster.judge(entry.name, known)
        if why is None:
            continue
        how = [f"uid {entry.uid}", f"shell {shell}"]
        if in_admin:
            how.append(f"groups {', '.join(in_admin)}")
        how.append(f"password {state.lock if state else 'not in shadow'} (getent shadow)")
        how += [f"{n} key(s) in {path}" for path, n in files]
        found.append(Finding(asset, "server", entry.name, why, f"getent passwd: {'; '.join(how)}"))
    return found, checked


# --- databases: parsing -----------------------------------------------------------------------------------------

PSQL_ROLES = ("SELECT rolname, rolcanlogin, rolsuper, COALESCE(rolvaliduntil::text, '') FROM pg_roles "
              "WHERE rolcanlogin ORDER BY rolname")
# MariaDB keeps an account's role flag and its lock in the JSON of mysql.global_priv (the mysql.user view shows no
# lock); JSON_VALUE gives a JSON true as 1 (MariaDB 10.11) or 'true'.
MARIADB_USERS = ("SELECT User, Host, IF(JSON_VALUE(Priv, '$.is_role') IN ('1', 'true'), 'Y', 'N'), "
                 "IF(JSON_VALUE(Priv, '$.account_locked') IN ('1', 'true'), 'Y', 'N') FROM mysql.global_priv "
                 "ORDER BY User, Host")


def parse_psql_roles(text: str) -> list[dict[str, Any]]:
    """`psql -XAt -F '|'` output of PSQL_ROLES: name, can log in, superuser, valid until."""
    found = []
    for line in text.splitlines():
        parts = line.split("|")
        if len(parts) < 3 or not parts[0]:
            continue
        found.append({"name": parts[0], "login": parts[1] == "t", "superuser": parts[2] == "t",
                      "valid_until": parts[3] if len(parts) > 3 else ""})
    return found


def parse_mariadb_users(text: str) -> list[dict[str, Any]]:
    """`mariadb --batch --skip-column-names` output of MARIADB_USERS (tab-separated): user, host, role, locked."""
    found = []
    for line in text.splitlines():
        parts = line.split("\t")
        if len(parts) < 4:
            continue
        found.append({"user": parts[0], "host": parts[1], "role": parts[2] == "Y", "locked": parts[3] == "Y"})
    return found


def postgresql_findings(asset: str, roles: Sequence[Mapping[str, Any]], roster: Roster, known: Iterable[str],
                        where: str) -> tuple[list[Finding], int]:
    known = set(known)
    found, checked = [], 0
    for role in roles:
        if not role["login"]:
            continue
        checked += 1
        why = roster.judge(role["name"], known)
        if why:
            attrs = ["rolcanlogin"] + (["rolsuper"] if role["superuser"] else []) + (
                [f"valid until {role['valid_until']}"] if role["valid_until"] else [])
            found.append(Finding(asset, "postgresql", role["name"], why, f"{where}: {', '.join(attrs)}"))
    return found, checked


def mariadb_findings(asset: str, users: Sequence[Mapping[str, Any]], roster: Roster, known: Iterable[str],
                     where: str) -> tuple[list[Finding], int]:
    known = set(known)
    engine = set(ENGINE_ACCOUNTS["mariadb"])
    found, checked = [], 0
    for user in users:
        if user["role"] or user["locked"]:
            continue
        checked += 1
        if user["user"] in engine and user["host"] == "localhost":
            continue
        why = roster.judge(user["user"], known)
        if why:
            account = f"{user['user'] or '(anonymous)'}@{user['host']}"
            found.append(Finding(asset, "mariadb", account, why, f"{where}: not a role, not locked"))
    return found, checked


# --- network devices: parsing -----------------------------------------------------------------------------------

LOCAL_USER = re.compile(r"^\s*local-user (\S+)(?: class (\S+))?")
CISCO_USER = re.compile(r"^username (\S+)")


def device_users(vendor_key: str, config: str) -> list[str]:
    """Local user names of a running configuration: `local-user NAME` (huawei, h3c), `username NAME` (cisco)."""
    from baseline.netdev.vendors import config_body

    pattern = CISCO_USER if vendor_key == "cisco" else LOCAL_USER
    names: list[str] = []
    for line in config_body(config).splitlines():
        match = pattern.match(line)
        if match and match.group(1) not in names:
            names.append(match.group(1))
    return names


def device_findings(asset: str, users: Sequence[str], roster: Roster, known: Iterable[str], where: str) -> list[Finding]:
    known = set(known)
    return [Finding(asset, "network", name, why, where.format(name=name)) for name in users
            if (why := roster.judge(name, known))]


# --- known accounts from the inventory ----------------------------------------------------------------------------


def role_value(values: Mapping[str, Any], role: str, name: str, default: Any = None) -> Any:
    """A role variable as a play would see it here: the inventory's value, else the role's vars or defaults
    (roles/<role>/), its Jinja2 expressions rendered with the host's variables."""
    if name in values:
        return values[name]
    for part in ("vars", "defaults"):
        path = ROLES_DIR / role / part / "main.yml"
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except OSError:
            continue
        if name in data:
            return _rendered(data[name], values)
    return default


def _rendered(value: Any, values: Mapping[str, Any]) -> Any:
    if isinstance(value, list):
        return [v for v in (_rendered(item, values) for item in value) if v is not None]
    if isinstance(value, dict):
        return {k: _rendered(v, values) for k, v in value.items()}
    if isinstance(value, str) and "{{" in value:
        try:
            return jinja2.Environment(undefined=jinja2.StrictUndefined, autoescape=False).from_string(value).render(**values)  # noqa: S701 - plain text
        except jinja2.TemplateError:
            return None  # an expression that needs what only a play has (facts, groups): nothing known from it
    return value


def _names(items: Any, key: str) -> set[str]:
    return {str(i[key]) for i in items or [] if isinstance(i, Mapping) and i.get(key)}


def _dbas(values: Mapping[str, Any]) -> set[str]:
    return {str(p["username"]) for p in values.get("staff") or []
            if p.get("role") == "dba" and p.get("status") == "active" and p.get("username")}


def known_accounts(kind: str, values: Mapping[str, Any]) -> set[str]:
    """Non-person accounts the baseline itself makes on an asset of `kind` (besides the roster's people)."""
    if kind == "server":
        return {str(n) for n in [values.get("automation_user"),
                                 *(role_value(values, "accounts", "accounts_exceptions", []) or [])] if n}
    if kind == "postgresql":
        return (_names(values.get("database_accounts"), "name") | _dbas(values)
                | {str(n) for n in role_value(values, "postgresql", "postgresql_superusers", []) or []})
    if kind == "mariadb":
        backup_user = role_value(values, "backup_client", "backup_client_mariadb_user")
        return _names(values.get("database_accounts"), "name") | _dbas(values) | ({str(backup_user)} if backup_user else set())
    if kind == "network":
        from baseline.netdev.definitions import device_accounts

        return {a.username for a in device_accounts(dict(values), with_secrets=False)}
    raise ValueError(f"unknown kind {kind!r}; one of {', '.join(KINDS)}")


def admin_groups(values: Mapping[str, Any]) -> list[str]:
    roles = role_value(values, "accounts", "accounts_roles", {}) or {}
    return sorted(set(ADMIN_GROUPS) | {str(r["group"]) for r in roles.values() if isinstance(r, Mapping) and r.get("group")})


# --- reading the assets -------------------------------------------------------------------------------------------


class Unreadable(RuntimeError):
    """The asset could not be read; the message says why (never a secret)."""


Runner = Callable[[str], str]

SHADOW_STATE = ("sudo -n sh -c " + shlex.quote(
    "out=$(getent shadow) || exit $?; printf '%s\\n' \"$out\" | "
    "awk -F: 'BEGIN{OFS=\":\"} {p=$2; $2=(p==\"\")?\"\":(p ~ /^[!*]/)?\"!\":\"x\"; print}'"))


def key_files_command(paths: Mapping[str, Sequence[str]]) -> str:
    """One sudo shell that prints `user<TAB>path<TAB>key lines` for every existing key file of the given users."""
    parts = []
    for user, files in sorted(paths.items()):
        for path in files:
            parts.append(f"f={shlex.quote(path)}; [ -f \"$f\" ] && printf '%s\\t%s\\t%s\\n' {shlex.quote(user)} \"$f\" "
                         "\"$(grep -cEv '^[[:space:]]*(#|$)' \"$f\")\"")
    return "sudo -n sh -c " + shlex.quote("; ".join(parts) + "; true") if parts else "true"


class SSHRunner:
    """Commands on one host over a shared ControlMaster connection (baseline.compliance.SharedConnections)."""

    def __init__(self, config: Path, host: str, commands: list[str], wait: float = 10):
        self.config, self.host, self.commands, self.wait = config, host, commands, wait

    def __call__(self, command: str) -> str:
        self.commands.append(command)
        argv = ["ssh", "-F", str(self.config), "-o", "BatchMode=yes", "-o", f"ConnectTimeout={self.wait:g}", self.host,
                command]
        try:
            proc = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=SSH_TIMEOUT_S,
                                  check=False)
        except subprocess.TimeoutExpired:
            raise Unreadable(f"{command.split(maxsplit=1)[0]}…: no answer within {SSH_TIMEOUT_S} s") from None
        if proc.returncode == 255:
            raise Unreadable(f"unreachable over SSH: {_last_line(proc.stderr) or 'ssh exit status 255'}")
        if proc.returncode != 0:
            shown = command if len(command) < 100 else command[:97] + "..."
            raise Unreadable(f"`{shown}` failed (exit {proc.returncode}): {_last_line(proc.stderr) or 'no message'}")
        return proc.stdout


def _last_line(text: str) -> str:
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return lines[-1] if lines else ""


def survey_server(host: str, values: Mapping[str, Any], roster: Roster, run: Runner) -> tuple[list[Finding], int, int]:
    """Read a server's accounts over `run` (a command runner on the host); (findings, accounts read, checked)."""
    today = int(run("date -u +%s").strip() or 0) // 86400
    passwd = parse_passwd(run("getent passwd"))
    groups = run("getent group")
    uid_min = login_uid_range(run("cat /etc/login.defs"))[0]
    shadow = parse_shadow(run(SHADOW_STATE))
    patterns = authorized_keys_patterns(run("sudo -n sshd -T"))
    gid_names, members = parse_group(groups)
    admin = set(admin_groups(values))
    people = {e.name: key_paths(patterns, e) for e in passwd
              if e.uid >= uid_min or gid_names.get(e.gid) in admin or any(e.name in members[g] for g in admin & set(members))}
    keys = parse_key_files(run(key_files_command(people)))
    found, checked = server_findings(host, passwd, shadow, groups, keys, roster=roster,
                                     known=known_accounts("server", values), today=today, uid_min=uid_min, admin_groups=admin)
    return found, len(passwd), checked


def survey_postgresql(host: str, values: Mapping[str, Any], roster: Roster, run: Runner) -> tuple[list[Finding], int, int]:
    port = values.get("postgresql_port")
    command = ("cd / && sudo -n -u postgres psql -XAt -F '|' -v ON_ERROR_STOP=1 -d postgres"
               + (f" -p {int(port)}" if port else "") + f" -c {shlex.quote(PSQL_ROLES)}")
    roles = parse_psql_roles(run(command))
    found, checked = postgresql_findings(host, roles, roster, known_accounts("postgresql", values),
                                         "psql as postgres: pg_roles")
    return found, len(roles), checked


def survey_mariadb(host: str, values: Mapping[str, Any], roster: Roster, run: Runner) -> tuple[list[Finding], int, int]:
    command = f"sudo -n mariadb --batch --skip-column-names -e {shlex.quote(MARIADB_USERS)}"
    users = parse_mariadb_users(run(command))
    found, checked = mariadb_findings(host, users, roster, known_accounts("mariadb", values),
                                      "mariadb as root: mysql.global_priv")
    return found, len(users), checked


SURVEYS = {"server": survey_server, "postgresql": survey_postgresql, "mariadb": survey_mariadb}


def _host(host: str, kinds: list[str], values: Mapping[str, Any], roster: Roster, config: Path) -> list[AssetSurvey]:
    """Every kind of asset `host` is, read over one SSH connection; an unreachable host makes all of them unread."""
    surveys = []
    broken = ""
    for kind in kinds:
        item = AssetSurvey(host, kind, host_kind=str(values.get("host_kind", "")))
        start = time.monotonic()
        if broken:
            item.error = broken
        else:
            try:
                item.findings, item.accounts, item.checked = SURVEYS[kind](
                    host, values, roster, SSHRunner(config, host, item.commands, inventory_mod.login_wait(values)))
            except Unreadable as exc:
                item.error = str(exc)
                if str(exc).startswith("unreachable"):
                    broken = item.error
        item.duration_s = round(time.monotonic() - start, 3)
        surveys.append(item)
    return surveys


def _device(device: Any, roster: Roster) -> AssetSurvey:
    from baseline.netdev.devices import Redactor
    from baseline.netdev.drivers import connect
    from baseline.netdev.push import read_running

    item = AssetSurvey(device.name, "network", host_kind=device.host_kind, vendor=device.vendor.result_name)
    command = device.vendor.show_running
    item.commands.append(command)
    start = time.monotonic()
    try:
        if not device.login_password():
            raise Unreadable(f"no password for {device.login_user} in vault_netdev_passwords")
        conn = connect(device)
        try:
            running = read_running(conn, device)
        finally:
            conn.disconnect()
        users = device_users(device.vendor.key, running)
        keyword = "username" if device.vendor.key == "cisco" else "local-user"
        item.accounts = item.checked = len(users)
        item.findings = device_findings(device.name, users, roster, known_accounts("network", device.values),
                                        f"{command}: {keyword} {{name}}")
    except Exception as exc:  # noqa: BLE001 - whatever kept the device from answering is its reason
        item.error = Redactor([device])(str(exc) or type(exc).__name__)
    item.duration_s = round(time.monotonic() - start, 3)
    return item


def load_inventory(path: str | os.PathLike | None) -> inventory_mod.Inventory:
    source = Path(path) if path else inventory_mod.inventory_path()
    named = "--inventory" if path else "BASELINE_INVENTORY" if os.environ.get("BASELINE_INVENTORY") else "the default inventory"
    if not source.exists():
        raise OrphansError(f"{named} {source} does not exist")
    try:
        inv = inventory_mod.load(str(source))
        hosts = inv.hosts("all")
    except Exception as exc:  # noqa: BLE001 - whatever Ansible raises, there is nothing to check
        raise OrphansError(f"{named} {source} cannot be read: {exc}") from exc
    if not hosts:
        raise OrphansError(f"{named} {source} lists no hosts (empty, unreadable or not an Ansible inventory)")
    return inv


def _roster(values: Mapping[str, Any], where: str) -> Roster:
    from baseline import roster as roster_mod

    problems = roster_mod.problems(values.get("staff"), roster_mod.default_roles(), needs_keys=False)
    if problems:
        raise OrphansError(f"{where}: the staff roster cannot be compared with: " + "; ".join(problems))
    return Roster.from_staff(values["staff"])


def ssh_config(inv: inventory_mod.Inventory) -> Path:
    """$BASELINE_SSH_CONFIG, else the ssh_config beside the inventory (it may not exist: ssh's defaults apply)."""
    given = os.environ.get("BASELINE_SSH_CONFIG")
    if given:
        return Path(given)
    base = inv.path if inv.path.is_dir() else inv.path.parent
    return base / "ssh_config"


def survey(inventory: str | os.PathLike | inventory_mod.Inventory | None = None,
           limit: Sequence[str] | None = None, workers: int = 16) -> list[AssetSurvey]:
    """Every server, database and network device of the inventory checked for orphan accounts (OrphansError on
    bad input, before any host is contacted)."""
    from baseline.compliance import SharedConnections
    from baseline.netdev.devices import load as load_devices
    from baseline.netdev.devices import mask_secrets_in_logs

    inv = inventory if isinstance(inventory, inventory_mod.Inventory) else load_inventory(inventory)
    groups = inv.groups()
    wanted = _limit(inv, limit)
    hosts: dict[str, list[str]] = {}
    for kind, group in GROUPS.items():
        for host in groups.get(group, []):
            if wanted is None or host in wanted:
                hosts.setdefault(host, []).append(kind)
    device_names = [d for d in groups.get("network_devices", []) if wanted is None or d in wanted]
    host_values = {host: _vars(inv, host) for host in hosts}
    rosters = {host: _roster(values, host) for host, values in host_values.items()}
    devices = load_devices(inv.path, device_names) if device_names else []
    rosters |= {d.name: _roster(d.values, d.name) for d in devices}
    mask_secrets_in_logs(devices)
    logging.getLogger("paramiko").addHandler(logging.NullHandler())  # a device's cause is its record's reason
    results: list[AssetSurvey] = []
    shared = SharedConnections(ssh_config(inv)) if hosts else None
    try:
        with ThreadPoolExecutor(max_workers=max(1, min(workers, len(hosts) + len(devices)))) as pool:
            jobs = [pool.submit(_host, h, kinds, host_values[h], rosters[h], shared.config)  # type: ignore[union-attr]
                    for h, kinds in hosts.items()]
            jobs += [pool.submit(lambda d: [_device(d, rosters[d.name])], d) for d in devices]
            for job in jobs:
                results += job.result()
    finally:
        if shared is not None:
            shared.close()
    return sorted(results, key=lambda s: (KINDS.index(s.kind), s.asset))


def _vars(inv: inventory_mod.Inventory, host: str) -> dict[str, Any]:
    try:
        return inv.vars(host)
    except Exception as exc:  # noqa: BLE001 - a vault value that cannot be decrypted, an undefined variable, ...
        raise OrphansError(f"{host}: the inventory variables cannot be read: {type(exc).__name__}: "
                           f"{_last_line(str(exc))}") from exc


def _limit(inv: inventory_mod.Inventory, limit: Sequence[str] | None) -> set[str] | None:
    if not limit:
        return None
    groups = inv.groups()
    known = set(inv.hosts("all"))
    wanted: set[str] = set()
    for item in limit:
        if item in groups:
            wanted |= set(groups[item])
        elif item in known:
            wanted.add(item)
        else:
            raise OrphansError(f"--limit {item}: no such host, device or group in {inv.path}")
    return wanted


def find_orphans(inventory: str | os.PathLike | inventory_mod.Inventory | None = None,
                 limit: Sequence[str] | None = None) -> list[Finding]:
    """Orphan accounts of every server, database and network device of the inventory (assets that could not be
    read are in survey()'s answer, with the reason)."""
    return [f for s in survey(inventory, limit) for f in s.findings]


# --- results and command line ---------------------------------------------------------------------------------------


def record_fields(item: AssetSurvey) -> dict[str, Any]:
    """The AC-02 results record of one asset (fields of baseline.results.CheckResult, without the run id)."""
    what = f"{'; '.join(item.commands)}"
    common = {"asset": item.asset, "asset_kind": ASSET_KIND[item.kind], "control_ids": ["AC-02"], "check": CHECK,
              "duration_s": item.duration_s, "host_kind": item.host_kind, "vendor": item.vendor, "method": "state"}
    if item.error:
        return {**common, "outcome": "not_verifiable", "reason": f"accounts not read: {item.error}",
                "evidence": [Evidence(command=what, observed={"error": item.error},
                                      expected="the accounts of the asset, read and compared with the roster")]}
    counts = {"accounts_read": item.accounts, "accounts_that_can_log_in": item.checked, "orphans": len(item.findings)}
    if item.findings:
        accounts = ", ".join(f.account for f in item.findings)
        return {**common, "outcome": "fail",
                "reason": f"{len(item.findings)} orphan account(s): {accounts}",
                "evidence": [Evidence(command=f.where, observed={"account": f.account, "why": f.why},
                                      expected="every account that can log in is a roster person's, an active one, "
                                               "or one the baseline makes") for f in item.findings]
                + [Evidence(command=what, observed=counts, expected={"orphans": 0})]}
    return {**common, "outcome": "pass", "reason": "",
            "evidence": [Evidence(command=what, observed=counts, expected={"orphans": 0},
                                  note="every account that can log in is an active roster person's or one the "
                                       "baseline makes (inventory)")]}


def write_results(surveys: Iterable[AssetSurvey], path: str | os.PathLike, run_id: str | None = None) -> ResultWriter:
    writer = ResultWriter(path, run_id=run_id or os.environ.get("BASELINE_RUN_ID", "").strip() or new_run_id())
    for item in surveys:
        writer.record(**record_fields(item))
    return writer


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="baseline orphans", description="Accounts on servers, databases and network "
                                "devices that the staff roster does not know, or of departed staff (AC-02).")
    p.add_argument("-i", "--inventory", help="inventory (default: $BASELINE_INVENTORY, else the lab's)")
    p.add_argument("-l", "--limit", action="append", default=[], help="only these hosts, devices or groups (repeatable)")
    p.add_argument("--json", action="store_true", help="print the findings as JSON")
    p.add_argument("--results-file", help="append one AC-02 record per asset to this results file (JSON Lines)")
    return p


def main(argv: list[str] | None = None) -> int:
    from baseline.netdev.definitions import NetdevError

    args = parser().parse_args(argv)
    try:
        surveys = survey(args.inventory, args.limit)
    except (OrphansError, NetdevError) as exc:  # NetdevError: a device the inventory defines wrongly
        print(f"baseline orphans: {exc}", file=sys.stderr)
        return 2
    findings = [f for s in surveys for f in s.findings]
    unread = [s for s in surveys if s.error]
    if args.results_file:
        try:
            writer = write_results(surveys, args.results_file)
        except OSError as exc:
            print(f"baseline orphans: --results-file {args.results_file}: {exc.strerror or exc}", file=sys.stderr)
            return 2
        print(f"results: {writer.path} (run {writer.run_id})", file=sys.stderr)
    if args.json:
        print(json.dumps({"findings": [asdict(f) for f in findings],
                          "not_verified": [{"asset": s.asset, "kind": s.kind, "reason": s.error} for s in unread],
                          "checked": [{"asset": s.asset, "kind": s.kind, "accounts": s.accounts,
                                       "can_log_in": s.checked} for s in surveys if not s.error]},
                         ensure_ascii=False, indent=2))
    else:
        for f in findings:
            print(f"{f.asset}\t{f.kind}\t{f.account}\t{f.why}\t{f.where}")
        for s in unread:
            print(f"{s.asset}\t{s.kind}\tnot verified: {s.error}")
        print(f"{len(findings)} orphan account(s) on {len({(f.asset, f.kind) for f in findings})} asset(s); "
              f"{len(surveys) - len(unread)} of {len(surveys)} asset(s) checked", file=sys.stderr)
    return 1 if findings or unread else 0


if __name__ == "__main__":
    sys.exit(main())
