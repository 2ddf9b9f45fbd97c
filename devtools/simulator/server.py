"""SSH server for the simulated devices: one listening port per device on 127.0.0.1, one thread per session."""

from __future__ import annotations

import logging
import socket
import threading
import time
from pathlib import Path

import paramiko
from paramiko.common import AUTH_FAILED, AUTH_SUCCESSFUL, OPEN_FAILED_ADMINISTRATIVELY_PROHIBITED, OPEN_SUCCEEDED

from devtools.simulator.device import Device
from devtools.simulator.shell import Session

log = logging.getLogger("devsim")
logging.getLogger("paramiko.transport").setLevel(logging.CRITICAL)  # client resets are normal ends of sessions
LOOPBACK = "127.0.0.1"


class _Auth(paramiko.ServerInterface):
    """Password authentication against the device's own local accounts, with its vty ACL applied."""

    def __init__(self, device: Device):
        self.device = device
        self.username = ""
        self.shell_ready = threading.Event()

    def get_allowed_auths(self, username: str) -> str:
        return "password"

    def check_auth_password(self, username: str, password: str) -> int:
        device = self.device
        if not device.management_allows(device.source_address):
            log.info("%s: login of %s refused by the management ACL", device.name, username)
            return AUTH_FAILED
        account = device.accounts().get(username)
        if account and account.ssh and account.stored and device.grammar.verify(password, account.stored):
            self.username = username
            return AUTH_SUCCESSFUL
        log.info("%s: failed login for %s", device.name, username)
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

    def __init__(self, devices: list[Device], state_dir: Path | None = None):
        self.devices = {d.name: d for d in devices}
        self.key = host_key(state_dir)
        self._sockets: list[socket.socket] = []
        self._stop = threading.Event()

    def start(self) -> None:
        for device in self.devices.values():
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((LOOPBACK, device.port))
            sock.listen(64)
            self._sockets.append(sock)
            threading.Thread(target=self._accept, args=(sock, device), daemon=True, name=f"accept-{device.name}").start()

    def stop(self) -> None:
        self._stop.set()
        for sock in self._sockets:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            sock.close()
        for device in self.devices.values():
            device.persist()

    def _accept(self, sock: socket.socket, device: Device) -> None:
        while not self._stop.is_set():
            try:
                client, _ = sock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(client, device), daemon=True).start()

    def _serve(self, client: socket.socket, device: Device) -> None:
        client.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        transport = paramiko.Transport(client)
        transport.add_server_key(self.key)
        auth = _Auth(device)
        try:
            transport.start_server(server=auth)
            channel = transport.accept(20)
            if channel is None or not auth.shell_ready.wait(10):
                return
            self._session(channel, device, auth.username)
        except (paramiko.SSHException, EOFError, OSError) as exc:
            log.debug("%s: session ended: %s", device.name, exc)
        finally:
            transport.close()

    @staticmethod
    def _session(channel: paramiko.Channel, device: Device, username: str) -> None:
        session = Session(device, username, write=lambda text: channel.sendall(text.encode()), close=channel.close)
        session.banner()
        try:
            while not session.closed:
                channel.settimeout(device.idle_seconds())  # the vty idle timeout ends a quiet session
                try:
                    data = channel.recv(4096)
                except TimeoutError:
                    log.info("%s: session of %s ended by the idle timeout", device.name, username)
                    break
                if not data:
                    break
                session.feed(data.decode(errors="replace"))
        finally:
            session.end()
            channel.close()
        device.persist()
        time.sleep(0)
