"""Secret variables and the one generator of secret values.

`secret-variables.txt` (next to this file) lists every secret variable the baseline needs. `generate` makes a
random value that the policy's own password check (`baseline.policy.check_password`) accepts under the given policy
values, and that the hosts' password checks accept too (pwquality's maxrepeat, cracklib's systematic check).
The lab, the device simulator, the benchmarks and the compliance checks' probe passwords all use it.
"""

from __future__ import annotations

import re
import secrets
import string
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from baseline import policy

SECRET_VARIABLES_FILE = Path(__file__).resolve().with_name("secret-variables.txt")
TARGETS = ("servers", "devices")
PER_DEVICE_ACCOUNT = "per-device-account"
# Special characters a value may hold: safe in YAML, SQL string literals, shells (quoted), chpasswd's `user:password`
# and the device CLIs (no `?`, `!`, `:`, quotes, spaces or backslashes).
SPECIALS = "#%+-=@_"
DEFAULT_LENGTH = 20
MIN_LENGTH = 4  # a lower-case and an upper-case letter, a digit and a special character
MAX_SEQUENCE_STEPS = 3  # cracklib refuses a password with more than four as "too simplistic/systematic"


@dataclass(frozen=True)
class SecretVariable:
    name: str
    target: str  # servers | devices
    per_device_account: bool = False


def secret_variables(target: str | None = None, path: Path = SECRET_VARIABLES_FILE) -> list[SecretVariable]:
    """The variables of `secret-variables.txt`, all of them or those of one target (servers, devices)."""
    found = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        fields = line.split("#", 1)[0].split()
        if not fields:
            continue
        if len(fields) not in (2, 3) or fields[1] not in TARGETS or fields[2:] not in ([], [PER_DEVICE_ACCOUNT]):
            raise ValueError(f"{path}:{number}: expected `name servers|devices [{PER_DEVICE_ACCOUNT}]`, not {line.strip()!r}")
        found.append(SecretVariable(fields[0], fields[1], len(fields) == 3))
    return [v for v in found if target is None or v.target == target]


def secret_variable_names(target: str | None = None) -> list[str]:
    return [v.name for v in secret_variables(target)]


def sequence_steps(password: str) -> int:
    """Neighbouring characters one apart ("ab", "BA", "56"), case ignored: cracklib refuses a password with more than
    four of them as "too simplistic/systematic" whatever its length."""
    low = password.lower()
    return sum(1 for a, b in zip(low, low[1:], strict=False) if abs(ord(a) - ord(b)) == 1)


def _policy_values(values: Mapping[str, Any] | None) -> dict[str, Any]:
    """The password rules to meet: the policy floors, overridden by the given values."""
    rules: dict[str, Any] = {f.variable: f.limit for f in policy.FLOORS if f.variable.startswith("password_")}
    rules.update(values or {})
    return rules


def _candidate(length: int, special: bool) -> str:
    """At least one lower-case and one upper-case letter, a digit and (with `special`) a special character, the rest
    from all of these, in random order."""
    rng = secrets.SystemRandom()
    classes = [string.ascii_lowercase, string.ascii_uppercase, string.digits] + ([SPECIALS] if special else [])
    alphabet = "".join(classes)
    chars = [rng.choice(c) for c in classes] + [rng.choice(alphabet) for _ in range(length - len(classes))]
    rng.shuffle(chars)
    return "".join(chars)


def generate(values: Mapping[str, Any] | None = None, *, length: int | None = None, special: bool = True,
             name: str = "a generated secret") -> str:
    """A random secret that `baseline.policy.check_password` accepts under `values` (the inventory's policy values;
    the policy floors where a value is not given).

    `length` is the exact length (by default the policy's minimum length, at least 20). `special=False` leaves out
    special characters, for values meeting rules that do not require one (`password_require_special: false`).
    Every value also begins with a letter (device CLIs), has lower- and upper-case letters and a digit, no character
    three times in a row and at most three sequence steps, so that a host's pwquality, cracklib or MariaDB's
    simple_password_check accepts it too.
    """
    rules = _policy_values(values)
    minimum = policy.whole_number(rules.get("password_min_length"))
    if minimum is None:
        raise ValueError(policy.check_value(policy.FLOORS_BY_NAME["password_min_length"], rules.get("password_min_length")))
    size = length if length is not None else max(minimum, DEFAULT_LENGTH)
    if size < max(minimum, MIN_LENGTH):
        raise ValueError(f"a secret of {size} characters cannot meet password_min_length = {minimum} "
                         f"(and needs at least {MIN_LENGTH})")
    if not special and policy.boolean(rules.get("password_require_special", True)) is not False:
        raise ValueError("a secret without special characters cannot meet password_require_special")
    while True:
        value = _candidate(size, special)
        if (value[0].isalpha() and not re.search(r"(.)\1\1", value) and sequence_steps(value) <= MAX_SEQUENCE_STEPS
                and policy.check_password(value, rules, name) is None):
            return value


def generate_values(values: Mapping[str, Any], target: str | None = None) -> dict[str, Any]:
    """A fresh value for every secret variable (of one target), meeting the policy values in `values` (the inventory's
    variables: policy, staff roster, netdev_login_user). A per-device-account variable maps each device account
    (baseline.netdev.definitions.device_accounts) to its own value."""
    result: dict[str, Any] = {}
    for variable in secret_variables(target):
        if variable.per_device_account:
            from baseline.netdev.definitions import device_accounts

            result[variable.name] = {a.username: generate(values, name=f"{variable.name}[{a.username}]")
                                     for a in device_accounts(dict(values), with_secrets=False)}
        else:
            result[variable.name] = generate(values, name=variable.name)
    return result
