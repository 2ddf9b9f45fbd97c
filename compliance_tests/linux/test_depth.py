"""Depth of the server baseline (roles/hardening): items public hardening baselines check beyond the policy's figures
(docs/hardening-map.md), each under the control it serves. IP-04: needrestart lists, never restarts; IP-05: the
integrity database where Debian's tools expect it, with SHA-512, and the installed packages' files against their
checksums (debsums); RI-01: a private temporary directory per session (pam_tmpdir); AU-01: process accounting where
the kernel is the host's own; OP-01: the activity history (sysstat)."""

from __future__ import annotations

import re

import pytest
from linuxcheck import CommandError, pam_module, show_properties, strip_hash_comment, umask_covers
from netprobe import ssh_client

from baseline import compliance

testinfra_hosts = compliance.hosts_in("linux_servers")

# needrestart (IP-04): its main file, then its drop-ins in the order of their names (the last value wins).
NEEDRESTART_MAIN = "/etc/needrestart/needrestart.conf"
NEEDRESTART_DROPINS = "/etc/needrestart/conf.d"
# The integrity database (IP-05): the baseline's configuration, the path Debian's tools read, the former path.
AIDE_CONFIG = "/etc/aide/baseline.conf"
AIDE_DB = "/var/lib/aide/aide.db"
AIDE_FORMER_DB = "/var/lib/aide/baseline.db"
AIDE_CHECKSUM = "sha512"
# AIDE's checksum attributes (aide.conf(5)): a rule that compares content names one of them.
AIDE_CHECKSUMS = ("md5", "sha1", "sha256", "sha512", "rmd160", "tiger", "haval", "gost", "crc32", "crc32b",
                  "whirlpool", "stribog256", "stribog512")
# pam_tmpdir (RI-01): the session stacks of logins (common-session) and of sudo, su, cron (-noninteractive).
SESSION_STACKS = ("/etc/pam.d/common-session", "/etc/pam.d/common-session-noninteractive")
TMPDIR_ROOT = "/tmp/user"
# What a new login of the suites' account reports of its session (run by its login shell on the host).
SESSION_PROBE = ("printf 'uid=%s\\nuser=%s\\ntmpdir=%s\\ntmp=%s\\n' \"$(id -u)\" \"$(id -un)\" \"${TMPDIR:-}\" \"${TMP:-}\"; "
                 "if [ -n \"${TMPDIR:-}\" ]; then stat -c 'dir=%a %U' -- \"$TMPDIR\"; fi")
# Process accounting (AU-01) and the activity history (OP-01): their packages' units and files.
PACCT = "/var/log/account/pacct"
SYSSTAT_DEFAULT = "/etc/default/sysstat"
SYSSTAT_TIMER = "sysstat-collect.timer"
SYSSTAT_DIR = "/var/log/sysstat"
SYSSTAT_CONFIG = "/etc/sysstat/sysstat"
# The history is a log: no access for other users (AU-03), so sysstat writes it with at least this umask.
SYSSTAT_UMASK = 0o027


# --- parsing (pure functions, tested without hosts in tests/unit/test_depth_checks_offline.py) -----------------------

def needrestart_mode(texts: list[tuple[str, str]]) -> tuple[str | None, str]:
    """The restart mode needrestart runs with: the last `$nrconf{restart} = 'x';` of its files read in order (the main
    file, then conf.d/*.conf by name), with the file that sets it; (None, "") when no file sets it."""
    mode, where = None, ""
    assignment = re.compile(r"""^\s*\$nrconf\{\s*['"]?restart['"]?\s*\}\s*=\s*['"]([a-z])['"]\s*;""")
    for path, text in texts:
        for raw in text.splitlines():
            match = assignment.match(strip_hash_comment(raw))
            if match:
                mode, where = match.group(1), path
    return mode, where


def needrestart_services(output: str) -> list[str]:
    """The services `needrestart -b` lists as running replaced libraries (NEEDRESTART-SVC lines)."""
    return sorted({line.split(":", 1)[1].strip() for line in output.splitlines()
                   if line.startswith("NEEDRESTART-SVC:") and line.split(":", 1)[1].strip()})


def debsums_findings(output: str) -> dict[str, list[str]]:
    """`debsums -s` messages by kind: changed and missing package files (other warnings, such as packages without
    checksums, are not findings)."""
    found: dict[str, list[str]] = {"changed": [], "missing": []}
    for line in output.splitlines():
        match = re.search(r"\b(changed|missing) file (\S+)", line)
        if match:
            found[match.group(1)].append(match.group(2))
    return found


def aide_rule_checksums(config: str) -> dict[str, list[str]]:
    """Each rule definition (`NAME = attr+attr...`) of an AIDE configuration that compares content -> its checksum
    attributes."""
    rules: dict[str, list[str]] = {}
    for raw in config.splitlines():
        line = strip_hash_comment(raw).strip()
        match = re.fullmatch(r"([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(\S+)", line)
        if not match or match.group(1).startswith("database") or match.group(1) in ("gzip_dbout", "report_url"):
            continue
        attrs = [a for a in re.split(r"[+-]", match.group(2)) if a in AIDE_CHECKSUMS]
        if attrs:
            rules[match.group(1)] = attrs
    return rules


def aide_setting(config: str, name: str) -> str | None:
    """The value of `name=...` in an AIDE configuration (the last one)."""
    found = None
    for raw in config.splitlines():
        key, sep, value = strip_hash_comment(raw).strip().partition("=")
        if sep and key.strip() == name:
            found = value.strip()
    return found


def shell_setting(text: str, name: str) -> str | None:
    """The value of `NAME=value` in a shell-style configuration file (the last one, quotes removed)."""
    found = None
    for raw in text.splitlines():
        key, sep, value = raw.strip().partition("=")
        if sep and not key.startswith("#") and key.strip() == name:
            found = value.split("#", 1)[0].strip().strip("\"'")
    return found


def _state(host, unit: str) -> dict[str, str]:
    shown = host.run(f"systemctl show {unit} -p ActiveState -p UnitFileState -p LoadState")
    return show_properties(shown.stdout)


# --- checks ---------------------------------------------------------------------------------------------------------

@pytest.mark.control("IP-04")
@pytest.mark.method("state")
def test_services_running_replaced_libraries_are_listed_and_none_restarted(host, evidence, sudo_run):
    """needrestart is installed, the mode it runs with after every dpkg run is `l` (list only: a restart is an
    administrator's change), and its list of services that still run replaced libraries is empty (an installed
    update is in effect only once they restart). The listing is asked with `-r l` so that the check restarts nothing."""
    installed = host.package("needrestart").is_installed
    listing = sudo_run(f"ls -1 {NEEDRESTART_DROPINS}/*.conf 2>/dev/null; true")
    paths = [NEEDRESTART_MAIN, *sorted(p for p in listing.stdout.split() if p.endswith(".conf"))]
    texts = [(p, compliance.root_file(host, p)) for p in paths if host.file(p).exists]
    mode, where = needrestart_mode(texts)
    run = sudo_run("needrestart -b -r l") if installed else None
    if run is not None and run.rc != 0:
        raise CommandError(f"needrestart -b -r l failed ({run.rc}): {run.stderr.strip()[-300:]}")
    services = needrestart_services(run.stdout) if run is not None else []
    evidence.record(command=f"dpkg-query needrestart; $nrconf{{restart}} in {NEEDRESTART_MAIN} and "
                            f"{NEEDRESTART_DROPINS}/*.conf in order; needrestart -b -r l",
                    observed={"installed": installed, "restart_mode": mode, "set_in": where,
                              "services_to_restart": services, "output": run.stdout.strip() if run else ""},
                    expected={"installed": True, "restart_mode": "l", "services_to_restart": []},
                    note="l: list only; a (automatic) would restart services from apt's hook, i asks (and falls back "
                         "to listing without a terminal)")
    assert installed, "needrestart is not installed"
    assert mode == "l", f"needrestart's restart mode is {mode!r} ({where or 'no file sets it'}), not 'l' (list only)"
    assert services == [], f"services still run replaced libraries (restart them): {services}"


@pytest.mark.control("IP-05")
@pytest.mark.method("state")
def test_integrity_database_where_debian_expects_it_with_sha512(host, evidence, sudo_run):
    """The baseline's AIDE configuration reads and writes the database where Debian's aide tools and scanners look
    for it, every rule that compares content uses SHA-512, the database itself was made with it, and nothing is
    left at the former path."""
    config = compliance.root_file(host, AIDE_CONFIG) if host.file(AIDE_CONFIG).exists else ""
    paths = {name: aide_setting(config, name) for name in ("database_in", "database_out")}
    rules = aide_rule_checksums(config)
    weak = {name: attrs for name, attrs in rules.items() if attrs != [AIDE_CHECKSUM]}
    spec = sudo_run(f"grep -m1 '^@@db_spec' {AIDE_DB}")
    former = sudo_run(f"test -e {AIDE_FORMER_DB}").rc == 0
    db_attrs = spec.stdout.split()[1:] if spec.rc == 0 else []
    evidence.record(command=f"database_in, database_out and the rules of {AIDE_CONFIG}; the @@db_spec line of "
                            f"{AIDE_DB}; test -e {AIDE_FORMER_DB}",
                    observed={"database_in": paths["database_in"], "database_out": paths["database_out"],
                              "rule_checksums": rules, "not_only_sha512": weak, "db_spec": db_attrs,
                              "former_database_left": former},
                    expected={"database_in": f"file:{AIDE_DB}", "database_out": f"file:{AIDE_DB}.new",
                              "not_only_sha512": {}, "db_spec": f"holds {AIDE_CHECKSUM}", "former_database_left": False})
    assert config, f"{AIDE_CONFIG} missing"
    assert paths == {"database_in": f"file:{AIDE_DB}", "database_out": f"file:{AIDE_DB}.new"}, paths
    assert rules and not weak, f"rules comparing content without SHA-512 alone: {weak or 'no rule compares content'}"
    assert AIDE_CHECKSUM in db_attrs, f"{AIDE_DB}: {spec.stdout.strip() or spec.stderr.strip() or 'no @@db_spec line'}"
    assert not former, f"an integrity database is left at the former path {AIDE_FORMER_DB}"


@pytest.mark.control("IP-05")
@pytest.mark.method("state")
def test_package_files_match_their_checksums(host, evidence, sudo_run):
    """Beside AIDE, debsums compares every installed package's files (configuration files aside, which the baseline
    changes and AIDE watches) with the checksums the package carries: none changed, none missing. The baseline's
    daily check (baseline-aide-check) runs the same comparison and logs what differs."""
    installed = host.package("debsums").is_installed
    run = sudo_run("debsums -s 2>&1") if installed else None
    if run is not None and run.rc not in (0, 2):
        raise CommandError(f"debsums -s failed ({run.rc}): {run.stdout.strip()[-300:]}")
    found = debsums_findings(run.stdout) if run is not None else {"changed": [], "missing": []}
    daily = sudo_run("grep -c 'debsums -s' /usr/local/sbin/baseline-aide-check")
    evidence.record(command="dpkg-query debsums; debsums -s; grep 'debsums -s' /usr/local/sbin/baseline-aide-check",
                    observed={"installed": installed, "rc": run.rc if run else None, **found,
                              "in_the_daily_check": daily.rc == 0},
                    expected={"installed": True, "rc": 0, "changed": [], "missing": [], "in_the_daily_check": True},
                    note="packages without checksum lists are reported by debsums as such and are not findings")
    assert installed, "debsums is not installed"
    assert found == {"changed": [], "missing": []}, found
    assert run is not None and run.rc == 0, f"debsums -s exit {run.rc if run else None}: {run.stdout.strip()[-300:]}"
    assert daily.rc == 0, "the daily integrity check does not run debsums"


@pytest.mark.control("RI-01")
@pytest.mark.method("probe")
@pytest.mark.intrusive("an SSH login of the suites' own account from the controller on a new connection (pam_tmpdir "
                       "makes its /tmp/user/<uid> if it is not there)")
def test_each_session_gets_its_own_temporary_directory(host, evidence):
    """pam_tmpdir is in both session stacks, and a new SSH login gets TMPDIR and TMP pointing to a directory of its
    own, /tmp/user/<uid>, that only the account can enter."""
    stacks = {path: [" ".join([r.control, r.module]) for r in pam_module(compliance.root_file(host, path),
                                                                          "session", "pam_tmpdir.so")]
              if host.file(path).exists else None for path in SESSION_STACKS}
    config, name = host.backend.ssh_config, host.backend.hostname
    login = ssh_client(config, name, command=(SESSION_PROBE,))
    seen = dict(line.split("=", 1) for line in login[1].splitlines() if "=" in line)
    wanted = f"{TMPDIR_ROOT}/{seen.get('uid', '?')}"
    evidence.record(command=f"pam_tmpdir.so in {', '.join(SESSION_STACKS)}; ssh (new connection) id -u, id -un, "
                            "$TMPDIR, $TMP, stat -c '%a %U' $TMPDIR",
                    observed={"session_stacks": stacks, "login_rc": login[0], **seen},
                    expected={"session_stacks": {p: ["optional pam_tmpdir.so (or stricter)"] for p in SESSION_STACKS},
                              "tmpdir": f"{TMPDIR_ROOT}/<uid>", "tmp": f"{TMPDIR_ROOT}/<uid>",
                              "dir": "700 <the account>"})
    assert login[0] == 0, f"no SSH session as the suites' account: {login[2].strip()[-300:]}"
    missing = [path for path, rules in stacks.items() if not rules]
    assert not missing, f"pam_tmpdir is not in {missing}"
    assert seen.get("tmpdir") == wanted and seen.get("tmp") == wanted, \
        f"the session's TMPDIR/TMP are {seen.get('tmpdir')!r}/{seen.get('tmp')!r}, not {wanted}"
    assert seen.get("dir") == f"700 {seen.get('user')}", f"{wanted}: {seen.get('dir')}"


@pytest.mark.control("AU-01")
@pytest.mark.method("probe")
@pytest.mark.intrusive("two processes run as root (/bin/true), recorded in the process accounting file")
def test_process_accounting_records_every_process(host, evidence, own_kernel, sudo_run):
    """acct is installed, acct.service enabled and active, and processes that end are written to the accounting
    file: its size grows by their records."""
    installed = host.package("acct").is_installed
    state = _state(host, "acct.service")
    grown = sudo_run(f"s=$(stat -c %s {PACCT}) && /bin/true && /bin/true && t=$(stat -c %s {PACCT}) "
                     "&& echo \"$s $t\"")
    sizes = [int(w) for w in grown.stdout.split() if w.isdigit()] if grown.rc == 0 else []
    records = len(sizes) == 2 and sizes[1] > sizes[0]
    evidence.record(command=f"dpkg-query acct; systemctl show acct.service; stat -c %s {PACCT} before and after "
                            "two processes",
                    observed={"installed": installed, "active": state.get("ActiveState"),
                              "enabled": state.get("UnitFileState"), "sizes": sizes, "records_written": records,
                              "problem": grown.stderr.strip()[-300:] if grown.rc else ""},
                    expected={"installed": True, "active": "active", "enabled": "enabled", "records_written": True})
    assert installed, "acct is not installed"
    assert state.get("UnitFileState") == "enabled" and state.get("ActiveState") == "active", state
    assert records, f"{PACCT} did not grow while processes ended: {sizes or grown.stderr.strip()[-300:]}"


@pytest.mark.control("OP-01", "AU-03")
@pytest.mark.method("probe")
@pytest.mark.intrusive("one sample of the host's activity collected now (sysstat-collect.service) and written to "
                       "today's sysstat file")
def test_activity_history_is_collected(host, evidence, sudo_run):
    """sysstat is installed and switched on, its collection timer enabled and active, and a collection started now
    writes a sample to today's file, which sar reads. The history is written with a umask that leaves other users
    out, and no file of it is open to them (AU-03)."""
    installed = host.package("sysstat").is_installed
    switch = [strip_hash_comment(raw).strip() for raw in
              (host.file(SYSSTAT_DEFAULT).content_string if host.file(SYSSTAT_DEFAULT).exists else "").splitlines()]
    enabled = 'ENABLED="true"' in switch
    timer = _state(host, SYSSTAT_TIMER)
    umask = shell_setting(host.file(SYSSTAT_CONFIG).content_string if host.file(SYSSTAT_CONFIG).exists else "", "UMASK")
    newest = f"ls -t {SYSSTAT_DIR}/sa[0-9]* 2>/dev/null | head -n 1"
    sample = sudo_run(f"f=$({newest}); s=$(stat -c %s \"$f\" 2>/dev/null || echo 0); "
                      "systemctl start sysstat-collect.service || exit 3; "
                      f"g=$({newest}); [ -n \"$g\" ] || exit 4; t=$(stat -c %s \"$g\"); "
                      "echo \"before=$f $s\"; echo \"after=$g $t\"; LC_ALL=C sar -u -f \"$g\" >/dev/null && echo sar=ok")
    seen = dict(line.split("=", 1) for line in sample.stdout.splitlines() if "=" in line)
    opened = sudo_run(f"find {SYSSTAT_DIR} -type f -perm /o+rwx")
    open_files = opened.stdout.split() if opened.rc == 0 else [f"(find failed: {opened.stderr.strip()[-200:]})"]
    before, after = seen.get("before", "").split(), seen.get("after", "").split()
    written = len(after) == 2 and (len(before) != 2 or before[0] != after[0] or int(after[1]) > int(before[1]))
    evidence.record(command=f"dpkg-query sysstat; {SYSSTAT_DEFAULT}; systemctl show {SYSSTAT_TIMER}; size of the "
                            "newest sa file before and after systemctl start sysstat-collect.service; sar -u -f",
                    observed={"installed": installed, "switch_on": enabled, "timer_active": timer.get("ActiveState"),
                              "timer_enabled": timer.get("UnitFileState"), "before": before, "after": after,
                              "sample_written": written, "sar_reads": seen.get("sar") == "ok", "umask": umask,
                              "open_to_others": open_files,
                              "problem": sample.stderr.strip()[-300:] if sample.rc else ""},
                    expected={"installed": True, "switch_on": True, "timer_active": "active", "timer_enabled": "enabled",
                              "sample_written": True, "sar_reads": True, "umask": f"{SYSSTAT_UMASK:04o} or stricter",
                              "open_to_others": []})
    assert installed, "sysstat is not installed"
    assert enabled, f'{SYSSTAT_DEFAULT} does not say ENABLED="true"'
    assert timer.get("UnitFileState") == "enabled" and timer.get("ActiveState") == "active", timer
    assert sample.rc == 0 and written, f"no sample written: {seen or sample.stderr.strip()[-300:]}"
    assert seen.get("sar") == "ok", "sar cannot read today's file"
    assert umask is not None and umask_covers(umask, SYSSTAT_UMASK), f"{SYSSTAT_CONFIG}: UMASK={umask}"
    assert open_files == [], f"activity files other users can access: {open_files}"
