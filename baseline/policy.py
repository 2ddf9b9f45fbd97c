"""Policy floors: the one implementation that refuses inventory values weaker than the policy.

Used by the pre-flight play (through the `policy_preflight` action plugin), by `baseline policy check`,
by pyinfra deploys, by the compliance tests and by the report. Floors are the policy's own figures where the
policy fixes one (第十六条(一): 10 characters, 第二十条(八): one year, 第十八条(三): weekly full backups); where the
policy only says "regularly" the project sets the floor and says so in `source`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Floor:
    """One policy variable and the weakest value the policy allows."""

    variable: str
    rule: str  # "min": value >= limit; "max": value <= limit; "true": must be true; "choice": value in limit
    limit: Any
    source: str  # article of the policy, or "project floor" with the clause it serves

    def describe(self) -> str:
        if self.rule == "min":
            return f"at least {self.limit}"
        if self.rule == "max":
            return f"at most {self.limit}"
        if self.rule == "true":
            return "true"
        return "one of " + ", ".join(str(v) for v in self.limit)


FLOORS: tuple[Floor, ...] = (
    Floor("protection_level", "choice", (2, 3), "第四条, 第十九条(一)"),
    Floor("password_min_length", "min", 10, "第十五条(九), 第十六条(一)"),
    Floor("password_require_letter", "true", True, "第十五条(九), 第十六条(一)"),
    Floor("password_require_special", "true", True, "第十五条(九), 第十六条(一)"),
    Floor("password_max_age_days", "max", 180, "第十六条(一); project floor for GB/T 22239 8.1.4.1 a"),
    Floor("password_min_age_days", "min", 1, "project floor for GB/T 22239 8.1.4.1 a"),
    Floor("password_warn_age_days", "min", 7, "project floor for GB/T 22239 8.1.4.1 a"),
    Floor("password_history", "min", 5, "project floor for GB/T 22239 8.1.4.1 a"),
    Floor("login_max_failures", "max", 5, "第十六条(一); project floor for GB/T 22239 8.1.4.1 b"),
    Floor("login_lockout_seconds", "min", 600, "project floor for GB/T 22239 8.1.4.1 b"),
    Floor("session_idle_timeout_seconds", "max", 900, "project floor for GB/T 22239 8.1.4.1 b"),
    Floor("log_retention_days", "min", 365, "第二十条(八)"),
    Floor("log_review_interval_hours", "max", 24, "第十二条(三), 第二十条(十)"),
    Floor("backup_full_interval_days", "max", 7, "第十八条(三)"),
    Floor("backup_incremental_interval_days", "max", 1, "第十三条(一), 第十八条(三); project floor"),
    Floor("backup_retention_full_count", "min", 4, "第十八条(三); project floor"),
    Floor("backup_offsite", "true", True, "第十八条(三)"),
    Floor("backup_encrypted", "true", True, "第十八条(二)"),
    Floor("restore_drill_interval_days", "max", 180, "第十三条(三); project floor"),
    Floor("netdev_config_backup_interval_days", "max", 7, "第十二条(五), 第二十条(七); project floor"),
    Floor("inspection_interval_hours", "max", 24, "第二十条(九), 第二十条(十)"),
    Floor("assessment_interval_days", "max", 365, "第十九条(六)"),
    Floor("malware_signature_max_age_days", "max", 7, "第十六条(六), 第二十三条; project floor"),
    Floor("malware_scan_interval_days", "max", 7, "第二十三条; project floor"),
)

FLOORS_BY_NAME: dict[str, Floor] = {f.variable: f for f in FLOORS}


class PolicyError(ValueError):
    """Raised with every violation found, one per line."""

    def __init__(self, violations: list[str]):
        self.violations = violations
        super().__init__("\n".join(violations))


def type_name(value: Any) -> str:
    """What a value is, in words (never a Python or Ansible class name such as _AnsibleTaggedStr)."""
    if value is None:
        return "nothing (null)"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "a whole number"
    if isinstance(value, float):
        return "a decimal number"
    if isinstance(value, str):
        return "text"
    if isinstance(value, Mapping):
        return "a mapping"
    if isinstance(value, (list, tuple, set)):
        return "a list"
    return "a value of another kind"


def shown(value: Any) -> str:
    """A value as a message shows it: text quoted, everything else as written in YAML."""
    if isinstance(value, str):
        return repr(str(value))
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    return str(value)


_WHOLE = re.compile(r"-?[0-9]+")
_TRUE = ("true", "yes")
_FALSE = ("false", "no")


def whole_number(value: Any) -> int | None:
    """`value` as a whole number: an integer, or text holding one (what `-e name=12` passes); else None.

    Booleans and decimal numbers are not whole numbers, even 1.0 or true."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return int(value)
    if isinstance(value, str) and _WHOLE.fullmatch(value):
        return int(value)
    return None


def boolean(value: Any) -> bool | None:
    """`value` as a boolean: a boolean, or the text true/false/yes/no in any case (what `-e name=true` passes)."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        text = value.lower()
        if text in _TRUE:
            return True
        if text in _FALSE:
            return False
    return None


def convert(floor: Floor, value: Any) -> tuple[Any, str | None]:
    """`value` in the type the floor compares (whole number or boolean), or None and a message naming the
    variable, the value, what it is and what was expected."""
    if floor.rule == "true":
        converted = boolean(value)
        if converted is None:
            return None, (f"{floor.variable} = {shown(value)} has the wrong type: {type_name(value)} where a "
                          f"boolean is expected, {floor.describe()} ({floor.source})")
        return converted, None
    number = whole_number(value)
    if number is None:
        return None, (f"{floor.variable} = {shown(value)} has the wrong type: {type_name(value)} where a whole "
                      f"number is expected, {floor.describe()} ({floor.source})")
    return number, None


def check_value(floor: Floor, value: Any) -> str | None:
    """Return a message naming variable, value, floor and source when `value` is weaker than the floor.

    Whole numbers given as text (`-e password_min_length=12`) and booleans given as true/false/yes/no text count
    as their value; anything else of the wrong type is refused."""
    value, wrong_type = convert(floor, value)
    if wrong_type:
        return wrong_type
    if floor.rule == "min" and value < floor.limit:
        return f"{floor.variable} = {value} is below the policy floor {floor.limit} ({floor.source})"
    if floor.rule == "max" and value > floor.limit:
        return f"{floor.variable} = {value} is above the policy limit {floor.limit} ({floor.source})"
    if floor.rule == "max" and value < 1:
        return (f"{floor.variable} = {value} is not a positive whole number: an interval, count or timeout of "
                f"{value} switches the control off; the policy requires 1 to {floor.limit} ({floor.source})")
    if floor.rule == "true" and value is not True:
        return f"{floor.variable} = {shown(value)} must be true ({floor.source})"
    if floor.rule == "choice" and value not in floor.limit:
        return f"{floor.variable} = {value} is not {floor.describe()} ({floor.source})"
    return None


def converted(values: Mapping[str, Any]) -> dict[str, Any]:
    """The policy values found in `values`, converted to whole numbers and booleans where they convert; values
    that do not convert are left as they are (check_value/violations name them)."""
    found = {}
    for floor in FLOORS:
        if floor.variable in values:
            value, problem = convert(floor, values[floor.variable])
            found[floor.variable] = values[floor.variable] if problem else value
    return found


def violations(values: Mapping[str, Any], where: str = "") -> list[str]:
    """All violations in `values` (a host's or a group's merged variables). Missing variables are violations."""
    found = []
    prefix = f"{where}: " if where else ""
    for floor in FLOORS:
        if floor.variable not in values:
            found.append(f"{prefix}{floor.variable} is not set; the policy requires {floor.describe()} ({floor.source})")
            continue
        message = check_value(floor, values[floor.variable])
        if message:
            found.append(prefix + message)
    return found


def validate(values: Mapping[str, Any], where: str = "") -> dict[str, Any]:
    """Return the policy values from `values` (converted: `"12"` becomes 12), or raise PolicyError listing every
    violation."""
    found = violations(values, where)
    if found:
        raise PolicyError(found)
    return converted(values)


def check_password(secret: str, values: Mapping[str, Any], name: str) -> str | None:
    """Check a password the project is about to set (database, device, account) against the policy values.

    Returns a message naming the account (never the password) when it falls short, else None.
    """
    length = whole_number(values["password_min_length"])
    if length is None:
        return check_value(FLOORS_BY_NAME["password_min_length"], values["password_min_length"])
    require_letter = boolean(values.get("password_require_letter", True))
    require_special = boolean(values.get("password_require_special", True))
    problems = []
    if len(secret) < length:
        problems.append(f"has {len(secret)} characters, fewer than password_min_length = {length}")
    if require_letter is not False and not any(c.isalpha() for c in secret):
        problems.append("has no letter")
    if require_special is not False and not any(_is_special(c) for c in secret):
        problems.append("has no special character")
    if problems:
        return f"password for {name} " + " and ".join(problems) + " (第十五条(九), 第十六条(一))"
    return None


def _is_special(char: str) -> bool:
    return not char.isalnum() and not char.isspace() and char.isprintable()


def floors_table() -> Iterable[dict[str, Any]]:
    """Rows for documentation: variable, rule, limit, source."""
    for f in FLOORS:
        yield {"variable": f.variable, "requirement": f.describe(), "source": f.source}
