"""Media sanitisation certificates (RI-02, 第三十八条): the results record of one wipe, written on the controller by
playbooks/sanitise.yml from what the module block_sanitise (plugins/modules/) found, wrote and read back.

    python -m baseline.sanitise record --stage started|done|failed --results-file F --run-id ID \
        --host HOST --certificate ID [--operator NAME] [--platform NAME] [--error TEXT] < module-result.json

`started` is written before the first byte is overwritten and says the wipe is incomplete; `done` (after the read
back) or `failed` (the write stopped with an error) replaces it in the report, which counts the latest record of a
check. A run interrupted in between leaves `started`: the device is never shown as sanitised. Exit status of
`done`: 0 when the read back matched, 1 when it did not.

The record is on the organisation asset (the platform, as IR-01's): RI-02 is the organisation's control over every
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
from typing import Any

from baseline.results import CheckResult, Evidence, ResultWriter, now_iso

CONTROL = "RI-02"
STAGES = ("started", "done", "failed")
METHOD_TEXT = {
    "zero": "overwrite with zeros",
    "random": "overwrite with random data",
    "secure_discard": "blkdiscard --secure, then overwrite with zeros",
}


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
    evidence.append(Evidence(command="sanitisation certificate (第三十八条)", observed=cert,
                             note="stage started: written before the first byte is overwritten"
                             if stage == "started" else ""))
    return CheckResult(run_id=run_id, asset=asset, asset_kind="organisation", control_ids=[CONTROL],
                       check=check_name(host, device), outcome=outcome, reason=reason, evidence=evidence,
                       duration_s=float(wipe.get("seconds") or 0.0), method=checked)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m baseline.sanitise",
                                     description="Write the RI-02 sanitisation certificate record of one wipe.")
    sub = parser.add_subparsers(dest="command", required=True)
    rec = sub.add_parser("record", help="one record from the module's result (JSON on standard input)")
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
    args = parser.parse_args(argv)
    found = json.loads(sys.stdin.read() or "{}")
    writer = ResultWriter(args.results_file, args.run_id)
    record = result(args.stage, found, run_id=args.run_id, asset=args.platform or platform(), host=args.host,
                    cert_id=args.certificate, operator_name=args.operator or operator(), method=args.method,
                    passes=args.passes, error=args.error)
    writer.write(record)
    print(f"{CONTROL} {record.outcome}: {record.reason}")
    print(f"record: {args.results_file} ({record.check})")
    return 0 if record.outcome == "pass" or args.stage != "done" else 1


if __name__ == "__main__":
    sys.exit(main())
