"""Run a command on the host under test with data on its standard input.

testinfra's `host.run` closes stdin, so anything a command needs has to go on its command line — where sudo
logs it and rsyslog forwards it to the log server, and where `ps` shows it to every user. Secrets (vault values,
digests of them, passwords of probe accounts) go through here instead: the command line stays fixed and
harmless, the data travels inside the SSH channel on stdin.

Used by the Linux and the database suites (compliance_tests/linux, compliance_tests/databases/dbcheck.py).
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from typing import Any


@dataclass
class StdinResult:
    rc: int
    stdout: str
    stderr: str
    command: str  # the command line that ran on the host (never holds the stdin data)


class StdinUnsupported(RuntimeError):
    """The testinfra backend of this host has no way to pass stdin here; the check errors instead of guessing."""


def run_with_stdin(host: Any, command: str, data: bytes | str, timeout: float = 900) -> StdinResult:
    """Run `command` on the host (as the SSH user: put `sudo -n` in the command when root is needed) with `data`
    on its standard input. Works for the ssh/safe-ssh backends the suites use and for local runs."""
    payload = data.encode() if isinstance(data, str) else data
    backend = host.backend
    kind = backend.get_connection_type()
    if kind in ("ssh", "safe-ssh"):
        ssh, args = backend._build_ssh_command(command)  # same ssh options testinfra itself uses
        local = backend.quote(" ".join(ssh), *args)
    elif kind == "local":
        local = command
    else:
        raise StdinUnsupported(f"cannot pass stdin through the {kind!r} testinfra backend")
    proc = subprocess.run(local, shell=True, input=payload, capture_output=True, timeout=timeout, check=False)  # noqa: S602 - the ssh command line testinfra builds
    if kind != "local" and proc.returncode == 255:
        raise RuntimeError(f"ssh to {backend.hostname} failed: {proc.stderr.decode('utf-8', 'replace').strip()}")
    return StdinResult(proc.returncode, proc.stdout.decode("utf-8", "replace"), proc.stderr.decode("utf-8", "replace"),
                       command)
