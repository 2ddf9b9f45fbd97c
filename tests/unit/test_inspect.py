"""Daily inspection (OP-01, baseline/operations/inspect.py): thresholds from the policy values, lines judged from
recorded probe outputs, the report (JSON, HTML escaped), the results records, and the command's exit codes on a
throw-away inventory (devices and a server on loopback: one answering, one closed)."""

from __future__ import annotations

import json
import os
import socket
import threading
import time
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from baseline import REPO_ROOT
from baseline.operations import inspect as insp
from baseline.results import ResultWriter, read_results

NOW = 1_800_000_000.0  # a fixed "now" for the recorded outputs


@pytest.fixture()
def limits(policy_values):
    return insp.thresholds(policy_values)


def stamp(seconds_ago: float) -> str:
    return f"{NOW - seconds_ago:.3f}"


def enddate(days: float) -> str:
    return datetime.fromtimestamp(NOW + days * 86400, UTC).strftime("notAfter=%b %d %H:%M:%S %Y GMT")


def probe_output(**replace: str) -> str:
    """A recorded output of inspect_probe.sh on a healthy host; `replace` swaps a section's text."""
    sections = {
        "now": f"{NOW:.0f}",
        "df": "Filesystem 1024-blocks Used Available Capacity Mounted on\n/dev/sda1 1000 500 500 50% /\n"
              "/dev/sdb1 1000 850 150 85% /var\n/dev/sdc1 1000 950 50 95% /srv",
        "dfi": "Filesystem Inodes IUsed IFree IUse% Mounted on\n/dev/sda1 1000 100 900 10% /\nfuse 0 0 0 - /mnt",
        "auth": "@source journal",
        "faillock": "automation:\nWhen                Type  Source                                           Valid",
        "integrity": '{"pending": []}',
        "signatures": f"{stamp(3600)} baseline.hsb",
        "detections": "",
        "updates": "Listing...",
        "certs": f"/etc/baseline-pki/ca.crt\t{enddate(3000)}\n/etc/baseline-pki/app1.crt\t{enddate(400)}",
        "chrony": "Reference ID    : 0AE7000E (10.231.0.14)\nSystem time     : 0.000100 seconds fast of NTP time\n"
                  "Leap status     : Normal",
    }
    sections.update(replace)
    return "".join(f"\n@@section {name}\n{text}\n@@rc {127 if text == 'MISSING' else 0}\n"
                   for name, text in sections.items())


def healthy(host: str = "app1", **replace: str) -> insp.HostProbe:
    return insp.HostProbe(host, True, latency_ms=40.0, offset_ms=3.0, offset_error_ms=2.0,
                          sections=insp.parse_sections(probe_output(**replace)))


def by(lines, kind, item=None):
    found = [line for line in lines if line.kind == kind and (item is None or line.item == item)]
    assert found, f"no {kind} line {item or ''}"
    return found[0] if item is not None or len(found) == 1 else found


# --- thresholds ------------------------------------------------------------------------------------------------------

def test_thresholds_come_from_the_policy_values(policy_values):
    limits = insp.thresholds(policy_values)
    assert limits["log_max_age_s"] == policy_values["inspection_interval_hours"] * 3600
    assert limits["backup_full_max_age_s"] == policy_values["backup_full_interval_days"] * 86400
    assert limits["backup_incr_max_age_s"] == policy_values["backup_incremental_interval_days"] * 86400
    assert limits["signature_max_age_s"] == policy_values["malware_signature_max_age_days"] * 86400
    assert limits["drill_max_age_s"] == policy_values["restore_drill_interval_days"] * 86400
    assert limits["disk_max_percent"] == policy_values["inspection_disk_max_percent"]
    assert limits["cert_renew_days"] == 30  # roles/pki/defaults/main.yml: pki_renew_days
    policy_values["pki_renew_days"] = 45
    assert insp.thresholds(policy_values)["cert_renew_days"] == 45


def test_set_may_tighten_a_threshold_but_never_loosen_it(policy_values):
    assert insp.thresholds(policy_values, insp.parse_overrides(["log_max_age_s=10"]))["log_max_age_s"] == 10
    with pytest.raises(insp.InputError, match="looser than .* inspection_interval_hours"):
        insp.thresholds(policy_values, {"log_max_age_s": 10 * 86400})
    with pytest.raises(insp.InputError, match="looser"):
        insp.thresholds(policy_values, {"cert_renew_days": 1})
    with pytest.raises(insp.InputError, match="NAME=VALUE"):
        insp.parse_overrides(["no_such_threshold=1"])
    with pytest.raises(insp.InputError, match="--set log_max_age_s = 'soon' is not a number"):
        insp.parse_overrides(["log_max_age_s=soon"])


def test_a_missing_inspection_variable_is_named(policy_values):
    del policy_values["inspection_disk_max_percent"]
    with pytest.raises(insp.InputError, match="inspection_disk_max_percent is not set"):
        insp.thresholds(policy_values)
    policy_values["inspection_disk_max_percent"] = "ninety"
    with pytest.raises(insp.InputError, match="inspection_disk_max_percent = 'ninety' is not a number"):
        insp.thresholds(policy_values)


# --- lines from recorded probe outputs -------------------------------------------------------------------------------

def test_healthy_host_is_green_with_values_and_thresholds(limits):
    lines = insp.host_lines(healthy(), limits, NOW)
    disk = {line.item: line for line in lines if line.kind == "disk"}
    assert (disk["/"].status, disk["/var"].status, disk["/srv"].status) == ("green", "amber", "red")
    assert disk["/srv"].value == "95%" and "90%" in disk["/srv"].threshold
    assert [line.item for line in lines if line.kind == "inode"] == ["/"]  # "-" (no inode count) left out
    for kind in ("ssh", "time", "failed_logins", "integrity", "signatures", "detections", "updates", "certs"):
        line = by(lines, kind)
        assert line.status == "green", line
        assert line.value and line.threshold
    assert by(lines, "certs").value == "app1.crt: 400 d left"


def test_host_down_is_red_never_skipped(limits):
    lines = insp.host_lines(insp.HostProbe("db2", False, error="ssh: connect to host 10.231.0.13 port 22: "
                                           "Connection refused"), limits, NOW)
    assert [(line.kind, line.status) for line in lines] == [("ssh", "red")]
    assert "Connection refused" in lines[0].reason
    assert insp.exit_status(lines) == 1
    assert insp.exit_status(insp.host_lines(healthy(df="Filesystem x\n/dev/a 1 1 1 1% /"), limits, NOW)) == 0


def test_a_probe_that_cannot_run_is_amber_unverified_with_the_reason(limits):
    lines = insp.host_lines(healthy(integrity="MISSING", chrony="MISSING"), limits, NOW)
    integrity = by(lines, "integrity")
    assert (integrity.status, integrity.unverified, integrity.value) == ("amber", True, "未验证")
    assert "MISSING (exit 127)" in integrity.reason
    assert by(lines, "time").status == "green"  # no chrony: the controller's comparison stands
    broken = insp.HostProbe("app1", True, latency_ms=5, offset_ms=0, probe_error="sudo: a password is required")
    unverified = [line for line in insp.host_lines(broken, limits, NOW) if line.unverified]
    assert {line.kind for line in unverified} >= {"disk", "integrity", "certs"}
    assert all("sudo: a password is required" in line.reason for line in unverified)


def test_failed_logins_counted_and_locked_accounts_named(limits):
    journal = "\n".join(
        ["@source journal"]
        + [f"2026-12-02T0{i}:00:00+0000 app1 sshd[10{i}]: Failed password for zhang from 10.231.0.9 port 1 ssh2"
           for i in range(3)]
        + ["2026-12-02T05:00:00+0000 app1 sshd[201]: pam_unix(sshd:auth): authentication failure; user=zhang",
           "2026-12-02T05:01:00+0000 app1 sudo[301]: pam_unix(sudo:auth): authentication failure; user=li",
           "2026-12-02T05:02:00+0000 app1 sshd[401]: Connection closed by authenticating user wang 10.0.0.5 "
           "port 2 [preauth]",
           "2026-12-02T05:03:00+0000 app1 sshd[501]: Accepted publickey for automation",
           "2026-12-02T05:04:00+0000 app1 sshd-session[601]: Failed password for li from 10.231.0.9 port 3 ssh2"])
    faillock = "zhang:\nWhen Type Source Valid\n" + "\n".join("2026-12-02 05:00:00 RHOST 10.231.0.9 V" for _ in range(5))
    line = by(insp.host_lines(healthy(auth=journal, faillock=faillock), limits, NOW), "failed_logins")
    assert line.status == "amber" and line.measured == 6  # 4 sshd, sudo, preauth; pam_unix(sshd) not twice
    assert "locked: zhang" in line.value
    many = "\n".join(["@source journal"] + [f"x sshd[1]: Failed password for root from 1.2.3.4 port {i} ssh2"
                                            for i in range(int(limits["failed_logins_max"]) + 1)])
    assert by(insp.host_lines(healthy(auth=many), limits, NOW), "failed_logins").status == "red"


def test_a_failed_ssh_try_and_the_close_of_its_connection_are_one_attempt(limits):
    journal = "\n".join([
        "@source journal",
        "2026-12-02T05:00:00+0000 app1 sshd[11]: Failed keyboard-interactive/pam for wu from 10.231.0.1 port 5 ssh2",
        "2026-12-02T05:00:01+0000 app1 sshd[11]: Failed keyboard-interactive/pam for wu from 10.231.0.1 port 5 ssh2",
        "2026-12-02T05:00:02+0000 app1 sshd[11]: Connection closed by authenticating user wu 10.231.0.1 port 5 [preauth]",
        # no failed try logged for these connections: each close is the attempt
        "2026-12-02T05:01:00+0000 app1 sshd[12]: Connection closed by authenticating user root 10.231.0.1 port 6 "
        "[preauth]",
        "2026-12-02T05:02:00+0000 app1 sshd[13]: Connection closed by invalid user sun 10.231.0.1 port 7 [preauth]",
        "2026-12-02T05:03:00+0000 app1 sshd[14]: Failed password for invalid user sun from 10.231.0.2 port 8 ssh2",
        "2026-12-02T05:03:01+0000 app1 sshd[14]: Connection closed by invalid user sun 10.231.0.2 port 8 [preauth]",
        # the same port from another address is another connection
        "2026-12-02T05:04:00+0000 app1 sshd[15]: Connection closed by authenticating user wu 10.231.0.3 port 5 "
        "[preauth]"])
    line = by(insp.host_lines(healthy(auth=journal), limits, NOW), "failed_logins")
    assert line.measured == 6  # two tries of port 5, root, sun closed, sun's failed try, the other address


def test_auth_log_lines_outside_the_window_are_not_counted(limits):
    old = (datetime.fromtimestamp(NOW, UTC) - timedelta(hours=30)).isoformat()
    new = (datetime.fromtimestamp(NOW, UTC) - timedelta(hours=1)).isoformat()
    text = (f"@source /var/log/auth.log\n{old} app1 sshd[1]: Failed password for x from 1.2.3.4 port 1 ssh2\n"
            f"{new} app1 sshd[2]: Failed password for x from 1.2.3.4 port 1 ssh2")
    assert by(insp.host_lines(healthy(auth=text), limits, NOW), "failed_logins").measured == 1


def test_integrity_signatures_detections_updates_certs_and_time(limits):
    lines = insp.host_lines(healthy(
        integrity='{"pending": ["/usr/bin/tac", "/etc/passwd"]}',
        signatures=f"{stamp(9 * 86400)} baseline.hsb",
        detections="/tmp/x: Eicar-Test-Signature FOUND\n/home/a/b: Unix.Trojan.Mirai-1 FOUND",
        updates="Listing...\nopenssl/bookworm-security 3.0.15 amd64 [upgradable from: 3.0.14]\n"
                "vim/bookworm 9.0 amd64 [upgradable from: 8.2]",
        certs=f"/etc/baseline-pki/app1.crt\t{enddate(10)}",
        chrony="System time     : 2.500000 seconds slow of NTP time\nLeap status     : Normal",
    ), limits, NOW)
    integrity = by(lines, "integrity")
    assert integrity.status == "red" and "/usr/bin/tac" in integrity.reason
    assert by(lines, "signatures").status == "red" and by(lines, "signatures").value == "9.0 d"
    detections = by(lines, "detections")
    assert detections.status == "red" and "Mirai" in detections.reason and detections.measured == 1
    updates = by(lines, "updates")
    assert updates.status == "red" and updates.value == "1 (of 2 upgradable)" and "openssl" in updates.reason
    assert by(lines, "certs").status == "amber" and "expires in 10 d" in by(lines, "certs").reason
    assert by(lines, "time").status == "red" and "chrony -2500 ms" in by(lines, "time").value
    expired = insp.host_lines(healthy(certs=f"/etc/baseline-pki/db1.crt\t{enddate(-1)}"), limits, NOW)
    assert by(expired, "certs").status == "red"


def test_the_anti_malware_test_file_alone_is_amber_not_red(limits):
    line = by(insp.host_lines(healthy(detections="/tmp/t.txt: Eicar-Test-Signature FOUND"), limits, NOW),
              "detections")
    assert line.status == "amber" and "EICAR" in line.reason


def test_clamd_log_detections_only_within_the_window(limits):
    def at(hours_ago: float) -> str:
        return (datetime.fromtimestamp(NOW, UTC) - timedelta(hours=hours_ago)).astimezone(
            timezone(timedelta(hours=8))).strftime("%a %b %e %H:%M:%S %Y")

    text = (f"@clamd-log +0800\n{at(48)} -> /srv/old: Unix.Trojan.Old-1 FOUND\n"
            f"{at(2)} -> /srv/new: Unix.Trojan.New-1 FOUND")
    line = by(insp.host_lines(healthy(detections=text), limits, NOW), "detections")
    assert line.status == "red" and line.measured == 1 and "New-1" in line.reason and "Old-1" not in line.reason


def test_log_intake_per_server_and_device(limits):
    section = insp.Section(0, f"{stamp(600)} app1/messages.log\n{stamp(3 * 86400)} db1/messages.log\n"
                              f"{stamp(60)} SW-CORE-01/messages.log\n{stamp(120)} LX-FW-BORDER/messages.log\n"
                              f"{stamp(30)} 127.0.0.1/messages.log\nnot a line")
    senders = {"app1": {"address": "10.231.0.11"}, "db1": {"address": "10.231.0.12"},
               "db2": {"address": "10.231.0.13"}, "sw-core-01": {"address": "127.0.0.1", "simulator": True},
               "sw-acc-01": {"address": "127.0.0.1", "simulator": True},
               "rt-1": {"address": "192.0.2.1", "simulator": False},
               "fw-1": {"address": "127.0.0.1", "hostname": "LX-FW-BORDER", "simulator": True}}
    per = dict.fromkeys(senders, limits)
    lines = {line.asset: line for line in
             insp.log_intake_lines("log1", section, senders, per, now=NOW, logdir="/var/log/remote")}
    assert lines["app1"].status == "green" and lines["app1"].value == "10 min"
    assert lines["db1"].status == "red" and lines["db1"].threshold == "≤ 24.0 h"
    assert lines["db2"].status == "red" and "no log of db2" in lines["db2"].value
    assert lines["sw-core-01"].status == "green"  # directory named by the device, any case
    # simulated devices send syslog to the log server like real ones (inventory/lab/devsim.yml): none is red
    assert lines["sw-acc-01"].status == "red" and "no log of sw-acc-01" in lines["sw-acc-01"].value
    assert lines["rt-1"].status == "red"
    assert lines["fw-1"].status == "green" and lines["fw-1"].value == "2 min"  # netdev_hostname, not the shared address
    tight = dict.fromkeys(senders, insp.thresholds({**_values(), "inspection_interval_hours": 24},
                                                   {"log_max_age_s": 300}))
    again = {line.asset: line for line in
             insp.log_intake_lines("log1", section, senders, tight, now=NOW, logdir="/var/log/remote")}
    assert again["app1"].status == "red"
    down = insp.log_intake_lines("log1", insp.Section(255, "log1 unreachable"), senders, per, now=NOW, logdir="/x")
    assert all(line.unverified for line in down)


def _values() -> dict:
    import yaml

    return yaml.safe_load((REPO_ROOT / "inventory/group_vars/all/policy.yml").read_text(encoding="utf-8"))


def test_backup_ages_per_engine_with_grace(limits):
    def when(seconds_ago: float) -> str:
        return datetime.fromtimestamp(NOW - seconds_ago, UTC).strftime("%Y%m%dT%H%M%SZ")

    state = {"last_full": {"time": when(8 * 86400)}, "last_incremental": {"time": when(3 * 3600)}}
    files = {"last_full": {"time": when(26 * 3600)}}
    section = insp.Section(0, f"@file postgresql\n{json.dumps(state)}\n@file files\n{json.dumps(files)}\n")
    lines = insp.backup_lines("db1", section, ["postgresql", "files"], limits, now=NOW, state_dir="/s")
    status = {line.item: line.status for line in lines}
    assert status == {"postgresql full": "red", "postgresql incremental": "green", "files copy": "amber"}
    missing = insp.backup_lines("db2", section, ["mariadb", "files"], limits, now=NOW, state_dir="/s")
    assert [line.status for line in missing if line.item.startswith("mariadb")] == ["red", "red"]


def test_offsite_copy_age_per_client(limits):
    section = insp.Section(0, f"{stamp(3600)} db1/restic/snapshots/aa\n{stamp(3 * 86400)} db2/restic/snapshots/bb\n"
                              f"{stamp(7200)} db1/restic/snapshots/cc")
    per = dict.fromkeys(["db1", "db2", "app1"], limits)
    lines = {line.asset: line for line in
             insp.offsite_lines("bak1", section, ["db1", "db2", "app1"], per, now=NOW, root="/srv/backup")}
    assert (lines["db1"].status, lines["db2"].status, lines["app1"].status) == ("green", "red", "red")
    assert lines["db1"].value == "60 min"


def test_restore_drill_age_from_the_controllers_records(tmp_path, limits):
    def record(stamp_dir: str, host: str, engine: str, days: float, passed: bool) -> None:
        path = tmp_path / stamp_dir / f"{host}-{engine}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        when = datetime.fromtimestamp(NOW - days * 86400, UTC).isoformat(timespec="seconds")
        path.write_text(json.dumps({"time": when, "passed": passed}), encoding="utf-8")
        (tmp_path / stamp_dir / f"{host}-{engine}-source.json").write_text("{}", encoding="utf-8")

    record("a", "db1", "postgresql", 200, True)
    record("b", "db1", "postgresql", 10, True)
    record("c", "db1", "postgresql", 1, False)
    record("a", "db2", "mariadb", 100, True)
    per = dict.fromkeys(["db1", "db2", "db3"], limits)
    lines = {line.asset: line for line in
             insp.drill_lines(tmp_path, {"db1": "postgresql", "db2": "mariadb", "db3": "mariadb"}, per, NOW)}
    assert lines["db1"].status == "amber" and "latest drill failed" in lines["db1"].reason
    assert lines["db1"].value == "10.0 d"
    assert lines["db2"].status == "red" and lines["db3"].status == "red"


def drill_verdicts(tmp_path: Path, verdicts: dict[str, list[tuple[float, bool]]]) -> Path:
    """A drill host's records directory as roles/restore_drill keeps it: <source>-<engine>/<time>.json."""
    root = tmp_path / "drill-host" / "records"
    for key, items in verdicts.items():
        (root / key).mkdir(parents=True)
        for index, (days, passed) in enumerate(items):
            when = datetime.fromtimestamp(NOW - days * 86400, UTC)
            (root / key / f"{when:%Y%m%dT%H%M%SZ}-{index}.json").write_text(
                json.dumps({"asset": key.split("-")[0], "time": when.isoformat(timespec="seconds"), "passed": passed},
                           indent=1) + "\n", encoding="utf-8")
    return root


def probe_drills(root: Path) -> insp.Section:
    """The `drills` section of the real probe script, run here by sh on `root`."""
    import subprocess

    script = insp.render_probe({"HOURS": "24", "PKI_DIR": "/nonexistent", "STATE_DIR": "", "LOG_DIR": "",
                                "DEVICE_LOG_DIR": "", "STORE_ROOT": "", "DRILL_DIR": str(root)})
    out = subprocess.run(["sh", "-s"], input=script, capture_output=True, text=True, timeout=120, check=True).stdout
    return insp.parse_sections(out)["drills"]


def test_restore_drill_age_from_the_verdicts_the_drill_host_keeps(tmp_path, limits):
    """Wherever the inspection runs (the management host has no drill records of its own), the drill host's own
    verdicts, read by the real probe, give each source's line; the newest passed one counts."""
    root = drill_verdicts(tmp_path, {"db1-postgresql": [(200, True), (10, True)], "db2-mariadb": [(3, False)]})
    section = probe_drills(root)
    assert section.rc == 0 and section.text.count("@file ") == 3
    assert sorted(insp.drill_host_records(section)) == ["db1-postgresql", "db2-mariadb"]
    per = dict.fromkeys(["db1", "db2"], limits)
    lines = {line.asset: line for line in insp.drill_lines(
        tmp_path / "no-local-records", {"db1": "postgresql", "db2": "mariadb"}, per, NOW,
        {"drill1": (str(root), section)})}
    assert lines["db1"].status == insp.GREEN and lines["db1"].value == "10.0 d"
    assert f"drill1:{root}/db1-postgresql/*.json" in lines["db1"].command
    assert lines["db2"].status == insp.RED, "a failed drill alone is no passed drill"


def test_a_drill_host_whose_verdicts_cannot_be_read_is_unverified_not_red(tmp_path, limits):
    missing = probe_drills(tmp_path / "nowhere")
    assert missing.rc == 2 and "does not exist" in missing.text
    per = dict.fromkeys(["db1"], limits)
    for section in (missing, None):
        (line,) = insp.drill_lines(tmp_path / "none", {"db1": "postgresql"}, per, NOW, {"drill1": ("/x", section)})
        assert line.status == insp.AMBER and line.unverified and "on drill1 cannot be read" in line.reason
    # a passed drill read elsewhere still counts: the line is judged on it
    root = drill_verdicts(tmp_path, {"db1-postgresql": [(5, True)]})
    (line,) = insp.drill_lines(tmp_path / "none", {"db1": "postgresql"}, per, NOW,
                               {"drill1": ("/x", None), "drill2": (str(root), probe_drills(root))})
    assert line.status == insp.GREEN and line.value == "5.0 d"


def test_unreadable_restore_drill_records_are_unverified_not_a_crash(tmp_path, limits):
    """The records directory the inspection's account cannot read (e.g. a management host's copy owned by root):
    one amber 未验证 line per database host naming the directory, and the inspection goes on."""
    records = tmp_path / "restore-drill"
    (records / "a").mkdir(parents=True)
    records.chmod(0)
    try:
        if os.access(records, os.R_OK):
            pytest.skip("root reads a directory of mode 000; the next test raises the listing's error instead")
        lines = insp.drill_lines(records, {"db1": "postgresql"}, {"db1": limits}, NOW)
    finally:
        records.chmod(0o755)
    assert [(line.asset, line.status) for line in lines] == [("db1", insp.AMBER)]
    assert "cannot be read" in lines[0].reason and str(records) in lines[0].reason


def test_a_permission_error_while_listing_the_records_is_unverified(tmp_path, limits, monkeypatch):
    """As root reads any directory, the error a management host's account meets is raised here by the listing."""
    records = tmp_path / "restore-drill"
    records.mkdir()

    def refused(self, pattern):
        raise PermissionError(13, "Permission denied", str(self))

    monkeypatch.setattr(Path, "glob", refused)
    lines = insp.drill_lines(records, {"db1": "postgresql", "db2": "mariadb"}, dict.fromkeys(["db1", "db2"], limits),
                             NOW)
    assert [(line.asset, line.status) for line in lines] == [("db1", insp.AMBER), ("db2", insp.AMBER)]
    assert all("cannot be read: Permission denied" in line.reason for line in lines)


# --- report, HTML, results -------------------------------------------------------------------------------------------

def test_report_json_and_html_escape_values(tmp_path, limits):
    hostile = insp.Line("<b>app1</b>", "disk", "/mnt/<script>alert(1)</script>", "red", '99% "&"', "< 90%",
                        reason="<img src=x onerror=alert(1)>", command="df -P")
    lines = [hostile, *insp.host_lines(healthy(), limits, NOW)]
    report = insp.build_report(lines, inventory="inventory/lab", started=datetime.now(UTC), seconds=1.2,
                               run_id="r1", overrides={"log_max_age_s": 10})
    assert report["status"] == "red" and report["summary"]["red"] == 2  # hostile, and /srv at 95%
    json.dumps(report, ensure_ascii=False)
    page = insp.render_html(report, "en")
    assert "<script>alert(1)</script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<img src=x" not in page and "&lt;b&gt;app1&lt;/b&gt;" in page and "99% &quot;&amp;&quot;" in page
    assert "Disk space use" in page and "磁盘空间使用率" in page and "log_max_age_s=10" in page
    assert page.index("Daily inspection report") < page.index("每日巡检报告")
    zh = insp.render_html(report, "zh")
    assert zh.index("每日巡检报告") < zh.index("Daily inspection report")


def test_one_results_record_per_asset(tmp_path, limits):
    lines = [*insp.host_lines(healthy("app1", df="Filesystem x\n/dev/a 1 1 1 1% /"), limits, NOW),
             *insp.host_lines(insp.HostProbe("db1", False, error="timeout"), limits, NOW),
             insp.unverified("sw-1", "log_intake", "log1", "-", "simulated device")]
    assets = {"app1": insp.Asset("app1", "linux", "container", "", limits, {}),
              "db1": insp.Asset("db1", "linux", "container", "", limits, {}),
              "sw-1": insp.Asset("sw-1", "network", "simulator", "huawei_vrp", limits, {})}
    results = tmp_path / "r.jsonl"
    insp.write_results(lines, assets, ResultWriter(results, run_id="r1"), tmp_path / "x.html")
    records = {r.asset: r for r in read_results([results])}
    assert {a: r.outcome for a, r in records.items()} == {"app1": "pass", "db1": "fail", "sw-1": "not_verifiable"}
    assert all(r.control_ids == ["OP-01"] and r.method == "probe" for r in records.values())
    assert "unreachable" in records["db1"].reason
    assert records["sw-1"].vendor == "huawei_vrp" and records["sw-1"].asset_kind == "network"


# --- the command on a throw-away inventory ---------------------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture()
def banner_server():
    """A loopback listener that answers like an SSH server (banner line), as a device's management port."""
    server = socket.socket()
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    stop = threading.Event()

    def serve() -> None:
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except OSError:
                continue
            with conn:
                conn.sendall(b"SSH-2.0-Test_Device\r\n")
                time.sleep(0.05)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield server.getsockname()[1]
    stop.set()
    thread.join(timeout=2)
    server.close()


def make_inventory(tmp_path: Path, devices: dict[str, int], servers: dict[str, int] | None = None) -> Path:
    inv = tmp_path / "inv"
    inv.mkdir()
    (inv / "group_vars").symlink_to(REPO_ROOT / "inventory" / "group_vars")
    lines = ["all:", "  children:", "    network_devices:", "      hosts:"]
    lines += [f"        {name}: {{ansible_host: 127.0.0.1, ansible_port: {port}, host_kind: simulator}}"
              for name, port in devices.items()]
    config = []
    if servers:
        lines += ["    linux_servers:", "      hosts:"]
        lines += [f"        {name}: {{ansible_host: 127.0.0.1, host_kind: container}}" for name in servers]
        config = [f"Host {name}\n  HostName 127.0.0.1\n  Port {port}\n  User nobody\n  StrictHostKeyChecking no\n"
                  f"  UserKnownHostsFile /dev/null\n" for name, port in servers.items()]
    (inv / "hosts.yml").write_text("\n".join(lines) + "\n", encoding="utf-8")
    (inv / "ssh_config").write_text("".join(config), encoding="utf-8")
    return inv


def run_main(tmp_path: Path, inv: Path, *extra: str) -> tuple[int, dict]:
    out = tmp_path / "reports"
    code = insp.main(["--inventory", str(inv), "--out", str(out), "--results-file", str(tmp_path / "r.jsonl"),
                      "--drills", str(tmp_path / "drills"), *extra])
    reports = sorted(out.glob("inspection-*.json"))
    return code, json.loads(reports[-1].read_text(encoding="utf-8")) if reports else {}


def test_exit_0_when_every_device_answers(tmp_path, banner_server, monkeypatch):
    monkeypatch.delenv("BASELINE_SSH_CONFIG", raising=False)
    code, report = run_main(tmp_path, make_inventory(tmp_path, {"sw-a": banner_server}))
    assert code == 0
    (mgmt,) = [line for line in report["lines"] if line["kind"] == "mgmt"]
    assert mgmt["status"] == "green" and mgmt["value"].endswith(" ms") and "SSH-2.0-Test_Device" in mgmt["reason"]
    assert (tmp_path / "reports").glob("inspection-*.html")
    (record,) = read_results([tmp_path / "r.jsonl"])
    assert record.asset == "sw-a" and record.outcome == "pass"


def test_exit_1_when_a_device_or_a_host_is_down(tmp_path, banner_server, monkeypatch):
    monkeypatch.delenv("BASELINE_SSH_CONFIG", raising=False)
    closed = free_port()
    inv = make_inventory(tmp_path, {"sw-a": banner_server, "sw-b": closed}, servers={"srv-down": free_port()})
    started = time.monotonic()
    code, report = run_main(tmp_path, inv)
    assert code == 1
    assert time.monotonic() - started < 30
    status = {(line["asset"], line["kind"]): line["status"] for line in report["lines"]}
    assert status[("sw-a", "mgmt")] == "green" and status[("sw-b", "mgmt")] == "red"
    assert status[("srv-down", "ssh")] == "red"
    outcomes = {r.asset: r.outcome for r in read_results([tmp_path / "r.jsonl"])}
    assert outcomes == {"sw-a": "pass", "sw-b": "fail", "srv-down": "fail"}


def test_exit_2_on_bad_input_naming_it(tmp_path, capsys, banner_server):
    assert insp.main(["--inventory", str(tmp_path / "nowhere")]) == 2
    assert "--inventory" in capsys.readouterr().err
    inv = make_inventory(tmp_path, {"sw-a": banner_server})
    assert insp.main(["--inventory", str(inv), "--set", "log_max_age_s=forever"]) == 2
    assert "--set log_max_age_s" in capsys.readouterr().err
    assert insp.main(["--inventory", str(inv), "--set", "disk_max_percent=99"]) == 2
    assert "looser" in capsys.readouterr().err
    (inv / "ssh_config").unlink()
    # devices alone are reached directly: no SSH client config needed; a server is reached through it
    assert insp.main(["--inventory", str(inv), "--out", str(tmp_path / "out"), "--results-file",
                      str(tmp_path / "r.jsonl")]) == 0
    capsys.readouterr()
    (tmp_path / "with-server").mkdir()
    inv = make_inventory(tmp_path / "with-server", {"sw-a": banner_server}, servers={"srv": 9})
    (inv / "ssh_config").unlink()
    assert insp.main(["--inventory", str(inv)]) == 2
    assert "BASELINE_SSH_CONFIG" in capsys.readouterr().err


def test_probe_script_renders_with_quoted_values():
    script = insp.render_probe({"HOURS": "24", "PKI_DIR": "/etc/it's here", "STATE_DIR": "", "LOG_DIR": "",
                                "DEVICE_LOG_DIR": "", "STORE_ROOT": ""})
    assert "PKI_DIR='/etc/it'\"'\"'s here'" in script and "{{" not in script
    assert script.count("probe now date") == 1


def test_gather_runs_the_probe_as_root_over_the_shared_connection(tmp_path, monkeypatch):
    """gather_host with a stand-in `ssh` that runs the command here (and logs its arguments) and a `sudo` that
    runs it: every call goes through the one shared client config (control master), the real probe script runs
    and its sections come back; a host whose ssh fails is unreachable with ssh's message."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    log = tmp_path / "ssh.log"
    (bin_dir / "ssh").write_text(
        "#!/bin/sh\n"
        f'echo "$*" >> {log}\n'
        'while [ "$#" -gt 2 ]; do shift; done\n'
        'case "$1" in down*) echo "ssh: connect to host $1 port 22: Connection refused" >&2; exit 255;; esac\n'
        'exec sh -c "$2"\n', encoding="utf-8")
    (bin_dir / "sudo").write_text('#!/bin/sh\n[ "$1" = -n ] && shift\nexec "$@"\n', encoding="utf-8")
    for tool in ("ssh", "sudo"):
        (bin_dir / tool).chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}:{os.environ['PATH']}")
    config = tmp_path / "shared_config"
    script = insp.render_probe({"HOURS": "24", "PKI_DIR": str(tmp_path / "pki"), "STATE_DIR": "", "LOG_DIR": "",
                                "DEVICE_LOG_DIR": "", "STORE_ROOT": ""})
    probe = insp.gather_host(config, "app1", script)
    assert probe.reachable and probe.latency_ms is not None and not probe.probe_error, probe
    assert abs(probe.offset_ms or 0) < 2000
    assert {"now", "df", "dfi", "auth", "integrity", "signatures", "updates", "certs", "chrony"} <= set(probe.sections)
    assert probe.sections["certs"].rc == 2 and "does not exist" in probe.sections["certs"].text
    calls = log.read_text(encoding="utf-8").splitlines()
    assert len(calls) == 3 and all(call.startswith(f"-F {config} ") for call in calls)
    assert calls[-1].endswith("app1 sudo -n sh -s")
    down = insp.gather_host(config, "down1", script)
    assert not down.reachable and "Connection refused" in down.error
    assert all("ConnectTimeout=10 " in call for call in calls)
    insp.gather_host(config, "app1", script, wait=60)
    assert all("ConnectTimeout=60 " in call for call in log.read_text(encoding="utf-8").splitlines()[-3:])
    lines = insp.host_lines(probe, insp.thresholds(_values()), time.time())
    assert by(lines, "certs").unverified and {line.kind for line in lines} >= {"disk", "time", "updates"}


def test_a_kernel_only_host_has_no_lines_of_software_it_does_not_carry(limits):
    probe = healthy("kern1", integrity="MISSING", signatures="MISSING", detections="MISSING", certs="MISSING")
    kinds = {line.kind for line in insp.host_lines(probe, limits, NOW, kernel_only=True)}
    assert kinds == {"ssh", "time", "disk", "inode", "failed_logins", "updates"}
    assert {"integrity", "signatures", "certs"} <= {line.kind for line in insp.host_lines(probe, limits, NOW)}


def test_faults_and_attention_come_first_in_the_html(limits):
    lines = insp.host_lines(healthy(), limits, NOW)
    page = insp.render_html(insp.build_report(lines, inventory="i", started=datetime.now(UTC), seconds=1, run_id="r",
                                              overrides={}), "en")
    top, everything = page.split("Every line", 1)
    assert "/srv" in top and "/var" in top and "app1.crt" not in top  # red and amber only
    assert "/srv" in everything and "app1.crt" in everything
    clean = insp.render_html(insp.build_report([lines[0]], inventory="i", started=datetime.now(UTC), seconds=1,
                                               run_id="r", overrides={}), "en")
    assert "Faults and attention" not in clean


# --- orphan accounts (AC-02) in the inspection --------------------------------------------------------------------


def test_orphan_accounts_turn_their_asset_red_and_unread_assets_amber():
    from baseline.operations.orphans import AssetSurvey, Finding

    clean = AssetSurvey("app1", "server", accounts=30, checked=4, commands=["getent passwd"])
    stray = AssetSurvey("db1", "postgresql", accounts=6, checked=3, commands=["psql as postgres"],
                        findings=[Finding("db1", "postgresql", "stray_login", "not in the roster",
                                          "psql as postgres: pg_roles: rolcanlogin")])
    unread = AssetSurvey("sw1", "network", error="SSH login refused")
    lines = {(x.asset, x.item): x for x in insp.accounts_lines([clean, stray, unread])}
    assert lines[("app1", "server")].status == insp.GREEN and lines[("app1", "server")].value == "0 of 4"
    red = lines[("db1", "postgresql")]
    assert red.status == insp.RED and red.value == "1: stray_login" and red.measured == 1
    assert "not in the roster" in red.reason and "pg_roles" in red.reason
    amber = lines[("sw1", "network")]
    assert amber.status == insp.AMBER and amber.unverified and "SSH login refused" in amber.reason
    assert insp.exit_status(lines.values()) == 1
    assert insp.exit_status([lines[("app1", "server")], amber]) == 0


def test_an_inventory_the_survey_refuses_gives_amber_lines_with_the_reason(monkeypatch):
    from baseline.operations import orphans

    def refuse(inv):
        raise orphans.OrphansError("app1: the staff roster cannot be compared with: staff is not set")

    monkeypatch.setattr(orphans, "survey", refuse)

    class Inv:
        def hosts(self, pattern):
            return ["app1", "sw1"]

    lines = insp.survey_accounts(Inv())
    assert [(x.asset, x.status, x.unverified) for x in lines] == [("app1", insp.AMBER, True), ("sw1", insp.AMBER, True)]
    assert all("staff is not set" in x.reason for x in lines)
    assert set(insp.KINDS["accounts"]) and all(x.kind == "accounts" for x in lines)


def test_the_inspections_own_survey_gives_the_ac02_records(tmp_path, banner_server, monkeypatch):
    """One survey of the accounts serves both the inspection's accounts lines and the AC-02 results (baseline verify
    and the demo survey no second time)."""
    from baseline.operations import orphans
    from baseline.operations.orphans import AssetSurvey, Finding

    calls = []

    def survey(inv):
        calls.append(inv)
        return [AssetSurvey("sw-a", "network", accounts=3, checked=2, commands=["display current-configuration"],
                            findings=[Finding("sw-a", "network", "ghost", "not in the roster", "local-user ghost")])]

    monkeypatch.setattr(orphans, "survey", survey)
    monkeypatch.delenv("BASELINE_SSH_CONFIG", raising=False)
    monkeypatch.setenv("BASELINE_RUN_ID", "20261204T000000Z-one")
    code, report = run_main(tmp_path, make_inventory(tmp_path, {"sw-a": banner_server}))
    assert code == 1 and len(calls) == 1
    (accounts,) = [line for line in report["lines"] if line["kind"] == "accounts"]
    assert accounts["status"] == "red" and "ghost" in accounts["value"]
    records = {tuple(r.control_ids): r for r in read_results([tmp_path / "r.jsonl"])}
    assert set(records) == {("OP-01",), ("AC-02",)}
    ac02 = records[("AC-02",)]
    assert ac02.asset == "sw-a" and ac02.outcome == "fail" and "ghost" in ac02.reason
    assert ac02.check == orphans.CHECK and ac02.run_id == records[("OP-01",)].run_id == "20261204T000000Z-one"


def test_a_servers_login_wait_is_its_ansible_timeout():
    from baseline.inventory import LOGIN_WAIT_S, login_wait

    assert login_wait({"ansible_timeout": 60}) == 60
    assert login_wait({"ansible_timeout": "45"}) == 45
    for values in ({}, {"ansible_timeout": 0}, {"ansible_timeout": "soon"}, {"ansible_timeout": None}, None):
        assert login_wait(values) == LOGIN_WAIT_S == 10


def test_a_login_slower_than_its_wait_is_unreachable_naming_the_wait(tmp_path, monkeypatch):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "ssh").write_text("#!/bin/sh\nexec sleep 30\n", encoding="utf-8")
    (bin_dir / "ssh").chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}:{os.environ['PATH']}")
    monkeypatch.setattr(insp, "SSH_TIMEOUT_S", 0.5)
    probe = insp.gather_host(tmp_path / "config", "slow1", "true", wait=0.5)
    assert not probe.reachable and probe.error == "no SSH connection within 0.5 s"
