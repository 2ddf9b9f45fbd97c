"""AU-01..AU-05, IN-01, CF-01: audit rules (own kernel only), time, local logs, forwarding over TLS, retention;
NW-05 on the log server: the network devices' syslog input, from the device management networks only."""

from __future__ import annotations

import ipaddress
import re
import secrets
import shlex
import socket
import time

import pytest
import testinfra
from linuxcheck import (
    PLAIN_TCP_ACCEPTED,
    PLAIN_TCP_PROBE,
    CommandError,
    grep_found,
    ini_values,
    logrotate_days,
    logrotate_words,
    nft_accept_rules_for_port,
    nft_input_policy_drop,
    nft_sources,
    permission_refused,
    plain_probe_outcome,
    sysctl_differences,
    sysctl_output,
    uncommented,
)

from baseline import compliance, platform
from baseline.compliance_plugin import not_verifiable

testinfra_hosts = compliance.hosts_in("linux_servers")
AUDIT_KEYS = ("identity", "privileged", "logins", "time-change", "modules", "perm_mod", "delete")
# Logs another user must neither read nor delete (AU-03): the auth log always, the audit and sudo logs where kept.
AUTH_LOG = "/var/log/auth.log"
PROTECTED_LOGS = (AUTH_LOG, "/var/log/audit/audit.log", "/var/log/sudo.log")
APPEND = shlex.quote(': >> "$0"')  # sh -c APPEND FILE: open FILE for appending, write nothing
# Where the log server stores network devices' records, one directory per device (roles/logserver,
# logserver_device_dir), and the host name the NW-05 probe messages carry (their directory there).
DEVICE_LOG_DIR = "/var/log/remote-devices"
DEVICE_PROBE_NAME = "baseline-nw05-probe"
# Sends one UDP datagram: python3 -c UDP_PROBE ADDRESS PORT LINE
UDP_PROBE = ("import socket, sys; s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); "
             "s.sendto(sys.argv[3].encode(), (sys.argv[1], int(sys.argv[2])))")


def _log_server(host, policy):
    """The central log server, reached with the same SSH client config as the host under test."""
    return testinfra.get_host(f"ssh://{policy['log_server_host']}", ssh_config=host.backend.ssh_config)


@pytest.mark.control("AU-01")
@pytest.mark.method("state")
def test_auditd_runs_with_the_baseline_rules(host, evidence, own_kernel, sudo_run):
    rules = sudo_run("auditctl -l").stdout
    keys = set(re.findall(r"(?:-k |key=)(\S+)", rules))  # watches list as `-k KEY`, syscall rules as `-F key=KEY`
    present = {k: k in keys for k in AUDIT_KEYS}
    evidence.record(command="auditctl -l", observed=present, expected={k: True for k in AUDIT_KEYS})
    assert host.service("auditd").is_running
    assert all(present.values()), present


@pytest.mark.control("AU-05")
@pytest.mark.method("state")
def test_audit_rules_locked_and_daemon_restarted(host, policy, evidence, own_kernel, sudo_run):
    status = sudo_run("auditctl -s").stdout
    enabled = next((line.split()[1] for line in status.splitlines() if line.startswith("enabled")), "")
    restart = host.run("systemctl show -p Restart auditd").stdout.strip()
    evidence.record(command="auditctl -s; systemctl show -p Restart auditd", observed={"enabled": enabled, "restart": restart},
                    expected={"enabled": "2" if policy["protection_level"] >= 3 else "1 or 2", "restart": "Restart=on-failure"})
    assert enabled == ("2" if policy["protection_level"] >= 3 else enabled) and enabled in ("1", "2")
    assert restart == "Restart=on-failure"


@pytest.mark.control("AU-02")
@pytest.mark.method("config")
def test_time_only_from_the_platform_sources(host, policy, evidence, kernel_level):
    conf = compliance.root_file(host, "/etc/chrony/chrony.conf")
    servers = [line.split()[1] for line in conf.splitlines() if line.startswith(("server ", "pool "))]
    own = policy.get("ansible_host")
    expected = [s for s in policy["ntp_servers"] if s != own]
    evidence.record(command="grep ^server /etc/chrony/chrony.conf", observed=servers, expected=expected)
    assert servers == expected


TIME_SYNC_WAIT_S = 64


@pytest.mark.control("AU-02")
@pytest.mark.method("state")
def test_time_synchronised(host, policy, evidence, host_kind, kernel_level):
    """The clock follows one of the platform's time sources: chronyd's selected source (`^*`) is in ntp_servers
    and its leap status is Normal (a host that is itself the only source is synchronised to its local clock).
    chronyd drops a source it has just found too variable and selects it again after a few polls: while chronyd
    runs without a platform source selected, the check reads again every 8 s for up to TIME_SYNC_WAIT_S (four polls
    at the role's shortest interval); the evidence keeps the first reading and the last."""
    if host_kind == compliance.CONTAINER:
        not_verifiable("container host: chronyd cannot set the clock without CAP_SYS_TIME; the configuration is "
                       "checked separately")
    own = policy.get("ansible_host")
    upstream = [s for s in policy["ntp_servers"] if s != own]
    readings = []
    started = time.monotonic()
    while True:
        tracking, sources = host.run("chronyc -n tracking"), host.run("chronyc -n sources")
        leap = next((line.split(":", 1)[1].strip() for line in tracking.stdout.splitlines()
                     if line.startswith("Leap status")), None)
        selected = [line.split()[1] for line in sources.stdout.splitlines() if line.startswith("^*")]
        readings.append({"after_s": round(time.monotonic() - started), "leap_status": leap,
                         "selected_source": selected, "tracking": tracking.stdout,
                         "sources": sources.stdout or sources.stderr})
        synchronised = leap == "Normal" and (not upstream or (selected and selected[0] in upstream))
        if synchronised or tracking.rc != 0 or time.monotonic() - started >= TIME_SYNC_WAIT_S:
            break
        time.sleep(8)
    evidence.record(command="chronyc -n tracking; chronyc -n sources" + (
                        f" (read {len(readings)} times over {readings[-1]['after_s']} s)" if len(readings) > 1 else ""),
                    observed=readings[-1] if len(readings) == 1 else {"first": readings[0], "last": readings[-1]},
                    expected={"leap_status": "Normal", "selected_source": "one of " + ", ".join(upstream)})
    assert tracking.rc == 0, f"chronyc -n tracking exit {tracking.rc}: {tracking.stderr.strip()}"
    assert leap == "Normal"
    if upstream:
        assert selected and selected[0] in upstream, f"no platform time source selected: {sources.stdout}"


@pytest.mark.control("AU-03", "IN-01", "CF-01")
@pytest.mark.method("probe")
@pytest.mark.intrusive("a marker message (logger, authpriv) in the host's logs and on the log server")
def test_message_arrives_on_the_log_server_over_tls(host, policy, asset, evidence):
    if asset == policy["log_server_host"]:
        pytest.skip("not applicable: the log server stores its own records locally")
    marker = f"baseline-probe-{secrets.token_hex(6)}"
    host.run(f"logger -p authpriv.notice -t baseline-probe {marker}")
    server = _log_server(host, policy)
    path = f"/var/log/remote/{asset}/messages.log"
    found = ""
    for _ in range(30):
        with server.sudo():
            found = server.run(f"grep -F {marker} {path}").stdout
        if found:
            break
        time.sleep(1)
    conf = uncommented(compliance.root_file(host, "/etc/rsyslog.d/50-baseline-forward.conf"))
    tls = {"StreamDriverMode": 'StreamDriverMode="1"' in conf, "StreamDriverAuthMode": 'StreamDriverAuthMode="x509/name"' in conf}
    evidence.record(command=f"logger {marker} on {asset}; grep on {policy['log_server_host']}:{path}; forwarding rule",
                    observed={"found": found.strip(), "tls_settings": tls},
                    expected={"found": f"a line with {marker}", "tls_settings": {k: True for k in tls}})
    assert marker in found
    assert all(tls.values()), tls


@pytest.mark.control("AU-03", "IN-01", "CF-01")
@pytest.mark.method("probe")
@pytest.mark.intrusive("a plain-text syslog line sent to the log server's TLS port, a failed TLS session in its log")
def test_log_server_refuses_plain_tcp(host, policy, asset, evidence):
    if asset == policy["log_server_host"]:
        pytest.skip("not applicable: the check sends from a client")
    marker = f"baseline-plain-{secrets.token_hex(6)}"
    line = f"<13>1 - {asset} plain - - - {marker}"
    address, port = policy["log_server_address"], str(policy["log_server_tls_port"])
    probe = host.run("timeout 20 python3 -c %s %s %s %s 5", PLAIN_TCP_PROBE, address, port, line)
    outcome = plain_probe_outcome(probe.stdout)
    time.sleep(2)
    server = _log_server(host, policy)
    with server.sudo():
        stored = server.run("sh -c %s", f"set -- /var/log/remote; [ -e /var/log/syslog ] && set -- \"$@\" /var/log/syslog; "
                                         f"exec grep -rlF -- {marker} \"$@\"")
        listeners = server.check_output("ss -Hltun")
    # the network devices' plain input (NW-05) is the one plain listener, firewalled to device_management_networks
    # and checked by test_log_server_takes_device_syslog_only_from_device_management_networks
    device_port = str(policy.get("netdev_syslog_port", ""))
    plain = [entry for entry in listeners.splitlines()
             if entry.split()[4].endswith((":514", ":601")) and not entry.split()[4].endswith(f":{device_port}")]
    found = grep_found(stored.rc, stored.stderr)
    evidence.record(command=f"plain-text syslog line to {address}:{port} from {asset} (python3 socket probe); "
                            "grep on the log server; ss -ltun",
                    observed={"connection": outcome, "stored_in": stored.stdout.split(), "plain_listeners": plain},
                    expected={"connection": f"outcome one of {list(PLAIN_TCP_ACCEPTED)}: refused, or closed by the "
                                            "server after the plain text", "stored_in": [],
                              "plain_listeners": f"[] (besides the network devices' port {device_port}, NW-05)"})
    assert outcome["outcome"] in PLAIN_TCP_ACCEPTED, f"plain TCP to the TLS port: {outcome}"
    assert not found and plain == []


@pytest.mark.control("AU-03")
@pytest.mark.method("state")
def test_local_logs_protected(host, evidence, sudo_run):
    found = sudo_run("find /var/log -xdev -type f -perm /o+rwx")
    if found.rc != 0:
        raise CommandError(f"find /var/log failed ({found.rc}): {found.stderr.strip()}")
    world = found.stdout.split()
    storage = ini_values(compliance.root_file(host, "/etc/systemd/journald.conf.d/50-baseline.conf")).get("Storage")
    evidence.record(command="find /var/log -perm /o+rwx; journald drop-in",
                    observed={"world_accessible": world, "journal_storage": storage},
                    expected={"world_accessible": [], "journal_storage": "persistent"})
    assert world == []
    assert storage == "persistent"


def _as_nobody(host, command: str):
    return host.run(f"sudo -n -u nobody env LC_ALL=C {command}")


@pytest.mark.control("AU-03")
@pytest.mark.method("probe")
@pytest.mark.intrusive("a decoy file with each log's mode and owner beside it, removed afterwards; reads, writes and "
                       "deletions tried as nobody, refused (audit records where auditd watches)")
def test_other_users_cannot_read_or_delete_the_logs(host, evidence, sudo_run):
    present = [path for path in PROTECTED_LOGS if sudo_run("test -f %s", path).rc == 0]
    tried: dict[str, dict] = {}
    for path in present:
        log = shlex.quote(path)
        decoy = f"{path.rsplit('/', 1)[0]}/.baseline-probe-{secrets.token_hex(4)}"
        quoted = shlex.quote(decoy)
        # the decoy: an empty file beside the log, with the log's mode, owner and group; nobody touches the log itself
        # except to read it, so nothing is lost if a permission is wrong
        made = sudo_run(f'install -m "$(stat -c %a {log})" -o "$(stat -c %u {log})" -g "$(stat -c %g {log})" '
                        f"/dev/null {quoted} && stat -c '%a %U:%G' {log} {quoted}")
        try:
            if made.rc != 0:
                raise CommandError(f"cannot make the decoy beside {path} ({made.rc}): {made.stderr.strip()}")
            attempts = {"read the log": _as_nobody(host, f"head -c 1 -- {log} >/dev/null"),  # no log line kept
                        "append to the decoy": _as_nobody(host, f"sh -c {APPEND} {quoted}"),
                        "delete the decoy": _as_nobody(host, f"rm -f -- {quoted}")}
            left = sudo_run(f"test -e {quoted}").rc == 0
        finally:
            sudo_run(f"rm -f -- {quoted}")
        tried[path] = {**{what: "refused" if permission_refused(r.rc, r.stderr) else
                          f"not refused (rc {r.rc}): {(r.stderr.strip() or r.stdout.strip())[:200]}"
                          for what, r in attempts.items()},
                       "decoy left": left, "modes": made.stdout.splitlines()}
    evidence.record(command="as nobody (sudo -u nobody): head -c 1 <log>; append to and rm a decoy made beside each "
                            "log with the log's mode and owner",
                    observed=tried,
                    expected={path: {"read the log": "refused", "append to the decoy": "refused",
                                     "delete the decoy": "refused", "decoy left": True} for path in present or [AUTH_LOG]},
                    note="refused = Permission denied (or Operation not permitted) from the file system, not another "
                         f"error; logs checked where present: {', '.join(PROTECTED_LOGS)}")
    assert AUTH_LOG in present, f"{AUTH_LOG} does not exist: the auth log is not kept locally"
    for path, seen in tried.items():
        assert all(v == "refused" for k, v in seen.items() if k not in ("decoy left", "modes")), (path, seen)
        assert seen["decoy left"], f"nobody deleted the decoy beside {path}"


@pytest.mark.control("AU-04")
@pytest.mark.method("config")
def test_log_server_keeps_a_year(host, policy, asset, evidence):
    if asset != policy["log_server_host"]:
        pytest.skip("not applicable: retention is the central log server's")
    words = logrotate_words(compliance.root_file(host, "/etc/logrotate.d/baseline-remote"))
    days = logrotate_days(words)
    journal = ini_values(compliance.root_file(host, "/etc/systemd/journald.conf.d/50-baseline.conf"))
    retention = journal.get("MaxRetentionSec", "0")
    evidence.record(command="/etc/logrotate.d/baseline-remote; journald drop-in",
                    observed={"days_kept": days, "notifempty": "notifempty" in words, "maxage": "maxage" in words,
                              "MaxRetentionSec": retention, "directives": words},
                    expected={"days_kept": f">= {policy['log_retention_days']}", "notifempty": True, "maxage": False,
                              "MaxRetentionSec": "0 (no time limit)"})
    assert days is not None and days >= policy["log_retention_days"]
    assert "notifempty" in words and "maxage" not in words
    assert retention in ("0", "")


def _device_line(token: str) -> str:
    """A syslog line in the VRP layout with the probe's host name, as a network device sends it."""
    stamp = time.strftime("%b %d %Y %H:%M:%S", time.gmtime())
    return f"<189>{stamp} {DEVICE_PROBE_NAME} %%01INFO/5/BASELINE_PROBE(l):{token}"


def _stored(server, token: str) -> list[str]:
    """Files of the log server (devices' and servers' records, those that exist) that hold `token`."""
    with server.sudo():
        found = server.run("sh -c %s", f"set --; for d in {DEVICE_LOG_DIR} /var/log/remote /var/log/syslog; do "
                                        f"[ -e \"$d\" ] && set -- \"$@\" \"$d\"; done; "
                                        f"[ $# -gt 0 ] || exit 1; exec grep -rlF -- {token} \"$@\"")
    grep_found(found.rc, found.stderr)
    return found.stdout.split()


def _outside_sender(host, policy, networks):
    """Another server whose own address towards the log server lies outside the device management networks (the
    source a foreign sender would use), with that address; (None, "") when there is none."""
    address = policy["log_server_address"]
    for spec in compliance.hosts_in("linux_servers"):
        name = spec.removeprefix("ssh://")
        if name == policy["log_server_host"]:
            continue
        other = testinfra.get_host(spec, ssh_config=host.backend.ssh_config)
        route = other.run("ip -o route get %s", address)
        source = re.search(r"\bsrc (\S+)", route.stdout)
        if route.rc == 0 and source and not any(ipaddress.ip_address(source.group(1)) in n for n in networks):
            return other, source.group(1)
    return None, ""


@pytest.mark.control("NW-05")
@pytest.mark.method("probe")
@pytest.mark.intrusive("syslog test messages to the log server's device port: one from the controller, stored under "
                       "/var/log/remote-devices/baseline-nw05-probe, one from another server, dropped by the firewall")
def test_log_server_takes_device_syslog_only_from_device_management_networks(host, policy, asset, evidence, sudo_run):
    if asset != policy["log_server_host"]:
        pytest.skip("not applicable: network devices' syslog is received by the central log server")
    port = int(policy["netdev_syslog_port"])
    networks = [ipaddress.ip_network(n) for n in policy["device_management_networks"]]
    address = policy["log_server_address"]
    listing = sudo_run("ss -Hltun")
    if listing.rc != 0:
        raise CommandError(f"ss -Hltun failed ({listing.rc}): {listing.stderr.strip()}")
    listening = sorted({line.split()[0] for line in listing.stdout.splitlines()
                        if line.split()[4].rpartition(":")[2] == str(port)})
    ruleset = sudo_run("nft list ruleset")
    if ruleset.rc != 0:
        raise CommandError(f"nft list ruleset failed ({ruleset.rc}): {ruleset.stderr.strip()}")
    rules = {rule: nft_sources(rule) for rule in nft_accept_rules_for_port(ruleset.stdout, port)}
    allowed = sorted({proto for rule in rules for proto in re.findall(r"\b(udp|tcp)\s+dport\b", rule)})
    beyond = {rule: sources for rule, sources in rules.items()
              if not sources or not all(any(ipaddress.ip_network(s, strict=False).subnet_of(n) for n in networks)
                                        for s in sources)}
    drop = nft_input_policy_drop(ruleset.stdout)

    # From inside: the controller, when its address towards the log server is in the device management networks.
    source = platform.source_address(address, port)
    inside_token, inside_stored = f"baseline-nw05-in-{secrets.token_hex(6)}", None
    if any(ipaddress.ip_address(source) in n for n in networks):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.sendto(_device_line(inside_token).encode(), (address, port))
        for _ in range(20):
            inside_stored = _stored(host, inside_token)
            if inside_stored:
                break
            time.sleep(1)
    # From outside: another server's address; the firewall must drop it.
    other, outside_source = _outside_sender(host, policy, networks)
    outside_token, outside_stored = f"baseline-nw05-out-{secrets.token_hex(6)}", None
    if other is not None:
        other.run("timeout 10 python3 -c %s %s %s %s", UDP_PROBE, address, str(port), _device_line(outside_token))
        time.sleep(3)
        outside_stored = _stored(host, outside_token)
    expected_file = f"{DEVICE_LOG_DIR}/{DEVICE_PROBE_NAME}/messages.log"
    notes = []
    if inside_stored is None:
        notes.append(f"the controller's address towards the log server ({source}) is outside "
                     "device_management_networks: no message was sent from inside; listeners and ruleset are the evidence")
    if other is None:
        notes.append("no other server has an address outside device_management_networks: no foreign source could "
                     "be produced; the ruleset (accept rules for the port only from those networks, input policy "
                     "drop) is the evidence for the refusal")
    evidence.record(command=f"ss -Hltun; nft list ruleset; UDP syslog line with a token to {address}:{port} from the "
                            f"controller ({source}) and from another server ({outside_source or 'none'}); grep on "
                            f"{DEVICE_LOG_DIR}, /var/log/remote and /var/log/syslog",
                    observed={"device_management_networks": [str(n) for n in networks],
                              "listening": listening, "accepting_protocols": allowed, "accept_rules": rules,
                              "rules_beyond_device_networks": beyond, "input_policy_drop": drop,
                              "inside_stored_in": inside_stored, "outside_stored_in": outside_stored},
                    expected={"listening": ["tcp", "udp"], "accepting_protocols": ["tcp", "udp"],
                              "rules_beyond_device_networks": {}, "input_policy_drop": True,
                              "inside_stored_in": [expected_file], "outside_stored_in": []},
                    note="; ".join(notes))
    assert listening == ["tcp", "udp"], f"the log server listens on {port} for {listening}"
    assert allowed == ["tcp", "udp"] and beyond == {} and drop, (allowed, beyond, drop)
    if inside_stored is not None:
        assert inside_stored == [expected_file], f"the controller's test message: {inside_stored}"
    if outside_stored is not None:
        assert outside_stored == [], f"a message from {outside_source} was stored: {outside_stored}"


@pytest.mark.control("IP-03", "RI-01")
@pytest.mark.method("state")
def test_kernel_parameters(host, policy, evidence, own_kernel, sudo_run):
    wanted = {key: str(value) for key, value in policy["hardening_sysctl_kernel"].items()}
    live = sudo_run("/usr/sbin/sysctl " + " ".join(shlex.quote(key) for key in wanted))
    found = sysctl_output(live.stdout)
    wrong = sysctl_differences(wanted, found)
    evidence.record(command="sysctl <the keys of hardening_sysctl_kernel>",
                    observed={"differs": wrong, "live": found, "errors": live.stderr.strip()},
                    expected={"differs": {}, "values": wanted})
    assert wanted, "hardening_sysctl_kernel is empty: nothing to check"
    assert wrong == {}, wrong
