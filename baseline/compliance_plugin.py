"""pytest plugin: one results record (baseline/results.py) per compliance check, one JSON Lines file per run.

Enable it with `pytest_plugins = ["baseline.compliance_plugin"]` in a conftest. For every test that carries
`@pytest.mark.control("IA-02", ...)` it records:

  control IDs   from the `control` marker(s)
  asset         marker `@pytest.mark.asset("db1")`, else a fixture `asset` the test uses, else the testinfra
                `host` under test (`ssh://app1`, `paramiko://app1`, `ansible://app1` -> `app1`; `local` -> this
                machine's host name)
  asset kind    marker `@pytest.mark.asset_kind("postgresql")`, else the module's `ASSET_KIND`, else "linux"
  host kind     a fixture `host_kind` the test uses (container / vm / physical), else empty
  outcome       passed -> pass; failed (or xfail) -> fail; setup or teardown error -> error;
                skipped with a reason starting "not applicable:" -> not_applicable; any other skip ->
                not_verifiable, the reason kept (see `not_applicable()` and `not_verifiable()` below)
  evidence      what the test put into the `evidence` fixture: `evidence.record(command=..., observed=...,
                expected=..., note=...)`
  duration      setup + call + teardown, seconds
  method        marker `@pytest.mark.method("probe")`: how the check verifies (probe, state, config or record,
                baseline/results.py METHODS; a check that does several things names the strongest)

A check that changes the host while it runs carries `@pytest.mark.intrusive("what it changes")`: probe accounts,
probe tables or users in a database, test files, failed logins that count against lockouts, a changed binary,
temporary listeners, log records of events it provokes (refused logins, connections or statements, marker lines).
The inspection's own SSH session and sudo use are not counted: every check leaves those.

Read-only runs (production): `--read-only`, or BASELINE_READ_ONLY=1 in the environment (any value but empty, 0,
false, no, off). Intrusive checks are not run: each is skipped before its own fixtures make anything (after the
autouse fixtures, which only decide whether the check applies to the host) and recorded as not_verifiable, reason
"read-only run: not run, it would change the host (<what>)"; the terminal summary lists them.

Options: `--read-only` (above), `--results-file PATH` (default `results/<run id>.jsonl` under the rootdir), `--run-id ID` (default
$BASELINE_RUN_ID, else a new one; pass the same id to several runs that form one assessment, `scripts/netdev audit`
takes the same option and variable). Works under pytest-xdist: the workers append to
the controller's file.
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from baseline.results import ASSET_KINDS, METHODS, Evidence, ResultWriter, new_run_id

NOT_APPLICABLE_PREFIX = "not applicable:"
NOT_VERIFIABLE_PREFIX = "not verifiable:"
MAX_EVIDENCE_CHARS = 8000  # per observed/expected value; keeps results files and reports readable
RESULTS_KEY = pytest.StashKey["_Recorder"]()
EVIDENCE_KEY = pytest.StashKey["EvidenceLog"]()
REPORTS_KEY = pytest.StashKey[dict]()
FIXTURES_KEY = pytest.StashKey[dict]()  # values of the fixtures the record needs, kept before teardown drops them
READ_ONLY_ENV = "BASELINE_READ_ONLY"
READ_ONLY_PREFIX = "read-only run:"
READ_ONLY_GUARD = "_baseline_read_only_guard"


def not_applicable(reason: str) -> None:
    """Skip the check: the requirement does not apply to this asset (reported as 不适用 with the reason)."""
    pytest.skip(f"{NOT_APPLICABLE_PREFIX} {reason}")


def not_verifiable(reason: str) -> None:
    """Skip the check: it cannot be observed on this asset (reported as not verified, never as met)."""
    pytest.skip(f"{NOT_VERIFIABLE_PREFIX} {reason}")


def read_only_reason(what: str) -> str:
    """Why an intrusive check was left out of a read-only run (its not_verifiable reason)."""
    return f"{READ_ONLY_PREFIX} not run, it would change the host ({what})"


def intrusive(item: pytest.Item) -> str | None:
    """What an intrusive check changes (its `intrusive` marker), None for a check that only looks."""
    marker = item.get_closest_marker("intrusive")
    if marker is None:
        return None
    what = marker.args[0] if marker.args else marker.kwargs.get("what")
    return str(what or "what it changes is not stated")


def read_only(config: pytest.Config) -> bool:
    """--read-only, or BASELINE_READ_ONLY set to anything but empty, 0, false, no or off."""
    value = os.environ.get(READ_ONLY_ENV, "").strip().lower()
    return bool(config.getoption("read_only", False)) or value not in ("", "0", "false", "no", "off")


def _clip(value: Any) -> Any:
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    if isinstance(value, str) and len(value) > MAX_EVIDENCE_CHARS:
        return value[:MAX_EVIDENCE_CHARS] + f"… ({len(value)} chars, clipped)"
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    if isinstance(value, (list, tuple)):
        return [_clip(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _clip(v) for k, v in value.items()}
    return _clip(str(value))


@dataclass
class EvidenceLog:
    """The `evidence` fixture: what a check read or ran on the asset and what it saw."""

    items: list[Evidence] = field(default_factory=list)

    def record(self, command: str = "", observed: Any = None, expected: Any = None, note: str = "") -> Evidence:
        item = Evidence(command=str(command), observed=_clip(observed), expected=_clip(expected), note=str(note))
        self.items.append(item)
        return item


@pytest.fixture()
def evidence(request: pytest.FixtureRequest) -> EvidenceLog:
    """Record evidence for the report: `evidence.record(command=..., observed=..., expected=..., note=...)`."""
    log = EvidenceLog()
    request.node.stash[EVIDENCE_KEY] = log
    return log


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("compliance", "compliance results (baseline.compliance_plugin)")
    group.addoption("--results-file", default=None, metavar="PATH",
                    help="JSON Lines file the compliance results are appended to (default: results/<run id>.jsonl)")
    group.addoption("--read-only", action="store_true", default=False,
                    help=f"leave out the checks marked intrusive (they change the host), recording them as "
                         f"not_verifiable; also ${READ_ONLY_ENV}=1")
    group.addoption("--run-id", default=None,
                    help="run id written into every record (default: $BASELINE_RUN_ID, else a new one)")


class _Recorder:
    def __init__(self, path: Path, run_id: str):
        self.writer = ResultWriter(path, run_id)
        self.path = path
        self.counts: dict[str, int] = {}
        self.unmarked: list[str] = []
        self.read_only = False
        self.left_out: list[tuple[str, str]] = []  # (node id, what it would change) of intrusive checks not run

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        """Intrusive checks skipped by a read-only run (seen on the controller, also for pytest-xdist workers)."""
        if report.when == "setup" and report.skipped:
            reason = _skip_reason(report)
            if reason.startswith(READ_ONLY_PREFIX):
                what = reason.partition("(")[2].removesuffix(")")
                self.left_out.append((report.nodeid, what))


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "control(*ids): catalog control IDs this compliance check verifies")
    config.addinivalue_line("markers", "asset_kind(kind): linux, postgresql, mariadb or network (default linux)")
    config.addinivalue_line("markers", "asset(name): inventory name of the asset, when not the testinfra host")
    config.addinivalue_line("markers", "intrusive(what): the check changes the host while it runs (what it changes); "
                                       "not run with --read-only")
    config.addinivalue_line("markers", "method(kind): how the check verifies: probe, state, config or record (the "
                                       "strongest of what it does)")
    worker = getattr(config, "workerinput", None)
    if worker and "baseline_results_file" in worker:  # pytest-xdist worker: use the controller's file and run id
        path, run_id = Path(worker["baseline_results_file"]), worker["baseline_run_id"]
    else:
        run_id = config.getoption("run_id") or os.environ.get("BASELINE_RUN_ID", "").strip() or new_run_id()
        given = config.getoption("results_file")
        path = Path(given) if given else config.rootpath / "results" / f"{run_id}.jsonl"
    recorder = _Recorder(path, run_id)
    recorder.read_only = read_only(config)
    config.stash[RESULTS_KEY] = recorder
    config.pluginmanager.register(recorder, "baseline-compliance-recorder")


@pytest.fixture()
def _baseline_read_only_guard(request: pytest.FixtureRequest) -> None:
    """Put before the fixtures of an intrusive check in a read-only run: skipped before anything is changed."""
    pytest.skip(read_only_reason(intrusive(request.node) or ""))


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Read-only run: every intrusive check gets the guard, set up right after the autouse fixtures (which only
    decide whether the check applies: a check found not applicable stays so) and before the check's own."""
    if not read_only(config):
        return
    for item in items:
        names = getattr(item, "fixturenames", None)
        if intrusive(item) is None or names is None or READ_ONLY_GUARD in names:
            continue
        info = getattr(item, "_fixtureinfo", None)
        own = set(getattr(info, "argnames", ()))
        defs = getattr(info, "name2fixturedefs", {})
        preset = {n for n in getattr(info, "initialnames", ()) if n not in own}  # autouse and usefixtures
        preset |= {n for n in names if any(getattr(d, "_autouse", False) for d in defs.get(n, ()))}  # also requested
        position = max((names.index(n) + 1 for n in preset if n in names), default=0)
        names.insert(position, READ_ONLY_GUARD)


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node: Any) -> None:
    recorder = node.config.stash[RESULTS_KEY]
    node.workerinput["baseline_results_file"] = str(recorder.path)
    node.workerinput["baseline_run_id"] = recorder.writer.run_id


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> Any:
    report = yield
    item.stash.setdefault(REPORTS_KEY, {})[report.when] = report
    funcargs = getattr(item, "funcargs", None) or {}
    if report.when == "setup":
        item.stash[FIXTURES_KEY] = {k: funcargs[k] for k in ("asset", "host_kind", "host") if k in funcargs}
    return report


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> Any:
    result = yield
    recorder = item.config.stash.get(RESULTS_KEY, None)
    if recorder is not None:
        _record(item, recorder)
    return result


def _control_ids(item: pytest.Item) -> list[str]:
    ids: list[str] = []
    for mark in item.iter_markers("control"):
        ids.extend(str(a) for a in mark.args if str(a) not in ids)
    return ids


def _host_name(host: Any) -> str:
    backend = getattr(host, "backend", None)
    if backend is None:
        return str(host)
    if backend.get_connection_type() == "local":
        return socket.gethostname()
    name = str(getattr(backend, "hostname", "") or backend.get_pytest_id())
    return asset_from_host_id(name)


def asset_from_host_id(host_id: str) -> str:
    """`ssh://automation@app1:22` -> `app1`; `paramiko://app1` -> `app1`; a bare name is returned as is."""
    name = host_id.split("://", 1)[-1]
    name = name.rsplit("@", 1)[-1]
    if name.count(":") == 1:  # host:port (not an IPv6 address)
        name = name.split(":", 1)[0]
    return name.strip("[]")


def _asset(item: pytest.Item, funcargs: dict[str, Any]) -> str:
    marker = item.get_closest_marker("asset")
    if marker and marker.args:
        return str(marker.args[0])
    if funcargs.get("asset"):
        return str(funcargs["asset"])
    callspec = getattr(item, "callspec", None)
    params = callspec.params if callspec else {}
    for key in ("_testinfra_host", "host"):
        if key in params:
            return _host_name(params[key])
    if "host" in funcargs:
        return _host_name(funcargs["host"])
    return socket.gethostname()


def _asset_kind(item: pytest.Item) -> str:
    marker = item.get_closest_marker("asset_kind")
    if marker and marker.args:
        return str(marker.args[0])
    module = getattr(item, "module", None)
    return str(getattr(module, "ASSET_KIND", "linux"))


def _method(item: pytest.Item) -> str:
    marker = item.get_closest_marker("method")
    return str(marker.args[0]) if marker and marker.args else ""


def _skip_reason(report: pytest.TestReport) -> str:
    longrepr = report.longrepr
    text = longrepr[2] if isinstance(longrepr, tuple) and len(longrepr) == 3 else str(longrepr or "")
    return text.removeprefix("Skipped: ").strip()


REASON_LIMIT = 4000


def failure_reason(message: str) -> str:
    """The reason of a failed check as its assertion said it, in full: every line of the check's own message (the
    setting, expected and observed), without pytest's re-evaluation of the expression ("assert ..." and the "+"/"-"
    and "where" lines below it), lines joined with " | ". Only a message longer than REASON_LIMIT characters is cut,
    and then it says how much was left out."""
    lines = message.strip().splitlines()
    kept = []
    for index, line in enumerate(lines):
        if index and line.startswith("assert "):
            break
        if line.strip():
            kept.append(line.strip())
    text = " | ".join(kept)
    if len(text) > REASON_LIMIT:
        text = f"{text[:REASON_LIMIT]} … ({len(text) - REASON_LIMIT} more characters in the test output)"
    return text


def _failure_reason(report: pytest.TestReport) -> str:
    crash = getattr(report.longrepr, "reprcrash", None)
    return failure_reason(crash.message if crash is not None else str(report.longrepr or ""))


def outcome_of(reports: dict[str, pytest.TestReport]) -> tuple[str, str]:
    """(outcome, reason) from the setup/call/teardown reports of one test."""
    setup, call, teardown = reports.get("setup"), reports.get("call"), reports.get("teardown")
    if setup is not None and setup.failed:
        return "error", f"error in setup: {_failure_reason(setup)}"
    for report in (setup, call):
        if report is not None and report.skipped:
            if hasattr(report, "wasxfail"):
                return "fail", f"expected failure: {report.wasxfail}" if report.wasxfail else "expected failure"
            reason = _skip_reason(report)
            if reason.lower().startswith(NOT_APPLICABLE_PREFIX):
                return "not_applicable", reason[len(NOT_APPLICABLE_PREFIX):].strip()
            if reason.lower().startswith(NOT_VERIFIABLE_PREFIX):
                reason = reason[len(NOT_VERIFIABLE_PREFIX):].strip()
            return "not_verifiable", reason
    if call is not None and call.failed:
        return "fail", _failure_reason(call)
    if teardown is not None and teardown.failed:
        return "error", f"error in teardown: {_failure_reason(teardown)}"
    if call is not None and call.passed:
        return "pass", ""
    return "error", "the check did not run"


def _record(item: pytest.Item, recorder: _Recorder) -> None:
    reports = item.stash.get(REPORTS_KEY, {})
    ids = _control_ids(item)
    if not ids:
        recorder.unmarked.append(item.nodeid)
        return
    outcome, reason = outcome_of(reports)
    kind = _asset_kind(item)
    if kind not in ASSET_KINDS:
        outcome, reason = "error", f"asset_kind {kind!r} is not one of {', '.join(ASSET_KINDS)}"
        kind = "linux"
    method = _method(item)
    if method and method not in METHODS:
        outcome, reason = "error", f"method {method!r} is not one of {', '.join(METHODS)}"
        method = ""
    log = item.stash.get(EVIDENCE_KEY, None)
    funcargs = item.stash.get(FIXTURES_KEY, {})
    recorder.writer.record(
        asset=_asset(item, funcargs), asset_kind=kind, control_ids=ids, check=item.nodeid, outcome=outcome, reason=reason,
        evidence=list(log.items) if log else [], duration_s=round(sum(r.duration for r in reports.values()), 4),
        host_kind=str(funcargs.get("host_kind", "") or ""), method=method,
    )
    recorder.counts[outcome] = recorder.counts.get(outcome, 0) + 1


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    recorder = config.stash.get(RESULTS_KEY, None)
    if recorder is None or getattr(config, "workerinput", None):
        return
    if recorder.path.exists():
        terminalreporter.write_line(f"compliance results: {recorder.path} (run {recorder.writer.run_id})")
    if recorder.counts:
        summary = ", ".join(f"{n} {k}" for k, n in sorted(recorder.counts.items()))
        terminalreporter.write_line(f"  {summary}")
    if recorder.unmarked:
        terminalreporter.write_line(f"  {len(recorder.unmarked)} test(s) without @pytest.mark.control were not recorded")
    if recorder.read_only and not config.option.collectonly:
        left = recorder.left_out
        terminalreporter.write_line(f"  read-only run: {len(left)} check(s) that would change the host were not run "
                                    "(recorded as not_verifiable)" + (":" if left else ""))
        for nodeid, what in left:
            terminalreporter.write_line(f"    {nodeid}: {what}")
