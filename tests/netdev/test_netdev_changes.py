"""CM-01 change records of `baseline netdev push` and `baseline netdev rollback CHANGE_ID` against the device
simulator: one record per push with each changed device's diff and no secret, check runs recorded as planned,
a rollback that brings each device back to exactly its backed-up configuration and records itself, the refusals,
a tampered archive, and a push interrupted by SIGTERM."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
from pathlib import Path

import pytest

from baseline import REPO_ROOT
from baseline.netdev import backup
from baseline.netdev.cli import main
from baseline.netdev.devices import secret_values
from baseline.netdev.vendors import config_body
from baseline.operations import changes

from .conftest import Lab

ONE_PER_VENDOR = ["sw-acc-01", "sw-core-01", "fw-border-01", "rt-border-02"]  # VRP5, VRPv8, Comware, IOS
COMMUNITY = re.compile(r"community (?:read |write )?(?:simple |cipher )?(\S+)")


def records() -> list[dict]:
    return changes.archive().read()


def archive_text() -> str:
    return changes.archive().path.read_text(encoding="utf-8")


def push(lab: Lab, *names: str, extra: tuple[str, ...] = ()) -> int:
    return main(["-q", "-i", str(lab.inventory), *(a for n in names for a in ("-l", n)), "push", *extra])


def rollback(lab: Lab, change_id: str, *extra: str) -> int:
    return main(["-q", "-i", str(lab.inventory), "rollback", change_id, *extra])


def running(lab: Lab, name: str) -> str:
    return lab.simulator.devices[name].running.render()


def backed_up(lab: Lab, name: str, root: Path) -> str:
    """The device's running configuration as `baseline netdev backup` archives it now."""
    assert main(["-q", "-i", str(lab.inventory), "-l", name, "backup", "--backup-dir", str(root)]) == 0
    return (backup.archives(root)[-1] / f"{name}.running.cfg").read_text(encoding="utf-8")


def test_a_push_records_one_change_with_each_devices_diff_and_no_secret(lab: Lab, tmp_path, monkeypatch):
    names = ["sw-acc-01", "rt-border-02"]
    communities = set()
    for name in names:
        lab.reset(name)
        communities |= {c for c in COMMUNITY.findall(running(lab, name)) if len(c) >= 4}
    sock_path = tmp_path / "log.sock"
    server = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    server.bind(str(sock_path))
    server.settimeout(5)
    monkeypatch.setenv(changes.SYSLOG_ENV, str(sock_path))
    try:
        assert push(lab, *names) == 0
        message = server.recv(1 << 20).decode()
    finally:
        server.close()

    [record] = records()
    assert record["engine"] == "netdev" and record["mode"] == "apply" and record["result"] == "succeeded"
    assert record["hosts"] == sorted(names) and record["assets"] == {n: ["network"] for n in names}
    assert record["reason"] == "device test run" and record["operator"] and record["start"] and record["end"]
    by_host = {c["host"]: c for c in record["changes"]}
    assert sorted(by_host) == sorted(names)
    for name in names:
        entry = by_host[name]
        assert entry["action"] == "netdev.push" and entry["planned"] is False and entry["sent_lines"] > 0
        saved = Path(entry["backup"])
        assert saved.is_file() and backup.verify(saved.parent) == []
        assert changes.render_diff(entry["diff"][0])[0].startswith(f"--- {name} before")
        diff = entry["diff"][0]["prepared"]
        assert any(line.startswith("+") and not line.startswith("+++") for line in diff.splitlines())
    cisco = by_host["rt-border-02"]["diff"][0]["prepared"]
    assert "+ transport input ssh" in cisco and "- transport input telnet ssh" in cisco

    text = archive_text()
    secrets = set().union(*(secret_values(lab.device(n).values) for n in names))
    leaked = [s for s in secrets | communities if len(s) >= 4 and s in text]
    assert not leaked, "a password, key or SNMP community is in the change archive"
    assert communities, "the seed configurations carry SNMP communities the check looks for"

    assert message.startswith(f"<{changes.SYSLOG_PRIORITY}>") and f" {changes.SYSLOG_TAG}[" in message
    copy = json.loads(message.split("]: ", 1)[1])
    assert copy["id"] == record["id"] and copy["hash"] == record["hash"]
    assert not [s for s in secrets | communities if len(s) >= 4 and s in message]

    assert changes.main(["verify"]) == 0
    assert changes.main(["show", record["id"]]) == 0


def test_a_check_run_records_planned_changes_and_sends_nothing(lab: Lab, capsys):
    name = "fw-border-01"
    lab.reset(name)
    before = running(lab, name)
    assert push(lab, name, extra=("--dry-run",)) == 0
    assert running(lab, name) == before, "a dry run changed the device"
    [record] = records()
    assert record["mode"] == "check" and record["result"] == "succeeded"
    [entry] = record["changes"]
    assert entry["planned"] is True and entry["host"] == name
    assert entry["diff"][0]["prepared"].startswith("lines that would be sent:")
    capsys.readouterr()
    assert changes.main(["list"]) == 0
    assert "planned" in capsys.readouterr().out
    assert rollback(lab, record["id"], "--yes") == 2
    assert "touched no device" in capsys.readouterr().err


@pytest.mark.parametrize("name", ONE_PER_VENDOR)
def test_rollback_restores_exactly_the_configuration_saved_before_the_push(lab: Lab, name, tmp_path, capsys):
    lab.reset(name)
    seed = running(lab, name)
    before_push = backed_up(lab, name, tmp_path / "before")
    assert push(lab, name) == 0
    [pushed] = records()
    assert running(lab, name) != seed
    saved = Path(pushed["changes"][0]["backup"]).read_text(encoding="utf-8")
    assert config_body(saved) == config_body(before_push)

    assert rollback(lab, pushed["id"], "--yes") == 0, capsys.readouterr().err
    after = backed_up(lab, name, tmp_path / "after")
    assert config_body(after) == config_body(before_push), "the device is not back to its backup"
    sim = lab.simulator.devices[name]
    assert sim.saved == sim.running.render(), "the restored configuration is not saved"

    rolled = records()[-1]
    assert rolled["id"] != pushed["id"] and rolled["engine"] == "netdev" and rolled["result"] == "succeeded"
    assert pushed["id"] in rolled["reason"] and rolled["hosts"] == [name]
    [entry] = rolled["changes"]
    assert entry["action"] == "netdev.rollback" and Path(entry["backup"]).is_file()
    assert changes.main(["verify"]) == 0

    # the rollback is a change like any other: rolling it back brings the pushed baseline again
    assert rollback(lab, rolled["id"], "--yes") == 0
    assert config_body(backed_up(lab, name, tmp_path / "again")) == config_body(
        Path(rolled["changes"][0]["backup"]).read_text(encoding="utf-8"))


def test_rollback_refuses_unknown_ids_other_engines_and_altered_backups(lab: Lab, capsys):
    assert rollback(lab, "CHG-20990101T000000Z-000000", "--yes") == 2
    assert "no such change" in capsys.readouterr().err

    changes.archive().append({"id": "CHG-ansible", "engine": "ansible", "operator": "x", "reason": "y",
                              "start": changes.now_iso(), "end": changes.now_iso(), "result": "succeeded",
                              "mode": "apply", "changes": [{"host": "app1", "task": "t", "action": "copy"}]})
    assert rollback(lab, "CHG-ansible", "--yes") == 2
    assert "touched no device" in capsys.readouterr().err

    name = "sw-acc-01"
    lab.reset(name)
    assert push(lab, name) == 0
    record = records()[-1]
    pushed = running(lab, name)
    assert rollback(lab, record["id"]) == 2, "no --yes and no terminal to ask on"
    assert "--yes" in capsys.readouterr().err
    saved = Path(record["changes"][0]["backup"])
    saved.chmod(0o600)
    saved.write_text(saved.read_text(encoding="utf-8") + "sysname intruder\n", encoding="utf-8")
    assert rollback(lab, record["id"], "--yes") == 2
    assert "does not verify" in capsys.readouterr().err
    assert running(lab, name) == pushed, "a refused rollback changed the device"


def test_a_tampered_archive_fails_verify_and_refuses_rollback(lab: Lab, capsys):
    name = "sw-core-01"
    lab.reset(name)
    assert push(lab, name) == 0
    record = records()[-1]
    path = changes.archive().path
    path.write_text(path.read_text(encoding="utf-8").replace("device test run", "nobody asked"), encoding="utf-8")
    capsys.readouterr()
    assert changes.main(["verify"]) == 1
    assert "edited" in capsys.readouterr().out
    pushed = running(lab, name)
    assert rollback(lab, record["id"], "--yes") == 2
    assert "does not verify" in capsys.readouterr().err
    assert running(lab, name) == pushed


def test_a_push_without_a_reason_outside_the_lab_is_refused_before_any_device(lab: Lab, monkeypatch, capsys):
    name = "sw-acc-01"
    lab.reset(name)
    before = running(lab, name)
    monkeypatch.delenv(changes.REASON_ENV)
    assert push(lab, name) == 2
    err = capsys.readouterr().err
    assert "--reason" in err and changes.REASON_ENV in err
    assert running(lab, name) == before and records() == []
    assert push(lab, name, extra=("--reason", "ticket 42: baseline")) == 0
    [record] = records()
    assert record["reason"] == "ticket 42: baseline" and record["reason_source"] == "--reason"


def test_a_push_interrupted_by_sigterm_leaves_an_interrupted_record(lab: Lab, tmp_path):
    names = [d.name for d in lab.devices()]
    for name in names:
        lab.reset(name)
    process = subprocess.Popen(
        [str(REPO_ROOT / "scripts/netdev"), "-i", str(lab.inventory), "-j", "1", "push", "--backup-dir",
         str(tmp_path / "archive")], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=os.environ.copy())
    assert process.stderr is not None
    seen = []
    for line in process.stderr:
        seen.append(line)
        if ": sending " in line:
            break
    first = seen[-1].split(":")[0]
    process.send_signal(signal.SIGTERM)
    _, err = process.communicate(timeout=120)
    assert process.returncode == 128 + signal.SIGTERM, "".join(seen) + err
    [record] = records()
    assert record["result"] == "interrupted" and record["engine"] == "netdev"
    assert [c["host"] for c in record["changes"]] == [first]
    assert record["stats"][names[-1]]["skipped"] == 1
    assert f"change record {record['id']} (interrupted)" in err
    assert changes.main(["verify"]) == 0
