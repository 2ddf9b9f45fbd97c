"""IA-01..IA-06: identities, passwords (behaviour of passwd), lockout (behaviour of SSH), SSH server."""

from __future__ import annotations

import secrets

import paramiko
import pytest
from linuxcheck import (
    CommandError,
    at_least,
    at_most,
    channel_timeout,
    conf_values,
    grep_found,
    int_or_none,
    login_defs,
    pam_arg,
    pam_module,
    probe_password,
    shadow_hash_scheme,
    sshd_config_directives,
    sshd_disagreements,
    tmout_assignments,
    tmout_ok,
    tmout_readonly,
    valid_failures,
)
from netprobe import (
    MAC_CIPHERS,
    WEAK_CIPHERS,
    WEAK_KEX,
    WEAK_MACS,
    KnownHost,
    forwarding_outcome,
    open_verified,
    refused_for,
    ssh_client,
    ssh_negotiation,
)

from baseline import compliance
from baseline.hoststdin import run_with_stdin

testinfra_hosts = compliance.hosts_in("linux_servers")
SSHD_CONFIG = "/etc/ssh/sshd_config"
SSHD_DROPINS = "/etc/ssh/sshd_config.d/"
# sshd settings of the baseline that have one right value (IA-05): no forwarding of any kind, no tunnels, no
# environment from the client, no compression, logins logged with the key used, unauthenticated connections
# dropped early (MaxStartups).
SSH_FIXED = {"x11forwarding": "no", "allowagentforwarding": "no", "allowtcpforwarding": "no",
             "allowstreamlocalforwarding": "no", "permittunnel": "no", "gatewayports": "no",
             "permituserenvironment": "no", "compression": "no", "loglevel": "VERBOSE", "maxstartups": "10:30:60"}
# Settings whose value in sshd_config itself must be what sshd -T shows (a tool reading the file alone).
SSH_AGREE = (*SSH_FIXED, "maxsessions", "maxauthtries", "clientalivecountmax", "clientaliveinterval",
             "permitrootlogin", "permitemptypasswords", "passwordauthentication", "pubkeyauthentication")
SSH_ALGORITHMS = ("ciphers", "macs", "kexalgorithms")
# Most attempts per SSH connection whatever the inventory says (a floor-like limit of the baseline, IA-05).
SSH_MAX_AUTH_TRIES = 3
SSH_SESSIONS = (4, 10)
WEAK_MAC_MARKERS = ("md5", "sha1", "96")
WEAK_KEX_MARKERS = ("sha1", "group1-", "group14-sha1")
PWQUALITY = "/etc/security/pwquality.conf"
PWQUALITY_BASELINE = "/etc/security/pwquality.conf.d/50-baseline.conf"
TMOUT_FILES = "/etc/profile /etc/bash.bashrc /etc/profile.d/*.sh"
# libpwquality's messages (pam_pwquality prints them as "BAD PASSWORD: …"), in the C locale.
TOO_SHORT = "The password is shorter than"
NO_SPECIAL = "non-alphanumeric"


def _set_password(host, user: str, password: str):
    """root sets the password through PAM (passwd), so pwquality's enforce_for_root applies. The password goes on
    stdin, never on the command line (sudo logs command lines and the log server keeps them)."""
    return run_with_stdin(host, f"sudo -n env LC_ALL=C passwd {user}", f"{password}\n{password}\n")


@pytest.fixture()
def probe_user(account_files_restored, sudo_run):
    name = f"bltest{secrets.randbelow(10**6)}"
    made = sudo_run(f"useradd -M -s /usr/sbin/nologin {name}")
    if made.rc != 0:
        raise CommandError(f"useradd {name} failed ({made.rc}): {made.stderr.strip()}")
    yield name
    sudo_run(f"userdel -f {name}; faillock --user {name} --reset")


@pytest.mark.control("IA-01")
@pytest.mark.method("state")
def test_identities_are_unique_and_no_password_is_empty(host, evidence, sudo_run):
    passwd = [line.split(":") for line in compliance.root_file(host, "/etc/passwd").splitlines() if line]
    names = [p[0] for p in passwd]
    uids = [p[2] for p in passwd]
    result = sudo_run("getent shadow")
    if result.rc != 0:
        raise CommandError(f"getent shadow failed ({result.rc}): {result.stderr.strip()}")
    shadow = [line.split(":") for line in result.stdout.splitlines() if line]
    empty = [fields[0] for fields in shadow if len(fields) < 2 or fields[1] == ""]
    uid0 = [p[0] for p in passwd if p[2] == "0"]
    evidence.record(command="getent passwd; getent shadow", observed={"uid0": uid0, "empty": empty,
                    "shadow_entries": len(shadow)}, expected={"uid0": ["root"], "empty": [], "shadow_entries": ">= 1"})
    assert "root" in [fields[0] for fields in shadow], "getent shadow did not list root: nothing was checked"
    assert len(names) == len(set(names)) and len(uids) == len(set(uids)), "duplicate names or UIDs"
    assert uid0 == ["root"]
    assert empty == []


def _pwquality_files(host, sudo_run) -> dict[str, str]:
    """pwquality.conf and every drop-in, path -> text (read as root)."""
    listing = sudo_run("find /etc/security/pwquality.conf.d -maxdepth 1 -type f -name '*.conf'")
    if listing.rc != 0:
        raise CommandError(f"cannot list the pwquality drop-ins: {listing.stderr.strip()}")
    paths = [PWQUALITY, *sorted(listing.stdout.split())]
    return {path: compliance.root_file(host, path) for path in paths if path != PWQUALITY or host.file(path).exists}


def _pwquality_problems(values: dict[str, str], policy, where: str, *, complete: bool) -> list[str]:
    """What in one set of pwquality settings falls short of the policy. `complete`: the settings must be there
    (the baseline drop-in); otherwise only settings that are present are judged (no other file may weaken them)."""
    problems = []
    wanted = {"minlen": ("at least", policy["password_min_length"])}
    if policy["password_require_special"]:
        wanted["ocredit"] = ("at most", -1)
    if policy["password_require_letter"]:
        wanted["lcredit"] = ("at most", -1)
    classes = int(bool(policy["password_require_letter"])) + int(bool(policy["password_require_special"]))
    if classes and complete:
        wanted["minclass"] = ("at least", classes)
    for key, (direction, bound) in wanted.items():
        value = values.get(key)
        if value is None:
            if complete:
                problems.append(f"{where}: {key} not set")
            continue
        number = int_or_none(value)
        ok = number is not None and (number >= bound if direction == "at least" else number <= bound)
        if not ok:
            problems.append(f"{where}: {key} = {value} (wanted {direction} {bound})")
    if values.get("enforcing") not in (None, "") and int_or_none(values.get("enforcing")) != 1:
        problems.append(f"{where}: enforcing = {values.get('enforcing')} (warnings only)")
    if complete and "enforce_for_root" not in values:
        problems.append(f"{where}: enforce_for_root not set")
    return problems


@pytest.mark.control("IA-02")
@pytest.mark.method("config")
def test_pwquality_matches_policy(host, policy, evidence, sudo_run):
    files = _pwquality_files(host, sudo_run)
    settings = {path: conf_values(text) for path, text in files.items()}
    problems = []
    for path, values in settings.items():
        problems += _pwquality_problems(values, policy, path, complete=path == PWQUALITY_BASELINE)
    if PWQUALITY_BASELINE not in settings:
        problems.append(f"{PWQUALITY_BASELINE} missing")
    pam = compliance.root_file(host, "/etc/pam.d/common-password")
    rules = pam_module(pam, "password", "pam_pwquality.so")
    for rule in rules:
        problems += _pwquality_problems({a.partition("=")[0]: a.partition("=")[2] for a in rule.args}, policy,
                                        f"common-password pam_pwquality.so {' '.join(rule.args)}", complete=False)
    if not [r for r in rules if r.control in ("requisite", "required")]:
        problems.append("common-password: no uncommented `password requisite|required pam_pwquality.so` rule")
    expected = {"minlen": f">= {policy['password_min_length']}",
                "ocredit": "<= -1" if policy["password_require_special"] else "any",
                "lcredit": "<= -1" if policy["password_require_letter"] else "any",
                "minclass": "at least the number of classes the policy requires",
                "enforce_for_root": "set (uncommented)", "pam": "password requisite pam_pwquality.so"}
    evidence.record(command=f"{PWQUALITY}; /etc/security/pwquality.conf.d/*.conf; /etc/pam.d/common-password",
                    observed={"settings": settings, "pam_rules": [f"{r.control} {r.module} {' '.join(r.args)}" for r in rules],
                              "problems": problems},
                    expected={**expected, "problems": []})
    assert problems == [], problems


@pytest.mark.control("IA-02")
@pytest.mark.method("probe")
@pytest.mark.intrusive("a probe account (useradd, passwd with three passwords, userdel; account databases written back)")
def test_passwd_rejects_short_and_plain_passwords_and_accepts_a_compliant_one(host, policy, evidence, probe_user):
    length = policy["password_min_length"]
    too_short = probe_password(length - 1)
    no_special = probe_password(length + 3, special=False)
    good = probe_password(length + 4)
    runs = {label: _set_password(host, probe_user, pw)
            for label, pw in (("short", too_short), ("no_special", no_special), ("compliant", good))}
    said = {label: (r.stdout + r.stderr).strip() for label, r in runs.items()}
    observed = {label: {"rc": r.rc, "output": said[label]} for label, r in runs.items()}
    evidence.record(command=f"passwd {probe_user} (as root, password on stdin) with three passwords", observed=observed,
                    expected={"short": f"refused: {TOO_SHORT} {length} characters",
                              "no_special": f"refused: … {NO_SPECIAL} …", "compliant": "rc 0"},
                    note=f"lengths {len(too_short)}, {len(no_special)}, {len(good)}; minimum {length}")
    assert runs["short"].rc != 0 and TOO_SHORT in said["short"], \
        f"a {length - 1}-character password was not refused for its length"
    if policy["password_require_special"]:
        assert runs["no_special"].rc != 0 and NO_SPECIAL in said["no_special"], \
            "a password without a special character was not refused for it"
    assert runs["compliant"].rc == 0, "a compliant password was refused"


@pytest.mark.control("IA-03")
@pytest.mark.method("state")
def test_password_ageing_and_history(host, policy, evidence, sudo_run):
    defs = login_defs(compliance.root_file(host, "/etc/login.defs"))
    observed = {k: defs.get(k) for k in ("PASS_MAX_DAYS", "PASS_MIN_DAYS", "PASS_WARN_AGE")}
    maximum, minimum, warn = (policy["password_max_age_days"], policy["password_min_age_days"],
                              policy["password_warn_age_days"])
    defs_ok = {"PASS_MAX_DAYS": at_most(observed["PASS_MAX_DAYS"], maximum),
               "PASS_MIN_DAYS": at_least(observed["PASS_MIN_DAYS"], minimum),
               "PASS_WARN_AGE": at_least(observed["PASS_WARN_AGE"], warn)}
    ageing, ageing_ok = {}, {}
    for user in (p["username"] for p in policy["staff"] if p["status"] == "active"):
        result = sudo_run("getent shadow %s", user)
        fields = result.stdout.strip().split(":")
        ageing[user] = {"min": fields[3], "max": fields[4], "warn": fields[5]} if result.rc == 0 and len(fields) > 5 else None
        ageing_ok[user] = bool(ageing[user]) and at_least(fields[3], minimum) and at_most(fields[4], maximum) \
            and at_least(fields[5], warn)
    pam = compliance.root_file(host, "/etc/pam.d/common-password")
    history = [r for r in pam_module(pam, "password", "pam_pwhistory.so") if r.control in ("requisite", "required")]
    remember = [pam_arg(r.args, "remember") for r in history]
    history_ok = bool(history) and all(at_least(v, policy["password_history"]) for v in remember)
    evidence.record(command="/etc/login.defs; getent shadow <active staff>; /etc/pam.d/common-password",
                    observed={"defs": observed, "staff": ageing, "pwhistory_remember": remember},
                    expected={"defs": {"PASS_MAX_DAYS": f"1..{maximum}", "PASS_MIN_DAYS": f">= {minimum}",
                                       "PASS_WARN_AGE": f">= {warn}"},
                              "staff": f"min >= {minimum}, max 1..{maximum}, warn >= {warn}",
                              "pwhistory_remember": f">= {policy['password_history']} on a requisite/required rule"})
    assert all(defs_ok.values()), defs_ok
    assert ageing and all(ageing_ok.values()), ageing_ok
    assert history_ok, f"pam_pwhistory remember={remember}, policy {policy['password_history']}"


@pytest.mark.control("IA-04")
@pytest.mark.method("state")
def test_lockout_and_idle_timeouts_match_policy(host, policy, evidence, sshd_settings, sudo_run):
    values = conf_values(compliance.root_file(host, "/etc/security/faillock.conf"))
    auth = compliance.root_file(host, "/etc/pam.d/common-auth")
    faillock_rules = pam_module(auth, "auth", "pam_faillock.so")
    modes = {a for r in faillock_rules for a in r.args if a in ("preauth", "authfail", "authsucc")}
    failures, lockout, timeout = (policy["login_max_failures"], policy["login_lockout_seconds"],
                                  policy["session_idle_timeout_seconds"])
    for rule in faillock_rules:  # arguments on the PAM line override faillock.conf
        for key in ("deny", "unlock_time"):
            if pam_arg(rule.args, key) is not None:
                values[key] = pam_arg(rule.args, key)
    profile = compliance.root_file(host, "/etc/profile.d/50-baseline.sh")
    found = sudo_run(f"grep -H -E 'TMOUT' {TMOUT_FILES}")
    grep_found(found.rc, found.stderr)
    assignments: dict[str, list[str]] = {}
    for line in found.stdout.splitlines():
        path, _, text = line.partition(":")
        if values_here := tmout_assignments(text):
            assignments.setdefault(path, []).extend(values_here)
    session = channel_timeout(sshd_settings.get("channeltimeout", ""))
    alive = int_or_none(sshd_settings.get("clientaliveinterval", "0")) or 0
    alive_max = int_or_none(sshd_settings.get("clientalivecountmax", "0")) or 0
    checks = {
        "deny": at_most(values.get("deny"), failures),
        "unlock_time": values.get("unlock_time") == "0" or at_least(values.get("unlock_time"), lockout),
        "no even_deny_root": "even_deny_root" not in values
        and not any(pam_arg(r.args, "even_deny_root") is not None for r in faillock_rules),
        "pam_faillock preauth and authfail": {"preauth", "authfail"} <= modes,
        "TMOUT": tmout_ok(tmout_assignments(profile), timeout)
        and all(tmout_ok(v, timeout) for v in assignments.values()),
        "readonly TMOUT": tmout_readonly(profile),
        "ChannelTimeout session": session is not None and 0 < session <= timeout,
        "ClientAlive": alive * alive_max <= timeout,
    }
    evidence.record(command="faillock.conf; common-auth; TMOUT in /etc/profile, bash.bashrc, profile.d; sshd -T",
                    observed={"deny": values.get("deny"), "unlock_time": values.get("unlock_time"),
                              "faillock_rules": [" ".join(r.args) for r in faillock_rules], "TMOUT": assignments,
                              "channeltimeout": sshd_settings.get("channeltimeout"),
                              "clientaliveinterval": alive, "clientalivecountmax": alive_max, "checks": checks},
                    expected={"deny": f"1..{failures}", "unlock_time": f">= {lockout} (or 0: until an administrator unlocks)",
                              "TMOUT": f"1..{timeout} in every assignment, readonly",
                              "channeltimeout": f"session:*=1..{timeout}", "checks": {k: True for k in checks}},
                    note="root is never locked out (no even_deny_root): a locked root would shut out the last way in")
    assert all(checks.values()), {k: v for k, v in checks.items() if not v}


def _ssh(address: str, known: KnownHost, user: str, key: paramiko.PKey, password: str | None) -> str:
    """Key then password (keyboard-interactive): 'ok', 'partial' (key accepted, password step pending),
    'key refused' or 'refused' (the password step failed). A server with another host key gets no credential."""
    transport = open_verified(address, known)
    try:
        try:
            remaining = transport.auth_publickey(user, key)
        except paramiko.AuthenticationException:
            return "key refused"
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
def admin_probe(account_files_restored, host, policy, sudo_run):
    """A temporary administrator (second-factor group) with a key and a password (set over stdin)."""
    name = f"bladm{secrets.randbelow(10**6)}"
    key = paramiko.RSAKey.generate(2048)
    password = probe_password(policy["password_min_length"] + 6)
    group = "ssh2fa"
    try:
        steps = [sudo_run(f"useradd -m -s /bin/bash -G {group} {name}"),
                 run_with_stdin(host, "sudo -n chpasswd", f"{name}:{password}\n"),
                 sudo_run(f"install -d -m 700 -o {name} -g {name} /home/{name}/.ssh"),
                 sudo_run(f"printf '%s\\n' 'ssh-rsa {key.get_base64()}' > /home/{name}/.ssh/authorized_keys"),
                 sudo_run(f"chown {name}: /home/{name}/.ssh/authorized_keys; chmod 600 /home/{name}/.ssh/authorized_keys")]
        failed = [s.command for s in steps if s.rc != 0]
        if failed:
            raise CommandError(f"setting up the probe administrator failed at: {failed}")
        yield name, key, password
    finally:
        sudo_run(f"pkill -u {name}; userdel -rf {name}; faillock --user {name} --reset")


@pytest.mark.control("IA-04")
@pytest.mark.method("probe")
@pytest.mark.intrusive("a temporary administrator with a key and a password; failed SSH logins that lock it (faillock), "
                       "removed afterwards")
def test_wrong_ssh_passwords_lock_the_account(policy, evidence, admin_probe, sudo_run, host_keys):
    if policy["protection_level"] < 3:
        pytest.skip("not applicable: level 2 has no password step at SSH login; faillock is checked by configuration")
    name, key, password = admin_probe
    address = policy["ansible_host"]
    before = _ssh(address, host_keys, name, key, password)
    attempts = [_ssh(address, host_keys, name, key, "Wrong#password1") for _ in range(policy["login_max_failures"])]
    locked = sudo_run(f"faillock --user {name}").stdout
    after = _ssh(address, host_keys, name, key, password)
    recorded = valid_failures(locked)
    evidence.record(command=f"key + right password, {policy['login_max_failures']} key + wrong-password logins, then the "
                            "right one again; faillock --user",
                    observed={"right_password_before": before, "attempts": attempts, "right_password_after": after,
                              "valid_failures_recorded": recorded, "faillock": locked},
                    expected={"right_password_before": "ok", "attempts": ["refused"] * policy["login_max_failures"],
                              "right_password_after": "refused",
                              "valid_failures_recorded": f">= {policy['login_max_failures']}"})
    assert before == "ok", "the probe administrator could not log in with key and password: nothing to lock"
    assert attempts == ["refused"] * policy["login_max_failures"], attempts
    assert after == "refused", "the account was not locked after the allowed number of failures"
    assert recorded >= policy["login_max_failures"], f"faillock holds {recorded} valid failures"


@pytest.mark.control("IA-06")
@pytest.mark.method("probe")
@pytest.mark.intrusive("a temporary administrator with a key and a password, and SSH logins as it; removed afterwards")
def test_administrators_need_key_and_password(policy, evidence, admin_probe, host_keys):
    if policy["protection_level"] < 3:
        pytest.skip("not applicable: two factors are a level 3 requirement")
    name, key, password = admin_probe
    address = policy["ansible_host"]
    key_only = _ssh(address, host_keys, name, key, None)
    both = _ssh(address, host_keys, name, key, password)
    evidence.record(command="SSH with key only, then key + password", observed={"key_only": key_only, "both": both},
                    expected={"key_only": "partial", "both": "ok"})
    assert key_only == "partial" and both == "ok"


@pytest.mark.control("IA-05")
@pytest.mark.method("probe")
def test_ssh_protocol_2_with_strong_algorithms(host, policy, evidence, sshd_settings):
    ciphers = set(sshd_settings["ciphers"].split(","))
    macs = sshd_settings["macs"].split(",")
    kex = sshd_settings["kexalgorithms"].split(",")
    allowed = {"ciphers": set(policy["accounts_ssh_ciphers"]), "macs": set(policy["accounts_ssh_macs"]),
               "kexalgorithms": set(policy["accounts_ssh_kex"])}
    outside = {name: sorted(set(sshd_settings[name].split(",")) - allowed[name]) for name in SSH_ALGORITHMS
               if not set(sshd_settings[name].split(",")) <= allowed[name]}
    _, in_file = sshd_config_directives(compliance.root_file(host, SSHD_CONFIG))
    file_differs = sshd_disagreements(in_file, sshd_settings, SSH_ALGORITHMS)
    known = host.run("ssh -Q kex").stdout.split()
    kex_expected = [name for name in policy["accounts_ssh_kex"] if name in known]  # the strongest it knows first
    banner = host.run("timeout 5 bash -c 'exec 3<>/dev/tcp/127.0.0.1/22; head -c 20 <&3'").stdout
    weak_macs = [m for m in macs if any(w in m for w in WEAK_MAC_MARKERS)]
    weak_kex = [k for k in kex if any(w in k for w in WEAK_KEX_MARKERS)]
    settings = {k: sshd_settings.get(k) for k in ("permitemptypasswords", "passwordauthentication", "banner")}
    evidence.record(command="sshd -T; ssh banner",
                    observed={"ciphers": sorted(ciphers), "macs": macs, "kex": kex, "banner": banner,
                              "kex_of_the_inventory_known_here": kex_expected,
                              "weak_macs": weak_macs, "weak_kex": weak_kex, "settings": settings,
                              "outside_the_inventory_lists": outside, "sshd_config_differs": file_differs},
                    expected={"ciphers": "a subset of accounts_ssh_ciphers", "banner": "SSH-2.0-…",
                              "kex": "accounts_ssh_kex in its order, less the names `ssh -Q kex` does not list",
                              "weak_macs": [], "weak_kex": [], "outside_the_inventory_lists": {},
                              "sshd_config_differs": {},
                              "settings": {"permitemptypasswords": "no", "passwordauthentication": "no",
                                           "banner": "/etc/issue.net"}},
                    note=f"weak MAC markers {WEAK_MAC_MARKERS}, weak key exchange markers {WEAK_KEX_MARKERS}; "
                         "allowed lists: accounts_ssh_ciphers, accounts_ssh_macs, accounts_ssh_kex (inventory)")
    assert banner.startswith("SSH-2.0-")
    assert outside == {}, outside
    assert kex == kex_expected, f"sshd offers {kex}; the inventory's key exchanges known here: {kex_expected}"
    assert weak_macs == [] and weak_kex == []
    assert file_differs == {}, f"{SSHD_CONFIG} read alone shows other algorithms than sshd -T: {file_differs}"
    assert settings == {"permitemptypasswords": "no", "passwordauthentication": "no", "banner": "/etc/issue.net"}


@pytest.mark.control("IA-05")
@pytest.mark.method("probe")
@pytest.mark.intrusive("SSH key exchanges from the controller offering only weak algorithms, refused and logged by "
                       "sshd (\"Unable to negotiate\")")
def test_ssh_refuses_weak_algorithms_at_negotiation(policy, evidence, host_keys):
    address = policy["ansible_host"]
    control = ssh_negotiation(address, known=host_keys)
    tried = {}
    for cipher in WEAK_CIPHERS:
        tried[f"cipher {cipher}"] = ssh_negotiation(address, known=host_keys, ciphers=(cipher,))
    for mac in WEAK_MACS:  # with ciphers that need a MAC: an AEAD cipher would make the MAC irrelevant
        tried[f"mac {mac}"] = ssh_negotiation(address, known=host_keys, ciphers=MAC_CIPHERS, digests=(mac,))
    for kex in WEAK_KEX:
        tried[f"kex {kex}"] = ssh_negotiation(address, known=host_keys, kex=(kex,))
    wanted = {label: ("cipher",) if label.startswith("cipher") else ("mac", "cipher") if label.startswith("mac")
              else ("kex",) for label in tried}
    accepted = {label: outcome for label, outcome in tried.items() if not refused_for(outcome, *wanted[label])}
    evidence.record(command=f"SSH key exchange from the controller with {address}:22 (paramiko), first with the "
                            "client's defaults, then offering one weak algorithm at a time",
                    observed={"defaults": control, "weak": tried},
                    expected={"defaults": "negotiated",
                              "weak": {label: "refused: Incompatible ssh … (no acceptable …)" for label in tried}},
                    note="a timeout or a closed connection is no refusal; a MAC is offered with CTR ciphers only "
                         f"({', '.join(MAC_CIPHERS)}), the server's lack of them refusing the session too")
    assert control == "negotiated", f"the controller cannot open an SSH session with {address} at all: {control}"
    assert accepted == {}, accepted


@pytest.mark.control("IA-05")
@pytest.mark.method("state")
def test_ssh_attempts_limited(policy, evidence, sshd_settings):
    """Attempts per connection; and where sshd has per-source penalties (OpenSSH 9.8 and later), they are on and
    spare only the automation controller's addresses (accounts_ssh_penalty_exempt)."""
    tries = sshd_settings.get("maxauthtries")
    limit = min(SSH_MAX_AUTH_TRIES, policy["accounts_ssh_max_auth_tries"], policy["login_max_failures"])
    penalties = sshd_settings.get("persourcepenalties")  # absent: this OpenSSH has none
    exempt = sorted(set(sshd_settings.get("persourcepenaltyexemptlist", "").split(",")) - {"", "none"})
    wanted = sorted(policy.get("accounts_ssh_penalty_exempt") or [])
    observed = {"maxauthtries": tries}
    expected: dict = {"maxauthtries": f"1..{limit}"}
    if penalties is not None:
        observed |= {"persourcepenalties": penalties, "persourcepenaltyexemptlist": exempt}
        expected |= {"persourcepenalties": "on (not 'no')", "persourcepenaltyexemptlist": wanted}
    evidence.record(command="sshd -T | grep -e maxauthtries -e persourcepenalt", observed=observed, expected=expected,
                    note=f"the lowest of {SSH_MAX_AUTH_TRIES}, accounts_ssh_max_auth_tries and login_max_failures; "
                         "per-source penalties where this OpenSSH has them, the controller exempt "
                         "(accounts_ssh_penalty_exempt)")
    assert at_most(tries, limit)
    if penalties is not None:
        assert penalties != "no" and exempt == wanted, observed


@pytest.mark.control("IA-06")
@pytest.mark.method("state")
def test_second_factor_group_holds_the_administrators(host, policy, evidence, sshd_settings):
    if policy["protection_level"] < 3:
        pytest.skip("not applicable: two factors are a level 3 requirement")
    line = host.run("getent group ssh2fa").stdout.strip()
    members = [m for m in line.split(":")[-1].split(",") if m] if line else []
    admins = sorted(p["username"] for p in policy["staff"] if p["status"] == "active" and p["role"] != "operator")
    effective = {}
    with host.sudo():
        for admin in admins:
            shown = host.check_output(f"sshd -T -C user={admin},host=x,addr=10.0.0.1 | grep -i ^authenticationmethods")
            effective[admin] = shown.split()[1] if len(shown.split()) > 1 else shown
    evidence.record(command="getent group ssh2fa; sshd -T -C user=<each administrator>",
                    observed={"members": sorted(members), "methods": effective,
                              "default_methods": sshd_settings.get("authenticationmethods")},
                    expected={"members": admins, "methods": {a: "publickey,keyboard-interactive" for a in admins},
                              "default_methods": "publickey"})
    assert admins, "the roster has no active administrator to require two factors of"
    assert sorted(members) == admins
    assert effective == {a: "publickey,keyboard-interactive" for a in admins}
    assert sshd_settings["authenticationmethods"] == "publickey"


@pytest.mark.control("IA-05")
@pytest.mark.method("state")
def test_ssh_forwarding_off_and_sshd_config_shows_the_settings(host, policy, evidence, sshd_settings):
    low, high = SSH_SESSIONS
    sessions = int_or_none(sshd_settings.get("maxsessions"))
    wanted = {**SSH_FIXED, "maxsessions": str(policy["accounts_ssh_max_sessions"])}
    live = {key: sshd_settings.get(key) for key in wanted}
    wrong = {key: f"sshd -T {live[key]!r}, wanted {value!r}" for key, value in wanted.items()
             if (live[key] or "").lower() != value.lower()}
    order, in_file = sshd_config_directives(compliance.root_file(host, SSHD_CONFIG))
    first = f"{order[0]} {in_file.get(order[0], '')}".strip() if order else "(empty file)"
    included_first = bool(order) and order[0] == "include" and SSHD_DROPINS in in_file.get("include", "")
    file_differs = sshd_disagreements(in_file, sshd_settings, SSH_AGREE)
    evidence.record(command=f"sshd -T; {SSHD_CONFIG} read alone (first value of each keyword outside Match)",
                    observed={"settings": live, "differs": wrong, "first_directive": first,
                              "sshd_config_differs": file_differs},
                    expected={"settings": wanted, "differs": {}, "first_directive": f"Include {SSHD_DROPINS}*.conf",
                              "sshd_config_differs": {}, "maxsessions": f"{low}..{high}"},
                    note="sshd keeps the first value of a keyword: the drop-ins are included before any other "
                         "setting, and the file repeats the settings so that a tool reading it alone sees sshd's")
    assert wrong == {}, wrong
    assert sessions is not None and low <= sessions <= high, f"MaxSessions {sessions}"
    assert included_first, f"the first directive of {SSHD_CONFIG} is {first!r}, not the Include of {SSHD_DROPINS}"
    assert file_differs == {}, file_differs


@pytest.mark.control("IA-05")
@pytest.mark.method("probe")
@pytest.mark.intrusive("two SSH logins of the suites' own account from the controller, the second asking the server "
                       "to forward a connection to its own SSH port (refused and logged by sshd)")
def test_ssh_tcp_forwarding_is_refused(host, evidence):
    config, name = host.backend.ssh_config, host.backend.hostname
    login = ssh_client(config, name, command=("true",))
    forward = ssh_client(config, name, options=("-W", "127.0.0.1:22"))
    outcome = forwarding_outcome(*forward)
    evidence.record(command=f"ssh -F <the suites' config> {name} true; then ssh -W 127.0.0.1:22 {name} (a new "
                            "connection each, no shared master, stdin empty)",
                    observed={"login_rc": login[0], "login_said": login[2].strip()[-300:], "forwarding": outcome},
                    expected={"login_rc": 0, "forwarding": "refused: … administratively prohibited …"},
                    note="the login proves the account gets a session, so the refusal is the forwarding's; the target "
                         "is the host's own SSH port, which would answer with its banner if forwarding were allowed")
    assert login[0] == 0, f"no SSH session as the suites' account: {login[2].strip()[-300:]}"
    assert outcome.startswith("refused"), outcome


@pytest.mark.control("IA-02")
@pytest.mark.method("probe")
@pytest.mark.intrusive("a probe account (useradd, passwd with one password, userdel; account databases written back)")
def test_new_passwords_are_hashed_with_yescrypt(host, policy, evidence, probe_user, sudo_run):
    cost = str(policy["accounts_yescrypt_cost_factor"])
    defs = login_defs(compliance.root_file(host, "/etc/login.defs"))
    pam = compliance.root_file(host, "/etc/pam.d/common-password")
    unix = pam_module(pam, "password", "pam_unix.so")
    schemes = [("yescrypt" if "yescrypt" in r.args else "other", pam_arg(r.args, "rounds")) for r in unix]
    changed = _set_password(host, probe_user, probe_password(policy["password_min_length"] + 4))
    entry = sudo_run("getent shadow %s", probe_user)
    scheme = shadow_hash_scheme(entry.stdout) if entry.rc == 0 else f"unreadable ({entry.rc})"
    observed = {"ENCRYPT_METHOD": defs.get("ENCRYPT_METHOD"), "YESCRYPT_COST_FACTOR": defs.get("YESCRYPT_COST_FACTOR"),
                "pam_unix": schemes, "passwd_rc": changed.rc, "new_hash": scheme}
    evidence.record(command="/etc/login.defs; pam_unix in /etc/pam.d/common-password; passwd <probe> (password on "
                            "stdin); the scheme of its entry in getent shadow (the hash itself is not kept)",
                    observed=observed,
                    expected={"ENCRYPT_METHOD": "YESCRYPT", "YESCRYPT_COST_FACTOR": cost,
                              "pam_unix": [("yescrypt", cost)], "passwd_rc": 0, "new_hash": "yescrypt"},
                    note="accounts whose password was set before keep their scheme until the next change")
    assert changed.rc == 0, f"passwd refused a compliant password: {(changed.stdout + changed.stderr).strip()}"
    assert observed["ENCRYPT_METHOD"] == "YESCRYPT" and observed["YESCRYPT_COST_FACTOR"] == cost, observed
    assert schemes == [("yescrypt", cost)], schemes
    assert scheme == "yescrypt", scheme


# Login banners (IA-05): the same notice before an SSH login, on the console and after login; what getty would
# expand into the system's name and version (\s \r \v \m) or names the distribution is not in it.
BANNERS = ("/etc/issue.net", "/etc/issue", "/etc/motd")
BANNER_GIVEAWAYS = ("\\s", "\\r", "\\v", "\\m", "debian", "gnu/linux", "ubuntu", "kernel")


@pytest.mark.control("IA-05")
@pytest.mark.method("config")
def test_login_banners_name_the_platform_and_not_the_system(host, policy, evidence):
    texts = {path: compliance.root_file(host, path) if host.file(path).exists else None for path in BANNERS}
    giveaways = {path: [g for g in BANNER_GIVEAWAYS if g in (text or "").lower()] for path, text in texts.items()}
    giveaways = {path: found for path, found in giveaways.items() if found}
    without_name = [path for path, text in texts.items() if not (text or "").startswith(f"{policy['platform_name']}:")]
    alike = len({text for text in texts.values()}) == 1
    evidence.record(command="cat " + " ".join(BANNERS), observed={"texts": texts, "system_details": giveaways,
                    "without_platform_name": without_name, "identical": alike},
                    expected={"system_details": {}, "without_platform_name": [], "identical": True},
                    note=f"each starts with the platform's name ({policy['platform_name']}: …, platform_name); "
                         f"refused in them: {', '.join(BANNER_GIVEAWAYS)}")
    assert giveaways == {}, giveaways
    assert without_name == [], without_name
    assert alike, "the banners differ"


@pytest.mark.control("IA-03")
@pytest.mark.method("state")
def test_root_password_ages_like_everyone_s(policy, evidence, sudo_run):
    entry = sudo_run("getent shadow root")
    if entry.rc != 0:
        raise CommandError(f"getent shadow root failed ({entry.rc}): {entry.stderr.strip()}")
    fields = entry.stdout.strip().split(":")
    scheme = shadow_hash_scheme(entry.stdout)
    maximum = fields[4] if len(fields) > 4 else None
    limit = policy["password_max_age_days"]
    evidence.record(command="getent shadow root (the password field is reduced to its scheme)",
                    observed={"password": scheme, "max_days": maximum},
                    expected={"password": "locked, or max_days 1.." + str(limit)},
                    note="a locked root password cannot be used: its age does not matter, and an expired one would "
                         "only stop root's cron jobs")
    assert scheme != "empty", "root has an empty password"
    assert scheme == "locked" or at_most(maximum, limit), f"root's password may be kept {maximum or 'for ever'} days"
