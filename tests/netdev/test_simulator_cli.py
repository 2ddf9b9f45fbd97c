"""What an engineer types at the simulated CLI besides commands, over a raw SSH shell: keystrokes echoed as they
arrive, `?` help at any position, `| include` / `| begin` / `| exclude` filters."""

from __future__ import annotations

import re
import time

import pytest

from baseline.netdev.drivers import error_in

from .conftest import Shell


def test_every_keystroke_is_echoed_before_enter(shell):
    sh = shell("sw-acc-01")
    assert sh.send("dis", until="dis$") == "dis"
    assert sh.send("p", until="p$") == "p"
    out = sh.send("lay version\r")
    assert out.startswith("lay version\n") and "VRP (R) software" in out


@pytest.mark.parametrize(("name", "typed", "expected", "absent"), [
    ("sw-acc-01", "display ?", ["current-configuration", "saved-configuration", "version"], ["system-view"]),
    ("sw-acc-01", "display cur?", ["current-configuration"], ["saved-configuration"]),
    ("sw-acc-02", "system-view\rssh server ?", ["enable", "acl"], []),
    ("rt-border-02", "show ?", ["running-config", "startup-config", "version"], []),
    ("rt-border-02", "configure terminal\rline vty 0 4\rtransport input ?", ["ssh", "telnet"], []),
])
def test_question_mark_lists_what_may_come_next_and_keeps_the_input(shell, name, typed, expected, absent):
    sh = shell(name)
    *before, last = typed.split("\r")
    for line in before:
        sh.send(line + "\r")
    out = sh.send(last, until=re.escape(last[:-1]) + "$")
    help_lines = {ln.strip() for ln in out.split("\n")[1:]}
    assert all(word in help_lines for word in expected), out
    assert not [word for word in absent if word in help_lines], out
    assert out.rstrip("\n").endswith(last[:-1]), "the prompt comes back with the input typed so far"


def test_question_mark_after_a_complete_command_offers_cr_and_enter_still_runs_it(shell):
    sh = shell("sw-acc-01")
    out = sh.send("display version ?", until=r"display version $")
    assert "<cr>" in out
    assert "VRP (R) software" in sh.send("\r")


@pytest.mark.parametrize(("name", "command", "kept", "dropped"), [
    ("sw-acc-01", "display current-configuration | include ^(sysname|telnet)", ["sysname sw-acc-01",
                                                                                   "telnet server enable"], ["aaa"]),
    ("sw-acc-02", "display current-configuration | begin line vty", ["line vty 0 63", " idle-timeout 30 0"],
     ["sysname sw-acc-02"]),
    ("sw-acc-02", r"dis cur | exclude ^\s", ["line vty 0 63", "interface GigabitEthernet1/0/1"],
     [" idle-timeout 30 0", " sysname sw-acc-02"]),  # Comware prints globals one column right
    ("rt-border-02", "show running-config | include ^line|transport", ["line vty 0 4", " transport input telnet ssh"],
     ["hostname rt-border-02"]),
    ("rt-border-02", "sh run | b line vty", ["line vty 0 4", " exec-timeout 30 0"], ["service pad"]),
])
def test_pipe_filters_select_lines_of_display_and_show_output(shell, name, command, kept, dropped):
    sh = shell(name)
    sh.send(("screen-length 0 temporary" if name == "sw-acc-01" else "screen-length disable"
             if name == "sw-acc-02" else "terminal length 0") + "\r")
    out = sh.send(command + "\r")
    lines = out.split("\n")[1:-1]
    assert all(line in lines for line in kept), out
    assert not [line for line in dropped if line in lines], out


def test_unknown_filter_is_an_error(shell):
    sh = shell("sw-acc-01")
    out = sh.send("display current-configuration | frobnicate x\r")
    assert "Error: Wrong parameter found at '^' position." in out


def test_ios_refuses_a_duplicate_acl_sequence_number_instead_of_replacing_the_entry(shell):
    sh = shell("rt-border-02")
    for line in ("terminal length 0", "configure terminal", "ip access-list standard T-DUP", "10 permit 192.0.2.1",
                 "20 deny any"):
        assert "%" not in sh.send(line + "\r"), line
    out = sh.send("10 permit 192.0.2.2\r")
    assert "% Duplicate sequence number" in out
    assert error_in("cisco", out) == "% Duplicate sequence number", "a push stops at this refusal"
    sh.send("10 permit 192.0.2.1\r")  # the same entry again is accepted silently, as on IOS
    running = sh.send("do show running-config\r")
    acl = running.split("ip access-list standard T-DUP\n")[1].split("\n")[:2]
    assert [line.split() for line in acl] == [["permit", "192.0.2.1"], ["deny", "any"]], running


@pytest.mark.parametrize(("name", "command", "expected"), [
    ("sw-acc-01", "display version", "VRP (R) software, Version 5.170"),
    ("sw-core-01", "display version", "VRP (R) software, Version 8.191 (CE6881 V300R020C10SPC200)"),
    ("sw-acc-02", "display version", "H3C Comware Software, Version 7.1.070"),
    ("rt-border-02", "show version", "Cisco IOS Software"),
])
def test_version_names_the_platform(shell, name, command, expected):
    out = shell(name).send(command + "\r")
    assert expected in out
    if name == "sw-core-01":
        assert "5.170" not in out


@pytest.mark.parametrize(("name", "command", "row"), [
    ("sw-acc-01", "display users", r"^\+ \d+\s+VTY 0\s+00:00:00\s+SSH\s+10\.231\.0\.1"),
    ("sw-acc-02", "display users", r"^\+ \d+\s+VTY 0\s+00:00:00"),
    ("rt-border-02", "show users", r"^\*\s+\d+ vty 0\s+automation\s+idle\s+00:00:00 10\.231\.0\.1"),
])
def test_users_lists_every_open_session_and_marks_this_one(lab, shell, name, command, row):
    first = shell(name)
    second = Shell(lab, name)
    try:
        out = second.send(command + "\r")
    finally:
        second.close()
    assert re.search(row.replace("VTY 0", "VTY 1").replace("vty 0", "vty 1"), out, re.M), out
    assert re.search(r"VTY 0|vty 0", out), out
    if name != "rt-border-02":
        assert "automation" in out
    for _ in range(30):  # the simulator notices the closed session within moments
        out = first.send(command + "\r")
        if not re.search(r"VTY 1|vty 1", out):
            break
        time.sleep(0.1)
    assert re.search(row, out, re.M) and not re.search(r"VTY 1|vty 1", out), "a closed session is no longer listed"


@pytest.mark.parametrize(("name", "command", "row"), [
    ("sw-acc-01", "display interface brief", r"^GigabitEthernet0/0/1\s+up\s+up"),
    ("sw-acc-02", "display interface brief", r"^GE1/0/1\s+UP\s+1G\(a\)\s+F\(a\)\s+A\s+1\s+uplink"),
    ("rt-border-02", "show ip interface brief", r"^GigabitEthernet0/0\s+unassigned\s+YES unset\s+up\s+up"),
])
def test_interface_brief_lists_the_configured_interfaces(shell, name, command, row):
    out = shell(name).send(command + "\r")
    assert re.search(row, out, re.M), out


def test_vrpv8_heads_the_configuration_with_the_last_change_and_save(lab, shell):
    sh = shell("sw-core-01")
    sh.send("screen-length 0 temporary\r")
    for line in ("system-view", "info-center loghost 192.0.2.55", "commit", "return"):
        sh.send(line + "\r")
    sh.send("save\r", until=r"\[Y/N\]:$")
    sh.send("y\r")
    out = sh.send("display current-configuration\r")
    lines = out.split("\n")
    assert lines[1].startswith("!Software Version V300R020C10SPC200"), out
    assert re.match(r"^!Last configuration was updated at \S+ \S+ by automation$", lines[2]), out
    assert re.match(r"^!Last configuration was saved at \S+ \S+ by automation$", lines[3]), out
    assert lines[4] == "#" and out.count("!Software Version") == 1, out


def test_vrp_prints_local_user_lines_user_by_user(lab):
    sim = lab.simulator.devices["sw-acc-01"]
    lab.reset("sw-acc-01")
    users = [line.split()[1] for line in sim.running.render().splitlines() if line.startswith(" local-user ")]
    assert len(users) > len(set(users)) > 1
    assert users == sorted(users, key=users.index), "one account's lines together"
    blocks = [u for i, u in enumerate(users) if i == 0 or users[i - 1] != u]
    assert len(blocks) == len(set(users)), users


@pytest.mark.parametrize(("name", "lines"), [
    ("sw-acc-01", ["system-view", "user-interface vty 0 4", "idle-timeout 0 2", "return"]),
    ("sw-acc-02", ["system-view", "line vty 0 63", "idle-timeout 0 2", "return"]),
    ("rt-border-02", ["configure terminal", "line vty 0 4", "exec-timeout 0 2", "end"]),
])
def test_idle_timeout_of_the_vty_ends_a_quiet_session_only(lab, shell, name, lines):
    sh = shell(name)
    for line in lines:
        assert "rror" not in sh.send(line + "\r") and "%" not in sh.send("\r")
    busy = Shell(lab, name)
    quiet = Shell(lab, name)
    try:
        for _ in range(4):  # a session in use outlives the timeout
            time.sleep(0.8)
            busy.send("\r")
        deadline = time.monotonic() + 3
        while not quiet.channel.closed and time.monotonic() < deadline:
            quiet.channel.recv(4096) if quiet.channel.recv_ready() else time.sleep(0.05)
        assert quiet.channel.closed or quiet.channel.exit_status_ready() or quiet.channel.eof_received
        assert not busy.channel.closed
    finally:
        busy.close()
        quiet.close()
        lab.reset(name)


@pytest.mark.parametrize(("name", "lines", "error"), [
    ("sw-acc-01", ["system-view", "user-interface vty 0 4", "idle-timeout 99999"],
     "Error: Wrong parameter found at '^' position."),
    ("sw-acc-02", ["system-view", "line vty 0 63", "idle-timeout 99999"], " % Wrong parameter found at '^' position."),
    ("rt-border-02", ["configure terminal", "line vty 0 4", "exec-timeout 99999"], "% Invalid input detected at '^' marker."),
])
def test_out_of_range_value_is_a_wrong_parameter_with_the_caret_under_it(shell, name, lines, error):
    sh = shell(name)
    for line in lines[:-1]:
        sh.send(line + "\r")
    prompt = sh.send("\r").strip().split("\n")[-1]
    out = sh.send(lines[-1] + "\r")
    assert error in out, out
    caret = next(line for line in out.split("\n") if line.strip() == "^")
    assert caret.index("^") == len(prompt) + lines[-1].index("99999"), out
