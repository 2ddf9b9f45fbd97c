"""NW-05 end to end in the lab: a simulated device's syslog arrives on the log server, in that device's directory.

The simulators run on the controller; inventory/lab/devsim.yml maps the log host the device baseline configures
(log_server_address) to log1's address and port 514, and the log server takes it from the controller's address
(device_management_networks). A failed and a successful SSH login on a Huawei and on a Cisco device must show up
within seconds under /var/log/remote-devices/<device>/ on log1, with the device's host name and a time stamp, and
never in the servers' files under /var/log/remote.
"""

from __future__ import annotations

import re
import time

import paramiko
import pytest
from lab_run import on

from devtools.lab import config

pytestmark = pytest.mark.lab

# What each vendor's device logs for a failed and a successful SSH login, and how its failed-login line begins after
# rsyslog's time stamp (Huawei VRPv8 names itself in the syslog header; Cisco IOS in the message, with
# `logging origin-id hostname` of its baseline).
LOGINS = {
    "sw-core-01": (lambda user: ("SSH_USER_LOGIN_FAIL", f"UserName={user},"),
                   lambda user: ("SSH_USER_LOGIN(", f"UserName={user},"),
                   lambda host: rf"{STAMP_RE} {re.escape(host)} %%01SSH/5/SSH_USER_LOGIN_FAIL",
                   ("FailedReason=Login Authentication Failed", "IPAddress=10.231.0.1")),
    "rt-border-02": (lambda user: ("%SEC_LOGIN-4-LOGIN_FAILED", f"[user: {user}]"),
                     lambda user: ("%SEC_LOGIN-5-LOGIN_SUCCESS", f"[user: {user}]"),
                     lambda host: rf"{STAMP_RE} .*{re.escape(host)}.* %SEC_LOGIN-4-LOGIN_FAILED",
                     ("[Source: 10.231.0.1]",)),
}
DEVICE_DIR = "/var/log/remote-devices"
SERVER_DIR = "/var/log/remote"
# A line as rsyslog writes it: time stamp (traditional or RFC 3339), then the host name.
STAMP_RE = r"(?:\w{3} [ \d]\d \d\d:\d\d:\d\d|\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\S*)"


def _device(name: str):
    from baseline.netdev import definitions

    (device,) = definitions.load(str(config.INVENTORY_DIR), [name])
    return device


def _login(device, password: str) -> bool:
    """One SSH login over the device's port (on the lab network); True when the device lets it in."""
    client = paramiko.SSHClient()
    client.set_missing_host_key_policy(paramiko.AutoAddPolicy())  # noqa: S507 - the lab's throw-away simulator
    try:
        client.connect(device.host, device.port, device.login_user, password, allow_agent=False, look_for_keys=False,
                       timeout=15, banner_timeout=15, auth_timeout=15)
        return True
    except paramiko.AuthenticationException:
        return False
    finally:
        client.close()


def _lines(path: str, words: tuple[str, ...]) -> list[str]:
    """Lines of a file on log1 holding every one of `words` (none when the file does not exist yet)."""
    text = on("log1", f"sudo cat {path} 2>/dev/null || true")
    return [line for line in text.splitlines() if all(word in line for word in words)]


@pytest.mark.parametrize("name", sorted(LOGINS))
def test_failed_and_successful_device_logins_reach_the_log_server_in_the_devices_directory(demo_run, name):
    device = _device(name)
    failed_of, login_of, line_re, details = LOGINS[name]
    hostname = str(device.values.get("netdev_hostname", device.name))
    path = f"{DEVICE_DIR}/{hostname}/messages.log"
    failed_words, login_words = failed_of(device.login_user), login_of(device.login_user)
    failed_before, login_before = len(_lines(path, failed_words)), len(_lines(path, login_words))

    wrong = "Wrong-" + device.login_password()[::-1]
    assert not _login(device, wrong), "the device let a wrong password in"
    assert _login(device, device.login_password()), "the device refused its automation account's own password"

    failed, logged_in = [], []
    for _ in range(15):
        failed, logged_in = _lines(path, failed_words), _lines(path, login_words)
        if len(failed) > failed_before and len(logged_in) > login_before:
            break
        time.sleep(1)
    assert len(failed) > failed_before, f"no new failed-login line of {hostname} in {path} on log1 within 15 s"
    assert len(logged_in) > login_before, f"no new login line of {hostname} in {path} on log1 within 15 s"
    line = failed[-1]
    assert re.match(line_re(hostname), line), line
    assert all(detail in line for detail in details), line

    mixed = on("log1", f"sudo grep -rlF -- {failed_words[0]} {SERVER_DIR} || true").split()
    assert mixed == [], f"device messages in the servers' files: {mixed}"
