"""Shared helpers of the Linux server suites: host kind, sshd's effective settings, roster views."""

from __future__ import annotations

import pytest

from baseline import compliance
from baseline.compliance_plugin import not_verifiable

# Every server except the kernel-only VM host, and the kernel-level hosts (VM or physical).
SERVERS = "linux_servers:!kernel_hosts"


@pytest.fixture()
def host_kind(host):
    return compliance.host_kind(host)


@pytest.fixture()
def asset(host):
    return compliance.asset_name(host)


@pytest.fixture()
def own_kernel(host_kind):
    """Skip as not verifiable where the kernel is shared with the controller (containers)."""
    if host_kind == compliance.CONTAINER:
        not_verifiable("container host: the kernel is the controller's (audit and kernel.* sysctls are refused)")


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

