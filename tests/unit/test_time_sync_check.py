"""AU-02's synchronisation check (compliance_tests/linux/test_audit.py::test_time_synchronised) against fake hosts:
it passes once chronyd has selected a platform source with leap status Normal, reads again while chronyd runs without
one (a source dropped for a while) and fails when none is selected within its wait, at once when chronyd is down."""

from __future__ import annotations

import pytest
from test_compliance_checks_offline import (
    LINUX,
    FakeHost,
    Result,
    _load,
    _suite_markers,  # noqa: F401 - the suites' markers (autouse fixture)
)

from baseline.compliance_plugin import EvidenceLog

SOURCE = "10.231.0.14"
POLICY = {"ntp_servers": [SOURCE], "ansible_host": "10.231.0.20"}
HEADER = "MS Name/IP address         Stratum Poll Reach LastRx Last sample\n" + "=" * 79 + "\n"


def tracking(leap: str) -> str:
    return (f"Reference ID    : 0AE7000E ({SOURCE})\nSystem time     : 0.000001 seconds fast of NTP time\n"
            f"Leap status     : {leap}\n")


def sources(state: str) -> str:
    return HEADER + f"^{state} {SOURCE}                   8   4   377    10   +22us[ +30us] +/-  120us\n"


class Chrony:
    """chronyc's answers, one (tracking, sources) pair per reading; the last one again after that."""

    def __init__(self, readings: list[tuple[int, str, str]]):
        self.readings, self.reads = readings, 0

    def __call__(self, command: str) -> Result:
        rc, leap, state = self.readings[min(self.reads, len(self.readings) - 1)]
        if command == "chronyc -n tracking":
            return Result(rc, tracking(leap) if rc == 0 else "", "" if rc == 0 else "506 Cannot talk to daemon")
        self.reads += 1
        return Result(rc, sources(state) if rc == 0 else "", "")


@pytest.fixture()
def audit(monkeypatch):
    suite = _load(LINUX / "test_audit.py", "offline_test_audit")
    slept = []
    monkeypatch.setattr(suite.time, "sleep", slept.append)
    clock = iter(range(0, 10_000, 8))
    monkeypatch.setattr(suite.time, "monotonic", lambda: next(clock))
    return suite, slept


def check(suite, chrony: Chrony) -> tuple[EvidenceLog, int]:
    evidence = EvidenceLog()
    suite.test_time_synchronised(FakeHost(chrony), POLICY, evidence, "vm", 3)
    return evidence, chrony.reads


def test_a_selected_platform_source_passes_at_the_first_reading(audit):
    suite, slept = audit
    evidence, reads = check(suite, Chrony([(0, "Normal", "*")]))
    assert reads == 1 and slept == []
    assert evidence.items[-1].observed["selected_source"] == [SOURCE]


def test_a_source_selected_again_within_the_wait_passes_and_the_evidence_keeps_both_readings(audit):
    suite, slept = audit
    evidence, reads = check(suite, Chrony([(0, "Normal", "~"), (0, "Normal", "~"), (0, "Normal", "*")]))
    assert reads == 3 and slept == [8, 8]
    observed = evidence.items[-1].observed
    assert observed["first"]["selected_source"] == [] and observed["last"]["selected_source"] == [SOURCE]
    assert "read 3 times" in evidence.items[-1].command


def test_no_source_selected_within_the_wait_fails(audit):
    suite, _ = audit
    with pytest.raises(AssertionError, match="no platform time source selected"):
        check(suite, Chrony([(0, "Normal", "?")]))


def test_an_unsynchronised_clock_fails_after_the_wait(audit):
    suite, _ = audit
    with pytest.raises(AssertionError):
        check(suite, Chrony([(0, "Not synchronised", "*")]))


def test_chronyd_down_fails_at_once(audit):
    suite, slept = audit
    with pytest.raises(AssertionError, match="chronyc -n tracking exit 1"):
        check(suite, Chrony([(1, "", "")]))
    assert slept == []
