"""The management host mgmt1 (roles/management) after the demo applied site.yml: the timers of the daily inspection
(OP-01) and of the verification (CM-01) are enabled and scheduled; a start of the inspection service writes a
dated HTML and JSON report with no red line for the healthy lab (the devices answer on the lab network, the drills
are read on the drill host) and the unit succeeds; the verification service, limited to app1 through
its inventory (a runtime drop-in, removed afterwards), run once on the hardened host and once after a hand drift
(tests/lab/drifts.py, IA-02 on app1, repaired in a `finally`) fails the second time, keeps both runs in its history,
and its drift alert from mgmt1 arrives on the log server. A device change made from mgmt1 with the services' program
(`netdev push` repairing a hand drift) is recorded in mgmt1's change archive, whose chain verifies, and the record's
copy reaches the log server with the same hash. The vault password never shows in the services' journal."""

from __future__ import annotations

import json
import re
import shlex
import subprocess
import time

import pytest
import yaml
from drifts import IA_02, NW_02
from lab_run import SSH, on, playbook

from baseline import REPO_ROOT
from baseline.netdev import devices, drivers, push
from devtools.lab import config

pytestmark = pytest.mark.lab

HOST = "mgmt1"
DATA = "/var/lib/baseline-management"
ROOT = "/opt/baseline"
ACCOUNT = "baseline"
CONFIG = "/etc/baseline-management"
LIMIT_DIR = f"{DATA}/limit-test"
DROP_IN = "/run/systemd/system/baseline-verify.service.d/50-lab-test.conf"
LOG_FILE = f"/var/log/remote/{HOST}/messages.log"  # roles/logserver: logserver_dir/<sender>/messages.log


def ssh(host: str, command: str, *, stdin: str | None = None, timeout: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run([*SSH, host, command], input=stdin, capture_output=True, text=True, timeout=timeout,
                          check=False)


def unit_state(unit: str) -> dict[str, str]:
    text = on(HOST, f"systemctl show -p Result -p ExecMainStatus -p ActiveState {unit}")
    return dict(line.split("=", 1) for line in text.splitlines() if "=" in line)


def start(unit: str, timeout: float = 600) -> tuple[subprocess.CompletedProcess, dict[str, str], float]:
    """`systemctl start` of a oneshot service (returns when it has finished) and the unit's result after it."""
    began = time.monotonic()
    proc = ssh(HOST, f"sudo systemctl start {unit}", timeout=timeout)
    return proc, unit_state(unit), time.monotonic() - began


def journal(unit: str, lines: int = 40) -> str:
    return ssh(HOST, f"sudo journalctl -u {unit} --no-pager -n {lines}").stdout


# --- a one-host inventory for the verification ------------------------------------------------------------------


class _Vault(str):
    """A `!vault` value of the lab's generated inventory, kept as it is."""


class _Loader(yaml.SafeLoader):
    pass


class _Dumper(yaml.SafeDumper):
    pass


_Loader.add_constructor("!vault", lambda loader, node: _Vault(loader.construct_scalar(node)))
_Dumper.add_representer(_Vault, lambda dumper, value: dumper.represent_scalar("!vault", str(value), style="|"))


def one_host_inventory(name: str) -> str:
    """The lab's generated hosts.yml with `name` as its only host (its groups, all.vars with the vaulted values)."""
    data = yaml.load((config.INVENTORY_DIR / "hosts.yml").read_text(encoding="utf-8"), Loader=_Loader)  # noqa: S506
    servers = data["all"]["children"]["linux_servers"]["children"]
    kept = {group: {"hosts": {name: members["hosts"][name]}} for group, members in servers.items()
            if name in (members.get("hosts") or {})}
    assert kept, f"{name} is in no group of the lab inventory"
    data["all"]["children"]["linux_servers"]["children"] = kept
    return yaml.dump(data, Dumper=_Dumper, sort_keys=False, allow_unicode=True)


def history() -> dict[str, dict]:
    """Run id -> summary of every complete run in the verification history on mgmt1."""
    text = on(HOST, f"sudo sh -c 'for f in {DATA}/history/*/summary.json; do [ -f \"$f\" ] && cat \"$f\" && "
                    "echo; echo @@; done; true'")
    found = {}
    for chunk in text.split("@@"):
        if chunk.strip():
            summary = json.loads(chunk)
            found[summary["run_id"]] = summary
    return found


# --- tests ---------------------------------------------------------------------------------------------------------


def test_timers_are_enabled_and_scheduled(demo_run):
    for timer in ("baseline-inspect.timer", "baseline-verify.timer"):
        text = on(HOST, f"systemctl show -p UnitFileState -p ActiveState -p NextElapseUSecRealtime {timer}")
        state = dict(line.split("=", 1) for line in text.splitlines() if "=" in line)
        assert state["UnitFileState"] == "enabled", f"{timer}: {state}"
        assert state["ActiveState"] == "active", f"{timer}: {state}"
        assert state["NextElapseUSecRealtime"] not in ("", "0", "n/a"), f"{timer} is not scheduled: {state}"
    listed = on(HOST, "systemctl list-timers --all --no-pager")
    assert "baseline-inspect.timer" in listed and "baseline-verify.timer" in listed
    inspect_timer = on(HOST, "systemctl cat baseline-inspect.timer")
    assert re.search(r"^OnCalendar=\*-\*-\* 08:30:00$", inspect_timer, re.M)
    assert re.search(r"^Persistent=true$", inspect_timer, re.M)


def test_the_account_holds_the_key_and_the_credential_is_root_only(demo_run):
    modes = on(HOST, f"sudo stat -c '%n %U %a' {DATA}/.ssh/id_ed25519 {CONFIG}/vault-password")
    assert f"{DATA}/.ssh/id_ed25519 baseline 600" in modes
    assert f"{CONFIG}/vault-password root 400" in modes
    # the directories the services write (the runtime's results, reports and changes link to three of them)
    owners = on(HOST, f"sudo stat -c '%n %U' {DATA}/results {DATA}/reports {DATA}/changes {DATA}/history "
                      f"{DATA}/inspections").splitlines()
    assert [line.split()[1] for line in owners] == ["baseline"] * 5, owners
    assert on(HOST, "getent passwd baseline | cut -d: -f7").strip() == "/usr/sbin/nologin"
    units = on(HOST, "systemctl cat baseline-inspect.service baseline-verify.service")
    password = (REPO_ROOT / ".lab" / "vault-password").read_text(encoding="utf-8").strip()
    assert password not in units
    assert "LoadCredential=vault-password:/etc/baseline-management/vault-password" in units


def test_inspection_service_writes_a_dated_report_and_its_result_is_the_reports_verdict(demo_run):
    before = set(on(HOST, f"sudo ls -1 {DATA}/inspections").split())
    proc, state, seconds = start("baseline-inspect.service")
    after = set(on(HOST, f"sudo ls -1 {DATA}/inspections").split())
    new = sorted(after - before)
    stems = sorted({n.rsplit(".", 1)[0] for n in new})
    assert len(stems) == 1, f"expected one new report, found {new}:\n{journal('baseline-inspect.service')}"
    stem = stems[0]
    assert re.fullmatch(r"inspection-\d{8}T\d{6}Z", stem)
    assert {f"{stem}.json", f"{stem}.html"} <= after
    report = json.loads(on(HOST, f"sudo cat {DATA}/inspections/{stem}.json"))
    print(f"inspection on {HOST}: {report['summary']} in {seconds:.0f} s, unit {state}")
    # the healthy lab seen from the management host is green as it is from the controller: the devices answer on
    # the lab network, the drills are read from the drill host, the accounts surveyed on every asset
    red = [f"{x['asset']} {x['kind']} [{x['item']}]: {x['value']} {x.get('reason', '')}" for x in report["lines"]
           if x["status"] == "red"]
    assert red == [], "\n".join(red)
    assert report["status"] != "red"
    assert state["ExecMainStatus"] == "0" and state["Result"] == "success", f"{state}, report {report['summary']}"
    assert proc.returncode == 0
    lines = {(x["asset"], x["kind"]) for x in report["lines"]}
    assert {line["asset"] for line in report["lines"]} >= {"app1", "log1", HOST}
    devices = [name for name, kind in lines if kind == "mgmt"]
    assert devices, f"no device line in the inspection from {HOST}"
    assert all(x["status"] == "green" for x in report["lines"] if x["kind"] in ("mgmt", "drill")), [
        x for x in report["lines"] if x["kind"] in ("mgmt", "drill") and x["status"] != "green"]
    assert {("db1", "drill"), ("db2", "drill")} <= lines
    password = (REPO_ROOT / ".lab" / "vault-password").read_text(encoding="utf-8").strip()
    assert password not in journal("baseline-inspect.service", 400)


@pytest.mark.lab_cost(150)
def test_verification_service_keeps_its_history_and_alerts_the_log_server_on_drift(demo_run):
    target = IA_02.host
    # the verification limited to one host through the service's inventory (BASELINE_INVENTORY)
    setup = ssh(HOST, f"sudo install -d -o baseline -g baseline -m 750 {LIMIT_DIR} && "
                      f"sudo install -o root -g baseline -m 640 /dev/stdin {LIMIT_DIR}/hosts.yml && "
                      f"sudo ln -sfn {CONFIG}/inventory/group_vars {LIMIT_DIR}/group_vars && "
                      f"sudo mkdir -p {shlex.quote(DROP_IN.rsplit('/', 1)[0])} && "
                      f"printf '[Service]\\nEnvironment=BASELINE_INVENTORY={LIMIT_DIR}\\n' | sudo tee {DROP_IN} >/dev/null && "
                      "sudo systemctl daemon-reload", stdin=one_host_inventory(target))
    assert setup.returncode == 0, setup.stderr
    drifted = False
    try:
        known = set(history())
        first_proc, first, first_s = start("baseline-verify.service")
        print(f"verification 1 ({target}): {first} in {first_s:.0f} s")
        on(target, IA_02.command)
        drifted = True
        second_proc, second, second_s = start("baseline-verify.service")
        print(f"verification 2 ({target}, {IA_02.control} drifted): {second} in {second_s:.0f} s")
    finally:
        if drifted:
            repair = playbook(*IA_02.repair)
            assert repair.returncode == 0, f"repair of {IA_02.control} failed:\n{repair.stdout[-4000:]}"
        ssh(HOST, f"sudo rm -rf {DROP_IN} {LIMIT_DIR} && sudo systemctl daemon-reload")
    runs = {k: v for k, v in history().items() if k not in known}
    assert len(runs) == 2, f"history: {sorted(runs)}\n{journal('baseline-verify.service')}"
    one, two = sorted(runs.values(), key=lambda s: s["finished"])
    assert one["inventory"] == LIMIT_DIR and two["previous"] == one["run_id"]
    assert second_proc.returncode != 0 and second["ExecMainStatus"] == "1" and second["Result"] == "exit-code"
    drifts = [d for d in two["drift"] if d["control"] == IA_02.control and d["asset"] == target]
    assert drifts, f"no {IA_02.control} drift on {target} in run {two['run_id']}: {two['drift']}"
    assert any("test_pwquality_matches_policy" in d["check"] for d in drifts)
    # the alert: local syslog on mgmt1, forwarded over TLS by rsyslog to the log server
    wanted = f"drift run {two['run_id']}"
    deadline = time.monotonic() + 60
    found = ""
    while time.monotonic() < deadline and not found:
        found = ssh("log1", f"sudo grep -F {shlex.quote(wanted)} {LOG_FILE}").stdout
        if not found:
            time.sleep(2)
    assert found, f"no drift alert of run {two['run_id']} from {HOST} in log1:{LOG_FILE}"
    assert "baseline-verify" in found and f"{IA_02.control} {target}" in found
    password = (REPO_ROOT / ".lab" / "vault-password").read_text(encoding="utf-8").strip()
    assert password not in journal("baseline-verify.service", 2000)
    assert first_proc.returncode in (0, 1) and first["Result"] in ("success", "exit-code")


def as_the_services(command: str, timeout: float = 600) -> subprocess.CompletedProcess:
    """`baseline COMMAND` on mgmt1 as its services run it: the account, the vault password as the systemd
    credential, the services' environment (systemd-run, waiting for the end; output on the pipe)."""
    props = [f"--uid={ACCOUNT}", f"--gid={ACCOUNT}", f"-p LoadCredential=vault-password:{CONFIG}/vault-password",
             f"-p WorkingDirectory={ROOT}", f"-E HOME={DATA}", f"-E BASELINE_ROOT={ROOT}",
             f"-E BASELINE_SSH_CONFIG={CONFIG}/ssh_config", f"-E BASELINE_INVENTORY={CONFIG}/inventory"]
    return ssh(HOST, f"sudo systemd-run --quiet --wait --pipe --collect {' '.join(props)} "
                     f"{ROOT}/bin/baseline-scheduled {command}", timeout=timeout)


def drift_device(drift) -> None:
    device = devices.load(limit=[drift.host])[0]
    conn = drivers.connect(device)
    try:
        refused = push.send(conn, device, list(drift.command))
    finally:
        conn.disconnect()
    assert refused is None, f"{drift.control} on {drift.host}: the device refused the drift: {refused}"


def test_a_change_made_from_the_management_host_is_kept_there_and_its_copy_reaches_the_log_server(demo_run):
    device = NW_02.host
    reason = f"lab test: {NW_02.control} repaired from {HOST}"
    archive = f"{DATA}/changes/changes.jsonl"
    before = int(on(HOST, f"sudo sh -c 'cat {archive} 2>/dev/null | wc -l'").strip() or 0)
    drift_device(NW_02)
    pushed = as_the_services(f"netdev -q -l {device} push --reason {shlex.quote(reason)} "
                             f"--backup-dir {DATA}/netdev-backups")
    if pushed.returncode != 0:  # leave the device compliant for the suites that follow
        subprocess.run([str(REPO_ROOT / "scripts/netdev"), "-q", *NW_02.repair], cwd=REPO_ROOT, capture_output=True,
                       check=False, timeout=600)
    assert pushed.returncode == 0, pushed.stdout[-3000:] + pushed.stderr[-3000:]
    lines = on(HOST, f"sudo cat {archive}").splitlines()
    assert len(lines) == before + 1, f"{len(lines) - before} records appended to {archive}"
    record = json.loads(lines[-1])
    assert record["engine"] == "netdev" and record["reason"] == reason and record["result"] == "succeeded"
    assert [c["host"] for c in record["changes"]] == [device], record["changes"]
    assert "idle-timeout" in json.dumps(record["changes"][0]["diff"]), record["changes"][0]["diff"]
    verified = as_the_services("changes verify")
    assert verified.returncode == 0, verified.stdout[-2000:] + verified.stderr[-2000:]
    # the copy: local6 syslog on mgmt1, forwarded over TLS by rsyslog to the log server
    deadline = time.monotonic() + 60
    found = ""
    while time.monotonic() < deadline and not found:
        found = ssh("log1", f"sudo grep -F {shlex.quote(record['hash'])} {LOG_FILE}").stdout
        if not found:
            time.sleep(2)
    assert found, f"no copy of change {record['id']} (hash {record['hash']}) from {HOST} in log1:{LOG_FILE}"
    copy = json.loads(found.splitlines()[-1].split("baseline-changes[", 1)[1].split("]: ", 1)[1])
    assert (copy["id"], copy["hash"], copy["prev"]) == (record["id"], record["hash"], record["prev"])
    password = (REPO_ROOT / ".lab" / "vault-password").read_text(encoding="utf-8").strip()
    assert password not in pushed.stdout + pushed.stderr + found
