"""Daily inspection (OP-01, `baseline inspect`) on the lab after the demo: the healthy lab inspects green or amber
(exit 0, each amber line printed with its reason), then one fault at a time, each undone in a `finally`: the log
server's rsyslog stopped (log intake red, with a tightened age threshold so the test does not wait hours), one
client's snapshots on the backup store aged by hand (its off-site backup line red), a client's own backup record
aged by hand (its engine's full and incremental lines red), and a device unreachable (an
inventory copy pointing it at a closed port: its management line red)."""

from __future__ import annotations

import json
import shlex
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from lab_run import SSH, on

from baseline import REPO_ROOT, inventory
from devtools.lab import config

pytestmark = pytest.mark.lab


def inspect(tmp_path: Path, *args: str, inv: Path = config.INVENTORY_DIR) -> tuple[subprocess.CompletedProcess, dict]:
    out = tmp_path / f"reports-{time.monotonic_ns()}"
    proc = subprocess.run([sys.executable, "-m", "baseline.cli", "inspect", "--inventory", str(inv), "--out", str(out),
                           "--results-file", str(tmp_path / "inspection.jsonl"), *args],
                          cwd=REPO_ROOT, capture_output=True, text=True, timeout=600, check=False)
    reports = sorted(out.glob("inspection-*.json"))
    assert reports, f"no report (exit {proc.returncode}):\n{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}"
    assert reports[0].with_suffix(".html").exists()
    return proc, json.loads(reports[0].read_text(encoding="utf-8"))


def line(report: dict, asset: str, kind: str, item: str | None = None) -> dict:
    found = [x for x in report["lines"] if x["asset"] == asset and x["kind"] == kind and item in (None, x["item"])]
    assert found, f"no {kind} line for {asset} in the report"
    return found[0]


def described(lines: list[dict]) -> str:
    return "\n".join(f"{x['status']} {x['asset']} {x['kind']} [{x['item']}]: {x['value']} (threshold {x['threshold']}) "
                     f"{x['reason']}" for x in lines)


def groups() -> dict[str, list[str]]:
    return inventory.load(str(config.INVENTORY_DIR)).groups()


def test_healthy_lab_inspects_green_or_amber(demo_run, tmp_path):
    started = time.monotonic()
    proc, report = inspect(tmp_path)
    seconds = time.monotonic() - started
    red = [x for x in report["lines"] if x["status"] == "red"]
    amber = [x for x in report["lines"] if x["status"] == "amber"]
    print(f"inspection of the lab: {report['summary']} in {seconds:.1f} s; amber lines:\n{described(amber)}")
    assert proc.returncode == 0, f"red lines:\n{described(red)}\n{proc.stderr[-2000:]}"
    assert not red
    assert seconds < 120, f"the inspection of the lab took {seconds:.0f} s (one thread per host: seconds expected)"
    assert all(x["reason"] for x in amber), "an amber line without its reason"
    everything = inventory.load(str(config.INVENTORY_DIR)).hosts("all")
    assert {x["asset"] for x in report["lines"]} == set(everything), "a host or device was left out"
    for host in groups()["linux_servers"]:  # amber only when slow (the emulated VM)
        assert line(report, host, "ssh")["status"] in ("green", "amber")
    for device in groups().get("network_devices", []):
        assert line(report, device, "mgmt")["status"] in ("green", "amber")
    accounts = {(x["asset"], x["item"]): x["status"] for x in report["lines"] if x["kind"] == "accounts"}
    assert {("app1", "server"): "green", ("db1", "postgresql"): "green", ("db2", "mariadb"): "green"}.items() \
        <= accounts.items(), f"orphan-account lines (AC-02): {accounts}"
    records = [json.loads(x) for x in (tmp_path / "inspection.jsonl").read_text(encoding="utf-8").splitlines()]
    daily = [r for r in records if r["control_ids"] == ["OP-01"]]
    assert {r["asset"] for r in daily} == set(everything)
    assert all(r["outcome"] in ("pass", "not_verifiable") for r in daily)
    # the same run's survey of the accounts gives the AC-02 records: every server, database and device, all passing
    surveyed = [r for r in records if r["control_ids"] == ["AC-02"]]
    assert len(daily) + len(surveyed) == len(records)
    assert {r["asset"] for r in surveyed} == set(everything)
    assert {r["outcome"] for r in surveyed} <= {"pass", "not_verifiable"}  # not_verifiable: an emulated VM too slow
    assert {r["asset"] for r in surveyed if r["outcome"] == "pass"} >= {"app1", "db1", "db2"}


@pytest.mark.lab_cost(95)
def test_log_server_not_receiving_turns_log_intake_red(demo_run, tmp_path):
    log_server = groups()["log_servers"][0]
    sender = next(h for h in groups()["app_servers"] if h != log_server)
    on(sender, "logger -t baseline-inspection-test 'before the log server stops'")
    time.sleep(5)
    _, before = inspect(tmp_path, "--set", "log_max_age_s=60")
    assert line(before, sender, "log_intake")["status"] == "green", described([line(before, sender, "log_intake")])
    try:
        # syslog.socket too: a local message would start rsyslog again through it
        on(log_server, "sudo sh -c 'systemctl stop syslog.socket 2>/dev/null; systemctl stop rsyslog.service'")
        on(sender, "logger -t baseline-inspection-test 'while the log server is stopped'")
        time.sleep(40)
        state = subprocess.run([*SSH, log_server, "systemctl is-active rsyslog.service"], capture_output=True,
                               text=True, timeout=60, check=False).stdout.strip()
        assert state != "active", "rsyslog came back on its own: the fault did not hold"
        proc, after = inspect(tmp_path, "--set", "log_max_age_s=30")
        intake = line(after, sender, "log_intake")
        assert proc.returncode == 1
        assert intake["status"] == "red", described([intake])
        assert intake["threshold"] == "≤ 30 s"
    finally:
        on(log_server, "sudo systemctl start rsyslog.service")


def test_backup_aged_on_the_store_turns_its_line_red(demo_run, tmp_path):
    store = groups()["backup_servers"][0]
    client = groups()["postgresql_servers"][0]
    root = inventory.load(str(config.INVENTORY_DIR)).vars(store)["backup_store_root"]
    snapshots = shlex.quote(f"{root}/{client}/restic/snapshots")
    saved = on(store, f"sudo find {snapshots} -type f -printf '%T@ %p\\n'")
    assert saved.strip(), f"no snapshot of {client} on {store}"
    try:
        on(store, f"sudo find {snapshots} -type f -exec touch -d '3 days ago' {{}} +")
        proc, report = inspect(tmp_path)
        offsite = line(report, client, "offsite")
        assert proc.returncode == 1
        assert offsite["status"] == "red", described([offsite])
        assert offsite["value"].endswith(" d") and float(offsite["value"].split()[0]) >= 2.9
    finally:
        restore = "; ".join(f"touch -d @{stamp.split('.')[0]} {shlex.quote(path)}"
                            for stamp, path in (row.split(" ", 1) for row in saved.strip().splitlines()))
        on(store, f"sudo sh -c {shlex.quote(restore)}")


def test_backup_record_aged_on_the_client_turns_its_engine_lines_red(demo_run, tmp_path):
    """The client's own record of its last full and incremental backup (baseline-backup writes it after the off-site
    copy) set back by hand: the engine's full and incremental lines turn red; the record is put back byte for byte."""
    client = groups()["postgresql_servers"][0]
    state_dir = inventory.load(str(config.INVENTORY_DIR)).vars(client).get("backup_client_state_dir",
                                                                            "/var/lib/baseline-backup")
    record = shlex.quote(f"{state_dir}/postgresql.json")
    saved = shlex.quote(f"{state_dir}/postgresql.json.inspection-test")
    on(client, f"sudo test -s {record} && sudo cp -p {record} {saved}")
    age_it = ("import json, sys; p = sys.argv[1]; d = json.load(open(p))\n"
              "for k in ('last_full', 'last_incremental'):\n"
              "    if isinstance(d.get(k), dict): d[k]['time'] = '20200101T000000Z'\n"
              "json.dump(d, open(p, 'w'))")
    try:
        on(client, f"sudo python3 -c {shlex.quote(age_it)} {record}")
        proc, report = inspect(tmp_path)
        full, newest = line(report, client, "backup", "postgresql full"), line(report, client, "backup",
                                                                                "postgresql incremental")
        assert proc.returncode == 1
        assert full["status"] == "red" and newest["status"] == "red", described([full, newest])
        assert full["value"].endswith(" d") and float(full["value"].split()[0]) > 365, described([full])
    finally:
        on(client, f"sudo mv -f {saved} {record}")


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_device_down_turns_its_connectivity_red(demo_run, tmp_path):
    copy = tmp_path / "inventory"
    copy.mkdir()
    for name in ("hosts.yml", "ssh_config"):
        shutil.copy(config.INVENTORY_DIR / name, copy / name)
    (copy / "group_vars").symlink_to(REPO_ROOT / "inventory" / "group_vars")
    devices = yaml.safe_load((config.INVENTORY_DIR / "devices.yml").read_text(encoding="utf-8"))
    vendor = next(iter(devices["network_devices"]["children"].values()))
    device, record = next(iter(vendor["hosts"].items()))
    record["ansible_port"] = closed_port()
    (copy / "devices.yml").write_text(yaml.safe_dump(devices, allow_unicode=True), encoding="utf-8")
    proc, report = inspect(tmp_path, inv=copy)
    mgmt = line(report, device, "mgmt")
    assert proc.returncode == 1
    assert mgmt["status"] == "red" and mgmt["value"] == "unreachable", described([mgmt])
    others = [x for x in report["lines"] if x["kind"] == "mgmt" and x["asset"] != device]
    assert others and all(x["status"] != "red" for x in others), described(others)
