"""Shared helpers of the Linux server suites: host kind, sshd's effective settings, roster views."""

from __future__ import annotations

import functools

import pytest
from netprobe import KnownHost, known_host

from baseline import compliance
from baseline.compliance_plugin import not_applicable, not_verifiable


@functools.cache
def _kernel_hosts() -> frozenset[str]:
    return frozenset(compliance.inventory.load(str(compliance.inventory.inventory_path())).hosts("kernel_hosts"))


@pytest.fixture(autouse=True)
def kernel_host_scope(request, asset):
    """Hosts of kernel_hosts carry the kernel-level controls only (playbooks/linux.yml): every other check is
    recorded there as not applicable, with the reason, so that no cell of such a host is left without evidence."""
    if {"own_kernel", "kernel_level"} & set(request.fixturenames):
        return
    if asset in _kernel_hosts():
        not_applicable("the kernel-level host carries only the kernel controls (docs/linux-baseline.md)")


@pytest.fixture()
def host_kind(host):
    return compliance.host_kind(host)


@pytest.fixture()
def asset(host):
    return compliance.asset_name(host)


@pytest.fixture()
def kernel_level():
    """Marks a check of kernel-level configuration that every Linux host holds, kernel_hosts included (the
    persisted sysctl and modprobe files): it runs there instead of being recorded as not applicable."""
    return True


@pytest.fixture()
def own_kernel(host_kind):
    """Skip as not verifiable where the kernel is shared with the controller (containers)."""
    if host_kind == compliance.CONTAINER:
        not_verifiable("container host: the kernel is the controller's (audit and kernel.* sysctls are refused)")


@pytest.fixture()
def host_keys(host) -> KnownHost:
    """The host keys the behaviour probes must see from the host: the known_hosts of the same SSH client config
    the suites connect with (a changed key fails the probe, as it fails every other check)."""
    return known_host(host.backend.ssh_config, host.backend.hostname)


@pytest.fixture()
def sshd_settings(host):
    """Effective sshd settings (`sshd -T`), keyword -> value (lower case keywords)."""
    with host.sudo():
        out = host.check_output("sshd -T")
    settings: dict[str, str] = {}
    for line in out.splitlines():
        key, _, value = line.partition(" ")
        settings.setdefault(key.lower(), value.strip())
    return settings


@pytest.fixture()
def sudo_run(host):
    """Run a command as root on the host and return the CommandResult."""
    def run(command: str, *args):
        with host.sudo():
            return host.run(command, *args)
    return run



# Files useradd, userdel, passwd and PAM rewrite when a check makes and removes a probe account.
ACCOUNT_FILES = [f"/etc/{name}{suffix}" for name in ("passwd", "shadow", "group", "gshadow", "subuid", "subgid")
                 for suffix in ("", "-")] + ["/etc/security/opasswd", "/etc/security/opasswd.old"]
SAVED = "/root/.baseline-probe-accounts"


@pytest.fixture()
def account_files_restored(sudo_run):
    """A check that makes probe accounts leaves no trace: the account databases (and their backups) are saved
    before and written back byte for byte afterwards, even when the check fails; files that did not exist are
    removed. Written back in place, so the integrity database (content, permissions, owners) sees no change."""
    files = " ".join(ACCOUNT_FILES)
    saved = sudo_run(f"rm -rf {SAVED} && mkdir -m 700 {SAVED} && cd {SAVED} && "
                     f"for f in {files}; do [ -e \"$f\" ] && cp -p \"$f\" \"./$(echo \"$f\" | tr / _)\" || true; done")
    if saved.rc != 0:
        raise RuntimeError(f"saving the account databases failed ({saved.rc}): {saved.stderr.strip()}")
    yield
    restored = sudo_run(f"cd {SAVED} && for f in {files}; do s=\"./$(echo \"$f\" | tr / _)\"; "
                        f"if [ -e \"$s\" ]; then cat \"$s\" > \"$f\"; else rm -f \"$f\"; fi; done && rm -rf {SAVED}")
    if restored.rc != 0:
        raise RuntimeError(f"writing back the account databases failed ({restored.rc}): {restored.stderr.strip()}")
