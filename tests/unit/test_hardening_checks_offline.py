"""The server-hardening checks of compliance_tests/linux run against a fake host that holds the files the roles
render (from the same templates and inventory values) and answers the commands: each check passes on what the
baseline writes and fails on the drift that breaks it. No lab needed; the lab drifts (tests/lab/drifts.py) do the
same on real hosts."""

from __future__ import annotations

import shlex
import sys
from contextlib import contextmanager
from dataclasses import dataclass

import pytest
import yaml
from suite_modules import load_suite

from baseline import REPO_ROOT, compliance, templates
from baseline.compliance_plugin import EvidenceLog

LINUX = REPO_ROOT / "compliance_tests" / "linux"
if str(LINUX) not in sys.path:
    sys.path.insert(0, str(LINUX))
HOST = {"inventory_hostname": "app1", "ansible_host": "10.231.0.11", "host_kind": "container",
        "group_names": ["app_servers", "linux_servers"]}


_load = load_suite


def _values() -> dict:
    values = {}
    for path in sorted((REPO_ROOT / "inventory" / "group_vars" / "all").glob("*.yml")):
        values.update(yaml.safe_load(path.read_text(encoding="utf-8")) or {})
    return {**values, **HOST}


def render(role: str, name: str, **extra) -> str:
    values = templates.role_values(role, {**_values(), **extra})
    return templates.render_with_ansible(templates.template_path(role, name), values)


@dataclass
class Result:
    rc: int = 1
    stdout: str = ""
    stderr: str = ""


@dataclass
class FakeFile:
    exists: bool
    content_string: str = ""
    mode: int = 0o644
    user: str = "root"


class FakeHost:
    """Files by path (content, mode, owner) and answers to commands (a function of the command line)."""

    def __init__(self, files: dict[str, tuple[str, int]], answer=None):
        self.files = files
        self.commands: list[str] = []
        self.answer = answer or (lambda command: Result(1, "", "no answer"))
        self.backend = type("Backend", (), {"hostname": "fake1", "ssh_config": "/dev/null"})()

    def run(self, command: str, *args: str) -> Result:
        line = command % tuple(shlex.quote(a) for a in args) if args else command
        self.commands.append(line)
        return self.answer(line)

    @contextmanager
    def sudo(self, user=None):
        yield

    def file(self, path: str) -> FakeFile:
        if path not in self.files:
            return FakeFile(False)
        content, mode = self.files[path]
        return FakeFile(True, content, mode)


def _sudo_run(host: FakeHost):
    def run(command: str, *args: str):
        return host.run(command, *args)
    return run


@pytest.fixture(autouse=True)
def _suite_markers(request):
    """Markers the compliance plugin registers (method, intrusive), for importing the suites here."""
    request.config.addinivalue_line("markers", "method(kind): probe, state, config or record")
    request.config.addinivalue_line("markers", "intrusive(what): the check changes the host while it runs")


@pytest.fixture()
def policy() -> dict:
    return _values()


@pytest.fixture()
def hardening(_suite_markers):
    return _load(LINUX / "test_hardening.py", "hardening_offline_test_hardening")


@pytest.fixture()
def identification(_suite_markers):
    return _load(LINUX / "test_identification.py", "hardening_offline_test_identification")


@pytest.fixture()
def accounts(_suite_markers):
    return _load(LINUX / "test_accounts.py", "hardening_offline_test_accounts")


# --- IP-01: kernel modules -----------------------------------------------------------------------------------------------

def test_modprobe_check_passes_on_the_rendered_file_and_fails_without_a_module(hardening, policy):
    text = render("hardening", "modprobe-blocked.conf.j2")
    hardening.test_unneeded_kernel_modules_blocked_in_modprobe_config(
        FakeHost({hardening.MODPROBE_FILE: (text, 0o644)}), policy, EvidenceLog(), True)
    drifted = text.replace("install usb-storage /bin/false\n", "")
    with pytest.raises(AssertionError, match="usb-storage"):
        hardening.test_unneeded_kernel_modules_blocked_in_modprobe_config(
            FakeHost({hardening.MODPROBE_FILE: (drifted, 0o644)}), policy, EvidenceLog(), True)
    with pytest.raises(AssertionError):
        hardening.test_unneeded_kernel_modules_blocked_in_modprobe_config(FakeHost({}), policy, EvidenceLog(), True)


def test_module_effect_check_fails_when_modprobe_would_load_one(hardening, policy):
    def answer(blocked: set[str]):
        def reply(command: str) -> Result:
            module = command.rsplit(maxsplit=1)[-1].strip("'")
            return Result(0, "install /bin/false\n" if module in blocked else f"insmod /lib/modules/x/{module}.ko\n")
        return reply

    modules = set(policy["hardening_blocked_kernel_modules"])
    files = {"/proc/modules": ("ext4 1 0 - Live 0x0\n", 0o444)}
    host = FakeHost(files, answer(modules))
    hardening.test_unneeded_kernel_modules_cannot_be_loaded(host, policy, EvidenceLog(), None, _sudo_run(host))
    host = FakeHost(files, answer(modules - {"sctp"}))
    with pytest.raises(AssertionError, match="sctp"):
        hardening.test_unneeded_kernel_modules_cannot_be_loaded(host, policy, EvidenceLog(), None, _sudo_run(host))
    host = FakeHost({"/proc/modules": ("usb_storage 81920 0 - Live 0x0\n", 0o444)}, answer(modules))
    with pytest.raises(AssertionError, match="usb_storage"):
        hardening.test_unneeded_kernel_modules_cannot_be_loaded(host, policy, EvidenceLog(), None, _sudo_run(host))


# --- IP-03, RI-01: sysctls -----------------------------------------------------------------------------------------------

def _sysctl_host(hardening, policy, live: dict, files: dict[str, str]) -> FakeHost:
    def reply(command: str) -> Result:
        if command.startswith("find "):
            return Result(0, "\n".join(sorted(files)) + "\n")
        if command.startswith(("sysctl ", "/usr/sbin/sysctl ")):
            keys = [k.strip("'") for k in command.split()[1:]]
            return Result(0, "".join(f"{k} = {live[k]}\n" for k in keys if k in live))
        return Result(1, "", "unexpected")
    return FakeHost({path: (text, 0o644) for path, text in files.items()}, reply)


def _net_file(wanted: dict) -> str:
    return "".join(f"{k}={v}\n" for k, v in wanted.items())


def test_network_parameters_check_reads_live_values_and_the_boot_order(hardening, policy):
    wanted = hardening._expected_net_sysctls(policy)
    assert wanted["net.ipv4.ip_forward"] == "0" and "net.ipv4.conf.all.accept_redirects" in wanted
    files = {hardening.SYSCTL_NET_FILE: _net_file(wanted), "/usr/lib/sysctl.d/50-pid-max.conf": "kernel.pid_max = 4\n"}
    host = _sysctl_host(hardening, policy, wanted, files)
    hardening.test_network_parameters(host, policy, EvidenceLog(), _sudo_run(host))
    host = _sysctl_host(hardening, policy, {**wanted, "net.ipv4.conf.all.accept_redirects": "1"}, files)
    with pytest.raises(AssertionError, match="accept_redirects"):
        hardening.test_network_parameters(host, policy, EvidenceLog(), _sudo_run(host))
    later = {**files, "/etc/sysctl.d/zzz-local.conf": "net.ipv4.conf.all.rp_filter = 2\n"}
    host = _sysctl_host(hardening, policy, wanted, later)
    with pytest.raises(AssertionError, match="rp_filter"):
        hardening.test_network_parameters(host, policy, EvidenceLog(), _sudo_run(host))


def test_kernel_parameters_persisted_check_sees_a_distribution_file_that_comes_later(hardening, policy, monkeypatch):
    monkeypatch.setattr(compliance, "host_kind", lambda host: compliance.CONTAINER)
    wanted = {k: str(v) for k, v in policy["hardening_sysctl_kernel"].items()}
    protect = {"/usr/lib/sysctl.d/99-protect-links.conf": "fs.protected_fifos = 1\nfs.protected_regular = 2\n"}
    files = {hardening.SYSCTL_KERNEL_FILE: _net_file(wanted), **protect}
    host = _sysctl_host(hardening, policy, {}, files)
    hardening.test_kernel_parameters_persisted(host, policy, EvidenceLog(), True, _sudo_run(host))
    old_name = {"/etc/sysctl.d/50-baseline-kernel.conf": _net_file(wanted), **protect}
    host = _sysctl_host(hardening, policy, {}, old_name)
    with pytest.raises(AssertionError):
        hardening.test_kernel_parameters_persisted(host, policy, EvidenceLog(), True, _sudo_run(host))
    drifted = {**files, hardening.SYSCTL_KERNEL_FILE: _net_file({**wanted, "kernel.sysrq": "1"})}
    host = _sysctl_host(hardening, policy, {}, drifted)
    with pytest.raises(AssertionError, match="kernel.sysrq"):
        hardening.test_kernel_parameters_persisted(host, policy, EvidenceLog(), True, _sudo_run(host))


# --- IA-05: sshd, forwarding, banners -----------------------------------------------------------------------------------

def _sshd_t(dropin: str) -> dict[str, str]:
    """What sshd -T would print for the rendered drop-in read first (the keywords it sets)."""
    from linuxcheck import sshd_config_directives

    return sshd_config_directives(dropin)[1]


def test_ssh_settings_check_compares_sshd_t_with_the_main_file(identification, policy):
    dropin = render("accounts", "sshd-baseline.conf.j2")
    main = render("accounts", "sshd-baseline.conf.j2", accounts_sshd_main_file=True)
    settings = _sshd_t(dropin)
    host = FakeHost({identification.SSHD_CONFIG: (main, 0o600)})
    identification.test_ssh_forwarding_off_and_sshd_config_shows_the_settings(host, policy, EvidenceLog(), settings)
    with pytest.raises(AssertionError, match="allowtcpforwarding"):
        identification.test_ssh_forwarding_off_and_sshd_config_shows_the_settings(
            host, policy, EvidenceLog(), {**settings, "allowtcpforwarding": "yes"})
    debian = "Include /etc/ssh/sshd_config.d/*.conf\nX11Forwarding yes\nSubsystem sftp /usr/lib/openssh/sftp-server\n"
    with pytest.raises(AssertionError):
        identification.test_ssh_forwarding_off_and_sshd_config_shows_the_settings(
            FakeHost({identification.SSHD_CONFIG: (debian, 0o600)}), policy, EvidenceLog(), settings)
    late = main.replace("Include /etc/ssh/sshd_config.d/*.conf\n", "") + "Include /etc/ssh/sshd_config.d/*.conf\n"
    with pytest.raises(AssertionError, match="first directive"):
        identification.test_ssh_forwarding_off_and_sshd_config_shows_the_settings(
            FakeHost({identification.SSHD_CONFIG: (late, 0o600)}), policy, EvidenceLog(), settings)


def test_forwarding_probe_passes_on_a_refusal_only(identification, monkeypatch):
    host = FakeHost({})

    def client(answers):
        def run(config, name, options=(), command=(), timeout=30.0):
            return answers["forward" if options else "login"]
        return run

    refused = {"login": (0, "", ""), "forward": (255, "", "channel 0: open failed: administratively prohibited: "
                                                            "open failed\nstdio forwarding failed\n")}
    monkeypatch.setattr(identification, "ssh_client", client(refused))
    identification.test_ssh_tcp_forwarding_is_refused(host, EvidenceLog())
    monkeypatch.setattr(identification, "ssh_client", client({**refused, "forward": (0, "SSH-2.0-OpenSSH_9.2\r\n", "")}))
    with pytest.raises(AssertionError, match="forwarded"):
        identification.test_ssh_tcp_forwarding_is_refused(host, EvidenceLog())
    monkeypatch.setattr(identification, "ssh_client", client({**refused, "login": (255, "", "Permission denied")}))
    with pytest.raises(AssertionError, match="no SSH session"):
        identification.test_ssh_tcp_forwarding_is_refused(host, EvidenceLog())


def test_banner_check_wants_the_platform_notice_everywhere_and_no_system_details(identification, policy):
    text = render("accounts", "issue.net.j2")
    assert text.startswith(f"{policy['platform_name']}: ")
    good = {path: (text, 0o644) for path in identification.BANNERS}
    identification.test_login_banners_name_the_platform_and_not_the_system(FakeHost(good), policy, EvidenceLog())
    debian = {**good, "/etc/issue": ("Debian GNU/Linux 12 \\n \\l\n", 0o644)}
    with pytest.raises(AssertionError, match="/etc/issue"):
        identification.test_login_banners_name_the_platform_and_not_the_system(FakeHost(debian), policy, EvidenceLog())


# --- AC-03: sudo ---------------------------------------------------------------------------------------------------------

def _sudo_host(accounts, roles: str, extra: dict[str, str], mode: int = 0o750, logged: str = "1") -> FakeHost:
    drop_ins = {"/etc/sudoers.d/50-baseline-roles": roles, **extra}
    files = {accounts.SUDOERS: ("Defaults env_reset\n@includedir /etc/sudoers.d\n", 0o440),
             accounts.SUDOERS_DIR: ("", mode),
             accounts.SUDO_LOGROTATE: (render("accounts", "logrotate-sudo.j2"), 0o644),
             **{path: (text, 0o440) for path, text in drop_ins.items()}}

    def reply(command: str) -> Result:
        if command.startswith("find "):
            return Result(0, "\n".join(sorted(drop_ins)) + "\n")
        if command.startswith("/bin/echo "):
            return Result(0, "marker\n")
        if command.startswith("grep -c "):
            return Result(0 if logged != "0" else 1, f"{logged}\n")
        return Result(1, "", "unexpected")
    return FakeHost(files, reply)


def _terminals(*names: str):
    def run(config, name, options=(), command=(), timeout=30.0):
        assert options == ("-tt",) and command == ("tty; sudo -n tty",)
        return 0, "".join(f"{n}\r\n" for n in names), ""
    return run


def test_sudo_check_wants_use_pty_the_log_its_rotation_and_a_closed_directory(accounts, policy, monkeypatch):
    roles = render("accounts", "sudoers-roles.j2")
    host = _sudo_host(accounts, roles, {})
    monkeypatch.setattr(accounts, "ssh_client", _terminals("/dev/pts/0", "/dev/pts/1"))
    accounts.test_sudo_runs_in_a_pty_and_keeps_its_log(host, policy, EvidenceLog(), _sudo_run(host))
    monkeypatch.setattr(accounts, "ssh_client", _terminals("/dev/pts/0", "/dev/pts/0"))
    with pytest.raises(AssertionError, match="login's own terminal"):
        accounts.test_sudo_runs_in_a_pty_and_keeps_its_log(host, policy, EvidenceLog(), _sudo_run(host))
    monkeypatch.setattr(accounts, "ssh_client", _terminals())
    with pytest.raises(AssertionError, match="no two terminals"):
        accounts.test_sudo_runs_in_a_pty_and_keeps_its_log(host, policy, EvidenceLog(), _sudo_run(host))
    monkeypatch.setattr(accounts, "ssh_client", _terminals("/dev/pts/0", "/dev/pts/1"))
    for message, drifted in (("use_pty", _sudo_host(accounts, roles, {"/etc/sudoers.d/90-x": "Defaults !use_pty\n"})),
                             ("mode 755", _sudo_host(accounts, roles, {}, mode=0o755)),
                             ("not in /var/log/sudo.log", _sudo_host(accounts, roles, {}, logged="0")),
                             ("logfile", _sudo_host(accounts, roles.replace("Defaults logfile", "#"), {}))):
        with pytest.raises(AssertionError, match=message):
            accounts.test_sudo_runs_in_a_pty_and_keeps_its_log(drifted, policy, EvidenceLog(), _sudo_run(drifted))


# --- AC-04: cron and at ----------------------------------------------------------------------------------------------------

def test_cron_check_wants_the_allow_lists_and_no_deny_lists(hardening, policy):
    listed = "".join(f"{name}\n" for name in policy["accounts_cron_allow"])
    good = {path: (listed, 0o640) for path in hardening.ALLOW_LISTS}
    hardening.test_cron_and_at_restricted_to_allow_lists(FakeHost(good), policy, EvidenceLog())
    for drifted in ({**good, "/etc/cron.allow": (listed + "games\n", 0o640)},
                    {**good, "/etc/at.allow": (listed, 0o644)},
                    {**good, "/etc/cron.deny": ("", 0o640)},
                    {"/etc/cron.allow": (listed, 0o640)}):
        with pytest.raises(AssertionError):
            hardening.test_cron_and_at_restricted_to_allow_lists(FakeHost(drifted), policy, EvidenceLog())
