"""One verification at a time on a host: the lock the compliance suites hold while they check it.

Intrusive checks change a host while they run (probe accounts with the account databases saved and written back, a
byte appended to a program and taken off, failed logins, probe tables), and other checks read what they change
(the integrity database, the failed-login counters). Two verifications of one host at once (a CI pipeline and the
management host's scheduled run, two operators) would see each other's probes and could write back each other's
saved files. So a run takes the host's lock before its first check of the host and lets it go after the last one
(compliance_tests/conftest.py orders each process's checks host by host, so a run holds one lock at a time and two
runs cannot wait on each other): a second run waits, saying for whom, and goes on when the first has finished the
host.

The lock is a directory on the host, /run/baseline-verify.lock (root's; /run is emptied at boot), holding the owner:
controller, process, run id and start. A lock older than STALE_S (its run was killed before it could let go) is
taken over. A run that cannot get the lock within its wait stops with the owner named.
"""

from __future__ import annotations

import contextlib
import os
import shlex
import socket
import time
from typing import Any

PATH = "/run/baseline-verify.lock"
WAIT_ENV = "BASELINE_HOST_LOCK_WAIT"  # seconds a run waits for a host another run is checking
WAIT_S = 1500
STALE_S = 1200  # no run checks one host this long: its lock was left by a run that was killed
BUSY = 75  # the script's status when the wait ran out


class HostBusy(RuntimeError):
    """Another verification held the host's lock for longer than this run waits."""


def wait_seconds(environ: Any = os.environ) -> int:
    given = str(environ.get(WAIT_ENV, "")).strip()
    if not given:
        return WAIT_S
    if not given.isdigit():
        raise ValueError(f"{WAIT_ENV}={given!r}: give the seconds to wait for a host's lock, a whole number")
    return int(given)


def owner(run_id: str) -> str:
    return (f"{socket.gethostname()} pid {os.getpid()} run {run_id or '-'} since "
            f"{time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime())}")


def take_script(me: str, wait: int, stale: int = STALE_S) -> str:
    """Shell (run as root): make the lock directory with `me` as its owner, waiting up to `wait` seconds; a lock
    older than `stale` seconds is taken over. Exit BUSY with the owner on standard output when the wait runs out."""
    return (f"L={PATH}; end=$(( $(date +%s) + {int(wait)} )); "
            f"while ! mkdir -m 700 \"$L\" 2>/dev/null; do "
            f"t=$(stat -c %Y \"$L\" 2>/dev/null) || continue; "
            f"if [ $(( $(date +%s) - t )) -gt {int(stale)} ]; then rm -rf \"$L\"; continue; fi; "
            f"if [ $(date +%s) -ge $end ]; then cat \"$L/owner\" 2>/dev/null || echo unknown; exit {BUSY}; fi; "
            f"sleep 2; done; printf '%s\\n' {shlex.quote(me)} > \"$L/owner\"")


def let_go_script(me: str) -> str:
    """Shell (run as root): remove the lock when `me` holds it (a lock taken over meanwhile is left alone)."""
    return (f"L={PATH}; if [ \"$(cat \"$L/owner\" 2>/dev/null)\" = {shlex.quote(me)} ]; then rm -rf \"$L\"; fi; "
            "true")


def _run(host: Any, script: str) -> Any:
    with host.sudo():
        return host.run("sh -c %s", script)


def take(host: Any, name: str, me: str, *, wait: int, say: Any = print) -> bool:
    """Take the lock of `host` (a testinfra host) for `me`. False when the host cannot be reached (its checks then
    say so themselves); HostBusy when another run held it longer than `wait` seconds."""
    try:
        first = _run(host, take_script(me, 0))
        if first.rc == 0:
            return True
        if first.rc != BUSY:
            return False
        say(f"{name}: another verification is checking this host ({first.stdout.strip()}); waiting up to {wait} s "
            "for it to finish")
        found = _run(host, take_script(me, wait))
    except Exception:  # noqa: BLE001 - no connection: the checks report the host unreachable
        return False
    if found.rc == BUSY:
        raise HostBusy(f"{name}: another verification held {PATH} for more than {wait} s ({found.stdout.strip()}); "
                       f"if no such run is going on, remove {PATH} on the host ({WAIT_ENV} sets the wait)")
    return found.rc == 0


def let_go(host: Any, me: str) -> None:
    """Remove the lock `me` holds; without a connection it goes stale and is taken over later."""
    with contextlib.suppress(Exception):
        _run(host, let_go_script(me))
