"""Syslog of the simulated devices: logins, failed logins, configuration changes and logouts, sent over UDP in each
vendor's layout to the log hosts the device's configuration names (`info-center loghost`, IOS `logging host`).

A configured log host is reached only through the simulator's map of log-host addresses to `address:port`
(`Options.loghosts`, host variable `simulator_loghosts`): a loopback port standing in for it in the tests, the real
log server in the lab (inventory/lab/devsim.yml maps log_server_address to its address and netdev_syslog_port). A
log host without an entry gets nothing. Sending is UDP, fire and forget on a non-blocking socket: a log server that
is down, unreachable or slow never holds up a login or a command.

IOS puts the device's host name in front of the time stamp only with `logging origin-id hostname` (typed in
configuration mode or loaded), as the real one does; without it the message names no origin, and the log server files
it under the sender's address. VRP and Comware always carry the host name. The address forms of the origin
(`logging origin-id ip`, `ipv6`) are accepted by the grammar but put nothing in the simulator's messages.
"""

from __future__ import annotations

import itertools
import socket
import time

from devtools.simulator.device import Device

LOCAL7 = 23  # the facility all three vendors use by default
# event -> per vendor (severity, text); fields: user, address, command, reason
EVENTS = {
    "login": {
        "huawei": (5, "%%01SSH/5/SSH_USER_LOGIN(l)[{seq}]:The SSH user succeeded in logging in. (ServiceType=stelnet, "
                      "UserName={user}, IPAddress={address}, VpnInstanceName=_public_)"),
        "h3c": (6, "%%10SSHS/6/SSHS_CONNECT: SSH user {user} (IP: {address}) connected to the server successfully."),
        "cisco": (5, "%SEC_LOGIN-5-LOGIN_SUCCESS: Login Success [user: {user}] [Source: {address}] [localport: 22] at "
                     "{clock}"),
    },
    "failed": {
        "huawei": (5, "%%01SSH/5/SSH_USER_LOGIN_FAIL(l)[{seq}]:The SSH user failed to login. (ServiceType=stelnet, "
                      "FailedReason={reason}, UserName={user}, IPAddress={address}, VpnInstanceName=_public_)"),
        "h3c": (6, "%%10SSHS/6/SSHS_AUTH_FAIL: SSH user {user} (IP: {address}) failed to log in: {reason}."),
        "cisco": (4, "%SEC_LOGIN-4-LOGIN_FAILED: Login failed [user: {user}] [Source: {address}] [localport: 22] "
                     "[Reason: {reason}] at {clock}"),
    },
    "command": {
        "huawei": (5, '%%01SHELL/5/CMDRECORD(s)[{seq}]:Recorded command information. (Task=VT0, Ip={address}, '
                      'VpnName=, User={user}, AuthenticationMethod="Local-user", Command="{command}")'),
        "h3c": (6, "%%10SHELL/6/SHELL_CMD: -Line=vty0-IPAddr={address}-User={user}; Command is {command}"),
        "cisco": (5, "%SYS-5-CONFIG_I: Configured from console by {user} on vty0 ({address})"),
    },
    "logout": {
        "huawei": (5, "%%01SSH/5/SSH_USER_LOGOUT(l)[{seq}]:The SSH user logged out. (ServiceType=stelnet, "
                      "LogoutReason=logout, UserName={user}, IPAddress={address}, VpnInstanceName=_public_)"),
        "h3c": (6, "%%10SSHS/6/SSHS_DISCONNECT: SSH user {user} (IP: {address}) disconnected from the server."),
        "cisco": (5, "%SEC_LOGIN-5-LOGOUT: User {user} has exited tty session vty0({address})"),
    },
}


def loghosts(device: Device) -> list[str]:
    """The log-host addresses of the running configuration, while the information center is on (VRP, Comware)."""
    found = []
    for node in device.running.root.children:
        words = node.text.split()
        if device.vendor == "cisco" and words[:2] == ["logging", "host"] and len(words) > 2:
            found.append(words[2])
        elif device.vendor != "cisco" and words[:2] == ["info-center", "loghost"] and len(words) > 2:
            found.append(words[2])
        elif node.text == "undo info-center enable":
            return []
    return found


def _origin_hostname(device: Device) -> bool:
    """IOS `logging origin-id hostname`: the message carries the host name after its sequence number."""
    return any(node.text.split() == ["logging", "origin-id", "hostname"] for node in device.running.root.children)


class Syslog:
    """Sends one device's messages to the loopback ports standing in for its configured log hosts."""

    def __init__(self, device: Device, targets: dict[str, str]):
        self.device = device
        self.targets = {host: (where.rsplit(":", 1)[0], int(where.rsplit(":", 1)[1])) for host, where in targets.items()}
        self.sequence = itertools.count(1)
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM) if self.targets else None
        if self.sock is not None:
            self.sock.setblocking(False)

    def message(self, event: str, **fields: str) -> str:
        severity, text = EVENTS[event][self.device.vendor]
        seq = next(self.sequence)
        now = time.gmtime()
        body = text.format(seq=seq, clock=time.strftime("%H:%M:%S UTC %a %b %d %Y", now), **fields)
        pri = f"<{LOCAL7 * 8 + severity}>"
        stamp = time.strftime("%b %d %H:%M:%S", now).replace(" 0", "  ", 1)
        if self.device.vendor == "huawei":
            return f"{pri}{time.strftime('%b %d %Y %H:%M:%S', now)} {self.device.hostname} {body}"
        if self.device.vendor == "h3c":
            return f"{pri}{stamp} {time.strftime('%Y', now)} {self.device.hostname} {body}"
        origin = f" {self.device.hostname}:" if _origin_hostname(self.device) else ""
        return f"{pri}{seq}:{origin} *{stamp}.000: {body}"

    def emit(self, event: str, **fields: str) -> None:
        if self.sock is None:
            return
        wanted = [self.targets[host] for host in loghosts(self.device) if host in self.targets]
        if not wanted:
            return
        data = self.message(event, **fields).encode()
        for target in wanted:
            try:
                self.sock.sendto(data, target)
            except OSError:
                pass

    def close(self) -> None:
        if self.sock is not None:
            self.sock.close()
