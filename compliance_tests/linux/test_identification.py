"""IA-01..IA-06: identities, passwords (behaviour of passwd), lockout (behaviour of SSH), SSH server."""

from __future__ import annotations

import secrets
import string

import paramiko
import pytest

from baseline import compliance

testinfra_hosts = compliance.hosts_in("linux_servers:!kernel_hosts")
STRONG_CIPHERS = {"chacha20-poly1305@openssh.com", "aes256-gcm@openssh.com", "aes128-gcm@openssh.com",
                  "aes256-ctr", "aes192-ctr", "aes128-ctr"}
WEAK_MAC_MARKERS = ("md5", "sha1", "96")
WEAK_KEX_MARKERS = ("sha1", "group1-", "group14-sha1")


def _compliant(length: int) -> str:
    body = "".join(secrets.choice(string.ascii_letters + string.digits) for _ in range(length - 3))
    return "q" + body + "#7"


def _set_password(sudo_run, user: str, password: str):
    # root sets the password through PAM (passwd), so pwquality's enforce_for_root applies
    return sudo_run(f"printf '%s\\n%s\\n' {password!r} {password!r} | passwd {user}")


@pytest.fixture()
def probe_user(sudo_run):
    name = f"bltest{secrets.randbelow(10**6)}"
    sudo_run(f"useradd -M -s /usr/sbin/nologin {name}")
    yield name
    sudo_run(f"userdel -f {name}; faillock --user {name} --reset")


@pytest.mark.control("IA-01")
def test_identities_are_unique_and_no_password_is_empty(host, evidence, sudo_run):
    passwd = [line.split(":") for line in compliance.root_file(host, "/etc/passwd").splitlines() if line]
    names = [p[0] for p in passwd]
    uids = [p[2] for p in passwd]
    shadow = sudo_run("getent shadow").stdout.splitlines()
    empty = [line.split(":")[0] for line in shadow if line.split(":")[1] == ""]
    uid0 = [p[0] for p in passwd if p[2] == "0"]
    evidence.record(command="getent passwd; getent shadow", observed={"uid0": uid0, "empty": empty},
                    expected={"uid0": ["root"], "empty": []})
    assert len(names) == len(set(names)) and len(uids) == len(set(uids)), "duplicate names or UIDs"
    assert uid0 == ["root"]
    assert empty == []


@pytest.mark.control("IA-02")
def test_pwquality_matches_policy(host, policy, evidence):
    conf = compliance.root_file(host, "/etc/security/pwquality.conf.d/50-baseline.conf")
    values = dict(line.replace(" ", "").split("=", 1) for line in conf.splitlines() if "=" in line and not line.startswith("#"))
    expected = {"minlen": str(policy["password_min_length"]), "ocredit": "-1" if policy["password_require_special"] else "0",
                "lcredit": "-1" if policy["password_require_letter"] else "0"}
    evidence.record(command="cat /etc/security/pwquality.conf.d/50-baseline.conf", observed=values, expected=expected)
    assert {k: values.get(k) for k in expected} == expected
    assert "enforce_for_root" in conf.split()
    pam = compliance.root_file(host, "/etc/pam.d/common-password")
    assert "pam_pwquality.so" in pam


@pytest.mark.control("IA-02")
def test_passwd_rejects_short_and_plain_passwords_and_accepts_a_compliant_one(policy, evidence, sudo_run, probe_user):
    length = policy["password_min_length"]
    too_short = _compliant(length - 1)
    no_special = "q" + "".join(secrets.choice(string.ascii_letters + string.digits) for _ in range(length + 2)) + "7"
    good = _compliant(length + 4)
    results = {label: _set_password(sudo_run, probe_user, pw).rc
               for label, pw in (("short", too_short), ("no_special", no_special), ("compliant", good))}
    evidence.record(command=f"passwd {probe_user} (as root) with three passwords", observed=results,
                    expected={"short": "refused", "no_special": "refused", "compliant": 0},
                    note=f"lengths {len(too_short)}, {len(no_special)}, {len(good)}; minimum {length}")
    assert results["short"] != 0, f"a {length - 1}-character password was accepted"
    assert results["no_special"] != 0, "a password without a special character was accepted"
    assert results["compliant"] == 0, "a compliant password was refused"


@pytest.mark.control("IA-03")
def test_password_ageing_and_history(host, policy, evidence, sudo_run):
    defs = {}
    for line in compliance.root_file(host, "/etc/login.defs").splitlines():
        parts = line.split()
        if len(parts) == 2 and not line.startswith("#"):
            defs[parts[0]] = parts[1]
    observed = {k: defs.get(k) for k in ("PASS_MAX_DAYS", "PASS_MIN_DAYS", "PASS_WARN_AGE")}
    expected = {"PASS_MAX_DAYS": str(policy["password_max_age_days"]), "PASS_MIN_DAYS": str(policy["password_min_age_days"]),
                "PASS_WARN_AGE": str(policy["password_warn_age_days"])}
    staff = [p["username"] for p in policy["staff"] if p["status"] == "active"]
    ageing = {}
    for user in staff:
        fields = sudo_run(f"getent shadow {user}").stdout.strip().split(":")
        ageing[user] = fields[3:6] if len(fields) > 5 else None
    pam = compliance.root_file(host, "/etc/pam.d/common-password")
    evidence.record(command="/etc/login.defs; getent shadow <staff>; common-password",
                    observed={"defs": observed, "staff": ageing},
                    expected=expected)
    assert observed == expected
    want = [str(policy["password_min_age_days"]), str(policy["password_max_age_days"]), str(policy["password_warn_age_days"])]
    assert all(a == want for a in ageing.values()), ageing
    assert f"remember={policy['password_history']}" in pam and "pam_pwhistory.so" in pam


@pytest.mark.control("IA-04")
def test_lockout_and_idle_timeouts_match_policy(host, policy, evidence, sshd_settings):
    conf = compliance.root_file(host, "/etc/security/faillock.conf")
    values = dict(line.replace(" ", "").split("=", 1) for line in conf.splitlines() if "=" in line and not line.startswith("#"))
    profile = compliance.root_file(host, "/etc/profile.d/50-baseline.sh")
    timeout = policy["session_idle_timeout_seconds"]
    observed = {"deny": values.get("deny"), "unlock_time": values.get("unlock_time"), "profile": profile,
                "channeltimeout": sshd_settings.get("channeltimeout"),
                "clientaliveinterval": sshd_settings.get("clientaliveinterval")}
    evidence.record(command="faillock.conf; profile.d; sshd -T", observed=observed,
                    expected={"deny": policy["login_max_failures"], "unlock_time": policy["login_lockout_seconds"],
                              "TMOUT": timeout})
    assert values.get("deny") == str(policy["login_max_failures"])
    assert values.get("unlock_time") == str(policy["login_lockout_seconds"])
    settings = [line.split("#", 1)[0].strip() for line in conf.splitlines()]
    assert "even_deny_root" not in settings, "root must never be locked out"
    assert f"TMOUT={timeout}" in profile and "readonly TMOUT" in profile
    assert sshd_settings.get("channeltimeout") == f"session:*={timeout}"
    assert int(sshd_settings.get("clientaliveinterval", "0")) * int(sshd_settings.get("clientalivecountmax", "0")) <= timeout


def _ssh(address: str, user: str, key: paramiko.PKey, password: str | None) -> str:
    """Key then password (keyboard-interactive); returns 'ok', 'partial' or 'refused'."""
    transport = paramiko.Transport((address, 22))
    try:
        transport.start_client(timeout=10)
        try:
            remaining = transport.auth_publickey(user, key)
        except paramiko.AuthenticationException:
            return "refused"
        if transport.is_authenticated() and not remaining:
            return "ok"
        if password is None:
            return "partial"
        try:
            transport.auth_interactive(user, lambda _title, _instr, prompts: [password for _ in prompts])
        except paramiko.AuthenticationException:
            return "refused"
        return "ok" if transport.is_authenticated() else "refused"
    finally:
        transport.close()


@pytest.fixture()
def admin_probe(host, policy, sudo_run):
    """A temporary administrator (second-factor group) with a key and a password."""
    name = f"bladm{secrets.randbelow(10**6)}"
    key = paramiko.RSAKey.generate(2048)
    password = _compliant(policy["password_min_length"] + 6)
    group = "ssh2fa"
    sudo_run(f"useradd -m -s /bin/bash -G {group} {name}")
    sudo_run(f"printf '%s:%s\\n' {name} {password!r} | chpasswd")
    sudo_run(f"install -d -m 700 -o {name} -g {name} /home/{name}/.ssh")
    sudo_run(f"printf '%s\\n' 'ssh-rsa {key.get_base64()}' > /home/{name}/.ssh/authorized_keys")
    sudo_run(f"chown {name}: /home/{name}/.ssh/authorized_keys; chmod 600 /home/{name}/.ssh/authorized_keys")
    yield name, key, password
    sudo_run(f"pkill -u {name}; userdel -rf {name}; faillock --user {name} --reset")


@pytest.mark.control("IA-04")
def test_wrong_ssh_passwords_lock_the_account(host, policy, evidence, admin_probe, sudo_run):
    if policy["protection_level"] < 3:
        pytest.skip("not applicable: level 2 has no password step at SSH login; faillock is checked by configuration")
    name, key, password = admin_probe
    address = policy["ansible_host"]
    attempts = [_ssh(address, name, key, "Wrong#password1") for _ in range(policy["login_max_failures"])]
    locked = sudo_run(f"faillock --user {name}").stdout
    after = _ssh(address, name, key, password)
    evidence.record(command=f"{policy['login_max_failures']} key+wrong-password logins, then the right one",
                    observed={"attempts": attempts, "right_password_after": after, "faillock": locked},
                    expected={"right_password_after": "refused"})
    assert after == "refused", "the account was not locked after the allowed number of failures"
    assert locked.count("V") >= policy["login_max_failures"] or len(locked.splitlines()) > policy["login_max_failures"]


@pytest.mark.control("IA-06")
def test_administrators_need_key_and_password(policy, evidence, admin_probe):
    if policy["protection_level"] < 3:
        pytest.skip("not applicable: two factors are a level 3 requirement")
    name, key, password = admin_probe
    address = policy["ansible_host"]
    key_only = _ssh(address, name, key, None)
    both = _ssh(address, name, key, password)
    evidence.record(command="SSH with key only, then key + password", observed={"key_only": key_only, "both": both},
                    expected={"key_only": "partial", "both": "ok"})
    assert key_only == "partial" and both == "ok"


@pytest.mark.control("IA-05")
def test_ssh_protocol_2_with_strong_algorithms(host, evidence, sshd_settings):
    ciphers = set(sshd_settings["ciphers"].split(","))
    macs = sshd_settings["macs"].split(",")
    kex = sshd_settings["kexalgorithms"].split(",")
    banner = host.run("timeout 5 bash -c 'exec 3<>/dev/tcp/127.0.0.1/22; head -c 20 <&3'").stdout
    evidence.record(command="sshd -T; ssh banner",
                    observed={"ciphers": sorted(ciphers), "macs": macs, "kex": kex, "banner": banner},
                    expected={"ciphers": sorted(STRONG_CIPHERS)})
    assert banner.startswith("SSH-2.0-")
    assert ciphers <= STRONG_CIPHERS
    assert not [m for m in macs if any(w in m for w in WEAK_MAC_MARKERS)]
    assert not [k for k in kex if any(w in k for w in WEAK_KEX_MARKERS)]
    assert sshd_settings["permitemptypasswords"] == "no"
    assert sshd_settings["passwordauthentication"] == "no"
    assert sshd_settings["banner"] == "/etc/issue.net"


@pytest.mark.control("IA-05")
def test_ssh_attempts_limited(policy, evidence, sshd_settings):
    tries = int(sshd_settings["maxauthtries"])
    evidence.record(command="sshd -T | grep maxauthtries", observed=tries, expected=f"<= {policy['login_max_failures']}")
    assert tries <= policy["login_max_failures"]


@pytest.mark.control("IA-06")
def test_second_factor_group_holds_the_administrators(host, policy, evidence, sshd_settings):
    if policy["protection_level"] < 3:
        pytest.skip("not applicable: two factors are a level 3 requirement")
    line = host.run("getent group ssh2fa").stdout.strip()
    members = [m for m in line.split(":")[-1].split(",") if m] if line else []
    admins = sorted(p["username"] for p in policy["staff"] if p["status"] == "active" and p["role"] != "operator")
    with host.sudo():
        effective = host.check_output(f"sshd -T -C user={admins[0]},host=x,addr=10.0.0.1 | grep -i ^authenticationmethods")
    evidence.record(command="getent group ssh2fa; sshd -T -C user=...",
                    observed={"members": sorted(members), "methods": effective},
                    expected={"members": admins, "methods": "publickey,keyboard-interactive"})
    assert sorted(members) == admins
    assert effective.split()[1] == "publickey,keyboard-interactive"
    assert sshd_settings["authenticationmethods"] == "publickey"
