"""Drifts of the lab: for every automated or partial control, a hand change that breaks it on one lab host or
device, the compliance checks that must then fail (exactly those), and the run that repairs it.

A drift is applied after the lab was hardened (scripts/demo, then playbooks/linux.yml once more, as
tests/lab/test_linux_baseline.py does): the suites must pass before it. Data only: the lab tests apply the drifts
batch by batch, run the suites on the batch's hosts, compare the failed checks with `Batch.expected`, run
`Batch.repair` and expect the suites to pass again.

- `command` on a server is a shell command run over SSH as the automation account (sudo inside); on a network
  device it is a tuple of CLI lines sent in configuration mode (as `scripts/netdev push` sends its lines); on
  CONTROLLER it runs in the repository root of the controller (the restore-drill evidence lives there).
- `expected` holds check names as the results record them, without parameters: `compliance_tests/…::test_…` for
  servers and databases, `netdev.<check>` for the device audit.
- `repair` holds the arguments of `ansible-playbook` (servers, databases, drill) or of `scripts/netdev` (devices).

Every hand change under /etc, /usr/bin, /usr/sbin or /usr/local on a host with the server baseline (every Linux
host but kern1) is also an integrity difference (IP-05, AIDE), and the repair rewrites or removes each changed
path, so that the run approves it; no drift leaves a watched file behind that the roles do not manage (IP-02's
runtime drop-in lives in /run, BR-03's set-aside results on the controller). Every device
drift also fails the offline-backup check (NW-08): the configuration differs from the last archive until the
push backs the device up, changes it, saves it and archives the result.
"""

from __future__ import annotations

from dataclasses import dataclass

from baseline.secrets import generate

CONTROLLER = "localhost"  # drifts made on the controller itself (evidence kept in results/)
LINUX = ("playbooks/preflight.yml", "playbooks/linux.yml")
DATABASES = ("playbooks/databases.yml",)
DRILL = ("playbooks/restore_drill.yml",)
PLAYBOOK_ORDER = ("playbooks/preflight.yml", "playbooks/linux.yml", "playbooks/databases.yml", "playbooks/restore_drill.yml")


def _check(path: str, name: str) -> str:
    return f"compliance_tests/{path}::{name}"


# Compliance checks (test functions, no parameters).
AIDE = _check("linux/test_hardening.py", "test_aide_detects_a_changed_binary")
ROOT_SSH_AND_SHELLS = _check("linux/test_accounts.py", "test_no_root_ssh_and_system_accounts_without_shells")
ROSTER = _check("linux/test_accounts.py", "test_accounts_match_the_roster")
SUDO_ROLES = _check("linux/test_accounts.py", "test_sudo_roles_separated_without_nopasswd_all")
CLAMD_MIRROR = _check("linux/test_antimalware.py", "test_clamd_runs_with_signatures_from_the_mirror")
AUDITD_RULES = _check("linux/test_audit.py", "test_auditd_runs_with_the_baseline_rules")
AUDIT_LOCKED = _check("linux/test_audit.py", "test_audit_rules_locked_and_daemon_restarted")
TIME_SOURCES = _check("linux/test_audit.py", "test_time_only_from_the_platform_sources")
TIME_SYNC = _check("linux/test_audit.py", "test_time_synchronised")
LOG_OVER_TLS = _check("linux/test_audit.py", "test_message_arrives_on_the_log_server_over_tls")
LOCAL_LOGS = _check("linux/test_audit.py", "test_local_logs_protected")
LOG_YEAR = _check("linux/test_audit.py", "test_log_server_keeps_a_year")
DEVICE_SYSLOG = _check("linux/test_audit.py",
                       "test_log_server_takes_device_syslog_only_from_device_management_networks")
KERNEL_PARAMETERS = _check("linux/test_audit.py", "test_kernel_parameters")
FILE_BACKUP_OFFSITE = _check("linux/test_backups.py", "test_file_backup_has_an_encrypted_off_site_copy")
FORBIDDEN_PACKAGES = _check("linux/test_hardening.py", "test_forbidden_packages_absent")
LISTENERS = _check("linux/test_hardening.py", "test_only_allowlisted_listeners")
FIREWALL = _check("linux/test_hardening.py", "test_firewall_default_deny_with_management_from_admin_networks")
UNLISTED_PORT = _check("linux/test_hardening.py", "test_unlisted_port_is_unreachable")
UPDATES = _check("linux/test_hardening.py", "test_security_updates_configured_and_pending_reported")
CORE_DUMPS = _check("linux/test_hardening.py", "test_no_core_dumps_and_tmp_cleared")
FILE_MODES = _check("linux/test_hardening.py", "test_sensitive_file_permissions_and_umask")
NO_EMPTY_PASSWORD = _check("linux/test_identification.py", "test_identities_are_unique_and_no_password_is_empty")
PWQUALITY = _check("linux/test_identification.py", "test_pwquality_matches_policy")
PASSWD_BEHAVIOUR = _check("linux/test_identification.py",
                          "test_passwd_rejects_short_and_plain_passwords_and_accepts_a_compliant_one")
AGEING = _check("linux/test_identification.py", "test_password_ageing_and_history")
LOCKOUT_AND_TIMEOUTS = _check("linux/test_identification.py", "test_lockout_and_idle_timeouts_match_policy")
SSH_ALGORITHMS = _check("linux/test_identification.py", "test_ssh_protocol_2_with_strong_algorithms")
SSH_WEAK_REFUSED = _check("linux/test_identification.py", "test_ssh_refuses_weak_algorithms_at_negotiation")
SECOND_FACTOR_GROUP = _check("linux/test_identification.py", "test_second_factor_group_holds_the_administrators")
MODULES_CONFIG = _check("linux/test_hardening.py", "test_unneeded_kernel_modules_blocked_in_modprobe_config")
MODULES_LOADABLE = _check("linux/test_hardening.py", "test_unneeded_kernel_modules_cannot_be_loaded")
NETWORK_PARAMETERS = _check("linux/test_hardening.py", "test_network_parameters")
KERNEL_PERSISTED = _check("linux/test_hardening.py", "test_kernel_parameters_persisted")
CRON_AT = _check("linux/test_hardening.py", "test_cron_and_at_restricted_to_allow_lists")
STAFF_HOMES = _check("linux/test_hardening.py", "test_staff_homes_and_start_up_files_private")
SSH_SETTINGS = _check("linux/test_identification.py", "test_ssh_forwarding_off_and_sshd_config_shows_the_settings")
SSH_FORWARDING = _check("linux/test_identification.py", "test_ssh_tcp_forwarding_is_refused")
BANNERS = _check("linux/test_identification.py", "test_login_banners_name_the_platform_and_not_the_system")
YESCRYPT = _check("linux/test_identification.py", "test_new_passwords_are_hashed_with_yescrypt")
SUDO_PTY_LOG = _check("linux/test_accounts.py", "test_sudo_runs_in_a_pty_and_keeps_its_log")
ROOT_MAIL = _check("linux/test_accounts.py", "test_root_mail_goes_to_the_operations_team")
PG_SCRAM_ONLY = _check("databases/test_db_postgresql.py", "test_passwords_are_stored_and_checked_as_scram_only")
PG_NO_PLAIN = _check("databases/test_db_postgresql.py", "test_remote_connection_without_tls_is_refused")
PG_UNGRANTED_TABLE = _check("databases/test_db_postgresql.py", "test_application_account_cannot_read_a_table_it_was_not_granted")
PG_GRANTS = _check("databases/test_db_postgresql.py", "test_table_privileges_are_exactly_those_of_the_inventory")
MARIADB_LOCKOUT = _check("databases/test_db_mariadb.py", "test_accounts_are_blocked_after_the_policy_number_of_failures")
MARIADB_DEFAULTS = _check("databases/test_db_mariadb.py", "test_no_anonymous_users_no_test_database_no_remote_root")
MARIADB_AUDIT = _check("databases/test_db_mariadb.py", "test_ddl_statement_appears_in_the_audit_log")
PGBACKREST_RETENTION = _check("databases/test_db_backups.py", "test_pgbackrest_retention_follows_the_policy")
DB_BACKUP_OFFSITE = _check("databases/test_db_backups.py", "test_latest_backup_has_an_encrypted_off_site_copy")
DRILL_RECENT = _check("databases/test_db_backups.py", "test_a_verified_restore_drill_is_recent")

# Device audit checks (baseline/netdev/audit.py, recorded as netdev.<function>).
NW_ACCOUNTS = "netdev.individual_accounts_and_password_policy"
NW_LOCKOUT = "netdev.login_lockout_and_idle_timeout"
NW_SSH_ONLY = "netdev.ssh_only_management"
NW_MGMT_ACL = "netdev.management_acl_and_privilege_levels"
NW_LOGGING = "netdev.logging_and_ntp"
NW_SERVICES = "netdev.minimal_services_and_snmpv3"
NW_BOUNDARY = "netdev.boundary_acl_default_deny"
NW_BACKUP = "netdev.configuration_backed_up_offline"


@dataclass(frozen=True)
class Drift:
    """A hand change that breaks `control` on `host`, the checks that fail because of it, and its repair."""

    control: str
    host: str
    command: str | tuple[str, ...]
    expected: frozenset[str]
    repair: tuple[str, ...]
    doc: str = ""

    @property
    def on_device(self) -> bool:
        return not isinstance(self.command, str)

    @property
    def on_controller(self) -> bool:
        return self.host == CONTROLLER


def _playbooks(host: str, tags: str, books: tuple[str, ...]) -> tuple[str, ...]:
    return ("--limit", host, "--tags", tags, *books)


def linux(control: str, host: str, command: str, expected: set[str], doc: str, *, tags: str = "") -> Drift:
    """A drift of the server baseline, repaired by playbooks/linux.yml limited to the host and the control's tag."""
    return Drift(control, host, command, frozenset(expected), _playbooks(host, tags or control, LINUX), doc)


def database(control: str, host: str, command: str, expected: set[str], doc: str) -> Drift:
    """A drift of the database and backup baseline, repaired by playbooks/databases.yml."""
    return Drift(control, host, command, frozenset(expected), _playbooks(host, control, DATABASES), doc)


def device(control: str, name: str, lines: tuple[str, ...], expected: set[str], doc: str) -> Drift:
    """A drift of a network device, repaired by `scripts/netdev -l NAME push`."""
    return Drift(control, name, lines, frozenset(expected), ("-l", name, "push"), doc)


# --- Linux servers: app1, log1, bak1, drill1 (server baseline) and kern1 (kernel-level controls only) -------------

IA_01 = linux(
    "IA-01", "drill1",
    'sudo passwd -d lp >/dev/null && test -z "$(sudo getent shadow lp | cut -d: -f2)"',
    {NO_EMPTY_PASSWORD, AIDE},
    "System account lp with an empty password; the run locks it (! instead of the former *).")

IA_02 = linux(
    "IA-02", "app1",
    "sudo sed -i 's/^minlen.*/minlen = 8/' /etc/security/pwquality.conf.d/50-baseline.conf"
    " && sudo grep -qx 'minlen = 8' /etc/security/pwquality.conf.d/50-baseline.conf",
    {PWQUALITY, PASSWD_BEHAVIOUR, AIDE},
    "pwquality minimum length 8 in the baseline drop-in: a 9-character password is accepted.")

IA_03 = linux(
    "IA-03", "log1",
    r"sudo sed -i 's/^PASS_MAX_DAYS\s.*/PASS_MAX_DAYS\t99999/' /etc/login.defs"
    r" && sudo grep -qP '^PASS_MAX_DAYS\t99999$' /etc/login.defs",
    {AGEING, AIDE},
    "No maximum password age for new accounts. Repair adds IA-01: with --tags IA-03 alone the roster task of "
    "roles/accounts/tasks/staff.yml runs without the facts IA-01's tasks compute (accounts_active is undefined).",
    tags="IA-03,IA-01")

IA_04 = linux(
    "IA-04", "bak1",
    "sudo sed -i 's/^TMOUT=.*/TMOUT=3600/' /etc/profile.d/50-baseline.sh"
    " && sudo grep -qx 'TMOUT=3600' /etc/profile.d/50-baseline.sh",
    {LOCKOUT_AND_TIMEOUTS, AIDE},
    "Shell idle timeout of an hour in the baseline profile script.")

IA_05 = linux(
    "IA-05", "app1",
    r"printf 'Ciphers aes128-cbc,aes256-ctr\n' | sudo tee /etc/ssh/sshd_config.d/01-drift.conf >/dev/null"
    r" && if sudo sshd -t; then sudo systemctl reload ssh;"
    r" else sudo rm -f /etc/ssh/sshd_config.d/01-drift.conf; exit 1; fi"
    r" && sudo sshd -T | grep -qx 'ciphers aes128-cbc,aes256-ctr'",
    {SSH_ALGORITHMS, SSH_WEAK_REFUSED, AIDE},
    "A stray sshd drop-in read before the baseline's offers a CBC cipher (aes256-ctr kept: logins still work), which "
    "a client offering only aes128-cbc then negotiates; the run removes stray drop-ins.")

IA_06 = linux(
    "IA-06", "bak1",
    "sudo gpasswd -d zhangwei ssh2fa >/dev/null && ! id -nG zhangwei | grep -qw ssh2fa",
    {SECOND_FACTOR_GROUP, AIDE},
    "A system administrator leaves the second-factor group (key alone lets him in). Repair adds IA-01 for the "
    "same reason as IA-03.",
    tags="IA-06,IA-01")

AC_01 = linux(
    "AC-01", "app1",
    "sudo usermod -s /bin/bash games && getent passwd games | grep -q ':/bin/bash$'",
    {ROOT_SSH_AND_SHELLS, AIDE},
    "System account games gets a login shell.")

AC_02 = linux(
    "AC-02", "bak1",
    "sudo sed -i 's/^from=\"[^\"]*\" //' /home/zhaolei/.ssh/authorized_keys"
    " && ! sudo grep -q '^from=' /home/zhaolei/.ssh/authorized_keys"
    " && sudo grep -q '^ssh-' /home/zhaolei/.ssh/authorized_keys",
    {ROSTER},
    "A staff key usable from anywhere (from= removed); /home is outside the integrity database.")

AC_03 = linux(
    "AC-03", "bak1",
    "sudo sh -c 'f=/etc/sudoers.d/50-baseline-roles; t=/root/.bl-sudoers;"
    " sed \"s/^%operators ALL=(root) OPERATOR\\$/%operators ALL=(root) NOPASSWD: OPERATOR/\" \"$f\" > \"$t\""
    " && grep -q \"NOPASSWD: OPERATOR\" \"$t\" && visudo -cqf \"$t\" && cat \"$t\" > \"$f\"; rc=$?; rm -f \"$t\"; exit $rc'",
    {SUDO_ROLES, AIDE},
    "Operators' rule without password in the baseline sudoers file (checked with visudo before it is written).")

AC_04 = linux(
    "AC-04", "log1",
    "sudo chmod 0644 /etc/crontab",
    {FILE_MODES, AIDE},
    "/etc/crontab readable by everyone.")

AU_01 = linux(
    "AU-01", "kern1",
    "sudo systemctl stop auditd && ! systemctl is-active --quiet auditd",
    {AUDITD_RULES},
    "auditd stopped (its rules stay loaded: they are immutable until reboot); the run starts it again.")

AU_02 = linux(
    "AU-02", "app1",
    r"printf 'pool 2.debian.pool.ntp.org iburst\n' | sudo tee -a /etc/chrony/chrony.conf >/dev/null",
    {TIME_SOURCES, AIDE},
    "A public NTP pool besides the platform's source.")

AU_02_SYNC = linux(
    "AU-02", "kern1",
    "sudo systemctl stop chrony && ! systemctl is-active --quiet chrony",
    {TIME_SYNC},
    "chronyd stopped on the VM: its clock no longer follows the platform's time source; the run starts it again.")

AU_03 = linux(
    "AU-03", "bak1",
    "sudo chmod o+r /var/log/wtmp",
    {LOCAL_LOGS},
    "Login records readable by everyone (/var/log is outside the integrity database). No package is installed on "
    "this host in the batch: dpkg's hook of the baseline would take the bit away again.")

AU_04 = linux(
    "AU-04", "log1",
    r"sudo sed -i 's/^\(\s*\)rotate [0-9][0-9]*$/\1rotate 30/' /etc/logrotate.d/baseline-remote"
    r" && sudo grep -qE '^\s*rotate 30$' /etc/logrotate.d/baseline-remote",
    {LOG_YEAR, AIDE},
    "Received records kept 30 days instead of a year.")

AU_05 = linux(
    "AU-05", "kern1",
    "sudo sed -i 's/^Restart=on-failure$/Restart=no/' /etc/systemd/system/auditd.service.d/50-baseline.conf"
    " && sudo systemctl daemon-reload && systemctl show -p Restart auditd | grep -qx 'Restart=no'",
    {AUDIT_LOCKED},
    "auditd no longer restarted after a failure (the baseline's unit drop-in). The -e 2 lock cannot be lifted "
    "without a reboot: see NOT_DRIFTABLE.")

IP_01 = linux(
    "IP-01", "app1",
    "sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends inetutils-ftpd >/dev/null",
    {FORBIDDEN_PACKAGES, AIDE},
    "A forbidden FTP server installed (no dependency and no listener of its own: inetutils-ftpd needs no inetd); "
    "the run purges it, which removes every file it brought.")

IP_02 = linux(
    "IP-02", "drill1",
    r"""test "$(systemctl is-enabled rsync.service 2>/dev/null)" = masked"""
    r" && sudo mkdir -p /run/systemd/system/rsync.service.d"
    r" && printf '[Unit]\nConditionPathExists=\n[Service]\nExecStart=\n"
    r"ExecStart=/usr/bin/rsync --daemon --no-detach --config=/dev/null\n'"
    r" | sudo tee /run/systemd/system/rsync.service.d/50-drift.conf >/dev/null"
    r" && sudo systemctl unmask rsync.service && sudo systemctl daemon-reload && sudo systemctl start rsync.service"
    r" && sleep 2 && sudo ss -Hltn | grep -q ':873 '",
    {LISTENERS, AIDE},
    "rsync (from the drill's mariadb-server) unmasked and listening on 873. The runtime drop-in in /run makes it "
    "start without /etc/rsyncd.conf; the run masks and stops the unit again, the drop-in goes at the next boot.")

IP_03 = linux(
    "IP-03", "bak1",
    "sudo sed -i 's/hook input priority filter; policy drop;/hook input priority filter; policy accept;/'"
    " /etc/nftables.conf && sudo nft -c -f /etc/nftables.conf && sudo nft -f /etc/nftables.conf"
    " && sudo nft list chain inet baseline input | grep -q 'policy accept;'",
    {FIREWALL, UNLISTED_PORT, AIDE},
    "Input chain accepts by default, in the ruleset file and loaded (the SSH session stays).")

IP_04 = linux(
    "IP-04", "app1",
    "sudo sed -i 's/^APT::Periodic::Unattended-Upgrade \"1\";/APT::Periodic::Unattended-Upgrade \"0\";/'"
    " /etc/apt/apt.conf.d/52baseline-unattended-upgrades"
    " && apt-config dump | grep -qx 'APT::Periodic::Unattended-Upgrade \"0\";'",
    {UPDATES, AIDE},
    "Automatic security updates switched off in the baseline's apt settings.")

IP_05 = linux(
    "IP-05", "bak1",
    "sudo systemctl disable --now baseline-aide.timer"
    " && ! systemctl is-enabled --quiet baseline-aide.timer && ! systemctl is-active --quiet baseline-aide.timer",
    {AIDE},
    "The daily integrity check is no longer scheduled: its timer disabled and stopped (the link removed from "
    "/etc/systemd/system/timers.target.wants is an integrity difference too; the run enables the timer again).")

MP_01 = linux(
    "MP-01", "log1",
    r"printf 'DatabaseMirror database.clamav.net\n' | sudo tee -a /etc/clamav/freshclam.conf >/dev/null",
    {CLAMD_MIRROR, AIDE},
    "freshclam told to pull from the internet as well (not restarted: the running one keeps the mirror).")

IN_01 = linux(
    "IN-01", "app1",
    "sudo sed -i 's/StreamDriverMode=\"1\"/StreamDriverMode=\"0\"/' /etc/rsyslog.d/50-baseline-forward.conf"
    " && sudo grep -q 'StreamDriverMode=\"0\"' /etc/rsyslog.d/50-baseline-forward.conf",
    {LOG_OVER_TLS, AIDE},
    "Log forwarding set to plain TCP in the file (rsyslog not restarted, so no record is lost meanwhile).")

CF_01 = linux(
    "CF-01", "bak1",
    "sudo sed -i 's|StreamDriverAuthMode=\"x509/name\"|StreamDriverAuthMode=\"anon\"|'"
    " /etc/rsyslog.d/50-baseline-forward.conf"
    " && sudo grep -q 'StreamDriverAuthMode=\"anon\"' /etc/rsyslog.d/50-baseline-forward.conf",
    {LOG_OVER_TLS, AIDE},
    "Log forwarding no longer checks the log server's certificate (file only, rsyslog not restarted).")

NW_05_LOG_SERVER = linux(
    "NW-05", "log1",
    r"""sudo sed -i '/comment "syslog-devices"$/s/ip saddr { [^}]* } //' /etc/nftables.conf"""
    " && sudo nft -c -f /etc/nftables.conf && sudo nft -f /etc/nftables.conf"
    """ && sudo nft list chain inet baseline input | grep -F 'comment "syslog-devices"' | grep -vq saddr""",
    {DEVICE_SYSLOG, AIDE},
    "The log server's UDP rule for network devices' syslog opened to any source (file and loaded ruleset); the "
    "firewall's data lives in server_inbound_services, so the repair runs IP-03 besides NW-05.",
    tags="NW-05,IP-03")

RI_01 = linux(
    "RI-01", "bak1",
    r"sudo sed -i 's/^\* hard core 0$/* hard core unlimited/' /etc/security/limits.d/50-baseline.conf"
    r" && sudo grep -qx '\* hard core unlimited' /etc/security/limits.d/50-baseline.conf",
    {CORE_DUMPS, AIDE},
    "Core dumps allowed again in the baseline limits file.")

RI_01_KERNEL = linux(
    "RI-01", "kern1",
    "sudo sysctl -qw fs.suid_dumpable=1",
    {KERNEL_PARAMETERS},
    "Privileged programs may dump core (kernel parameter, runtime only; the run sets it back through sysctl -w).")

# Server hardening depth (roles/hardening, roles/accounts): one drift per item, each on a host and a file no other
# drift of the batch touches.
IP_01_MODULES = linux(
    "IP-01", "kern1",
    "sudo sed -i '/^install usb-storage /d' /etc/modprobe.d/50-baseline.conf"
    " && ! sudo grep -q '^install usb-storage ' /etc/modprobe.d/50-baseline.conf",
    {MODULES_CONFIG, MODULES_LOADABLE},
    "usb-storage loadable again: its install rule removed from the baseline's modprobe file (the blacklist line "
    "alone does not stop `modprobe usb-storage`); kern1 has no integrity database.")

IP_03_SYSCTL = linux(
    "IP-03", "log1",
    "sudo sysctl -qw net.ipv4.conf.all.accept_redirects=1"
    " && test \"$(/usr/sbin/sysctl -n net.ipv4.conf.all.accept_redirects)\" = 1",
    {NETWORK_PARAMETERS},
    "ICMP redirects accepted again (runtime only, the file keeps 0; the run sets it back through sysctl -w).")

RI_01_PERSISTED = linux(
    "RI-01", "drill1",
    r"sudo sed -i 's/^kernel.sysrq\s*=.*/kernel.sysrq = 1/' /etc/sysctl.d/99-zz-baseline-kernel.conf"
    r" && sudo grep -qx 'kernel.sysrq = 1' /etc/sysctl.d/99-zz-baseline-kernel.conf",
    {KERNEL_PERSISTED, AIDE},
    "The magic SysRq key enabled in the persisted kernel parameters of a container (it cannot set them live: the "
    "file is what would apply on its own kernel).")

IA_05_FORWARDING = linux(
    "IA-05", "drill1",
    r"printf 'AllowTcpForwarding yes\n' | sudo tee /etc/ssh/sshd_config.d/01-forwarding.conf >/dev/null"
    r" && if sudo sshd -t; then sudo systemctl reload ssh;"
    r" else sudo rm -f /etc/ssh/sshd_config.d/01-forwarding.conf; exit 1; fi"
    r" && sudo sshd -T | grep -qx 'allowtcpforwarding yes'",
    {SSH_SETTINGS, SSH_FORWARDING, AIDE},
    "A stray sshd drop-in read before the baseline's allows TCP forwarding: sshd -T no longer matches sshd_config, "
    "and a forwarded connection to the host's own SSH port gets through; the run removes stray drop-ins.")

IA_05_BANNER = linux(
    "IA-05", "app1",
    r"printf 'Debian GNU/Linux 12 \\n \\l\n' | sudo tee /etc/issue >/dev/null"
    r" && sudo grep -q '^Debian GNU/Linux' /etc/issue",
    {BANNERS, AIDE},
    "The distribution's console banner back in /etc/issue (system name and version, no platform notice).")

AC_03_SUDO = linux(
    "AC-03", "log1",
    "sudo chmod 0755 /etc/sudoers.d && test \"$(stat -c %a /etc/sudoers.d)\" = 755",
    {SUDO_PTY_LOG, AIDE},
    "The sudoers drop-in directory readable by everyone.")

AC_04_CRON = linux(
    "AC-04", "drill1",
    r"printf 'games\n' | sudo tee -a /etc/cron.allow >/dev/null && sudo grep -qx games /etc/cron.allow",
    {CRON_AT, AIDE},
    "A system account allowed to use cron.")

AC_04_HOMES = linux(
    "AC-04", "log1",
    "sudo chmod g+w /home/liuyang/.bashrc && test -n \"$(sudo find /home/liuyang/.bashrc -perm -g+w)\"",
    {STAFF_HOMES},
    "A staff member's .bashrc writable by their group (/home is outside the integrity database).")

AC_01_ROOT_MAIL = linux(
    "AC-01", "app1",
    "sudo sed -i 's/^root:.*/root: someone@example.org/' /etc/aliases && sudo grep -qx 'root: someone@example.org' "
    "/etc/aliases",
    {ROOT_MAIL, AIDE},
    "root's mail sent to an address outside the operations team.")

IA_02_YESCRYPT = linux(
    "IA-02", "drill1",
    r"sudo sed -i 's/^ENCRYPT_METHOD\s.*/ENCRYPT_METHOD\tSHA512/' /etc/login.defs"
    r" && sudo grep -qP '^ENCRYPT_METHOD\tSHA512$' /etc/login.defs",
    {YESCRYPT, AIDE},
    "Account tools (chpasswd, newusers) hash with SHA-512 again instead of yescrypt.")

# --- Databases and backups: db1 (PostgreSQL), db2 (MariaDB), the drill evidence on the controller ------------------

DB_01 = database(
    "DB-01", "db1",
    "sudo sed -i \"s/^password_encryption = .*/password_encryption = 'md5'/\""
    " /etc/postgresql/15/main/conf.d/50-baseline.conf && sudo systemctl reload postgresql@15-main && sleep 1"
    " && test \"$(cd /tmp && sudo -u postgres psql -XAtc 'SHOW password_encryption')\" = md5",
    {PG_SCRAM_ONLY, AIDE},
    "New passwords hashed with MD5 (baseline drop-in, reloaded).")

DB_02 = database(
    "DB-02", "db2",
    "sudo sed -i 's/^max_password_errors = .*/max_password_errors = 4294967295/'"
    " /etc/mysql/mariadb.conf.d/60-baseline.cnf"
    " && sudo mariadb -e 'SET GLOBAL max_password_errors = 4294967295'",
    {MARIADB_LOCKOUT, AIDE},
    "No blocking after failed logins (file and running server; the run restarts MariaDB with the file).")

DB_03 = database(
    "DB-03", "db1",
    r"sudo sed -i 's/^\(hostnossl .*\)reject$/\1scram-sha-256/' /etc/postgresql/15/main/pg_hba.conf"
    r" && sudo grep -q '^hostnossl .*scram-sha-256$' /etc/postgresql/15/main/pg_hba.conf"
    r" && sudo systemctl reload postgresql@15-main",
    {PG_NO_PLAIN, AIDE},
    "pg_hba lets remote clients in without TLS.")

DB_04 = database(
    "DB-04", "db2",
    "sudo mariadb -e 'CREATE DATABASE test'",
    {MARIADB_DEFAULTS},
    "The test database is back (data directory: outside the integrity database).")

DB_05 = database(
    "DB-05", "db1",
    "cd /tmp && sudo -u postgres psql -XAtq -v ON_ERROR_STOP=1 -d credit -c 'GRANT SELECT ON staff_note TO credit_app'",
    {PG_UNGRANTED_TABLE, PG_GRANTS},
    "The application account may read the DBAs' table; the run revokes what the inventory does not grant.")

DB_06 = database(
    "DB-06", "db2",
    "sudo sed -i 's/^server_audit_logging = ON$/server_audit_logging = OFF/' /etc/mysql/mariadb.conf.d/60-baseline.cnf"
    " && sudo grep -qx 'server_audit_logging = OFF' /etc/mysql/mariadb.conf.d/60-baseline.cnf"
    " && sudo mariadb -e 'SET GLOBAL server_audit_logging = OFF'",
    {MARIADB_AUDIT, AIDE},
    "Audit logging off (file and running server; the run restarts MariaDB with the file).")

BR_01 = database(
    "BR-01", "db1",
    "sudo sed -i 's/^repo1-retention-full=.*/repo1-retention-full=1/' /etc/pgbackrest.conf"
    " && sudo grep -qx 'repo1-retention-full=1' /etc/pgbackrest.conf",
    {PGBACKREST_RETENTION, AIDE},
    "pgBackRest keeps one full backup instead of the policy's count.")

BR_02 = database(
    "BR-02", "db2",
    """sudo sh -c 'f=/etc/baseline/backup/known_hosts; a=$(cut -d" " -f1 "$f");"""
    """ k=$(cut -d" " -f1,2 /etc/ssh/ssh_host_ed25519_key.pub); printf "%s %s\\n" "$a" "$k" > "$f"'""",
    {DB_BACKUP_OFFSITE, FILE_BACKUP_OFFSITE, AIDE},
    "The pinned host key of the off-site store is wrong (db2's own): restic cannot reach its encrypted copies. "
    "The client-only run reads the store's key on the store again.")

BR_03 = Drift(
    "BR-03", CONTROLLER,
    'mv results/restore-drill "results/restore-drill.set-aside-$(date -u +%Y%m%dT%H%M%SZ)"',
    frozenset({DRILL_RECENT}),
    _playbooks("drill1", "BR-03", DRILL),
    "No verified drill on record: the drill results are set aside (kept, under another name); a new drill "
    "restores the latest backups of db1 and db2 on drill1 and records them.")

# --- Network devices (simulator): sw-acc-01 (VRP5), sw-acc-02 and fw-border-01 (Comware), rt-border-02 (IOS) --------

# The shared account's password: made afresh for each run, never written in the repository.
SHARED_PASSWORD = generate(name="the shared device account's password")

NW_01 = device(
    "NW-01", "sw-acc-01",
    ("aaa", f"local-user admin password irreversible-cipher {SHARED_PASSWORD}", "local-user admin privilege level 15",
     "local-user admin service-type ssh", "quit"),
    {NW_ACCOUNTS, NW_BACKUP},
    "A shared admin account; the push removes accounts outside the roster.")

NW_02 = device(
    "NW-02", "sw-acc-02",
    ("line vty 0 63", "idle-timeout 0 0", "quit"),
    {NW_LOCKOUT, NW_BACKUP},
    "vty sessions never time out.")

NW_03 = device(
    "NW-03", "sw-acc-01",
    ("telnet server enable",),
    {NW_SSH_ONLY, NW_BACKUP},
    "Telnet server on.")

NW_04 = device(
    "NW-04", "rt-border-02",
    ("line vty 0 4", "no access-class MGMT-SSH in", "exit"),
    {NW_MGMT_ACL, NW_BACKUP},
    "vty no longer limited to the admin networks (opens, never locks out).")

NW_05 = device(
    "NW-05", "sw-acc-02",
    ("undo info-center loghost 10.231.0.14",),
    {NW_LOGGING, NW_BACKUP},
    "Logs no longer sent to the central log server.")

NW_06 = device(
    "NW-06", "rt-border-02",
    ("snmp-server community public RO",),
    {NW_SERVICES, NW_BACKUP},
    "An SNMPv1/v2c community.")

NW_07 = device(
    "NW-07", "rt-border-02",
    ("interface GigabitEthernet0/0", "no ip access-group BORDER-IN in", "exit"),
    {NW_BOUNDARY, NW_BACKUP},
    "The boundary ACL no longer applied on the outside interface.")

NW_08 = device(
    "NW-08", "fw-border-01",
    ("interface GigabitEthernet1/0/2", "description users-moved-by-hand", "quit", "save force"),
    {NW_BACKUP},
    "A saved change outside the baseline that no offline archive holds; the push archives the device before it "
    "compares, which backs the change up (nothing else to send).")

LINUX_DRIFTS = (IA_01, IA_02, IA_03, IA_04, IA_05, IA_06, AC_01, AC_02, AC_03, AC_04, AU_01, AU_02, AU_02_SYNC, AU_03,
                AU_04, AU_05,
                IP_01, IP_02, IP_03, IP_04, IP_05, MP_01, IN_01, CF_01, RI_01, RI_01_KERNEL,
                NW_05_LOG_SERVER,
                IP_01_MODULES, IP_03_SYSCTL, RI_01_PERSISTED, IA_05_FORWARDING, IA_05_BANNER, AC_03_SUDO, AC_04_CRON,
                AC_04_HOMES, AC_01_ROOT_MAIL, IA_02_YESCRYPT)
DATABASE_DRIFTS = (DB_01, DB_02, DB_03, DB_04, DB_05, DB_06, BR_01, BR_02, BR_03)
DEVICE_DRIFTS = (NW_01, NW_02, NW_03, NW_04, NW_05, NW_06, NW_07, NW_08)
DRIFTS = LINUX_DRIFTS + DATABASE_DRIFTS + DEVICE_DRIFTS

# Controls (or the part of one) that no drift breaks and repairs without a reboot, and what stands in for it.
NOT_DRIFTABLE = {
    "AU-01": "The rules half: kern1 loads them with -e 2, so no rule can be removed or changed (auditctl -D/-W are "
             "refused) and an edited rules file only takes effect at the next boot, which the lab's tests do not do. "
             "The drift stops auditd instead, the other half of the same check, which a run starts again.",
    "AU-05": "The immutability itself (auditctl -s: enabled 2) cannot be lifted without a reboot. The drift weakens "
             "the persisted part the same check reads (Restart= of the baseline's auditd drop-in), which a run restores.",
    "CM-01": "Verified from the change archive on the controller (`baseline changes verify`), not by the suites a drift "
             "runs on a host. An edited, removed or incomplete record turning the cells to 不符合 is tested without the "
             "lab: tests/report/test_report_operations.py, tests/unit/test_change_records.py.",
    "RI-02": "Verified from the sanitisation register on the controller (`baseline sanitise verify`), not by a setting "
             "on a host a drift could break. An interrupted or failed wipe, an unverified read back and an edited or "
             "removed certificate turning the cell to 不符合 are tested without the lab against loop devices: "
             "tests/unit/test_sanitise_register.py, tests/unit/test_sanitise.py.",
    "AS-01": "Verified from the catalog's coverage of the policy's articles (catalog/articles.yml) and the assessment "
             "register on the controller (`baseline assessment verify`), not on a host. A coverage gap, a broken register "
             "and an overdue assessment turning the cell to 不符合 are tested without the lab: tests/unit/test_assessment.py.",
    "IR-02": "Verified from the evidence archives and their custody chain on the controller (`baseline incident "
             "verify`), not by a setting on a host a drift could break. An edited custody record or archive turning the "
             "cells to 不符合 is tested without the lab (tests/unit/test_evidence.py) and in the lab "
             "(tests/lab/test_incident_collect.py).",
    "OP-01": "The daily inspection is a run of `baseline inspect`, not a setting on a host a drift could break. Faults "
             "turning its lines red (log1 not receiving, a backup aged on the store, a device down) are injected in "
             "tests/lab/test_inspection.py; thresholds and red lines without the lab in tests/unit/test_inspect.py.",
    "IR-01": "Verified from the incident register on the controller (`baseline incident verify`), not on a host. A kept "
             "grading the rules do not give turning the cell to 不符合 is tested without the lab: "
             "tests/report/test_report_operations.py, tests/unit/test_incidents.py.",
}


def _split_playbook_args(args: tuple[str, ...]) -> tuple[list[str], list[str], list[str]]:
    limits: list[str] = []
    tags: list[str] = []
    books: list[str] = []
    items = iter(args)
    for arg in items:
        if arg == "--limit":
            limits += next(items).split(",")
        elif arg == "--tags":
            tags += next(items).split(",")
        else:
            books.append(arg)
    return limits, tags, books


@dataclass(frozen=True)
class Batch:
    """Drifts applied together: no two touch the same file or setting, and none hides another's failure, so one
    suite run shows the union of their expected checks failing and one run repairs them all."""

    name: str
    drifts: tuple[Drift, ...]

    @property
    def on_devices(self) -> bool:
        return all(d.on_device for d in self.drifts)

    @property
    def hosts(self) -> tuple[str, ...]:
        """Where the suites (or the device audit) run: the hosts and devices the drifts change."""
        return tuple(sorted({d.host for d in self.drifts if not d.on_controller}))

    @property
    def expected(self) -> frozenset[str]:
        return frozenset().union(*(d.expected for d in self.drifts))

    @property
    def suites(self) -> tuple[str, ...]:
        """Compliance suite directories whose checks the batch expects to fail (empty for devices)."""
        return tuple(sorted({"/".join(c.split("::")[0].split("/")[:2]) for c in self.expected
                             if c.startswith("compliance_tests/")}))

    @property
    def repair(self) -> tuple[str, ...]:
        """One run: `scripts/netdev` arguments for devices, else `ansible-playbook` arguments (limits, tags and
        playbooks of every drift)."""
        if self.on_devices:
            names = sorted({d.host for d in self.drifts})
            return (*(arg for name in names for arg in ("-l", name)), "push")
        limits: set[str] = set()
        tags: set[str] = set()
        books: set[str] = set()
        for drift in self.drifts:
            more_limits, more_tags, more_books = _split_playbook_args(drift.repair)
            limits.update(more_limits)
            tags.update(more_tags)
            books.update(more_books)
        ordered = [b for b in PLAYBOOK_ORDER if b in books] + sorted(books - set(PLAYBOOK_ORDER))
        return ("--limit", ",".join(sorted(limits)), "--tags", ",".join(sorted(tags)), *ordered)


BATCHES = (
    Batch("linux", LINUX_DRIFTS),
    Batch("databases", DATABASE_DRIFTS),
    Batch("devices", DEVICE_DRIFTS),
)

# --- Server hardening depth, second part (compliance_tests/linux/test_depth.py): a batch of its own, one drift per
# host (two on log1, on files and packages neither of the other touches). Appended after the batches above.
NEEDRESTART = _check("linux/test_depth.py", "test_services_running_replaced_libraries_are_listed_and_none_restarted")
AIDE_DB = _check("linux/test_depth.py", "test_integrity_database_where_debian_expects_it_with_sha512")
DEBSUMS = _check("linux/test_depth.py", "test_package_files_match_their_checksums")
TMPDIR = _check("linux/test_depth.py", "test_each_session_gets_its_own_temporary_directory")
ACCOUNTING = _check("linux/test_depth.py", "test_process_accounting_records_every_process")
ACTIVITY = _check("linux/test_depth.py", "test_activity_history_is_collected")

IP_04_NEEDRESTART = linux(
    "IP-04", "log1",
    """sudo sed -i "s/restart} = 'l'/restart} = 'a'/" /etc/needrestart/conf.d/50-baseline.conf"""
    """ && sudo grep -q "restart} = 'a'" /etc/needrestart/conf.d/50-baseline.conf""",
    {NEEDRESTART, AIDE},
    "needrestart told to restart services by itself after every dpkg run (the baseline's drop-in); the run writes "
    "the drop-in back.")

IP_05_DEBSUMS = linux(
    "IP-05", "log1",
    "sudo DEBIAN_FRONTEND=noninteractive apt-get purge -y -q debsums >/dev/null && ! dpkg-query -W -f '${Status}' "
    "debsums 2>/dev/null | grep -q 'ok installed'",
    {DEBSUMS, AIDE},
    "debsums purged: the installed packages' files are no longer compared with their checksums (its program and "
    "configuration gone are integrity differences too); the run installs it again.")

IP_05_AIDE_DB = linux(
    "IP-05", "app1",
    "sudo mv /var/lib/aide/aide.db /var/lib/aide/baseline.db && sudo test -e /var/lib/aide/baseline.db"
    " && ! sudo test -e /var/lib/aide/aide.db",
    {AIDE_DB, AIDE},
    "The approved integrity database back at the former path: Debian's tools and the daily check find none; the "
    "run moves it where they expect it (the converging host's path) and approves nothing else.")

RI_01_TMPDIR = linux(
    "RI-01", "bak1",
    "sudo sed -i '/pam_tmpdir\\.so/d' /etc/pam.d/common-session && ! sudo grep -q pam_tmpdir /etc/pam.d/common-session",
    {TMPDIR, AIDE},
    "pam_tmpdir out of the login session stack: a new SSH login shares /tmp with everyone again; the run adds the "
    "line back.")

AU_01_ACCOUNTING = linux(
    "AU-01", "kern1",
    "sudo systemctl disable --now acct.service >/dev/null 2>&1 && ! systemctl is-active --quiet acct.service"
    " && ! systemctl is-enabled --quiet acct.service",
    {ACCOUNTING},
    "Process accounting switched off (accton off) and not started at boot; kern1 has no integrity database.")

OP_01_ACTIVITY = linux(
    "OP-01", "drill1",
    "sudo systemctl disable --now sysstat-collect.timer >/dev/null 2>&1"
    " && ! systemctl is-enabled --quiet sysstat-collect.timer && ! systemctl is-active --quiet sysstat-collect.timer",
    {ACTIVITY, AIDE},
    "sysstat's collection timer disabled and stopped (its link in /etc/systemd/system/sysstat.service.wants removed: "
    "an integrity difference too); the run enables and starts it again.")

DEPTH_DRIFTS = (IP_04_NEEDRESTART, IP_05_DEBSUMS, IP_05_AIDE_DB, RI_01_TMPDIR, AU_01_ACCOUNTING, OP_01_ACTIVITY)
DRIFTS = DRIFTS + DEPTH_DRIFTS
# The depth drifts join the Linux batch on the same five hosts (one suite run and one repair for both), except the
# integrity database moved back to its former path: the run that moves it approves nothing else, while the Linux
# batch's repair approves the differences it makes on app1, so that drift is verified on app1 alone.
BATCHES = (Batch("linux", LINUX_DRIFTS + tuple(d for d in DEPTH_DRIFTS if d is not IP_05_AIDE_DB)),
           *(batch for batch in BATCHES if batch.name != "linux"), Batch("integrity-database", (IP_05_AIDE_DB,)))
NOT_DRIFTABLE["OP-01"] += (" The activity history each host keeps for it (sysstat's collection) is a setting, and has "
                           "its drift: OP_01_ACTIVITY in the Linux batch.")
