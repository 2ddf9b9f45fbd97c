"""`baseline verify`: one verification run of the whole inventory, kept in a history and compared with the last one.

Runs what `scripts/demo` runs in its steps 4 and 5, under one run id: the compliance suites over SSH (pytest, with a
JUnit file), the network device audit (when the inventory has devices), the change archive (CM-01), the incident
register (IR-01), the sanitisation register (RI-02) and the assessment register (AS-01) into the same results, then
the report. Every step runs with this Python (`sys.executable`).

The history (--history, else $BASELINE_VERIFY_HISTORY, else results/history/) holds one directory per run, named
by its run id: `results.jsonl` (the run's results) and `summary.json` (each step's exit status, verdict counts per
control and asset, the report's verdict per control and asset, the drift found). A run is written under a
temporary name and renamed when it is complete: an interrupted run leaves nothing half written. Only the last
--keep runs are kept.

Drift, against the previous run of the history, per (control, asset, check): a check that was 符合 and is now
anything else (不符合, 部分符合, 未验证, 不适用, or no result at all), and a check that is 不符合 now and was not
before. With --syslog each drift is one message to the local syslog socket (tag baseline-verify, facility authpriv
by default), which the baseline's rsyslog forwards to the central log server.

Exit status: 0 every step passed (a compliant report) and no drift; 1 drift, or a step failed (a failing in-scope
control, a failing check, no conclusion); 2 bad input (inventory, history, options), before any step runs;
130 interrupted.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import socket
import stat
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import Any

from baseline import REPO_ROOT
from baseline.results import CheckResult, new_run_id, read_results

PROG = "baseline verify"
HISTORY_ENV = "BASELINE_VERIFY_HISTORY"
DEFAULT_HISTORY = REPO_ROOT / "results" / "history"
DEFAULT_KEEP = 30
RESULTS_NAME = "results.jsonl"
SUMMARY_NAME = "summary.json"
SUMMARY_SCHEMA = "baseline.verify/1"
PARTIAL_SUFFIX = ".partial"
SYSLOG_SOCKET = "/dev/log"
SYSLOG_TAG = "baseline-verify"
FACILITIES = {"authpriv": 10, "local6": 22}
WARNING = 4  # syslog severity of a drift alert
SYSLOG_MAX = 2000  # bytes of one message; longer ones are cut
RUN_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")

MET, PARTIAL, NOT_MET, NOT_APPLICABLE, NOT_VERIFIED = "符合", "部分符合", "不符合", "不适用", "未验证"
VERDICTS = (MET, PARTIAL, NOT_MET, NOT_APPLICABLE, NOT_VERIFIED)
# the report's verdict codes (baseline/report/verdicts.py) as the summary writes them
REPORT_VERDICTS = {"met": MET, "partial": PARTIAL, "not_met": NOT_MET, "not_applicable": NOT_APPLICABLE,
                   "not_verified": NOT_VERIFIED, "waived": "已豁免", "manual": "人工核查"}

Key = tuple[str, str, str]  # (control, asset, check)


class BadInput(Exception):
    """An input of `baseline verify` is unusable; the message names it. Exit status 2, before any step runs."""


class Interrupted(Exception):
    """SIGTERM (a CI job cancelled) is handled as Ctrl-C is."""


@dataclass
class Step:
    """One command of the run: its name as the summary shows it, its argument vector and environment."""

    name: str
    argv: list[str]
    env: dict[str, str]
    results: Path


Runner = Callable[[Step], int]


STEP_GRACE = 60  # seconds an interrupted step has to end on its own before it is killed
STOP_SIGNALS = {signal.SIGINT, signal.SIGTERM}


def run_subprocess(step: Step) -> int:
    """Run a step from the repository root; its output goes to ours.

    The step runs in a process group of its own, and an interrupt reaches it from here, exactly once: Ctrl-C (or
    SIGTERM) is passed on to it, it has STEP_GRACE seconds to end on its own, then it is killed. So a step started
    at the moment of the interrupt is stopped as well, and nothing a step runs still writes into the run's directory
    when the unfinished run is removed. The interrupt signals are held back while the step starts.
    """
    sys.stdout.flush()
    held = signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)
    try:
        proc = subprocess.Popen(step.argv, env=step.env, cwd=REPO_ROOT, stdin=subprocess.DEVNULL, process_group=0,
                                preexec_fn=lambda: signal.pthread_sigmask(signal.SIG_SETMASK, held))  # noqa: PLW1509
    except BaseException:
        signal.pthread_sigmask(signal.SIG_SETMASK, held)
        raise
    try:
        signal.pthread_sigmask(signal.SIG_SETMASK, held)  # an interrupt held back is raised here
        return proc.wait()
    except KeyboardInterrupt:
        _stop(proc, signal.SIGINT)
        raise
    except Interrupted:
        _stop(proc, signal.SIGTERM)
        raise


def _stop(proc: subprocess.Popen[bytes], signum: int) -> None:
    try:
        os.killpg(proc.pid, signum)
        proc.wait(timeout=STEP_GRACE)
    except ProcessLookupError:
        proc.wait()
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def _remove_partial(partial: Path) -> None:
    """Remove an unfinished run; a file that appears meanwhile (a step's late write) is removed by a second pass."""
    for attempt in range(3):
        try:
            shutil.rmtree(partial)
            return
        except FileNotFoundError:
            return
        except OSError:
            if attempt == 2:
                raise
            time.sleep(0.2)


# --- verdicts per check, drift ---------------------------------------------------------------------------------


@dataclass
class CheckState:
    verdict: str
    reason: str = ""


def check_verdict(outcomes: Iterable[str]) -> str:
    """One verdict for the records of one (control, asset, check): parameters of a check give several records."""
    seen = set(outcomes)
    bad = bool(seen & {"fail", "error"})
    if bad:
        return PARTIAL if "pass" in seen else NOT_MET
    if "pass" in seen:
        return PARTIAL if "not_verifiable" in seen else MET
    if "not_verifiable" in seen:
        return NOT_VERIFIED
    return NOT_APPLICABLE


def check_states(records: Iterable[CheckResult]) -> dict[Key, CheckState]:
    """The verdict of every (control, asset, check) of a run, with the reason of its first failing record."""
    outcomes: dict[Key, list[str]] = {}
    reasons: dict[Key, str] = {}
    for record in records:
        for control in record.control_ids:
            key = (control, record.asset, record.check)
            outcomes.setdefault(key, []).append(record.outcome)
            if record.outcome != "pass" and record.reason and key not in reasons:
                reasons[key] = record.reason
    return {key: CheckState(check_verdict(found), reasons.get(key, "")) for key, found in sorted(outcomes.items())}


@dataclass(frozen=True)
class Drift:
    control: str
    asset: str
    check: str
    before: str  # verdict in the previous run ("" when the check had no result there)
    now: str  # verdict now ("" when the check has no result in this run)
    reason: str = ""

    @property
    def kind(self) -> str:
        return "no_longer_met" if self.before == MET else "new_not_met"

    def describe(self) -> str:
        now = self.now or f"{NOT_VERIFIED} (no result in this run)"
        text = f"{self.control} {self.asset} {self.check}: {self.before or 'no result'} -> {now}"
        return text + (f": {self.reason}" if self.reason else "")

    def as_dict(self) -> dict[str, str]:
        return {"kind": self.kind, "control": self.control, "asset": self.asset, "check": self.check,
                "before": self.before, "now": self.now, "reason": self.reason}


def drift(before: dict[Key, CheckState], now: dict[Key, CheckState]) -> list[Drift]:
    """Checks that were 符合 and are now anything else, and checks that are 不符合 now and were not before."""
    found = []
    for key in sorted(set(before) | set(now)):
        was = before[key].verdict if key in before else ""
        current = now.get(key)
        verdict = current.verdict if current else ""
        if (was == MET and verdict != MET) or (verdict == NOT_MET and was != NOT_MET):
            found.append(Drift(*key, was, verdict, current.reason if current else ""))
    return found


# --- history ---------------------------------------------------------------------------------------------------


@dataclass
class Entry:
    """A complete run of the history."""

    path: Path
    summary: dict[str, Any]

    @property
    def run_id(self) -> str:
        return str(self.summary.get("run_id", self.path.name))

    @property
    def finished(self) -> str:
        return str(self.summary.get("finished", ""))

    def states(self) -> dict[Key, CheckState]:
        results = self.path / RESULTS_NAME
        if results.is_file():
            try:
                return check_states(read_results([results]))
            except (OSError, ValueError):
                pass
        checks = self.summary.get("checks", {})  # results file lost or damaged: the verdicts the summary kept
        found = {}
        for text, verdict in checks.items():
            control, asset, check = text.split("\t", 2)
            found[(control, asset, check)] = CheckState(verdict)
        return found


def entries(history: Path) -> list[Entry]:
    """The complete runs of the history, oldest first (runs being written, under a temporary name, are not)."""
    found = []
    if not history.is_dir():
        return []
    for path in history.iterdir():
        summary_file = path / SUMMARY_NAME
        if path.name.startswith(".") or not path.is_dir() or not summary_file.is_file():
            continue
        try:
            summary = json.loads(summary_file.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if isinstance(summary, dict) and summary.get("schema") == SUMMARY_SCHEMA:
            found.append(Entry(path, summary))
    return sorted(found, key=lambda e: (e.finished, e.path.name))


def prune(history: Path, keep: int, stale_after_s: float = 86400.0) -> list[Path]:
    """Remove all but the last `keep` complete runs, and runs left half written more than a day ago (a killed run).
    Returns the removed paths."""
    removed = [e.path for e in entries(history)[:-keep]] if keep > 0 else []
    now = time.time()
    for path in history.glob(f".*{PARTIAL_SUFFIX}"):
        if path.is_dir() and now - path.stat().st_mtime > stale_after_s:
            removed.append(path)
    for path in removed:
        shutil.rmtree(path, ignore_errors=True)
    return removed


# --- syslog ----------------------------------------------------------------------------------------------------


def syslog_message(text: str, facility: str = "authpriv", when: datetime | None = None) -> bytes:
    """A message as the C library's syslog() writes it to /dev/log: <PRI>Mmm dd hh:mm:ss tag[pid]: text."""
    stamp = (when or datetime.now()).strftime("%b %d %H:%M:%S")
    prefix = f"<{FACILITIES[facility] * 8 + WARNING}>{stamp} {SYSLOG_TAG}[{os.getpid()}]: "
    data = (prefix + " ".join(text.split())).encode("utf-8")
    return data if len(data) <= SYSLOG_MAX else data[:SYSLOG_MAX].decode("utf-8", "ignore").encode("utf-8")


def send_alerts(lines: list[str], path: str, facility: str) -> None:
    """One datagram per line to the local syslog socket."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.connect(path)
        for line in lines:
            sock.send(syslog_message(line, facility))


# --- the run ---------------------------------------------------------------------------------------------------


@dataclass
class Settings:
    inventory: Path
    history: Path
    keep: int
    run_id: str
    junit: Path
    report_dir: Path
    syslog: str | None
    facility: str
    has_devices: bool
    has_servers: bool
    summary: dict[str, Any] = field(default_factory=dict)
    host_jobs: int = 1


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog=PROG, description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("-i", "--inventory", help="inventory to verify (default: $BASELINE_INVENTORY, else inventory/lab)")
    p.add_argument("--history", help=f"history directory (default: ${HISTORY_ENV}, else results/history/)")
    p.add_argument("--junit", help="JUnit XML of the compliance suites, pytest --junitxml (default: "
                                   "<report dir>/compliance-junit.xml)")
    p.add_argument("--report-dir", help="directory for the report (default: reports/<run id>/)")
    p.add_argument("--syslog", action="store_true", help="send one alert per drift to the local syslog socket")
    p.add_argument("--syslog-socket", default=SYSLOG_SOCKET, metavar="PATH",
                   help=f"syslog socket (default: {SYSLOG_SOCKET})")
    p.add_argument("--syslog-facility", choices=sorted(FACILITIES), default="authpriv",
                   help="facility of the alerts (default: authpriv, which the baseline's rsyslog forwards)")
    p.add_argument("--keep", type=_keep, default=DEFAULT_KEEP, metavar="N",
                   help=f"runs kept in the history, this one included (default: {DEFAULT_KEEP})")
    p.add_argument("--host-jobs", type=_host_jobs, default=1, metavar="N",
                   help="compliance suites on N processes, hosts side by side, each host's checks in one of them "
                        "(default: 1; baseline/compliance_jobs.py)")
    return p


def _at_least_one(option: str, meaning: str) -> Callable[[str], int]:
    """An argparse type: a whole number of 1 or more, named by `option` in its error."""
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{option} {text!r}: not a whole number") from None
        if value < 1:
            raise argparse.ArgumentTypeError(f"{option} {value}: {meaning}")
        return value
    return parse


_keep = _at_least_one("--keep", "keep at least 1 run")
_host_jobs = _at_least_one("--host-jobs", "give 1 or more processes")


def settings(args: argparse.Namespace, environ: dict[str, str]) -> Settings:
    """Every input checked before any step runs; BadInput names the one that is unusable."""
    from baseline import compliance

    given = args.inventory or environ.get("BASELINE_INVENTORY")
    where = "--inventory" if args.inventory else "BASELINE_INVENTORY" if given else "the default inventory"
    inventory = Path(given or REPO_ROOT / "inventory" / "lab").absolute()
    if not inventory.exists():
        raise BadInput(f"{where} {inventory}: does not exist")
    try:
        loaded = compliance.check_inventory(inventory)
        devices = set(loaded.groups().get("network_devices", []))
    except compliance.InventoryError as exc:
        raise BadInput(f"{where}: {exc}") from None
    servers = [h for h in loaded.hosts("all") if h not in devices]

    history_given = args.history or environ.get(HISTORY_ENV)
    history = Path(history_given or DEFAULT_HISTORY).absolute()
    name = "--history" if args.history else HISTORY_ENV if history_given else "the history directory"
    if history.exists() and not history.is_dir():
        raise BadInput(f"{name} {history}: not a directory")

    run_id = environ.get("BASELINE_RUN_ID", "").strip() or new_run_id()
    if not RUN_ID.match(run_id):
        raise BadInput(f"BASELINE_RUN_ID {run_id!r}: a run id is letters, digits, '.', '_' and '-' (it names files)")
    if (history / run_id).exists():
        raise BadInput(f"BASELINE_RUN_ID {run_id}: the history {history} already holds a run of that id")

    report_dir = Path(args.report_dir or REPO_ROOT / "reports" / run_id).absolute()
    if report_dir.exists() and not report_dir.is_dir():
        raise BadInput(f"--report-dir {report_dir}: not a directory")
    junit = Path(args.junit).absolute() if args.junit else report_dir / "compliance-junit.xml"
    if junit.is_dir():
        raise BadInput(f"--junit {junit}: is a directory")

    sock = None
    if args.syslog:
        sock = args.syslog_socket
        try:
            if not stat.S_ISSOCK(os.stat(sock).st_mode):
                raise BadInput(f"--syslog-socket {sock}: not a socket")
        except OSError:
            raise BadInput(f"--syslog-socket {sock}: no such socket (is a syslog daemon running?)") from None
    partial = history / f".{run_id}{PARTIAL_SUFFIX}"
    if partial.exists():
        raise BadInput(f"BASELINE_RUN_ID {run_id}: a run of that id is being written, or was killed: {partial}")
    for option, directory in (("--history", history), ("--junit", junit.parent)):
        try:
            directory.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise BadInput(f"{option} {directory}: cannot be created: {exc.strerror or exc}") from None
    return Settings(inventory, history, args.keep, run_id, junit, report_dir, sock, args.syslog_facility,
                    bool(devices), bool(servers), host_jobs=getattr(args, "host_jobs", 1))


def steps(s: Settings, results: Path, environ: dict[str, str]) -> list[Step]:
    """The demo's verification (scripts/demo, steps 4 and 5) as commands of this Python."""
    env = {**environ, "BASELINE_INVENTORY": str(s.inventory), "BASELINE_RUN_ID": s.run_id}
    env.setdefault("ANSIBLE_CONFIG", str(REPO_ROOT / "ansible.cfg"))
    py = [sys.executable]
    cli = [*py, "-m", "baseline.cli"]
    out = [
        Step("compliance suites", [*py, "-m", "pytest", str(REPO_ROOT / "compliance_tests"), "-p", "no:cacheprovider",
                                   "-q", "--run-id", s.run_id, "--results-file", str(results),
                                   f"--junitxml={s.junit}", *(["--host-jobs", str(s.host_jobs)]
                                                             if s.host_jobs > 1 else [])], env, results),
        Step("device audit", [*cli, "netdev", "-q", "-i", str(s.inventory), "audit", "--results", str(results),
                              "--run-id", s.run_id], env, results),
        Step("change archive", [*cli, "changes", "verify", "--results-file", str(results), "--run-id", s.run_id,
                                "--inventory", str(s.inventory)], env, results),
        Step("incident register", [*cli, "incident", "verify", "--results-file", str(results), "--run-id", s.run_id,
                                   "--inventory", str(s.inventory)], env, results),
        Step("sanitisation register", [*cli, "sanitise", "verify", "--results-file", str(results), "--run-id",
                                       s.run_id], env, results),
        Step("daily inspection", [*cli, "inspect", "-i", str(s.inventory), "--results-file", str(results), "--out",
                                  str(s.report_dir / "inspection")], env, results),
        Step("assessment register", [*cli, "assessment", "verify", "--results-file", str(results), "--run-id",
                                     s.run_id], env, results),
        Step("report", [*cli, "report", "--results", str(results), "--out", str(s.report_dir),
                        "--inventory", str(s.inventory)], env, results),
    ]
    return [step for step in out if (step.name != "device audit" or s.has_devices)
            and (step.name != "compliance suites" or s.has_servers)]


def report_cells(report_dir: Path) -> tuple[dict[str, dict[str, str]], dict[str, Any]]:
    """The report's verdict per control and asset, and its overall verdict ({} when no report.json was written)."""
    path = report_dir / "report.json"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}, {}
    cells: dict[str, dict[str, str]] = {}
    for row in data.get("controls", []):
        for cell in row.get("cells", []):
            cells.setdefault(row["id"], {})[cell["asset"]] = REPORT_VERDICTS.get(cell["verdict"], cell["verdict"])
    overall = data.get("overall", {})
    return cells, {"verdict": overall.get("zh", ""), "failing_controls": overall.get("failing_controls", [])}


def summarise(s: Settings, started: str, *, exits: dict[str, int], states: dict[Key, CheckState],
              previous: Entry | None, drifts: list[Drift]) -> dict[str, Any]:
    counts: dict[str, dict[str, Counter[str]]] = {}
    for (control, asset, _), state in states.items():
        counts.setdefault(control, {}).setdefault(asset, Counter())[state.verdict] += 1
    cells, overall = report_cells(s.report_dir)
    return {
        "schema": SUMMARY_SCHEMA, "run_id": s.run_id, "started": started,
        "finished": datetime.now(UTC).isoformat(timespec="microseconds"),
        "inventory": str(s.inventory), "junit": str(s.junit), "report": str(s.report_dir),
        "steps": exits, "totals": dict(Counter(state.verdict for state in states.values())),
        "counts": {c: {a: dict(n) for a, n in sorted(assets.items())} for c, assets in sorted(counts.items())},
        "cells": cells, "overall": overall,
        "previous": previous.run_id if previous else None, "drift": [d.as_dict() for d in drifts],
        "checks": {"\t".join(key): state.verdict for key, state in states.items()},
    }


def _on_sigterm(signum: int, frame: FrameType | None) -> None:
    raise Interrupted


def main(argv: list[str] | None = None, runner: Runner | None = None) -> int:
    args = parser().parse_args(argv)
    environ = dict(os.environ)
    try:
        s = settings(args, environ)
    except BadInput as exc:
        print(f"{PROG}: {exc}", file=sys.stderr)
        return 2
    try:
        previous_handler = signal.signal(signal.SIGTERM, _on_sigterm)
    except ValueError:  # not the main thread: SIGTERM keeps its handler
        previous_handler = None
    try:
        return _run(s, environ, runner or run_subprocess)
    finally:
        if previous_handler is not None:
            signal.signal(signal.SIGTERM, previous_handler)


def _run(s: Settings, environ: dict[str, str], runner: Runner) -> int:
    started = datetime.now(UTC).isoformat(timespec="seconds")
    partial = s.history / f".{s.run_id}{PARTIAL_SUFFIX}"
    try:
        partial.mkdir()
    except OSError as exc:
        print(f"{PROG}: --history {s.history}: {exc}", file=sys.stderr)
        return 2
    results = partial / RESULTS_NAME
    todo = steps(s, results, environ)
    print(f"{PROG}: run {s.run_id}, inventory {s.inventory}; {len(todo)} steps: {', '.join(t.name for t in todo)}")
    current = "starting"
    kept = False
    try:
        exits: dict[str, int] = {}
        for number, step in enumerate(todo, 1):
            current = f"step {number}/{len(todo)} ({step.name})"
            print(f"-- {PROG} {number}/{len(todo)}: {step.name}", flush=True)
            exits[step.name] = runner(step)
        current = "comparing with the previous run"
        states = check_states(read_results([results])) if results.is_file() else {}
        previous = next(iter(reversed(entries(s.history))), None)
        drifts = drift(previous.states(), states) if previous else []
        current = "writing the history"
        summary = summarise(s, started, exits=exits, states=states, previous=previous, drifts=drifts)
        (partial / SUMMARY_NAME).write_text(json.dumps(summary, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
        final = s.history / s.run_id
        os.rename(partial, final)  # complete runs only: the summary is in place before the name is
        kept = True
        removed = prune(s.history, s.keep)
        if s.syslog and drifts:
            current = "sending the drift alerts"
            send_alerts([f"drift run {s.run_id} (previous {summary['previous']}): {d.describe()}" for d in drifts],
                        s.syslog, s.facility)
    except (KeyboardInterrupt, Interrupted):
        if not kept:
            _remove_partial(partial)
        where = f"the history keeps run {s.run_id}" if kept else f"run {s.run_id} is not kept in the history"
        print(f"{PROG}: interrupted during {current}; {where} ({s.history})", file=sys.stderr)
        return 130
    except (OSError, ValueError) as exc:  # ValueError: a results line that is not a result
        if not kept:
            _remove_partial(partial)
        where = f"the history keeps run {s.run_id}" if kept else f"run {s.run_id} is not kept in the history"
        print(f"{PROG}: {current}: {exc}; {where}", file=sys.stderr)
        return 1
    return _print_summary(s, summary, drifts=drifts, previous=previous, final=final, removed=len(removed))


def _print_summary(s: Settings, summary: dict[str, Any], *, drifts: list[Drift], previous: Entry | None,
                   final: Path, removed: int) -> int:
    exits: dict[str, int] = summary["steps"]
    totals = summary["totals"]
    print(f"{PROG}: run {s.run_id}: " + ", ".join(f"{name} exit {code}" for name, code in exits.items()))
    print("  checks: " + (", ".join(f"{totals[v]} {v}" for v in VERDICTS if totals.get(v)) or "no result")
          + " (per control, asset and check)")
    if summary["overall"]:
        failing = summary["overall"]["failing_controls"]
        print(f"  report: {summary['overall']['verdict']}" + (f"; failing: {', '.join(failing)}" if failing else ""))
    if previous is None:
        print("  drift: none (first run of the history)")
    else:
        print(f"  drift since run {previous.run_id}: {len(drifts) or 'none'}")
        for d in drifts[:50]:
            print(f"    {d.describe()}")
        if len(drifts) > 50:
            print(f"    … {len(drifts) - 50} more in {final / SUMMARY_NAME}")
    print(f"  history: {final} ({len(entries(s.history))} runs kept" + (f", {removed} pruned)" if removed else ")"))
    print(f"  junit: {s.junit}" if "compliance suites" in exits else "  junit: none (no server in the inventory: no "
          "compliance suites ran)")
    print(f"  report: {s.report_dir}/")
    failed = [f"{name} (exit {code})" for name, code in exits.items() if code != 0]
    if not failed and not drifts:
        print(f"{PROG}: compliant, no drift")
        return 0
    why = ([f"{len(drifts)} drift(s)"] if drifts else []) + ([f"failed: {', '.join(failed)}"] if failed else [])
    print(f"{PROG}: not compliant: {'; '.join(why)}")
    return 1


if __name__ == "__main__":
    sys.exit(main())
