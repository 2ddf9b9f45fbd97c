"""The NW-05 check of the log server (compliance_tests/linux/test_audit.py) against fake hosts, without the lab: the
controller's test message really goes out over UDP to a listener on 127.0.0.1, and the fake log server says it
stored the token only when that listener received it. A rule open to any source, a missing listener or a message
that does not arrive fails; a message from outside the device management networks that is stored fails."""

from __future__ import annotations

import re
import socket
import threading
import time

import pytest
from test_compliance_checks_offline import (
    LINUX,
    FakeHost,
    Result,
    _load,
    _sudo_run,
    _suite_markers,  # noqa: F401 - the suites' markers (autouse fixture)
)

from baseline.compliance import HostVars
from baseline.compliance_plugin import EvidenceLog

RULE = 'ip saddr {sources} {proto} dport {port} accept comment "syslog-devices"'


class Listener:
    """A UDP socket on 127.0.0.1 standing in for the log server's device input: keeps what it receives."""

    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.received: list[str] = []
        self.running = True
        self.thread = threading.Thread(target=self._loop, daemon=True)
        self.thread.start()

    def _loop(self):
        while self.running:
            try:
                self.received.append(self.sock.recv(65535).decode())
            except TimeoutError:
                continue

    def close(self):
        self.running = False
        self.thread.join()
        self.sock.close()


@pytest.fixture()
def listener():
    found = Listener()
    yield found
    found.close()


@pytest.fixture()
def suite(monkeypatch):
    module = _load(LINUX / "test_audit.py", "offline_test_audit_nw05")
    real_sleep = time.sleep  # the suite's waits, shortened: the listener thread still gets its datagrams
    monkeypatch.setattr(module.time, "sleep", lambda seconds: real_sleep(min(seconds, 0.05)))
    return module


def _log_server(listener, sources="127.0.0.1", protos=("udp", "tcp"), listening=("udp", "tcp")):
    port = listener.port
    ruleset = "\n".join(["table inet baseline {", "\tchain input {",
                         "\t\ttype filter hook input priority filter; policy drop;",
                         *(f"\t\t{RULE.format(sources=sources, proto=p, port=port)}" for p in protos), "\t}", "}"])
    ss = "\n".join(f"{p} {'UNCONN' if p == 'udp' else 'LISTEN'} 0 0 0.0.0.0:{port} 0.0.0.0:*" for p in listening)

    def answer(command):
        if command == "ss -Hltun":
            return Result(0, ss + "\ntcp LISTEN 0 0 0.0.0.0:22 0.0.0.0:*\n")
        if command == "nft list ruleset":
            return Result(0, ruleset)
        token = re.search(r"grep -rlF -- (baseline-nw05-\S+)", command)
        if token:
            if any(token.group(1) in line for line in listener.received):
                return Result(0, "/var/log/remote-devices/baseline-nw05-probe/messages.log\n")
            return Result(1)
        return Result(1)

    host = FakeHost(answer)
    host.backend.ssh_config = None  # the SSH client config the other servers are reached with
    return host


def _policy(listener, asset="log1"):
    return HostVars(asset, {"log_server_host": "log1", "log_server_address": "127.0.0.1",
                            "netdev_syslog_port": listener.port, "device_management_networks": ["127.0.0.1/32"]})


def _outside(monkeypatch, suite, listener, source="192.0.2.11"):
    """Another server (app1) whose address towards the log server is `source`; its probe reaches the listener when
    `source` is let through (the fake firewall drops it unless it is inside 127.0.0.0/8)."""
    sent = []

    def answer(command):
        if command.startswith("ip -o route get "):
            return Result(0, f"127.0.0.1 dev eth0 src {source} uid 0\n")
        if "python3 -c" in command:
            sent.append(command)
            if source.startswith("127."):
                token = re.search(r"(baseline-nw05-out-\w+)", command).group(1)
                listener.received.append(token)
            return Result(0)
        return Result(1)

    other = FakeHost(answer)
    monkeypatch.setattr(suite.compliance, "hosts_in", lambda group: ["ssh://log1", "ssh://app1"])
    monkeypatch.setattr(suite.testinfra, "get_host", lambda spec, **kwargs: other)
    return sent


def _check(suite, host, listener, asset="log1"):
    evidence = EvidenceLog()
    suite.test_log_server_takes_device_syslog_only_from_device_management_networks(
        host, _policy(listener, asset), asset, evidence, _sudo_run(host))
    return evidence.items[-1]


def test_passes_when_the_controllers_message_arrives_and_a_foreign_one_does_not(suite, listener, monkeypatch):
    sent = _outside(monkeypatch, suite, listener)
    item = _check(suite, _log_server(listener), listener)
    assert item.observed["inside_stored_in"] == ["/var/log/remote-devices/baseline-nw05-probe/messages.log"]
    assert item.observed["outside_stored_in"] == [] and len(sent) == 1
    (line,) = [m for m in listener.received if "baseline-nw05-in-" in m]
    assert re.fullmatch(r"<189>\w{3} \d\d \d{4} \d\d:\d\d:\d\d baseline-nw05-probe %%01INFO/5/BASELINE_PROBE\(l\):"
                        r"baseline-nw05-in-[0-9a-f]{12}", line)


def test_a_rule_open_to_any_source_fails(suite, listener, monkeypatch):
    _outside(monkeypatch, suite, listener)
    host = _log_server(listener, sources="0.0.0.0/0")
    with pytest.raises(AssertionError):
        _check(suite, host, listener)


def test_a_missing_tcp_listener_or_rule_fails(suite, listener, monkeypatch):
    _outside(monkeypatch, suite, listener)
    with pytest.raises(AssertionError, match="listens"):
        _check(suite, _log_server(listener, listening=("udp",)), listener)
    with pytest.raises(AssertionError):
        _check(suite, _log_server(listener, protos=("udp",)), listener)


def test_a_stored_foreign_message_fails(suite, listener, monkeypatch):
    _outside(monkeypatch, suite, listener, source="127.0.0.9")  # "outside" 127.0.0.1/32, yet let through
    with pytest.raises(AssertionError, match="was stored"):
        _check(suite, _log_server(listener), listener)


def test_a_message_that_does_not_arrive_fails(suite, listener, monkeypatch):
    _outside(monkeypatch, suite, listener)
    listener.close()  # nothing receives: the fake log server never finds the token
    with pytest.raises(AssertionError, match="test message"):
        _check(suite, _log_server(listener), listener)


def test_without_a_foreign_sender_the_ruleset_is_the_evidence_and_says_so(suite, listener, monkeypatch):
    monkeypatch.setattr(suite.compliance, "hosts_in", lambda group: ["ssh://log1"])
    item = _check(suite, _log_server(listener), listener)
    assert item.observed["outside_stored_in"] is None
    assert "no foreign source could be produced" in item.note


def test_other_servers_are_not_applicable(suite, listener):
    with pytest.raises(pytest.skip.Exception, match="^not applicable:"):
        _check(suite, _log_server(listener), listener, asset="app1")
