"""Push a baseline to one device: back up, send only what is missing, save, re-read and verify; on any error
restore the backed-up configuration and say so (CM-01 style: preview, change, verify, roll back).

With VRPv8's two-stage configuration a failed change is discarded before commit, so the running configuration
is never touched; the other systems apply each line at once and are restored with the inverse commands.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import cast

from netmiko import BaseConnection
from netmiko.exceptions import ConfigInvalidException

from baseline.netdev import configdiff
from baseline.netdev.backup import Archive
from baseline.netdev.devices import NetDevice
from baseline.netdev.drivers import ERROR_PATTERNS, connect, error_in
from baseline.netdev.render import Rendered
from baseline.netdev.vendors import config_body


@dataclass
class PushResult:
    device: str
    # compliant | would_change | changed | failed | not_started | interrupted (backed up, then stopped before any change)
    status: str
    sent: list[str] = field(default_factory=list)
    error: str = ""
    restored: bool | None = None  # after a failure: running config identical to the backup again
    seconds: float = 0.0
    before: str = field(default="", repr=False)  # running configuration as backed up before the push
    after: str = field(default="", repr=False)  # running configuration read back after the push (changed)
    backup: str = ""  # the backup file of `before` in the push's archive

    @property
    def ok(self) -> bool:
        return self.status != "failed"


def _show(conn: BaseConnection, command: str) -> str:
    # text: send_command returns parsed structures (list, dict) only when asked to parse (use_textfsm, use_ttp,
    # use_genie), which the baseline never does
    return cast(str, conn.send_command(command, read_timeout=120))


def read_configs(conn: BaseConnection, device: NetDevice) -> tuple[str, str]:
    return _show(conn, device.vendor.show_running), _show(conn, device.vendor.show_saved)


def read_running(conn: BaseConnection, device: NetDevice) -> str:
    return _show(conn, device.vendor.show_running)


def send(conn: BaseConnection, device: NetDevice, lines: list[str]) -> str | None:
    """Send configuration lines; stop at the first line the device refuses. Returns the device's error or None."""
    two_stage = device.device_type == "huawei_vrpv8"
    try:
        output = conn.send_config_set(lines, error_pattern=ERROR_PATTERNS[device.vendor.key], cmd_verify=True,
                                      exit_config_mode=not two_stage, read_timeout=60)
    except ConfigInvalidException as exc:
        if two_stage:
            conn.discard_candidate()  # type: ignore[attr-defined]
        else:
            conn.exit_config_mode()
        return str(exc)
    if two_stage:
        output += conn.commit()
    return error_in(device.vendor.key, output)


def restore(conn: BaseConnection, device: NetDevice, backup_running: str) -> tuple[bool, str]:
    """Bring the running configuration back to `backup_running`; (identical again, problem if not)."""
    current = read_running(conn, device)
    if config_body(current) == config_body(backup_running):
        return True, ""
    lines = configdiff.rollback(device.vendor, current, backup_running)
    error = send(conn, device, lines) if lines else None
    after = read_running(conn, device)
    if config_body(after) == config_body(backup_running):
        return True, ""
    return False, error or "the running configuration still differs from the backup after the restore"


def push_device(device: NetDevice, rendered: Rendered, archive: Archive, *, dry_run: bool = False,
                rotate: bool = False, stock: bool = False, stop: threading.Event | None = None,
                progress: Callable[[str], None] | None = None) -> PushResult:
    """Push one device. When `stop` is set (an interruption) before the first line is sent, nothing is sent (status
    not_started, or interrupted after the backup); once lines are on their way the device is finished (verified and
    saved) or restored. `progress` hears what is about to happen (sending, saving)."""
    start = time.monotonic()
    result = PushResult(device.name, "failed")
    if stop is not None and stop.is_set():
        return PushResult(device.name, "not_started")
    conn = connect(device, stock=stock)
    try:
        running, saved = read_configs(conn, device)
        archive.add(device.name, running, saved)
        result.before, result.backup = running, str(archive.path / f"{device.name}.running.cfg")
        lines = configdiff.missing(device.vendor, running, rendered.text, device.values, rotate=rotate)
        result.sent = lines
        if not lines:
            result.status = "compliant"
        elif dry_run:
            result.status = "would_change"
        elif stop is not None and stop.is_set():
            result.status, result.sent = "interrupted", []
        else:
            if progress:
                progress(f"sending {len(lines)} lines")
            error = send(conn, device, lines)
            if error is None:
                after = read_running(conn, device)
                remaining = configdiff.missing(device.vendor, after, rendered.text, device.values)
                if remaining:
                    error = "verification failed, still missing after the push: " + "; ".join(remaining[:10])
            if error:
                result.error = error
                result.restored, problem = restore(conn, device, running)
                if problem:
                    result.error += f" | restore: {problem}"
            else:
                conn.save_config()
                result.after = read_running(conn, device)
                archive.add_after(device.name, result.after)
                result.status = "changed"
    finally:
        conn.disconnect()
        result.seconds = round(time.monotonic() - start, 3)
    return result
