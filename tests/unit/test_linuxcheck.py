"""The parsers of the Linux compliance suites (compliance_tests/linux/linuxcheck.py): every case that once passed
when it should not — `remember=50` read as 5, `TMOUT=6000` as 600, a commented option, `(ALL) ALL`, a second key
without `from=`, faillock's "Valid" header, grep's exit status 2, an empty list of departed staff."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest

from baseline import REPO_ROOT
from baseline.secrets import SPECIALS

sys.path.insert(0, str(REPO_ROOT / "compliance_tests" / "linux"))
import linuxcheck as lc  # noqa: E402

# --- PAM, pwquality, faillock.conf -------------------------------------------------------------------------------


def _remember(text: str) -> list[str | None]:
    return [lc.pam_arg(r.args, "remember") for r in lc.pam_module(text, "password", "pam_pwhistory.so")]


def test_remember_50_is_not_read_as_5_and_direction_is_at_least():
    assert _remember("password\trequisite\tpam_pwhistory.so remember=50 use_authtok") == ["50"]
    assert lc.at_least("50", 5)
    assert _remember("password requisite pam_pwhistory.so remember=4") == ["4"]
    assert not lc.at_least("4", 5)
    assert not lc.at_least(None, 5) and not lc.at_least("five", 5)


def test_commented_pam_rule_does_not_count():
    text = "# password requisite pam_pwhistory.so remember=5\npassword requisite pam_unix.so\n"
    assert _remember(text) == []
    inline = "password requisite pam_pwhistory.so remember=3 # remember=5\n"
    assert _remember(inline) == ["3"]


def test_pam_control_in_brackets_and_tabs():
    rules = lc.pam_lines("password\t[success=1 default=ignore]\tpam_unix.so obscure yescrypt\n-session optional pam_x.so\n")
    assert rules[0].control == "[success=1 default=ignore]" and rules[0].module == "pam_unix.so"
    assert rules[0].args == ("obscure", "yescrypt")
    assert rules[1].type == "session"


def test_commented_enforce_for_root_does_not_count():
    assert "enforce_for_root" not in lc.conf_values("minlen = 10\n# enforce_for_root\n")
    assert "enforce_for_root" not in lc.conf_values("minlen = 10\n  #enforce_for_root\n")
    assert lc.conf_values("minlen = 10\nenforce_for_root\n")["enforce_for_root"] == ""


def test_conf_values_last_setting_wins_and_comments_go():
    values = lc.conf_values("deny = 3\n# deny = 50\ndeny = 5 # five\nunlock_time=900\n")
    assert values == {"deny": "5", "unlock_time": "900"}
    assert lc.at_most(values["deny"], 5) and not lc.at_most("6", 5) and not lc.at_most("0", 5)


# --- TMOUT -----------------------------------------------------------------------------------------------------------


def test_tmout_6000_is_not_600():
    values = lc.tmout_assignments("TMOUT=6000\nreadonly TMOUT\n")
    assert values == ["6000"]
    assert not lc.tmout_ok(values, 600)
    assert lc.tmout_ok(lc.tmout_assignments("TMOUT=600\n"), 600)
    assert lc.tmout_ok(lc.tmout_assignments("TMOUT=300\n"), 600)


def test_tmout_zero_or_commented_or_missing_fails():
    assert not lc.tmout_ok(lc.tmout_assignments("TMOUT=0\n"), 600)
    assert lc.tmout_assignments("# TMOUT=600\n") == []
    assert not lc.tmout_ok([], 600)
    assert lc.tmout_assignments("export TMOUT=600 # was TMOUT=6000\n") == ["600"]
    assert lc.tmout_assignments('readonly TMOUT="900"\n') == ["900"]


def test_readonly_tmout_must_be_uncommented():
    assert lc.tmout_readonly("TMOUT=600\nreadonly TMOUT\n")
    assert lc.tmout_readonly("readonly TMOUT=600\n")
    assert lc.tmout_readonly("declare -r TMOUT=600\n")
    assert not lc.tmout_readonly("TMOUT=600\n# readonly TMOUT\n")
    assert not lc.tmout_readonly("TMOUT=600\nexport TMOUT\n")


def test_sshd_channel_timeout():
    assert lc.channel_timeout("session:*=600") == 600
    assert lc.channel_timeout("session:*=10m") == 600
    assert lc.channel_timeout("session:*=6000") == 6000
    assert lc.channel_timeout("global=5m") is None
    assert lc.channel_timeout("") is None


# --- faillock --------------------------------------------------------------------------------------------------------

FAILLOCK = """bladm123:
When                Type  Source                                           Valid
2024-05-01 10:00:01 RHOST 10.231.0.1                                           V
2024-05-01 10:00:02 RHOST 10.231.0.1                                           V
2024-05-01 09:00:02 TTY   pts/0                                                I
"""


def test_faillock_header_valid_is_not_a_failure():
    assert lc.valid_failures(FAILLOCK) == 2
    assert lc.valid_failures("bladm123:\nWhen                Type  Source                                           Valid\n") == 0
    assert FAILLOCK.count("V") > 2  # what the old check counted


# --- sudo ------------------------------------------------------------------------------------------------------------


def test_all_all_without_group_is_full_root():
    entries = ["(ALL) ALL", "(ALL : ALL) ALL", "(root) ALL", "(root) NOPASSWD: ALL", "(ALL:ALL) NOPASSWD: SETENV: ALL",
               "(postgres : ALL) ALL"]
    assert lc.full_root_entries(entries) == entries


def test_commands_and_other_accounts_are_not_full_root():
    assert lc.full_root_entries(["(root) /usr/sbin/nft, /usr/bin/aide", "(postgres, mysql) ALL",
                                 "(root) /usr/bin/systemctl status *"]) == []


def test_sudo_l_output_is_parsed_into_entries():
    output = """Matching Defaults entries for zhangwei on app1:
    use_pty, logfile=/var/log/sudo.log

User zhangwei may run the following commands on app1:
    (root) /usr/bin/apt-get, /usr/bin/systemctl,
        /usr/bin/journalctl
    (ALL) ALL
"""
    entries = lc.sudo_l_entries(output)
    assert entries == ["(root) /usr/bin/apt-get, /usr/bin/systemctl, /usr/bin/journalctl", "(ALL) ALL"]
    assert lc.full_root_entries(entries) == ["(ALL) ALL"]
    assert lc.sudo_commands(entries[:1]) == {"/usr/bin/apt-get", "/usr/bin/systemctl", "/usr/bin/journalctl"}


def test_nopasswd_exemption_covers_only_the_automation_users_own_rules():
    text = ("# automation may run anything without a password\n"
            "automation ALL=(ALL:ALL) NOPASSWD: ALL\n"
            "%sudo ALL=(ALL:ALL) NOPASSWD: ALL\n")
    assert lc.nopasswd_violations(text, "automation") == ["%sudo ALL=(ALL:ALL) NOPASSWD: ALL"]
    assert lc.nopasswd_violations("automation, bob ALL=(ALL) NOPASSWD: ALL\n", "automation") == \
        ["automation, bob ALL=(ALL) NOPASSWD: ALL"]
    assert lc.nopasswd_violations("automation ALL=(ALL:ALL) NOPASSWD: ALL\n", "automation") == []


def test_nopasswd_in_comments_continuations_and_defaults():
    assert lc.nopasswd_violations("# bob ALL=(ALL) NOPASSWD: ALL\n", "automation") == []
    assert lc.nopasswd_violations("bob ALL=(ALL) \\\n   NOPASSWD: /usr/bin/id\n", "automation") == \
        ["bob ALL=(ALL)     NOPASSWD: /usr/bin/id"]
    assert lc.nopasswd_violations("Defaults:bob !authenticate\n", "automation") == ["Defaults:bob !authenticate"]
    assert lc.nopasswd_violations("Defaults:automation !authenticate\n", "automation") == []
    assert lc.nopasswd_violations("Defaults use_pty\nCmnd_Alias NOPASSWD_LIKE = /bin/ls\n", "automation") == []


# --- authorized_keys -------------------------------------------------------------------------------------------------


def test_second_key_without_from_is_found():
    text = ('from="10.231.0.0/24" ssh-ed25519 AAAAC3Nza first@lab\n'
            "ssh-ed25519 AAAAC3Nzb second@lab\n")
    bad = lc.keys_without_source_limit(text)
    assert bad == ["line 2: ssh-ed25519 second@lab (no from=)"]
    assert text.startswith("from=")  # what the old check looked at


def test_quoted_options_and_allowed_networks():
    text = ('command="/bin/echo a, b",from="10.231.0.0/24,10.9.0.0/16" ssh-rsa AAAAB3 x\n'
            '# from="x" ssh-rsa commented\n\nrestrict,from="10.231.0.0/24" ssh-ed25519 AAAAC y\n')
    keys = lc.authorized_keys(text)
    assert [k.options.get("from") for k in keys] == ["10.231.0.0/24,10.9.0.0/16", "10.231.0.0/24"]
    assert keys[0].options["command"] == "/bin/echo a, b"
    assert lc.keys_without_source_limit(text) == []
    assert lc.keys_without_source_limit(text, ["10.231.0.0/24"]) == ["line 1: ssh-rsa x (from=10.231.0.0/24,10.9.0.0/16)"]


def test_authorized_keys_paths():
    assert lc.authorized_keys_paths(".ssh/authorized_keys .ssh/authorized_keys2", "/home/a", "a") == \
        ["/home/a/.ssh/authorized_keys", "/home/a/.ssh/authorized_keys2"]
    assert lc.authorized_keys_paths("/etc/ssh/keys/%u %h/.k", "/home/a", "a") == ["/etc/ssh/keys/a", "/home/a/.k"]


# --- accounts, files -------------------------------------------------------------------------------------------------


def test_account_locked_needs_lock_and_past_expiry():
    assert lc.account_locked("sunhao:!$y$j9T$x:19700:1:90:7::1:", today=19800)
    assert not lc.account_locked("sunhao:$y$j9T$x:19700:1:90:7::1:", today=19800)  # password usable
    assert not lc.account_locked("sunhao:!$y$x:19700:1:90:7::99999:", today=19800)  # expires in the future
    assert not lc.account_locked("sunhao:!$y$x:19700:1:90:7:::", today=19800)  # never expires
    assert not lc.account_locked("", today=19800)


def test_empty_departed_list_is_empty():
    staff = [{"username": "a", "status": "active"}]
    assert lc.departed_usernames(staff) == []
    assert lc.departed_usernames([*staff, {"username": "b", "status": "departed"}]) == ["b"]


def test_limits_modes_umask_login_defs():
    assert lc.core_limit("#* hard core 0\n* soft core 0\n") is None
    assert lc.core_limit("* hard core 0\n") == "0"
    assert lc.core_limit("* hard core 0\n* hard core unlimited\n") == "unlimited"
    assert lc.mode_within(0o600, 0o640) and not lc.mode_within(0o644, 0o640)
    assert lc.umask_covers("077", 0o027) and not lc.umask_covers("022", 0o027)
    assert lc.login_defs("UMASK 027\n#UMASK 000\nUMASK 022\n")["UMASK"] == "022"


def test_ini_logrotate():
    assert lc.ini_values("[Journal]\n#Storage=persistent\nStorage=volatile\n")["Storage"] == "volatile"
    words = lc.logrotate_words("# rotate 3\n/var/log/x {\n  daily\n  rotate 400\n  notifempty\n}\n")
    assert lc.logrotate_days(words) == 400
    assert lc.logrotate_days(lc.logrotate_words("weekly\nrotate 52\n")) == 364


def test_nft_rules():
    ruleset = ("table inet baseline {\n chain input {\n  type filter hook input priority filter; policy drop;\n"
               '  ip saddr 10.231.0.0/24 tcp dport 22 accept comment "ssh"\n  tcp dport { 22, 443 } accept\n'
               "  tcp dport 2222 accept\n }\n}\n")
    rules = lc.nft_accept_rules_for_port(ruleset, 22)
    assert len(rules) == 2 and lc.nft_sources(rules[0]) == ["10.231.0.0/24"] and lc.nft_sources(rules[1]) is None
    assert lc.nft_input_policy_drop(ruleset)
    assert not lc.nft_input_policy_drop(ruleset.replace("policy drop", "policy accept"))


# --- command results -------------------------------------------------------------------------------------------------


def test_grep_exit_status_2_is_an_error_not_nothing_found():
    assert lc.grep_found(0) is True
    assert lc.grep_found(1) is False
    with pytest.raises(lc.CommandError):
        lc.grep_found(2, "grep: /var/log/syslog: No such file or directory")


def test_aide_exit_status():
    assert lc.aide_found_changes(4) and lc.aide_found_changes(5)
    assert not lc.aide_found_changes(1) and not lc.aide_found_changes(0)
    assert not lc.aide_found_changes(17)  # configuration error, not a detection


def test_pending_updates_counts():
    report = "checked: 2024-05-01T00:00:00Z\npending: 3\nsecurity: 2\npackage: openssl\npackage: libc6\npackage: tzdata\n"
    parsed = lc.pending_updates(report)
    assert parsed["security"] == 2 and parsed["pending"] == 3 and parsed["packages"] == ["openssl", "libc6", "tzdata"]
    assert lc.pending_updates("checked: x\npending: 0\nsecurity: 0\n")["security"] == 0
    with pytest.raises(ValueError):
        lc.pending_updates("pending:\nsecurity:\n")  # the words alone, no counts
    with pytest.raises(ValueError):
        lc.pending_updates("checked: x\npending: 1\n")


def test_signature_age():
    assert lc.signature_age_days("signature age: 2 days (limit 7)") == 2
    assert lc.signature_age_days("") is None


def test_plain_probe_outcome():
    assert lc.plain_probe_outcome('{"outcome": "closed", "detail": "", "received": ""}')["outcome"] == "closed"
    assert lc.plain_probe_outcome("")["outcome"] == "error"
    assert "open" not in lc.PLAIN_TCP_ACCEPTED and "timeout" not in lc.PLAIN_TCP_ACCEPTED


def _probe(port: int, wait: str = "1") -> dict:
    proc = subprocess.run([sys.executable, "-c", lc.PLAIN_TCP_PROBE, "127.0.0.1", str(port), "<13>1 x", wait],
                          capture_output=True, text=True, timeout=30, check=False)
    return lc.plain_probe_outcome(proc.stdout)


def test_plain_probe_tells_refused_closed_and_open_apart():
    import socket
    import threading

    free = socket.socket()
    free.bind(("127.0.0.1", 0))
    port = free.getsockname()[1]
    free.close()
    assert _probe(port)["outcome"] == "refused"

    closing = socket.socket()
    closing.bind(("127.0.0.1", 0))
    closing.listen(1)

    def close_after_reading():
        conn, _ = closing.accept()
        conn.recv(100)
        conn.close()

    threading.Thread(target=close_after_reading, daemon=True).start()
    assert _probe(closing.getsockname()[1])["outcome"] == "closed"
    closing.close()

    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(1)
    assert _probe(silent.getsockname()[1])["outcome"] == "open"
    silent.close()


# --- the secret scan (RI-01) ---------------------------------------------------------------------------------------------


def _run_scan(values, roots):
    program = lc.secret_scan_program(values, [str(r) for r in roots])
    proc = subprocess.run([sys.executable, "-"], input=program, capture_output=True, text=True, timeout=120, check=False)
    return program, proc


def test_scan_program_holds_digests_only_and_finds_values(tmp_path):
    value = "Zq8#kP2!vL9xWm4@Tb7e"
    (tmp_path / "etc").mkdir()
    (tmp_path / "etc" / "app.conf").write_text(f"password='{value}'\n")
    (tmp_path / "etc" / "clean.conf").write_text("password=something-else\n")
    key = tmp_path / "etc" / "restic.key"
    key.write_text(value + "\n")
    key.chmod(0o600)
    (tmp_path / "etc" / "app.conf").chmod(0o644)
    program, proc = _run_scan([value], [tmp_path / "etc", tmp_path / "absent"])
    assert value not in program
    assert proc.returncode == 0, proc.stderr
    scan = lc.parse_secret_scan(proc.returncode, proc.stdout, proc.stderr)
    assert set(scan.found) == {str(tmp_path / "etc" / "app.conf"), str(key)}
    key_files, leaked = lc.classify_residue(scan.found)
    assert leaked == [f"{tmp_path / 'etc' / 'app.conf'} (644)"] and key_files == [f"{key} (600)"]


def test_scan_finds_a_value_across_read_chunks_and_nothing_when_absent(tmp_path):
    value = "Ab3#longer-secret-value!"
    big = tmp_path / "big.bin"
    boundary = (1 << 20) - 5
    big.write_bytes(b"x" * boundary + value.encode() + b"y" * 100)
    _, proc = _run_scan([value], [tmp_path])
    assert proc.returncode == 0 and str(big) in json.loads(proc.stdout)["found"]
    _, proc = _run_scan(["not-there-at-all!9"], [tmp_path])
    assert proc.returncode == 1 and lc.parse_secret_scan(proc.returncode, proc.stdout).found == {}


def test_scan_error_status_fails_the_check():
    report = json.dumps({"found": {}, "errors": ["/etc/x: Permission denied"], "files": 3, "bytes": 10})
    with pytest.raises(lc.CommandError):
        lc.parse_secret_scan(2, report)
    with pytest.raises(lc.CommandError):
        lc.parse_secret_scan(1, "Traceback (most recent call last): …")
    with pytest.raises(lc.CommandError):  # status and report disagree
        lc.parse_secret_scan(1, json.dumps({"found": {"/etc/x": 420}, "errors": [], "files": 1, "bytes": 1}))


def test_timer_calendars():
    shown = lc.show_properties("ActiveState=active\nUnitFileState=enabled\nTimersCalendar={ OnCalendar=*-*-* 02:30:00 ; "
                               "next_elapse=Tue 2024-05-07 02:30:00 UTC }\n")
    assert shown["ActiveState"] == "active"
    assert lc.timer_calendars(shown["TimersCalendar"]) == ["*-*-* 02:30:00"]
    assert lc.timer_calendars("") == []


@pytest.mark.parametrize(("expression", "days"), [
    ("*-*-* 04:30:00", 1),  # the daily integrity check
    ("daily", 1),
    ("*-*-* 02,14:00:00", 0.5),
    ("*-*-01/7 02:00:00", 7),  # days 1, 8, 15, 22, 29 and the 1st again: as cron's */7
    ("*-*-01/5 02:17:00", 5),
    ("*-*-01/1 02:00:00", 1),
    ("*-*-* *:00/10:00", 10 / 1440),  # what `systemctl show` makes of *:0/10
    ("*:0/10", 10 / 1440),
    ("Sun *-*-* 01:30:00", 7),
    ("weekly", 7),
    ("Mon..Fri *-*-* 08:00:00", 3),  # Friday to Monday
    ("Sat,Sun 10:00", 6),
    ("*-*-* 04:30:00 Asia/Shanghai", 1),
    ("*-*-31 00:00:00", 61),  # only the months that have a 31st: July to August is 31 days, August to October 61
    ("*-02-29 00:00:00", 1461),
])
def test_calendar_interval_is_the_longest_gap_between_runs(expression, days):
    assert lc.calendar_interval_days(expression) == pytest.approx(days)


@pytest.mark.parametrize("expression", ["", "bogus", "2025-*-* 00:00:00", "*-*~01 00:00:00", "*-*-* 04:30:00.5",
                                        "Xyz *-*-* 00:00:00", "*-13-01 00:00:00", "*-*-01/0 00:00:00"])
def test_unreadable_calendar_is_never_taken_for_a_frequent_one(expression):
    assert lc.calendar_interval_days(expression) is None


TIMER = ("Triggers=baseline-aide.service\nTimersCalendar={ OnCalendar=*-*-* 04:30:00 ; next_elapse=Thu 2026-12-03 "
         "04:30:00 UTC }\nActiveState=active\nUnitFileState=enabled\n")
SERVICE = ("ExecStart={ path=/usr/local/sbin/baseline-aide-check ; argv[]=/usr/local/sbin/baseline-aide-check ; "
           "ignore_errors=no ; start_time=[n/a] ; stop_time=[n/a] ; pid=0 ; code=(null) ; status=0/0 }\n")


def test_exec_commands_of_a_service():
    assert lc.exec_commands(SERVICE) == [["/usr/local/sbin/baseline-aide-check"]]
    two = SERVICE + SERVICE.replace("argv[]=/usr/local/sbin/baseline-aide-check", "argv[]=/bin/sh -c true")
    assert lc.exec_commands(two)[1] == ["/bin/sh", "-c", "true"]
    assert lc.exec_commands("ExecStart=\n") == []


def test_an_enabled_daily_timer_running_the_program_passes():
    schedule = lc.timer_schedule(TIMER, SERVICE)
    assert lc.timer_service(TIMER, "baseline-aide.timer") == "baseline-aide.service"
    assert lc.timer_service("", "baseline-x.timer") == "baseline-x.service"
    assert schedule.interval_days == 1
    assert schedule.problems("/usr/local/sbin/baseline-aide-check", 1) == []


@pytest.mark.parametrize(("timer", "service", "max_days", "problem"), [
    (TIMER.replace("UnitFileState=enabled", "UnitFileState=disabled").replace("=active", "=inactive"), SERVICE, 1,
     "timer is inactive and disabled"),  # systemctl disable --now
    ("ActiveState=inactive\nUnitFileState=\nTimersCalendar=\nTriggers=\n", "ExecStart=\n", 1,
     "no readable OnCalendar schedule"),  # the unit is not installed
    (TIMER.replace("*-*-* 04:30:00", "Mon *-*-* 04:30:00"), SERVICE, 1, "runs every 7 days at the longest"),
    (TIMER.replace("*-*-* 04:30:00", "*-*-01/8 02:00:00"), SERVICE, 7, "expected at most 7"),
    (TIMER, SERVICE.replace("argv[]=/usr/local/sbin/baseline-aide-check", "argv[]=/bin/true"), 1,
     "does not run /usr/local/sbin/baseline-aide-check"),
])
def test_a_timer_that_is_off_too_rare_or_runs_something_else_fails(timer, service, max_days, problem):
    problems = lc.timer_schedule(timer, service).problems("/usr/local/sbin/baseline-aide-check", max_days)
    assert any(problem in p for p in problems), problems


# --- sudo and file-system refusals (AC-03, AU-03 probes) -----------------------------------------------------------------


@pytest.mark.parametrize(("rc", "stderr", "expected"), [
    (1, "Sorry, user blaud1 is not allowed to execute '/usr/bin/systemctl --version' as root on app1.\n", "refused"),
    (0, "", "ran"),
    (1, "Sorry, try again.\nsudo: 1 incorrect password attempt\n", "authentication failed"),
    (1, "sudo: a password is required\n", "authentication failed"),
    (1, "sudo: unknown user blaud1\n", "other (rc 1): sudo: unknown user blaud1"),
])
def test_sudo_attempt_tells_a_policy_refusal_from_a_failed_password(rc, stderr, expected):
    assert lc.sudo_attempt(rc, stderr) == expected


@pytest.mark.parametrize(("rc", "stdout", "expected"), [
    (0, "/usr/bin/systemctl\n", "permitted"),
    (1, "", "not permitted"),
    (0, "", "error (rc 0)"),  # exit 0 without the command: not read as a refusal
    (2, "", "error (rc 2)"),
])
def test_sudo_list_permits(rc, stdout, expected):
    assert lc.sudo_list_permits(rc, stdout, "/usr/bin/systemctl") == expected


@pytest.mark.parametrize(("rc", "stderr", "refused"), [
    (1, "head: cannot open '/var/log/auth.log' for reading: Permission denied", True),
    (1, "rm: cannot remove '/var/log/x': Operation not permitted", True),
    (0, "", False),
    (1, "sudo: a password is required", False),  # sudo refused to switch users: proves nothing about the log
    (1, "head: cannot open '/var/log/auth.log' for reading: No such file or directory", False),
])
def test_permission_refused_only_for_the_file_systems_refusal(rc, stderr, refused):
    assert lc.permission_refused(rc, stderr) is refused


def test_probe_passwords_meet_every_rule_a_host_checks():
    """A check's "compliant" probe password must never be refused by a compliant host: classes, exact length, no
    character three times in a row, at most three sequence steps (cracklib refuses more than four)."""
    for length in (4, 10, 16, 22):
        for _ in range(500):
            password = lc.probe_password(length)
            assert len(password) == length
            assert any(c.islower() for c in password) and any(c.isupper() for c in password)
            assert any(c.isdigit() for c in password) and any(c in SPECIALS for c in password)
            assert not re.search(r"(.)\1\1", password)
            assert lc.sequence_steps(password) <= 3
    plain = lc.probe_password(16, special=False)
    assert plain.isalnum() and len(plain) == 16


def test_sequence_steps_counts_what_cracklib_counts():
    assert lc.sequence_steps("abcde") == 4
    assert lc.sequence_steps("QoN7Wshvcq1bCRqrS#7") == 5  # a password cracklib refused as too systematic
    assert lc.sequence_steps("x#y") == 0
