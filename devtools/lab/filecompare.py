"""The files two hosts hold, compared with each host's name aside (tests/lab/test_engine_parity.py: an Ansible host
and its pyinfra twin must hold the same files under the directories the baseline manages).

A file matches when owner, group and mode are the same and either its bytes are the same or its text is the same
once each host's name is written as @HOST@ (rsyslog's configuration names the host's own certificate). Both digests
count: a host's name can occur by chance inside base64 data (three given letters occur in about one PEM certificate
of 3072 bits in 175), and writing it as @HOST@ on one side only would make equal files differ."""

from __future__ import annotations

import re
import shlex
from typing import NamedTuple

HOST_MARK = "@HOST@"


class FileState(NamedTuple):
    meta: str  # owner:group:mode
    digest: str  # sha256 of the bytes
    named: str  # sha256 of the text with the host's name written as HOST_MARK


def listing_command(paths: tuple[str, ...] | list[str], host: str, sudo: str = "sudo ") -> str:
    """A shell command printing `PATH OWNER:GROUP:MODE SHA256 SHA256-NAMED` for every regular file under `paths`
    (one file system each, paths that do not exist left out)."""
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*", host):
        raise ValueError(f"host name {host!r} cannot be written into a sed expression (letters, digits, . _ - only)")
    name = host.replace(".", "\\.")  # sed's regular expression: a dot is a dot
    per_file = ('for f; do printf "%s %s %s " "$f" "$(stat -c %U:%G:%a "$f")" "$(sha256sum <"$f" | cut -d" " -f1)";'
                f' sed "s/{name}/{HOST_MARK}/g" "$f" | sha256sum | cut -d" " -f1; done')
    return (f"{sudo}find {' '.join(map(shlex.quote, paths))} -xdev -type f -print0 2>/dev/null"
            f" | {sudo}xargs -0 -r sh -c {shlex.quote(per_file)} sh")


def read_listing(text: str, host: str) -> dict[str, FileState]:
    """path (the host's name written as HOST_MARK) -> its FileState, from the output of listing_command."""
    found = {}
    for line in text.splitlines():
        path, meta, digest, named = line.rsplit(" ", 3)
        found[path.replace(host, HOST_MARK)] = FileState(meta, digest, named)
    return found


def same_file(mine: FileState | None, theirs: FileState | None) -> bool:
    """Both absent, or both present with the same owner, group and mode and the same bytes or named text."""
    if mine is None or theirs is None:
        return mine is theirs
    return mine.meta == theirs.meta and (mine.digest == theirs.digest or mine.named == theirs.named)


def differences(mine: dict[str, FileState], theirs: dict[str, FileState]) -> dict[str, tuple]:
    """path -> (theirs, mine) for every path where the two listings do not hold the same file."""
    return {path: (theirs.get(path), mine.get(path)) for path in sorted(set(mine) | set(theirs))
            if not same_file(mine.get(path), theirs.get(path))}
