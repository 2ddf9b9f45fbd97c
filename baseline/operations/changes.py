"""Change records (CM-01, 第二十二条): the archive every Ansible run appends to, and `scripts/changes`.

    scripts/changes list            every change, a line each
    scripts/changes show ID         one change: who, why, when, hosts, each changed task per host with its diff
    scripts/changes verify          the hash chain from the first record to the last; exit 1 naming every record
                                    that was removed, reordered or edited; --results-file writes CM-01 results

The records are written by the Ansible callback plugin `plugins/callback/baseline_changes.py` (enabled in
ansible.cfg): one per `ansible-playbook` run, append-only and hash-chained (baseline/operations/chain.py) in
`changes/changes.jsonl` at the repository root, or $BASELINE_CHANGES_DIR. A run must give its reason
(`-e change_reason=...` or $BASELINE_CHANGE_REASON) unless it runs on the built-in lab's inventory.
Other engines (`baseline netdev push` and `rollback`) write the same records through `Change` (engine field:
ansible, netdev or pyinfra). With $BASELINE_CHANGES_SYSLOG set, `append` also sends each record to syslog
(local6, tag baseline-changes) for the log server.
"""

from __future__ import annotations

import argparse
import atexit
import difflib
import getpass
import json
import os
import socket
import sys
import threading
import uuid
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from baseline import REPO_ROOT
from baseline.operations.chain import Archive
from baseline.results import Evidence, ResultWriter, new_run_id

SCHEMA = "baseline.change/1"
DEFAULT_DIR = REPO_ROOT / "changes"
DIR_ENV = "BASELINE_CHANGES_DIR"
REASON_VARIABLE = "change_reason"
REASON_ENV = "BASELINE_CHANGE_REASON"
OPERATOR_ENV = "BASELINE_OPERATOR"
LAB_INVENTORY = REPO_ROOT / "inventory" / "lab"
# the lab's twins for the pyinfra engine (`scripts/lab up --twins`) are the lab's too
LAB_INVENTORIES = (LAB_INVENTORY, REPO_ROOT / "inventory" / "lab-twins")
LAB_REASON = "lab run (the built-in lab needs no change reason)"
REDACTED = "********"
# Inventory groups that make a host an asset of each kind (docs/contracts.md, "Lab"); CM-01 targets linux and network.
KIND_GROUPS = {"linux_servers": "linux", "postgresql_servers": "postgresql", "mariadb_servers": "mariadb",
               "network_devices": "network"}
CM01_KINDS = ("linux", "network")


def archive(directory: str | os.PathLike | None = None) -> Archive:
    return Archive(directory or os.environ.get(DIR_ENV) or DEFAULT_DIR, "changes")


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def new_change_id() -> str:
    return "CHG-" + datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ") + "-" + uuid.uuid4().hex[:6]


AWX_USER_VARIABLE = "awx_user_name"  # the AWX / Ansible Automation Platform user who launched the job (docs/awx.md)


def operator(environ: Mapping[str, str] = os.environ, extra_vars: Mapping[str, Any] | None = None) -> str:
    """The person behind the run: $BASELINE_OPERATOR, else the AWX user who launched the job (a job's OS account is
    the execution environment's, never a person's), else the user who ran sudo, else the login user."""
    launched_by = str((extra_vars or {}).get(AWX_USER_VARIABLE) or "").strip()
    return environ.get(OPERATOR_ENV) or launched_by or environ.get("SUDO_USER") or getpass.getuser()


def controller() -> str:
    return socket.gethostname()


def is_lab(sources: Iterable[str]) -> bool:
    """True when every inventory source is the built-in lab's (inventory/lab, inventory/lab-twins or a file in
    them)."""
    labs = [lab.resolve() for lab in LAB_INVENTORIES]
    paths = [Path(s).expanduser().resolve() for s in sources if s]
    return bool(paths) and all(any(p == lab or lab in p.parents for lab in labs) for p in paths)


def reason(extra_vars: Mapping[str, Any], sources: Iterable[str],
           environ: Mapping[str, str] = os.environ) -> tuple[str, str]:
    """(reason, where it came from); ("", "") when none is given and the inventory is not the lab's."""
    given = extra_vars.get(REASON_VARIABLE)
    if given is not None and str(given).strip():
        return str(given).strip(), f"-e {REASON_VARIABLE}"
    if environ.get(REASON_ENV, "").strip():
        return environ[REASON_ENV].strip(), REASON_ENV
    if is_lab(sources):
        return LAB_REASON, "lab default"
    return "", ""


_reason_of = reason  # Change() takes a `reason` argument of its own


def missing_reason(sources: Iterable[str], option: str = f"-e {REASON_VARIABLE}='...'") -> str:
    where = ", ".join(sources) or "(none given)"
    return (f"CM-01: this run has no change reason. Every change to inventory {where} is recorded with why it is made "
            f"(第二十二条(一)): give {option} or set {REASON_ENV}. Nothing was run and no host was "
            "contacted.")


def asset_kinds(groups: Iterable[str]) -> list[str]:
    return sorted({KIND_GROUPS[g] for g in groups if g in KIND_GROUPS})


class Redactor:
    """Replaces every known secret (vault values) in strings, lists and mappings with ********.
    Multi-line secrets are also replaced line by line, so a diff that shows part of a key does not keep it."""

    def __init__(self, secrets: Iterable[str] = ()):
        self.secrets: set[str] = set()
        self.add(secrets)

    def add(self, secrets: Iterable[str]) -> None:
        for secret in secrets:
            if not isinstance(secret, str) or not secret:
                continue
            self.secrets.add(secret)
            self.secrets.update(line.strip() for line in secret.splitlines() if len(line.strip()) >= 8)
        self._ordered = sorted(self.secrets, key=len, reverse=True)

    def text(self, value: str) -> str:
        for secret in getattr(self, "_ordered", ()):
            if secret in value:
                value = value.replace(secret, REDACTED)
        return value

    def __call__(self, value: Any) -> Any:
        if isinstance(value, str):
            return self.text(str(value))
        if isinstance(value, Mapping):
            return {self.text(str(k)): self(v) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [self(v) for v in value]
        if value is None or isinstance(value, (bool, int, float)):
            return value
        return self.text(str(value))


def clip(text: Any, limit: int = 2000) -> str:
    text = str(text)
    return text if len(text) <= limit else text[:limit] + f" … ({len(text) - limit} more characters)"


# --- writing records from other engines than Ansible (baseline netdev push / rollback, pyinfra) --------------------

ENGINES = ("ansible", "netdev", "pyinfra")
SYSLOG_ENV = "BASELINE_CHANGES_SYSLOG"  # 1/yes/on: a copy of each record to /dev/log; an absolute path: to that socket
SYSLOG_SOCKET = "/dev/log"
SYSLOG_TAG = "baseline-changes"
SYSLOG_PRIORITY = 22 * 8 + 6  # facility local6, severity info
SYSLOG_MAX_BYTES = 8000  # rsyslog's default message size limit is 8 KiB: a longer record is sent without its diffs
_TRUE = ("1", "yes", "true", "on")


class ReasonMissing(ValueError):
    """A run on an inventory other than the lab's without a change reason; the message says how to give one."""


def syslog_target(environ: Mapping[str, str] = os.environ) -> str | None:
    """The unix datagram socket a copy of each record goes to, from $BASELINE_CHANGES_SYSLOG; None when off."""
    value = environ.get(SYSLOG_ENV, "").strip()
    if not value or value.lower() in ("0", "no", "false", "off"):
        return None
    if value.lower() in _TRUE:
        return SYSLOG_SOCKET
    if value.startswith("/"):
        return value
    raise ValueError(f"{SYSLOG_ENV}={value!r}: expected 1 (send to {SYSLOG_SOCKET}), 0, or the absolute path of a "
                     "unix datagram socket")


def syslog_message(record: Mapping[str, Any], limit: int = SYSLOG_MAX_BYTES) -> bytes:
    """One RFC 3164 message, facility local6, tag baseline-changes, the record as JSON (its secrets are redacted
    before it is chained). A record longer than `limit` goes without its diffs and says so; its hash still ties the
    copy to the archive's record."""
    def encode(body: Mapping[str, Any]) -> bytes:
        text = json.dumps(body, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)
        stamp = datetime.now().strftime("%b %e %H:%M:%S")  # RFC 3164: local time, day padded with a space
        return f"<{SYSLOG_PRIORITY}>{stamp} {SYSLOG_TAG}[{os.getpid()}]: {text}".encode()

    message = encode(record)
    if len(message) <= limit:
        return message
    slim = {**record, "changes": [{k: v for k, v in c.items() if k not in ("diff", "items")}
                                  for c in record.get("changes") or [] if isinstance(c, Mapping)],
            "syslog_note": "diffs left out of this copy (too long for one message); the archive's record with this "
                           "hash holds them"}
    message = encode(slim)
    if len(message) <= limit:
        return message
    keep = ("schema", "id", "engine", "seq", "hash", "prev", "operator", "reason", "start", "end", "result", "mode",
            "hosts")
    return encode({**{k: record.get(k) for k in keep if k in record},
                   "syslog_note": "summary only (the record is too long for one message); the archive's record with "
                                  "this hash holds the rest"})


def send_syslog(record: Mapping[str, Any], path: str) -> None:
    """Send `record` as one datagram to the unix socket `path` (the local syslog daemon forwards it)."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.settimeout(2)
        sock.connect(path)
        sock.send(syslog_message(record))


def _stderr_warning(text: str) -> None:
    print(f"warning: {text}", file=sys.stderr, flush=True)


def append(record: dict[str, Any], directory: str | os.PathLike | None = None, *,
           environ: Mapping[str, str] = os.environ, warn: Callable[[str], None] = _stderr_warning) -> dict[str, Any]:
    """Chain `record` into the change archive; with $BASELINE_CHANGES_SYSLOG set, also send a copy to syslog.
    The copy never fails the run: when it cannot be sent, `warn` says why (the archive keeps the record)."""
    chained = archive(directory).append(record)
    try:
        target = syslog_target(environ)
        if target:
            send_syslog(chained, target)
    except (OSError, ValueError) as exc:
        warn(f"CM-01: change record {chained.get('id')} is in the archive, but its copy to the log server could not "
             f"be sent ({exc}); check {SYSLOG_ENV} and the local syslog daemon")
    return chained


class Change:
    """One change record written by an engine other than Ansible, with the same fields as the callback plugin's.

        change = Change("netdev", tool="baseline netdev push", inventory=[path], reason=args.reason, check=dry_run,
                        secrets=vault_values)          # ReasonMissing when no reason is given outside the lab
        change.host("sw1", ["network"])
        change.changed("sw1", "push the device baseline", "netdev.push", before=..., after=...)
        change.problem("sw1", "push the device baseline", "failed", "…")
        change.finish("succeeded")                      # or failed | unreachable | interrupted; appends once

    Every text is passed through a Redactor fed with `secrets` (and whatever `add_secrets` adds) before it is
    recorded. A change that is never finished is recorded as interrupted when the process exits (atexit)."""

    def __init__(self, engine: str, *, tool: str, inventory: Iterable[str], reason: str | None = None,
                 reason_option: str = "--reason '...'", check: bool = False, limit: str = "",
                 secrets: Iterable[str] = (), directory: str | os.PathLike | None = None,
                 environ: Mapping[str, str] = os.environ, warn: Callable[[str], None] = _stderr_warning,
                 at_exit: bool = True):
        if engine not in ENGINES:
            raise ValueError(f"engine {engine!r} is not one of {', '.join(ENGINES)}")
        sources = [str(s) for s in inventory]
        given = (reason or "").strip()
        text, source = (given, reason_option.split(maxsplit=1)[0]) if given else _reason_of({}, sources, environ)
        if not text:
            raise ReasonMissing(missing_reason(sources, reason_option))
        self.redact = Redactor(secrets)
        self.directory = directory
        self.environ = environ
        self.warn = warn
        self.record: dict[str, Any] = {
            "schema": SCHEMA, "id": new_change_id(), "engine": engine, "tool": tool,
            "operator": operator(environ), "account": _account(), "controller": controller(),
            "reason": self.redact(text), "reason_source": source, "inventory": sources, "lab": is_lab(sources),
            "mode": "check" if check else "apply", "diff_mode": True, "limit": limit, "tags": [], "playbooks": [],
            "start": now_iso()}
        self.hosts: dict[str, list[str]] = {}
        self.stats: dict[str, dict[str, int]] = {}
        self.changes: list[dict[str, Any]] = []
        self.problems: list[dict[str, Any]] = []
        self.written: dict[str, Any] | None = None
        self._lock = threading.Lock()
        self._pid = os.getpid()
        if at_exit:
            atexit.register(self._at_exit)

    @property
    def id(self) -> str:
        return str(self.record["id"])

    @property
    def check(self) -> bool:
        return self.record["mode"] == "check"

    def add_secrets(self, secrets: Iterable[str]) -> None:
        with self._lock:
            self.redact.add(secrets)

    def host(self, name: str, kinds: Iterable[str] = (), **counts: int) -> None:
        """A host or device the run handled; `counts` (ok, changed, failed, unreachable, skipped) go to stats."""
        with self._lock:
            self.hosts.setdefault(name, sorted(set(kinds)))
            stats = self.stats.setdefault(name, {"ok": 0, "changed": 0, "failed": 0, "unreachable": 0, "skipped": 0})
            for key, value in counts.items():
                stats[key] = stats.get(key, 0) + int(value)

    def changed(self, host: str, task: str, action: str, *, before: str | None = None, after: str | None = None,
                before_header: str = "before", after_header: str = "after", prepared: str | None = None,
                failed: bool = False, **extra: Any) -> dict[str, Any]:
        """A changed (or, in check mode, planned) target with its diff; `extra` fields are kept as given, redacted."""
        entry: dict[str, Any] = {"host": host, "task": clip(self.redact(task), 300), "action": action,
                                 "planned": self.check}
        if failed:
            entry["failed"] = True
        diff: dict[str, Any] = {}
        if prepared is not None:
            diff["prepared"] = self.redact(prepared)
        elif before is not None or after is not None:
            diff = {"before": self.redact(before or ""), "after": self.redact(after or ""),
                    "before_header": self.redact(before_header), "after_header": self.redact(after_header)}
        if diff:
            entry["diff"] = [diff]
        entry.update({k: self.redact(v) for k, v in extra.items()})
        with self._lock:
            self.changes.append(entry)
        return entry

    def problem(self, host: str, task: str, what: str, msg: str) -> None:
        with self._lock:
            self.problems.append({"host": host, "task": clip(self.redact(task), 300), "what": what,
                                  "msg": clip(self.redact(str(msg)), 1000)})

    def finish(self, result: str) -> dict[str, Any]:
        """Append the record (once; a second call returns the first record). `result` is one of RESULTS."""
        if result not in RESULTS:
            raise ValueError(f"result {result!r} is not one of {', '.join(RESULTS)}")
        with self._lock:
            if self.written is not None:
                return self.written
            record = {**self.record, "end": now_iso(), "result": result, "hosts": sorted(self.hosts),
                      "assets": {h: k for h, k in sorted(self.hosts.items()) if k}, "stats": self.stats,
                      "changes": self.changes, "problems": self.problems}
            self.written = append(record, self.directory, environ=self.environ, warn=self.warn)
            return self.written

    def _at_exit(self) -> None:
        if os.getpid() == self._pid and self.written is None:
            try:
                self.finish("interrupted")
            except Exception as exc:  # noqa: BLE001 - at exit there is nobody left to raise to
                self.warn(f"CM-01: change record {self.id} could not be written at exit: {type(exc).__name__}: {exc}")


def _account() -> str:
    try:
        return getpass.getuser()
    except Exception:  # noqa: BLE001 - no passwd entry (a container's numeric user)
        return str(os.getuid())


# --- reading the archive ----------------------------------------------------------------------------------------


def render_diff(diff: Mapping[str, Any]) -> list[str]:
    """A unified diff of one of Ansible's diff entries (before/after, or a prepared text)."""
    if diff.get("prepared"):
        return str(diff["prepared"]).splitlines()
    before, after = diff.get("before", ""), diff.get("after", "")
    if not isinstance(before, str) or not isinstance(after, str):
        return [f"before: {before!r}", f"after:  {after!r}"]
    return list(difflib.unified_diff(before.splitlines(), after.splitlines(), str(diff.get("before_header", "before")),
                                     str(diff.get("after_header", "after")), lineterm=""))


def render(record: Mapping[str, Any]) -> str:
    mode = "planned (check mode)" if record.get("mode") == "check" else "applied"
    lines = [f"{record.get('id')}  {mode}  result {record.get('result')}",
             f"  operator   {record.get('operator')} (account {record.get('account')} on {record.get('controller')})",
             f"  reason     {record.get('reason')}   [{record.get('reason_source')}]",
             f"  time       {record.get('start')} → {record.get('end')}",
             (f"  playbooks  {', '.join(record.get('playbooks', []))}" if record.get("engine", "ansible") == "ansible"
              else f"  engine     {record.get('engine')} ({record.get('tool')})"),
             f"  inventory  {', '.join(record.get('inventory', []))}"
             + (f"   limit {record['limit']}" if record.get("limit") else "")
             + (f"   tags {', '.join(record['tags'])}" if record.get("tags") else ""),
             f"  hosts      {', '.join(record.get('hosts', []))}"]
    stats = record.get("stats", {})
    for host in sorted(stats):
        s = stats[host]
        lines.append(f"    {host}: ok {s.get('ok', 0)}, changed {s.get('changed', 0)}, failed {s.get('failed', 0)}, "
                     f"unreachable {s.get('unreachable', 0)}, skipped {s.get('skipped', 0)}")
    changes = record.get("changes", [])
    lines.append(f"  changes    {len(changes)}" + (" (planned)" if record.get("mode") == "check" else ""))
    for change in changes:
        flag = " [planned]" if change.get("planned") else ""
        flag += " [failed]" if change.get("failed") else ""
        lines.append(f"    {change.get('host')}: {change.get('task')} ({change.get('action')}){flag}")
        if change.get("redacted"):
            lines.append(f"      {change['redacted']}")
        if change.get("backup"):
            lines.append(f"      backup: {change['backup']}")
        for item in change.get("items", []):
            lines.append(f"      item: {item}")
        for diff in change.get("diff", []):
            lines += [f"      {line}" for line in render_diff(diff)]
    if record.get("rollback_of"):
        lines.append(f"  rollback of {record['rollback_of']}")
    for host, held in sorted((record.get("kept") or {}).items()):  # copies kept on the host (playbooks/rollback.yml)
        files = held.get("files", []) if isinstance(held, Mapping) else []
        lines.append(f"  kept       {host}: {len(files)} file(s) in {held.get('dir', '?') if isinstance(held, Mapping) else '?'}")
        for item in files:
            before = str(item.get("sha256_before", ""))[:12] if item.get("existed_before") else "(absent)"
            after = (str(item.get("sha256_after", ""))[:12] if item.get("existed_after") else "(absent)"
                     ) if "existed_after" in item else "?"
            lines.append(f"      {item.get('path')}  {before} -> {after}")
    for problem in record.get("problems", []):
        lines.append(f"  problem    {problem.get('host')}: {problem.get('task')}: {problem.get('what')}: {problem.get('msg')}")
    return "\n".join(lines)


RESULTS = ("succeeded", "failed", "unreachable", "interrupted")
REQUIRED_FIELDS = ("id", "operator", "reason", "start", "end", "result")
WINDOW_HOURS_DEFAULT = 24  # the policy's inspection interval when no policy file says (第二十条(九)(十))


def window_hours() -> int:
    """The evidence window in hours: the policy's inspection interval (inspection_interval_hours), as the report."""
    from baseline.report.assets import policy_value

    value = policy_value("inspection_interval_hours", WINDOW_HOURS_DEFAULT)
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else WINDOW_HOURS_DEFAULT


def parse_moment(text: Any) -> datetime | None:
    """An ISO 8601 time of a record (UTC when it names no zone); None when it cannot be read."""
    try:
        moment = datetime.fromisoformat(str(text).replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def in_window(record: Mapping[str, Any], since: datetime) -> bool:
    """True when the run ended (or, interrupted, started) at or after `since`; a record without a readable time
    counts as in the window, so that it is checked rather than passed over."""
    moment = parse_moment(record.get("end") or record.get("start"))
    return moment is None or moment >= since


def incomplete(record: Mapping[str, Any]) -> list[str]:
    """What a change record lacks of what CM-01 asks it to hold (第二十二条): who, why, when, the result, and no
    result or diff of a task whose output is secret (no_log)."""
    name = f"{record.get('id', '?')}, seq {record.get('seq', '?')}"
    found = [f"{name}: no {key}" for key in REQUIRED_FIELDS if not str(record.get(key) or "").strip()]
    if record.get("result") and record.get("result") not in RESULTS:
        found.append(f"{name}: result {record.get('result')!r} is not one of {', '.join(RESULTS)}")
    for change in record.get("changes") or []:
        if isinstance(change, Mapping) and change.get("redacted") and (change.get("diff") or change.get("items")):
            found.append(f"{name}: {change.get('host')}: {change.get('task')}: a no_log task's diff or items are "
                         "recorded")
    return found


def cm01_results(writer: ResultWriter, records: list[dict[str, Any]], problems: list[str], path: Path, *,
                 since: datetime | None = None, assets: Iterable[tuple[str, str]] = ()) -> int:
    """One CM-01 result per host or device of the kinds CM-01 targets, named by the archive or given in `assets`
    (host, kind), from the records of the evidence window (ended at or after `since`; all when None).

    fail: the chain is broken (a record removed, reordered or edited), or a record of the window lacks its reason,
          operator, times or result, or holds a no_log task's output; the problems are named.
    pass: the chain is intact and every record of the window is complete, with the host's count and last change.
    not_verifiable: there is no archive at all (no record was ever written): nothing shows how changes are made;
          or a network device the window names no change to while the archive holds no `netdev push` record
          at all (device pushes made before they were recorded cannot be seen).
    With `assets` (the inventory's), results are written for those alone: a host the archive names but the inventory
    does not (another site's, or one taken out of service) belongs to another report. The chain and the window's
    records are checked whole all the same.
    Returns the number of results written."""
    window = [r for r in records if since is None or in_window(r, since)]
    gaps = [gap for record in window for gap in incomplete(record)]
    in_span = {id(record) for record in window}
    last: dict[tuple[str, str], dict[str, Any] | None] = {(host, kind): None for host, kind in assets
                                                          if kind in CM01_KINDS}
    given = bool(last)
    for record in records:  # the hosts the archive names (with assets given: in the window); their last change
        for host, kinds in (record.get("assets") or {}).items():
            for kind in kinds:
                if kind in CM01_KINDS and (not given or (host, kind) in last):
                    last.setdefault((host, kind), None)
                    if id(record) in in_span:
                        last[(host, kind)] = record
    span = (f"since {since.isoformat(timespec='seconds')}" if since is not None else "in the whole archive")
    device_records = any(r.get("engine") == "netdev" for r in records)
    for host, kind in sorted(last):
        latest = last[(host, kind)]
        count = sum(1 for r in window if host in (r.get("assets") or {}))
        observed: dict[str, Any] = {"records": len(records), "records_in_window": len(window),
                                    "records_for_host_in_window": count, "window_since": since.isoformat(timespec="seconds")
                                    if since is not None else "", "last": latest.get("id") if latest else "",
                                    "problems": problems, "incomplete": gaps}
        if problems or gaps:
            outcome, reason = "fail", "; ".join(
                ([f"change archive broken: {'; '.join(problems)}"] if problems else [])
                + ([f"change record(s) {span} incomplete: {'; '.join(gaps)}"] if gaps else []))
        elif not records:
            outcome, reason = "not_verifiable", (f"no change archive at {path}: no change was ever recorded, so how "
                                                 "changes are made cannot be seen")
        elif latest is None and kind == "network" and not device_records:
            outcome, reason = "not_verifiable", (
                f"no change to {host} recorded {span}, and the archive holds no record of `scripts/netdev push` "
                "(engine netdev) at all: device changes made before the push recorded them cannot be seen; the "
                "archive is intact")
        elif latest is None:
            outcome, reason = "pass", (f"no change to {host} recorded {span}; the hash-chained archive of "
                                       f"{len(records)} record(s) is intact and its {len(window)} record(s) {span} "
                                       "are complete")
        else:
            outcome, reason = "pass", (
                f"{count} recorded change(s) to {host} {span} in an intact hash-chained archive of {len(records)}, "
                f"every record {span} complete (reason, operator, times, result); the last {latest.get('id')} "
                f"({'planned' if latest.get('mode') == 'check' else 'applied'}, {latest.get('result')}) at "
                f"{latest.get('end')} by {latest.get('operator')}: {latest.get('reason')}")
        writer.record(asset=host, asset_kind=kind, control_ids=["CM-01"], check="change_records", outcome=outcome,
                      method="record", reason=reason,
                      evidence=[Evidence(command=f"scripts/changes verify ({path})", observed=observed,
                                         expected="every record holds the SHA-256 of the one before it and HEAD the "
                                                  "last; every record of the evidence window names its operator, "
                                                  "reason, start, end and result")])
    return len(last)


def inventory_assets(path: str) -> list[tuple[str, str]]:
    """(host, kind) of the inventory's hosts and devices of the kinds CM-01 targets."""
    from baseline.report.assets import from_inventory

    found, _ = from_inventory(path)
    return [(asset.name, asset.kind) for asset in found if asset.kind in CM01_KINDS]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="scripts/changes", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--dir", default=None, help=f"change archive directory (default: ${DIR_ENV}, else changes/)")
    sub = p.add_subparsers(dest="command", required=True)
    sub.add_parser("list", help="every change, a line each")
    s = sub.add_parser("show", help="one change with its tasks and diffs")
    s.add_argument("id", help="change id (CHG-...) as `list` prints it")
    v = sub.add_parser("verify", help="check the hash chain; exit 1 naming each removed, reordered or edited record")
    v.add_argument("--results-file", help="write a CM-01 result per host the archive names to this results file")
    v.add_argument("--run-id", help="run id of those results (default: $BASELINE_RUN_ID, else a new one)")
    v.add_argument("--inventory", help="also write a CM-01 result for every server and device of this inventory, "
                                       "changed in the evidence window or not (no archive at all: not verifiable)")
    v.add_argument("--window-hours", type=int, default=None, metavar="H",
                   help="evidence window: the records of the last H hours must be complete (default: the policy's "
                        "inspection_interval_hours, as the report)")
    args = p.parse_args(argv)
    store = archive(args.dir)
    if args.command == "list":
        for r in store.read():
            mode = "planned" if r.get("mode") == "check" else "applied"
            print(f"{r.get('id')}  {r.get('start')}  {mode:7}  {r.get('result', '?'):11}  {r.get('operator')}  "
                  f"{len(r.get('changes', []))} change(s) on {len(r.get('hosts', []))} host(s)  {r.get('reason')}")
        return 0
    if args.command == "show":
        found = [r for r in store.read() if r.get("id") == args.id]
        if not found:
            print(f"scripts/changes: no change {args.id} in {store.path}", file=sys.stderr)
            return 2
        print(render(found[-1]))
        return 0
    checked = store.verify()
    problems = [str(problem) for problem in checked.problems]
    hours = args.window_hours if args.window_hours and args.window_hours > 0 else window_hours()
    since = datetime.now(UTC) - timedelta(hours=hours)
    gaps = [gap for record in checked.records if in_window(record, since) for gap in incomplete(record)]
    if args.results_file:
        run = args.run_id or os.environ.get("BASELINE_RUN_ID", "").strip() or new_run_id()
        try:
            assets = inventory_assets(args.inventory) if args.inventory else []
        except Exception as exc:  # the inventory library's errors are of many kinds; name the file and stop
            print(f"scripts/changes: the inventory {args.inventory} cannot be read: {exc}", file=sys.stderr)
            return 2
        written = cm01_results(ResultWriter(Path(args.results_file), run), checked.records, problems, store.path,
                               since=since, assets=assets)
        print(f"{written} CM-01 result(s) written to {args.results_file}")
    for problem in problems:
        print(f"  {problem}")
    for gap in gaps:
        print(f"  incomplete (last {hours} h): {gap}")
    print(f"change archive {store.path}: {len(checked.records)} record(s), "
          + (f"{len(problems)} problem(s)" if problems else "hash chain intact")
          + (f", {len(gaps)} incomplete record field(s) in the last {hours} h" if gaps else ""))
    return 1 if problems or gaps else 0

if __name__ == "__main__":
    sys.exit(main())
