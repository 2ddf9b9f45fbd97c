"""The controller-side behaviour probes (compliance_tests/linux/netprobe.py) and the checks built on them (AC-01 root
login, IA-05 weak algorithms, IP-01 clear-text ports), run against servers on this machine: a paramiko SSH server
with the baseline's algorithms or a weaker set, a listening and a closed TCP port. No lab needed.

What must hold: a refusal is told apart from a failure that proves nothing (no connection, a timeout, a server that
hangs up), and a check passes only on refusals."""

from __future__ import annotations

import importlib.util
import socket
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import paramiko
import pytest

from baseline import REPO_ROOT
from baseline.compliance import HostVars
from baseline.compliance_plugin import EvidenceLog

LINUX = REPO_ROOT / "compliance_tests" / "linux"
if str(LINUX) not in sys.path:
    sys.path.insert(0, str(LINUX))

import netprobe  # noqa: E402


def _load(path, name: str):
    """Import a suite module under a private name, with an inventory that has no hosts (no lab is read)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("BASELINE_INVENTORY", str(REPO_ROOT / "tests" / "unit" / "no-such-inventory"))
        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    return module

# The baseline's algorithms (roles/accounts/defaults/main.yml), as far as paramiko can serve them.
STRONG = {"ciphers": ("aes256-gcm@openssh.com", "aes128-gcm@openssh.com", "aes256-ctr", "aes192-ctr", "aes128-ctr"),
          "digests": ("hmac-sha2-512-etm@openssh.com", "hmac-sha2-256-etm@openssh.com", "hmac-sha2-512", "hmac-sha2-256"),
          "kex": ("curve25519-sha256@libssh.org", "diffie-hellman-group16-sha512")}


SERVER_KEY = paramiko.ECDSAKey.generate()


def _known(name: str = "127.0.0.1", *keys: paramiko.PKey) -> netprobe.KnownHost:
    known = paramiko.HostKeys()
    for key in keys or (SERVER_KEY,):
        known.add(name, key.get_name(), key)
    return netprobe.KnownHost(name, known)


KNOWN = _known()


class _Auth(paramiko.ServerInterface):
    def __init__(self, methods: str, password_ok: bool):
        self.methods, self.password_ok = methods, password_ok

    def get_allowed_auths(self, username: str) -> str:
        return self.methods

    def check_auth_password(self, username: str, password: str) -> int:
        return paramiko.AUTH_SUCCESSFUL if self.password_ok else paramiko.AUTH_FAILED


@contextmanager
def ssh_server(*, methods: str = "publickey", password_ok: bool = False, hang_up: bool = False,
               server_key: paramiko.PKey | None = None, **algorithms: tuple[str, ...]) -> Iterator[int]:
    """An SSH server on 127.0.0.1 offering `algorithms` (default: the baseline's); yields its port. `hang_up`:
    accept TCP connections and close them at once. Its host key is SERVER_KEY (the one KNOWN holds) unless
    `server_key` gives another."""
    server_key = server_key or SERVER_KEY
    key = server_key
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    listener.settimeout(0.2)
    stop = threading.Event()

    def serve_one(conn: socket.socket) -> None:
        if hang_up:
            conn.close()
            return
        transport = paramiko.Transport(conn)
        transport.add_server_key(key)
        options = transport.get_security_options()
        for name, offered in {**STRONG, **algorithms}.items():
            setattr(options, name, offered)
        try:
            transport.start_server(server=_Auth(methods, password_ok))
            while transport.is_active() and not stop.is_set():
                stop.wait(0.05)
        except (paramiko.SSHException, EOFError, OSError):
            pass
        finally:
            transport.close()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            threading.Thread(target=serve_one, args=(conn,), daemon=True).start()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield listener.getsockname()[1]
    finally:
        stop.set()
        thread.join(2)
        listener.close()


def _closed_port() -> int:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()  # nothing listens there any more: connections are refused
    return port


def _group_vars_all() -> dict:
    import yaml

    return yaml.safe_load((REPO_ROOT / "inventory" / "group_vars" / "all" / "linux.yml").read_text(encoding="utf-8"))


# --- the probes ---------------------------------------------------------------------------------------------------------


def test_weak_algorithm_lists_are_what_paramiko_offers_and_what_the_identification_suite_calls_weak():
    identification = _load(LINUX / "test_identification.py", "netprobe_test_identification")
    transport = paramiko.Transport
    assert set(netprobe.WEAK_CIPHERS) <= set(transport._cipher_info)
    assert set(netprobe.WEAK_MACS) <= set(transport._mac_info)
    assert set(netprobe.WEAK_KEX) <= set(transport._kex_info)
    # the suite allows the ciphers of the inventory (accounts_ssh_ciphers, inventory/group_vars/all/linux.yml)
    strong = set(_group_vars_all()["accounts_ssh_ciphers"])
    assert set(netprobe.MAC_CIPHERS) <= set(transport._cipher_info) & strong
    assert not set(netprobe.WEAK_CIPHERS) & strong
    assert all(any(m in mac for m in identification.WEAK_MAC_MARKERS) for mac in netprobe.WEAK_MACS)
    assert all(any(m in kex for m in identification.WEAK_KEX_MARKERS) for kex in netprobe.WEAK_KEX)


def test_negotiation_with_the_baseline_refuses_every_weak_algorithm_for_what_it_is():
    with ssh_server() as port:
        assert netprobe.ssh_negotiation("127.0.0.1", port, known=KNOWN) == "negotiated"
        for cipher in netprobe.WEAK_CIPHERS:
            outcome = netprobe.ssh_negotiation("127.0.0.1", port, known=KNOWN, ciphers=(cipher,))
            assert netprobe.refused_for(outcome, "cipher") and not netprobe.refused_for(outcome, "kex"), outcome
        for mac in netprobe.WEAK_MACS:
            outcome = netprobe.ssh_negotiation("127.0.0.1", port, known=KNOWN, ciphers=netprobe.MAC_CIPHERS, digests=(mac,))
            assert netprobe.refused_for(outcome, "mac"), outcome
        for kex in netprobe.WEAK_KEX:
            outcome = netprobe.ssh_negotiation("127.0.0.1", port, known=KNOWN, kex=(kex,))
            assert netprobe.refused_for(outcome, "kex"), outcome


def test_negotiation_with_a_weaker_server_is_not_a_refusal_and_neither_is_a_hang_up():
    with ssh_server(ciphers=("aes128-cbc", "aes256-ctr")) as port:  # the lab's IA-05 drift
        assert netprobe.ssh_negotiation("127.0.0.1", port, known=KNOWN, ciphers=("aes128-cbc",)) == "negotiated"
    with ssh_server(hang_up=True) as port:
        outcome = netprobe.ssh_negotiation("127.0.0.1", port, known=KNOWN, ciphers=("3des-cbc",), timeout=3)
        assert outcome.startswith("error:") and not netprobe.refused_for(outcome, "cipher", "mac", "kex"), outcome
    outcome = netprobe.ssh_negotiation("127.0.0.1", _closed_port(), known=KNOWN, kex=("diffie-hellman-group1-sha1",))
    assert outcome.startswith("error: no connection"), outcome


def test_password_login_outcomes():
    with ssh_server(methods="publickey") as port:
        tried = netprobe.ssh_password_login("127.0.0.1", "root", port, known=KNOWN)
        assert tried == {"methods_offered": ["publickey"],
                         "login": "refused: password logins not offered (offered: publickey)"}
    with ssh_server(methods="publickey,password") as port:
        tried = netprobe.ssh_password_login("127.0.0.1", "root", port, known=KNOWN)
        assert tried["login"].startswith("refused: ") and "password" in tried["methods_offered"]
    with ssh_server(methods="password", password_ok=True) as port:
        assert netprobe.ssh_password_login("127.0.0.1", "root", port, known=KNOWN)["login"] == "accepted"
    with ssh_server(hang_up=True) as port:
        assert netprobe.ssh_password_login("127.0.0.1", "root", port, known=KNOWN, timeout=3)["login"].startswith("error:")
    closed = netprobe.ssh_password_login("127.0.0.1", "root", _closed_port(), known=KNOWN)
    assert closed["login"].startswith("error: no connection")


def test_port_outcomes(monkeypatch):
    with socket.socket() as listening:
        listening.bind(("127.0.0.1", 0))
        listening.listen(1)
        assert netprobe.port_outcome("127.0.0.1", listening.getsockname()[1]) == netprobe.ACCEPTED
    assert netprobe.port_outcome("127.0.0.1", _closed_port()) == netprobe.REFUSED

    def no_answer(*args, **kwargs):
        raise TimeoutError("timed out")

    def unreachable(*args, **kwargs):
        raise OSError(113, "No route to host")

    monkeypatch.setattr(netprobe.socket, "create_connection", no_answer)
    assert netprobe.port_outcome("192.0.2.1", 23) == netprobe.FILTERED
    monkeypatch.setattr(netprobe.socket, "create_connection", unreachable)
    assert netprobe.port_outcome("192.0.2.1", 23).startswith("error: ")


# --- the checks ---------------------------------------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def _suite_markers(request):
    request.config.addinivalue_line("markers", "method(kind): probe, state, config or record")
    request.config.addinivalue_line("markers", "intrusive(what): the check changes the host while it runs")


def _policy() -> HostVars:
    return HostVars("fake1", {"ansible_host": "127.0.0.1"})


def test_ia05_check_passes_on_the_baseline_and_fails_on_a_cbc_cipher(monkeypatch):
    suite = _load(LINUX / "test_identification.py", "netprobe_ia05")
    with ssh_server() as port:
        monkeypatch.setattr(suite, "ssh_negotiation", lambda address, **offered: netprobe.ssh_negotiation(
            address, port, **offered))
        evidence = EvidenceLog()
        suite.test_ssh_refuses_weak_algorithms_at_negotiation(_policy(), evidence, KNOWN)
        assert evidence.items[0].observed["defaults"] == "negotiated"
    with ssh_server(ciphers=("aes128-cbc", *STRONG["ciphers"])) as port:
        monkeypatch.setattr(suite, "ssh_negotiation", lambda address, **offered: netprobe.ssh_negotiation(
            address, port, **offered))
        with pytest.raises(AssertionError, match="cipher aes128-cbc"):
            suite.test_ssh_refuses_weak_algorithms_at_negotiation(_policy(), EvidenceLog(), KNOWN)
    with ssh_server(hang_up=True) as port:  # no session at all: never a pass
        monkeypatch.setattr(suite, "ssh_negotiation", lambda address, **offered: netprobe.ssh_negotiation(
            address, port, timeout=2, **offered))
        with pytest.raises(AssertionError, match="cannot open an SSH session"):
            suite.test_ssh_refuses_weak_algorithms_at_negotiation(_policy(), EvidenceLog(), KNOWN)


def test_ac01_check_passes_on_a_refusal_and_fails_on_a_login_or_no_connection(monkeypatch):
    suite = _load(LINUX / "test_accounts.py", "netprobe_ac01")
    for methods, password_ok, passes in (("publickey", False, True), ("publickey,password", False, True),
                                         ("password", True, False)):
        with ssh_server(methods=methods, password_ok=password_ok) as port:
            monkeypatch.setattr(suite, "ssh_password_login", lambda address, user, p=port, **kw: netprobe.ssh_password_login(
                address, user, p, **kw))
            if passes:
                suite.test_root_ssh_login_is_refused(_policy(), EvidenceLog(), KNOWN)
            else:
                with pytest.raises(AssertionError, match="root login: accepted"):
                    suite.test_root_ssh_login_is_refused(_policy(), EvidenceLog(), KNOWN)
    closed = _closed_port()
    monkeypatch.setattr(suite, "ssh_password_login", lambda address, user, **kw: netprobe.ssh_password_login(
        address, user, closed, **kw))
    with pytest.raises(AssertionError, match="no SSH session"):
        suite.test_root_ssh_login_is_refused(_policy(), EvidenceLog(), KNOWN)


def test_ip01_check_needs_the_ssh_control_and_refused_or_filtered_ports(monkeypatch):
    suite = _load(LINUX / "test_hardening.py", "netprobe_ip01")
    outcomes = {22: netprobe.ACCEPTED, 21: netprobe.REFUSED, 23: netprobe.FILTERED, 514: netprobe.REFUSED}
    monkeypatch.setattr(suite, "port_outcome", lambda address, port: outcomes[port])
    groups = ["app_servers", "linux_servers"]
    monkeypatch.setattr(suite, "_groups", lambda asset: groups)
    owner = {"name": "rsyslogd"}

    def sudo_run(command):
        return type("Result", (), {"rc": 0, "stderr": "", "stdout":
                                   f'tcp LISTEN 0 25 0.0.0.0:514 0.0.0.0:* users:(("{owner["name"]}",pid=9,fd=7))'})()

    services = [{"name": "ssh", "port": 22, "proto": "tcp", "groups": ["linux_servers"]},
                {"name": "syslog-devices-tcp", "port": "{{ netdev_syslog_port }}", "proto": "tcp",
                 "groups": ["log_servers"], "daemon": "rsyslogd"}]
    policy = HostVars("fake1", {"ansible_host": "127.0.0.1", "server_inbound_services": services,
                                "netdev_syslog_port": 514})
    evidence = EvidenceLog()
    suite.test_telnet_ftp_and_rsh_ports_refuse_the_controller(policy, "fake1", sudo_run, evidence)
    assert evidence.items[0].observed == {"22/tcp ssh": "accepted", "21/tcp ftp": "refused", "23/tcp telnet": "filtered",
                                          "514/tcp rsh (shell)": "refused"}
    # the log server takes device syslog on TCP 514 on purpose: the port's owner must be the daemon the allow-list names
    groups[:] = ["log_servers", "linux_servers"]
    outcomes[514] = netprobe.ACCEPTED
    evidence = EvidenceLog()
    suite.test_telnet_ftp_and_rsh_ports_refuse_the_controller(policy, "fake1", sudo_run, evidence)
    assert evidence.items[0].observed["514/tcp syslog-devices-tcp owner"] == ["rsyslogd"]
    owner["name"] = "inetd"
    with pytest.raises(AssertionError, match="514/tcp syslog-devices-tcp"):
        suite.test_telnet_ftp_and_rsh_ports_refuse_the_controller(policy, "fake1", sudo_run, EvidenceLog())
    owner["name"] = "rsyslogd"
    outcomes[23] = netprobe.ACCEPTED
    with pytest.raises(AssertionError, match="23/tcp telnet"):
        suite.test_telnet_ftp_and_rsh_ports_refuse_the_controller(policy, "fake1", sudo_run, EvidenceLog())
    outcomes.update({22: netprobe.FILTERED, 23: netprobe.FILTERED})  # host down: every port silent
    with pytest.raises(AssertionError, match="nothing was tested"):
        suite.test_telnet_ftp_and_rsh_ports_refuse_the_controller(policy, "fake1", sudo_run, EvidenceLog())


# --- host keys ----------------------------------------------------------------------------------------------------------


def test_a_changed_or_unknown_host_key_is_an_error_and_no_password_is_sent():
    other = paramiko.ECDSAKey.generate()
    with ssh_server(methods="password", password_ok=True, server_key=other) as port:  # an impostor that lets anyone in
        outcome = netprobe.ssh_negotiation("127.0.0.1", port, known=KNOWN)
        assert outcome.startswith("error: host key of 127.0.0.1 has changed"), outcome
        tried = netprobe.ssh_password_login("127.0.0.1", "root", port, known=KNOWN)
        assert tried == {"methods_offered": None, "login": tried["login"]} and tried["login"].startswith(
            "error: host key of 127.0.0.1 has changed"), tried
        nobody = netprobe.KnownHost("10.0.0.9", paramiko.HostKeys())
        unknown = netprobe.ssh_password_login("127.0.0.1", "root", port, known=nobody)
        assert unknown["login"].startswith("error: host key of 10.0.0.9 is not in known_hosts"), unknown
        with pytest.raises(netprobe.HostKeyError, match="has changed"):
            netprobe.open_verified("127.0.0.1", KNOWN, port)
    with ssh_server(server_key=other) as port:  # a host may have several keys: any known one will do
        assert netprobe.ssh_negotiation("127.0.0.1", port, known=_known("127.0.0.1", SERVER_KEY, other)) == "negotiated"


def test_the_checks_fail_on_a_changed_host_key(monkeypatch):
    accounts = _load(LINUX / "test_accounts.py", "netprobe_ac01_hostkey")
    identification = _load(LINUX / "test_identification.py", "netprobe_ia05_hostkey")
    with ssh_server(server_key=paramiko.ECDSAKey.generate()) as port:
        monkeypatch.setattr(accounts, "ssh_password_login", lambda address, user, **kw: netprobe.ssh_password_login(
            address, user, port, **kw))
        monkeypatch.setattr(identification, "ssh_negotiation", lambda address, **offered: netprobe.ssh_negotiation(
            address, port, **offered))
        with pytest.raises(AssertionError):
            accounts.test_root_ssh_login_is_refused(_policy(), EvidenceLog(), KNOWN)
        with pytest.raises(AssertionError):
            identification.test_ssh_refuses_weak_algorithms_at_negotiation(_policy(), EvidenceLog(), KNOWN)


def test_known_host_reads_the_client_config_like_ssh(tmp_path):
    known_hosts = tmp_path / "known_hosts"
    known_hosts.write_text(f"app9,10.231.9.9 {SERVER_KEY.get_name()} {SERVER_KEY.get_base64()}\n")
    config = tmp_path / "ssh_config"
    config.write_text(f"Host app9\n  HostName 10.231.9.9\n  UserKnownHostsFile {known_hosts}\n"
                      f"Host db9\n  HostName 10.231.9.10\n  UserKnownHostsFile {tmp_path / 'missing'}\n")
    found = netprobe.known_host(config, "app9")
    assert found.name == "10.231.9.9" and found.keys.check("10.231.9.9", SERVER_KEY)
    with pytest.raises(netprobe.HostKeyError, match="no known_hosts file of db9"):
        netprobe.known_host(config, "db9")
