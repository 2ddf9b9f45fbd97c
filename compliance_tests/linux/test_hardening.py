"""IP-01..IP-05, RI-01, AC-04: minimal system, listeners, firewall, updates, integrity, residual information."""

from __future__ import annotations

import re
import secrets
import socket

import pytest

from baseline import compliance
from baseline.linux import services_for

testinfra_hosts = compliance.hosts_in("linux_servers:!kernel_hosts")
FORBIDDEN = ("telnetd", "inetutils-telnetd", "telnet", "rsh-server", "rsh-client", "rsh-redone-server", "inetutils-ftpd",
             "ftpd", "vsftpd", "proftpd-basic", "pure-ftpd", "tftpd-hpa", "nis", "talkd", "xinetd")


def _groups(asset):
    inv = compliance.inventory.load(str(compliance.inventory.inventory_path()))
    return [g for g, members in inv.groups().items() if asset in members]


def _resolve(value, policy) -> str:
    """An inventory value as Ansible templates it: `{{ name }}` is the variable `name` of the host."""
    text = str(value)
    match = re.fullmatch(r"\{\{\s*(\w+)\s*\}\}", text)
    return _resolve(policy[match.group(1)], policy) if match else text


@pytest.mark.control("IP-01", "IA-05")
def test_forbidden_packages_absent(host, evidence):
    installed = [p for p in FORBIDDEN if host.package(p).is_installed]
    evidence.record(command="dpkg-query for " + " ".join(FORBIDDEN), observed=installed, expected=[])
    assert installed == []


@pytest.mark.control("IP-02")
def test_only_allowlisted_listeners(host, policy, asset, evidence, sudo_run):
    allowed = {(str(s["proto"]), _resolve(s["port"], policy))
               for s in services_for(policy["server_inbound_services"], _groups(asset))}
    lines = sudo_run("ss -Hltunp").stdout.splitlines()
    unexpected = []
    for line in lines:
        fields = line.split()
        proto, local = fields[0], fields[4]
        address, _, port = local.rpartition(":")
        if address.strip("[]").split("%")[0] in ("127.0.0.1", "::1") or address.startswith("127."):
            continue
        if (proto, port) not in allowed:
            unexpected.append(line)
    evidence.record(command="ss -ltunp", observed=unexpected, expected=f"only {sorted(allowed)} on non-loopback addresses")
    assert unexpected == []


@pytest.mark.control("IP-03")
def test_firewall_default_deny_with_management_from_admin_networks(host, policy, evidence, sudo_run):
    rules = sudo_run("nft list ruleset").stdout
    ssh_rules = [line.strip() for line in rules.splitlines() if "dport 22 " in line]
    evidence.record(command="nft list ruleset", observed=ssh_rules,
                    expected=f"input policy drop; ssh from {policy['admin_networks']}")
    assert "hook input priority filter; policy drop;" in rules
    assert ssh_rules and all(any(n in r for n in policy["admin_networks"]) for r in ssh_rules)


@pytest.mark.control("IP-03")
def test_unlisted_port_is_unreachable(host, policy, evidence, sudo_run):
    port = 20000 + secrets.randbelow(20000)
    sudo_run(f"systemd-run --unit=blprobe{port} --quiet python3 -m http.server {port} --bind 0.0.0.0")
    try:
        listening = False
        for _ in range(20):
            if f":{port} " in sudo_run("ss -Hltn").stdout:
                listening = True
                break
        sock = socket.socket()
        sock.settimeout(3)
        reached = sock.connect_ex((policy["ansible_host"], port)) == 0
        sock.close()
    finally:
        sudo_run(f"systemctl stop blprobe{port}")
    evidence.record(command=f"listener on {port}; connect from the controller", observed={"listening": listening,
                    "reached": reached},
                    expected={"reached": False})
    assert listening and not reached


@pytest.mark.control("IP-04")
def test_security_updates_configured_and_pending_reported(host, evidence, sudo_run):
    config = host.run("apt-config dump").stdout
    report = sudo_run("/usr/local/sbin/baseline-pending-updates && cat /var/lib/baseline/pending-updates.txt").stdout
    evidence.record(command="apt-config dump; baseline-pending-updates", observed=report,
                    expected='APT::Periodic::Unattended-Upgrade "1"')
    assert host.package("unattended-upgrades").is_installed
    assert 'APT::Periodic::Unattended-Upgrade "1";' in config
    assert "pending:" in report and "security:" in report


@pytest.mark.control("IP-05")
def test_aide_detects_a_changed_binary(host, evidence, sudo_run):
    target = "/usr/bin/tac"
    clean = sudo_run("aide --config /etc/aide/baseline.conf --check")
    sudo_run(f"cp -p {target} /root/.bl-tac && printf 'x' >> {target}")
    try:
        changed = sudo_run("aide --config /etc/aide/baseline.conf --check")
    finally:
        sudo_run(f"cat /root/.bl-tac > {target} && touch -r /root/.bl-tac {target} && rm -f /root/.bl-tac")
    cron = compliance.root_file(host, "/etc/cron.d/baseline-aide")
    evidence.record(command="aide --check before and after appending a byte to /usr/bin/tac",
                    observed={"clean_rc": clean.rc, "changed_rc": changed.rc, "mentions": target in changed.stdout},
                    expected={"clean_rc": 0, "changed_rc": "non-zero", "mentions": True})
    assert clean.rc == 0, clean.stdout[-2000:]
    assert changed.rc != 0 and target in changed.stdout
    assert "baseline-aide-check" in cron


@pytest.mark.control("RI-01")
def test_no_core_dumps_and_tmp_cleared(host, policy, evidence):
    limits = compliance.root_file(host, "/etc/security/limits.d/50-baseline.conf")
    tmp = compliance.root_file(host, "/etc/tmpfiles.d/tmp.conf")
    evidence.record(command="limits.d; tmpfiles.d/tmp.conf", observed={"limits": limits, "tmp": tmp})
    assert "* hard core 0" in limits
    assert any(line.startswith("D /tmp ") for line in tmp.splitlines())


@pytest.mark.control("RI-01")
def test_departed_homes_wiped_and_no_secret_in_files(host, policy, evidence, sudo_run):
    departed = [p["username"] for p in policy["staff"] if p["status"] == "departed"]
    homes = [u for u in departed if host.file(f"/home/{u}").exists]
    names = compliance.inventory.REPO_ROOT.joinpath("baseline/lab/secret-variables.txt").read_text().split()
    values = [str(policy[n]) for n in names if n in policy and not n.startswith("#")]
    found = set()
    for value in values:
        out = sudo_run(f"grep -rlF -- {value!r} /etc /var/lib/baseline /usr/local/sbin /home 2>/dev/null").stdout.split()
        found.update(out)
    # A tool's own key file (restic's password file, pgBackRest's cipher pass) must hold its secret; it may do so
    # only where no other user can read it. A secret anywhere else, or readable by others, is residue.
    key_files, leaked = [], []
    for path in sorted(found):
        mode = int(sudo_run(f"stat -c %a {path}").stdout.strip() or "777", 8)
        (key_files if mode & 0o007 == 0 and not path.startswith("/home/") else leaked).append(f"{path} ({mode:o})")
    evidence.record(command="ls /home/<departed>; grep -rlF <each vault value> /etc /var/lib/baseline /usr/local/sbin /home",
                    observed={"homes_left": homes, "files_with_secrets": leaked, "protected_key_files": key_files},
                    expected={"homes_left": [], "files_with_secrets": []},
                    note=f"{len(values)} vault values searched; key files readable by their owner only are allowed")
    assert homes == [] and leaked == []


@pytest.mark.control("AC-04")
def test_sensitive_file_permissions_and_umask(host, evidence):
    modes = {p: oct(host.file(p).mode) for p in ("/etc/shadow", "/etc/gshadow", "/etc/sudoers", "/etc/crontab")}
    umask = compliance.root_file(host, "/etc/login.defs")
    evidence.record(command="stat", observed=modes, expected={"/etc/shadow": "0o640", "/etc/crontab": "0o600"})
    assert modes["/etc/shadow"] == "0o640" and modes["/etc/gshadow"] == "0o640"
    assert modes["/etc/sudoers"] == "0o440" and modes["/etc/crontab"] == "0o600"
    assert any(line.split()[:2] == ["UMASK", "027"] for line in umask.splitlines() if line.strip())
