"""IP-01..IP-05, RI-01, AC-04: minimal system, listeners, firewall, updates, integrity, residual information."""

from __future__ import annotations

import re
import secrets
import shlex
import socket
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from linuxcheck import (
    CommandError,
    active_people,
    aide_entries,
    aide_found_changes,
    aide_summary,
    classify_residue,
    core_limit,
    departed_usernames,
    loaded_modules,
    login_defs,
    mode_within,
    modprobe_dry_run_blocked,
    modprobe_rules,
    modules_not_blocked,
    nft_accept_rules_for_port,
    nft_input_policy_drop,
    nft_sources,
    parse_secret_scan,
    pending_updates,
    secret_scan_program,
    strip_hash_comment,
    sysctl_differences,
    sysctl_effective,
    sysctl_output,
    timer_schedule,
    timer_service,
    umask_covers,
)
from netprobe import ACCEPTED, FILTERED, REFUSED, port_outcome

from baseline import compliance
from baseline.accounts import initial_password
from baseline.hoststdin import run_with_stdin
from baseline.linux import services_for
from baseline.secrets import secret_variable_names

testinfra_hosts = compliance.hosts_in("linux_servers")
FORBIDDEN = ("telnetd", "inetutils-telnetd", "telnet", "rsh-server", "rsh-client", "rsh-redone-server", "inetutils-ftpd",
             "ftpd", "vsftpd", "proftpd-basic", "pure-ftpd", "tftpd-hpa", "nis", "talkd", "xinetd")
# Ports of the forbidden clear-text services (IP-01) that must not answer the controller.
FORBIDDEN_PORTS = {21: "ftp", 23: "telnet", 514: "rsh (shell)"}
# Where a vault value must not be left behind (RI-01), and the list of the vault's variables.
RESIDUE_ROOTS = ("/etc", "/var/lib/baseline", "/usr/local/sbin", "/home")
SECRET_NAMES = secret_variable_names("servers")  # baseline/secret-variables.txt
# Pending security updates tolerated by IP-04 (the policy asks for security patches to be applied: none may wait).
MAX_PENDING_SECURITY_UPDATES = 0
# Most permissive modes allowed for the sensitive files (AC-04); stricter modes are fine.
SENSITIVE_MODES = {"/etc/shadow": 0o640, "/etc/gshadow": 0o640, "/etc/sudoers": 0o440, "/etc/crontab": 0o600,
                   "/etc/ssh/sshd_config": 0o600}
REQUIRED_UMASK = 0o027
# Longest time between two integrity checks (IP-05): the role runs it daily; the policy names no figure of its own.
AIDE_CHECK_MAX_DAYS = 1
# The timer of the daily integrity check and the program its service runs (roles/hardening, IP-05).
AIDE_TIMER = "baseline-aide.timer"
AIDE_CHECK_PROGRAM = "/usr/local/sbin/baseline-aide-check"
# The baseline's modprobe file (IP-01) and sysctl files (IP-03, RI-01), roles/hardening.
MODPROBE_FILE = "/etc/modprobe.d/50-baseline.conf"
SYSCTL_NET_FILE = "/etc/sysctl.d/99-zz-baseline-net.conf"
SYSCTL_KERNEL_FILE = "/etc/sysctl.d/99-zz-baseline-kernel.conf"
# Where systemd-sysctl reads its files at boot (sysctl.d(5)).
SYSCTL_DIRS = ("/etc/sysctl.d", "/run/sysctl.d", "/usr/local/lib/sysctl.d", "/usr/lib/sysctl.d", "/lib/sysctl.d")


def _groups(asset):
    inv = compliance.inventory.load(str(compliance.inventory.inventory_path()))
    return [g for g, members in inv.groups().items() if asset in members]


def _resolve(value, policy) -> str:
    """An inventory value as Ansible templates it: `{{ name }}` is the variable `name` of the host."""
    text = str(value)
    match = re.fullmatch(r"\{\{\s*(\w+)\s*\}\}", text)
    return _resolve(policy[match.group(1)], policy) if match else text


@pytest.mark.control("IP-01", "IA-05")
@pytest.mark.method("state")
def test_forbidden_packages_absent(host, evidence):
    installed = [p for p in FORBIDDEN if host.package(p).is_installed]
    evidence.record(command="dpkg-query for " + " ".join(FORBIDDEN), observed=installed, expected=[])
    assert installed == []


@pytest.mark.control("IP-01")
@pytest.mark.method("probe")
@pytest.mark.intrusive("TCP connection attempts from the controller to closed ports, logged by the firewall as dropped")
def test_telnet_ftp_and_rsh_ports_refuse_the_controller(policy, asset, sudo_run, evidence):
    """The ports of telnet, ftp and rsh refuse the controller. A port the host's allow-list gives to another service on
    purpose (the log server takes device syslog on TCP 514, rsh's port) must be owned by that service's daemon instead."""
    address = policy["ansible_host"]
    services = services_for(policy["server_inbound_services"], _groups(asset))
    shared = {port: s for s in services if s["proto"] == "tcp" and (port := int(_resolve(s["port"], policy))) in FORBIDDEN_PORTS}
    probed = {port: name for port, name in FORBIDDEN_PORTS.items() if port not in shared}
    ssh = port_outcome(address, 22)
    with ThreadPoolExecutor(max(1, len(probed))) as pool:  # a dropping firewall makes each wait its 3 s: at once
        found = dict(zip(probed, pool.map(lambda port: port_outcome(address, port), probed), strict=True))
    tried = {f"{port}/tcp {name}": found[port] for port, name in probed.items()}
    answered = {label: outcome for label, outcome in tried.items() if outcome not in (REFUSED, FILTERED)}
    owners: dict[str, list[str]] = {}
    for port, service in shared.items():
        listing = sudo_run(f"ss -Hltnp sport = :{port}")
        owners[f"{port}/tcp {service['name']}"] = sorted(set(re.findall(r'users:\(\("([^"]+)"', listing.stdout)))
    wrong = {label: names for (port, service), (label, names) in zip(shared.items(), owners.items(), strict=True)
             if not service.get("daemon") or names != [service["daemon"]]}
    evidence.record(command=f"TCP connections from the controller to {address}: 22 (control), then "
                            + ", ".join(f"{port} ({name})" for port, name in probed.items())
                            + "".join(f"; ss -Hltnp sport = :{port} (allow-listed {s['name']})" for port, s in shared.items()),
                    observed={"22/tcp ssh": ssh, **tried, **{f"{label} owner": names for label, names in owners.items()}},
                    expected={"22/tcp ssh": ACCEPTED, **{label: f"{REFUSED} or {FILTERED}" for label in tried},
                              **{f"{port}/tcp {s['name']} owner": [s.get("daemon", "(a daemon named in the allow-list)")]
                                 for port, s in shared.items()}},
                    note=f"{REFUSED}: reset (nothing listens, or the firewall rejects); {FILTERED}: no answer within "
                         "3 s (the firewall drops); an unreachable host proves nothing, hence the SSH control")
    assert ssh == ACCEPTED, f"the controller cannot reach {address}:22 either ({ssh}): nothing was tested"
    assert answered == {}, answered
    assert wrong == {}, f"a legacy service's port is served by another program than the allow-list names: {wrong}"


@pytest.mark.control("IP-02")
@pytest.mark.method("state")
def test_only_allowlisted_listeners(host, policy, asset, evidence, sudo_run):
    allowed = {(str(s["proto"]), _resolve(s["port"], policy))
               for s in services_for(policy["server_inbound_services"], _groups(asset))}
    listing = sudo_run("ss -Hltunp")
    if listing.rc != 0:
        raise CommandError(f"ss -Hltunp failed ({listing.rc}): {listing.stderr.strip()}")
    lines = listing.stdout.splitlines()
    unexpected, ports = [], set()
    for line in lines:
        fields = line.split()
        proto, local = fields[0], fields[4]
        address, _, port = local.rpartition(":")
        ports.add((proto, port))
        if address.strip("[]").split("%")[0] in ("127.0.0.1", "::1") or address.startswith("127."):
            continue
        if (proto, port) not in allowed:
            unexpected.append(line)
    evidence.record(command="ss -Hltunp", observed={"unexpected": unexpected, "listeners": lines},
                    expected={"unexpected": [], "allowed": f"only {sorted(allowed)} on non-loopback addresses"})
    assert ("tcp", "22") in ports, "ss listed no SSH listener: the listing cannot be complete"
    assert unexpected == []


@pytest.mark.control("IP-03")
@pytest.mark.method("state")
def test_firewall_default_deny_with_management_from_admin_networks(host, policy, evidence, sudo_run):
    listing = sudo_run("nft list ruleset")
    if listing.rc != 0:
        raise CommandError(f"nft list ruleset failed ({listing.rc}): {listing.stderr.strip()}")
    rules = listing.stdout
    ssh_rules = nft_accept_rules_for_port(rules, 22)
    sources = {rule: nft_sources(rule) for rule in ssh_rules}
    outside = {rule: s for rule, s in sources.items() if not s or not set(s) <= set(policy["admin_networks"])}
    drop = nft_input_policy_drop(rules)
    evidence.record(command="nft list ruleset", observed={"input_policy_drop": drop, "ssh_accept_rules": sources,
                    "ssh_rules_not_limited_to_admin_networks": outside},
                    expected={"input_policy_drop": True, "ssh_accept_rules": f"source within {policy['admin_networks']}",
                              "ssh_rules_not_limited_to_admin_networks": {}})
    assert drop, "no input chain drops by default"
    assert ssh_rules, "no rule accepts SSH: the management path is not the inventory's"
    assert outside == {}


# A bare listener that serves nothing, as an unprivileged user, gone after two minutes at the latest.
LISTENER = ("import socket, time; s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); "
            "s.bind(('0.0.0.0', {port})); s.listen(1); time.sleep(110)")


@pytest.mark.control("IP-03")
@pytest.mark.method("probe")
@pytest.mark.intrusive("a temporary listener on a random port (a transient unit as nobody) and the controller's "
                       "connection attempt to it")
def test_unlisted_port_is_unreachable(host, policy, evidence, sudo_run):
    port = 20000 + secrets.randbelow(20000)
    unit = f"blprobe{port}"
    started = sudo_run("systemd-run --unit=%s --quiet -p User=nobody -p RuntimeMaxSec=120 /usr/bin/python3 -c %s",
                       unit, LISTENER.format(port=port))
    try:
        listening = False
        for _ in range(20):
            if f":{port} " in sudo_run("ss -Hltn").stdout:
                listening = True
                break
            time.sleep(0.5)
        sock = socket.socket()
        sock.settimeout(3)
        reached = sock.connect_ex((policy["ansible_host"], port)) == 0
        sock.close()
    finally:
        sudo_run(f"systemctl stop {unit}")
    evidence.record(command=f"listener on {port} (user nobody, serves nothing); connect from the controller",
                    observed={"started": started.rc == 0, "listening": listening, "reached": reached},
                    expected={"started": True, "listening": True, "reached": False})
    assert started.rc == 0 and listening, "the probe listener did not start: nothing was tested"
    assert not reached


@pytest.mark.control("IP-04")
@pytest.mark.method("state")
@pytest.mark.intrusive("runs baseline-pending-updates: apt-get update refreshes the package lists and "
                       "/var/lib/baseline/pending-updates.txt is rewritten")
def test_security_updates_configured_and_pending_reported(host, evidence, sudo_run):
    config = host.run("apt-config dump").stdout
    run = sudo_run("/usr/local/sbin/baseline-pending-updates && cat /var/lib/baseline/pending-updates.txt")
    try:
        report = pending_updates(run.stdout) if run.rc == 0 else None
        problem = "" if run.rc == 0 else f"baseline-pending-updates failed ({run.rc}): {run.stderr.strip()}"
    except ValueError as exc:
        report, problem = None, f"unreadable report: {exc}"
    unattended = 'APT::Periodic::Unattended-Upgrade "1";' in config.splitlines()
    installed = host.package("unattended-upgrades").is_installed
    evidence.record(command="dpkg -s unattended-upgrades; apt-config dump; baseline-pending-updates",
                    observed={"unattended_upgrades_installed": installed, "periodic_unattended_upgrade": unattended,
                              "report": report, "problem": problem, "output": run.stdout},
                    expected={"unattended_upgrades_installed": True, "periodic_unattended_upgrade": True,
                              "security": f"<= {MAX_PENDING_SECURITY_UPDATES} pending security updates"})
    assert installed
    assert unattended, 'APT::Periodic::Unattended-Upgrade "1" is not set'
    assert report is not None, problem
    assert report["security"] <= MAX_PENDING_SECURITY_UPDATES, \
        f"{report['security']} security updates pending (of {report['pending']} updates)"


@pytest.mark.control("IP-05")
@pytest.mark.method("probe")
@pytest.mark.intrusive("a byte appended to /usr/bin/tac, restored with its time afterwards; aide --check runs twice")
def test_aide_detects_a_changed_binary(host, evidence, sudo_run):
    target = "/usr/bin/tac"
    original = sudo_run(f"sha256sum -- {target}").stdout.split()[:1]
    clean = sudo_run("aide --config /etc/aide/baseline.conf --check")
    sudo_run(f"cp -p {target} /root/.bl-tac && printf 'x' >> {target}")
    try:
        changed = sudo_run("aide --config /etc/aide/baseline.conf --check")
    finally:
        sudo_run(f"cat /root/.bl-tac > {target} && touch -r /root/.bl-tac {target} && rm -f /root/.bl-tac")
    restored = sudo_run(f"sha256sum -- {target}").stdout.split()[:1]
    timer_command = f"systemctl show {AIDE_TIMER} -p ActiveState -p UnitFileState -p TimersCalendar -p Triggers"
    timer = host.run(timer_command)
    service = timer_service(timer.stdout, AIDE_TIMER)
    service_command = f"systemctl show {service} -p ExecStart"
    runs = host.run(service_command)
    schedule = timer_schedule(timer.stdout, runs.stdout)
    unscheduled = schedule.problems(AIDE_CHECK_PROGRAM, AIDE_CHECK_MAX_DAYS)
    evidence.record(command="aide --check before and after appending a byte to /usr/bin/tac; sha256sum; "
                            f"{timer_command}; {service_command}",
                    observed={"clean_rc": clean.rc, "changed_rc": changed.rc, "mentions": target in changed.stdout,
                              "restored": bool(original) and restored == original,
                              "clean_entries": aide_entries(clean.stdout) if clean.rc else {},
                              "clean_output": clean.stdout if clean.rc else "",
                              "timer": timer.stdout.strip() or timer.stderr.strip(),
                              "service": runs.stdout.strip() or runs.stderr.strip(),
                              "interval_days": schedule.interval_days, "schedule_problems": unscheduled},
                    expected={"clean_rc": 0, "changed_rc": "1..7 with the changed-files bit (4)", "mentions": True,
                              "restored": True,
                              "schedule": f"{AIDE_TIMER} active and enabled, running {AIDE_CHECK_PROGRAM} at least "
                                          f"every {AIDE_CHECK_MAX_DAYS} day(s)"})
    assert original and restored == original, f"{target} was not restored to its original content"
    assert clean.rc == 0, (f"changes not approved before the probe: {aide_summary(clean.rc, clean.stdout)}; approve "
                           "what is intended with -e integrity_approve=PATH,... (playbooks/linux.yml --tags IP-05)")
    assert aide_found_changes(changed.rc) and target in changed.stdout, (changed.rc, changed.stderr)
    assert not unscheduled, f"{AIDE_TIMER}: " + "; ".join(unscheduled)


@pytest.mark.control("RI-01")
@pytest.mark.method("config")
def test_no_core_dumps_and_tmp_cleared(host, policy, evidence):
    limits = compliance.root_file(host, "/etc/security/limits.d/50-baseline.conf")
    tmp = compliance.root_file(host, "/etc/tmpfiles.d/tmp.conf")
    core = core_limit(limits)
    clear = [line for line in (strip_hash_comment(raw) for raw in tmp.splitlines()) if line.startswith("D /tmp ")]
    evidence.record(command="limits.d/50-baseline.conf; tmpfiles.d/tmp.conf",
                    observed={"hard_core_limit": core, "tmp_rules": clear, "limits": limits, "tmp": tmp},
                    expected={"hard_core_limit": "0", "tmp_rules": "D /tmp … (emptied at boot)"})
    assert core == "0"
    assert clear


def vault_values(policy) -> tuple[list[str], list[str]]:
    """(values, names not set for this host) of the servers' secret variables (baseline/secret-variables.txt), plus
    each active person's initial password derived from the vault seed."""
    names = SECRET_NAMES
    values = [str(policy[n]) for n in names if n in policy and str(policy[n])]
    seed = str(policy.get("accounts_initial_password_seed") or "")
    if seed:
        values += [initial_password(seed, p["username"]) for p in active_people(policy.get("staff", []))]
    return values, [n for n in names if n not in policy]


def scan_for_values(host, values, roots=None):
    """Files under `roots` (default RESIDUE_ROOTS) holding any of `values`, found on the host by comparing salted
    SHA-256 digests: the values never leave the controller, on a command line or on stdin."""
    program = secret_scan_program(values, RESIDUE_ROOTS if roots is None else roots)
    result = run_with_stdin(host, "sudo -n /usr/bin/python3 -", program)
    return parse_secret_scan(result.rc, result.stdout, result.stderr)


@pytest.mark.control("RI-01")
@pytest.mark.method("state")
def test_departed_homes_wiped_and_no_secret_in_files(host, policy, evidence, sudo_run):
    departed = departed_usernames(policy["staff"])
    homes = [u for u in departed if sudo_run("test -e %s", f"/home/{u}").rc == 0]
    values, unset = vault_values(policy)
    assert values, "no vault value is set for this host: nothing to search for"
    scan = scan_for_values(host, values)
    # A tool's own key file (restic's password file, pgBackRest's cipher pass) must hold its secret; it may do so
    # only where no other user can read it. A secret anywhere else, or readable by others, is residue.
    key_files, leaked = classify_residue(scan.found)
    evidence.record(command=f"test -e /home/<departed>; salted SHA-256 digests of each vault value compared on the host "
                            f"with every window of the same length in the files under {' '.join(RESIDUE_ROOTS)}",
                    observed={"homes_left": homes, "files_with_secrets": leaked, "protected_key_files": key_files,
                              "files_scanned": scan.files, "bytes_scanned": scan.bytes},
                    expected={"homes_left": [], "files_with_secrets": []},
                    note=f"{len(values)} vault values searched ({len(departed)} departed staff); not set here: "
                         f"{', '.join(unset) or 'none'}; key files readable by their owner only are allowed")
    assert scan.files > 0, f"the scan read no file under {RESIDUE_ROOTS}"
    assert homes == [] and leaked == []


@pytest.mark.control("AC-04")
@pytest.mark.method("state")
def test_sensitive_file_permissions_and_umask(host, evidence):
    modes = {p: host.file(p).mode for p in SENSITIVE_MODES}
    umask = login_defs(compliance.root_file(host, "/etc/login.defs")).get("UMASK")
    too_open = {p: f"{m:o}" for p, m in modes.items() if not mode_within(m, SENSITIVE_MODES[p])}
    evidence.record(command="stat; UMASK in /etc/login.defs",
                    observed={"modes": {p: f"{m:o}" for p, m in modes.items()}, "umask": umask, "too_open": too_open},
                    expected={"modes": {p: f"{m:o} or stricter" for p, m in SENSITIVE_MODES.items()},
                              "umask": f"{REQUIRED_UMASK:03o} or stricter", "too_open": {}})
    assert too_open == {}
    assert umask is not None and umask_covers(umask, REQUIRED_UMASK), f"UMASK {umask}"


def _expected_net_sysctls(policy) -> dict[str, str]:
    """The network sysctls of the inventory (hardening_sysctl_net), forwarding from hardening_ip_forwarding."""
    forwarding = "1" if policy["hardening_ip_forwarding"] else "0"
    return {"net.ipv4.ip_forward": forwarding, "net.ipv6.conf.all.forwarding": forwarding,
            **{key: str(value) for key, value in policy["hardening_sysctl_net"].items()}}


def _sysctl_files(host, sudo_run) -> dict[str, str]:
    """Every file systemd-sysctl reads at boot, path -> text (read as root)."""
    listing = sudo_run(f"find {' '.join(SYSCTL_DIRS)} -maxdepth 1 -name '*.conf' 2>/dev/null; true")
    return {path: compliance.root_file(host, path) for path in sorted(listing.stdout.split())}


@pytest.mark.control("IP-01")
@pytest.mark.method("config")
def test_unneeded_kernel_modules_blocked_in_modprobe_config(host, policy, evidence, kernel_level):
    modules = policy["hardening_blocked_kernel_modules"]
    text = compliance.root_file(host, MODPROBE_FILE) if host.file(MODPROBE_FILE).exists else ""
    missing = modules_not_blocked(modprobe_rules(text), modules)
    evidence.record(command=f"cat {MODPROBE_FILE}", observed={"not_blocked": missing, "file": text or "(missing)"},
                    expected={"not_blocked": {}, "each module": "install <m> /bin/false and blacklist <m>"},
                    note=f"modules of hardening_blocked_kernel_modules: {', '.join(modules)}; the file is the same on "
                         "every host, its effect is shown where the kernel is the host's own")
    assert modules, "hardening_blocked_kernel_modules is empty: nothing to check"
    assert missing == {}, missing


@pytest.mark.control("IP-01")
@pytest.mark.method("state")
def test_unneeded_kernel_modules_cannot_be_loaded(host, policy, evidence, own_kernel, sudo_run):
    modules = policy["hardening_blocked_kernel_modules"]
    dry_runs = {m: sudo_run("modprobe -n -v %s", m) for m in modules}
    outputs = {m: (r.stdout + r.stderr).strip() for m, r in dry_runs.items()}
    loadable = {m: out for m, out in outputs.items() if not modprobe_dry_run_blocked(out)}
    loaded = loaded_modules(host.file("/proc/modules").content_string) & {m.replace("-", "_") for m in modules}
    evidence.record(command="modprobe -n -v <module> for each blocked module; /proc/modules",
                    observed={"would_load": loadable, "loaded_now": sorted(loaded), "dry_runs": outputs},
                    expected={"would_load": {}, "loaded_now": [], "dry_runs": "install /bin/false for each"})
    assert loadable == {}, loadable
    assert not loaded, f"blocked modules loaded now: {sorted(loaded)}"


@pytest.mark.control("IP-03")
@pytest.mark.method("state")
def test_network_parameters(host, policy, evidence, sudo_run):
    wanted = _expected_net_sysctls(policy)
    live = sudo_run("sysctl " + " ".join(shlex.quote(key) for key in wanted))
    if live.rc != 0:
        raise CommandError(f"sysctl failed ({live.rc}): {live.stderr.strip()}")
    found = sysctl_output(live.stdout)
    effective = sysctl_effective(_sysctl_files(host, sudo_run))
    at_boot = {key: value for key, (value, _) in effective.items()}
    live_wrong = sysctl_differences(wanted, found)
    boot_wrong = {key: f"{problem} ({effective[key][1] if key in effective else 'no file sets it'})"
                  for key, problem in sysctl_differences(wanted, at_boot).items()}
    evidence.record(command=f"sysctl <keys>; the files of {', '.join(SYSCTL_DIRS)} in systemd-sysctl's order",
                    observed={"live_differs": live_wrong, "at_boot_differs": boot_wrong, "live": found},
                    expected={"live_differs": {}, "at_boot_differs": {}, "values": wanted},
                    note=f"values of hardening_sysctl_net and hardening_ip_forwarding; the baseline writes "
                         f"{SYSCTL_NET_FILE}, which must be the last file to set each key")
    assert live_wrong == {}, live_wrong
    assert boot_wrong == {}, boot_wrong


@pytest.mark.control("IP-03", "RI-01")
@pytest.mark.method("config")
def test_kernel_parameters_persisted(host, policy, evidence, kernel_level, sudo_run):
    container = compliance.host_kind(host) == compliance.CONTAINER
    wanted = {key: str(value) for key, value in policy["hardening_sysctl_kernel"].items()}
    files = _sysctl_files(host, sudo_run)
    effective = sysctl_effective(files)
    at_boot = {key: value for key, (value, _) in effective.items()}
    wrong = {key: f"{problem} ({effective[key][1] if key in effective else 'no file sets it'})"
             for key, problem in sysctl_differences(wanted, at_boot).items()}
    evidence.record(command=f"the files of {', '.join(SYSCTL_DIRS)} in systemd-sysctl's order",
                    observed={"at_boot_differs": wrong, "baseline_file": files.get(SYSCTL_KERNEL_FILE, "(missing)")},
                    expected={"at_boot_differs": {}, "values": wanted},
                    note="the persisted configuration only; the live values are checked where the kernel is the "
                         "host's own (test_kernel_parameters)" + ("; not verifiable live here: container host, the "
                         "kernel is the controller's and kernel.*/fs.* are read-only" if container else ""))
    assert SYSCTL_KERNEL_FILE in files, f"{SYSCTL_KERNEL_FILE} missing"
    assert wrong == {}, wrong


# cron and at by allow-list only (AC-04): root-owned lists no one else may change; the deny-lists gone.
ALLOW_LISTS = ("/etc/cron.allow", "/etc/at.allow")
DENY_LISTS = ("/etc/cron.deny", "/etc/at.deny")
ALLOW_LIST_MODE = 0o640
HOME_MODE = 0o750
START_UP_FILES = (".bashrc", ".profile", ".bash_profile", ".bash_login", ".bash_logout")


@pytest.mark.control("AC-04")
@pytest.mark.method("config")
def test_cron_and_at_restricted_to_allow_lists(host, policy, evidence):
    wanted = sorted(policy["accounts_cron_allow"])
    found = {}
    for path in ALLOW_LISTS:
        item = host.file(path)
        if not item.exists:
            found[path] = None
            continue
        names = sorted(w for raw in compliance.root_file(host, path).splitlines() for w in strip_hash_comment(raw).split())
        found[path] = {"names": names, "owner": item.user, "mode": f"{item.mode:o}",
                       "ok": names == wanted and item.user == "root" and mode_within(item.mode, ALLOW_LIST_MODE)}
    denies = [path for path in DENY_LISTS if host.file(path).exists]
    evidence.record(command="cat and stat " + " ".join(ALLOW_LISTS) + "; test -e " + " ".join(DENY_LISTS),
                    observed={"allow_lists": found, "deny_lists_present": denies},
                    expected={"allow_lists": {p: {"names": wanted, "owner": "root",
                                                  "mode": f"{ALLOW_LIST_MODE:o} or stricter"} for p in ALLOW_LISTS},
                              "deny_lists_present": []},
                    note="accounts_cron_allow (inventory); with an allow-list cron and at refuse every other account")
    assert all(v and v["ok"] for v in found.values()), found
    assert denies == [], denies


@pytest.mark.control("AC-04")
@pytest.mark.method("state")
def test_staff_homes_and_start_up_files_private(host, policy, evidence, sudo_run):
    people = [p["username"] for p in active_people(policy["staff"])]
    homes = {}
    for user in people:
        shown = sudo_run("stat -c %%a /home/%s", user)
        homes[user] = shown.stdout.strip() if shown.rc == 0 else None
    open_homes = {u: m for u, m in homes.items() if m is None or not mode_within(int(m, 8), HOME_MODE)}
    names = " -o ".join(f"-name {n}" for n in START_UP_FILES)
    found = sudo_run(f"find {' '.join(f'/home/{u}' for u in people)} -maxdepth 1 -type f \\( {names} \\) "
                     "-perm /022 -printf '%m %p\\n'") if people else None
    if found is not None and found.rc not in (0, 1):
        raise CommandError(f"find failed ({found.rc}): {found.stderr.strip()}")
    writable = found.stdout.split("\n") if found is not None else []
    writable = [line for line in writable if line.strip()]
    evidence.record(command="stat -c %a /home/<active staff>; find their start-up files writable by group or others",
                    observed={"homes": homes, "too_open": open_homes, "writable_start_up_files": writable},
                    expected={"too_open": {}, "homes": f"{HOME_MODE:o} or stricter", "writable_start_up_files": []},
                    note=f"start-up files: {', '.join(START_UP_FILES)}")
    assert people, "the roster has no active person: nothing to check"
    assert open_homes == {}, open_homes
    assert writable == [], writable
