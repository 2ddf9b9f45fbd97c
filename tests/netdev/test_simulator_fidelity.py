"""The simulator behaves as the devices do where the baseline's effect shows: ambiguous abbreviations refused with the
vendor's text, VRPv8's question on leaving with uncommitted changes, both save dialogues of VRP, telnet refused when
the VTYs take only SSH, the login-failure lockout locking, SNMPv2c answered only for a configured community, the
management ACL judged by the address the device sees, IOS's own secret formats, and syslog sent to the configured log
host."""

from __future__ import annotations

import dataclasses
import re
import socket
import time
from collections.abc import Iterator

import paramiko
import pytest
import yaml
from netmiko import ConnectHandler
from scrapli import Scrapli

from baseline.netdev.devices import NetDevice
from baseline.netdev.drivers import PROJECT_DRIVERS, connection_params, error_in
from devtools.simulator import Device, Options, Simulator, daemon, options_from_inventory, seed_text
from devtools.simulator.shell import Session
from devtools.simulator.testbed import LAB_DEVICES, free_port, make_inventory

from .conftest import Lab


# --- error texts -------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("name", "lines", "typed", "error"), [
    ("sw-acc-01", [], "s", "Error: Ambiguous command found at '^' position."),  # save, screen-length, system-view
    ("sw-core-01", ["system-view"], "http s", "Error: Ambiguous command found at '^' position."),  # server, secure-…
    ("sw-acc-02", ["system-view"], "l", " % Ambiguous command found at '^' position."),  # line, local-user
])
def test_vrp_and_comware_refuse_an_ambiguous_abbreviation_with_the_caret_under_it(shell, name, lines, typed, error):
    sh = shell(name)
    for line in lines:
        sh.send(line + "\r")
    prompt = sh.send("\r").strip().split("\n")[-1]
    out = sh.send(typed + "\r")
    assert error in out.split("\n"), out
    caret = next(line for line in out.split("\n") if line.strip() == "^")
    assert caret.index("^") == len(prompt) + typed.rindex(typed.split()[-1]), out
    assert error_in("huawei" if name.startswith("sw-") and name != "sw-acc-02" else "h3c", out), "a push stops here"


def test_ios_refuses_an_ambiguous_abbreviation_quoting_the_input(shell):
    sh = shell("rt-border-02")
    out = sh.send("e\r")  # enable, exit
    assert '% Ambiguous command:  "e"' in out.split("\n"), out
    assert error_in("cisco", out)
    sh.send("conf t\r")
    out = sh.send("line vty 0 4\r")
    assert out.rstrip().endswith("(config-line)#"), out
    out = sh.send("l\r")  # login, line
    assert '% Ambiguous command:  "l"' in out, out


@pytest.mark.parametrize(("name", "typed", "shown"), [
    ("sw-acc-01", "dis cur | inc ^sysname", "sysname sw-acc-01"),
    ("sw-acc-02", "sys\rinfo-c loghost 192.0.2.9\rdis this | inc loghost", " info-center loghost 192.0.2.9"),
    ("rt-border-02", "conf t\rlogg host 192.0.2.9\rdo sh run | inc ^logging", "logging host 192.0.2.9"),
])
def test_unique_abbreviations_are_written_out_as_the_devices_do(shell, name, typed, shown):
    sh = shell(name)
    sh.send("screen-length disable\r" if name == "sw-acc-02" else "terminal length 0\r" if name == "rt-border-02"
            else "screen-length 0 temporary\r")
    *before, last = typed.split("\r")
    for line in before:
        assert "rror" not in sh.send(line + "\r")
    out = sh.send(last + "\r")
    assert shown in out.split("\n"), out


# --- VRPv8 uncommitted changes ---------------------------------------------------------------------------------------
QUESTION = "Are you sure to commit them before exiting? [Y(yes)/N(no)/C(cancel)]:"


@pytest.mark.parametrize("leave", ["\x1a", "return\r", "quit\r"])
def test_vrpv8_asks_before_leaving_uncommitted_changes_by_ctrl_z_return_or_quit(lab, shell, leave):
    sh = shell("sw-core-01")
    sh.send("system-view\r")
    assert sh.send("info-center loghost 192.0.2.61\r").rstrip().endswith("[*sw-core-01]")
    out = sh.send(leave, until=re.escape(QUESTION) + "$")
    assert "Warning: Uncommitted configurations found." in out
    assert sh.send("c\r").rstrip().endswith("[*sw-core-01]"), "cancel stays in the view, changes kept"
    sh.send(leave, until=re.escape(QUESTION) + "$")
    assert sh.send("n\r").rstrip().endswith("<sw-core-01>")
    assert "192.0.2.61" not in lab.simulator.devices["sw-core-01"].running.render(), "N discards"
    sh.send("system-view\r")
    sh.send("info-center loghost 192.0.2.62\r")
    sh.send(leave, until=re.escape(QUESTION) + "$")
    assert sh.send("y\r").rstrip().endswith("<sw-core-01>")
    assert "info-center loghost 192.0.2.62" in lab.simulator.devices["sw-core-01"].running.render(), "Y commits"


def test_vrpv8_leaves_at_once_without_uncommitted_changes(shell):
    sh = shell("sw-core-01")
    sh.send("system-view\r")
    assert sh.send("\x1a").rstrip().endswith("<sw-core-01>")


# --- a simulator of our own: platforms, telnet, SNMP, sources, lockout ------------------------------------------------------
class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@dataclasses.dataclass
class Own:
    simulator: Simulator
    clock: Clock
    devices: dict[str, NetDevice]
    loghost: socket.socket

    def received(self) -> list[str]:
        """Syslog messages that reached the log host so far."""
        found = []
        while True:
            try:
                found.append(self.loghost.recv(65535).decode())
            except TimeoutError:
                return found

    def sim(self, name: str) -> Device:
        return self.simulator.devices[name]

    def configure(self, name: str, lines: list[str]) -> str:
        return _type(self.sim(name), lines)


WRONG_GUESS = "not-the-" + "right-one"
KIND_OF = {"sw-acc-01": "huawei", "sw-core-01": "huawei_vrpv8", "sw-acc-02": "hp_comware", "rt-border-02": "cisco_ios"}


TELNET_ACCOUNT = {"huawei": ["aaa", "local-user automation service-type telnet ssh", "quit"],
                  "h3c": ["local-user automation class manage", "service-type telnet ssh", "quit"]}


def _type(device: Device, lines: list[str]) -> str:
    """Type lines at the device's CLI (in the process, no SSH): system view / configure terminal, the lines, back."""
    out: list[str] = []
    session = Session(device, "automation", out.append, lambda: None)
    enter, leave = (["configure terminal"], ["end"]) if device.vendor == "cisco" else (["system-view"], ["return"])
    for line in enter + lines + (["commit"] if device.flavour == "vrpv8" else []) + leave:
        session.feed(line + "\r")
    session.end()
    return "".join(out)


@pytest.fixture
def own(lab: Lab) -> Iterator[Own]:
    """The four kinds again on fresh ports, sw-acc-01 as an older VRP, with telnet, SNMP, a second client address,
    and log host 192.0.2.50 standing on a loopback port (`Own.loghost`)."""
    clock = Clock()
    loghost = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    loghost.bind(("127.0.0.1", 0))
    loghost.settimeout(0.5)
    devices, sims, options = {}, [], {}
    for name in KIND_OF:
        base = lab.device(name)
        device = dataclasses.replace(base, port=free_port())
        sim = Device(name, device.device_type, device.port, None, source_address="10.231.0.1")
        sim.load_or_seed(seed_text(base))
        _type(sim, TELNET_ACCOUNT.get(sim.vendor, []))  # the automation account may use telnet too
        devices[name], options[name] = device, Options(
            telnet_port=0, snmp_port=0, sources={"127.0.0.2": "192.0.2.10"},
            platform="vrp5-v100" if name == "sw-acc-01" else None,
            loghosts={"192.0.2.50": f"127.0.0.1:{loghost.getsockname()[1]}"})
        sims.append(sim)
    simulator = Simulator(sims, None, options, clock=clock)
    simulator.start()
    yield Own(simulator, clock, devices, loghost)
    simulator.stop()
    loghost.close()


def _ssh(device: NetDevice, password: str | None = None, source: str = "127.0.0.1", user: str | None = None) -> None:
    """Log in over SSH and out again; raises paramiko.AuthenticationException when refused."""
    sock = socket.create_connection((device.host, device.port), timeout=10, source_address=(source, 0))
    client = paramiko.SSHClient()
    client.set_missing_host_key_policy(paramiko.AutoAddPolicy())  # noqa: S507 - throw-away simulator
    try:
        client.connect(device.host, device.port, user or device.login_user,
                       device.login_password() if password is None else password, sock=sock, allow_agent=False,
                       look_for_keys=False, timeout=10)
    finally:
        client.close()


def test_older_vrp_platform_has_its_identity_and_save_dialogue_and_the_projects_driver_saves(own):
    device = own.devices["sw-acc-01"]
    conn = PROJECT_DRIVERS["huawei"](**connection_params(device))
    try:
        assert "Version 5.70 (S3700 V100R006C05)" in conn.send_command("display version")
        conn.send_config_set(["info-center loghost 192.0.2.71"])
        started = time.monotonic()
        output = conn.save_config()
        assert time.monotonic() - started < 5
        assert "Are you sure to continue?[Y/N]:" in output
        assert "Please input the file name(*.cfg,*.zip)[flash:/vrpcfg.zip]:" in output
        assert "flash:/vrpcfg.zip exists, overwrite?[Y/N]:" in output
        assert "Save the configuration successfully." in output
        saved = conn.send_command("display saved-configuration")
        assert "info-center loghost 192.0.2.71" in saved
        assert saved.lstrip().startswith("!Software Version V100R006C05")
    finally:
        conn.disconnect()


def test_older_vrp_save_dialogue_answered_by_scrapli(own):
    device = own.devices["sw-acc-01"]
    with Scrapli(host=device.host, port=device.port, auth_username=device.login_user,
                 auth_password=device.login_password(), auth_strict_key=False, platform="huawei_vrp",
                 transport="paramiko", timeout_ops=10) as conn:
        prompt = conn.get_prompt()
        conn.send_configs(["info-center loghost 192.0.2.72"])
        conn.acquire_priv("privilege_exec")
        result = conn.send_interactive([("save", "[Y/N]:", False), ("Y", "vrpcfg.zip]:", False),
                                        ("", "overwrite?[Y/N]:", False), ("Y", prompt, False)]).result
        assert "Save the configuration successfully." in result
        assert "info-center loghost 192.0.2.72" in conn.send_command("display saved-configuration").result


def test_newer_vrp_keeps_its_one_question_save_for_the_projects_driver(lab):
    lab.reset("sw-acc-01")
    conn = PROJECT_DRIVERS["huawei"](**connection_params(lab.device("sw-acc-01")))
    try:
        output = conn.save_config()
        assert "Continue? [Y/N]:" in output and "file name" not in output
        assert "Save the configuration successfully." in output
    finally:
        conn.disconnect()


# --- telnet ---------------------------------------------------------------------------------------------------------------
def _telnet(port: int, expect: bytes, timeout: float = 3) -> bytes:
    """What a telnet port sends until `expect` (or the connection ends)."""
    data = b""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        end = time.monotonic() + timeout
        while expect not in data and time.monotonic() < end:
            try:
                chunk = sock.recv(4096)
            except (ConnectionResetError, TimeoutError):
                break
            if not chunk:
                break
            data += chunk
    return data


TELNET_OFF = {
    "sw-acc-01": (["user-interface vty 0 4", "protocol inbound ssh", "quit"], ["undo telnet server enable"]),
    "sw-core-01": (["user-interface vty 0 4", "protocol inbound ssh", "quit"], ["undo telnet server enable"]),
    "sw-acc-02": (["line vty 0 63", "protocol inbound ssh", "quit"], ["undo telnet server enable"]),
    "rt-border-02": (["line vty 0 4", "transport input ssh", "exit"], []),
}
LOGIN_PROMPT = {"huawei": b"Username:", "h3c": b"login: ", "cisco": b"Username: "}


@pytest.mark.parametrize("name", list(KIND_OF))
def test_telnet_answers_only_while_a_vty_takes_it(own, name):
    device = own.devices[name]
    port = own.simulator.telnet_ports[name]
    prompt = LOGIN_PROMPT[device.vendor.key]
    assert prompt in _telnet(port, prompt), "the seed takes telnet"
    vty, server = TELNET_OFF[name]
    out = own.configure(name, vty)
    assert error_in(device.vendor.key, out) is None, out
    assert prompt not in _telnet(port, prompt), "only SSH on the VTYs: the connection is closed"
    if server:
        own.configure(name, server)
        with pytest.raises((ConnectionResetError, AssertionError)):
            data = _telnet(port, prompt)
            assert data, "the server off: reset before anything is sent"
            raise AssertionError(data)


def test_telnet_login_reaches_the_cli_and_shows_as_tel(own):
    device = own.devices["sw-acc-01"]
    with socket.create_connection(("127.0.0.1", own.simulator.telnet_ports["sw-acc-01"]), timeout=5) as sock:
        def until(text: bytes) -> bytes:
            data = b""
            while text not in data:
                data += sock.recv(4096)
            return data
        until(b"Username:")
        sock.sendall(device.login_user.encode() + b"\r\n")
        until(b"Password:")
        sock.sendall(device.login_password().encode() + b"\r\n")
        until(b"<sw-acc-01>")
        sock.sendall(b"display users\r\n")
        out = until(b"Username : automation").decode()
        assert re.search(r"^\+ \d+\s+VTY 0\s+00:00:00\s+TEL\s+10\.231\.0\.1", out.replace("\r\n", "\n"), re.M), out
        assert device.login_password() not in out


# --- SNMPv2c -------------------------------------------------------------------------------------------------------------
def _get(port: int, community: str, version: int = 1) -> bytes | None:
    """An SNMP GetRequest of sysDescr.0 and sysName.0, assembled byte by byte; the reply, or None after 0.5 s."""
    varbinds = b"".join(b"\x30\x0c\x06\x08\x2b\x06\x01\x02\x01\x01" + bytes([last, 0]) + b"\x05\x00" for last in (1, 5))
    pdu = b"\x02\x02\x30\x39" + b"\x02\x01\x00" + b"\x02\x01\x00" + b"\x30" + bytes([len(varbinds)]) + varbinds
    body = (b"\x02\x01" + bytes([version]) + b"\x04" + bytes([len(community)]) + community.encode()
            + b"\xa0" + bytes([len(pdu)]) + pdu)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(0.5)
        sock.sendto(b"\x30" + bytes([len(body)]) + body, ("127.0.0.1", port))
        try:
            return sock.recv(65535)
        except TimeoutError:
            return None


COMMUNITY_LINE = {"huawei": r"^snmp-agent community read .*$", "h3c": r"^ ?snmp-agent community read .*$",
                  "cisco": r"^snmp-server community .*$"}


@pytest.mark.parametrize("name", list(KIND_OF))
def test_snmpv2c_answers_the_configured_community_only_and_stops_when_it_is_removed(own, name):
    port = own.simulator.snmp_ports[name]
    reply = _get(port, "public")
    assert reply is not None, "the seed's community is answered"
    assert reply[0] == 0x30 and b"\xa2" in reply and b"\x30\x39" in reply, reply  # GetResponse, our request-id
    assert name.encode() in reply, "sysName.0"
    assert b"Software" in reply or b"Comware" in reply, "sysDescr.0"
    assert _get(port, "public", version=0) is not None, "SNMPv1 too"
    assert _get(port, "private") is None, "a wrong community gets no answer"
    device = own.sim(name)
    line = re.search(COMMUNITY_LINE[device.vendor], device.running.render(), re.M)
    assert line, device.running.render()
    negation = "no" if device.vendor == "cisco" else "undo"
    out = own.configure(name, [f"{negation} {line.group(0).strip()}"])
    assert error_in(device.vendor, out) is None, out
    assert _get(port, "public") is None, "a removed community is no longer answered"


# --- management ACL and the address the device sees ----------------------------------------------------------------
ACL = {
    "huawei": ["acl number 2000", "rule 5 permit source 192.0.2.0 0.0.0.255", "rule 10 deny", "quit",
               "user-interface vty 0 4", "acl 2000 inbound", "quit"],
    "h3c": ["acl basic 2000", "rule 5 permit source 192.0.2.0 0.0.0.255", "rule 10 deny", "quit", "ssh server acl 2000"],
    "cisco": ["ip access-list standard MGMT", "permit 192.0.2.0 0.0.0.255", "deny any", "exit", "line vty 0 4",
              "access-class MGMT in", "exit"],
}


@pytest.mark.parametrize("name", list(KIND_OF))
def test_management_acl_admits_the_admin_network_and_refuses_other_sources(own, name):
    device = own.devices[name]
    _ssh(device, source="127.0.0.2")
    _ssh(device, source="127.0.0.1")
    out = own.configure(name, ACL[device.vendor.key])
    assert error_in(device.vendor.key, out) is None, out
    _ssh(device, source="127.0.0.2")  # seen as 192.0.2.10: permitted
    with pytest.raises(paramiko.AuthenticationException):
        _ssh(device, source="127.0.0.1")  # seen as 10.231.0.1: refused


# --- login-failure lockout ----------------------------------------------------------------------------------------------
LOCKOUT = {  # lines, failures that lock, seconds after which the account is free again
    "sw-acc-01": (["aaa", "local-aaa-user wrong-password retry-interval 5 retry-time 3 block-time 10", "quit"], 3, 600),
    "sw-core-01": (["aaa", "local-aaa-user wrong-password retry-interval 5 retry-time 4 block-time 5", "quit"], 4, 300),
    "sw-acc-02": (["password-control enable", "password-control login-attempt 3 exceed lock-time 2"], 3, 120),
    "rt-border-02": (["login block-for 90 attempts 3 within 60"], 3, 90),
}


@pytest.mark.parametrize("name", list(KIND_OF))
def test_failed_logins_lock_the_account_until_the_block_time_passes(own, name):
    device = own.devices[name]
    for _ in range(5):  # no lockout configured: failures lock nothing
        with pytest.raises(paramiko.AuthenticationException):
            _ssh(device, password=WRONG_GUESS)
    _ssh(device)
    lines, attempts, block = LOCKOUT[name]
    out = own.configure(name, lines)
    assert error_in(device.vendor.key, out) is None, out
    for _ in range(attempts - 1):
        with pytest.raises(paramiko.AuthenticationException):
            _ssh(device, password=WRONG_GUESS)
    _ssh(device)  # one failure short of the lockout: the right password still works, and clears the count
    for _ in range(attempts):
        with pytest.raises(paramiko.AuthenticationException):
            _ssh(device, password=WRONG_GUESS)
    with pytest.raises(paramiko.AuthenticationException):
        _ssh(device)  # locked: even the right password is refused
    own.clock.now += block - 1
    with pytest.raises(paramiko.AuthenticationException):
        _ssh(device)
    own.clock.now += 2
    _ssh(device)


def test_failures_spread_over_more_than_the_window_do_not_lock(own):
    device = own.devices["sw-acc-01"]
    own.configure("sw-acc-01", LOCKOUT["sw-acc-01"][0])
    for _ in range(4):
        with pytest.raises(paramiko.AuthenticationException):
            _ssh(device, password=WRONG_GUESS)
        own.clock.now += 200  # three failures never fall within five minutes
    _ssh(device)


def test_ios_quiet_mode_refuses_every_account_and_max_fail_locks_for_good(own):
    device = own.devices["rt-border-02"]
    own.configure("rt-border-02", ["login block-for 90 attempts 3 within 60"])
    for _ in range(3):
        with pytest.raises(paramiko.AuthenticationException):
            _ssh(device, password=WRONG_GUESS, user="nobody")
    with pytest.raises(paramiko.AuthenticationException):
        _ssh(device)  # quiet mode: another account, the right password, refused all the same
    own.clock.now += 91
    _ssh(device)
    own.configure("rt-border-02", ["no login block-for 90 attempts 3 within 60",
                                   "aaa local authentication attempts max-fail 2"])
    for _ in range(2):
        with pytest.raises(paramiko.AuthenticationException):
            _ssh(device, password=WRONG_GUESS)
    own.clock.now += 86400
    with pytest.raises(paramiko.AuthenticationException):
        _ssh(device)  # max-fail: locked until an administrator clears it


def test_telnet_snmp_platform_and_sources_are_opt_in_per_device_through_host_variables(lab):
    plain, asking = lab.device("sw-acc-01"), lab.device("sw-acc-02")
    asking = dataclasses.replace(asking, values={**asking.values, "simulator_telnet_port": 0, "simulator_snmp_port": "0",
                                                 "simulator_sources": {"127.0.0.2": "192.0.2.10"}})
    plain = dataclasses.replace(plain, values={**plain.values, "simulator_platform": "vrp5-v100"})
    options = options_from_inventory([plain, asking])
    assert options["sw-acc-01"] == Options(platform="vrp5-v100")
    assert options["sw-acc-02"] == Options(telnet_port=0, snmp_port=0, sources={"127.0.0.2": "192.0.2.10"})
    with pytest.raises(ValueError, match="no simulated platform 'vrp9'"):
        Simulator([], None, {"x": Options(platform="vrp9")})
    v8 = Device("v8", "huawei_vrpv8", 0)
    with pytest.raises(ValueError, match="v8: platform vrp5-v100 runs vrp5, not vrpv8"):
        Simulator([v8], None, {"v8": Options(platform="vrp5-v100")})


# --- IOS keeps each secret in its own format ----------------------------------------------------------------------
CISCO_TYPE9 = "$9$nhEmQVczB7dqsO$X.HsgL6x1il0RxkOSSvyQYwucySCt7qFm4v7pqCxkKM"  # "cisco", as IOS documents it
CISCO_TYPE8 = "$8$dsYGNam3K1SIJO$7nv/35M/qr6t.dVc7UY9zrJDWRVqncHub1PE9UlMQFs"  # "cisco"
CISCO_TYPE5 = "$1$mERr$hx5rVt7rPNoS4wqbXKX7m0"


def test_ios_prints_communities_type7_passwords_and_type_5_8_9_secrets_in_their_own_formats(own):
    out = own.configure("rt-border-02", [
        "snmp-server community c0mmunity-r0 RO",
        "username seven privilege 1 password 7 02050D480809",
        "username plain privilege 1 password Plain-Text-1",
        f"username nine privilege 15 secret 9 {CISCO_TYPE9}",
        f"username eight privilege 1 secret 8 {CISCO_TYPE8}",
        f"username five privilege 1 secret 5 {CISCO_TYPE5}",
        "username typed privilege 1 secret Typed-Secret-1",
    ])
    assert error_in("cisco", out) is None, out
    running = own.sim("rt-border-02").running.render()
    lines = running.splitlines()
    assert "snmp-server community c0mmunity-r0 RO" in lines, "communities are shown as typed"
    assert "snmp-server community public RO" in lines
    assert "username seven privilege 1 password 7 02050D480809" in lines
    assert f"username nine privilege 15 secret 9 {CISCO_TYPE9}" in lines
    assert f"username eight privilege 1 secret 8 {CISCO_TYPE8}" in lines
    assert f"username five privilege 1 secret 5 {CISCO_TYPE5}" in lines
    assert re.search(r"^username plain privilege 1 password 7 (0\d|1[0-5])([0-9A-F]{2}){12}$", running, re.M), running
    assert re.search(r"^username typed privilege 1 secret 9 \$9\$[./0-9A-Za-z]{14}\$[./0-9A-Za-z]{43}$", running, re.M)
    assert re.search(r"^enable secret 9 \$9\$[./0-9A-Za-z]{14}\$[./0-9A-Za-z]{43}$", running, re.M), running
    assert "Plain-Text-1" not in running and "Typed-Secret-1" not in running
    device = own.devices["rt-border-02"]
    for user, password in (("seven", "cisco"), ("nine", "cisco"), ("eight", "cisco"), ("plain", "Plain-Text-1"),
                           ("typed", "Typed-Secret-1")):
        _ssh(device, password=password, user=user)  # each format is the password it says
    with pytest.raises(paramiko.AuthenticationException):
        _ssh(device, password=WRONG_GUESS, user="nine")


def test_daemon_serves_and_lists_the_telnet_and_snmp_ports_a_device_asks_for(tmp_path, vault_env, capsys):
    data = yaml.safe_load(LAB_DEVICES.read_text(encoding="utf-8"))
    telnet, agent = free_port(), free_port()
    data["network_devices"]["children"]["cisco_devices"]["hosts"]["rt-border-02"].update(
        simulator_telnet_port=telnet, simulator_snmp_port=agent)
    inventory = make_inventory(tmp_path, vault_env, devices=data)
    run = ["--run-dir", str(tmp_path / "run"), "--inventory", str(inventory)]
    assert daemon.main([*run, "start"]) == 0
    try:
        assert daemon.main([*run, "status"]) == 0
        rows = {line.split()[0]: line for line in capsys.readouterr().out.splitlines() if line.startswith("  ")}
        assert rows["rt-border-02"].rstrip().endswith(f"listening  telnet=127.0.0.1:{telnet}  snmp=udp:127.0.0.1:{agent}")
        assert "telnet=" not in rows["sw-acc-01"], "telnet only where asked for"
        assert b"Username: " in _telnet(telnet, b"Username: ")
        assert _get(agent, "public") is not None
    finally:
        assert daemon.main([*run, "stop"]) == 0


# --- syslog ----------------------------------------------------------------------------------------------------------
LOGHOST = {"huawei": "info-center loghost 192.0.2.50", "h3c": "info-center loghost 192.0.2.50",
           "cisco": "logging host 192.0.2.50"}
SYSLOG = {  # vendor -> patterns of login, failed login, configuration change, logout
    "huawei": [r"^<189>\w{3} +\d+ \d{4} [\d:]{8} sw-\S+ %%01SSH/5/SSH_USER_LOGIN\(l\)\[\d+\]:The SSH user succeeded "
               r"in logging in\. \(.*UserName=automation, IPAddress=10\.231\.0\.1",
               r"SSH_USER_LOGIN_FAIL.*FailedReason=Login Authentication Failed, UserName=automation",
               r'%%01SHELL/5/CMDRECORD.*User=automation.*Command="ntp-service unicast-server 192\.0\.2\.51"',
               r"SSH_USER_LOGOUT.*UserName=automation"],
    "h3c": [r"^<190>\w{3} +\d+ [\d:]{8} \d{4} sw-acc-02 %%10SSHS/6/SSHS_CONNECT: SSH user automation \(IP: 10\.231\.0\.1\)",
            r"SSHS_AUTH_FAIL: SSH user automation", r"SHELL_CMD: .*Command is ntp-service unicast-server 192\.0\.2\.51",
            r"SSHS_DISCONNECT: SSH user automation"],
    "cisco": [r"^<189>\d+: \*\w{3} +\d+ [\d:]{8}\.\d{3}: %SEC_LOGIN-5-LOGIN_SUCCESS: Login Success \[user: automation\] "
              r"\[Source: 10\.231\.0\.1\]", r"^<188>.*%SEC_LOGIN-4-LOGIN_FAILED: Login failed \[user: automation\]",
              r"%SYS-5-CONFIG_I: Configured from console by automation on vty0 \(10\.231\.0\.1\)",
              r"%SEC_LOGIN-5-LOGOUT: User automation"],
}


@pytest.mark.parametrize("name", list(KIND_OF))
def test_device_syslog_reaches_the_configured_log_host_only(own, name):
    device = own.devices[name]
    _ssh(device)
    assert own.received() == [], "no log host configured: nothing sent"
    own.configure(name, [LOGHOST[device.vendor.key]])
    with pytest.raises(paramiko.AuthenticationException):
        _ssh(device, password=WRONG_GUESS)
    client = paramiko.SSHClient()
    client.set_missing_host_key_policy(paramiko.AutoAddPolicy())  # noqa: S507 - throw-away simulator
    client.connect(device.host, device.port, device.login_user, device.login_password(), allow_agent=False,
                   look_for_keys=False, timeout=10)
    channel = client.invoke_shell()
    enter, leave = ("configure terminal", "end") if device.vendor.key == "cisco" else ("system-view", "return")
    ntp = "ntp server 192.0.2.51" if device.vendor.key == "cisco" else "ntp-service unicast-server 192.0.2.51"
    commit = ["commit"] if device.device_type == "huawei_vrpv8" else []
    for line in (enter, ntp, *commit, leave, "quit" if device.vendor.key != "cisco" else "exit"):
        channel.send(line + "\r")
        time.sleep(0.1)
    deadline = time.monotonic() + 3
    while not channel.closed and time.monotonic() < deadline:
        channel.recv(65536) if channel.recv_ready() else time.sleep(0.05)
    client.close()
    time.sleep(0.2)
    messages = own.received()
    failed, login, command, logout = (SYSLOG[device.vendor.key][i] for i in (1, 0, 2, 3))
    for pattern in (failed, login, command, logout):
        assert [m for m in messages if re.search(pattern, m)], (pattern, messages)
    assert device.login_password() not in "".join(messages)


SCRAPLI_PLATFORM = {"sw-acc-01": "huawei_vrp", "sw-core-01": "huawei_vrp", "sw-acc-02": "hp_comware",
                    "rt-border-02": "cisco_iosxe"}


@pytest.mark.parametrize("name", list(KIND_OF))
def test_scrapli_over_telnet_logs_in_and_shows_while_telnet_is_allowed(own, name):
    device = own.devices[name]
    with Scrapli(host=device.host, port=own.simulator.telnet_ports[name], auth_username=device.login_user,
                 auth_password=device.login_password(), auth_secondary=device.enable_secret(),
                 platform=SCRAPLI_PLATFORM[name], transport="telnet", timeout_socket=5, timeout_transport=5,
                 timeout_ops=5) as conn:
        assert conn.get_prompt().strip("<>#") == name
        assert "Software" in conn.send_command("show version" if name == "rt-border-02" else "display version").result
        users = conn.send_command("show users" if name == "rt-border-02" else "display users").result
    if name != "rt-border-02":
        assert "TEL" in users, users


NETMIKO_TELNET = {"sw-acc-01": "huawei_telnet", "sw-core-01": "huawei_telnet", "sw-acc-02": "hp_comware_telnet",
                  "rt-border-02": "cisco_ios_telnet"}


@pytest.mark.parametrize("name", list(KIND_OF))
def test_netmiko_over_telnet_logs_in_and_shows_while_telnet_is_allowed(own, name):
    device = own.devices[name]
    conn = ConnectHandler(device_type=NETMIKO_TELNET[name], host=device.host, port=own.simulator.telnet_ports[name],
                          username=device.login_user, password=device.login_password(), secret=device.enable_secret(),
                          conn_timeout=5, auth_timeout=5)
    try:
        assert conn.find_prompt().strip("<>#") == name
        assert "Software" in conn.send_command("show version" if name == "rt-border-02" else "display version")
    finally:
        conn.disconnect()


@pytest.mark.parametrize("name", ["sw-acc-01", "sw-acc-02", "rt-border-02"])
def test_a_login_needs_an_account_and_a_vty_that_take_its_protocol(own, name):
    device = own.devices[name]
    vendor = device.vendor.key
    port = own.simulator.telnet_ports[name]

    def telnet_login() -> bytes:
        with socket.create_connection(("127.0.0.1", port), timeout=3) as sock:
            data = b""
            for answer in (device.login_user, device.login_password()):
                while not re.search(rb"(Username|login|Password): ?$", data):
                    chunk = sock.recv(4096)
                    assert chunk, data
                    data += chunk
                sock.sendall(answer.encode() + b"\r\n")
                data += sock.recv(4096)
            end = time.monotonic() + 1
            while time.monotonic() < end and not re.search(rb"[>#]\s*$", data) and b"fail" not in data.lower() \
                    and b"invalid" not in data and b"rejected" not in data:
                chunk = sock.recv(4096)
                if not chunk:
                    break
                data += chunk
            return data

    assert re.search(rb"[>#]\s*$", telnet_login()), "the automation account takes telnet here"
    if vendor != "cisco":
        own.configure(name, {"huawei": ["aaa", "local-user automation service-type ssh", "quit"],
                             "h3c": ["local-user automation class manage", "service-type ssh", "quit"]}[vendor])
        assert not re.search(rb"[>#]\s*$", telnet_login()), "an account without service-type telnet is refused"
    vty = {"huawei": ["user-interface vty 0 4", "protocol inbound telnet", "quit"],
           "h3c": ["line vty 0 63", "protocol inbound telnet", "quit"],
           "cisco": ["line vty 0 4", "transport input telnet", "exit"]}[vendor]
    own.configure(name, vty)
    with pytest.raises(paramiko.AuthenticationException):
        _ssh(device)  # no vty range takes SSH


def test_a_lab_reset_forgets_failed_logins_and_lockouts(lab):
    lab.reset("sw-acc-01")
    device = lab.device("sw-acc-01")
    _type(lab.simulator.devices["sw-acc-01"], LOCKOUT["sw-acc-01"][0])
    for _ in range(3):
        with pytest.raises(paramiko.AuthenticationException):
            _ssh(device, password=WRONG_GUESS)
    with pytest.raises(paramiko.AuthenticationException):
        _ssh(device)
    lab.reset("sw-acc-01")
    _ssh(device)
