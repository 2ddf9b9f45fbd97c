"""Parsers of the Linux suites: pure functions from what a host printed, or holds in a file, to the values the
checks compare with the inventory's policy. No host access here, so tests/unit/test_linuxcheck.py can show each
one on plain text (commented options, `remember=50` against 5, `(ALL) ALL`, a second key without `from=`, …).

Conventions: comments never count; a number is compared with the policy value in the direction that makes it
stricter-or-equal (remember >= policy, TMOUT <= policy and > 0, deny <= policy, …); a value that cannot be read
is a failure, never a pass.
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets as _secrets
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from baseline.secrets import generate, sequence_steps  # noqa: F401 - sequence_steps: cracklib's count, for the checks' tests

# --- comments and key = value files ---------------------------------------------------------------------------


def strip_hash_comment(line: str) -> str:
    """The line without a `#` comment, wherever it starts (pwquality.conf, faillock.conf, PAM, limits.conf)."""
    return line.split("#", 1)[0].strip()


def strip_shell_comment(line: str) -> str:
    """The line without a shell comment: `#` at the start of a word (so `a#b` stays, `x=1 # note` loses the note)."""
    return re.split(r"(?:^|(?<=\s))#", line, maxsplit=1)[0].strip()


def conf_values(text: str) -> dict[str, str]:
    """`key = value` settings of a file like pwquality.conf or faillock.conf, comments ignored, the last setting of
    a key winning. A bare word (`enforce_for_root`, `audit`) is a flag: its value is the empty string."""
    values: dict[str, str] = {}
    for raw in text.splitlines():
        line = strip_hash_comment(raw)
        if not line:
            continue
        key, sep, value = line.partition("=")
        values[key.strip()] = value.strip() if sep else ""
    return values


def int_or_none(value: Any) -> int | None:
    try:
        return int(str(value).strip())
    except (TypeError, ValueError):
        return None


def at_least(value: Any, floor: int) -> bool:
    number = int_or_none(value)
    return number is not None and number >= floor


def at_most(value: Any, ceiling: int, *, positive: bool = True) -> bool:
    number = int_or_none(value)
    return number is not None and number <= ceiling and (number > 0 or not positive)


# --- PAM -----------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PamLine:
    type: str
    control: str
    module: str  # base name, e.g. pam_pwhistory.so
    args: tuple[str, ...]


def pam_lines(text: str) -> list[PamLine]:
    """Rules of a PAM file (/etc/pam.d/common-password), comments and @include lines left out."""
    rules = []
    for raw in text.splitlines():
        line = strip_hash_comment(raw)
        if not line or line.startswith("@"):
            continue
        kind, rest = (line.split(None, 1) + [""])[:2]
        rest = rest.strip()
        if rest.startswith("["):
            end = rest.find("]")
            control, rest = (rest[: end + 1], rest[end + 1:]) if end >= 0 else (rest, "")
        else:
            control, rest = (rest.split(None, 1) + [""])[:2]
        words = rest.split()
        if not words:
            continue
        rules.append(PamLine(kind.lstrip("-"), control.strip(), words[0].rsplit("/", 1)[-1], tuple(words[1:])))
    return rules


def pam_module(text: str, kind: str, module: str) -> list[PamLine]:
    """The rules of type `kind` (auth, password, …) that call `module`."""
    return [r for r in pam_lines(text) if r.type == kind and r.module == module]


def pam_arg(args: Iterable[str], name: str) -> str | None:
    """Value of `name=value` among a rule's arguments (the last one wins); "" for a bare flag; None when absent."""
    found = None
    for arg in args:
        key, sep, value = arg.partition("=")
        if key == name:
            found = value if sep else ""
    return found


# --- shell profile: TMOUT --------------------------------------------------------------------------------------------

_TMOUT_ASSIGN = re.compile(r"(?:^|[\s;])(?:(?:export|readonly|declare|typeset|local)(?:\s+-\w+)*\s+)?"
                           r"TMOUT=(\"[^\"]*\"|'[^']*'|\S*)")
_TMOUT_READONLY = re.compile(r"(?:^|[\s;])(?:readonly(?:\s+-\w+)*|(?:declare|typeset)\s+-\w*r\w*)\s+(?:\S+\s+)*TMOUT\b")


def tmout_assignments(text: str) -> list[str]:
    """Values given to TMOUT by uncommented lines of a shell file, in order, quotes removed."""
    found = []
    for raw in text.splitlines():
        line = strip_shell_comment(raw)
        for match in _TMOUT_ASSIGN.finditer(line):
            found.append(match.group(1).strip("\"'"))
    return found


def tmout_readonly(text: str) -> bool:
    """Whether an uncommented line makes TMOUT read-only (`readonly TMOUT`, `readonly TMOUT=600`, `declare -r …`)."""
    return any(_TMOUT_READONLY.search(strip_shell_comment(raw)) for raw in text.splitlines())


def tmout_ok(values: Sequence[str], limit: int) -> bool:
    """At least one assignment and every one a whole number of seconds in 1..limit (0 would switch it off)."""
    return bool(values) and all(at_most(v, limit) for v in values)


# --- sshd ------------------------------------------------------------------------------------------------------------

_SSHD_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def sshd_seconds(value: str) -> int | None:
    """sshd's time format (`600`, `10m`, `1h30m`) in seconds; None when it is not one."""
    text = value.strip().lower()
    if not text or not re.fullmatch(r"(\d+[smhdw]?)+", text):
        return None
    return sum(int(n) * _SSHD_UNITS[u] for n, u in re.findall(r"(\d+)([smhdw]?)", text))


def channel_timeout(value: str, channel: str = "session") -> int | None:
    """Seconds of `ChannelTimeout` for `channel` (entries `session:*=600` or `session=600`); None when not set."""
    found = None
    for entry in (value or "").split():
        name, sep, interval = entry.partition("=")
        if sep and name in (channel, f"{channel}:*"):
            found = sshd_seconds(interval)
    return found


# --- faillock ----------------------------------------------------------------------------------------------------------

_FAILLOCK_ROW = re.compile(r"^\s*(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d)\s+(\S+)(?:\s+(.*?))?\s+([VI])\s*$")


def faillock_rows(output: str) -> list[dict[str, str]]:
    """Records of `faillock --user NAME`: one per row of the table, never the user line or the header
    (`When  Type  Source  Valid`)."""
    rows = []
    for line in output.splitlines():
        match = _FAILLOCK_ROW.match(line)
        if match:
            when, kind, source, valid = match.groups()
            rows.append({"when": when, "type": kind, "source": (source or "").strip(), "valid": valid})
    return rows


def valid_failures(output: str) -> int:
    return sum(1 for row in faillock_rows(output) if row["valid"] == "V")


# --- sudo ------------------------------------------------------------------------------------------------------------

_ALIAS = re.compile(r"^(User_Alias|Runas_Alias|Host_Alias|Cmnd_Alias|Cmd_Alias)\b")
_DEFAULTS = re.compile(r"^Defaults(?P<scope>[:@!>]\S+)?\s+(?P<params>.*)$")
_TAG = re.compile(r"^\s*(?:[A-Z_]+:\s*)+")


def sudoers_logical_lines(text: str) -> list[str]:
    """Lines of a sudoers file as sudo reads them: backslash continuations joined, comments dropped (`#` starts a
    comment unless it is `#include`/`#includedir` or a uid like `#1000`), blank lines dropped."""
    joined, current = [], ""
    for raw in text.splitlines():
        if raw.rstrip().endswith("\\"):
            current += raw.rstrip()[:-1] + " "
            continue
        joined.append(current + raw)
        current = ""
    if current:
        joined.append(current)
    lines = []
    for line in joined:
        stripped = line.strip()
        if re.match(r"^[#@]include(dir)?\b", stripped):
            lines.append(stripped)
            continue
        cut = re.split(r"#(?!\d)", stripped, maxsplit=1)[0].strip()
        if cut:
            lines.append(cut)
    return lines


def sudoers_rule_users(line: str) -> list[str]:
    """The user list of a user specification (`alice, %admins ALL = (root) …` -> ['alice', '%admins'])."""
    left = line.split("=", 1)[0]
    left = re.sub(r"\s*,\s*", ",", left.strip())
    return [u for u in left.split()[0].split(",") if u] if left.split() else []


def nopasswd_violations(text: str, exempt_user: str) -> list[str]:
    """Rules of a sudoers file that let someone run a command without their password: `NOPASSWD:` in a user
    specification, or `Defaults … !authenticate`. Only a rule whose users are exactly `exempt_user` (the automation
    account, the documented exception) is left out; everything else in the same file still counts."""
    found = []
    for line in sudoers_logical_lines(text):
        if line.startswith(("#include", "@include")) or _ALIAS.match(line):
            continue
        defaults = _DEFAULTS.match(line)
        if defaults:
            if re.search(r"(^|[\s,])!\s*authenticate\b", defaults.group("params")):
                scope = defaults.group("scope") or ""
                if scope != f":{exempt_user}":
                    found.append(line)
            continue
        if "=" in line and re.search(r"\bNOPASSWD\s*:", line.split("=", 1)[1]) and \
                sudoers_rule_users(line) != [exempt_user]:
            found.append(line)
    return found


def sudo_l_entries(output: str) -> list[str]:
    """Command entries of `sudo -l -U USER` (`(root) /usr/sbin/nft, /usr/bin/aide`, `(ALL : ALL) ALL`), with
    wrapped continuation lines joined to their entry."""
    entries: list[str] = []
    in_rules = False
    for line in output.splitlines():
        if "may run the following commands" in line:
            in_rules = True
            continue
        if not in_rules or not line.strip():
            continue
        if line.strip().startswith("("):
            entries.append(line.strip())
        elif entries and line[:1].isspace():
            entries[-1] += " " + line.strip()
    return entries


@dataclass(frozen=True)
class SudoEntry:
    runas_users: tuple[str, ...]
    runas_groups: tuple[str, ...]
    commands: tuple[str, ...]


def parse_sudo_entry(entry: str) -> SudoEntry:
    match = re.match(r"^\((?P<runas>[^)]*)\)\s*(?P<rest>.*)$", entry.strip())
    runas, rest = (match.group("runas"), match.group("rest")) if match else ("root", entry.strip())
    users, _, groups = runas.partition(":")
    commands = []
    for part in rest.split(","):
        command = _TAG.sub("", part).strip()
        command = re.sub(r"^(?:(?:ROLE|TYPE|CWD|CHROOT|TIMEOUT|NOTBEFORE|NOTAFTER|APPARMOR_PROFILE)=\S+\s+)+", "", command)
        if command:
            commands.append(command)
    runas_users = _names(users) or (("root",) if not groups.strip() else ())
    return SudoEntry(runas_users, _names(groups), tuple(commands))


def _names(text: str) -> tuple[str, ...]:
    return tuple(x.strip() for x in text.split(",") if x.strip())


ROOT_RUNAS = {"ALL", "root", "#0"}


def full_root_entries(entries: Iterable[str]) -> list[str]:
    """Entries that grant every command as root: ALL among the commands with a run-as user or group that reaches
    root — `(ALL) ALL`, `(ALL : ALL) ALL`, `(root) ALL`, `(root : ALL) ALL`, `(postgres : ALL) ALL`. ALL as another
    account only (the DBA's `(postgres, mysql) ALL`) is not root."""
    found = []
    for entry in entries:
        parsed = parse_sudo_entry(entry)
        if "ALL" in parsed.commands and (set(parsed.runas_users) | set(parsed.runas_groups)) & ROOT_RUNAS:
            found.append(entry)
    return found


def sudo_commands(entries: Iterable[str]) -> set[str]:
    """Programs (first word of each command) the entries allow."""
    return {c.split()[0] for e in entries for c in parse_sudo_entry(e).commands}


def sudo_defaults(texts: Iterable[str]) -> list[str]:
    """The parameters of every `Defaults` line without a scope (no `Defaults:user`, `@host`, `>runas`, `!cmnd`) of
    the sudoers files, in the order sudo reads them (`Defaults use_pty, logfile="/var/log/sudo.log"` gives two)."""
    found = []
    for text in texts:
        for line in sudoers_logical_lines(text):
            match = _DEFAULTS.match(line)
            if match and not match.group("scope"):
                found += [p.strip() for p in re.split(r',(?=(?:[^"]*"[^"]*")*[^"]*$)', match.group("params"))
                          if p.strip()]
    return found


def sudo_flag(defaults: Sequence[str], name: str) -> bool:
    """Whether the last mention of a flag among the Defaults parameters sets it (`use_pty`) rather than clears it
    (`!use_pty`); never mentioned is not set."""
    state = False
    for parameter in defaults:
        if parameter.replace(" ", "") in (name, f"!{name}"):
            state = not parameter.startswith("!")
    return state


def sudo_value(defaults: Sequence[str], name: str) -> str | None:
    """The last value given to a Defaults parameter (`logfile="/var/log/sudo.log"` -> /var/log/sudo.log)."""
    value = None
    for parameter in defaults:
        key, sep, given = parameter.partition("=")
        if sep and key.strip() == name:
            value = given.strip().strip('"')
    return value


def terminal_names(output: str) -> list[str]:
    """The terminal device names `tty` printed (`/dev/pts/0`), in order, carriage returns of a terminal removed."""
    return [line.strip() for line in output.replace("\r", "").splitlines() if line.strip().startswith("/dev/")]


# sudo's words (C locale) when the policy refuses a command, and when the password step fails.
SUDO_NOT_ALLOWED = "is not allowed to execute"
SUDO_AUTH_FAILED = ("incorrect password", "a password is required", "Sorry, try again", "no password was provided",
                    "account validation failure", "Authentication failure")


def sudo_attempt(rc: int, stderr: str) -> str:
    """What a person's `sudo -S COMMAND` (password on stdin) came to: "refused" (the policy does not allow the
    command, after the password was accepted), "ran", "authentication failed" (proves nothing about the policy),
    or "other: …"."""
    if rc != 0 and SUDO_NOT_ALLOWED in stderr:
        return "refused"
    if rc != 0 and any(marker in stderr for marker in SUDO_AUTH_FAILED):
        return "authentication failed"
    if rc == 0:
        return "ran"
    return f"other (rc {rc}): {stderr.strip()[:300]}"


def sudo_list_permits(rc: int, stdout: str, command: str) -> str:
    """`sudo -l -U USER COMMAND` read as root: "permitted" (sudo prints the command's path, exit 0), "not permitted"
    (exit 1 without the path), or "error (rc N)"."""
    if rc == 0 and command in stdout:
        return "permitted"
    if rc == 1 and command not in stdout:
        return "not permitted"
    return f"error (rc {rc})"


def permission_refused(rc: int, stderr: str) -> bool:
    """A command failed because the file system refused it (EACCES or EPERM), not for any other reason."""
    return rc != 0 and ("Permission denied" in stderr or "Operation not permitted" in stderr)


# --- authorized_keys ---------------------------------------------------------------------------------------------------

_KEY_TYPE = re.compile(r"^(ssh-|ecdsa-|sk-)\S+$")


def _split_options(text: str) -> tuple[str, str]:
    """(options, rest) of an authorized_keys line that starts with options; quoted values may hold commas/spaces."""
    quoted = False
    for i, char in enumerate(text):
        if char == '"':
            quoted = not quoted
        elif char.isspace() and not quoted:
            return text[:i], text[i:].strip()
    return text, ""


def key_options(options: str) -> dict[str, str]:
    parsed: dict[str, str] = {}
    quoted, current = False, ""
    parts = []
    for char in options:
        if char == '"':
            quoted = not quoted
        if char == "," and not quoted:
            parts.append(current)
            current = ""
        else:
            current += char
    parts.append(current)
    for part in filter(None, parts):
        name, sep, value = part.partition("=")
        parsed[name.lower()] = value.strip('"') if sep else ""
    return parsed


@dataclass(frozen=True)
class AuthorizedKey:
    options: dict[str, str]
    key_type: str
    comment: str
    line_number: int

    @property
    def label(self) -> str:
        return f"line {self.line_number}: {self.key_type} {self.comment}".strip()


def authorized_keys(text: str) -> list[AuthorizedKey]:
    """Every key line of an authorized_keys file (comments and blank lines left out), options parsed."""
    keys = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        first = line.split()[0]
        options, rest = ("", line) if _KEY_TYPE.match(first) else _split_options(line)
        words = rest.split()
        keys.append(AuthorizedKey(key_options(options), words[0] if words else "", " ".join(words[2:]), number))
    return keys


def keys_without_source_limit(text: str, allowed: Sequence[str] | None = None) -> list[str]:
    """Key lines with no `from=` option, or (when `allowed` is given) a `from=` pattern outside `allowed`."""
    bad = []
    for key in authorized_keys(text):
        source = key.options.get("from")
        if not source:
            bad.append(f"{key.label} (no from=)")
        elif allowed is not None and not set(p.strip() for p in source.split(",")) <= set(allowed):
            bad.append(f"{key.label} (from={source})")
    return bad


def authorized_keys_paths(setting: str, home: str, user: str, uid: str = "") -> list[str]:
    """Files sshd reads keys from (`sshd -T` authorizedkeysfile), tokens expanded, relative to the home."""
    paths = []
    for token in (setting or ".ssh/authorized_keys .ssh/authorized_keys2").split():
        if token.lower() == "none":
            continue
        path = token.replace("%%", "\0").replace("%h", home).replace("%u", user).replace("%U", uid).replace("\0", "%")
        paths.append(path if path.startswith("/") else f"{home.rstrip('/')}/{path}")
    return paths


# --- shadow, login.defs, limits, modes -------------------------------------------------------------------------------


def account_locked(shadow_line: str, today: int) -> bool:
    """A shadow entry whose password cannot be used (`!…` or `*…`) and whose account expired on or before `today`
    (days since 1970-01-01)."""
    fields = shadow_line.strip().split(":")
    if len(fields) < 8:
        return False
    expire = int_or_none(fields[7])
    return fields[1].startswith(("!", "*")) and expire is not None and 0 <= expire <= today


def login_defs(text: str) -> dict[str, str]:
    """`NAME value` settings of /etc/login.defs, comments ignored, the last one winning."""
    values: dict[str, str] = {}
    for raw in text.splitlines():
        words = strip_hash_comment(raw).split()
        if len(words) >= 2:
            values[words[0]] = words[1]
    return values


def core_limit(text: str) -> str | None:
    """The hard `core` limit limits.conf sets for every user (`* hard core 0` or `* - core 0`); the last wins."""
    found = None
    for raw in text.splitlines():
        words = strip_hash_comment(raw).split()
        if len(words) == 4 and words[0] == "*" and words[1] in ("hard", "-") and words[2] == "core":
            found = words[3]
    return found


def mode_within(mode: int, allowed: int) -> bool:
    """No permission bit beyond `allowed` (0o600 is within 0o640; 0o644 is not)."""
    return mode & ~allowed & 0o7777 == 0


def umask_covers(value: str, required: int) -> bool:
    """A umask (octal string) that masks at least the bits of `required` (077 covers 027; 022 does not)."""
    try:
        return int(value, 8) & required == required
    except (TypeError, ValueError):
        return False


# --- ini-like files, logrotate, systemd timers ---------------------------------------------------------------------------


def ini_values(text: str) -> dict[str, str]:
    """`Key=Value` lines of a systemd-style file (journald.conf.d), `#`/`;` comments and sections ignored."""
    values: dict[str, str] = {}
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";", "[")):
            continue
        key, sep, value = line.partition("=")
        if sep:
            values[key.strip()] = value.strip()
    return values


def uncommented(text: str) -> str:
    """The text without lines that are comments (`#` first), for directive checks on rsyslog and similar files."""
    return "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#"))


def logrotate_words(text: str) -> list[str]:
    """Directive words of a logrotate file, comments left out."""
    return [w for raw in text.splitlines() for w in strip_hash_comment(raw).split()]


def logrotate_days(words: Sequence[str]) -> int | None:
    """Days of records a logrotate stanza keeps: `rotate N` times the period (daily 1, weekly 7, monthly 31)."""
    count = next((int_or_none(words[i + 1]) for i, w in enumerate(words[:-1]) if w == "rotate"), None)
    period = next(({"daily": 1, "weekly": 7, "monthly": 31, "yearly": 365}[w] for w in words
                   if w in ("daily", "weekly", "monthly", "yearly")), None)
    return count * period if count is not None and period is not None else None


def timer_calendars(timers_calendar: str) -> list[str]:
    """OnCalendar expressions of `systemctl show -p TimersCalendar` (`{ OnCalendar=Sun *-*-* 01:30:00 ; … }`)."""
    return [c.strip() for c in re.findall(r"OnCalendar=([^;]+?)\s*;", timers_calendar)]


def show_properties(output: str) -> dict[str, str]:
    """`systemctl show -p A -p B` output as a dict."""
    return dict(line.split("=", 1) for line in output.splitlines() if "=" in line)


def exec_commands(output: str, prop: str = "ExecStart") -> list[list[str]]:
    """Command lines of a service in `systemctl show -p ExecStart` (one `ExecStart={ path=… ; argv[]=… ; … }` line per
    command, the arguments joined by spaces)."""
    commands = []
    for line in output.splitlines():
        if line.startswith(f"{prop}="):
            match = re.search(r"\bargv\[\]=(.*?) ; ignore_errors=", line)
            if match:
                commands.append(match.group(1).split())
    return commands


_WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
# Shorthands OnCalendar accepts (systemd.time(7)); `systemctl show` prints the normalised form instead.
_CALENDAR_SHORTHANDS = {"minutely": "*-*-* *:*:00", "hourly": "*-*-* *:00:00", "daily": "*-*-* 00:00:00",
                        "weekly": "Mon *-*-* 00:00:00", "monthly": "*-*-01 00:00:00", "yearly": "*-01-01 00:00:00",
                        "annually": "*-01-01 00:00:00", "quarterly": "*-01,04,07,10-01 00:00:00",
                        "semiannually": "*-01,07-01 00:00:00"}
# Days examined for the longest gap: eight years from a fixed date (two leap years, every month length and weekday).
_CALENDAR_SPAN_DAYS = 8 * 365 + 2


def _calendar_values(spec: str, low: int, high: int) -> set[int] | None:
    """Values of one component of a calendar expression: `*`, `5`, `1,15`, `1..5`, `01/7`, `1..20/5`; None when the
    text is none of these (`~` from the end of the month, fractions of a second)."""
    values: set[int] = set()
    for item in spec.split(","):
        match = re.fullmatch(r"(\*|\d+)(?:\.\.(\d+))?(?:/(\d+))?", item)
        if not match:
            return None
        start = low if match.group(1) == "*" else int(match.group(1))
        stop = int(match.group(2)) if match.group(2) else (high if match.group(3) or match.group(1) == "*" else start)
        step = int(match.group(3) or 1)
        if step < 1 or start < low or stop > high or start > stop:
            return None
        values.update(range(start, stop + 1, step))
    return values


def _calendar_weekdays(spec: str) -> set[int] | None:
    """Weekdays (Monday 0) of `Mon`, `Mon..Fri`, `Sat,Sun`; None for anything else."""
    days: set[int] = set()
    for item in spec.lower().split(","):
        ends = [w[:3] for w in item.split("..")]
        if len(ends) > 2 or any(e not in _WEEKDAYS for e in ends):
            return None
        first, last = _WEEKDAYS.index(ends[0]), _WEEKDAYS.index(ends[-1])
        days.update(range(first, last + 1) if first <= last else [*range(first, 7), *range(last + 1)])
    return days


def calendar_interval_days(expression: str) -> float | None:
    """Longest time between two runs of a timer with this OnCalendar expression (systemd.time(7): `[weekdays]
    [year-]month-day hour:minute[:second] [timezone]`, as written or as `systemctl show` normalises it), in days:
    `*-*-* 04:30:00` is 1, `*-*-01/7 02:00:00` is 7 (days 1, 8, …, 29, then the 1st again), `Mon *-*-* 00:00:00` is 7,
    `*-*-* *:00/10:00` is 10 minutes. None for what it cannot read (a named year, `~`, fractions of a second) and for
    a calendar that elapses less than twice in eight years: an unreadable schedule is never taken for a frequent one."""
    words = _CALENDAR_SHORTHANDS.get(expression.strip().lower(), expression).split()
    if not words:
        return None
    weekdays: set[int] | None = set(range(7))
    if words and re.match(r"[A-Za-z]{3}", words[0]) and "-" not in words[0] and ":" not in words[0]:
        weekdays = _calendar_weekdays(words.pop(0))
    date_part = words.pop(0) if words and "-" in words[0] and ":" not in words[0] else "*-*-*"
    time_part = words.pop(0) if words and ":" in words[0] else "00:00:00"
    # what is left is a timezone: it moves every run by the same amount
    date_fields = date_part.split("-")
    time_fields = time_part.split(":")
    if weekdays is None or len(date_fields) not in (2, 3) or len(time_fields) not in (2, 3):
        return None
    if len(date_fields) == 3 and date_fields.pop(0) != "*":
        return None
    if len(time_fields) == 2:
        time_fields.append("00")
    parsed = [_calendar_values(spec, low, high) for spec, low, high in
              ((date_fields[0], 1, 12), (date_fields[1], 1, 31), (time_fields[0], 0, 23), (time_fields[1], 0, 59),
               (time_fields[2], 0, 59))]
    values = [v for v in parsed if v is not None]
    if len(values) < len(parsed):
        return None
    months, days, hours, minutes, seconds = values
    times = sorted(h * 3600 + m * 60 + s for h in hours for m in minutes for s in seconds)
    first = date(2024, 1, 1)
    matching = [n for n in range(_CALENDAR_SPAN_DAYS)
                if (d := first + timedelta(days=n)).month in months and d.day in days and d.weekday() in weekdays]
    if not times or len(matching) * len(times) < 2:
        return None
    gaps = [b - a for a, b in zip(times, times[1:], strict=False)]
    gaps += [(b - a) * 86400 - times[-1] + times[0] for a, b in zip(matching, matching[1:], strict=False)]
    return max(gaps) / 86400



@dataclass(frozen=True)
class TimerSchedule:
    """What `systemctl show TIMER -p ActiveState -p UnitFileState -p TimersCalendar -p Triggers` and `systemctl show
    SERVICE -p ExecStart` say about a scheduled job."""

    active: str
    enabled: str
    calendars: tuple[str, ...]
    triggers: str
    commands: tuple[tuple[str, ...], ...]

    @property
    def interval_days(self) -> float | None:
        """Longest time between runs over all its calendars (None when one cannot be read, or there is none)."""
        intervals = [calendar_interval_days(c) for c in self.calendars]
        if not intervals or None in intervals:
            return None
        return max(i for i in intervals if i is not None)

    def problems(self, program: str, max_days: float) -> list[str]:
        """Why the job does not run `program` at least every `max_days` days (empty when it does)."""
        found = []
        if self.enabled != "enabled" or self.active != "active":
            found.append(f"timer is {self.active or 'unknown'} and {self.enabled or 'not installed'} "
                         "(expected active and enabled)")
        interval = self.interval_days
        if interval is None:
            found.append(f"no readable OnCalendar schedule ({list(self.calendars)})")
        elif interval > max_days:
            found.append(f"runs every {interval:g} days at the longest (expected at most {max_days:g})")
        if not any(c and c[0] == program for c in self.commands):
            found.append(f"its service {self.triggers or '(none)'} does not run {program} "
                         f"({[' '.join(c) for c in self.commands]})")
        return found


def timer_service(timer_output: str, timer: str) -> str:
    """The unit a timer starts: its `Triggers=` in `systemctl show`, else the service of the same name."""
    triggers = show_properties(timer_output).get("Triggers", "").split()
    return triggers[0] if triggers else f"{timer.removesuffix('.timer')}.service"


def timer_schedule(timer_output: str, service_output: str) -> TimerSchedule:
    """The schedule of a job from the two `systemctl show` outputs (see TimerSchedule)."""
    values = show_properties(timer_output)
    return TimerSchedule(active=values.get("ActiveState", ""), enabled=values.get("UnitFileState", ""),
                         calendars=tuple(timer_calendars(values.get("TimersCalendar", ""))),
                         triggers=values.get("Triggers", "").strip(),
                         commands=tuple(tuple(c) for c in exec_commands(service_output)))


# --- nftables ------------------------------------------------------------------------------------------------------------


def _nft_members(text: str) -> list[str]:
    text = text.strip()
    if text.startswith("{"):
        text = text[1:text.find("}")] if "}" in text else text[1:]
    return [m.strip() for m in text.split(",") if m.strip()]


def _nft_field(rule: str, keyword: str) -> list[str] | None:
    match = re.search(rf"\b{keyword}\s+(\{{[^}}]*\}}|\S+)", rule)
    return _nft_members(match.group(1)) if match else None


def _port_in(members: Sequence[str], port: int) -> bool:
    for member in members:
        low, sep, high = member.partition("-")
        if low.isdigit() and (int(low) == port if not sep else high.isdigit() and int(low) <= port <= int(high)):
            return True
    return False


def nft_accept_rules_for_port(ruleset: str, port: int) -> list[str]:
    """Rules of `nft list ruleset` that accept traffic to `port` (`tcp dport 22`, `dport { 22, 80 }`, ranges)."""
    rules = []
    for raw in ruleset.splitlines():
        rule = raw.strip()
        dport = _nft_field(rule, "dport")
        if dport and _port_in(dport, port) and re.search(r"\baccept\b", rule):
            rules.append(rule)
    return rules


def nft_sources(rule: str) -> list[str] | None:
    """The source addresses a rule is limited to (`ip saddr`, `ip6 saddr`), None when it has no such limit."""
    found = [m for keyword in ("saddr",) for m in (_nft_field(rule, keyword) or [])]
    return found or None


def nft_input_policy_drop(ruleset: str) -> bool:
    """Whether a base chain on the input hook drops by default."""
    return any(re.search(r"\bhook input\b.*\bpolicy drop\b", line) for line in ruleset.splitlines())


# --- probe passwords ---------------------------------------------------------------------------------------------------

def probe_password(length: int, special: bool = True) -> str:
    """A random password of exactly `length` characters (at least 4) that any host's password policy of this
    baseline accepts, so that a check trying "a compliant password" fails only when the host refuses compliant
    passwords: the runtime's generator (baseline.secrets.generate) for a policy of `length` characters, so lower and
    upper case letters, a digit and a special character, no character three times in a row (pwquality maxrepeat)
    and at most three sequence steps (cracklib's systematic check). `special=False` leaves out the special character
    and nothing else, for a check that such a password is refused for that alone."""
    if length < 4:
        raise ValueError(f"a probe password needs at least 4 characters, not {length}")
    return generate({"password_min_length": length, "password_require_special": special}, length=length,
                    special=special, name="a probe password")


# --- command results -------------------------------------------------------------------------------------------------------


class CommandError(AssertionError):
    """A command the check relies on failed: the check fails, it never reads the failure as "nothing found"."""


def grep_found(rc: int, stderr: str = "") -> bool:
    """grep's exit status: 0 = found, 1 = not found, anything else = an error (unreadable file, bad pattern)."""
    if rc == 0:
        return True
    if rc == 1:
        return False
    raise CommandError(f"grep failed with exit status {rc}: {stderr.strip()}")


AIDE_SECTIONS = {"Added entries:": "added", "Removed entries:": "removed", "Changed entries:": "changed"}


def aide_entries(output: str) -> dict[str, list[str]]:
    """The paths of `aide --check`'s report by kind: {"added": [...], "removed": [...], "changed": [...]}; the
    summary counts and the detailed attribute lines are not paths and are left out."""
    found: dict[str, list[str]] = {"added": [], "removed": [], "changed": []}
    section = None
    for line in output.splitlines():
        if line in AIDE_SECTIONS:
            section = AIDE_SECTIONS[line]
        elif line.startswith("Detailed information") or line.startswith("The attributes of the"):
            section = None
        elif section:
            match = re.match(r"^\S.*?\s*: (/.*)$", line)
            if match:
                found[section].append(match.group(1))
    return found


def aide_summary(rc: int, output: str) -> str:
    """One line an administrator can act on: AIDE's status and every path it reports, by kind."""
    entries = aide_entries(output)
    parts = [f"{kind} ({len(paths)}): {', '.join(paths)}" for kind, paths in entries.items() if paths]
    return f"aide --check exit {rc}; " + ("; ".join(parts) if parts else "no path listed: " + " | ".join(
        line.strip() for line in output.strip().splitlines()[-3:]))


def aide_found_changes(rc: int) -> bool:
    """AIDE's exit status reports added (1), removed (2) and changed (4) files as bits; 14 and above are errors."""
    return 0 < rc < 8 and bool(rc & 4)


def pending_updates(report: str) -> dict[str, Any]:
    """The report of baseline-pending-updates (`checked: …`, `pending: N`, `security: N`, `package: …`)."""
    values: dict[str, Any] = {"packages": []}
    for line in report.splitlines():
        key, sep, value = line.partition(":")
        if not sep:
            continue
        key, value = key.strip(), value.strip()
        if key == "package":
            values["packages"].append(value)
        elif key in ("pending", "security"):
            number = int_or_none(value)
            if number is None:
                raise ValueError(f"{key}: {value!r} is not a count")
            values[key] = number
        elif key == "checked":
            values[key] = value
    missing = [k for k in ("checked", "pending", "security") if k not in values]
    if missing:
        raise ValueError(f"the report has no {', '.join(missing)} line")
    return values


def signature_age_days(output: str) -> int | None:
    """Age in days printed by baseline-clamav-age (`signature age: 2 days (limit 7)`)."""
    match = re.search(r"signature age:\s*(\d+)\s*days", output)
    return int(match.group(1)) if match else None


# --- plain TCP probe (AU-03) ---------------------------------------------------------------------------------------------------

# Runs on the client with python3: connect, send one plain-text syslog line, then wait for the server's answer.
# Prints one JSON object: outcome refused | closed | open | timeout | error, and what came back.
PLAIN_TCP_PROBE = r"""
import json, socket, sys
address, port, line, wait = sys.argv[1], int(sys.argv[2]), sys.argv[3], float(sys.argv[4])
result = {"outcome": "error", "detail": "", "received": ""}
try:
    sock = socket.create_connection((address, port), timeout=wait)
except ConnectionRefusedError as exc:
    result.update(outcome="refused", detail=str(exc))
except (socket.timeout, TimeoutError) as exc:
    result.update(outcome="timeout", detail="connect: " + str(exc))
except OSError as exc:
    result.update(outcome="error", detail="connect: " + str(exc))
else:
    data = b""
    try:
        sock.sendall(line.encode() + b"\n")
        sock.settimeout(wait)
        while True:
            chunk = sock.recv(4096)
            if not chunk:
                result.update(outcome="closed", detail="the server closed the connection")
                break
            data += chunk
    except (ConnectionResetError, BrokenPipeError) as exc:
        result.update(outcome="closed", detail="reset: " + str(exc))
    except (socket.timeout, TimeoutError):
        result.update(outcome="open", detail="still open after %.0f s" % wait)
    except OSError as exc:
        result.update(outcome="error", detail=str(exc))
    finally:
        result["received"] = data[:256].hex()
        sock.close()
print(json.dumps(result))
"""

PLAIN_TCP_ACCEPTED = ("refused", "closed")


def plain_probe_outcome(stdout: str) -> dict[str, str]:
    """The probe's JSON line; a probe that printed nothing readable is an error outcome."""
    try:
        parsed = json.loads(stdout.strip().splitlines()[-1])
    except (IndexError, ValueError):
        return {"outcome": "error", "detail": f"unreadable probe output: {stdout!r}", "received": ""}
    return parsed if isinstance(parsed, dict) and "outcome" in parsed else {"outcome": "error", "detail": stdout}


# --- vault values left on disk (RI-01) ----------------------------------------------------------------------------------------

# Sent to the host on stdin and run as `sudo -n python3 -`: it receives only a random salt and salted SHA-256
# digests of the values, never the values. It hashes every window of each secret's length in every regular file
# under the roots (grep -rF semantics; symlinks are not followed) and prints JSON. Exit status follows grep:
# 0 = a digest matched somewhere, 1 = nothing matched, 2 = a file could not be read (the check fails).
_SCAN_TEMPLATE = r"""
import hashlib, json, os, re, stat, sys
SALT = bytes.fromhex(%(salt)r)
DIGESTS = {int(k): set(v) for k, v in json.loads(%(digests)r).items()}
ROOTS = json.loads(%(roots)r)
SPLIT = %(split)r
CHUNK = 1 << 20
found, errors, files, size = {}, [], 0, 0
longest = max(DIGESTS) if DIGESTS else 1
gaps = re.compile(rb"[ \t\r\n\x00]+")
base = hashlib.sha256(SALT)

def hit(data):
    parts = gaps.split(data) if SPLIT else [data]
    for length, wanted in DIGESTS.items():
        for part in parts:
            for i in range(len(part) - length + 1):
                h = base.copy()
                h.update(part[i:i + length])
                if h.hexdigest() in wanted:
                    return True
    return False

def scan(path):
    global files, size
    try:
        info = os.lstat(path)
        if not stat.S_ISREG(info.st_mode):
            return
        files += 1
        with open(path, "rb") as fh:
            tail = b""
            while True:
                block = fh.read(CHUNK)
                if not block:
                    return
                size += len(block)
                if hit(tail + block):
                    found[path] = stat.S_IMODE(info.st_mode)
                    return
                tail = block[-(longest - 1):] if longest > 1 else b""
    except FileNotFoundError:
        return
    except OSError as exc:
        errors.append("%%s: %%s" %% (path, exc.strerror or exc))

for root in ROOTS:
    if not os.path.lexists(root):
        continue
    if not os.path.isdir(root) or os.path.islink(root):
        scan(root)
        continue
    for top, dirs, names in os.walk(root, onerror=lambda exc: errors.append("%%s: %%s" %% (exc.filename, exc.strerror))):
        dirs[:] = [d for d in dirs if not os.path.islink(os.path.join(top, d))]
        for name in names:
            scan(os.path.join(top, name))

print(json.dumps({"found": found, "errors": errors, "files": files, "bytes": size}))
sys.exit(2 if errors else 0 if found else 1)
"""


def salted_digests(values: Iterable[str], salt: bytes) -> dict[int, list[str]]:
    """Byte length -> salted SHA-256 hex digests of the values (what the host compares with)."""
    digests: dict[int, set[str]] = {}
    for value in values:
        data = value.encode()
        digests.setdefault(len(data), set()).add(hashlib.sha256(salt + data).hexdigest())
    return {length: sorted(d) for length, d in digests.items()}


def secret_scan_program(values: Iterable[str], roots: Sequence[str], salt: bytes | None = None) -> str:
    """The Python program that looks for the values under `roots` on the host, holding only salted digests."""
    values = [v for v in values if v]
    salt = salt if salt is not None else _secrets.token_bytes(16)
    split = not any(re.search(r"[ \t\r\n\x00]", v) for v in values)
    return _SCAN_TEMPLATE % {"salt": salt.hex(), "digests": json.dumps(salted_digests(values, salt)),
                             "roots": json.dumps(list(roots)), "split": split}


@dataclass
class SecretScan:
    found: dict[str, int] = field(default_factory=dict)  # path -> permission bits
    files: int = 0
    bytes: int = 0


def parse_secret_scan(rc: int, stdout: str, stderr: str = "") -> SecretScan:
    """The scan's result; an exit status of 2 or more, or output that is not the scan's JSON, fails the check."""
    try:
        report = json.loads(stdout.strip().splitlines()[-1])
    except (IndexError, ValueError):
        raise CommandError(f"secret scan exited {rc} without a report: {stderr.strip()[-2000:]}") from None
    found_any = grep_found(rc, "; ".join(report.get("errors", [])) or stderr)
    scan = SecretScan({str(k): int(v) for k, v in report.get("found", {}).items()}, int(report.get("files", 0)),
                      int(report.get("bytes", 0)))
    if found_any != bool(scan.found):
        raise CommandError(f"secret scan exit status {rc} disagrees with its report {report}")
    return scan


def classify_residue(found: Mapping[str, int], owner_only_roots: Sequence[str] = ("/home/",)) -> tuple[list[str], list[str]]:
    """(protected key files, leaked) among files holding a vault value: a tool's own key file may hold its secret
    when no other user can read it (no "other" permission bits) and it is not under a home; anything else leaks."""
    key_files, leaked = [], []
    for path, mode in sorted(found.items()):
        label = f"{path} ({mode:o})"
        protected = mode & 0o007 == 0 and not path.startswith(tuple(owner_only_roots))
        (key_files if protected else leaked).append(label)
    return key_files, leaked


# --- roster ----------------------------------------------------------------------------------------------------


def departed_usernames(staff: Iterable[Mapping[str, Any]]) -> list[str]:
    return [p["username"] for p in staff if p.get("status") == "departed"]


def active_people(staff: Iterable[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    return [p for p in staff if p.get("status") == "active"]


# --- kernel modules, sysctl.d, sshd_config as a file (server hardening depth) ----------------------------------------


def module_name(name: str) -> str:
    """A kernel module's name as modprobe compares it: `-` and `_` are the same (usb-storage is usb_storage)."""
    return name.strip().replace("-", "_")


def modprobe_rules(text: str) -> dict[str, dict[str, Any]]:
    """`install` and `blacklist` rules of a modprobe.d file, by module name (normalised, see module_name):
    {"usb_storage": {"install": "/bin/false", "blacklist": True}}; comments ignored, the first install rule of a
    module kept (modprobe uses the first one it reads)."""
    rules: dict[str, dict[str, Any]] = {}
    for raw in text.splitlines():
        words = strip_hash_comment(raw).split()
        if len(words) < 2 or words[0] not in ("install", "blacklist"):
            continue
        entry = rules.setdefault(module_name(words[1]), {"install": None, "blacklist": False})
        if words[0] == "blacklist":
            entry["blacklist"] = True
        elif entry["install"] is None:
            entry["install"] = " ".join(words[2:])
    return rules


BLOCKING_COMMANDS = ("/bin/false", "/usr/bin/false", "/bin/true", "/usr/bin/true")


def modules_not_blocked(rules: Mapping[str, Mapping[str, Any]], modules: Iterable[str]) -> dict[str, str]:
    """Modules of `modules` that the rules do not block, with what is missing: an `install <m> /bin/false` (or
    /bin/true: both stop the load) and a `blacklist <m>`."""
    missing = {}
    for module in modules:
        rule = rules.get(module_name(module), {})
        problems = []
        if rule.get("install") not in BLOCKING_COMMANDS:
            problems.append(f"install runs {rule.get('install')!r}, not /bin/false")
        if not rule.get("blacklist"):
            problems.append("no blacklist")
        if problems:
            missing[module] = "; ".join(problems)
    return missing


def modprobe_dry_run_blocked(output: str) -> bool:
    """`modprobe -n -v MODULE` printed that it would run /bin/false (or true) instead of loading the module."""
    return any(line.split()[:1] == ["install"] and any(c in line.split()[1:2] for c in BLOCKING_COMMANDS)
               for line in output.splitlines())


def loaded_modules(proc_modules: str) -> set[str]:
    """Names of the loaded modules in /proc/modules (normalised)."""
    return {module_name(line.split()[0]) for line in proc_modules.splitlines() if line.strip()}


def sysctl_key(key: str) -> str:
    """A sysctl name in dotted form (`net/ipv4/ip_forward` is `net.ipv4.ip_forward`), without sysctl.d's `-`
    (ignore errors) prefix."""
    key = key.strip().lstrip("-")
    return key.replace("/", ".") if "/" in key and "." not in key.split("/", 1)[0] else key


def sysctl_assignments(text: str) -> dict[str, str]:
    """`key = value` lines of a sysctl.d file (`#` and `;` comments ignored, the last one of a key winning), values
    with their whitespace collapsed."""
    values: dict[str, str] = {}
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        key, sep, value = line.partition("=")
        if sep:
            values[sysctl_key(key)] = " ".join(value.split())
    return values


def sysctl_effective(files: Mapping[str, str]) -> dict[str, tuple[str, str]]:
    """What systemd-sysctl applies at boot from the given files (path -> text): files ordered by their base name
    across the directories (a name in /etc hides the same name in /run and /usr/lib), the last assignment of a key
    winning; key -> (value, path)."""
    precedence = ("/etc/", "/run/", "/usr/local/lib/", "/usr/lib/", "/lib/")

    def rank(path: str) -> int:
        return next((i for i, p in enumerate(precedence) if path.startswith(p)), len(precedence))

    chosen: dict[str, str] = {}
    for path in sorted(files, key=rank):
        chosen.setdefault(path.rsplit("/", 1)[-1], path)
    effective: dict[str, tuple[str, str]] = {}
    for name in sorted(chosen):
        for key, value in sysctl_assignments(files[chosen[name]]).items():
            effective[key] = (value, chosen[name])
    return effective


def sysctl_output(text: str) -> dict[str, str]:
    """`sysctl KEY...` output (`key = value` lines) as a dict; values with whitespace collapsed."""
    values = {}
    for line in text.splitlines():
        key, sep, value = line.partition(" = ")
        if sep:
            values[key.strip()] = " ".join(value.split())
    return values


def sysctl_differences(wanted: Mapping[str, Any], found: Mapping[str, str]) -> dict[str, str]:
    """Keys whose found value is not the wanted one (a missing key counts), key -> "found X, wanted Y"."""
    return {key: f"found {found.get(key, 'nothing')!s}, wanted {value}" for key, value in wanted.items()
            if " ".join(str(found.get(key, "")).split()) != " ".join(str(value).split())}


def sshd_config_directives(text: str) -> tuple[list[str], dict[str, str]]:
    """(the keywords in the order they come, lower case; the first value of each keyword outside any Match block)
    of an sshd_config file read alone - what a tool that does not follow Include sees. Values are kept as written,
    keywords lower case; `Keyword=value` is read like `Keyword value`."""
    order: list[str] = []
    first: dict[str, str] = {}
    in_match = False
    for raw in text.splitlines():
        line = strip_hash_comment(raw)
        if not line:
            continue
        match = re.match(r"^([^\s=]+)(?:\s*=\s*|\s+)?(.*)$", line)
        keyword, value = (match.group(1).lower(), match.group(2)) if match else (line.lower(), "")
        order.append(keyword)
        if keyword == "match":
            in_match = True
        if not in_match:
            first.setdefault(keyword, value.strip())
    return order, first


def sshd_disagreements(file_values: Mapping[str, str], effective: Mapping[str, str],
                       keywords: Iterable[str]) -> dict[str, str]:
    """Keywords whose first value in sshd_config differs from sshd -T's (case-insensitive; a keyword the file does
    not set counts), keyword -> "file X, sshd -T Y"."""
    found = {}
    for keyword in keywords:
        in_file = " ".join(file_values.get(keyword, "").split()).lower()
        live = " ".join(effective.get(keyword, "").split()).lower()
        if in_file != live:
            found[keyword] = f"file {file_values.get(keyword)!r}, sshd -T {effective.get(keyword)!r}"
    return found


def shadow_hash_scheme(shadow_line: str) -> str:
    """The hashing scheme of a getent shadow entry: "yescrypt" ($y$), "sha512" ($6$), "sha256" ($5$), "locked" (! or
    * first), "empty", or "other"."""
    fields = shadow_line.strip().split(":")
    password = fields[1] if len(fields) > 1 else ""
    if not password:
        return "empty"
    if password[0] in "!*":
        return "locked"
    return {"$y$": "yescrypt", "$6$": "sha512", "$5$": "sha256"}.get(password[:3], "other")
