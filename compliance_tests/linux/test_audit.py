"""AU-01..AU-05, IN-01, CF-01: audit rules (own kernel only), time, local logs, forwarding over TLS, retention."""

from __future__ import annotations

import re
import secrets
import time

import pytest
import testinfra

from baseline import compliance
from baseline.compliance_plugin import not_verifiable

testinfra_hosts = compliance.hosts_in("linux_servers")
AUDIT_KEYS = ("identity", "privileged", "logins", "time-change", "modules", "perm_mod", "delete")


def _log_server(policy):
    return testinfra.get_host(f"ssh://{policy['log_server_host']}", ssh_config=str(compliance.ssh_config_path()))


@pytest.mark.control("AU-01")
def test_auditd_runs_with_the_baseline_rules(host, evidence, own_kernel, sudo_run):
    rules = sudo_run("auditctl -l").stdout
    keys = set(re.findall(r"(?:-k |key=)(\S+)", rules))  # watches list as `-k KEY`, syscall rules as `-F key=KEY`
    present = {k: k in keys for k in AUDIT_KEYS}
    evidence.record(command="auditctl -l", observed=present, expected={k: True for k in AUDIT_KEYS})
    assert host.service("auditd").is_running
    assert all(present.values()), present


@pytest.mark.control("AU-05")
def test_audit_rules_locked_and_daemon_restarted(host, policy, evidence, own_kernel, sudo_run):
    status = sudo_run("auditctl -s").stdout
    enabled = next((line.split()[1] for line in status.splitlines() if line.startswith("enabled")), "")
    restart = host.run("systemctl show -p Restart auditd").stdout.strip()
    evidence.record(command="auditctl -s; systemctl show -p Restart auditd", observed={"enabled": enabled, "restart": restart},
                    expected={"enabled": "2" if policy["protection_level"] >= 3 else "1 or 2", "restart": "Restart=on-failure"})
    assert enabled == ("2" if policy["protection_level"] >= 3 else enabled) and enabled in ("1", "2")
    assert restart == "Restart=on-failure"


@pytest.fixture()
def servers_only(policy, asset):
    if asset in compliance.inventory.load(str(compliance.inventory.inventory_path())).hosts("kernel_hosts"):
        pytest.skip("not applicable: the kernel-level host carries only the kernel controls (docs/linux-baseline.md)")


@pytest.mark.control("AU-02")
def test_time_only_from_the_platform_sources(host, policy, evidence, servers_only):
    conf = compliance.root_file(host, "/etc/chrony/chrony.conf")
    servers = [line.split()[1] for line in conf.splitlines() if line.startswith(("server ", "pool "))]
    own = policy.get("ansible_host")
    expected = [s for s in policy["ntp_servers"] if s != own]
    evidence.record(command="grep ^server /etc/chrony/chrony.conf", observed=servers, expected=expected)
    assert servers == expected


@pytest.mark.control("AU-02")
def test_time_synchronised(host, evidence, host_kind, servers_only):
    if host_kind == compliance.CONTAINER:
        not_verifiable("container host: chronyd cannot run without CAP_SYS_TIME; the configuration is checked separately")
    out = host.run("chronyc -n tracking").stdout
    evidence.record(command="chronyc -n tracking", observed=out)
    assert "Leap status     : Normal" in out


@pytest.mark.control("AU-03", "IN-01", "CF-01")
def test_message_arrives_on_the_log_server_over_tls(host, policy, asset, evidence, servers_only):
    if asset == policy["log_server_host"]:
        pytest.skip("not applicable: the log server stores its own records locally")
    marker = f"baseline-probe-{secrets.token_hex(6)}"
    host.run(f"logger -p authpriv.notice -t baseline-probe {marker}")
    server = _log_server(policy)
    path = f"/var/log/remote/{asset}/messages.log"
    found = ""
    for _ in range(30):
        with server.sudo():
            found = server.run(f"grep -F {marker} {path}").stdout
        if found:
            break
        time.sleep(1)
    conf = compliance.root_file(host, "/etc/rsyslog.d/50-baseline-forward.conf")
    evidence.record(command=f"logger {marker} on {asset}; grep on {policy['log_server_host']}:{path}", observed=found.strip(),
                    expected=marker)
    assert marker in found
    assert 'StreamDriverMode="1"' in conf and 'StreamDriverAuthMode="x509/name"' in conf


@pytest.mark.control("AU-03", "IN-01", "CF-01")
def test_log_server_refuses_plain_tcp(host, policy, asset, evidence, servers_only):
    if asset == policy["log_server_host"]:
        pytest.skip("not applicable: the check sends from a client")
    marker = f"baseline-plain-{secrets.token_hex(6)}"
    host.run(f"timeout 5 bash -c 'printf \"<13>1 - {asset} plain - - - {marker}\\n\" > /dev/tcp/{policy['log_server_address']}/"
             f"{policy['log_server_tls_port']}'")
    time.sleep(2)
    server = _log_server(policy)
    with server.sudo():
        stored = server.run(f"grep -rlF {marker} /var/log/remote /var/log/syslog").stdout
        listeners = server.check_output("ss -Hltun")
    plain = [line for line in listeners.splitlines() if line.split()[4].endswith((":514", ":601"))]
    evidence.record(command="plain TCP message to the TLS port; grep on the log server; ss -ltun", observed={"stored": stored,
                    "plain_listeners": plain}, expected={"stored": "", "plain_listeners": []})
    assert stored == "" and plain == []


@pytest.mark.control("AU-03")
def test_local_logs_protected(host, evidence, servers_only, sudo_run):
    world = sudo_run("find /var/log -xdev -type f -perm /o+rwx").stdout.split()
    journal = compliance.root_file(host, "/etc/systemd/journald.conf.d/50-baseline.conf")
    evidence.record(command="find /var/log -perm /o+rwx; journald drop-in", observed={"world_accessible": world}, expected=[])
    assert world == []
    assert "Storage=persistent" in journal


@pytest.mark.control("AU-04")
def test_log_server_keeps_a_year(host, policy, asset, evidence, servers_only):
    if asset != policy["log_server_host"]:
        pytest.skip("not applicable: retention is the central log server's")
    rotate = compliance.root_file(host, "/etc/logrotate.d/baseline-remote")
    words = rotate.split()
    count = int(words[words.index("rotate") + 1])
    period = {"daily": 1, "weekly": 7, "monthly": 31}[next(w for w in words if w in ("daily", "weekly", "monthly"))]
    journal = compliance.root_file(host, "/etc/systemd/journald.conf.d/50-baseline.conf")
    retention = next((line.split("=", 1)[1] for line in journal.splitlines() if line.startswith("MaxRetentionSec=")), "0")
    evidence.record(command="/etc/logrotate.d/baseline-remote; journald drop-in",
                    observed={"rotate": count, "period_days": period, "notifempty": "notifempty" in words,
                              "MaxRetentionSec": retention},
                    expected=f">= {policy['log_retention_days']} days")
    assert count * period >= policy["log_retention_days"]
    assert "notifempty" in words and "maxage" not in words
    assert retention in ("0", "")


@pytest.mark.control("IP-03", "RI-01")
def test_kernel_parameters(host, evidence, own_kernel):
    values = {k: host.run(f"/usr/sbin/sysctl -n {k}").stdout.strip() for k in ("kernel.kptr_restrict", "fs.suid_dumpable")}
    evidence.record(command="sysctl", observed=values, expected={"kernel.kptr_restrict": "2", "fs.suid_dumpable": "0"})
    assert values == {"kernel.kptr_restrict": "2", "fs.suid_dumpable": "0"}
