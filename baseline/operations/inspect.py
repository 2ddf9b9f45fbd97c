"""`baseline inspect`: the daily inspection (巡检, OP-01; 第二十条(九)(十), 第十二条(三), 第十三条(五)).

    baseline inspect [--inventory INV] [--out DIR] [--results-file F] [--lang zh|en] [--set NAME=VALUE ...]

Inspects every host and device of the inventory in parallel (one thread and one SSH connection per server,
ControlMaster over the inventory's ssh_config; one TCP connection per device to read its SSH banner) and writes a
dated report DIR/inspection-<UTC date-time>.json and .html (DIR: --out, else $BASELINE_INSPECTION_DIR, else
reports/inspections/) and one OP-01 results record per asset. Every line is green, amber or red and shows the measured
value and the threshold. The orphan-account survey (AC-02, baseline.operations.orphans) runs beside the probes: an
account outside the staff roster is a red line of its asset, and the same survey gives the AC-02 results records
(those of `baseline orphans --results-file`), so a run that inspects need not survey again. A host that cannot be
reached is red; a probe that cannot run is amber 未验证 with the reason. Thresholds come from the inventory's policy
values (policy.yml); `--set NAME=VALUE` may only tighten one (docs/operations.md, "Daily inspection (OP-01)").

Exit status: 0 every line green or amber, 1 any line red, 2 bad input (inventory, option, threshold).
"""

from __future__ import annotations

import argparse
import html
import json
import os
import re
import shlex
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml

from baseline import REPO_ROOT
from baseline.inventory import login_wait
from baseline.results import Evidence, ResultWriter, new_run_id

CONTROL = "OP-01"
CONTROLS = ("OP-01",)  # an inspection run is the control at work (baseline/trace.py)
GREEN, AMBER, RED = "green", "amber", "red"
STATUS_LABELS = {GREEN: ("正常", "OK"), AMBER: ("关注", "Attention"), RED: ("异常", "Fault")}
UNVERIFIED = ("未验证", "not verified")
SSH_TIMEOUT_S = 10  # connection timeout of one SSH connection or device banner read (not a policy figure); a server's
# own ansible_timeout takes its place for that server (baseline.inventory.login_wait)
PROBE_TIMEOUT_S = 600
TEMPLATE = Path(__file__).with_name("inspect_probe.sh.j2")

# Lines of the report: key -> (zh, en)
KINDS: dict[str, tuple[str, str]] = {
    "ssh": ("主干连通性（SSH）", "Backbone connectivity (SSH)"),
    "mgmt": ("设备管理口可达性", "Device management reachability"),
    "log_intake": ("日志接收时效", "Log intake freshness"),
    "disk": ("磁盘空间使用率", "Disk space use"),
    "inode": ("inode 使用率", "Inode use"),
    "failed_logins": ("24 小时登录失败", "Failed logins (24 h)"),
    "integrity": ("未批准的完整性差异（AIDE）", "Integrity differences not approved (AIDE)"),
    "signatures": ("恶意代码库时效", "Malware signature age"),
    "detections": ("恶意代码检出", "Malware detections"),
    "backup": ("备份时效", "Backup age"),
    "offsite": ("场外备份时效", "Off-site backup age"),
    "drill": ("恢复演练时效", "Restore drill age"),
    "updates": ("待安装安全更新", "Pending security updates"),
    "certs": ("证书有效期", "Certificate expiry"),
    "time": ("时间偏差", "Time offset"),
    "accounts": ("孤立账户（花名册外或已离职）", "Orphan accounts (not in the roster, or departed)"),
}


class InputError(Exception):
    """Bad input: the message names the option, variable or file; exit status 2."""


# --- thresholds ------------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Knob:
    """One threshold: how it comes from the inventory, and which way is stricter."""

    name: str
    unit: str
    source: str  # inventory variable it is derived from
    factor: float  # threshold = variable * factor
    stricter: str  # "lower": a smaller value is stricter; "higher": a larger one


KNOBS: tuple[Knob, ...] = (
    Knob("latency_max_ms", "ms", "inspection_latency_max_ms", 1, "lower"),
    Knob("log_max_age_s", "s", "inspection_interval_hours", 3600, "lower"),
    Knob("disk_warn_percent", "%", "inspection_disk_warn_percent", 1, "lower"),
    Knob("disk_max_percent", "%", "inspection_disk_max_percent", 1, "lower"),
    Knob("failed_logins_max", "", "inspection_failed_logins_max", 1, "lower"),
    Knob("login_max_failures", "", "login_max_failures", 1, "lower"),
    Knob("window_hours", "h", "inspection_interval_hours", 1, "higher"),
    Knob("signature_max_age_s", "s", "malware_signature_max_age_days", 86400, "lower"),
    Knob("backup_full_max_age_s", "s", "backup_full_interval_days", 86400, "lower"),
    Knob("backup_incr_max_age_s", "s", "backup_incremental_interval_days", 86400, "lower"),
    Knob("backup_grace_s", "s", "inspection_backup_grace_hours", 3600, "lower"),
    Knob("drill_max_age_s", "s", "restore_drill_interval_days", 86400, "lower"),
    Knob("security_updates_max", "", "inspection_security_updates_max", 1, "lower"),
    Knob("cert_renew_days", "d", "pki_renew_days", 1, "higher"),
    Knob("time_offset_max_ms", "ms", "inspection_time_offset_max_ms", 1, "lower"),
)
KNOBS_BY_NAME = {k.name: k for k in KNOBS}
# Role defaults read when the inventory does not set the variable (roles/<role>/defaults/main.yml is where the
# value is documented and what the role applies).
ROLE_DEFAULTS = {"pki_renew_days": "pki", "pki_remote_dir": "pki", "logserver_dir": "logserver",
                 "logserver_device_dir": "logserver", "backup_client_state_dir": "backup_client",
                 "restore_drill_records_dir": "restore_drill"}
OPTIONAL = ("logserver_device_dir",)  # read when the role has it: "" otherwise


def role_default(name: str) -> Any:
    role = ROLE_DEFAULTS[name]
    path = REPO_ROOT / "roles" / role / "defaults" / "main.yml"
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except OSError as exc:
        raise InputError(f"{name} is not set in the inventory and {path} cannot be read ({exc.strerror}): "
                         f"set {name} in the inventory") from exc
    if name not in data:
        if name in OPTIONAL:
            return ""
        raise InputError(f"{name} is neither set in the inventory nor a default of roles/{role}")
    return data[name]


def setting(values: Mapping[str, Any], name: str) -> Any:
    """An inventory variable, else the default of the role that applies it."""
    if name in values:
        return values[name]
    if name in ROLE_DEFAULTS:
        return role_default(name)
    raise InputError(f"{name} is not set in the inventory (inventory/group_vars/all/policy.yml documents it)")


def _number(name: str, value: Any) -> float:
    if isinstance(value, bool):
        raise InputError(f"{name} = {value!r} is not a number")
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str) and re.fullmatch(r"[0-9]+(\.[0-9]+)?", value.strip()):
        return float(value)
    raise InputError(f"{name} = {value!r} is not a number")


def thresholds(values: Mapping[str, Any], overrides: Mapping[str, float] | None = None) -> dict[str, float]:
    """Every threshold of one host from its inventory values, with the overrides of --set (only stricter ones)."""
    found = {k.name: _number(k.source, setting(values, k.source)) * k.factor for k in KNOBS}
    for name, value in (overrides or {}).items():
        knob = KNOBS_BY_NAME[name]
        policy = found[name]
        looser = value > policy if knob.stricter == "lower" else value < policy
        if looser:
            raise InputError(f"--set {name}={value:g} is looser than the value the inventory gives ({policy:g}, from "
                             f"{knob.source}); --set may only tighten a threshold")
        found[name] = value
    return found


def parse_overrides(items: Iterable[str]) -> dict[str, float]:
    found: dict[str, float] = {}
    for item in items:
        name, sep, raw = item.partition("=")
        name = name.strip()
        if not sep or name not in KNOBS_BY_NAME:
            raise InputError(f"--set {item!r}: expected NAME=VALUE with NAME one of {', '.join(KNOBS_BY_NAME)}")
        found[name] = _number(f"--set {name}", raw)
    return found


# --- lines -----------------------------------------------------------------------------------------------------------

@dataclass
class Line:
    asset: str
    kind: str  # key of KINDS
    item: str  # what on the asset: mount, engine, sender, ...
    status: str  # green / amber / red
    value: str  # measured value, as shown
    threshold: str  # threshold, as shown
    measured: float | None = None  # the measured figure (machine-readable), when there is one
    unverified: bool = False  # the probe could not run: amber 未验证 with the reason
    reason: str = ""
    command: str = ""

    def label(self, lang: str) -> str:
        zh, en = KINDS[self.kind]
        return zh if lang == "zh" else en


def age_text(seconds: float) -> str:
    seconds = max(0.0, seconds)
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    if seconds < 2 * 86400:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} d"


def unverified(asset: str, kind: str, item: str, threshold: str, reason: str, *, command: str = "") -> Line:
    return Line(asset, kind, item, AMBER, UNVERIFIED[0], threshold, unverified=True, reason=reason, command=command)


def age_line(asset: str, kind: str, item: str, age: float | None, limit: float, *, grace: float = 0.0,
             command: str = "", missing: str = "nothing recorded") -> Line:
    """Green up to `limit`, amber up to `limit + grace` (the next run is due), red beyond or when nothing exists."""
    shown = f"≤ {age_text(limit)}" + (f" (+{age_text(grace)} grace)" if grace else "")
    if age is None:
        return Line(asset, kind, item, RED, missing, shown, reason=missing, command=command)
    status = GREEN if age <= limit else AMBER if age <= limit + grace else RED
    reason = "" if status == GREEN else f"{age_text(age)} old, more than {age_text(limit)}"
    return Line(asset, kind, item, status, age_text(age), shown, measured=round(age, 1), reason=reason,
                command=command)


# --- probe outputs ---------------------------------------------------------------------------------------------------

@dataclass
class Section:
    rc: int
    text: str


def parse_sections(output: str) -> dict[str, Section]:
    """The probe's output: `@@section NAME`, output lines, `@@rc N`."""
    found: dict[str, Section] = {}
    name: str | None = None
    lines: list[str] = []
    for line in output.splitlines():
        if line.startswith("@@section "):
            name, lines = line.split(" ", 1)[1].strip(), []
        elif line.startswith("@@rc ") and name is not None:
            rc = line.split(" ", 1)[1].strip()
            found[name] = Section(int(rc) if rc.lstrip("-").isdigit() else -1, "\n".join(lines).strip("\n"))
            name = None
        elif name is not None:
            lines.append(line)
    return found


@dataclass
class HostProbe:
    """What was gathered from one server."""

    host: str
    reachable: bool
    latency_ms: float | None = None
    error: str = ""
    offset_ms: float | None = None
    offset_error_ms: float | None = None
    sections: dict[str, Section] = field(default_factory=dict)
    probe_error: str = ""


def _df_lines(asset: str, kind: str, section: Section | None, limits: Mapping[str, float], command: str) -> list[Line]:
    shown = f"< {limits['disk_warn_percent']:g}% (amber), < {limits['disk_max_percent']:g}% (red)"
    if section is None or section.rc != 0 or not section.text:
        return [unverified(asset, kind, "*", shown, f"{command} failed: {_tail(section)}", command=command)]
    lines = []
    for row in section.text.splitlines()[1:]:
        cols = row.split()
        if len(cols) < 6 or not cols[4].endswith("%"):
            continue
        mount = cols[5]
        if cols[4] == "-%":  # no inodes counted on this filesystem
            continue
        used = float(cols[4].rstrip("%"))
        status = RED if used >= limits["disk_max_percent"] else AMBER if used >= limits["disk_warn_percent"] else GREEN
        reason = "" if status == GREEN else f"{used:g}% used"
        lines.append(Line(asset, kind, mount, status, f"{used:g}%", shown, measured=used, reason=reason,
                          command=command))
    return lines or [unverified(asset, kind, "*", shown, f"{command} listed no filesystem", command=command)]


FAILED_PATTERNS = (
    re.compile(r"sshd(-session)?\[\d+\]: Failed \S+ for "),  # sshd-session: OpenSSH 9.8 and later
    re.compile(r"sshd(-session)?\[\d+\]: Connection closed by (authenticating|invalid) user .*\[preauth\]"),
    re.compile(r"\((?!sshd:)[\w-]+:auth\): authentication failure"),
    re.compile(r"FAILED SU"),
)


SSH_FAILED_FROM = re.compile(r"sshd(?:-session)?\[\d+\]: Failed \S+ for (?:invalid user )?\S+ from (\S+) port (\d+)")
SSH_CLOSED_FROM = re.compile(r"sshd(?:-session)?\[\d+\]: Connection closed by (?:authenticating|invalid) user \S* ?"
                             r"(\S+) port (\d+) \[preauth\]")


def failed_logins(text: str, since: datetime | None = None) -> list[str]:
    """Log lines of failed logins, one per failed attempt: sshd's failed authentications (each try of a
    connection), a connection closed before authentication where sshd logged no failed try for it (the same client
    address and port), su/sudo/login authentication failures. With `since`, lines of /var/log/auth.log before it
    are left out."""
    found = []
    for line in text.splitlines():
        if not any(p.search(line) for p in FAILED_PATTERNS):
            continue
        if since is not None:
            try:
                when = datetime.fromisoformat(line.split()[0])
            except (ValueError, IndexError):
                when = None
            if when is not None and when.tzinfo is not None and when < since:
                continue
        found.append(line)
    tried = {m.groups() for line in found if (m := SSH_FAILED_FROM.search(line))}
    return [line for line in found if not ((m := SSH_CLOSED_FROM.search(line)) and m.groups() in tried)]


def faillock_locked(text: str, max_failures: float) -> dict[str, int]:
    """Accounts with at least `max_failures` valid failure records in `faillock`'s table (locked out)."""
    counts: dict[str, int] = {}
    user = ""
    for line in text.splitlines():
        if re.fullmatch(r"\S+:", line.strip()):
            user = line.strip()[:-1]
            counts[user] = 0
        elif user and line.split() and line.split()[-1] == "V":
            counts[user] += 1
    return {u: n for u, n in counts.items() if n >= max_failures}


def _tail(section: Section | None) -> str:
    if section is None:
        return "no output"
    text = section.text.strip().splitlines()
    return (text[-1] if text else "no output") + f" (exit {section.rc})"


# Hosts that carry only the kernel-level controls (playbooks/linux.yml): no PKI, anti-malware, AIDE or log
# forwarding is applied there, so those lines do not exist for them (compliance_tests/linux/conftest.py: not
# applicable).
KERNEL_ONLY_GROUP = "kernel_hosts"
BASELINE_SOFTWARE = ("integrity", "signatures", "detections", "certs")


def host_lines(probe: HostProbe, limits: Mapping[str, float], now: float, *, kernel_only: bool = False) -> list[Line]:
    """The lines of one server from what its probe gathered (`kernel_only`: a host of KERNEL_ONLY_GROUP)."""
    lines = _host_lines(probe, limits, now)
    return [line for line in lines if line.kind not in BASELINE_SOFTWARE] if kernel_only else lines


def _host_lines(probe: HostProbe, limits: Mapping[str, float], now: float) -> list[Line]:
    host = probe.host
    latency = f"≤ {limits['latency_max_ms']:g} ms"
    if not probe.reachable:
        return [Line(host, "ssh", "ssh", RED, "unreachable", latency, reason=probe.error or "no SSH connection",
                     command="ssh")]
    slow = (probe.latency_ms or 0) > limits["latency_max_ms"]
    out = [Line(host, "ssh", "ssh", AMBER if slow else GREEN, f"{probe.latency_ms:.0f} ms", latency,
                measured=probe.latency_ms, reason="slow connection" if slow else "", command="ssh (one connection)")]
    out.append(time_line(probe, limits))
    if probe.probe_error:
        for kind in ("disk", "inode", "failed_logins", "integrity", "signatures", "detections", "updates", "certs"):
            out.append(unverified(host, kind, "*", "-", f"the probe could not run: {probe.probe_error}"))
        return out
    s = probe.sections
    out += _df_lines(host, "disk", s.get("df"), limits, "df -P")
    out += _df_lines(host, "inode", s.get("dfi"), limits, "df -Pi")
    out.append(failed_line(host, s.get("auth"), s.get("faillock"), limits, now))
    out.append(integrity_line(host, s.get("integrity")))
    out.append(signature_line(host, s.get("signatures"), limits, now))
    out.append(detection_line(host, s.get("detections"), limits, now))
    out.append(updates_line(host, s.get("updates"), limits))
    out.append(certs_line(host, s.get("certs"), limits, now))
    return out


def time_line(probe: HostProbe, limits: Mapping[str, float]) -> Line:
    host, limit = probe.host, limits["time_offset_max_ms"]
    shown = f"|offset| ≤ {limit:g} ms"
    command = "date +%s.%N against the controller's clock; chronyc -n tracking"
    if probe.offset_ms is None:
        return unverified(host, "time", "clock", shown, "the host's clock could not be read", command=command)
    offsets = {"controller": probe.offset_ms}
    chrony = probe.sections.get("chrony")
    notes = []
    synced = True
    if chrony is not None and chrony.rc == 0:
        found = re.search(r"^System time\s*:\s*([0-9.]+) seconds (fast|slow)", chrony.text, re.M)
        if found:
            offsets["chrony"] = float(found.group(1)) * 1000 * (1 if found.group(2) == "fast" else -1)
        leap = re.search(r"^Leap status\s*:\s*(.+)$", chrony.text, re.M)
        if leap and leap.group(1).strip() != "Normal":
            synced = False
            notes.append(f"chrony: leap status {leap.group(1).strip()}")
    elif chrony is not None:
        notes.append(f"chrony: {_tail(chrony)}")
    worst = max(abs(v) for v in offsets.values())
    value = ", ".join(f"{k} {v:+.0f} ms" for k, v in offsets.items())
    if probe.offset_error_ms is not None:
        value += f" (±{probe.offset_error_ms:.0f} ms)"
    status = RED if worst > limit else GREEN if synced else AMBER
    reason = "; ".join(([f"offset {worst:.0f} ms"] if status == RED else []) + notes)
    return Line(host, "time", "clock", status, value, shown, measured=round(worst, 1), reason=reason, command=command)


def failed_line(host: str, auth: Section | None, faillock: Section | None, limits: Mapping[str, float],
                now: float) -> Line:
    limit = limits["failed_logins_max"]
    shown = f"0 (amber above 0, red above {limit:g}); no account locked"
    command = "journalctl SYSLOG_FACILITY=4,10 (else /var/log/auth.log); faillock"
    if auth is None or auth.rc != 0:
        return unverified(host, "failed_logins", "auth", shown, f"the authentication log could not be read: "
                          f"{_tail(auth)}", command=command)
    since = datetime.fromtimestamp(now - limits["window_hours"] * 3600, UTC)
    from_file = auth.text.startswith("@source /var/log/auth.log")
    found = failed_logins(auth.text, since if from_file else None)
    locked = faillock_locked(faillock.text, limits["login_max_failures"]) if faillock and faillock.rc == 0 else {}
    count = len(found)
    status = RED if count > limit else AMBER if count or locked else GREEN
    value = f"{count}" + (f"; locked: {', '.join(sorted(locked))}" if locked else "")
    reason = ""
    if status != GREEN:
        reason = f"{count} failed login(s) in {limits['window_hours']:g} h" + (
            f"; accounts locked by faillock: {', '.join(sorted(locked))}" if locked else "")
        if found:
            reason += f"; latest: {found[-1][-200:]}"
    return Line(host, "failed_logins", "auth", status, value, shown, measured=count, reason=reason, command=command)


def integrity_line(host: str, section: Section | None) -> Line:
    shown = "0 differences not approved"
    command = "baseline-aide-approve pending"
    if section is None or section.rc != 0:
        return unverified(host, "integrity", "aide", shown, f"the integrity check could not run: {_tail(section)}",
                          command=command)
    try:
        pending = json.loads(section.text.strip().splitlines()[-1])["pending"]
    except (ValueError, KeyError, IndexError, TypeError):
        return unverified(host, "integrity", "aide", shown, f"unreadable output: {section.text[-200:]}", command=command)
    if not pending:
        return Line(host, "integrity", "aide", GREEN, "0", shown, measured=0, command=command)
    listed = ", ".join(str(p) for p in pending[:10]) + (" …" if len(pending) > 10 else "")
    return Line(host, "integrity", "aide", RED, str(len(pending)), shown, measured=len(pending),
                reason=f"changed and not approved: {listed}", command=command)


def signature_line(host: str, section: Section | None, limits: Mapping[str, float], now: float) -> Line:
    command = "find /var/lib/clamav (*.cvd, *.cld, *.hsb, *.hdb, *.ndb)"
    if section is None:
        return unverified(host, "signatures", "clamav", f"≤ {age_text(limits['signature_max_age_s'])}",
                          "no output", command=command)
    stamps = [float(row.split()[0]) for row in section.text.splitlines() if re.match(r"^[0-9.]+ ", row)]
    age = now - max(stamps) if section.rc == 0 and stamps else None
    return age_line(host, "signatures", "clamav", age, limits["signature_max_age_s"], command=command,
                    missing=f"no signature database ({_tail(section)})")


def clamav_found(text: str, since: float) -> list[str]:
    """`FOUND` lines of the scan log and clamd's journal (already of the window) and of clamd's own log file after
    its `@clamd-log +HHMM` marker (local time `Wed Dec  2 10:00:00 2026 -> path: name FOUND`), kept from `since`."""
    found = []
    offset = None
    for row in text.splitlines():
        if row.startswith("@clamd-log"):
            offset = row.split(" ", 1)[1].strip() if " " in row else "+0000"
            continue
        if not row.rstrip().endswith("FOUND"):
            continue
        if offset is not None and " -> " in row:
            try:
                when = datetime.strptime(f"{' '.join(row.split(' -> ', 1)[0].split())} {offset}", "%a %b %d %H:%M:%S %Y %z")
            except ValueError:
                when = None
            if when is not None and when.timestamp() < since:
                continue
        found.append(row)
    return found


def detection_line(host: str, section: Section | None, limits: Mapping[str, float], now: float) -> Line:
    shown = f"0 in {limits['window_hours']:g} h"
    command = "journalctl -t baseline-clamscan; journalctl -u clamav-daemon; /var/log/clamav/clamav.log"
    if section is None or section.rc != 0:
        return unverified(host, "detections", "clamav", shown, f"the scan log could not be read: {_tail(section)}",
                          command=command)
    found = clamav_found(section.text, now - limits["window_hours"] * 3600)
    tests = [row for row in found if "Eicar-Test-Signature" in row]
    real = [row for row in found if row not in tests]
    if real:
        return Line(host, "detections", "clamav", RED, str(len(real)), shown, measured=len(real),
                    reason="; ".join(r[-200:] for r in real[:5]), command=command)
    if tests:
        return Line(host, "detections", "clamav", AMBER, f"0 (+{len(tests)} test file)", shown, measured=0,
                    reason=f"{len(tests)} detection(s) of the anti-malware test file (EICAR, e.g. the MP-01 check's "
                           "probe), no malware", command=command)
    return Line(host, "detections", "clamav", GREEN, "0", shown, measured=0, command=command)


def updates_line(host: str, section: Section | None, limits: Mapping[str, float]) -> Line:
    limit = limits["security_updates_max"]
    shown = f"≤ {limit:g} from a security source"
    command = "apt list --upgradable"
    if section is None or section.rc != 0:
        return unverified(host, "updates", "apt", shown, f"apt could not list updates: {_tail(section)}", command=command)
    rows = [row for row in section.text.splitlines() if "/" in row.split(" ", 1)[0] and "[upgradable" in row]
    security = [row.split("/", 1)[0] for row in rows if "security" in row.split(" ", 1)[0].split("/", 1)[1]]
    status = RED if len(security) > limit else GREEN
    reason = f"security updates pending: {', '.join(security[:10])}" if security else ""
    return Line(host, "updates", "apt", status, f"{len(security)} (of {len(rows)} upgradable)", shown,
                measured=len(security), reason=reason, command=command)


def certs_line(host: str, section: Section | None, limits: Mapping[str, float], now: float) -> Line:
    renew = limits["cert_renew_days"]
    shown = f"> {renew:g} d before expiry"
    command = "openssl x509 -enddate of each certificate in the host's PKI directory"
    if section is None or section.rc != 0:
        return unverified(host, "certs", "pki", shown, f"no certificate could be read: {_tail(section)}", command=command)
    remaining: dict[str, float] = {}
    bad = []
    for row in section.text.splitlines():
        path, _, end = row.partition("\t")
        try:
            when = datetime.strptime(end.strip().removeprefix("notAfter="), "%b %d %H:%M:%S %Y %Z").replace(tzinfo=UTC)
        except ValueError:
            bad.append(f"{path}: {end.strip()[:100]}")
            continue
        remaining[Path(path).name] = (when.timestamp() - now) / 86400
    if not remaining:
        return unverified(host, "certs", "pki", shown, "; ".join(bad) or "no certificate in the host's PKI directory",
                          command=command)
    name, days = min(remaining.items(), key=lambda kv: kv[1])
    status = RED if days <= 0 else AMBER if days <= renew else GREEN
    reason = "" if status == GREEN else (f"{name} expired" if days <= 0 else f"{name} expires in {days:.0f} d")
    if bad:
        reason = "; ".join([*([reason] if reason else []), *bad])
        status = AMBER if status == GREEN else status
    return Line(host, "certs", "pki", status, f"{name}: {days:.0f} d left", shown, measured=round(days, 1),
                reason=reason, command=command)


def log_intake_lines(log_server: str, section: Section | None, senders: Mapping[str, Mapping[str, Any]],
                     limits: Mapping[str, Mapping[str, float]], *, now: float, logdir: str) -> list[Line]:
    """One line per sending server and device: the age of the newest file in its directory on the log server,
    named by the inventory name, the device's host name (netdev_hostname) or an address no other sender shares
    (`senders`: name -> {"address": ..., "hostname": ..., "simulator": bool})."""
    command = f"find {logdir}/<sender>/ on {log_server} (newest file)"
    out = []
    newest: dict[str, float] = {}
    if section is not None and section.rc == 0:
        for row in section.text.splitlines():
            stamp, _, rel = row.partition(" ")
            try:
                when = float(stamp)
            except ValueError:
                continue
            sender = rel.split("/", 1)[0].lower()
            newest[sender] = max(newest.get(sender, 0.0), when)
    address_count: dict[str, int] = {}
    for info in senders.values():
        address_count[str(info.get("address") or "")] = address_count.get(str(info.get("address") or ""), 0) + 1
    for name, info in senders.items():
        limit = limits[name]["log_max_age_s"]
        if section is None or section.rc != 0:
            why = f"log server {log_server} could not be inspected: {_tail(section)}"
            out.append(unverified(name, "log_intake", log_server, f"≤ {age_text(limit)}", why, command=command))
            continue
        keys = {name.lower(), str(info.get("hostname") or name).lower()}
        if address_count.get(str(info.get("address") or ""), 0) == 1:  # an address several senders share names none
            keys.add(str(info["address"]).lower())
        stamps = [newest[k] for k in keys if k in newest]
        age = now - max(stamps) if stamps else None
        out.append(age_line(name, "log_intake", log_server, age, limit, command=command,
                            missing=f"no log of {name} on {log_server}"))
    return out


def backup_lines(host: str, section: Section | None, engines: list[str], limits: Mapping[str, float], *,
                 now: float, state_dir: str) -> list[Line]:
    """Per engine of a backup client: age of the last full and of the newest restore point (full or incremental),
    from the outcomes baseline-backup records after each backup and off-site copy."""
    command = f"{state_dir}/<engine>.json (written by baseline-backup after the off-site copy)"
    if section is None or section.rc != 0:
        return [unverified(host, "backup", e, "-", f"backup records could not be read: {_tail(section)}", command=command)
                for e in engines]
    states: dict[str, dict[str, Any]] = {}
    name = ""
    chunks: dict[str, list[str]] = {}
    for row in section.text.splitlines():
        if row.startswith("@file "):
            name = row.split(" ", 1)[1].strip()
            chunks[name] = []
        elif name:
            chunks[name].append(row)
    for engine, rows in chunks.items():
        try:
            states[engine] = json.loads("\n".join(rows))
        except ValueError:
            states[engine] = {}
    out = []
    grace = limits["backup_grace_s"]

    def age(entry: Any) -> float | None:
        try:
            stamp = datetime.strptime(str(entry["time"]), "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC).timestamp()
        except (KeyError, TypeError, ValueError):
            return None
        return now - stamp

    for engine in engines:
        state = states.get(engine, {})
        full = age(state.get("last_full"))
        newest = [a for a in (full, age(state.get("last_incremental"))) if a is not None]
        if engine != "files":
            out.append(age_line(host, "backup", f"{engine} full", full, limits["backup_full_max_age_s"], grace=grace,
                                command=command, missing=f"no full {engine} backup recorded"))
        out.append(age_line(host, "backup", f"{engine} {'incremental' if engine != 'files' else 'copy'}",
                            min(newest) if newest else None, limits["backup_incr_max_age_s"], grace=grace, command=command,
                            missing=f"no {engine} backup recorded"))
    return out


def offsite_lines(store: str, section: Section | None, clients: Iterable[str],
                  limits: Mapping[str, Mapping[str, float]], *, now: float, root: str) -> list[Line]:
    """Per backup client: the age of the newest snapshot of its repository on the off-site store."""
    command = f"find {root}/<client>/restic/snapshots on {store} (newest)"
    newest: dict[str, float] = {}
    if section is not None and section.rc == 0:
        for row in section.text.splitlines():
            stamp, _, rel = row.partition(" ")
            try:
                newest[rel.split("/", 1)[0]] = max(newest.get(rel.split("/", 1)[0], 0.0), float(stamp))
            except ValueError:
                continue
    out = []
    for client in clients:
        limit, grace = limits[client]["backup_incr_max_age_s"], limits[client]["backup_grace_s"]
        if section is None or section.rc != 0:
            out.append(unverified(client, "offsite", store, f"≤ {age_text(limit)}",
                                  f"backup store {store} could not be inspected: {_tail(section)}", command=command))
            continue
        age = now - newest[client] if client in newest else None
        out.append(age_line(client, "offsite", store, age, limit, grace=grace, command=command,
                            missing=f"no snapshot of {client} on {store}"))
    return out


def drill_host_records(section: Section) -> dict[str, list[str]]:
    """The verdicts a drill host keeps (roles/restore_drill: restore_drill_records_dir/<source>-<engine>/<time>.json),
    as the probe prints them: `@file <source>-<engine>/<time>.json`, then the file. <source>-<engine> -> texts."""
    found: dict[str, list[list[str]]] = {}
    current: list[str] | None = None
    for row in section.text.splitlines():
        if row.startswith("@file "):
            current = []
            found.setdefault(row.split(" ", 1)[1].strip().split("/", 1)[0], []).append(current)
        elif current is not None:
            current.append(row)
    return {key: ["\n".join(rows) for rows in files] for key, files in found.items()}


def drill_lines(records_dir: Path, sources: Mapping[str, str], limits: Mapping[str, Mapping[str, float]],
                now: float, drill_hosts: Mapping[str, tuple[str, Section | None]] | None = None) -> list[Line]:
    """Per database host and engine (`sources`: host -> engine): the age of the newest passed restore drill, from
    the verdicts each drill host keeps (`drill_hosts`: drill host -> its restore_drill_records_dir and its probe's
    `drills` section, None when it could not be read) and those on this machine, if any
    (`records_dir`/<time>/<host>-<engine>.json, where the controller that ran the drill writes them). A source whose
    verdicts could not all be read and that has no passed drill among those read is amber 未验证, never red."""
    kept = dict(drill_hosts or {})
    remote = {name: (drill_host_records(section) if section is not None and section.rc == 0 else None)
              for name, (_, section) in kept.items()}
    out = []
    for host, engine in sources.items():
        key = f"{host}-{engine}"
        where = [f"{records_dir}/*/{key}.json", *(f"{name}:{kept[name][0]}/{key}/*.json" for name in remote)]
        texts: list[str] = []
        problems = []
        try:
            paths = sorted(records_dir.glob(f"*/{key}.json"))
        except OSError as exc:  # a probe that cannot run is 未验证 with the reason, never a crash
            paths = []
            problems.append(f"the restore drill records in {records_dir} cannot be read: {exc.strerror or exc}")
        for path in paths:
            try:
                texts.append(path.read_text(encoding="utf-8"))
            except OSError as exc:
                problems.append(f"{path} cannot be read: {exc.strerror or exc}")
        for name, found in remote.items():
            if found is None:
                problems.append(f"the restore drill records on {name} cannot be read: "
                                f"{_tail(kept[name][1])}")
            else:
                texts += found.get(key, [])
        verdicts = []
        for text in texts:
            try:
                data = json.loads(text)
                verdicts.append((datetime.fromisoformat(str(data["time"])).timestamp(), bool(data.get("passed"))))
            except (ValueError, KeyError, TypeError):
                continue
        newest = None
        failed_since = False
        for when, passed in sorted(verdicts):
            if passed:
                newest = when
                failed_since = False
            else:
                failed_since = True
        limit = limits[host]["drill_max_age_s"]
        if newest is None and problems:
            out.append(unverified(host, "drill", engine, f"≤ {age_text(limit)}", "; ".join(problems),
                                  command="; ".join(where)))
            continue
        line = age_line(host, "drill", engine, None if newest is None else now - newest, limit,
                        command="; ".join(where), missing=f"no passed restore drill of {host} ({engine}) recorded")
        if failed_since and line.status == GREEN:
            line.status, line.reason = AMBER, "the latest drill failed; the age is that of the last passed one"
        out.append(line)
    return out


# --- gathering -------------------------------------------------------------------------------------------------------

def render_probe(assignments: Mapping[str, str]) -> str:
    import jinja2

    env = jinja2.Environment(autoescape=False, keep_trailing_newline=True)  # noqa: S701 - a shell script, not HTML
    text = "\n".join(f"{k}={shlex.quote(v)}" for k, v in assignments.items())
    return env.from_string(TEMPLATE.read_text(encoding="utf-8")).render(assignments=text)


def _ssh(config: Path, host: str, command: str, *, stdin: str | None = None, wait: float = SSH_TIMEOUT_S,
         timeout: float | None = None) -> subprocess.CompletedProcess:
    argv = ["ssh", "-F", str(config), "-o", "BatchMode=yes", "-o", f"ConnectTimeout={wait:g}", host, command]
    return subprocess.run(argv, input=stdin, capture_output=True, text=True,
                          timeout=wait + 5 if timeout is None else timeout, check=False)


def gather_host(config: Path, host: str, script: str, wait: float = SSH_TIMEOUT_S) -> HostProbe:
    """One server over one SSH connection (the control master opened by the first command): latency of the
    connection, the clock against the controller's, then the probe script as root. `wait`: seconds the login may
    take (login_wait)."""
    start = time.monotonic()
    try:
        first = _ssh(config, host, "true", wait=wait)
    except subprocess.TimeoutExpired:
        return HostProbe(host, False, error=f"no SSH connection within {wait:g} s")
    latency = (time.monotonic() - start) * 1000
    if first.returncode != 0:
        return HostProbe(host, False, error=(first.stderr.strip().splitlines() or ["ssh failed"])[-1][:300])
    probe = HostProbe(host, True, latency_ms=round(latency, 1))
    try:
        before = time.time()
        clock = _ssh(config, host, "date +%s.%N", wait=wait)
        after = time.time()
        probe.offset_ms = round((float(clock.stdout.strip()) - (before + after) / 2) * 1000, 1)
        probe.offset_error_ms = round((after - before) / 2 * 1000, 1)
    except (subprocess.TimeoutExpired, ValueError):
        pass
    try:
        run = _ssh(config, host, "sudo -n sh -s", stdin=script, wait=wait, timeout=PROBE_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        probe.probe_error = f"no answer within {PROBE_TIMEOUT_S} s"
        return probe
    probe.sections = parse_sections(run.stdout)
    if run.returncode != 0 or "now" not in probe.sections:
        probe.probe_error = ((run.stderr.strip() or run.stdout.strip()).splitlines() or ["no output"])[-1][:300] + \
            f" (exit {run.returncode})"
    return probe


def device_line(name: str, address: str, port: int, limits: Mapping[str, float], telnet: bool = False) -> Line:
    """Reachability of a device's management protocol: connect and, for SSH, read the server's banner line."""
    shown = f"≤ {limits['latency_max_ms']:g} ms"
    command = f"TCP {address}:{port}" + ("" if telnet else ", read the SSH banner")
    start = time.monotonic()
    try:
        with socket.create_connection((address, port), timeout=SSH_TIMEOUT_S) as conn:
            banner = b""
            if not telnet:
                conn.settimeout(SSH_TIMEOUT_S)
                while b"\n" not in banner and len(banner) < 1024:
                    chunk = conn.recv(256)
                    if not chunk:
                        break
                    banner += chunk
    except OSError as exc:
        return Line(name, "mgmt", f"{address}:{port}", RED, "unreachable", shown, reason=f"{type(exc).__name__}: {exc}",
                    command=command)
    latency = (time.monotonic() - start) * 1000
    text = banner.decode("ascii", "replace").strip()
    if not telnet and not text.startswith("SSH-"):
        return Line(name, "mgmt", f"{address}:{port}", RED, "no SSH banner", shown, measured=round(latency, 1),
                    reason=f"the port answered without an SSH banner: {text[:80]!r}", command=command)
    slow = latency > limits["latency_max_ms"]
    return Line(name, "mgmt", f"{address}:{port}", AMBER if slow else GREEN, f"{latency:.0f} ms", shown,
                measured=round(latency, 1), reason=("slow answer; " if slow else "") + text[:80], command=command)


# --- the whole inspection --------------------------------------------------------------------------------------------

@dataclass
class Asset:
    name: str
    kind: str  # linux / network
    host_kind: str
    vendor: str
    limits: dict[str, float]
    values: dict[str, Any]


def load_assets(inv: Any, overrides: Mapping[str, float]) -> tuple[list[Asset], list[Asset]]:
    devices = set(inv.hosts("network_devices"))
    servers: list[Asset] = []
    nets: list[Asset] = []
    problems = []
    for name in inv.hosts("all"):
        values = inv.vars(name)
        try:
            limits = thresholds(values, overrides)
        except InputError as exc:
            problems.append(f"{name}: {exc}")
            continue
        asset = Asset(name, "network" if name in devices else "linux", str(values.get("host_kind", "")),
                      str(values.get("vendor", "")), limits, values)
        (nets if name in devices else servers).append(asset)
    if problems:
        raise InputError("; ".join(dict.fromkeys(problems)))
    return servers, nets


def accounts_lines(surveys: Iterable[Any]) -> list[Line]:
    """AC-02 in the inspection: per server, database and device, the accounts that can log in and that the staff
    roster does not know or that belong to departed staff (baseline.operations.orphans surveys). Red on any."""
    out = []
    for s in surveys:
        command = "; ".join(s.commands) or "baseline orphans"
        if s.error:
            out.append(unverified(s.asset, "accounts", s.kind, "0", f"accounts not read: {s.error}", command=command))
        elif s.findings:
            names = ", ".join(f.account for f in s.findings)
            out.append(Line(s.asset, "accounts", s.kind, RED, f"{len(s.findings)}: {names}", "0",
                            measured=len(s.findings), command=command,
                            reason="; ".join(f"{f.account}: {f.why} ({f.where})" for f in s.findings)))
        else:
            out.append(Line(s.asset, "accounts", s.kind, GREEN, f"0 of {s.checked}", "0", measured=0.0,
                            command=command))
    return out


def survey_accounts(inv: Any, kept: list[Any] | None = None) -> list[Line]:
    """The orphan-account lines of the inventory; an inventory the survey cannot use gives one amber line per
    asset with the reason (the other lines of the inspection stand). The surveys themselves are added to `kept`,
    for the AC-02 records (`main`), so that one survey serves both the inspection and AC-02."""
    from baseline.netdev.definitions import NetdevError
    from baseline.operations import orphans

    try:
        surveys = orphans.survey(inv)
        if kept is not None:
            kept.extend(surveys)
        return accounts_lines(surveys)
    except (orphans.OrphansError, NetdevError) as exc:
        return [unverified(name, "accounts", "-", "0", f"accounts not compared: {exc}", command="baseline orphans")
                for name in inv.hosts("all")]


def inspect(inv: Any, ssh_config: Path, overrides: Mapping[str, float], drills: Path, *,
            gather: Callable[[Path, str, str, float], HostProbe] = gather_host,
            accounts: Callable[[Any], list[Line]] = survey_accounts) -> list[Line]:
    """Every line of the inspection of inventory `inv`."""
    from baseline.compliance import SharedConnections

    servers, devices = load_assets(inv, overrides)
    groups = inv.groups()
    log_servers = groups.get("log_servers", [])
    stores = groups.get("backup_servers", [])
    drill_hosts = [h for h in groups.get("drill_hosts", []) if h in {s.name for s in servers}]
    clients = [h for h in groups.get("backup_clients", []) if h in {s.name for s in servers}]
    by_name = {a.name: a for a in [*servers, *devices]}
    kernel_only = set(groups.get(KERNEL_ONLY_GROUP, []))

    def script(asset: Asset) -> str:
        v = asset.values
        return render_probe({
            "HOURS": f"{asset.limits['window_hours']:g}",
            "PKI_DIR": str(setting(v, "pki_remote_dir")),
            "STATE_DIR": str(setting(v, "backup_client_state_dir")) if asset.name in clients else "",
            "LOG_DIR": str(setting(v, "logserver_dir")) if asset.name in log_servers else "",
            "DEVICE_LOG_DIR": str(setting(v, "logserver_device_dir")) if asset.name in log_servers else "",
            "STORE_ROOT": str(setting(v, "backup_store_root")) if asset.name in stores else "",
            "DRILL_DIR": str(setting(v, "restore_drill_records_dir")) if asset.name in drill_hosts else "",
        })

    scripts = {a.name: script(a) for a in servers}
    shared = SharedConnections(ssh_config)
    try:
        with ThreadPoolExecutor(max_workers=max(1, min(32, len(servers) + len(devices)))) as pool:
            accounts_job = pool.submit(accounts, inv)
            host_jobs = {a.name: pool.submit(gather, shared.config, a.name, scripts[a.name], login_wait(a.values))
                         for a in servers}
            device_jobs = [pool.submit(device_line, d.name, str(d.values.get("ansible_host", d.name)),
                                       int(d.values.get("ansible_port", 22)), d.limits,
                                       "telnet" in str(d.values.get("netmiko_device_type", "")))
                           for d in devices]
            probes = {name: job.result() for name, job in host_jobs.items()}
            device_results = [job.result() for job in device_jobs]
            account_lines = accounts_job.result()
    finally:
        shared.close()
    now = time.time()
    lines: list[Line] = []
    for asset in servers:
        lines += host_lines(probes[asset.name], asset.limits, now, kernel_only=asset.name in kernel_only)
        if asset.name in clients:
            engines = [*(["postgresql"] if asset.name in groups.get("postgresql_servers", []) else []),
                       *(["mariadb"] if asset.name in groups.get("mariadb_servers", []) else []), "files"]
            probe = probes[asset.name]
            section = probe.sections.get("backups") if probe.reachable else None
            state_dir = str(setting(asset.values, "backup_client_state_dir"))
            if not probe.reachable:
                lines += [unverified(asset.name, "backup", e, "-", f"{asset.name} unreachable") for e in engines]
            else:
                lines += backup_lines(asset.name, section, engines, asset.limits, now=now, state_dir=state_dir)
    lines += device_results
    limits = {a.name: a.limits for a in [*servers, *devices]}
    for log_server in log_servers:
        found = probes.get(log_server)
        section = found.sections.get("logs") if found and found.reachable and not found.probe_error else None
        if section is None:
            section = Section(255, f"{log_server} unreachable or its probe did not run")
        senders = {a.name: {"address": a.values.get("ansible_host", ""), "simulator": a.host_kind == "simulator",
                            "hostname": a.values.get("netdev_hostname", "")}
                   for a in [*servers, *devices] if a.name not in log_servers and a.name not in kernel_only}
        lines += log_intake_lines(log_server, section, senders, limits, now=now,
                                  logdir=str(setting(by_name[log_server].values, "logserver_dir")))
    for store in stores:
        found = probes.get(store)
        section = found.sections.get("store") if found and found.reachable and not found.probe_error else None
        if section is None:
            section = Section(255, f"{store} unreachable or its probe did not run")
        lines += offsite_lines(store, section, clients, limits, now=now,
                               root=str(setting(by_name[store].values, "backup_store_root")))
    sources = {**{h: "postgresql" for h in groups.get("postgresql_servers", []) if h in by_name},
               **{h: "mariadb" for h in groups.get("mariadb_servers", []) if h in by_name}}
    kept_verdicts = {}
    for drill_host in drill_hosts:
        found = probes.get(drill_host)
        section = found.sections.get("drills") if found and found.reachable and not found.probe_error else None
        kept_verdicts[drill_host] = (str(setting(by_name[drill_host].values, "restore_drill_records_dir")), section)
    lines += drill_lines(drills, sources, limits, now, kept_verdicts)
    return lines + account_lines


# --- report and results ----------------------------------------------------------------------------------------------

def exit_status(lines: Iterable[Line]) -> int:
    return 1 if any(line.status == RED for line in lines) else 0


def build_report(lines: list[Line], *, inventory: str, started: datetime, seconds: float, run_id: str,
                 overrides: Mapping[str, float], assets: Mapping[str, Asset] | None = None) -> dict[str, Any]:
    counts = {s: sum(1 for line in lines if line.status == s) for s in (GREEN, AMBER, RED)}
    return {
        "schema": "baseline.inspection/1",
        "control": CONTROL,
        "run_id": run_id,
        "time": started.isoformat(timespec="seconds"),
        "seconds": round(seconds, 1),
        "inventory": inventory,
        "overrides": dict(overrides),
        "thresholds": {name: a.limits for name, a in (assets or {}).items()},
        "summary": counts,
        "status": RED if counts[RED] else AMBER if counts[AMBER] else GREEN,
        "lines": [{**asdict(line), "label_zh": KINDS[line.kind][0], "label_en": KINDS[line.kind][1]}
                  for line in lines],
    }


COLOURS = {GREEN: "#1a7f37", AMBER: "#b7791f", RED: "#c62828"}


def render_html(report: Mapping[str, Any], lang: str = "zh") -> str:
    """The report as one HTML page, zh and en labels, every value escaped."""
    e = html.escape
    first, second = (0, 1) if lang == "zh" else (1, 0)

    def both(pair: tuple[str, str]) -> str:
        return f"{e(pair[first])} / {e(pair[second])}"

    rows: list[str] = []
    attention: list[str] = []
    for line in report["lines"]:
        status = line["status"]
        verdict = both(UNVERIFIED) if line["unverified"] else both(STATUS_LABELS[status])
        label = (line["label_zh"], line["label_en"])
        rows.append(
            f'<tr class="{e(status)}"><td>{e(line["asset"])}</td><td>{both(label)}</td><td>{e(line["item"])}</td>'
            f'<td style="color:{COLOURS[status]};font-weight:bold">{verdict}</td><td>{e(line["value"])}</td>'
            f'<td>{e(line["threshold"])}</td><td>{e(line["reason"])}</td><td><code>{e(line["command"])}</code></td></tr>')
        if status != GREEN:
            attention.append(rows[-1])
    summary = report["summary"]
    overrides = ", ".join(f"{k}={v:g}" for k, v in report["overrides"].items())
    title = both(("每日巡检报告", "Daily inspection report"))
    head = [("资产", "Asset"), ("巡检项", "Line"), ("对象", "Item"), ("状态", "Status"), ("测量值", "Measured"),
            ("阈值", "Threshold"), ("说明", "Reason"), ("方法", "Command")]
    header = "<table><thead><tr>" + "".join(f"<th>{both(h)}</th>" for h in head) + "</tr></thead><tbody>"
    return "\n".join([
        "<!DOCTYPE html>", f'<html lang="{e(lang)}"><head><meta charset="utf-8"><title>{title}</title>',
        "<style>body{font-family:sans-serif}table{border-collapse:collapse}td,th{border:1px solid #ccc;"
        "padding:3px 6px;vertical-align:top}tr.red{background:#fdecea}tr.amber{background:#fff8e1}</style>",
        "</head><body>",
        f"<h1>{title} ({e(CONTROL)})</h1>",
        f"<p>{both(('时间', 'Time'))}: {e(report['time'])} UTC · {both(('清单', 'Inventory'))}: {e(report['inventory'])}"
        f" · run {e(report['run_id'])} · {e(str(report['seconds']))} s</p>",
        f"<p>{both(STATUS_LABELS[GREEN])}: {summary[GREEN]} · {both(STATUS_LABELS[AMBER])}: {summary[AMBER]} · "
        f"{both(STATUS_LABELS[RED])}: {summary[RED]}</p>",
        f"<p>{both(('阈值调整', 'Thresholds set on the command line'))}: {e(overrides)}</p>" if overrides else "",
        *([f"<h2>{both(('异常与关注', 'Faults and attention'))}</h2>", header, *attention, "</tbody></table>"]
          if attention else []),
        f"<h2>{both(('全部巡检项', 'Every line'))}</h2>", header, *rows, "</tbody></table></body></html>", ""])


def write_results(lines: list[Line], assets: Mapping[str, Asset], writer: ResultWriter, report_path: Path) -> None:
    """One OP-01 record per asset: fail when a line is red, not verifiable when no line could be measured, else
    pass (amber lines named in the reason)."""
    for name, asset in assets.items():
        own = [line for line in lines if line.asset == name]
        red = [line for line in own if line.status == RED]
        amber = [line for line in own if line.status == AMBER]
        measured = [line for line in own if not line.unverified]
        outcome = "fail" if red else "pass" if measured else "not_verifiable"
        shown = red or amber
        reason = "; ".join(f"{KINDS[x.kind][0]} {x.item}: {x.value} ({x.reason or x.threshold})" for x in shown[:8])
        if not reason:
            reason = f"{len(own)} inspection lines green"
        evidence = [Evidence(command=line.command or line.kind, observed=line.value, expected=line.threshold,
                             note=f"{line.status}: {KINDS[line.kind][1]} {line.item}"
                                  + (f" — {line.reason}" if line.reason else "")) for line in own]
        evidence.append(Evidence(command="daily inspection report", observed=str(report_path)))
        writer.record(asset=name, asset_kind=asset.kind, control_ids=["OP-01"], check="daily_inspection",
                      outcome=outcome, reason=reason, evidence=evidence, host_kind=asset.host_kind,
                      vendor=asset.vendor, method="probe")


def output_dir(given: str | None) -> Path:
    return Path(given or os.environ.get("BASELINE_INSPECTION_DIR") or REPO_ROOT / "reports" / "inspections")


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="baseline inspect", description="Daily inspection (巡检, OP-01) of every host "
                                "and device of the inventory: a dated JSON and HTML report and OP-01 results.")
    p.add_argument("-i", "--inventory", help="inventory (default: $BASELINE_INVENTORY, else the lab's)")
    p.add_argument("--out", help="report directory (default: $BASELINE_INSPECTION_DIR, else reports/inspections)")
    p.add_argument("--results-file", help="results file (JSON Lines) for the OP-01 records and the AC-02 records of "
                   "its orphan-account survey (default: results/inspection-<run id>.jsonl)")
    p.add_argument("--lang", choices=("zh", "en"), default="zh", help="first language of the labels (default zh)")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="NAME=VALUE",
                   help="tighten one threshold for this run: " + ", ".join(KNOBS_BY_NAME))
    p.add_argument("--drills", help="restore-drill records (default: results/restore-drill)")
    return p


def main(argv: list[str] | None = None) -> int:
    from baseline import compliance
    from baseline.operations import orphans

    args = parser().parse_args(argv)
    try:
        overrides = parse_overrides(args.overrides)
        try:
            inv = compliance.check_inventory(Path(args.inventory) if args.inventory else None)
        except compliance.InventoryError as exc:
            raise InputError(f"--inventory: {exc}") from exc
        source = Path(inv.path)
        ssh_config = Path(os.environ.get("BASELINE_SSH_CONFIG")
                          or (source if source.is_dir() else source.parent) / "ssh_config")
        servers, devices = load_assets(inv, overrides)
        if servers and not ssh_config.is_file():  # devices are reached directly, servers through the inventory's config
            raise InputError(f"SSH client config {ssh_config} does not exist (set BASELINE_SSH_CONFIG)")
    except InputError as exc:
        print(f"baseline inspect: {exc}", file=sys.stderr)
        return 2
    started = datetime.now(UTC)
    run_id = os.environ.get("BASELINE_RUN_ID", "").strip() or new_run_id()
    clock = time.monotonic()
    surveys: list[Any] = []
    try:
        lines = inspect(inv, ssh_config, overrides, Path(args.drills) if args.drills else
                        REPO_ROOT / "results" / "restore-drill",
                        accounts=lambda inventory: survey_accounts(inventory, surveys))
    except InputError as exc:
        print(f"baseline inspect: {exc}", file=sys.stderr)
        return 2
    assets = {a.name: a for a in [*servers, *devices]}
    report = build_report(lines, inventory=str(source), started=started, seconds=time.monotonic() - clock,
                          run_id=run_id, overrides=overrides, assets=assets)
    out = output_dir(args.out)
    out.mkdir(parents=True, exist_ok=True)
    stem = out / f"inspection-{started.strftime('%Y%m%dT%H%M%SZ')}"
    stem.with_suffix(".json").write_text(json.dumps(report, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    stem.with_suffix(".html").write_text(render_html(report, args.lang), encoding="utf-8")
    results = Path(args.results_file) if args.results_file else REPO_ROOT / "results" / f"inspection-{run_id}.jsonl"
    write_results(lines, assets, ResultWriter(results, run_id=run_id), stem.with_suffix(".html"))
    orphans.write_results(surveys, results, run_id)  # AC-02 from the same survey as the accounts lines
    lang = 0 if args.lang == "zh" else 1
    for line in lines:
        if line.status != GREEN:
            verdict = UNVERIFIED[lang] if line.unverified else STATUS_LABELS[line.status][lang]
            print(f"{line.status.upper():<5} {line.asset:<14} {KINDS[line.kind][lang]} [{line.item}] {verdict}: "
                  f"{line.value} (threshold {line.threshold}) {line.reason}")
    summary = report["summary"]
    print(f"inspection {run_id}: {summary[GREEN]} green, {summary[AMBER]} amber, {summary[RED]} red in "
          f"{report['seconds']} s; report {stem}.html and .json; results {results}")
    return exit_status(lines)


if __name__ == "__main__":
    sys.exit(main())
