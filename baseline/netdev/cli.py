"""`scripts/netdev`: render, backup, push and audit network device baselines (NW-01..NW-08); roll a push back.

Every push and rollback appends one change record (CM-01, baseline/operations/changes.py, engine netdev; the diffs
and refusals in baseline/netdev/rollback.py): a reason is required (--reason or $BASELINE_CHANGE_REASON) unless the
inventory is the lab's.

Devices are handled in parallel; each finished device prints one progress line on stderr. The exit status is
1 when any device failed or any check failed, 2 when the run was refused before contacting any device (an
inventory without devices, an unknown --limit, policy floors, weak or missing secrets).

Secret values (vault variables) never appear in what is printed or logged: they are replaced with ******.

SIGINT (Ctrl-C) or SIGTERM during a push starts no further device; devices already being changed are finished
(verified, saved) or restored, the archive gets its SHA256SUMS, each device's state is printed, and the status is
130 (SIGINT) or 143 (SIGTERM).
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path
from typing import TypeVar

from baseline import REPO_ROOT, policy
from baseline import inventory as inventory_mod
from baseline.netdev import audit, backup, push, rollback
from baseline.netdev.devices import (
    NetdevError,
    NetDevice,
    Redactor,
    backup_root,
    load,
    mask_secrets_in_logs,
    secret_values,
)
from baseline.netdev.drivers import connect
from baseline.netdev.render import Rendered, render
from baseline.operations import changes
from baseline.results import Evidence, ResultWriter, new_run_id

T = TypeVar("T")


def run_parallel(devices: list[NetDevice], work: Callable[[NetDevice], T], workers: int,
                 describe: Callable[[T], str], quiet: bool = False) -> dict[str, T | BaseException]:
    """Run `work` on every device with `workers` threads; print `[n/total] device: description (seconds)`,
    secrets masked."""
    redact = Redactor(devices)
    results: dict[str, T | BaseException] = {}
    total = len(devices)
    with ThreadPoolExecutor(max_workers=max(1, min(workers, total or 1))) as pool:
        started = {pool.submit(_timed, work, d): d for d in devices}
        for done, future in enumerate(as_completed(started), 1):
            device = started[future]
            value, seconds = future.result()
            results[device.name] = value
            text = f"ERROR {type(value).__name__}: {value}" if isinstance(value, BaseException) else describe(value)
            if not quiet:
                print(redact(f"[{done}/{total}] {device.name}: {text} ({seconds:.2f} s)"), file=sys.stderr, flush=True)
    return results


def _timed(work: Callable[[NetDevice], T], device: NetDevice) -> tuple[T | BaseException, float]:
    start = time.monotonic()
    try:
        value: T | BaseException = work(device)
    except Exception as exc:  # noqa: BLE001 - reported per device; the others carry on
        value = exc
    return value, time.monotonic() - start


def _preflight(devices: list[NetDevice], with_secrets: bool) -> dict[str, Rendered]:
    """Render every device first: weak or missing secrets and policy violations stop the run before any contact."""
    rendered, problems = {}, []
    for device in devices:
        try:
            rendered[device.name] = render(device, with_secrets=with_secrets)
        except NetdevError as exc:
            problems += exc.problems
    if problems:
        raise NetdevError(list(dict.fromkeys(problems)))  # a template's syntax error is named once, not per device
    return rendered


def _check_login(devices: list[NetDevice]) -> None:
    problems = [f"{d.name}: {v}" for d in devices for v in policy.violations(d.values)]
    problems += [f"{d.name}: no password for {d.login_user} in vault_netdev_passwords" for d in devices if not d.login_password()]
    if problems:
        raise NetdevError(problems)


def _archives(args: argparse.Namespace, devices: list[NetDevice], kind: str) -> tuple[
        dict[Path, backup.Archive], Callable[[NetDevice], backup.Archive]]:
    """One archive per backup root (--backup-dir, else each device's netdev_backup_dir) and a look-up by device."""
    def root_of(device: NetDevice) -> Path:
        return Path(args.backup_dir) if args.backup_dir else backup_root(device.values)
    archives = {root: backup.Archive(root, kind) for root in {root_of(d) for d in devices}}
    return archives, lambda device: archives[root_of(device)]


def _successes(results: dict[str, T | BaseException], redact: Callable[[str], str]) -> tuple[list[tuple[str, T]], bool]:
    """Results of the devices that finished, and whether any device raised (printed on stderr, secrets masked)."""
    done, errors = [], False
    for name, value in sorted(results.items()):
        if isinstance(value, BaseException):
            errors = True
            print(redact(f"{name}: error: {value}"), file=sys.stderr)
        else:
            done.append((name, value))
    return done, errors


def cmd_render(args: argparse.Namespace, devices: list[NetDevice]) -> int:
    rendered = _preflight(devices, with_secrets=not args.mask_secrets)
    redact = Redactor(devices)
    for name, item in rendered.items():
        if args.out:
            target = Path(args.out) / f"{name}.cfg"
            target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            target.write_text(item.text, encoding="utf-8")
            target.chmod(0o600)
            print(f"{name}: {target}")
        else:
            print(f"### {name}\n{redact(item.text)}")  # the values go only into --out files (mode 0600)
    return 0


def cmd_backup(args: argparse.Namespace, devices: list[NetDevice]) -> int:
    _check_login(devices)
    archives, archive_of = _archives(args, devices, "backup")

    def work(device: NetDevice) -> str:
        conn = connect(device, stock=args.stock_driver)
        try:
            running, saved = push.read_configs(conn, device)
        finally:
            conn.disconnect()
        archive = archive_of(device)
        first = backup.latest(archive.root, device.name, before=archive.path.name) is None
        diff = archive.add(device.name, running, saved)
        if first:
            return "backed up, the first backup of this device (nothing to compare with)"
        changed = sum(1 for line in diff.splitlines() if line[:1] in "+-" and line[:3] not in ("+++", "---"))
        return f"backed up, {changed} changed lines since the previous backup" if diff else "backed up, unchanged"

    results = run_parallel(devices, work, args.parallel, str, args.quiet)
    failed = False
    for archive in archives.values():
        path = archive.close()
        problems = backup.verify(path)
        failed = failed or bool(problems)
        print(f"archive {path}: {'manifest verified' if not problems else '; '.join(problems)}")
        for device in devices:
            diff = path / f"{device.name}.diff"
            if args.show_diff and diff.exists() and diff.stat().st_size:
                print(diff.read_text(encoding="utf-8"))
    _, errors = _successes(results, Redactor(devices))
    return 1 if errors or failed else 0


class Interruption:
    """SIGINT and SIGTERM while devices are being changed: remembered instead of raised, so that no new device is
    started and the devices in flight are finished or restored. `status` is 128 + the signal's number."""

    SIGNALS = (signal.SIGINT, signal.SIGTERM)

    def __init__(self) -> None:
        self.event = threading.Event()
        self.signum = 0
        self._previous: dict[int, object] = {}

    def __enter__(self) -> Interruption:
        if threading.current_thread() is threading.main_thread():
            self._previous = {s: signal.signal(s, self._handle) for s in self.SIGNALS}
        return self

    def __exit__(self, *exc: object) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)  # type: ignore[arg-type]

    def _handle(self, signum: int, frame: object) -> None:
        self.signum = self.signum or signum
        self.event.set()
        print(f"{signal.Signals(signum).name} received: no further device is started; devices being changed are "
              f"finished or restored (this takes a few seconds)", file=sys.stderr, flush=True)

    @property
    def status(self) -> int:
        return 128 + self.signum if self.signum else 0


def push_state(result: push.PushResult | BaseException | None) -> str:
    """A device's state after a push run, in words."""
    if result is None or isinstance(result, push.PushResult) and result.status == "not_started":
        return "not started, unchanged"
    if isinstance(result, BaseException):
        return f"not changed, error: {type(result).__name__}: {result}"
    if result.status == "interrupted":
        return "backed up, not changed (interrupted before the first line)"
    if result.status == "failed":
        return ("rolled back to the backup" if result.restored else "FAILED and NOT rolled back, check the device") + \
            f" ({result.error})"
    return {"compliant": "compliant, nothing sent", "would_change": "dry run, nothing sent",
            "changed": "pushed, verified and saved"}[result.status]


def begin_change(args: argparse.Namespace, devices: list[NetDevice], tool: str, *, reason: str | None,
                 check: bool = False) -> changes.Change:
    """The CM-01 record of this run (refused, NetdevError, without a reason outside the lab's inventory)."""
    secrets = set().union(*(secret_values(d.values) for d in devices)) if devices else set()
    try:
        return changes.Change("netdev", tool=tool, inventory=[str(args.inventory or inventory_mod.inventory_path())],
                              reason=reason, check=check, limit=",".join(args.limit), secrets=secrets)
    except changes.ReasonMissing as exc:
        raise NetdevError([str(exc)]) from None


def finish_change(change: changes.Change, outcome: str, interruption: Interruption) -> None:
    result = "interrupted" if interruption.status and outcome == "succeeded" else outcome
    record = change.finish(result)
    print(f"change record {record['id']} ({'planned' if change.check else result}) in {changes.archive().path}",
          file=sys.stderr)


def _close_and_verify(archives: dict[Path, backup.Archive], change: changes.Change | None, label: str) -> bool:
    """Write each archive's manifest and verify it; a problem is printed and, with a change, recorded."""
    intact = True
    for archive in archives.values():
        path = archive.close()
        problems = backup.verify(path)
        print(f"{label}: {path}" + (f" ({'; '.join(problems)})" if problems else ""))
        if problems:
            intact = False
            if change is not None:
                change.problem("", label, "backup not verified", "; ".join(problems))
    return intact


def cmd_push(args: argparse.Namespace, devices: list[NetDevice]) -> int:
    rendered = _preflight(devices, with_secrets=True)
    redact = Redactor(devices)
    change = begin_change(args, devices, "baseline netdev push" + (" --dry-run" if args.dry_run else ""),
                          reason=args.reason, check=args.dry_run)
    archives, archive_of = _archives(args, devices, "push")

    with Interruption() as interruption:
        def work(device: NetDevice) -> push.PushResult:
            if interruption.event.is_set():
                return push.PushResult(device.name, "not_started")
            def progress(text: str) -> None:
                if not args.quiet:
                    print(f"{device.name}: {text}", file=sys.stderr, flush=True)

            progress("pushing")
            return push.push_device(device, rendered[device.name], archive_of(device), dry_run=args.dry_run,
                                    rotate=args.rotate_secrets, stock=args.stock_driver, stop=interruption.event,
                                    progress=progress)

        def describe(result: push.PushResult) -> str:
            if result.status == "failed":
                restored = "restored to the backup" if result.restored else "NOT restored, check the device"
                return f"FAILED: {result.error} ({restored})"
            return {"compliant": "compliant, nothing sent", "would_change": f"would send {len(result.sent)} lines",
                    "changed": f"sent {len(result.sent)} lines, saved, verified",
                    "not_started": "not started (interrupted)",
                    "interrupted": "backed up, not changed (interrupted)"}[result.status]

        results = run_parallel(devices, work, args.parallel, describe, args.quiet)
        intact = _close_and_verify(archives, change, "backup before push")
        outcome = rollback.record_results(change, devices, results, "push the device baseline", rollback.ACTION_PUSH)
        finish_change(change, outcome if intact else "failed", interruption)
    done, failed = _successes(results, redact)
    for name, result in done:
        if result.status == "failed":
            failed = True
            print(redact(f"{name}: push failed: {result.error}"), file=sys.stderr)
        if args.show_commands and result.sent:
            print(redact(f"### {name}\n" + "\n".join(result.sent)))
    if interruption.status:
        print(f"push interrupted by {signal.Signals(interruption.signum).name}; state of each device:", file=sys.stderr)
        for device in devices:
            print(redact(f"  {device.name}: {push_state(results.get(device.name))}"), file=sys.stderr)
        return interruption.status
    return 1 if failed else 0


def cmd_rollback(args: argparse.Namespace, devices: list[NetDevice]) -> int:
    """Restore every device CHANGE_ID modified to its configuration backed up before that change (module rollback)."""
    store = changes.archive()
    try:
        record, targets = rollback.targets(store, args.change_id)
    except rollback.Refused as exc:
        raise NetdevError([str(exc)]) from None
    by_name = {d.name: d for d in devices}
    absent = [t.device for t in targets if t.device not in by_name]
    if absent:
        where = args.inventory or inventory_mod.inventory_path()
        raise NetdevError([f"CHANGE_ID {args.change_id}: device(s) {', '.join(absent)} are not in inventory {where}"
                           + (f" (or not in --limit {', '.join(args.limit)})" if args.limit else "")])
    chosen = [by_name[t.device] for t in targets]
    _check_login(chosen)
    saved = {t.device: t.backup.read_text(encoding="utf-8") for t in targets}
    print(f"rollback of {args.change_id} ({record.get('reason')}): " + ", ".join(
        f"{t.device} to {t.backup}" for t in targets), file=sys.stderr)
    if not args.yes:
        if not sys.stdin.isatty():
            raise NetdevError([f"rollback of {args.change_id} changes {len(targets)} device(s): give --yes to confirm "
                               "(no terminal to ask on)"])
        try:
            answer = input("type yes to restore these devices: ").strip()
        except EOFError:
            answer = ""
        if answer != "yes":
            print("not confirmed: nothing was changed", file=sys.stderr)
            return 2
    given = (args.reason or "").strip()
    change = begin_change(args, chosen, "baseline netdev rollback",
                          reason=f"rollback of change {args.change_id}" + (f": {given}" if given else ""))
    archives, archive_of = _archives(args, chosen, "rollback")
    redact = Redactor(chosen)
    with Interruption() as interruption:
        def work(device: NetDevice) -> push.PushResult:
            return rollback.rollback_device(device, saved[device.name], archive_of(device), stock=args.stock_driver,
                                            stop=interruption.event)

        def describe(result: push.PushResult) -> str:
            return {"compliant": "already as backed up, nothing sent",
                    "changed": f"sent {len(result.sent)} lines, identical to the backup again, saved",
                    "not_started": "not started (interrupted)", "interrupted": "backed up, not changed (interrupted)",
                    "failed": f"FAILED: {result.error}"}.get(result.status, result.status)

        results = run_parallel(chosen, work, args.parallel, describe, args.quiet)
        intact = _close_and_verify(archives, change, "backup before rollback")
        outcome = rollback.record_results(change, chosen, results, f"roll back change {args.change_id}",
                                          rollback.ACTION_ROLLBACK)
        finish_change(change, outcome if intact else "failed", interruption)
    done, failed = _successes(results, redact)
    failed = failed or any(r.status == "failed" for _, r in done)
    if interruption.status:
        print(f"rollback interrupted by {signal.Signals(interruption.signum).name}; state of each device:",
              file=sys.stderr)
        for device in chosen:
            print(redact(f"  {device.name}: {push_state(results.get(device.name))}"), file=sys.stderr)
        return interruption.status
    return 1 if failed or not intact else 0


def _redacted(evidence: Evidence, redact: Callable[[str], str]) -> Evidence:
    def clean(value: object) -> object:
        if isinstance(value, str):
            return redact(value)
        if isinstance(value, list):
            return [clean(v) for v in value]
        return value
    return Evidence(redact(evidence.command), clean(evidence.observed), clean(evidence.expected), redact(evidence.note))


def default_run_id() -> str:
    """$BASELINE_RUN_ID (one verification run across servers, databases and devices), else a new id."""
    return os.environ.get("BASELINE_RUN_ID", "").strip() or new_run_id()


def cmd_audit(args: argparse.Namespace, devices: list[NetDevice]) -> int:
    _check_login(devices)
    rendered = _preflight(devices, with_secrets=False)
    run_id = args.run_id or default_run_id()
    writer = ResultWriter(args.results or REPO_ROOT / "results" / f"{run_id}.jsonl", run_id=run_id)
    redact = Redactor(devices)
    Checks = list[tuple[audit.AuditCheck, audit.Outcome, float]]

    def write(device: NetDevice, checks: Checks) -> None:
        for check, outcome, seconds in checks:
            writer.record(asset=device.name, asset_kind="network", control_ids=list(check.control_ids),
                          check=f"netdev.{check.name}", outcome=outcome.outcome, reason=redact(outcome.reason),
                          evidence=[_redacted(e, redact) for e in outcome.evidence], duration_s=seconds,
                          host_kind=device.host_kind, vendor=device.vendor.result_name, method=check.method)

    def work(device: NetDevice) -> Checks:
        def read() -> tuple[str, str]:
            conn = connect(device, stock=args.stock_driver)
            try:
                return push.read_configs(conn, device)
            finally:
                conn.disconnect()
        checks = audit.audit_device(device, rendered[device.name], args.source, read)
        write(device, checks)
        return checks

    def describe(checks: Checks) -> str:
        failed = [c.control_ids[0] for c, o, _ in checks if o.outcome in ("fail", "error")]
        reasons = {o.reason for _, o, _ in checks if o.outcome == "error"}
        if failed and len(reasons) == 1 and all(o.outcome != "fail" for _, o, _ in checks):
            return f"ERROR {reasons.pop()}"
        return "all checks pass" if not failed else "FAIL " + ", ".join(failed)

    results = run_parallel(devices, work, args.parallel, describe, args.quiet)
    for device in devices:  # a device whose work broke down still gets its records: error, with the cause
        value = results.get(device.name)
        if isinstance(value, BaseException):
            results[device.name] = checks = audit.not_audited(device, f"{type(value).__name__}: {value}", args.source)
            write(device, checks)
    print(f"results: {writer.path} (run {run_id})" if writer.path.exists() else "results: none written")
    done, bad = _successes(results, redact)
    for name, value in done:
        for check, outcome, _ in value:
            if outcome.outcome in ("fail", "error"):
                bad = True
                print(redact(f"{name} {'/'.join(check.control_ids)} {outcome.outcome}: {outcome.reason}"))
    return 1 if bad else 0


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="scripts/netdev", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("-i", "--inventory", help="inventory path (default: $BASELINE_INVENTORY or inventory/lab)")
    p.add_argument("-l", "--limit", action="append", default=[],
                   help="only these devices or groups (repeatable, e.g. -l h3c_devices -l sw-acc-01)")
    p.add_argument("-j", "--parallel", type=int, default=0,
                   help="devices handled at the same time (default: netdev_parallel from the inventory, else 16)")
    p.add_argument("-q", "--quiet", action="store_true", help="no per-device progress lines")
    p.add_argument("--stock-driver", action="store_true",
                   help="use netmiko's own drivers instead of the project's (slower on Huawei; for comparison)")
    sub = p.add_subparsers(dest="command", required=True)
    r = sub.add_parser("render", help="print each device's baseline after checking secrets against the policy")
    r.add_argument("--out", help="write <device>.cfg files (mode 0600) into this directory instead of printing")
    r.add_argument("--mask-secrets", action="store_true", help="render <secret> placeholders instead of vault values")
    b = sub.add_parser("backup", help="archive running and saved configs offline with SHA-256 manifest and diff (NW-08)")
    b.add_argument("--backup-dir", help="archive root (default: netdev_backup_dir from the inventory)")
    b.add_argument("--show-diff", action="store_true", help="print each device's diff against its previous backup")
    u = sub.add_parser("push", help="back up, send only the missing baseline lines, save and verify; restore on error")
    u.add_argument("--dry-run", action="store_true", help="back up and show what would be sent; change nothing")
    u.add_argument("--rotate-secrets", action="store_true",
                   help="send password and key lines even when the device already has them (rotation)")
    u.add_argument("--show-commands", action="store_true", help="print the lines sent (or to be sent) per device")
    u.add_argument("--backup-dir", help="archive root for the pre-push backup (default: netdev_backup_dir)")
    u.add_argument("--reason", help="why the devices are changed, for the change record (CM-01; default: "
                                    f"${changes.REASON_ENV}; required unless the inventory is the lab's)")
    rb = sub.add_parser("rollback", help="restore every device a recorded push changed to its backup from before it")
    rb.add_argument("change_id", metavar="CHANGE_ID", help="the push's change id (CHG-..., `baseline changes list`)")
    rb.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    rb.add_argument("--reason", help="more words for the rollback's change record (its reason always names CHANGE_ID)")
    rb.add_argument("--backup-dir", help="archive root for the backup taken before the rollback "
                                         "(default: netdev_backup_dir)")
    a = sub.add_parser("audit", help="check NW-01..NW-08 and write results (JSON Lines, the shared results format)")
    a.add_argument("--source", choices=("running", "saved"), default="running",
                   help="audit the running configuration (default) or the saved one (what a restart would load)")
    a.add_argument("--results", help="results file (default: results/<run id>.jsonl)")
    a.add_argument("--run-id", help="run id of every record: give the compliance suites (pytest --run-id) the same "
                                    "one for one verification run (default: $BASELINE_RUN_ID, else a new id)")
    return p


COMMANDS: dict[str, Callable[[argparse.Namespace, list[NetDevice]], int]] = {
    "render": cmd_render, "backup": cmd_backup, "push": cmd_push, "audit": cmd_audit, "rollback": cmd_rollback}


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        devices = load(args.inventory, args.limit or None)
        if not devices:
            where = args.inventory or inventory_mod.inventory_path()
            limit = f" matching --limit {', '.join(args.limit)}" if args.limit else ""
            print(f"refused before contacting any device: inventory {where} lists no devices in network_devices{limit}"
                  f" (empty, unreadable or not an inventory?)", file=sys.stderr)
            return 2
        mask_secrets_in_logs(devices)
        logging.getLogger("paramiko").addHandler(logging.NullHandler())  # causes are reported per device, no tracebacks
        if not args.parallel:
            args.parallel = int(devices[0].values.get("netdev_parallel", 16))
        return COMMANDS[args.command](args, devices)
    except NetdevError as exc:
        print("refused before contacting any device:\n  " + "\n  ".join(exc.problems), file=sys.stderr)
        return 2
    except KeyboardInterrupt:  # outside a push's device work: nothing was being changed
        print(f"scripts/netdev {args.command}: interrupted (SIGINT); no device was being changed", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
