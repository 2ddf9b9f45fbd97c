"""Append-only, hash-chained JSON Lines archives (the change archive, the incident and sanitisation registers).

Each line is one record (a JSON object) with three fields of the archive's own:
  seq   its position, 1 for the first record
  prev  the SHA-256 of the record before it (64 zeros for the first)
  hash  the SHA-256 of the record itself: of its canonical JSON (sorted keys, no spaces) without `hash`
A file `HEAD` beside the archive holds the last record's seq and hash, so that removing or editing the last
record is seen too. Appends hold an exclusive lock (`.lock`), so that runs finishing together do not fork the
chain. `verify` names every record that was removed, reordered or edited.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

GENESIS = "0" * 64
CHAIN_FIELDS = ("seq", "prev", "hash")


def canonical(record: dict[str, Any]) -> str:
    """The text a record's hash is taken of: canonical JSON of every field but `hash`."""
    body = {k: v for k, v in record.items() if k != "hash"}
    return json.dumps(body, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)


def digest(record: dict[str, Any]) -> str:
    return hashlib.sha256(canonical(record).encode("utf-8")).hexdigest()


@dataclass
class Problem:
    line: int  # line of the archive file (1-based); 0 for the HEAD file
    record: str  # the record's id (or seq) as the archive names it
    text: str

    def __str__(self) -> str:
        where = f"line {self.line}" if self.line else "HEAD"
        return f"{where} ({self.record}): {self.text}" if self.record else f"{where}: {self.text}"


@dataclass
class Verification:
    path: Path
    records: list[dict[str, Any]] = field(default_factory=list)  # every record that could be read
    problems: list[Problem] = field(default_factory=list)

    @property
    def intact(self) -> bool:
        return not self.problems

    @property
    def head(self) -> str:
        return self.records[-1]["hash"] if self.records else GENESIS


class Archive:
    """One archive: `<directory>/<name>.jsonl` with `HEAD` and `.lock` beside it. `id_field` names a record."""

    def __init__(self, directory: str | os.PathLike, name: str, id_field: str = "id"):
        self.directory = Path(directory)
        self.path = self.directory / f"{name}.jsonl"
        self.head_path = self.directory / f"{name}.HEAD"
        self.lock_path = self.directory / f".{name}.lock"
        self.id_field = id_field

    @contextmanager
    def _locked(self) -> Iterator[None]:
        self.directory.mkdir(parents=True, exist_ok=True)
        with open(self.lock_path, "a", encoding="utf-8") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def _last(self) -> tuple[int, str]:
        """seq and hash of the last record: from HEAD, else from the file's last line, else the genesis."""
        try:
            seq, hash_ = self.head_path.read_text(encoding="utf-8").split()[:2]
            return int(seq), hash_
        except (OSError, ValueError):
            pass
        last = None
        if self.path.is_file():
            with open(self.path, encoding="utf-8") as fh:
                for line in fh:
                    if line.strip():
                        last = line
        if last is None:
            return 0, GENESIS
        record = json.loads(last)
        return int(record["seq"]), str(record["hash"])

    def append(self, record: dict[str, Any]) -> dict[str, Any]:
        """Chain `record` after the last one and append it (one write, O_APPEND); returns it with seq/prev/hash."""
        with self._locked():
            seq, prev = self._last()
            chained = {**{k: v for k, v in record.items() if k not in CHAIN_FIELDS}, "seq": seq + 1, "prev": prev}
            chained["hash"] = digest(chained)
            line = (json.dumps(chained, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)
                    + "\n").encode("utf-8")
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
            try:
                os.write(fd, line)
                os.fsync(fd)
            finally:
                os.close(fd)
            tmp = self.head_path.with_name(self.head_path.name + ".tmp")
            tmp.write_text(f"{chained['seq']} {chained['hash']}\n", encoding="utf-8")
            os.replace(tmp, self.head_path)
            return chained

    def read(self) -> list[dict[str, Any]]:
        """Every readable record, in file order (no verification)."""
        return self.verify().records

    def verify(self) -> Verification:
        """Read the archive and name every break of the chain: an edited record (its hash no longer matches),
        a removed one (a gap in seq, or a record whose `prev` is not the hash before it), records out of order,
        and a last record removed or edited (HEAD disagrees)."""
        result = Verification(self.path)
        if not self.path.is_file():
            if self.head_path.is_file():
                result.problems.append(Problem(0, "", f"{self.path.name} is missing but HEAD names records"))
            return result
        parsed: list[tuple[int, dict[str, Any]]] = []
        with open(self.path, encoding="utf-8") as fh:
            for number, line in enumerate(fh, 1):
                if not line.strip():
                    result.problems.append(Problem(number, "", "empty line (a record was removed or cut)"))
                    continue
                try:
                    record = json.loads(line)
                    int(record["seq"]), str(record["hash"]), str(record["prev"])
                except (ValueError, KeyError, TypeError):
                    result.problems.append(Problem(number, "", "not a chained record (edited or cut)"))
                    continue
                parsed.append((number, record))
        present = {int(r["seq"]) for _, r in parsed}
        prev_hash, prev_seq, prev_name = GENESIS, 0, "the start of the archive"
        for number, record in parsed:
            seq = int(record["seq"])
            name = f"{record.get(self.id_field, '?')}, seq {seq}"
            if digest(record) != str(record["hash"]):
                result.problems.append(Problem(number, name, "edited: its content no longer gives its hash"))
            if seq <= prev_seq:
                result.problems.append(Problem(number, name, f"out of order: stands after {prev_name}"))
                result.records.append(record)
                continue  # the chain goes on from the record before it
            if seq > prev_seq + 1:
                missing = range(prev_seq + 1, seq)
                moved = [s for s in missing if s in present]
                gone = [s for s in missing if s not in present]
                if gone:
                    span = f"seq {gone[0]}" if len(gone) == 1 else f"seq {gone[0]}–{gone[-1]}"
                    result.problems.append(Problem(number, name, f"record(s) removed before it: {span} missing "
                                                                 f"after {prev_name}"))
                if moved:
                    result.problems.append(Problem(number, name, f"out of order: seq {', '.join(map(str, moved))} "
                                                                 "should stand before it"))
            elif str(record["prev"]) != prev_hash:
                result.problems.append(Problem(number, name, f"does not follow {prev_name}: that record was edited "
                                                             "or replaced after this one was written"))
            result.records.append(record)
            prev_hash, prev_seq, prev_name = str(record["hash"]), seq, name
        try:
            head_seq, head_hash = self.head_path.read_text(encoding="utf-8").split()[:2]
        except (OSError, ValueError):
            if result.records:
                result.problems.append(Problem(0, "", f"{self.head_path.name} is missing or unreadable"))
            return result
        last_seq = max(present) if present else 0
        last_hash = next((str(r["hash"]) for _, r in parsed if int(r["seq"]) == last_seq), GENESIS)
        if int(head_seq) != last_seq:
            what = "removed" if int(head_seq) > last_seq else "added without the archive's lock"
            result.problems.append(Problem(0, "", f"HEAD names seq {head_seq} as the last record, the archive ends at "
                                                  f"seq {last_seq}: the last record(s) were {what}"))
        elif head_hash != last_hash:
            result.problems.append(Problem(0, f"seq {last_seq}", "the last record was edited or replaced: HEAD holds "
                                                                 "another hash for it"))
        return result
