"""The Linux server baseline on the lab (IA, AC, AU, IP, MP, RI): check mode on a fresh host reports changes and
alters nothing, the roles converge, the compliance suite passes (kernel controls on kern1), a second run changes
nothing, the automation account can still log in after every run, and a control removed by hand makes exactly
its own tests fail until the role runs again. The suite runs after databases.yml, as in site.yml: file backups of
every backup client and a clean integrity check after both playbooks are part of what it verifies."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from lab_run import SSH, on, playbook, recap

from baseline import REPO_ROOT, catalog
from baseline.lab import config
from baseline.results import read_results

pytestmark = pytest.mark.lab
LINUX = ["playbooks/preflight.yml", "playbooks/linux.yml"]
FRESH = "app1"  # checked in check mode before the first run touches it
# Files and directories the Linux roles manage: their digests must not move in check mode.
MANAGED = ("/etc/ssh/sshd_config /etc/ssh/sshd_config.d /etc/pam.d /etc/security /etc/login.defs /etc/sudoers "
           "/etc/sudoers.d /etc/profile.d /etc/issue.net /etc/nftables.conf /etc/sysctl.d /etc/rsyslog.conf "
           "/etc/rsyslog.d /etc/clamav /etc/aide /etc/cron.d /etc/apt/apt.conf.d /etc/passwd /etc/group /etc/shadow "
           "/etc/tmpfiles.d /usr/local/sbin")


def linux_hosts() -> list[str]:
    from baseline import inventory

    return inventory.load(str(config.INVENTORY_DIR / "hosts.yml")).hosts("linux_servers")


def assert_logins(hosts) -> None:
    """A new SSH connection of the automation account logs in and sudo works without a prompt."""
    for host in hosts:
        on(host, "sudo -n true", timeout=120)


def digests(host: str) -> str:
    return on(host, f"sudo find {MANAGED} -type f -print0 2>/dev/null | sort -z | sudo xargs -0 sha256sum; "
                    "dpkg-query -W -f '${Package} ${Version}\\n' | sha256sum")


def compliance(tmp: Path, name: str, *select: str) -> tuple[subprocess.CompletedProcess, list]:
    results = tmp / f"{name}.jsonl"
    proc = subprocess.run([sys.executable, "-m", "pytest", "compliance_tests/linux", "-q", "-p", "no:cacheprovider",
                           "--results-file", str(results), *select], cwd=REPO_ROOT, capture_output=True, text=True,
                          timeout=900, check=False)
    records = list(read_results([results])) if results.exists() else []
    return proc, records


def failed(records) -> set[str]:
    return {r.check for r in records if r.outcome in ("fail", "error")}


@pytest.fixture(scope="module")
def fresh_check(lab_up):
    """`--check --diff` on a host no run has touched yet: what it reports, digests before and after."""
    probe = subprocess.run([*SSH, FRESH, "test -e /etc/ssh/sshd_config.d/50-baseline.conf"], check=False)
    if probe.returncode == 0:
        pytest.fail(f"{FRESH} is not fresh: the baseline was applied before this module")
    before = digests(FRESH)
    proc = playbook("--check", "--diff", "--limit", FRESH, *LINUX)
    return proc, before, digests(FRESH)


@pytest.fixture(scope="module")
def first_run(fresh_check):
    proc = playbook(*LINUX)
    assert proc.returncode == 0, proc.stdout[-5000:]
    return proc


@pytest.fixture(scope="module")
def second_run(first_run):
    """Straight after the first run: the compliance suite's probes (accounts made and removed) change /etc, and a
    run after them approves that state in the integrity database (IP-05), which is a change."""
    return playbook(*LINUX)


@pytest.fixture(scope="module")
def site_order(second_run):
    """The databases and backups play after the server baseline, in site.yml's order: it backs up every backup
    client's files (BR-01, BR-02) and approves what it wrote in the integrity database (IP-05)."""
    proc = playbook("playbooks/databases.yml")
    assert proc.returncode == 0, proc.stdout[-5000:]
    return proc


@pytest.fixture(scope="module")
def verified(site_order, tmp_path_factory, lab_results):
    tmp = tmp_path_factory.mktemp("compliance")
    outcome = compliance(tmp, "after-two-runs")
    lab_results(tmp / "after-two-runs.jsonl")
    return outcome


def test_check_mode_on_a_fresh_host_reports_changes_and_alters_nothing(fresh_check):
    proc, before, after = fresh_check
    assert proc.returncode == 0, proc.stdout[-5000:]
    assert recap(proc.stdout)[FRESH]["changed"] > 0
    assert "--- before" in proc.stdout, "--diff shows no difference"
    assert after == before, "check mode altered a managed file or the installed packages"
    assert_logins([FRESH])


def test_first_run_converges_and_the_admin_can_log_in(first_run):
    assert all(r["failed"] == 0 and r["unreachable"] == 0 for r in recap(first_run.stdout).values())
    assert_logins(linux_hosts())


def test_second_run_changes_nothing(second_run):
    assert second_run.returncode == 0, second_run.stdout[-5000:]
    changed = {h: r["changed"] for h, r in recap(second_run.stdout).items() if r["changed"]}
    assert changed == {}, re.findall(r"^changed: .*$", second_run.stdout, re.M)
    assert_logins(linux_hosts())


def test_compliance_suite_passes_every_automated_linux_control(verified):
    proc, records = verified
    assert proc.returncode == 0, proc.stdout[-6000:]
    assert failed(records) == set()
    passed = {(c, r.asset) for r in records if r.outcome == "pass" for c in r.control_ids}
    hosts = {h for _c, h in passed}
    linux = [c for c in catalog.load().controls.values() if "linux" in c.targets and c.status in ("automated", "partial")]
    kernel = {"AU-01", "AU-05"}
    for control in linux:
        assert any(c == control.id for c, _h in passed), f"{control.id} has no passing check"
    for control_id in kernel:
        assert (control_id, "kern1") in passed, f"{control_id} not verified on the VM"
    # containers report the kernel controls as not verifiable, never as passed
    for r in records:
        if set(r.control_ids) & kernel and r.asset != "kern1":
            assert r.outcome == "not_verifiable" and r.reason, r
    assert {"app1", "log1", "kern1"} <= hosts


# Every hand-made change of a monitored file or program also shows in the integrity check (IP-05).
AIDE = "compliance_tests/linux/test_hardening.py::test_aide_detects_a_changed_binary"
DRIFT = {
    "root-login": (
        "printf 'PermitRootLogin yes\\n' | sudo tee /etc/ssh/sshd_config.d/01-local.conf >/dev/null"
        " && sudo systemctl reload ssh",
        {"compliance_tests/linux/test_accounts.py::test_no_root_ssh_and_system_accounts_without_shells", AIDE},
        "AC-01",
    ),
    "telnetd": (
        "sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -q telnetd >/dev/null",
        {"compliance_tests/linux/test_hardening.py::test_forbidden_packages_absent", AIDE},
        "IP-01",
    ),
    "minlen-8": (
        "sudo sed -i 's/^minlen.*/minlen = 8/' /etc/security/pwquality.conf.d/50-baseline.conf",
        {"compliance_tests/linux/test_identification.py::test_pwquality_matches_policy",
         "compliance_tests/linux/test_identification.py::"
         "test_passwd_rejects_short_and_plain_passwords_and_accepts_a_compliant_one", AIDE},
        "IA-02",
    ),
}


@pytest.mark.parametrize("drift", list(DRIFT))
def test_removed_control_fails_exactly_its_tests_until_the_role_runs(drift, verified, tmp_path):
    command, expected, tag = DRIFT[drift]
    host = FRESH
    on(host, command)
    proc, records = compliance(tmp_path, "drift", "-k", host)
    assert proc.returncode != 0
    assert {check.split("[")[0] for check in failed(records)} == expected, proc.stdout[-4000:]
    assert all(r.asset == host for r in records if r.outcome == "fail")
    fix = playbook("--limit", host, "--tags", tag, *LINUX)
    assert fix.returncode == 0, fix.stdout[-4000:]
    assert recap(fix.stdout)[host]["changed"] > 0
    again, records = compliance(tmp_path, "fixed", "-k", host)
    assert again.returncode == 0, again.stdout[-4000:]
    assert failed(records) == set()
    assert_logins([host])
