"""Compare a device's configuration with its rendered baseline, with hier_config doing the parsing.

Pure functions, no device access:
    missing(vendor, running, intended)  -> commands that bring the device to the baseline (nothing if compliant)
    rollback(vendor, current, backup)   -> commands that bring the device back to a backed-up configuration
    findings(vendor, running, intended) -> per line: missing baseline lines and owned lines that must go

Rules the comparison follows:
- Lines with secrets compare without the secret (the device stores a one-way digest); `rotate` sends them anyway.
- A negation in the baseline (`undo telnet server enable`) holds when the feature is absent; features that are on
  by default (`ip http server` on IOS) need the explicit negation line.
- Numeric settings hold when the device's value meets the policy, so a stricter device is not "fixed" to weaker.
- Owned areas (accounts, SNMP communities and users, management services) must match the baseline exactly: a
  line there that the baseline lacks is removed.
- A VTY section of the baseline (`user-interface vty 0 4`, `line vty 0 4`) stands for every VTY range the device
  has: it is compared with, and pushed to, each range the device shows (`vty 16 20` kept for network management,
  `line vty 5 15`), and to its own range too when the device's ranges do not cover it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from hier_config import HConfig, get_hconfig
from hier_config.child import HConfigChild

from baseline.netdev.vendors import Vendor, config_body

DEFAULT_ON = {  # features that are on unless the configuration says otherwise
    "cisco": ("service pad", "ip bootp server", "ip http server", "ip http secure-server", "cdp run", "ip source-route"),
    "h3c": ("ip http enable", "info-center enable"),
    "huawei": ("info-center enable", "ntp-service enable"),
}


def _minutes_seconds(m: re.Match) -> int:
    return int(m.group(1)) * 60 + int(m.group(2) or 0)


# (line pattern, [(value from match, comparison, policy variable or fixed value)]): a device line of the same
# pattern meets the baseline when every comparison holds; 0 as an idle timeout means "never" and fails.
Tolerance = tuple[str, list[tuple[Callable[[re.Match], int], str, str]]]
TOLERANCES: dict[str, list[Tolerance]] = {
    "huawei": [
        (r"^idle-timeout (\d+)(?: (\d+))?$", [(_minutes_seconds, "<=", "session_idle_timeout_seconds"),
                                               (_minutes_seconds, ">", "0")]),
        (r"^local-aaa-user wrong-password retry-interval (\d+) retry-time (\d+) block-time (\d+)$",
         [(lambda m: int(m.group(1)) * 60, ">=", "login_failure_window_seconds"),
          (lambda m: int(m.group(2)), "<=", "login_max_failures"),
          (lambda m: int(m.group(3)) * 60, ">=", "login_lockout_seconds")]),
        (r"^user-password min-len (\d+)$", [(lambda m: int(m.group(1)), ">=", "password_min_length")]),
        (r"^password history record number (\d+)$", [(lambda m: int(m.group(1)), ">=", "password_history_device")]),
        (r"^password expire (\d+)$", [(lambda m: int(m.group(1)), "<=", "password_max_age_days"),
                                      (lambda m: int(m.group(1)), ">", "0")]),
    ],
    "h3c": [
        (r"^idle-timeout (\d+)(?: (\d+))?$", [(_minutes_seconds, "<=", "session_idle_timeout_seconds"),
                                               (_minutes_seconds, ">", "0")]),
        (r"^password-control length (\d+)$", [(lambda m: int(m.group(1)), ">=", "password_min_length")]),
        (r"^password-control history (\d+)$", [(lambda m: int(m.group(1)), ">=", "password_history_device")]),
        (r"^password-control aging (\d+)$", [(lambda m: int(m.group(1)), "<=", "password_max_age_days")]),
        (r"^password-control login-attempt (\d+) exceed lock-time (\d+)$",
         [(lambda m: int(m.group(1)), "<=", "login_max_failures"),
          (lambda m: int(m.group(2)) * 60, ">=", "login_lockout_seconds")]),
    ],
    "cisco": [
        (r"^exec-timeout (\d+)(?: (\d+))?$", [(_minutes_seconds, "<=", "session_idle_timeout_seconds"),
                                               (_minutes_seconds, ">", "0")]),
        (r"^security passwords min-length (\d+)$", [(lambda m: int(m.group(1)), ">=", "password_min_length")]),
        (r"^min-length (\d+)$", [(lambda m: int(m.group(1)), ">=", "password_min_length")]),
        (r"^aaa local authentication attempts max-fail (\d+)$", [(lambda m: int(m.group(1)), "<=", "login_max_failures")]),
        (r"^login block-for (\d+) attempts (\d+) within (\d+)$",
         [(lambda m: int(m.group(1)), ">=", "login_lockout_seconds"),
          (lambda m: int(m.group(2)), "<=", "login_max_failures"),
          (lambda m: int(m.group(3)), ">=", "login_failure_window_seconds")]),
    ],
}
_OPS = {"<=": lambda a, b: a <= b, ">=": lambda a, b: a >= b, ">": lambda a, b: a > b}


def parse(vendor: Vendor, text: str) -> HConfig:
    return get_hconfig(vendor.platform, config_body(text))


def _blocks(text: str) -> list[list[str]]:
    """Top-level lines with their indented children."""
    blocks: list[list[str]] = []
    for line in text.splitlines():
        if line.startswith(" ") and blocks:
            blocks[-1].append(line)
        elif line.strip():
            blocks.append([line])
    return blocks


def vty_ranges(vendor: Vendor, running_text: str) -> list[str]:
    """The VTY section headers of a device's configuration, in its order."""
    return [b[0] for b in _blocks(config_body(running_text)) if re.match(vendor.vty, b[0])]


def _lines_of(vendor: Vendor, header: str) -> set[int]:
    m = re.match(vendor.vty, header)
    if not m:
        return set()
    first = int(m.group(1))
    return set(range(first, int(m.group(2) or first) + 1))


def every_vty(vendor: Vendor, intended_text: str, running_text: str) -> str:
    """The baseline with its VTY section repeated for each VTY range of the device (see the module's rules)."""
    ranges = vty_ranges(vendor, running_text)
    if not ranges:
        return intended_text
    covered = set().union(*(_lines_of(vendor, h) for h in ranges))
    out: list[str] = []
    for block in _blocks(intended_text):
        if not re.match(vendor.vty, block[0]):
            out += block
            continue
        headers = list(ranges)
        if block[0] not in headers and not _lines_of(vendor, block[0]) <= covered:
            headers.append(block[0])
        for header in headers:
            out += [header, *block[1:]]
    return "\n".join(out) + "\n"


@dataclass
class Finding:
    """What keeps a configuration from its baseline: lines to add (with their parents) and owned lines to remove."""

    missing: list[tuple[tuple[str, ...], str]] = field(default_factory=list)  # (parents, line)
    unexpected: list[tuple[tuple[str, ...], str, str]] = field(default_factory=list)  # (parents, line, negation)

    def __bool__(self) -> bool:
        return bool(self.missing or self.unexpected)


def _masked_children(vendor: Vendor, node: HConfig | HConfigChild) -> dict[str, HConfigChild]:
    return {vendor.mask(c.text): c for c in node.children}


def tolerated_by(vendor: Vendor, text: str, candidates: Iterable[HConfigChild],
                 values: dict[str, Any]) -> HConfigChild | None:
    """The device line that meets the numeric baseline line `text` without being equal to it (a stricter value)."""
    for pattern, checks in TOLERANCES[vendor.key]:
        if not re.match(pattern, text):
            continue
        for child in candidates:
            m = re.match(pattern, child.text)
            if m and all(_OPS[op](get(m), _limit(values, var)) for get, op, var in checks):
                return child
        return None
    return None


def _tolerated(vendor: Vendor, text: str, candidates: Iterable[HConfigChild], values: dict[str, Any]) -> bool:
    return tolerated_by(vendor, text, candidates, values) is not None


def _limit(values: dict[str, Any], var: str) -> int:
    if var.isdigit():
        return int(var)
    if var == "password_history_device":  # devices keep at most 12 (VRP) / 15 (Comware) old passwords
        return min(int(values["password_history"]), 12)
    if var == "login_failure_window_seconds":  # failures counted over at least the window (a longer one is stricter)
        return int(values.get("netdev_login_failure_window_minutes", 5)) * 60
    return int(values[var])


def _negation_holds(vendor: Vendor, text: str, node: HConfig | HConfigChild | None) -> bool:
    feature = text[len(vendor.negation) + 1:]
    children = [c.text for c in node.children] if node is not None else []
    if text in children:
        return True
    if feature in DEFAULT_ON[vendor.key]:
        return False
    return not any(c == feature or c.startswith(feature + " ") for c in children)


def findings(vendor: Vendor, running_text: str, intended_text: str, values: dict[str, Any], *,
             rotate: bool = False, owned_only: Iterable[str] | None = None) -> Finding:
    """Compare; `owned_only` limits the owned-area removals to those of the given control IDs."""
    running = parse(vendor, running_text)
    intended = parse(vendor, every_vty(vendor, intended_text, running_text))
    found = Finding()
    _walk(vendor, running, intended, (), values=values, rotate=rotate, found=found)
    controls = set(owned_only) if owned_only is not None else None
    for control, parent_re, line_re in vendor.owned:
        if controls is not None and control not in controls:
            continue
        _owned(vendor, running, intended, (parent_re, line_re), found)
    return found


def _walk(vendor: Vendor, running: HConfig | HConfigChild | None, intended: HConfig | HConfigChild,
          parents: tuple[str, ...], *, values: dict[str, Any], rotate: bool, found: Finding) -> None:
    have = _masked_children(vendor, running) if running is not None else {}
    for child in intended.children:
        text = child.text
        if text.startswith(vendor.negation + " "):
            if not _negation_holds(vendor, text, running):
                found.missing.append((parents, text))
            continue
        match = have.get(vendor.mask(text))
        if child.is_leaf and text in DEFAULT_ON[vendor.key]:
            if running is not None and f"{vendor.negation} {text}" in have:
                found.missing.append((parents, text))
            continue
        if child.is_leaf:
            if match is not None and not (rotate and vendor.has_secret(text)):
                continue
            if match is None and running is not None and _tolerated(vendor, text, running.children, values):
                continue
            found.missing.append((parents, text))
            continue
        _walk(vendor, match, child, parents + (text,), values=values, rotate=rotate, found=found)


def shown(vendor: Vendor, running_text: str, intended_text: str, values: dict[str, Any]) -> list[str]:
    """The device's own lines for each baseline line, in the baseline's order and indentation, secrets masked:
    the equal line, the stricter line that meets a numeric setting, the explicit negation, or a note in
    parentheses where the device shows nothing (a feature that is absent, one on by default, a missing line)."""
    out: list[str] = []
    _shown(vendor, parse(vendor, running_text), parse(vendor, every_vty(vendor, intended_text, running_text)), values,
           out)
    return out


def _shown(vendor: Vendor, running: HConfig | HConfigChild | None, intended: HConfig | HConfigChild,
           values: dict[str, Any], out: list[str], *, depth: int = 0) -> None:
    pad = " " * depth
    children = list(running.children) if running is not None else []
    have = {vendor.mask(c.text): c for c in children}
    for child in intended.children:
        text = child.text
        if text.startswith(vendor.negation + " "):
            feature = text[len(vendor.negation) + 1:]
            present = [c.text for c in children if c.text in (text, feature) or c.text.startswith(feature + " ")]
            out += [pad + vendor.mask(line) for line in present] or [f"{pad}(no {feature!r} line)"]
            continue
        match = have.get(vendor.mask(text))
        if match is None and child.is_leaf and running is not None:
            match = tolerated_by(vendor, text, children, values)
        if match is None:
            note = "on by default, not shown" if child.is_leaf and text in DEFAULT_ON[vendor.key] else "missing"
            out.append(f"{pad}({vendor.mask(text)}: {note})")
            continue
        out.append(pad + vendor.mask(match.text))
        if not child.is_leaf:
            _shown(vendor, match, child, values, out, depth=depth + 1)


def _owned(vendor: Vendor, running: HConfig, intended: HConfig, rule: tuple[str, str], found: Finding) -> None:
    parent_re, line_re = rule
    pairs: list[tuple[tuple[str, ...], HConfig | HConfigChild, HConfig | HConfigChild | None]]
    if parent_re:
        pairs = [((s.text,), s, intended.children.get(s.text)) for s in running.children if re.search(parent_re, s.text)]
        pairs = [p for p in pairs if p[2] is not None]  # sections the baseline removes as a whole need no line removals
    else:
        pairs = [((), running, intended)]
    for parents, node, target in pairs:
        target_children = list(target.children) if target is not None else []
        wanted_lines = {vendor.mask(c.text) for c in target_children}
        wanted_names = {_name(line_re, c.text) for c in target_children} - {None}
        seen: set[str] = set()
        for child in node.children:
            name = _name(line_re, child.text)
            if name is None or vendor.mask(child.text) in wanted_lines or name in wanted_names:
                continue  # a differing line of a wanted object is replaced by the baseline's own line
            negation = f"{vendor.negation} {name}"
            if negation not in seen:
                seen.add(negation)
                found.unexpected.append((parents, child.text, negation))


def _name(line_re: str, text: str) -> str | None:
    m = re.match(line_re, text)
    return m.group(1) if m else None


def commands(vendor: Vendor, finding: Finding) -> list[str]:
    """The CLI lines to send, grouped by section; additions first, so that an account is never removed before
    its successor exists."""
    out: list[str] = []
    seen: set[tuple[tuple[str, ...], str]] = set()
    for group in (finding.missing, [(p, neg) for p, _, neg in finding.unexpected]):
        by_parents: dict[tuple[str, ...], list[str]] = {}
        for parents, text in group:
            if (parents, text) not in seen:
                seen.add((parents, text))
                by_parents.setdefault(parents, []).append(text)
        for parents, lines in by_parents.items():
            out += list(parents) + lines + [vendor.exit_word] * len(parents)
    return out


def missing(vendor: Vendor, running_text: str, intended_text: str, values: dict[str, Any], *,
            rotate: bool = False) -> list[str]:
    return commands(vendor, findings(vendor, running_text, intended_text, values, rotate=rotate))


def rollback(vendor: Vendor, current_text: str, backup_text: str) -> list[str]:
    """Commands returning the device from `current_text` to `backup_text` exactly (secrets as cipher text)."""
    current, backup = parse(vendor, current_text), parse(vendor, backup_text)
    delta = current.config_to_get_to(backup)
    out: list[str] = []

    def emit(node: HConfig | HConfigChild) -> None:
        for child in node.children:
            out.append(child.text)
            if child.children:
                emit(child)
                out.append(vendor.exit_word)

    emit(delta)
    return out
