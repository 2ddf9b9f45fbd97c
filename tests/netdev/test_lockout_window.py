"""NW-02: a device's login-failure lockout meets the baseline only when every figure does: no more failures than
the policy allows, a lockout at least as long, and failures counted over at least the policy's window (a shorter
window lets an attacker spread guesses out). A stricter device passes."""

from __future__ import annotations

import pytest

from baseline.netdev import configdiff
from baseline.netdev.vendors import VENDORS

VALUES = {"login_max_failures": 5, "login_lockout_seconds": 1800, "netdev_login_failure_window_minutes": 5}
HUAWEI = "local-aaa-user wrong-password retry-interval {} retry-time {} block-time {}"
CISCO = "login block-for {} attempts {} within {}"


def tolerated(vendor: str, baseline: str, device_line: str) -> bool:
    key = next(k for k, v in VENDORS.items() if v.key == vendor)
    node = configdiff.parse(VENDORS[key], device_line + "\n")
    return configdiff.tolerated_by(VENDORS[key], baseline, node.children, VALUES) is not None


@pytest.mark.parametrize(("device", "ok"), [
    ((5, 5, 30), True), ((10, 3, 60), True),  # the baseline itself; stricter on every figure
    ((1, 5, 30), False),  # failures counted over one minute only
    ((5, 6, 30), False), ((5, 5, 10), False),
])
def test_huawei_lockout_window_attempts_and_block_time(device, ok):
    assert tolerated("huawei", HUAWEI.format(5, 5, 30), HUAWEI.format(*device)) is ok


@pytest.mark.parametrize(("device", "ok"), [
    ((1800, 5, 300), True), ((3600, 3, 600), True),
    ((1800, 5, 60), False),  # a one-minute window
    ((1800, 6, 300), False), ((600, 5, 300), False),
])
def test_cisco_lockout_window_attempts_and_block_time(device, ok):
    assert tolerated("cisco", CISCO.format(1800, 5, 300), CISCO.format(*device)) is ok
