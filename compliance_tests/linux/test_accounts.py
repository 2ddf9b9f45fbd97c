"""AC-01..AC-03: default accounts, accounts from the roster (departed staff locked), separated sudo roles."""

from __future__ import annotations

import paramiko
import pytest

from baseline import compliance
from baseline.accounts import local_accounts, unknown_accounts
from baseline.lab import secrets as lab_secrets

testinfra_hosts = compliance.hosts_in("linux_servers:!kernel_hosts")
NOLOGIN = ("/usr/sbin/nologin", "/sbin/nologin", "/bin/false", "/usr/bin/false")


def _passwd(host):
    entries = {}
    for line in host.run("getent passwd").stdout.splitlines():
        fields = line.split(":")
        entries[fields[0]] = fields[1:]
    return entries


@pytest.mark.control("AC-01")
def test_no_root_ssh_and_system_accounts_without_shells(host, evidence, sshd_settings):
    accounts = local_accounts(_passwd(host))
    shells = [a["name"] for a in accounts if 0 < a["uid"] < 1000 and a["name"] != "sync" and a["shell"] not in NOLOGIN]
    evidence.record(command="sshd -T; getent passwd", observed={"permitrootlogin": sshd_settings["permitrootlogin"],
                    "system_accounts_with_shell": shells}, expected={"permitrootlogin": "no", "system_accounts_with_shell": []})
    assert sshd_settings["permitrootlogin"] == "no"
    assert shells == []


@pytest.mark.control("AC-02")
def test_accounts_match_the_roster(host, policy, evidence, sudo_run):
    accounts = local_accounts(_passwd(host))
    unknown = unknown_accounts(accounts, policy["staff"], [policy["automation_user"], "nobody"])
    active = [p for p in policy["staff"] if p["status"] == "active"]
    missing = [p["username"] for p in active if not host.user(p["username"]).exists]
    automation_keys = sudo_run(f"cat ~{policy['automation_user']}/.ssh/authorized_keys").stdout
    evidence.record(command="getent passwd; roster", observed={"unknown": unknown, "missing": missing},
                    expected={"unknown": [], "missing": []},
                    note=f"documented exception: {policy['automation_user']} (key-only, "
                         f"restricted: {'from=' in automation_keys}, NOPASSWD sudo)")
    assert unknown == [] and missing == []
    assert automation_keys.startswith("from="), "the automation key must be limited by source address"


@pytest.mark.control("AC-02")
def test_departed_staff_locked_and_keys_gone(host, policy, evidence, sudo_run):
    departed = [p["username"] for p in policy["staff"] if p["status"] == "departed"]
    state = {}
    for user in departed:
        if not host.user(user).exists:
            state[user] = "absent"
            continue
        shadow = sudo_run(f"getent shadow {user}").stdout.split(":")
        locked = shadow[1].startswith("!") and shadow[7] not in ("", "-1")
        keys = host.file(f"/home/{user}/.ssh/authorized_keys").exists
        state[user] = "locked" if locked and not keys else f"open (locked={locked}, keys={keys})"
    evidence.record(command="getent shadow; authorized_keys", observed=state, expected={u: "locked or absent" for u in departed})
    assert all(v in ("locked", "absent") for v in state.values()), state


@pytest.mark.control("AC-02")
def test_departed_staff_key_is_refused(policy, evidence):
    departed = [p["username"] for p in policy["staff"] if p["status"] == "departed"]
    results = {}
    for user in departed:
        path = lab_secrets.staff_key_path(user)
        if not path.exists():
            pytest.skip("not verifiable: no key of the departed person is at hand (lab keys only)")
        transport = paramiko.Transport((policy["ansible_host"], 22))
        try:
            transport.start_client(timeout=10)
            try:
                transport.auth_publickey(user, paramiko.Ed25519Key.from_private_key_file(str(path)))
                results[user] = "accepted"
            except paramiko.AuthenticationException:
                results[user] = "refused"
        finally:
            transport.close()
    evidence.record(command="SSH with the departed person's old key", observed=results, expected={u: "refused" for u in departed})
    assert all(v == "refused" for v in results.values())


@pytest.mark.control("AC-03")
def test_sudo_roles_separated_without_nopasswd_all(host, policy, evidence, sudo_run):
    files = sudo_run("grep -rlE 'NOPASSWD' /etc/sudoers /etc/sudoers.d").stdout.split()
    nopasswd = [f for f in files if policy["automation_user"] not in sudo_run(f"grep -h NOPASSWD {f}").stdout]
    rights = {}
    for person in (p for p in policy["staff"] if p["status"] == "active"):
        rights[person["role"]] = sudo_run(f"sudo -l -U {person['username']}").stdout
    evidence.record(command="grep NOPASSWD; sudo -l -U <staff>", observed={"nopasswd_files": nopasswd,
                    "rights": {k: v[-400:] for k, v in rights.items()}}, expected={"nopasswd_files": []},
                    note=f"documented exception: {policy['automation_user']} NOPASSWD (automation)")
    assert nopasswd == []
    assert "(ALL : ALL) ALL" not in "".join(rights.values()) and "(root) ALL" not in "".join(rights.values())
    assert "/usr/sbin/ausearch" in rights.get("audit_admin", "") and "/usr/sbin/ausearch" not in rights.get("system_admin", "")
    assert "/usr/sbin/nft" in rights.get("security_admin", "") and "/usr/sbin/nft" not in rights.get("audit_admin", "")


