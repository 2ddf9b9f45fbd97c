"""Media sanitisation certificates (RI-02, 第三十八条): the results record of one wipe, written on the controller by
playbooks/sanitise.yml from what the module block_sanitise (plugins/modules/) found, wrote and read back; the
register that keeps every certificate; and its verification, which is what the report judges RI-02 by.

    python -m baseline.sanitise record --stage started|done|failed --results-file F --run-id ID \
        --host HOST --certificate ID [--operator NAME] [--platform NAME] [--error TEXT] [--dir D] < module-result.json
    baseline sanitise verify --results-file F [--run-id ID] [--dir D] [--window-hours H] [--platform NAME]

(`baseline sanitise ...` and `python -m baseline.sanitise ...` are the same command.)

`started` is written before the first byte is overwritten and says the wipe is incomplete; `done` (after the read
back) or `failed` (the write stopped with an error) replaces it in the report, which counts the latest record of a
check. A run interrupted in between leaves `started`: the device is never shown as sanitised. Exit status of
`done`: 0 when the read back matched, 1 when it did not.

Results files can be edited without a trace, so every record, each stage, also appends its certificate to the
sanitisation register: an append-only, hash-chained archive (baseline/operations/chain.py) in --dir, else
$BASELINE_SANITISATION_DIR, else results/sanitisation. The results record names the register and the seq the
certificate got there. A certificate the register cannot keep (an unwritable directory) still gets its results
record, and `record` then exits 1 and says so: the playbook stops, before the wipe at the `started` stage.

`verify` checks the register's chain and the latest certificate of every medium and writes one RI-02 result,
`sanitisation_register`: fail (the chain broken, or a medium whose latest wipe was interrupted, failed or did not
read back as written), pass (intact, every medium's latest certificate done and verified, one at least in the
evidence window) or not_applicable (intact, no certificate in the window: no medium was sent out). Exit 0 for pass
and not_applicable, 1 for fail, 2 for bad input.

The records are on the organisation asset (the platform, as IR-01's): RI-02 is the organisation's control over every
medium it sends out, and the check names the host and the device: media_sanitisation[<host>:<serial or path>].
"""

from __future__ import annotations

import argparse
import getpass
import json
import os
import socket
import sys
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from baseline import REPO_ROOT
from baseline.operations.chain import Archive
from baseline.operations.changes import parse_moment, window_hours
from baseline.results import CheckResult, Evidence, ResultWriter, new_run_id, now_iso

CONTROL = "RI-02"
PROG = "baseline sanitise"
STAGES = ("started", "done", "failed")
METHOD_TEXT = {
    "zero": "overwrite with zeros",
    "random": "overwrite with random data",
    "secure_discard": "blkdiscard --secure, then overwrite with zeros",
}
CERTIFICATE_COMMAND = "sanitisation certificate (第三十八条)"
SCHEMA = "baseline.sanitisation/1"
DEFAULT_DIR = REPO_ROOT / "results" / "sanitisation"
DIR_ENV = "BASELINE_SANITISATION_DIR"
REGISTER_CHECK = "sanitisation_register"
REGISTER_COMMAND = "sanitisation register: append-only, hash-chained (baseline/operations/chain.py)"


def operator() -> str:
    """The person: $BASELINE_OPERATOR, else the user who ran sudo, else the login user."""
    return os.environ.get("BASELINE_OPERATOR") or os.environ.get("SUDO_USER") or getpass.getuser()


def platform() -> str:
    from baseline.report.assets import platform_name

    return os.environ.get("BASELINE_PLATFORM_NAME") or platform_name()


def check_name(host: str, device: dict[str, Any]) -> str:
    """One check per medium: a later wipe of the same device replaces an earlier (or an incomplete) one."""
    return f"media_sanitisation[{host}:{device.get('serial') or device.get('path')}]"


def _size(n: int) -> str:
    return f"{n} bytes ({n / 1024 ** 2:.1f} MiB)" if n < 1024 ** 3 else f"{n} bytes ({n / 1024 ** 3:.2f} GiB)"


def certificate(stage: str, found: dict[str, Any], *, host: str, cert_id: str, operator_name: str, method: str,
                passes: int, error: str = "") -> dict[str, Any]:
    """The certificate's fields: device, size, serial, model, method, passes, operator, time, host, verification."""
    device = found.get("device", {})
    wipe = found.get("wipe") or {}
    check = wipe.get("verification") or {}
    if stage == "done":
        verified = "passed" if check.get("ok") else "failed"
    else:
        verified = "not done: the wipe did not finish" if stage == "started" else f"not done: {error}"
    return {
        "certificate": cert_id, "stage": stage, "host": host, "host_name": device.get("host", ""),
        "device": device.get("path", ""), "resolved": device.get("resolved", ""), "name": device.get("name", ""),
        "kind": device.get("kind", ""), "size_bytes": device.get("size_bytes", 0),
        "serial": device.get("serial", ""), "model": device.get("model", ""),
        "rotational": device.get("rotational"), "backing_file": device.get("backing_file", ""),
        "method": METHOD_TEXT.get(method, method), "passes": passes, "operator": operator_name,
        "controller": socket.gethostname(), "time": now_iso(), "seconds": wipe.get("seconds"),
        "verification": verified,
        "verified_by": " ; ".join(wipe.get("steps", [])) if stage == "done" else "",
    }


def result(stage: str, found: dict[str, Any], *, run_id: str, asset: str, host: str, cert_id: str,
           operator_name: str, method: str, passes: int, error: str = "") -> CheckResult:
    """The RI-02 results record of one stage of one wipe."""
    if stage not in STAGES:
        raise ValueError(f"stage {stage!r} is not one of {', '.join(STAGES)}")
    device = found.get("device", {})
    cert = certificate(stage, found, host=host, cert_id=cert_id, operator_name=operator_name, method=method,
                       passes=passes, error=error)
    what = (f"{device.get('path')} ({device.get('name')}, {_size(int(device.get('size_bytes') or 0))}, "
            f"serial {device.get('serial') or '—'}, model {device.get('model') or '—'}) on {host}")
    inspection = Evidence(
        command="inspection on the host: sysfs (/sys/dev/block/<major:minor>: size, serial, model, partitions, "
                "holders), /proc/self/mountinfo, /proc/swaps, the disks of / and /boot",
        observed={k: device.get(k) for k in ("path", "resolved", "name", "kind", "size_bytes", "serial", "model",
                                             "partitions", "holders", "backing_file")},
        expected="a block device not mounted, not swap, not under md, LVM or device-mapper, not the system disk; "
                 "the operator's confirmation matching its serial or name")
    evidence = [inspection]
    wipe = found.get("wipe") or {}
    check = wipe.get("verification") or {}
    if stage == "started":
        outcome, checked = "fail", "state"
        reason = (f"wipe of {what} started at {cert['time']} by {operator_name} and not finished (interrupted or "
                  "still running): its content is not certified erased; run playbooks/sanitise.yml again")
    elif stage == "failed":
        outcome, checked = "fail", "probe"
        reason = f"wipe of {what} failed: {error}; the device is NOT sanitised"
    else:
        outcome = "pass" if check.get("ok") else "fail"
        checked = "probe"
        evidence.append(Evidence(command="; ".join(wipe.get("steps", [])),
                                 observed={k: check.get(k) for k in ("bytes_read", "nonzero_bytes",
                                                                      "first_nonzero_offset", "sha256")},
                                 expected=check.get("expected"),
                                 note=f"{wipe.get('bytes_written')} bytes written in {wipe.get('seconds')} s"))
        if check.get("ok"):
            reason = (f"{what}: {cert['method']}, {passes} pass(es), by {operator_name}; read back "
                      f"{check.get('bytes_read')} bytes: {check.get('expected')}")
        else:
            reason = (f"{what}: {cert['method']}, {passes} pass(es), by {operator_name}; verification FAILED: read "
                      f"back {check.get('bytes_read')} of {check.get('size_bytes')} bytes, "
                      f"{check.get('nonzero_bytes')} byte(s) not as written (first at offset "
                      f"{check.get('first_nonzero_offset')}), expected {check.get('expected')}; the device is NOT "
                      "sanitised")
    evidence.append(Evidence(command=CERTIFICATE_COMMAND, observed=cert,
                             note="stage started: written before the first byte is overwritten"
                             if stage == "started" else ""))
    return CheckResult(run_id=run_id, asset=asset, asset_kind="organisation", control_ids=[CONTROL],
                       check=check_name(host, device), outcome=outcome, reason=reason, evidence=evidence,
                       duration_s=float(wipe.get("seconds") or 0.0), method=checked)


# --- the register ---------------------------------------------------------------------------------------------------


def register(directory: str | os.PathLike | None = None) -> Archive:
    """The sanitisation register: --dir, else $BASELINE_SANITISATION_DIR, else results/sanitisation. A kept record
    is named by its certificate id (the stages of one wipe share it; seq tells them apart)."""
    return Archive(directory or os.environ.get(DIR_ENV) or DEFAULT_DIR, "sanitisation", id_field="certificate")


def certificate_of(record: CheckResult) -> dict[str, Any]:
    """The certificate a results record of `result` carries."""
    return next(dict(e.observed) for e in record.evidence if e.command == CERTIFICATE_COMMAND)


def register_entry(record: CheckResult, results_file: str) -> dict[str, Any]:
    """What the register keeps of one stage of one wipe: the certificate, the check, the outcome and reason of the
    results record, and where that record went."""
    return {"schema": SCHEMA, **certificate_of(record), "check": record.check, "outcome": record.outcome,
            "reason": record.reason, "run_id": record.run_id, "results_file": results_file}


def keep(record: CheckResult, archive: Archive, results_file: str) -> tuple[dict[str, Any] | None, str]:
    """Append the record's certificate to the register: (the kept record, "") or (None, why it could not be kept)."""
    try:
        return archive.append(register_entry(record, results_file)), ""
    except (OSError, ValueError, KeyError, TypeError) as exc:  # an unwritable directory; a damaged last line or HEAD
        return None, f"{type(exc).__name__}: {exc}"


def register_evidence(archive: Archive, kept: dict[str, Any] | None, error: str) -> Evidence:
    """The evidence of a results record that names where its certificate is kept, or that it is not."""
    if kept is not None:
        return Evidence(command=REGISTER_COMMAND, observed={"register": str(archive.path), "seq": kept["seq"],
                                                            "hash": kept["hash"]},
                        note="the certificate as kept in the register; baseline sanitise verify checks it")
    return Evidence(command=REGISTER_COMMAND, observed={"register": str(archive.path), "seq": None, "error": error},
                    expected="the certificate appended to the register",
                    note="NOT kept in the register: this results record is the certificate's only trace")


def _name(record: dict[str, Any]) -> str:
    """A kept record as the chain's problems name it."""
    return f"{record.get('certificate', '?')}, seq {record.get('seq')}"


def verify_register(archive: Archive) -> tuple[list[dict[str, Any]], list[tuple[str, str]]]:
    """Every kept record, and every problem of the register as (the record it names, or "", the text): the breaks of
    the hash chain (a record edited, removed or reordered, the last one removed or edited) and records that are no
    certificate (no check, or a stage that is none of STAGES)."""
    checked = archive.verify()
    problems = [(p.record, str(p)) for p in checked.problems]
    for record in checked.records:
        if not record.get("check") or record.get("stage") not in STAGES:
            problems.append((_name(record), f"{_name(record)}: not a sanitisation certificate (check "
                                            f"{record.get('check')!r}, stage {record.get('stage')!r})"))
    return checked.records, problems


def latest_certificates(records: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """The latest certificate of every medium: per check name, the record of the highest seq."""
    latest: dict[str, dict[str, Any]] = {}
    for record in records:
        check = str(record.get("check") or "")
        if check and (check not in latest or int(record["seq"]) > int(latest[check]["seq"])):
            latest[check] = record
    return latest


def not_sanitised(record: dict[str, Any]) -> str:
    """Why the medium of this latest certificate is not certified erased; "" when it is (done, read back verified)."""
    stage, verification = record.get("stage"), record.get("verification")
    if stage == "done" and verification == "passed":
        return ""
    what = (f"{record.get('check')} ({record.get('device') or '?'} on {record.get('host') or '?'}, certificate "
            f"{record.get('certificate', '?')}, seq {record.get('seq')}, {record.get('time') or 'no time'})")
    if stage == "started":
        return f"{what}: the wipe started and never finished (interrupted): not certified erased"
    if stage == "failed":
        return f"{what}: the wipe failed ({verification}): NOT sanitised"
    return f"{what}: the read back did not verify ({verification}): NOT sanitised"


def _media(count: int) -> str:
    return f"{count} medium" if count == 1 else f"{count} media"


def certified_since(record: dict[str, Any], since: datetime) -> bool:
    """True when the certificate was made at or after `since` (a certificate without a readable time counts as
    recent, as an incident grading does)."""
    moment = parse_moment(record.get("time", ""))
    return moment is None or moment >= since


def _register_failures(writer: ResultWriter, records: list[dict[str, Any]], problems: list[tuple[str, str]],
                       path: Path, asset: str) -> None:
    """Every kept certificate's check written again as failing: its own pass no longer stands when the register
    that keeps it does not verify (the newest record of a check counts)."""
    texts = [text for _, text in problems]
    for check, latest in latest_certificates(records).items():
        names = {_name(r) for r in records if r.get("check") == check}
        own = [text for name, text in problems if name in names]
        writer.record(asset=asset, asset_kind="organisation", control_ids=["RI-02"], check=check, outcome="fail",
                      method="record", host_kind="organisation",
                      reason="the sanitisation register cannot vouch for this certificate: "
                             + "; ".join(own or [f"the register that keeps it does not verify: {'; '.join(texts)}"]),
                      evidence=[Evidence(command=f"{PROG} verify ({path})",
                                         observed={"certificate": latest, "problems": own or texts},
                                         expected="the certificate as kept in an intact register")])


def register_result(writer: ResultWriter, records: list[dict[str, Any]], problems: list[tuple[str, str]],
                    path: Path, since: datetime, *, asset: str) -> CheckResult:
    """The RI-02 result of the register's verification on the organisation asset (`sanitisation_register`).

    fail: the chain is broken (every problem named), or the latest certificate of a medium (by check name) is
          `started` (the wipe was interrupted), `failed`, or `done` with the read back not verified: that medium
          is not sanitised (each named). When the chain is broken, every kept certificate's check is also written
          again as failing, so that an earlier pass of it does not stand beside a register that cannot vouch for it.
    pass: the chain is intact, at least one certificate was kept in the evidence window, and every medium's latest
          certificate is done and verified.
    not_applicable: the chain is intact and no certificate was kept in the evidence window: no medium was sent out
          for repair or disposal (the register's verification, older certificates included, is the evidence)."""
    latest = latest_certificates(records)
    unsanitised = [why for why in map(not_sanitised, latest.values()) if why]
    recent = [r for r in records if certified_since(r, since)]
    texts = [text for _, text in problems]
    window = f"since {since.isoformat(timespec='seconds')}"
    if texts or unsanitised:
        outcome = "fail"
        reason = "; ".join(([f"sanitisation register broken: {'; '.join(texts)}"] if texts else [])
                           + [f"medium not sanitised: {why}" for why in unsanitised])
    elif not recent:
        outcome = "not_applicable"
        reason = (f"not applicable: no sanitisation certificate in the evidence window ({window}): no medium was sent "
                  f"out for repair or disposal; the register holds {len(records)} certificate record(s)"
                  + (f" of {_media(len(latest))}, its chain intact and every medium's latest certificate done and "
                     "verified" if records else ", its chain intact"))
    else:
        media = sorted({f"{r.get('check')} {r.get('certificate')}" for r in recent if latest.get(r.get("check", "")) is r})
        outcome = "pass"
        reason = (f"{len(recent)} certificate record(s) {window}" + (f" ({', '.join(media)})" if media else "")
                  + f"; the latest certificate of every medium ({_media(len(latest))}) is done and read back "
                  f"verified; hash chain intact ({len(records)} record(s))")
    if texts:
        _register_failures(writer, records, problems, path, asset)
    keys = ("certificate", "stage", "verification", "time", "seq", "host", "device", "serial", "method", "operator")
    return writer.record(
        asset=asset, asset_kind="organisation", control_ids=["RI-02"], check=REGISTER_CHECK, outcome=outcome,
        method="record", host_kind="organisation", reason=reason,
        evidence=[Evidence(command=f"{PROG} verify ({path})",
                           observed={"records": len(records), "records_in_window": len(recent),
                                     "window_since": since.isoformat(timespec="seconds"),
                                     "media": {check: {k: r.get(k) for k in keys} for check, r in latest.items()},
                                     "not_sanitised": unsanitised, "problems": texts},
                           expected={"problems": [], "not_sanitised": [],
                                     "latest certificate of each medium": "done, read back verified (第三十八条)"})])


# --- command line ---------------------------------------------------------------------------------------------------


def _window(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number of hours") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"{text!r}: the evidence window is 1 hour or more")
    return value


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog=PROG, description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="command", required=True)
    rec = sub.add_parser("record", help="one record from the module's result (JSON on standard input), its "
                                        "certificate appended to the register")
    rec.add_argument("--stage", choices=STAGES, required=True,
                     help="started: before the wipe (says incomplete); done: after the read back; failed: the wipe "
                          "stopped with an error")
    rec.add_argument("--results-file", required=True, help="results file (JSON Lines) the report reads")
    rec.add_argument("--run-id", required=True, help="run id shared by the records of one wipe")
    rec.add_argument("--host", required=True, help="inventory name of the host that holds the device")
    rec.add_argument("--certificate", required=True, help="certificate id")
    rec.add_argument("--method", default="zero", help="zero, random or secure_discard")
    rec.add_argument("--passes", type=int, default=1, help="overwrite passes")
    rec.add_argument("--operator", default="", help="the person (default: $BASELINE_OPERATOR, sudo user, login)")
    rec.add_argument("--platform", default="", help="asset name of the organisation (default: platform_name)")
    rec.add_argument("--error", default="", help="what stopped the wipe (stage failed)")
    ver = sub.add_parser("verify", help="check the register's chain and every medium's latest certificate, write the "
                                        "RI-02 sanitisation_register result; exit 1 when it fails")
    ver.add_argument("--results-file", required=True, help="results file (JSON Lines) to write the RI-02 result to")
    ver.add_argument("--run-id", help="run id of that result (default: $BASELINE_RUN_ID, else a new one)")
    ver.add_argument("--window-hours", type=_window, default=None, metavar="H",
                     help="evidence window: certificates of the last H hours make a pass (default: the policy's "
                          "inspection_interval_hours, as the report)")
    ver.add_argument("--platform", default="", help="asset name of the organisation (default: platform_name)")
    for command in (rec, ver):
        command.add_argument("--dir", default=None,
                             help=f"sanitisation register directory (default: ${DIR_ENV}, else results/sanitisation)")
    return p


def _dir_option(args: argparse.Namespace) -> str:
    """How the register's directory was given, for a message."""
    return "--dir" if args.dir else f"${DIR_ENV}" if os.environ.get(DIR_ENV) else "the default register directory"


def run_record(args: argparse.Namespace) -> int:
    """Write the results record of one stage of one wipe, whatever the register does, and keep its certificate in
    the register. Exit 1 when the certificate could not be kept (or the results record not written)."""
    try:
        found = json.loads(sys.stdin.read() or "{}")
    except ValueError as exc:
        print(f"{PROG} record: standard input is not the module's result as JSON: {exc}", file=sys.stderr)
        return 2
    if not isinstance(found, dict):
        print(f"{PROG} record: standard input is not the module's result (a JSON object)", file=sys.stderr)
        return 2
    record = result(args.stage, found, run_id=args.run_id, asset=args.platform or platform(), host=args.host,
                    cert_id=args.certificate, operator_name=args.operator or operator(), method=args.method,
                    passes=args.passes, error=args.error)
    archive = register(args.dir)
    # the register first, so that the results record can name the seq the certificate got; the results record is
    # written in either case, a failing register only adds that it is not kept there
    kept, error = keep(record, archive, args.results_file)
    record.evidence.append(register_evidence(archive, kept, error))
    try:
        ResultWriter(args.results_file, args.run_id).write(record)
    except OSError as exc:
        where = f"it is kept in {archive.path} (seq {kept['seq']})" if kept else f"nor kept in {archive.path}: {error}"
        print(f"{PROG} record: the results record of {record.check} could not be written to {args.results_file}: "
              f"{exc}; {where}", file=sys.stderr)
        return 1
    print(f"{CONTROL} {record.outcome}: {record.reason}")
    print(f"record: {args.results_file} ({record.check})")
    if kept is None:
        print(f"{PROG} record: certificate {args.certificate} ({args.stage}) could NOT be kept in the sanitisation "
              f"register {archive.path} ({_dir_option(args)}): {error}. Its results record is written "
              f"({args.results_file}), but the register cannot vouch for it: make the register's directory writable "
              "and run the sanitisation again", file=sys.stderr)
        return 1
    print(f"register: {archive.path} (seq {kept['seq']})")
    return 0 if record.outcome == "pass" or args.stage != "done" else 1


def run_verify(args: argparse.Namespace) -> int:
    """Verify the register into one RI-02 result. Exit 0 pass or not_applicable, 1 fail, 2 bad input."""
    target = Path(args.results_file)
    if target.is_dir():
        print(f"{PROG} verify: --results-file {target} is a directory; give the results file (JSON Lines) to write "
              "the RI-02 result to", file=sys.stderr)
        return 2
    archive = register(args.dir)
    if archive.directory.exists() and not archive.directory.is_dir():
        print(f"{PROG} verify: {_dir_option(args)} {archive.directory} is not a directory", file=sys.stderr)
        return 2
    try:
        records, problems = verify_register(archive)
    except OSError as exc:
        print(f"{PROG} verify: the register {archive.path} ({_dir_option(args)}) cannot be read: {exc}",
              file=sys.stderr)
        return 2
    since = datetime.now(UTC) - timedelta(hours=args.window_hours or window_hours())
    run_id = args.run_id or os.environ.get("BASELINE_RUN_ID", "").strip() or new_run_id()
    try:
        written = register_result(ResultWriter(target, run_id), records, problems, archive.path, since,
                                  asset=args.platform or platform())
    except OSError as exc:
        print(f"{PROG} verify: --results-file {target} cannot be written: {exc}", file=sys.stderr)
        return 2
    for _, text in problems:
        print(f"  {text}")
    print(f"sanitisation register {archive.path}: {len(records)} record(s), "
          + (f"{len(problems)} problem(s)" if problems else "intact"))
    print(f"{CONTROL} {written.outcome}: {written.reason}")
    return 1 if written.outcome == "fail" else 0


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    if args.command == "record":
        return run_record(args)
    return run_verify(args)


if __name__ == "__main__":
    sys.exit(main())
