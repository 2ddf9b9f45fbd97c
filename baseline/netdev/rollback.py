"""Change records of `baseline netdev push` (CM-01) and `baseline netdev rollback CHANGE_ID`.

A push appends one record (baseline.operations.changes.Change, engine netdev) per run: each changed device with the
unified diff of its configuration (before: the backup taken before the push; after: the configuration read back
after it), the backup file and its SHA-256, problems, and the run's result. Secret-bearing lines are shown in their
masked form and vault values are redacted, so the record holds no password, key or community.

A rollback restores every device a recorded push changed to the configuration backed up before that push:
the backup is checked first (the push archive's SHA256SUMS and the digest the record holds), the lines to send are
computed from the device's current configuration (configdiff.rollback: `undo`/`no` for added lines, the backup's
lines for removed or altered ones), sent, read back and compared with the backup, volatile lines aside (as the
backup comparison does), then saved. It records itself as a new change whose reason names the rolled-back change.
"""

from __future__ import annotations

import difflib
import hashlib
import re
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from baseline.netdev import backup, configdiff, push
from baseline.netdev.devices import NetDevice
from baseline.netdev.drivers import ConnectError, connect
from baseline.netdev.vendors import Vendor, config_body
from baseline.operations import changes

ACTION_PUSH = "netdev.push"
ACTION_ROLLBACK = "netdev.rollback"


class Refused(ValueError):
    """A rollback that cannot be made; the message says why. Nothing was contacted."""


# Besides each vendor's own masks (the baseline's secret lines): any password or key in a reversible or digest form
# and SNMP community names, wherever they stand (a device's own lines, indented ones too). Order matters.
EXTRA_MASKS = (
    (re.compile(r"\b(password|secret|key)( [0-9]) \S+"), r"\1\2 <secret>"),  # IOS type 0/5/7/8/9
    (re.compile(r"\b(cipher|irreversible-cipher|simple|hash)(?! <secret>) \S+"), r"\1 <secret>"),
    (re.compile(r"\b(community (?:read |write )?)(?!(?:read|write|cipher|simple|<secret>)\b)\S+"), r"\1<secret>"),
)


def mask_line(vendor: Vendor, line: str) -> str:
    """One configuration line with its secrets masked, its indentation kept."""
    body = line.lstrip(" ")
    body = vendor.mask(body)
    for pattern, replacement in EXTRA_MASKS:
        body = pattern.sub(replacement, body)
    return line[:len(line) - len(line.lstrip(" "))] + body


def masked(vendor: Vendor, text: str) -> str:
    """A configuration as the record shows it: without decoration, secret-bearing lines masked."""
    return "".join(mask_line(vendor, line) + "\n" for line in config_body(text).splitlines())


def unified(vendor: Vendor, before: str, after: str, before_header: str, after_header: str) -> str:
    return "\n".join(difflib.unified_diff(masked(vendor, before).splitlines(), masked(vendor, after).splitlines(),
                                          before_header, after_header, lineterm=""))


def sha256(path: str | Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def record_results(change: changes.Change, devices: list[NetDevice],
                   results: Mapping[str, push.PushResult | BaseException], task: str, action: str) -> str:
    """Add each device's outcome to `change`; returns the run's result (unreachable, failed or succeeded)."""
    outcome = "succeeded"
    for device in devices:
        value = results.get(device.name)
        if value is None:
            change.host(device.name, ["network"], skipped=1)
            continue
        if isinstance(value, BaseException):
            what = "unreachable" if isinstance(value, ConnectError) else "failed"
            outcome = "unreachable" if what == "unreachable" else ("failed" if outcome == "succeeded" else outcome)
            change.host(device.name, ["network"], **{what: 1})
            change.problem(device.name, task, what, f"{type(value).__name__}: {value}")
            continue
        status = value.status
        if status in ("not_started", "interrupted"):
            change.host(device.name, ["network"], skipped=1)
            continue
        extra: dict[str, Any] = {}
        if value.backup and Path(value.backup).is_file():
            extra = {"backup": value.backup, "backup_sha256": sha256(value.backup)}
        if status == "compliant":
            change.host(device.name, ["network"], ok=1)
        elif status == "would_change":
            change.host(device.name, ["network"], ok=1, changed=1)
            change.changed(device.name, task, action, sent_lines=len(value.sent),
                           prepared="lines that would be sent:\n" + "\n".join(
                               mask_line(device.vendor, line) for line in value.sent), **extra)
        elif status == "changed":
            change.host(device.name, ["network"], ok=1, changed=1)
            change.changed(device.name, task, action, prepared=unified(
                device.vendor, value.before, value.after, f"{device.name} before ({value.backup or 'not backed up'})",
                f"{device.name} after (read back)"), sent_lines=len(value.sent), **extra)
        else:  # failed
            if outcome == "succeeded":
                outcome = "failed"
            change.host(device.name, ["network"], failed=1)
            restored = ("restored to the backup" if value.restored else
                        "NOT restored, the device differs from the backup")
            if value.sent:
                change.changed(device.name, task, action, failed=True, sent_lines=len(value.sent),
                               restored=bool(value.restored), **extra)
            change.problem(device.name, task, "failed", f"{value.error} ({restored})")
    return outcome


@dataclass
class Target:
    """A device a recorded change modified, and the backup it is brought back to."""

    device: str
    backup: Path
    digest: str


def targets(store: changes.Archive, change_id: str) -> tuple[dict[str, Any], list[Target]]:
    """The record of `change_id` and the devices it changed, each with its verified backup. Refused when the
    archive does not verify, the id is unknown, the change touched no device, or a backup is missing or altered."""
    checked = store.verify()
    if checked.problems:
        raise Refused(f"the change archive {store.path} does not verify, so its records cannot be trusted to name the "
                      f"configurations to restore: " + "; ".join(str(p) for p in checked.problems)
                      + " (run `baseline changes verify`)")
    found = [r for r in checked.records if r.get("id") == change_id]
    if not found:
        raise Refused(f"CHANGE_ID {change_id}: no such change in {store.path} (see `baseline changes list`)")
    record = found[-1]
    entries = [c for c in record.get("changes") or [] if isinstance(c, Mapping)
               and c.get("action") in (ACTION_PUSH, ACTION_ROLLBACK) and not c.get("planned") and c.get("backup")]
    if record.get("engine") != "netdev" or not entries:
        why = ("it was a check run (planned changes only)" if record.get("mode") == "check"
               else f"it was made by {record.get('engine') or 'ansible'}" if record.get("engine") != "netdev"
               else "no device was changed by it")
        raise Refused(f"CHANGE_ID {change_id} touched no device: {why}; only an applied `baseline netdev push` or "
                      "`rollback` can be rolled back")
    out: list[Target] = []
    problems: list[str] = []
    for entry in entries:
        path = Path(str(entry["backup"]))
        if not path.is_file():
            problems.append(f"{entry.get('host')}: the backup {path} named by the record is missing")
            continue
        altered = backup.verify(path.parent)
        if altered:
            problems.append(f"{entry.get('host')}: the backup archive does not verify: {'; '.join(altered)}")
        elif entry.get("backup_sha256") and sha256(path) != entry["backup_sha256"]:
            problems.append(f"{entry.get('host')}: {path} is not the backup the record names (SHA-256 differs)")
        out.append(Target(str(entry["host"]), path, str(entry.get("backup_sha256") or "")))
    if problems:
        raise Refused(f"CHANGE_ID {change_id}: " + "; ".join(problems))
    return record, out


def rollback_device(device: NetDevice, saved_running: str, archive: backup.Archive, *, stock: bool = False,
                    stop: threading.Event | None = None) -> push.PushResult:
    """Bring one device back to `saved_running`: back it up first (into `archive`), send the lines that undo the
    difference, read back and compare (volatile lines aside), save. Status compliant when it already matches."""
    start = time.monotonic()
    if stop is not None and stop.is_set():
        return push.PushResult(device.name, "not_started")
    result = push.PushResult(device.name, "failed")
    conn = connect(device, stock=stock)
    try:
        running, saved = push.read_configs(conn, device)
        archive.add(device.name, running, saved)
        result.before, result.backup = running, str(archive.path / f"{device.name}.running.cfg")
        result.sent = configdiff.rollback(device.vendor, running, saved_running)
        if config_body(running) == config_body(saved_running):
            result.sent, result.after = [], running
            result.status = "compliant"
            if config_body(saved) != config_body(saved_running):
                conn.save_config()  # the running configuration is the backup's, the startup one is not yet
            return result
        if stop is not None and stop.is_set():
            result.status, result.sent = "interrupted", []
            return result
        identical, problem = push.restore(conn, device, saved_running)
        result.after = push.read_running(conn, device)
        if identical:
            conn.save_config()
            archive.add_after(device.name, result.after)
            result.status = "changed"
        else:
            result.error, result.restored = f"not restored: {problem}", False
    finally:
        conn.disconnect()
        result.seconds = round(time.monotonic() - start, 3)
    return result
