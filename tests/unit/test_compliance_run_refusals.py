"""`pytest compliance_tests` concludes nothing without evidence: an inventory that is missing, empty or unreadable,
a --hosts value that names no inventory host, or a selection that leaves no check stops the run with exit status 2
and a message naming the inventory or the pattern, before any connection to a host (never "no tests ran", exit 5,
nor a silent exit 0). No lab needed: the inventories are made here and their hosts point at a local socket that
counts connection attempts."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from baseline import REPO_ROOT

HOSTS = """\
all:
  children:
    linux_servers:
      children:
        app_servers:
          hosts:
            app1:
        postgresql_servers:
          hosts:
            db1:
"""
DEVICES_ONLY = """\
network_devices:
  children:
    huawei_devices:
      hosts:
        sw-acc-01:
"""


@pytest.fixture()
def listener() -> Iterator[socket.socket]:
    """Where the inventory's hosts point (ssh_config): any connection attempt would be seen here."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(8)
    sock.setblocking(False)
    yield sock
    sock.close()


def _no_connection(sock: socket.socket) -> None:
    with pytest.raises(BlockingIOError):
        sock.accept()


def _inventory(tmp_path: Path, text: str | None, sock: socket.socket) -> Path:
    inv = tmp_path / "inventory"
    inv.mkdir()
    if text is not None:
        (inv / "hosts.yml").write_text(text, encoding="utf-8")
    (inv / "group_vars").symlink_to(REPO_ROOT / "inventory" / "group_vars")  # the policy values, as in the README
    port = sock.getsockname()[1]
    (tmp_path / "ssh_config").write_text(
        f"Host *\n  HostName 127.0.0.1\n  Port {port}\n  ConnectTimeout 2\n  StrictHostKeyChecking no\n"
        "  BatchMode yes\n", encoding="utf-8")
    return inv


def run_suites(tmp_path: Path, inventory: Path, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("BASELINE_RUN_ID", "PYTEST_ADDOPTS")}
    env.update(BASELINE_INVENTORY=str(inventory), BASELINE_SSH_CONFIG=str(tmp_path / "ssh_config"),
               ANSIBLE_CONFIG=str(REPO_ROOT / "ansible.cfg"))
    return subprocess.run([sys.executable, "-m", "pytest", "compliance_tests", "-p", "no:cacheprovider", "-q",
                           "--results-file", str(tmp_path / "results.jsonl"), *args],
                          cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=300, check=False)


def _refused(proc: subprocess.CompletedProcess, tmp_path: Path, *names: str) -> str:
    output = proc.stdout + proc.stderr
    assert proc.returncode == 2, output[-3000:]
    assert "no compliance run" in output, output[-3000:]
    for name in names:
        assert name in output, (name, output[-3000:])
    assert "no tests ran" not in output
    assert not (tmp_path / "results.jsonl").exists(), "a refused run writes no results"
    return output


def test_missing_inventory(tmp_path, listener):
    inv = _inventory(tmp_path, HOSTS, listener)
    missing = inv.parent / "no-such-inventory"
    out = _refused(run_suites(tmp_path, missing), tmp_path, str(missing))
    assert "does not exist" in out and "BASELINE_INVENTORY" in out
    _no_connection(listener)


@pytest.mark.parametrize("content", [None, "", "this is: [not an inventory\n"], ids=["empty-dir", "empty-file", "garbage"])
def test_empty_or_unreadable_inventory(tmp_path, listener, content):
    inv = _inventory(tmp_path, content, listener)
    out = _refused(run_suites(tmp_path, inv), tmp_path, str(inv))
    assert "lists no hosts" in out
    _no_connection(listener)


def test_inventory_without_any_host_the_suites_check(tmp_path, listener):
    inv = _inventory(tmp_path, DEVICES_ONLY, listener)
    out = _refused(run_suites(tmp_path, inv), tmp_path, str(inv))
    assert "no compliance check to run" in out and "linux_servers (0 hosts)" in out
    _no_connection(listener)


@pytest.mark.parametrize("hosts", ["nosuchhost", "app1,nosuchhost", "ssh://nosuchhost", "local://"])
def test_unknown_host_pattern(tmp_path, listener, hosts):
    inv = _inventory(tmp_path, HOSTS, listener)
    bad = hosts.split(",")[-1]
    out = _refused(run_suites(tmp_path, inv, f"--hosts={hosts}"), tmp_path, f"--hosts {bad}")
    if bad != "local://":
        assert str(inv) in out
    _no_connection(listener)


def test_zero_collected_checks(tmp_path, listener):
    inv = _inventory(tmp_path, HOSTS, listener)
    _refused(run_suites(tmp_path, inv, "-k", "no_check_has_this_name"), tmp_path, str(inv), "-k no_check_has_this_name")
    _no_connection(listener)


def test_hosts_selects_inventory_hosts_and_each_suite_keeps_its_own(tmp_path, listener):
    inv = _inventory(tmp_path, HOSTS, listener)
    proc = run_suites(tmp_path, inv, "--hosts=db1", "--collect-only")
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    items = [line for line in proc.stdout.splitlines() if "::" in line]
    assert items and all(line.endswith("[ssh://db1]") for line in items), items[:5]
    assert any("test_db_postgresql.py" in line for line in items)
    assert not any("test_db_mariadb.py" in line for line in items), "db1 is no MariaDB server"
    everything = run_suites(tmp_path, inv, "--collect-only")
    assert everything.returncode == 0
    hosts = {line.rsplit("[", 1)[-1] for line in everything.stdout.splitlines() if "::" in line}
    assert hosts == {"ssh://app1]", "ssh://db1]"}
    assert "left out, no host of their group in the inventory" in everything.stdout
    assert "test_db_mariadb.py" in everything.stdout.split("left out", 1)[1].splitlines()[0]
    _no_connection(listener)


@pytest.mark.parametrize("weaker", ["password_min_length: 8", "log_retention_days: 180"])
def test_values_weaker_than_the_policy_floors_are_refused(tmp_path, listener, weaker):
    """The suites judge hosts against the inventory's values: a weakened inventory cannot make a weak host pass."""
    variable = weaker.split(":")[0]
    inv = _inventory(tmp_path, HOSTS.replace("            app1:\n", f"            app1:\n              {weaker}\n"),
                     listener)
    out = _refused(run_suites(tmp_path, inv), tmp_path, str(inv), variable, "policy floor", "hosts: app1")
    assert "db1" not in out.split(variable, 1)[1].split(")")[1], "only app1 holds the weaker value"
    _no_connection(listener)


def test_stricter_values_are_accepted(tmp_path, listener):
    inv = _inventory(tmp_path, HOSTS.replace("            app1:\n", "            app1:\n              password_min_length: 14\n"),
                     listener)
    proc = run_suites(tmp_path, inv, "--collect-only")
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]


def test_a_complete_run_on_several_workers_is_refused(tmp_path, listener):
    """Intrusive checks of one host must run in one process, in order (probe accounts, copies of the account
    databases, probe listeners): pytest-xdist does not keep them together under the pinned pytest, so a complete
    run with -n stops before any connection; a read-only run may use workers."""
    inv = _inventory(tmp_path, HOSTS, listener)
    out = _refused(run_suites(tmp_path, inv, "-n", "2", "--dist", "loadgroup"), tmp_path, "without -n", "--read-only")
    assert "pytest-xdist" in out
    _no_connection(listener)
    read_only = run_suites(tmp_path, inv, "-n", "2", "--dist", "loadgroup", "--read-only",
                           "-k", "test_login_banners_name_the_platform_and_not_the_system")
    assert "no compliance run" not in read_only.stdout + read_only.stderr, read_only.stdout[-3000:]
