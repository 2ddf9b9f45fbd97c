"""One results format for every check, whoever runs it (testinfra suites, network audits, restore drills).

A results file is JSON Lines: one `CheckResult` per line, appended as checks finish. Files are named
`results/<run_id>.jsonl` by default; `scripts/report` reads any number of them.
"""

from __future__ import annotations

import json
import os
import time
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

SCHEMA = "baseline.result/1"
OUTCOMES = ("pass", "fail", "not_applicable", "not_verifiable", "error")
# organisation: controls people carry out for the whole platform (incident gradings, IR-01); asset = platform_name
ASSET_KINDS = ("linux", "postgresql", "mariadb", "network", "organisation")
# How a check verified, strongest first: probe (tried the login, the port, the forbidden action and saw the
# result), state (read live state: running services, loaded rules, effective settings, database catalogs), config
# (read configuration files), record (read records the project keeps, e.g. restore-drill results). A check that
# does several things names the strongest. "" in records written before the field existed.
METHODS = ("probe", "state", "config", "record")


def new_run_id() -> str:
    return datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ") + "-" + uuid.uuid4().hex[:6]


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


@dataclass
class Evidence:
    """What was read or run on the asset, what was seen, what the policy expects."""

    command: str = ""  # command run, file read, or query made
    observed: Any = None
    expected: Any = None
    note: str = ""


@dataclass
class CheckResult:
    run_id: str
    asset: str  # inventory name of the host or device
    asset_kind: str  # one of ASSET_KINDS
    control_ids: list[str]
    check: str  # stable check name, e.g. test node id or audit check name
    outcome: str  # one of OUTCOMES
    reason: str = ""
    evidence: list[Evidence] = field(default_factory=list)
    duration_s: float = 0.0
    time: str = field(default_factory=now_iso)
    host_kind: str = ""  # container / vm / physical / device / simulator
    vendor: str = ""  # network devices: huawei_vrp, h3c_comware, cisco_ios
    method: str = ""  # one of METHODS; "" when not stated (records written before the field existed)
    schema: str = SCHEMA

    def __post_init__(self) -> None:
        if self.outcome not in OUTCOMES:
            raise ValueError(f"outcome {self.outcome!r} is not one of {', '.join(OUTCOMES)}")
        if self.asset_kind not in ASSET_KINDS:
            raise ValueError(f"asset_kind {self.asset_kind!r} is not one of {', '.join(ASSET_KINDS)}")
        if not self.control_ids:
            raise ValueError(f"check {self.check!r} names no control ID")
        if self.method and self.method not in METHODS:
            raise ValueError(f"method {self.method!r} is not one of {', '.join(METHODS)}")
        self.evidence = [e if isinstance(e, Evidence) else Evidence(**e) for e in self.evidence]

    def to_json(self) -> str:
        return json.dumps(asdict(self), ensure_ascii=False, default=str)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CheckResult:
        if data.get("schema") != SCHEMA:
            raise ValueError(f"unknown results schema {data.get('schema')!r}, expected {SCHEMA}")
        return cls(**data)


class ResultWriter:
    """Appends results to a JSON Lines file; safe for several processes appending to the same file."""

    def __init__(self, path: str | os.PathLike, run_id: str | None = None):
        self.path = Path(path)
        self.run_id = run_id or new_run_id()
        self.path.parent.mkdir(parents=True, exist_ok=True)

    def write(self, result: CheckResult) -> None:
        line = (result.to_json() + "\n").encode("utf-8")
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, line)  # one write() of one line with O_APPEND does not interleave
        finally:
            os.close(fd)

    def record(self, **fields: Any) -> CheckResult:
        result = CheckResult(run_id=self.run_id, **fields)
        self.write(result)
        return result


def read_results(paths: Iterable[str | os.PathLike]) -> Iterator[CheckResult]:
    for path in paths:
        with open(path, encoding="utf-8") as fh:
            for number, line in enumerate(fh, 1):
                if not line.strip():
                    continue
                try:
                    yield CheckResult.from_dict(json.loads(line))
                except (ValueError, TypeError) as exc:
                    raise ValueError(f"{path}:{number}: {exc}") from exc


class Timer:
    """Context manager measuring a check's duration in seconds."""

    def __enter__(self) -> Timer:
        self.start = time.monotonic()
        self.seconds = 0.0
        return self

    def __exit__(self, *exc: object) -> None:
        self.seconds = round(time.monotonic() - self.start, 4)
