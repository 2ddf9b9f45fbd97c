"""netmiko connections: the project's driver subclasses and the one place devices are connected.

Stock netmiko's Huawei driver checks for configuration mode by waiting until the channel has been quiet for
about two seconds (`check_config_mode` without a pattern), three times per `send_config_set`. The project's
drivers read up to the prompt instead, and find the prompt on login the same way. Nothing else changes.
"""

from __future__ import annotations

import errno
import re
import socket
from typing import Any

from netmiko import BaseConnection, ConnectHandler
from netmiko.cisco.cisco_ios import CiscoIosSSH
from netmiko.exceptions import NetmikoAuthenticationException, NetmikoTimeoutException, ReadTimeout
from netmiko.hp.hp_comware import HPComwareSSH
from netmiko.huawei.huawei import HuaweiSSH, HuaweiVrpv8SSH
from paramiko.ssh_exception import AuthenticationException, NoValidConnectionsError

from baseline.netdev.devices import NetDevice

PROMPT = r"[>\]]\s*$"
ERROR_PATTERNS = {
    "huawei": r"^\s*Error:.*$",
    "h3c": r"^\s*% (?:Unrecognized|Incomplete|Wrong|Too many|Ambiguous).*$",
    "cisco": r"^% (?:Invalid|Incomplete|Ambiguous|Bad|Duplicate).*$",
}


class _PromptHuaweiMixin:
    """Read to the prompt instead of waiting for silence."""

    def check_config_mode(self, check_string: str = "]", pattern: str = PROMPT, force_regex: bool = False) -> bool:
        return BaseConnection.check_config_mode(self, check_string=check_string, pattern=pattern)  # type: ignore[arg-type]

    def session_preparation(self) -> None:
        self.ansi_escape_codes = True
        self.set_base_prompt(pattern=PROMPT)  # type: ignore[attr-defined]
        self.disable_paging(command="screen-length 0 temporary")  # type: ignore[attr-defined]
        self.clear_buffer(backoff=False)  # type: ignore[attr-defined]


class BaselineHuaweiSSH(_PromptHuaweiMixin, HuaweiSSH):
    def save_config(self, cmd: str = "save", confirm: bool = True, confirm_response: str = "y") -> str:
        """Answers both save dialogues of VRP: `Continue? [Y/N]` (V200R0xx), and V100R00x's `Are you sure to
        continue?[Y/N]` followed by the file name (Enter keeps the startup file) and `… exists, overwrite?[Y/N]`."""
        questions = r"[Cc]ontinue\s*\?\s*\[Y/N\]:?\s*$|file name[^\n]*\]:\s*$|overwrite\?\s*\[Y/N\]:?\s*$"
        self.write_channel(self.normalize_cmd(cmd))
        output = ""
        for _ in range(4):
            output += self.read_until_pattern(pattern=f"{questions}|{PROMPT}", read_timeout=100.0)
            if re.search(r"file name[^\n]*\]:\s*$", output):
                answer = ""
            elif re.search(r"\[Y/N\]:?\s*$", output):
                answer = confirm_response if confirm else "n"
            else:
                break
            self.write_channel(answer + self.RETURN)
        return output


class BaselineHuaweiVrpv8SSH(_PromptHuaweiMixin, HuaweiVrpv8SSH):
    def discard_candidate(self) -> None:
        """Leave system view without committing (answers VRPv8's uncommitted-changes question with N)."""
        self.write_channel("return" + self.RETURN)
        output = self.read_until_pattern(pattern=r"\[Y\(yes\)/N\(no\)/C\(cancel\)\]:|>\s*$")
        if "Y(yes)" in output:
            self.write_channel("N" + self.RETURN)
            self.read_until_pattern(pattern=r">\s*$")


class BaselineComwareSSH(HPComwareSSH):
    """Verifies command echoes (stock Comware turns that off and then waits for silence after every command)."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("global_cmd_verify", True)
        super().__init__(**kwargs)

    def session_preparation(self) -> None:
        data = self._test_channel_read(pattern=r"to continue|[>\]]")
        if "continue" in data:
            self.write_channel(self.RETURN)
            self._test_channel_read(pattern=r"[>\]]")
        self.set_base_prompt(pattern=PROMPT)
        self.disable_paging(command="screen-length disable")


class BaselineCiscoIosSSH(CiscoIosSSH):
    def session_preparation(self) -> None:
        self._test_channel_read(pattern=r"[>#]")
        self.set_terminal_width(command="terminal width 511", pattern="terminal width")
        self.disable_paging()
        self.set_base_prompt(pattern=r"[>#]\s*$")


PROJECT_DRIVERS: dict[str, type[BaseConnection]] = {
    "huawei": BaselineHuaweiSSH,
    "huawei_vrpv8": BaselineHuaweiVrpv8SSH,
    "hp_comware": BaselineComwareSSH,
    "cisco_ios": BaselineCiscoIosSSH,
}


def connection_params(device: NetDevice) -> dict[str, Any]:
    params: dict[str, Any] = {
        "device_type": device.device_type,
        "host": device.host,
        "port": device.port,
        "username": device.login_user,
        "password": device.login_password(),
        "secret": device.enable_secret(),
        "conn_timeout": 10,
        "auth_timeout": 10,
        "banner_timeout": 10,
        "allow_agent": False,
        "use_keys": False,
        "fast_cli": True,
    }
    known_hosts = device.values.get("netdev_known_hosts")
    if known_hosts:  # production: verify host keys against the recorded ones
        params.update(ssh_strict=True, system_host_keys=False, alt_host_keys=True, alt_key_file=str(known_hosts))
    return params


class ConnectError(Exception):
    """A device could not be reached or refused the login. `cause` is one of CAUSES; the message names the device's
    address and what happened, never a password."""

    def __init__(self, cause: str, detail: str):
        self.cause = cause
        self.detail = detail
        super().__init__(f"{cause}: {detail}")


CAUSES = ("authentication failed", "connection refused", "timeout", "unreachable", "not SSH", "connection failed")


def ssh_banner(host: str, port: int, seconds: float = 3.0) -> str | None:
    """What a TCP port sends first: an SSH server sends `SSH-2.0-…` at once. None when no TCP connection opens."""
    try:
        with socket.create_connection((host, port), timeout=seconds) as sock:
            sock.settimeout(seconds)
            try:
                return sock.recv(256).decode(errors="replace")
            except (TimeoutError, OSError):
                return ""
    except OSError:
        return None


def _chain(exc: BaseException) -> list[BaseException]:
    found: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in found:
        found.append(current)
        current = current.__cause__ or current.__context__
    return found


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _not_ssh(device: NetDevice, where: str) -> ConnectError | None:
    """After a timeout: a port that takes TCP connections but sends no SSH banner is named as such."""
    banner = ssh_banner(device.host, device.port)
    if banner is None or banner.startswith("SSH-"):
        return None
    said = f"sent {banner.strip()[:40]!r}" if banner.strip() else "sent nothing"
    return ConnectError("not SSH", f"{where} accepts TCP connections but does not speak SSH ({said} instead of an SSH "
                                   f"banner); check ansible_port and what listens there")


def connection_problem(device: NetDevice, exc: BaseException, timeout: float | None = None) -> ConnectError:
    """What kept a session from opening, as a ConnectError naming the cause and the device's address."""
    if isinstance(exc, ConnectError):
        return exc
    where = f"{device.host}:{device.port}"
    seconds = timeout if timeout is not None else connection_params(device)["conn_timeout"]
    chain = _chain(exc)
    for item in chain:
        if isinstance(item, (NetmikoAuthenticationException, AuthenticationException)):
            return ConnectError("authentication failed",
                                f"{where} refused the login of {device.login_user} (password or management ACL)")
    for item in chain:
        causes = list(item.errors.values()) if isinstance(item, NoValidConnectionsError) else [item]
        for cause in causes:
            if isinstance(cause, ConnectionRefusedError) or getattr(cause, "errno", None) == errno.ECONNREFUSED:
                return ConnectError("connection refused", f"nothing accepts SSH connections at {where}")
            if isinstance(cause, socket.gaierror):
                return ConnectError("unreachable", f"the name {device.host} does not resolve")
            if isinstance(cause, TimeoutError):
                return _not_ssh(device, where) or ConnectError("timeout", f"no answer from {where} within {seconds} s")
            if isinstance(cause, OSError) and cause.errno in (errno.ENETUNREACH, errno.EHOSTUNREACH):
                return ConnectError("unreachable", f"{where}: {cause.strerror or _first_line(cause)}")
    for item in chain:
        if isinstance(item, ReadTimeout):
            return ConnectError("timeout", f"{where} did not show its prompt in time: {_first_line(item)}")
        if isinstance(item, NetmikoTimeoutException):
            return _not_ssh(device, where) or ConnectError("timeout", f"{where} opened no SSH session within {seconds} s")
    return ConnectError("connection failed", f"{where}: {type(exc).__name__}: {_first_line(exc)}")


def connect(device: NetDevice, stock: bool = False) -> BaseConnection:
    """Open a session; `stock` uses netmiko's own driver (for comparison in the benchmark).

    Raises ConnectError (authentication failed, connection refused, timeout, unreachable) when no session opens.
    """
    params = connection_params(device)
    try:
        conn = ConnectHandler(**params) if stock else PROJECT_DRIVERS[device.device_type](**params)
    except Exception as exc:
        raise connection_problem(device, exc, params["conn_timeout"]) from exc
    if device.vendor.key == "cisco" and not conn.check_enable_mode():
        try:
            conn.enable()
        except Exception as exc:
            conn.disconnect()
            raise ConnectError("authentication failed", f"{device.host}:{device.port} refused the enable secret "
                                                        f"({type(exc).__name__})") from exc
    return conn


def error_in(vendor_key: str, output: str) -> str | None:
    m = re.search(ERROR_PATTERNS[vendor_key], output, flags=re.M)
    return m.group(0).strip() if m else None
