"""AC-01..AC-03: default accounts, accounts from the roster (departed staff locked), separated sudo roles."""

from __future__ import annotations

import secrets

import paramiko
import pytest
from linuxcheck import (
    CommandError,
    account_locked,
    active_people,
    authorized_keys,
    authorized_keys_paths,
    departed_usernames,
    full_root_entries,
    keys_without_source_limit,
    logrotate_days,
    logrotate_words,
    mode_within,
    nopasswd_violations,
    probe_password,
    sudo_attempt,
    sudo_commands,
    sudo_defaults,
    sudo_flag,
    sudo_l_entries,
    sudo_list_permits,
    sudo_value,
    terminal_names,
)
from netprobe import open_verified, ssh_client, ssh_password_login

from baseline import compliance
from baseline.accounts import local_accounts, unknown_accounts
from baseline.compliance_plugin import not_applicable, not_verifiable
from baseline.hoststdin import run_with_stdin

testinfra_hosts = compliance.hosts_in("linux_servers")
NOLOGIN = ("/usr/sbin/nologin", "/sbin/nologin", "/bin/false", "/usr/bin/false")
SUDOERS = "/etc/sudoers"
SUDOERS_DIR = "/etc/sudoers.d"
SUDO_LOG = "/var/log/sudo.log"
SUDO_LOGROTATE = "/etc/logrotate.d/baseline-sudo"
# Most permissive mode of /etc/sudoers.d (AC-03): the rules are root's to read.
SUDOERS_DIR_MODE = 0o750
# System-administration commands (the system administrator's sudo rights, roles/accounts) that the audit
# administrator must not run as root, each with arguments that change nothing should it run after all.
SYSTEM_ADMIN_COMMANDS = (("/usr/bin/systemctl", "--version"), ("/usr/bin/apt-get", "--version"),
                         ("/usr/bin/dpkg", "--version"), ("/usr/sbin/useradd", "--help"), ("/usr/bin/passwd", "--help"))


def _passwd(host):
    result = host.run("getent passwd")
    if result.rc != 0 or not result.stdout.strip():
        raise CommandError(f"getent passwd failed ({result.rc}): {result.stderr.strip()}")
    entries = {}
    for line in result.stdout.splitlines():
        fields = line.split(":")
        entries[fields[0]] = fields[1:]
    return entries


def _home_and_uid(passwd, user: str) -> tuple[str, str]:
    """(home, uid) of a getent passwd entry; an account that does not exist has neither."""
    fields = passwd.get(user, [])
    return (fields[4], fields[1]) if len(fields) > 4 else ("", "")


def _key_files(sudo_run, sshd_settings, user: str, home: str, uid: str = "") -> dict[str, str]:
    """Content of every authorized_keys file sshd reads for `user` (read as root), path -> text."""
    files = {}
    for path in authorized_keys_paths(sshd_settings.get("authorizedkeysfile", ""), home, user, uid):
        if sudo_run("test -e %s", path).rc != 0:
            continue
        content = sudo_run("cat -- %s", path)
        if content.rc != 0:
            raise CommandError(f"cannot read {path}: {content.stderr.strip()}")
        files[path] = content.stdout
    return files


@pytest.mark.control("AC-01")
@pytest.mark.method("state")
def test_no_root_ssh_and_system_accounts_without_shells(host, evidence, sshd_settings):
    accounts = local_accounts(_passwd(host))
    shells = [a["name"] for a in accounts if 0 < a["uid"] < 1000 and a["name"] != "sync" and a["shell"] not in NOLOGIN]
    evidence.record(command="sshd -T; getent passwd", observed={"permitrootlogin": sshd_settings["permitrootlogin"],
                    "system_accounts_with_shell": shells}, expected={"permitrootlogin": "no", "system_accounts_with_shell": []})
    assert sshd_settings["permitrootlogin"] == "no"
    assert shells == []


@pytest.mark.control("AC-01")
@pytest.mark.method("probe")
@pytest.mark.intrusive("a refused SSH login as root from the controller (a random password), logged by sshd")
def test_root_ssh_login_is_refused(policy, evidence, host_keys):
    address = policy["ansible_host"]
    tried = ssh_password_login(address, "root", known=host_keys)
    evidence.record(command=f"SSH from the controller to {address}:22 as root: a \"none\" request, then a password "
                            "login with a random password (paramiko)",
                    observed=tried,
                    expected={"methods_offered": "a list of methods (no login without authentication)",
                              "login": "refused: … (an authentication refusal, not a connection error)"},
                    note="root has no key and no known password here: the server must refuse the login as an "
                         "authentication failure; that a valid root credential is refused as well is what "
                         "PermitRootLogin no (sshd -T) states")
    assert not str(tried["login"]).startswith("error"), f"no SSH session with {address}: {tried['login']}"
    assert str(tried["login"]).startswith("refused"), f"root login: {tried['login']}"


@pytest.mark.control("AC-02")
@pytest.mark.method("state")
def test_accounts_match_the_roster(host, policy, evidence, sudo_run, sshd_settings):
    passwd = _passwd(host)
    accounts = local_accounts(passwd)
    automation = policy["automation_user"]
    unknown = unknown_accounts(accounts, policy["staff"], [automation, "nobody"])
    active = active_people(policy["staff"])
    missing = [p["username"] for p in active if p["username"] not in passwd]
    automation_files = _key_files(sudo_run, sshd_settings, automation, *_home_and_uid(passwd, automation))
    automation_keys = sum(len(authorized_keys(text)) for text in automation_files.values())
    unlimited = {path: bad for path, text in automation_files.items() if (bad := keys_without_source_limit(text))}
    staff_outside = {}
    for person in active:
        if person["username"] not in passwd:
            continue
        home_uid = _home_and_uid(passwd, person["username"])
        for path, text in _key_files(sudo_run, sshd_settings, person["username"], *home_uid).items():
            if bad := keys_without_source_limit(text, policy["admin_networks"]):
                staff_outside[path] = bad
    evidence.record(command="getent passwd; roster; authorized_keys of the automation account and of active staff",
                    observed={"unknown": unknown, "missing": missing, "automation_keys": automation_keys,
                              "automation_keys_without_from": unlimited, "staff_keys_not_limited_to_admin_networks":
                              staff_outside},
                    expected={"unknown": [], "missing": [], "automation_keys": ">= 1, every one with from=",
                              "automation_keys_without_from": {}, "staff_keys_not_limited_to_admin_networks": {}},
                    note=f"documented exception: {automation} (key-only, every key limited by from=, NOPASSWD sudo); "
                         f"staff keys limited to {', '.join(policy['admin_networks'])}")
    assert unknown == [] and missing == []
    assert automation_keys > 0, f"no key of {automation} found in {sorted(automation_files) or 'any authorized_keys file'}"
    assert unlimited == {}, "every automation key must be limited by source address"
    assert staff_outside == {}, "every staff key must be limited to the admin networks"


@pytest.mark.control("AC-02")
@pytest.mark.method("state")
def test_departed_staff_locked_and_keys_gone(host, policy, evidence, sudo_run, sshd_settings):
    departed = departed_usernames(policy["staff"])
    if not departed:
        not_applicable("the roster lists no departed staff: there is no account to find locked")
    passwd = _passwd(host)
    today = int(host.check_output("date -u +%s")) // 86400
    state = {}
    for user in departed:
        if user not in passwd:
            state[user] = "absent"
            continue
        shadow = sudo_run("getent shadow %s", user)
        if shadow.rc != 0:
            raise CommandError(f"getent shadow {user} failed ({shadow.rc}): {shadow.stderr.strip()}")
        locked = account_locked(shadow.stdout, today)
        files = _key_files(sudo_run, sshd_settings, user, *_home_and_uid(passwd, user))
        keys = sum(len(authorized_keys(text)) for text in files.values())
        state[user] = "locked" if locked and not keys else \
            f"open (password locked and account expired: {locked}; keys: {keys} in {sorted(files)})"
    evidence.record(command="getent shadow <departed>; authorized_keys files sshd reads for them", observed=state,
                    expected={u: "locked or absent" for u in departed},
                    note=f"locked = password field starts with ! or * and the account expired on or before day {today}")
    assert all(v in ("locked", "absent") for v in state.values()), state


@pytest.mark.control("AC-02")
@pytest.mark.method("probe")
@pytest.mark.intrusive("an SSH login with the departed person's old key from the controller, refused and logged by sshd")
def test_departed_staff_key_is_refused(policy, evidence, host_keys):
    departed = departed_usernames(policy["staff"])
    if not departed:
        not_applicable("the roster lists no departed staff: there is no old key to try")
    results = {}
    for user in departed:
        path = compliance.staff_key_path(user)
        if not path.exists():
            pytest.skip("not verifiable: no key of the departed person is at hand (lab keys only)")
        transport = open_verified(policy["ansible_host"], host_keys)
        try:
            try:
                transport.auth_publickey(user, paramiko.Ed25519Key.from_private_key_file(str(path)))
                results[user] = "accepted"
            except paramiko.AuthenticationException:
                results[user] = "refused"
        finally:
            transport.close()
    evidence.record(command="SSH with the departed person's old key", observed=results, expected={u: "refused" for u in departed})
    assert results and all(v == "refused" for v in results.values())


@pytest.mark.control("AC-03")
@pytest.mark.method("state")
def test_sudo_roles_separated_without_nopasswd_all(host, policy, evidence, sudo_run):
    automation = policy["automation_user"]
    listing = sudo_run("find %s -maxdepth 1 -type f", SUDOERS_DIR)
    if listing.rc != 0:
        raise CommandError(f"cannot list {SUDOERS_DIR}: {listing.stderr.strip()}")
    nopasswd = {}
    for path in [SUDOERS, *sorted(listing.stdout.split())]:
        content = sudo_run("cat -- %s", path)
        if content.rc != 0:
            raise CommandError(f"cannot read {path}: {content.stderr.strip()}")
        if bad := nopasswd_violations(content.stdout, automation):
            nopasswd[path] = bad
    rights, full = {}, {}
    for person in (p for p in policy["staff"] if p["status"] == "active"):
        listed = sudo_run("sudo -l -U %s", person["username"])
        entries = sudo_l_entries(listed.stdout)
        rights[person["username"]] = {"role": person["role"], "entries": entries,
                                      "output": (listed.stdout + listed.stderr).strip()}
        if root_all := full_root_entries(entries):
            full[person["username"]] = root_all

    def commands(role: str) -> list[set[str]]:
        return [sudo_commands(r["entries"]) for r in rights.values() if r["role"] == role]

    separation = {
        "audit administrators can run ausearch": bool(commands("audit_admin"))
        and all("/usr/sbin/ausearch" in c for c in commands("audit_admin")),
        "system administrators cannot run ausearch": all("/usr/sbin/ausearch" not in c for c in commands("system_admin")),
        "security administrators can run nft": bool(commands("security_admin"))
        and all("/usr/sbin/nft" in c for c in commands("security_admin")),
        "audit administrators cannot run nft": all("/usr/sbin/nft" not in c for c in commands("audit_admin")),
    }
    evidence.record(command=f"sudoers rules in {SUDOERS} and {SUDOERS_DIR}/*; sudo -l -U <active staff>",
                    observed={"nopasswd_rules": nopasswd, "all_commands_as_root": full, "separation": separation,
                              "rights": {u: r["entries"] for u, r in rights.items()}},
                    expected={"nopasswd_rules": {}, "all_commands_as_root": {},
                              "separation": {k: True for k in separation}},
                    note=f"documented exception: the rules of {automation} alone may say NOPASSWD (automation); "
                         "ALL as a non-root account (the DBA as postgres/mysql) is not root")
    assert nopasswd == {}, nopasswd
    assert full == {}, full
    assert all(separation.values()), separation


@pytest.fixture()
def audit_admin_probe(account_files_restored, host, policy, sudo_run):
    """An active audit administrator of the roster, and a temporary account in the same groups (the roles give sudo
    rights by group) with a password set over stdin: (person, probe account, its password, the groups)."""
    yield from _audit_admin_probe(host, policy, sudo_run)


def _audit_admin_probe(host, policy, sudo_run):
    people = [p["username"] for p in active_people(policy["staff"]) if p["role"] == "audit_admin"]
    if not people:
        not_verifiable("the roster lists no active audit administrator: no role's rights to try")
    person = people[0]
    groups, primary = host.run("id -Gn %s", person), host.run("id -gn %s", person)
    if groups.rc != 0 or primary.rc != 0:
        raise CommandError(f"id {person} failed ({groups.rc}): {groups.stderr.strip() or primary.stderr.strip()}")
    shared = [g for g in groups.stdout.split() if g != primary.stdout.strip()]
    if not shared:
        raise CommandError(f"{person} is in no group but their own: the audit role's groups are not set")
    name = f"blaud{secrets.randbelow(10**6)}"
    password = probe_password(policy["password_min_length"] + 6)
    try:
        made = sudo_run("useradd -M -s /usr/sbin/nologin -G %s %s", ",".join(shared), name)
        if made.rc != 0:
            raise CommandError(f"useradd {name} failed ({made.rc}): {made.stderr.strip()}")
        set_password = run_with_stdin(host, "sudo -n chpasswd", f"{name}:{password}\n")
        if set_password.rc != 0:
            raise CommandError(f"setting the probe's password failed ({set_password.rc}): {set_password.stderr.strip()}")
        yield person, name, password, shared
    finally:
        sudo_run(f"pkill -u {name}; userdel -f {name}; faillock --user {name} --reset; "
                 f"rm -f /var/lib/sudo/lectured/{name} /run/sudo/ts/{name}")


@pytest.mark.control("AC-03")
@pytest.mark.method("probe")
@pytest.mark.intrusive("a temporary account in the audit administrator's groups (account databases written back "
                       "afterwards); its sudo attempts, refused, in the auth and sudo logs")
def test_audit_administrator_cannot_run_system_administration_commands(host, evidence, sudo_run, audit_admin_probe):
    person, name, password, groups = audit_admin_probe

    def as_probe(arguments: str):
        """sudo as the probe account, its own password on stdin (-S), no cached credentials (-k)."""
        return run_with_stdin(host, f"sudo -n -u {name} env LC_ALL=C sudo -S -k -p '' {arguments}", f"{password}\n")

    listing = as_probe("-l")
    tried = {}
    for command, arguments in SYSTEM_ADMIN_COMMANDS:
        result = as_probe(f"{command} {arguments}")
        tried[f"{command} {arguments}"] = {"outcome": sudo_attempt(result.rc, result.stderr),
                                            "said": (result.stderr.strip() or result.stdout.strip())[:300]}
    rights = {}
    for command, _ in SYSTEM_ADMIN_COMMANDS:
        shown = sudo_run("sudo -l -U %s %s", person, command)
        rights[command] = sudo_list_permits(shown.rc, shown.stdout, command)
    evidence.record(command=f"as {name} (a temporary account in {', '.join(groups)}, the groups of {person}): "
                            "sudo -S -k -l, then sudo -S -k <each system-administration command> (password on stdin)",
                    observed={"listing_rc": listing.rc, "listing": listing.stdout.strip()[-1500:], "tried": tried},
                    expected={"listing_rc": 0, "tried": {c: {"outcome": "refused", "said": "… is not allowed to execute "
                                                             "…"} for c in tried}},
                    note="the listing proves the probe's password works with sudo, so each refusal is the policy's")
    evidence.record(command=f"sudo -l -U {person} <command> (as root) for each system-administration command",
                    observed=rights, expected={c: "not permitted" for c in rights},
                    note=f"{person}: the roster's audit administrator the probe copies")
    assert listing.rc == 0 and "may run the following commands" in listing.stdout, \
        f"the probe account could not use sudo at all ({listing.rc}): {listing.stderr.strip()[-300:]}"
    assert all(t["outcome"] == "refused" for t in tried.values()), tried
    assert all(r == "not permitted" for r in rights.values()), rights


@pytest.mark.control("AC-03")
@pytest.mark.method("state")
@pytest.mark.intrusive("a marker command run with sudo (echo), written to the sudo log; an SSH login of the suites' "
                       "account with a terminal that runs `sudo tty`")
def test_sudo_runs_in_a_pty_and_keeps_its_log(host, policy, evidence, sudo_run):
    listing = sudo_run("find %s -maxdepth 1 -type f", SUDOERS_DIR)
    if listing.rc != 0:
        raise CommandError(f"cannot list {SUDOERS_DIR}: {listing.stderr.strip()}")
    paths = [SUDOERS, *sorted(listing.stdout.split())]
    defaults = sudo_defaults(compliance.root_file(host, path) for path in paths)
    use_pty, logfile = sudo_flag(defaults, "use_pty"), sudo_value(defaults, "logfile")
    mode = host.file(SUDOERS_DIR).mode
    marker = f"baseline-sudo-log-{secrets.token_hex(6)}"
    ran = sudo_run("/bin/echo %s", marker)
    logged = sudo_run("grep -c -F -- %s %s", marker, SUDO_LOG)
    rotation = logrotate_words(compliance.root_file(host, SUDO_LOGROTATE)) if host.file(SUDO_LOGROTATE).exists else []
    days = logrotate_days(rotation)
    # use_pty by behaviour: in a login with a terminal, a command run with sudo has a terminal of its own
    session = ssh_client(host.backend.ssh_config, host.backend.hostname, options=("-tt",), command=("tty; sudo -n tty",))
    ttys = terminal_names(session[1])
    evidence.record(command=f"Defaults of {SUDOERS} and {SUDOERS_DIR}/*; stat {SUDOERS_DIR}; sudo /bin/echo <marker>, "
                            f"then grep for it in {SUDO_LOG}; {SUDO_LOGROTATE}; ssh -tt <host> 'tty; sudo -n tty' (a "
                            "new connection)",
                    observed={"use_pty": use_pty, "logfile": logfile, "sudoers_d_mode": f"{mode:o}",
                              "marker_ran": ran.rc == 0, "marker_logged": logged.stdout.strip(),
                              "days_kept": days, "rotation": rotation,
                              "terminals": {"login": ttys[0] if ttys else None, "sudo": ttys[1] if len(ttys) > 1 else None,
                                            "rc": session[0], "said": session[2].strip()[-300:]}},
                    expected={"use_pty": True, "logfile": SUDO_LOG, "sudoers_d_mode": f"{SUDOERS_DIR_MODE:o} or stricter",
                              "marker_ran": True, "marker_logged": "1", "days_kept": f">= {policy['log_retention_days']}",
                              "terminals": "sudo's command on another terminal than the login's"},
                    note="use_pty: a command run with sudo cannot push input into the terminal it came from after sudo "
                         "ends; the log holds every sudo command with its user, terminal and directory")
    assert use_pty, "Defaults use_pty is not set"
    assert logfile == SUDO_LOG, f"Defaults logfile is {logfile!r}"
    assert mode_within(mode, SUDOERS_DIR_MODE), f"{SUDOERS_DIR} mode {mode:o}"
    assert ran.rc == 0 and logged.stdout.strip() not in ("", "0"), f"the marker command is not in {SUDO_LOG}"
    assert days is not None and days >= policy["log_retention_days"], f"{SUDO_LOGROTATE} keeps {days} days"
    assert len(ttys) == 2, f"ssh -tt … 'tty; sudo -n tty' printed no two terminals (rc {session[0]}): nothing was tried"
    assert ttys[0] != ttys[1], f"sudo ran its command on the login's own terminal {ttys[0]}: use_pty is not in effect"


@pytest.mark.control("AC-01")
@pytest.mark.method("config")
def test_root_mail_goes_to_the_operations_team(host, policy, evidence):
    aliases = compliance.root_file(host, "/etc/aliases") if host.file("/etc/aliases").exists else ""
    entries = [line.split(":", 1)[1].strip() for line in aliases.splitlines()
               if line.split(":", 1)[0].strip() == "root" and ":" in line and not line.lstrip().startswith("#")]
    evidence.record(command="grep ^root: /etc/aliases", observed=entries, expected=[policy["accounts_root_mail_alias"]],
                    note="accounts_root_mail_alias (inventory): root's mail - cron, the package tools - reaches a person")
    assert entries == [policy["accounts_root_mail_alias"]]
