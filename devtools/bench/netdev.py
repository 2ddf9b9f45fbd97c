"""`scripts/bench-netdev`: push, backup and audit figures against the simulator, stock netmiko vs project drivers.

Targets (issue 5): a 20-line push to one simulated device under 1 s; 30 devices backed up under 10 s.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import tempfile
import time
from pathlib import Path

from baseline.netdev import configdiff, devices
from baseline.netdev.cli import main as netdev
from baseline.netdev.drivers import connect
from baseline.netdev.push import read_running, send
from baseline.netdev.render import render
from baseline.secrets import generate
from devtools.simulator import Simulator, from_inventory
from devtools.simulator.testbed import make_inventory, many_devices


def _push_lines(device: devices.NetDevice, count: int, stock: bool) -> tuple[float, int]:
    """Connect, send `count` missing baseline lines, save, disconnect. Returns (seconds, lines sent)."""
    start = time.monotonic()
    conn = connect(device, stock=stock)
    try:
        found = configdiff.findings(device.vendor, read_running(conn, device), render(device).text, device.values)
        chosen: list[str] = []
        for size in range(1, len(found.missing) + 1):  # the first baseline lines, with their sections, to `count`
            chosen = configdiff.commands(device.vendor, configdiff.Finding(missing=found.missing[:size]))
            if len(chosen) >= count:
                break
        error = send(conn, device, chosen)
        if error:
            raise RuntimeError(error)
        conn.save_config()
    finally:
        conn.disconnect()
    return time.monotonic() - start, len(chosen)


def _timed(argv: list[str]) -> tuple[float, int]:
    start = time.monotonic()
    with contextlib.redirect_stdout(io.StringIO()):  # findings of the seeded devices are not the point here
        rc = netdev(argv)
    return time.monotonic() - start, rc


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="scripts/bench-netdev", description=__doc__)
    p.add_argument("--devices", type=int, default=30, help="simulated devices for backup and audit (default 30)")
    p.add_argument("--lines", type=int, default=20, help="lines in the single-device push (default 20)")
    p.add_argument("--skip-stock", action="store_true", help="only the project drivers (stock Huawei is slow)")
    args = p.parse_args(argv)
    os.environ["BASELINE_VAULT_PASSWORD"] = generate(length=32, name="the benchmark's vault password")
    with tempfile.TemporaryDirectory(prefix="bench-netdev-") as tmp:
        root = Path(tmp)
        inv = make_inventory(root, os.environ["BASELINE_VAULT_PASSWORD"], devices=many_devices(args.devices))
        loaded = devices.load(inv)
        sim = Simulator(from_inventory(loaded, root / "state"), root / "state")
        sim.start()
        rows: list[tuple[str, str, float, str]] = []
        try:
            drivers = [("project", False)] if args.skip_stock else [("stock", True), ("project", False)]
            by_type: dict[str, devices.NetDevice] = {}
            for device in loaded:
                by_type.setdefault(device.device_type, device)
            for device_type, device in sorted(by_type.items()):
                for label, stock in drivers:
                    _reseed(sim, device)
                    seconds, sent = _push_lines(device, args.lines, stock)
                    rows.append((f"push {sent} lines, 1 device ({device_type})", label, seconds, "< 1 s"))
            for label, stock in drivers:
                extra = ["--stock-driver"] if stock else []
                seconds, rc = _timed(["-q", "-i", str(inv), *extra, "backup", "--backup-dir", str(root / label)])
                rows.append((f"backup {len(loaded)} devices", label, seconds, "< 10 s" + ("" if rc == 0 else " (FAILED)")))
                seconds, rc = _timed(["-q", "-i", str(inv), *extra, "audit", "--results", str(root / f"{label}.jsonl")])
                rows.append((f"audit {len(loaded)} devices (8 checks each)", label, seconds, ""))
            seconds, rc = _timed(["-q", "-i", str(inv), "push"])
            rows.append((f"push baseline to {len(loaded)} devices", "project", seconds, "ok" if rc == 0 else "FAILED"))
        finally:
            sim.stop()
    width = max(len(r[0]) for r in rows)
    print(f"{'measure':{width}}  driver   seconds  target")
    for what, label, seconds, target in rows:
        print(f"{what:{width}}  {label:7} {seconds:8.2f}  {target}")
    return 0


def _reseed(sim: Simulator, device: devices.NetDevice) -> None:
    from devtools.simulator import seed_text
    from devtools.simulator.model import Config

    target = sim.devices[device.name]
    with target.lock:
        target.running = Config(target.grammar)
        target.running.load_text(seed_text(device))
        target.saved = target.running.render()


if __name__ == "__main__":
    raise SystemExit(main())
