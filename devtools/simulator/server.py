"""SSH server for the simulated devices: one listening port per device on its address (127.0.0.1, or in the lab the
controller's address on the lab network, so that the management host reaches the devices too), one thread per
session.

Per device, and only when asked for (`Options`): a telnet port that answers with the vendor's login prompt while the
device's configuration takes telnet and closes the connection otherwise, an SNMPv1/v2c agent on a UDP port, the
software platform (version, save dialogue), and the addresses the device sees for clients (a client connecting from
127.0.0.2 may be shown as 192.0.2.10, so the management ACL can be tried from inside and outside the admin network),
and the loopback ports standing in for its configured log hosts (syslog.py). Logins are refused by the management ACL
and, after the failures the configuration allows, by its lockout.
"""

from __future__ import annotations

import ipaddress
import logging
import socket
import struct
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import paramiko
from paramiko.common import AUTH_FAILED, AUTH_SUCCESSFUL, OPEN_FAILED_ADMINISTRATIVELY_PROHIBITED, OPEN_SUCCEEDED

from devtools.simulator import access, snmp
from devtools.simulator.device import Device
from devtools.simulator.shell import PLATFORMS, Session
from devtools.simulator.syslog import Syslog

log = logging.getLogger("devsim")
logging.getLogger("paramiko.transport").setLevel(logging.CRITICAL)  # client resets are normal ends of sessions
LOOPBACK = "127.0.0.1"


@dataclass
class Options:
    """What a device offers besides SSH; all off by default."""

    platform: str | None = None  # a key of shell.PLATFORMS; None: the flavour's usual platform
    telnet_port: int | None = None  # TCP port of its telnet server on loopback (0: any free port)
    snmp_port: int | None = None  # UDP port of its SNMPv1/v2c agent on loopback (0: any free port)
    sources: dict[str, str] = field(default_factory=dict)  # client address on loopback -> address the device sees
    loghosts: dict[str, str] = field(default_factory=dict)  # configured log host -> "127.0.0.1:port" standing in for it


def login(device: Device, guard: access.Guard, source: str, username: str, password: str, *,
          syslog: Syslog | None = None, protocol: str = "ssh") -> bool:
    """One login attempt over `protocol` (ssh, telnet) as the device judges it: a vty range taking the protocol, the
    management ACL, the lockout, then the account (its service types, its own password)."""
    def refuse(reason: str) -> bool:
        if syslog:
            syslog.emit("failed", user=username, address=source, reason=reason)
        return False

    if protocol == "ssh" and not access.vty_takes(device, "ssh"):
        log.info("%s: SSH login of %s refused: no vty range takes SSH", device.name, username)
        return refuse("No VTY takes SSH")
    if not device.management_allows(source):
        log.info("%s: login of %s from %s refused by the management ACL", device.name, username, source)
        return refuse("Access denied by ACL")
    refused = guard.allows(username)
    if refused:
        log.info("%s: login of %s refused: %s", device.name, username, refused)
        return refuse("User locked" if refused.startswith("account") else "Login blocked (quiet mode)")
    account = device.accounts().get(username)
    allowed = account is not None and (account.ssh if protocol == "ssh" else access.account_takes(device, username,
                                                                                                    protocol))
    if account and allowed and account.stored and device.grammar.verify(password, account.stored):
        guard.succeeded(username)
        if syslog:
            syslog.emit("login", user=username, address=source)
        return True
    caused = guard.failed(username)
    log.info("%s: failed login for %s%s", device.name, username, f"; {caused}" if caused else "")
    return refuse("Login Authentication Failed")


class _Auth(paramiko.ServerInterface):
    """Password authentication against the device's own local accounts, with its vty ACL and lockout applied."""

    def __init__(self, device: Device, guard: access.Guard, source: str, syslog: Syslog | None = None):
        self.device = device
        self.guard = guard
        self.source = source
        self.syslog = syslog
        self.username = ""
        self.shell_ready = threading.Event()

    def get_allowed_auths(self, username: str) -> str:
        return "password"

    def check_auth_password(self, username: str, password: str) -> int:
        if login(self.device, self.guard, self.source, username, password, syslog=self.syslog):
            self.username = username
            return AUTH_SUCCESSFUL
        return AUTH_FAILED

    def check_channel_request(self, kind: str, chanid: int) -> int:
        return OPEN_SUCCEEDED if kind == "session" else OPEN_FAILED_ADMINISTRATIVELY_PROHIBITED

    def check_channel_pty_request(self, *args: object) -> bool:
        return True

    def check_channel_shell_request(self, channel: paramiko.Channel) -> bool:
        self.shell_ready.set()
        return True


def host_key(state_dir: Path | None) -> paramiko.PKey:
    """One RSA host key for the simulator, kept in the state directory so clients see a stable key."""
    path = state_dir / "host_key" if state_dir else None
    if path and path.exists():
        return paramiko.RSAKey.from_private_key_file(str(path))
    key = paramiko.RSAKey.generate(2048)
    if path:
        path.parent.mkdir(parents=True, exist_ok=True)
        key.write_private_key_file(str(path))
    return key


class Simulator:
    """Serves a set of devices until `stop()`."""

    def __init__(self, devices: list[Device], state_dir: Path | None = None, options: dict[str, Options] | None = None,
                 clock: Callable[[], float] = time.monotonic):
        self.devices = {d.name: d for d in devices}
        self.options = {name: (options or {}).get(name) or Options() for name in self.devices}
        for name, opts in (options or {}).items():
            if opts.platform is not None and opts.platform not in PLATFORMS:
                raise ValueError(f"{name}: no simulated platform {opts.platform!r} (known: {', '.join(PLATFORMS)})")
            if opts.platform is not None and name in self.devices and \
                    PLATFORMS[opts.platform].flavour != self.devices[name].flavour:
                raise ValueError(f"{name}: platform {opts.platform} runs {PLATFORMS[opts.platform].flavour}, not "
                                 f"{self.devices[name].flavour} ({self.devices[name].device_type})")
        self.clock = clock
        self.guards = {name: access.Guard(device, clock) for name, device in self.devices.items()}
        self.syslogs = {name: Syslog(device, self.options[name].loghosts) for name, device in self.devices.items()}
        self.key = host_key(state_dir)
        self.started = time.monotonic()
        self.telnet_ports: dict[str, int] = {}
        self.snmp_ports: dict[str, int] = {}
        self._sockets: list[socket.socket] = []
        self._agents: list[snmp.Agent] = []
        self._stop = threading.Event()

    def forget_logins(self, name: str) -> None:
        """Failed logins and lockouts of the device forgotten, as after a reload (tests resetting a device)."""
        self.guards[name] = access.Guard(self.devices[name], self.clock)

    def source(self, device: Device, peer: str) -> str:
        """The address the device sees for a client connecting from `peer`: a client on this machine (loopback, or
        the device's own address on the lab network) is seen from the controller's address unless `sources` maps
        it; a client elsewhere on the lab network (the management host) from its own address, as a real device sees
        it, so the management ACL judges it."""
        mapped = self.options[device.name].sources.get(peer)
        if mapped:
            return mapped
        local = peer == device.address or ipaddress.ip_address(peer).is_loopback
        return device.source_address if local else peer

    def start(self) -> None:
        for device in self.devices.values():
            opts = self.options[device.name]
            sock = self._listen(device.address, device.port)
            threading.Thread(target=self._accept, args=(sock, device, self._serve), daemon=True,
                             name=f"accept-{device.name}").start()
            if opts.telnet_port is not None:
                sock = self._listen(device.address, opts.telnet_port)
                self.telnet_ports[device.name] = sock.getsockname()[1]
                threading.Thread(target=self._accept, args=(sock, device, self._telnet), daemon=True,
                                 name=f"telnet-{device.name}").start()
            if opts.snmp_port is not None:
                agent = snmp.Agent(device.name, opts.snmp_port, self._snmp_allows(device), self._snmp_values(device),
                                   device.address)
                self._agents.append(agent)
                self.snmp_ports[device.name] = agent.port

    def _listen(self, address: str, port: int) -> socket.socket:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((address, port))
        sock.listen(64)
        self._sockets.append(sock)
        return sock

    def stop(self) -> None:
        self._stop.set()
        for sock in self._sockets:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            sock.close()
        for agent in self._agents:
            agent.stop()
        for syslog in self.syslogs.values():
            syslog.close()
        for device in self.devices.values():
            device.persist()

    def _accept(self, sock: socket.socket, device: Device, serve: Callable[[socket.socket, Device, str], None]) -> None:
        while not self._stop.is_set():
            try:
                client, (peer, _) = sock.accept()
            except OSError:
                return
            threading.Thread(target=serve, args=(client, device, peer), daemon=True).start()

    def _serve(self, client: socket.socket, device: Device, peer: str) -> None:
        client.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        transport = paramiko.Transport(client)
        transport.add_server_key(self.key)
        source = self.source(device, peer)
        auth = _Auth(device, self.guards[device.name], source, self.syslogs[device.name])
        try:
            transport.start_server(server=auth)
            channel = transport.accept(20)
            if channel is None or not auth.shell_ready.wait(10):
                return
            self._session(device, auth.username, source, write=lambda text: channel.sendall(text.encode()),
                          close=channel.close, recv=channel.recv, settimeout=channel.settimeout)
        except (paramiko.SSHException, EOFError, OSError) as exc:
            log.debug("%s: session ended: %s", device.name, exc)
        finally:
            transport.close()

    def _session(self, device: Device, username: str, source: str, *, write: Callable[[str], None],
                 close: Callable[[], None], recv: Callable[[int], bytes],
                 settimeout: Callable[[float | None], None], protocol: str = "SSH") -> None:
        session = Session(device, username, write=write, close=close, platform=self.options[device.name].platform)
        session.address = source
        session.protocol = protocol
        syslog = self.syslogs[device.name]
        session.log = lambda event, **fields: syslog.emit(event, user=username, address=source, **fields)
        session.banner()
        try:
            while not session.closed:
                settimeout(device.idle_seconds())  # the vty idle timeout ends a quiet session
                try:
                    data = recv(4096)
                except TimeoutError:
                    log.info("%s: session of %s ended by the idle timeout", device.name, username)
                    break
                if not data:
                    break
                session.feed(data.decode(errors="replace"))
        finally:
            session.end()
            close()
            session.log("logout")
        device.persist()

    # --- telnet ----------------------------------------------------------------------------------------------------
    def _telnet(self, client: socket.socket, device: Device, peer: str) -> None:
        """A telnet login as the vendor prints it, or the connection closed when the configuration takes no telnet
        (reset at once when the telnet server is off, as from a closed port)."""
        with client:
            if not access.telnet_server_on(device):
                client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                log.info("%s: telnet connection from %s reset: telnet server off", device.name, peer)
                return
            if not access.telnet_allowed(device):
                log.info("%s: telnet connection from %s closed: no vty takes telnet", device.name, peer)
                return
            client.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            client.settimeout(60)
            line = _TelnetLines(client)
            try:
                client.sendall(TELNET_WILL_ECHO_SGA)
                username = self._telnet_login(client, line, device, self.source(device, peer))
                if username:
                    self._session(device, username, self.source(device, peer),
                                  write=lambda text: client.sendall(text.encode()), close=lambda: None, recv=line.recv,
                                  settimeout=client.settimeout, protocol="TEL")
            except (OSError, TimeoutError) as exc:
                log.debug("%s: telnet session ended: %s", device.name, exc)

    def _telnet_login(self, client: socket.socket, line: _TelnetLines, device: Device, source: str) -> str:
        texts = TELNET_TEXTS[device.vendor]
        client.sendall(texts["banner"].encode())
        for _ in range(3):
            client.sendall(texts["username"].encode())
            username = line.read(echo=True)
            client.sendall(texts["password"].encode())
            password = line.read(echo=False)
            if username is None or password is None:
                return ""
            client.sendall(b"\r\n")
            if login(device, self.guards[device.name], source, username, password, syslog=self.syslogs[device.name],
                     protocol="telnet"):
                return username
            client.sendall(texts["failed"].encode())
        return ""

    # --- SNMP --------------------------------------------------------------------------------------------------------
    def _snmp_allows(self, device: Device) -> Callable[[str, str], bool]:
        return lambda community, peer: access.community_allows(device, community)

    def _snmp_values(self, device: Device) -> Callable[[], dict[str, bytes]]:
        def values() -> dict[str, bytes]:
            platform = PLATFORMS[self.options[device.name].platform or device.flavour]
            descr = " ".join(platform.version.split("\n")[:2]).strip()
            ticks = int((time.monotonic() - self.started) * 100)
            return snmp.system_group(descr, device.hostname, SYS_OBJECT_IDS[device.vendor], ticks)
        return values


SYS_OBJECT_IDS = {"huawei": "1.3.6.1.4.1.2011.2.23.1", "h3c": "1.3.6.1.4.1.25506.1.1",
                  "cisco": "1.3.6.1.4.1.9.1.1208"}
IAC, WILL, WONT, DO, DONT, SB, SE = 255, 251, 252, 253, 254, 250, 240
TELNET_WILL_ECHO_SGA = bytes([IAC, WILL, 1, IAC, WILL, 3, IAC, DO, 3])
TELNET_TEXTS = {  # what the devices print around a telnet login
    "huawei": {"banner": "\r\n\r\nLogin authentication\r\n\r\n", "username": "\r\nUsername:",
               "password": "\r\nPassword:", "failed": "Error: Local authentication is rejected.\r\n"},
    "h3c": {"banner": "\r\n" + "*" * 78 + "\r\n* Copyright (c) 2004-2021 New H3C Technologies Co., Ltd. All rights "
            "reserved.*\r\n" + "*" * 78 + "\r\n\r\n", "username": "\r\nlogin: ", "password": "\r\nPassword: ",
            "failed": "\r\nAAA authentication failed.\r\n"},
    "cisco": {"banner": "\r\n\r\nUser Access Verification\r\n", "username": "\r\nUsername: ",
              "password": "\r\nPassword: ", "failed": "% Login invalid\r\n"},
}


class _TelnetLines:
    """Reads a telnet client's keystrokes with its option negotiation taken out (refusing every option asked for)."""

    def __init__(self, sock: socket.socket):
        self.sock = sock
        self.pending = b""

    def recv(self, size: int) -> bytes:
        if self.pending:
            data, self.pending = self.pending, b""
            return data
        while True:  # a read holding only option negotiation is not the end of the connection
            data = self.sock.recv(size)
            if not data:
                return data
            data = self._strip(data)
            if data:
                return data

    def _strip(self, data: bytes) -> bytes:
        out = bytearray()
        i = 0
        while i < len(data):
            byte = data[i]
            if byte != IAC:
                out.append(byte)
                i += 1
                continue
            command = data[i + 1] if i + 1 < len(data) else None
            if command in (WILL, WONT, DO, DONT) and i + 2 < len(data):
                option = data[i + 2]
                if command == DO and option not in (1, 3):
                    self.sock.sendall(bytes([IAC, WONT, option]))
                elif command == WILL and option != 3:
                    self.sock.sendall(bytes([IAC, DONT, option]))
                i += 3
            elif command == SB:
                end = data.find(bytes([IAC, SE]), i)
                i = len(data) if end < 0 else end + 2
            elif command == IAC:
                out.append(IAC)
                i += 2
            else:
                i += 2
        return bytes(out).replace(b"\r\0", b"\r")

    def read(self, echo: bool) -> str | None:
        """One line typed at a login prompt (echoed unless a password); None when the client went away."""
        line = b""
        while True:
            data = self.recv(1024)
            if not data:
                return None
            for index, byte in enumerate(data):
                if byte in (10, 13):
                    rest = data[index + 1:]
                    if rest[:1] in (b"\n", b"\0") and byte == 13:
                        rest = rest[1:]
                    self.pending = rest
                    return line.decode(errors="replace")
                if byte in (8, 127):
                    if line and echo:
                        self.sock.sendall(b"\b \b")
                    line = line[:-1]
                    continue
                line += bytes([byte])
                if echo:
                    self.sock.sendall(bytes([byte]))
