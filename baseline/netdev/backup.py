"""Offline configuration archive (NW-08, 第二十条(七), 第十二条(五)).

One directory per run under the backup root, named by UTC time: `20250101T020000Z-backup/`, holding per device
`<name>.running.cfg` and `<name>.saved.cfg` (and `<name>.after.cfg` when a push changed the device), a
`<name>.diff` against the device's previous archived running configuration, and `SHA256SUMS` (sha256sum format)
over every file. Files are readable by the owner only: configurations carry password digests.
"""

from __future__ import annotations

import difflib
import hashlib
import os
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from baseline.netdev.vendors import config_body

MANIFEST = "SHA256SUMS"


def _stamp() -> str:
    return datetime.now(UTC).strftime("%Y%m%dT%H%M%S.%fZ")


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@dataclass
class Archive:
    """An archive being written; `close()` writes the manifest."""

    root: Path
    kind: str = "backup"
    path: Path = field(init=False)
    _lock: threading.Lock = field(init=False, default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.path = self.root / f"{_stamp()}-{self.kind}"
        self.path.mkdir(mode=0o700)

    def _write(self, name: str, text: str) -> Path:
        target = self.path / name
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        return target

    def add(self, device: str, running: str, saved: str) -> str:
        """Store a device's configurations; return the diff against its previous archived running config."""
        previous = latest(self.root, device, before=self.path.name)
        self._write(f"{device}.running.cfg", running)
        self._write(f"{device}.saved.cfg", saved)
        old = previous_running(previous, device) if previous else ""
        diff = "".join(difflib.unified_diff(
            config_body(old).splitlines(keepends=True), config_body(running).splitlines(keepends=True),
            fromfile=f"{previous.name}/{device}.running.cfg" if previous else "(no previous backup)",
            tofile=f"{self.path.name}/{device}.running.cfg"))
        self._write(f"{device}.diff", diff)
        return diff

    def add_after(self, device: str, running: str) -> None:
        self._write(f"{device}.after.cfg", running)

    def close(self) -> Path:
        with self._lock:
            lines = [f"{_sha256(p)}  {p.name}\n" for p in sorted(self.path.iterdir()) if p.name != MANIFEST]
            self._write(MANIFEST, "".join(lines))
        return self.path


def archives(root: Path) -> list[Path]:
    """Archives under `root`, oldest first (names sort by time)."""
    if not root.is_dir():
        return []
    return sorted(p for p in root.iterdir() if p.is_dir() and (p / MANIFEST).exists())


def latest(root: Path, device: str, before: str | None = None) -> Path | None:
    for path in reversed(archives(root)):
        if before is not None and path.name >= before:
            continue
        if (path / f"{device}.running.cfg").exists():
            return path
    return None


def previous_running(archive: Path, device: str) -> str:
    """The device's configuration as the archive left it (after a push, else as backed up)."""
    after = archive / f"{device}.after.cfg"
    path = after if after.exists() else archive / f"{device}.running.cfg"
    return path.read_text(encoding="utf-8")


def verify(archive: Path) -> list[str]:
    """Problems with an archive: files missing, altered or not in the manifest. Empty when intact."""
    manifest = archive / MANIFEST
    if not manifest.exists():
        return [f"{archive}: no {MANIFEST}"]
    problems = []
    listed = {}
    for line in manifest.read_text(encoding="utf-8").splitlines():
        digest, _, name = line.partition("  ")
        listed[name] = digest
    for name, digest in listed.items():
        path = archive / name
        if not path.exists():
            problems.append(f"{archive.name}/{name}: listed in {MANIFEST} but missing")
        elif _sha256(path) != digest:
            problems.append(f"{archive.name}/{name}: SHA-256 differs from {MANIFEST} (altered)")
    for path in archive.iterdir():
        if path.name != MANIFEST and path.name not in listed:
            problems.append(f"{archive.name}/{path.name}: not in {MANIFEST}")
    return problems


def age_days(archive: Path) -> float:
    stamp = archive.name.split("-")[0]
    taken = datetime.strptime(stamp, "%Y%m%dT%H%M%S.%fZ").replace(tzinfo=UTC)
    return (datetime.now(UTC) - taken).total_seconds() / 86400
