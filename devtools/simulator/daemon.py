"""`scripts/devsim start|stop|status|serve`: the device simulator as a background daemon for the lab.

Pid file and log under .lab/devsim/, device state under .lab/devsim/state/ (running and saved configuration per
device, kept across restarts; `start --reset` starts again from the non-compliant seeds). `start` and `stop` are
idempotent; `start` removes a stale pid file; `stop` signals only the pid recorded by `start`, after checking that
it is the simulator.
"""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING

from baseline import REPO_ROOT

if TYPE_CHECKING:
    from devtools.simulator.server import Simulator

RUN_DIR = REPO_ROOT / ".lab" / "devsim"
MODULE = "devtools.simulator.daemon"


def _paths(run_dir: Path) -> dict[str, Path]:
    return {"pid": run_dir / "devsim.pid", "log": run_dir / "devsim.log", "state": run_dir / "state",
            "ready": run_dir / "ready"}


def _alive(pid: int) -> bool:
    """The process exists and is this simulator (not a recycled pid of something else)."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return False
    return MODULE in cmdline and " serve" in cmdline


def _read_pid(path: Path) -> int | None:
    try:
        return int(path.read_text().strip())
    except (OSError, ValueError):
        return None


def serve(args: argparse.Namespace) -> int:
    from baseline.netdev import definitions
    from devtools.simulator import Simulator, from_inventory, options_from_inventory

    paths = _paths(Path(args.run_dir))
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    devices = definitions.load(args.inventory)
    sim = Simulator(from_inventory(devices, paths["state"]), paths["state"], options_from_inventory(devices))
    sim.start()
    paths["ready"].write_text("\n".join(_ready_line(sim, d.name, d.host, d.port, d.device_type) for d in devices) + "\n")
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    logging.info("serving %d devices", len(devices))
    stop.wait()
    sim.stop()
    paths["ready"].unlink(missing_ok=True)
    return 0


def _ready_line(sim: Simulator, name: str, address: str, port: int, device_type: str) -> str:
    """`name address:port type`, then `telnet=address:port` and `snmp=udp:address:port` where offered."""
    extra = ([f"telnet={address}:{sim.telnet_ports[name]}"] if name in sim.telnet_ports else []) + (
        [f"snmp=udp:{address}:{sim.snmp_ports[name]}"] if name in sim.snmp_ports else [])
    return " ".join([name, f"{address}:{port}", device_type, *extra])


def start(args: argparse.Namespace) -> int:
    run_dir = Path(args.run_dir)
    paths = _paths(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    pid = _read_pid(paths["pid"])
    if pid and _alive(pid):
        print(f"devsim: already running (pid {pid})")
        return 0
    if pid:
        print(f"devsim: removing stale pid file (pid {pid} is not running)")
    paths["pid"].unlink(missing_ok=True)
    paths["ready"].unlink(missing_ok=True)
    if args.reset and paths["state"].exists():
        shutil.rmtree(paths["state"])
    command = [sys.executable, "-m", MODULE, "--run-dir", str(run_dir)]
    if args.inventory:
        command += ["--inventory", str(args.inventory)]
    command.append("serve")
    with open(paths["log"], "ab") as log:
        proc = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                start_new_session=True, cwd=REPO_ROOT)
    paths["pid"].write_text(f"{proc.pid}\n")
    deadline = time.monotonic() + args.timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            paths["pid"].unlink(missing_ok=True)
            print(f"devsim: failed to start, see {paths['log']}:\n" + paths["log"].read_text()[-2000:], file=sys.stderr)
            return 1
        if paths["ready"].exists():
            print(f"devsim: started (pid {proc.pid})\n" + paths["ready"].read_text(), end="")
            return 0
        time.sleep(0.1)
    print(f"devsim: not ready after {args.timeout} s, see {paths['log']}", file=sys.stderr)
    return 1


def stop(args: argparse.Namespace) -> int:
    paths = _paths(Path(args.run_dir))
    pid = _read_pid(paths["pid"])
    if not pid or not _alive(pid):
        paths["pid"].unlink(missing_ok=True)
        paths["ready"].unlink(missing_ok=True)
        print("devsim: not running")
        return 0
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + args.timeout
    while time.monotonic() < deadline and _alive(pid):
        time.sleep(0.1)
    if _alive(pid):
        os.kill(pid, signal.SIGKILL)
    paths["pid"].unlink(missing_ok=True)
    paths["ready"].unlink(missing_ok=True)
    print(f"devsim: stopped (pid {pid})")
    return 0


def status(args: argparse.Namespace) -> int:
    paths = _paths(Path(args.run_dir))
    pid = _read_pid(paths["pid"])
    if not pid or not _alive(pid):
        print("devsim: not running" + (" (stale pid file)" if pid else ""))
        return 3
    print(f"devsim: running (pid {pid})")
    for line in paths["ready"].read_text().splitlines() if paths["ready"].exists() else []:
        name, address, kind, *extra = line.split()
        host, port = address.split(":")
        with socket.socket() as sock:
            sock.settimeout(1)
            state = "listening" if sock.connect_ex((host, int(port))) == 0 else "NOT listening"
        print(f"  {name:16} {address:18} {kind:14} {state}" + "".join(f"  {item}" for item in extra))
    return 0


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="scripts/devsim", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--run-dir", default=str(RUN_DIR), help="pid file, log and state directory (default: .lab/devsim)")
    p.add_argument("--inventory", help="inventory with the network_devices group (default: inventory/lab)")
    p.add_argument("--timeout", type=float, default=30, help="seconds to wait for start or stop (default 30)")
    sub = p.add_subparsers(dest="command", required=True)
    s = sub.add_parser("start", help="start in the background (nothing to do when already running)")
    s.add_argument("--reset", action="store_true", help="forget device state: every device starts from its seed")
    sub.add_parser("stop", help="stop the daemon started by `start` (nothing to do when not running)")
    sub.add_parser("status", help="show whether it runs and which device listens where (exit 3 when not running)")
    sub.add_parser("serve", help="run in the foreground (what `start` runs)")
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    return {"start": start, "stop": stop, "status": status, "serve": serve}[args.command](args)


if __name__ == "__main__":
    sys.exit(main())
