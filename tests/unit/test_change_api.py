"""The change-record API for engines other than Ansible (baseline.operations.changes.Change): the reason rules,
redaction, one record per run with the callback plugin's fields, interrupted at exit, and the copy of each record
to syslog ($BASELINE_CHANGES_SYSLOG) over a unix datagram socket."""

from __future__ import annotations

import json
import secrets
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from baseline.operations import changes
from baseline.results import read_results

SECRET = "s3cret-" + secrets.token_hex(8)  # made afresh for each run
# what every record of the callback plugin holds (plugins/callback/baseline_changes.py, _play_start and _write)
ANSIBLE_FIELDS = {"schema", "id", "engine", "tool", "operator", "account", "controller", "reason", "reason_source",
                  "inventory", "lab", "mode", "diff_mode", "limit", "tags", "start", "end", "result", "hosts", "assets",
                  "changes", "problems", "stats", "playbooks"}


@pytest.fixture
def receiver(tmp_path):
    path = tmp_path / "log.sock"
    server = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    server.bind(str(path))
    server.settimeout(5)
    yield path, server
    server.close()


def new(tmp_path: Path, **kwargs) -> changes.Change:
    kwargs.setdefault("inventory", [str(tmp_path / "inventory")])
    kwargs.setdefault("environ", {})
    return changes.Change("netdev", tool="baseline netdev push", directory=tmp_path / "changes", at_exit=False,
                          **kwargs)


def test_reason_from_the_option_else_the_environment_else_the_lab_else_refused(tmp_path):
    assert new(tmp_path, reason="ticket 7").record["reason_source"] == "--reason"
    given = new(tmp_path, environ={changes.REASON_ENV: "from env"}).record
    assert (given["reason"], given["reason_source"]) == ("from env", changes.REASON_ENV)
    lab = new(tmp_path, inventory=[str(changes.LAB_INVENTORY)]).record
    assert lab["reason"] == changes.LAB_REASON and lab["lab"] is True
    with pytest.raises(changes.ReasonMissing) as refused:
        new(tmp_path, reason="  ")
    assert "--reason" in str(refused.value) and changes.REASON_ENV in str(refused.value)
    with pytest.raises(ValueError):
        changes.Change("salt", tool="x", inventory=[], reason="r", at_exit=False)


def test_one_record_with_the_ansible_fields_secrets_redacted_and_complete(tmp_path):
    change = new(tmp_path, reason="rotate", secrets=[SECRET])
    change.host("sw1", ["network"], ok=1, changed=1)
    change.changed("sw1", "push", "netdev.push", before="a\npassword " + SECRET + "\n", after="a\nb\n",
                   backup="/x/sw1.running.cfg")
    change.add_secrets(["late-secret-99"])
    change.problem("sw2", "push", "failed", f"device said {SECRET} and late-secret-99")
    record = change.finish("failed")
    assert change.finish("succeeded") is record, "a change is written once"
    stored = changes.archive(tmp_path / "changes").read()
    assert len(stored) == 1 and stored[0]["hash"] == record["hash"]
    assert ANSIBLE_FIELDS <= set(record) and record["engine"] == "netdev"
    assert record["assets"] == {"sw1": ["network"]} and record["stats"]["sw1"]["changed"] == 1
    text = (tmp_path / "changes" / "changes.jsonl").read_text(encoding="utf-8")
    assert SECRET not in text and "late-secret-99" not in text and changes.REDACTED in text
    assert changes.incomplete(record) == []
    assert "backup: /x/sw1.running.cfg" in changes.render(record)
    with pytest.raises(ValueError):
        new(tmp_path, reason="r").finish("done")


def test_a_change_never_finished_is_recorded_interrupted_at_exit(tmp_path):
    code = ("import sys; from baseline.operations import changes; "
            f"c = changes.Change('pyinfra', tool='pyinfra', inventory=['inv'], reason='r', directory={str(tmp_path)!r}); "
            "c.host('app1', ['linux']); sys.exit(3)")
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 3
    [record] = changes.archive(tmp_path).read()
    assert record["result"] == "interrupted" and record["engine"] == "pyinfra" and record["hosts"] == ["app1"]


def test_each_record_is_copied_to_syslog_as_one_local6_message(tmp_path, receiver):
    path, server = receiver
    record = changes.append({"id": "CHG-1", "reason": "r", "changes": []}, tmp_path / "changes",
                            environ={changes.SYSLOG_ENV: str(path)})
    message = server.recv(1 << 20).decode()
    assert message.startswith("<182>") and f" {changes.SYSLOG_TAG}[" in message
    assert json.loads(message.split("]: ", 1)[1]) == record


def test_a_long_record_goes_to_syslog_without_its_diffs(tmp_path, receiver):
    path, server = receiver
    big = {"id": "CHG-2", "changes": [{"host": "sw1", "diff": [{"prepared": "+x\n" * 5000}]}]}
    record = changes.append(big, tmp_path / "changes", environ={changes.SYSLOG_ENV: str(path)})
    message = server.recv(1 << 20)
    assert len(message) <= changes.SYSLOG_MAX_BYTES
    copy = json.loads(message.decode().split("]: ", 1)[1])
    assert copy["hash"] == record["hash"] and "diff" not in copy["changes"][0] and "syslog_note" in copy


@pytest.mark.parametrize("value", ["relative/path", "/nonexistent/dir/log.sock"])
def test_a_copy_that_cannot_be_sent_warns_and_keeps_the_record(tmp_path, value):
    warnings: list[str] = []
    record = changes.append({"id": "CHG-3"}, tmp_path / "changes", environ={changes.SYSLOG_ENV: value},
                            warn=warnings.append)
    assert changes.archive(tmp_path / "changes").read()[0]["hash"] == record["hash"]
    assert len(warnings) == 1 and "CHG-3" in warnings[0] and changes.SYSLOG_ENV in warnings[0]


def test_syslog_switch(tmp_path):
    assert changes.syslog_target({}) is None and changes.syslog_target({changes.SYSLOG_ENV: "0"}) is None
    assert changes.syslog_target({changes.SYSLOG_ENV: "yes"}) == changes.SYSLOG_SOCKET
    assert changes.syslog_target({changes.SYSLOG_ENV: "/run/x.sock"}) == "/run/x.sock"


def test_devices_are_judged_once_the_archive_holds_netdev_records(tmp_path):
    base = {"operator": "o", "reason": "r", "start": changes.now_iso(), "end": changes.now_iso(),
            "result": "succeeded"}
    assets = [("sw1", "network"), ("sw2", "network")]
    only_ansible = [{**base, "id": "A", "engine": "ansible", "assets": {"app1": ["linux"]}}]
    out = tmp_path / "r1.jsonl"
    changes.cm01_results(changes.ResultWriter(out, "run1"), only_ansible, [], tmp_path, assets=assets)
    found = {r.asset: r.outcome for r in read_results([out])}
    # app1 is named by the archive but not by the inventory's assets: another report's host, no result here
    assert found == {"sw1": "not_verifiable", "sw2": "not_verifiable"}
    with_netdev = [*only_ansible, {**base, "id": "N", "engine": "netdev", "assets": {"sw1": ["network"]}}]
    out = tmp_path / "r2.jsonl"
    changes.cm01_results(changes.ResultWriter(out, "run2"), with_netdev, [], tmp_path, assets=assets)
    found = {r.asset: r for r in read_results([out])}
    assert found["sw1"].outcome == "pass" and "N" in found["sw1"].reason
    assert found["sw2"].outcome == "pass" and "no change to sw2" in found["sw2"].reason
