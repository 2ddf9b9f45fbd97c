"""Lockout safety that holds when the controller cannot connect, and a baseline that takes away what it forbids,
on drill1 after `scripts/demo` hardened the lab (tests/lab/test_demo.py).

How access is cut. The case of the report is a run whose admin_networks leave the controller out: the firewall
drops the controller's new SSH connections, the check login ends UNREACHABLE, Ansible runs no `rescue:` for an
unreachable host, and the host stays locked out. The pre-flight now refuses that input before any host is
contacted (admin_networks must hold the controller's address towards each host), so these runs cut access where
no pre-flight can see it coming: admin_networks gains a network and still holds the controller's (the pre-flight
passes, and the staff keys' from= is rewritten - a change of the same run that the rollback must take back too),
while the firewall's SSH rule (`server_inbound_services`, the ssh entry) admits only that other network. The
ruleset loads, and the controller is cut off exactly as in the report.

Twice: with the run's own connection open (ansible.cfg's Mitogen strategy keeps one per host for the whole run;
the established connection survives the new ruleset, so the run restores drill1 at once through it, while the
confirming login, a new connection of Ansible's own SSH plugin, is refused), and with no shared connection
(Ansible's stock linear strategy and `ansible_ssh_args` without ControlMaster: every task opens a new connection,
so after the cut nothing of the run reaches drill1 and only the host's own countdown can heal it). Each time the
run stops for drill1 with exit 2 and a message naming drill1 and what was restored, drill1 is back within the
rollback time, and its ruleset, nftables.conf and authorized_keys are what they were before.

Then a NOPASSWD sudoers drop-in and an account with a shell and a key, both added by hand, are taken away by the
next run (drop-in moved aside, account locked), recorded, and the run after that changes nothing.

drill1 is the restore drills' scratch host; the drift tests use it after this module, so the module leaves it as
it found it: the account made by hand is deleted and a last run approves the module's own integrity differences
(a restored file has a new inode; useradd and userdel rewrote the account databases).
"""

from __future__ import annotations

import json
import re
import secrets
import subprocess
from dataclasses import dataclass, field

import pytest
import yaml
from lab_run import SSH, on, playbook, recap
from passlib.hash import sha512_crypt

from baseline import REPO_ROOT

pytestmark = pytest.mark.lab
HOST = "drill1"
LINUX = ["playbooks/preflight.yml", "playbooks/linux.yml"]
ELSEWHERE = "192.0.2.0/24"  # TEST-NET-1: no controller there
NO_SHARED_CONNECTION = "-o ControlMaster=no -o ControlPath=none -o ServerAliveInterval=10"
ROLLBACK_RECORD = "/var/lib/baseline/rollback/access.restored.json"
UNMANAGED_RECORD = "/var/lib/baseline/unmanaged.jsonl"
STRAY_SUDOERS = "/etc/sudoers.d/90-stray"
STRAY_USER = "strayuser"
# The runs select the controls they exercise by tag, as an administrator repairing one control does: the staff keys
# (AC-02) and the firewall (IP-03) for the cut; accounts and sudo outside the roster (AC-02, AC-03) for the strays.
CUT_TAGS = "AC-02,IP-03"
STRAY_TAGS = "AC-02,AC-03"


def _yaml(path: str):
    return yaml.safe_load((REPO_ROOT / path).read_text(encoding="utf-8"))


ROLLBACK_SECONDS = _yaml("roles/accounts/defaults/main.yml")["accounts_lockout_rollback_seconds"]
# The cut with no shared connection is restored by the timer alone: it arms it with the shortest time the role
# accepts, so the test waits half as long as with the default.
TIMER_ONLY_ROLLBACK_SECONDS = 30
ADMIN_NETWORKS = _yaml("inventory/group_vars/all/platform.yml")["admin_networks"]
INBOUND = _yaml("inventory/group_vars/all/linux.yml")["server_inbound_services"]
ACTIVE_STAFF = [p["username"] for p in _yaml("inventory/group_vars/all/staff.yml")["staff"] if p["status"] == "active"]


def cut_vars(**more) -> str:
    """Extra variables that pass the pre-flight and cut the controller off: see the module's docstring."""
    inbound = [dict(s, sources=[ELSEWHERE]) if s["name"] == "ssh" else s for s in INBOUND]
    return json.dumps({"admin_networks": [*ADMIN_NETWORKS, ELSEWHERE], "server_inbound_services": inbound, **more})


def attempt(host: str, command: str) -> subprocess.CompletedProcess:
    """A new SSH connection of the automation account (the lab's ssh_config), never raising."""
    return subprocess.run([*SSH, host, command], capture_output=True, text=True, timeout=120, check=False)


def access_state(host: str) -> dict[str, str]:
    """What the rollback must give back: the loaded ruleset, nftables.conf and every authorized_keys under /home
    (content, mode, owner)."""
    return {
        "ruleset": on(host, "sudo nft list ruleset"),
        "nftables.conf": on(host, "sudo sha256sum /etc/nftables.conf; sudo stat -c '%a %U:%G' /etc/nftables.conf"),
        "authorized_keys": on(host, "sudo sh -c 'for f in /home/*/.ssh/authorized_keys; do sha256sum \"$f\";"
                                    " stat -c \"%a %U:%G\" \"$f\"; done'"),
    }


def staff_key_files(host: str) -> set[str]:
    """The active staff's authorized_keys that hold keys (the cut run rewrites their from=)."""
    paths = [f"/home/{u}/.ssh/authorized_keys" for u in ACTIVE_STAFF]
    listed = on(host, "sudo sh -c 'for f in " + " ".join(paths) + "; do if [ -s \"$f\" ]; then echo \"$f\"; fi; done'")
    return set(listed.split())


@dataclass
class Cut:
    """A run that cut the controller off: its process, drill1's access state before and after, the rollback's
    record, whether a new login works after the run."""

    proc: subprocess.CompletedProcess
    before: dict[str, str]
    keys: set[str]
    after: dict[str, str] = field(default_factory=dict)
    record: dict = field(default_factory=dict)
    back: subprocess.CompletedProcess | None = None

    @property
    def message(self) -> str:
        found = re.search(r'"msg": "(Lockout safety on (?:[^"\\]|\\.)*)"', self.proc.stdout)
        return json.loads(f'"{found.group(1)}"') if found else ""  # the message as Ansible's JSON string holds it

    def output(self) -> str:
        return self.proc.stdout[-6000:] + self.proc.stderr[-2000:]


def cut_off(strategy: str = "", **more) -> Cut:
    on(HOST, f"sudo -n true && sudo rm -f {ROLLBACK_RECORD}")  # the record read afterwards is this run's
    before, keys = access_state(HOST), staff_key_files(HOST)
    cut = Cut(playbook(*LINUX, "--limit", HOST, "--tags", CUT_TAGS, "-e", cut_vars(**more), timeout=1800,
                       strategy=strategy), before, keys)
    cut.back = attempt(HOST, "sudo -n true")
    if cut.back.returncode == 0:
        cut.after = access_state(HOST)
        cut.record = json.loads(on(HOST, f"sudo cat {ROLLBACK_RECORD}"))
    return cut


@pytest.fixture(scope="module", autouse=True)
def leave_drill1_as_found(demo_run):
    """After the module: the account made by hand goes, and one run approves the module's integrity differences."""
    yield
    attempt(HOST, f"sudo rm -f {STRAY_SUDOERS}; if getent passwd {STRAY_USER} >/dev/null; then "
                  f"sudo userdel --remove {STRAY_USER} 2>/dev/null; fi")
    settled = playbook(*LINUX, "--limit", HOST, "-e", "integrity_approve=all", timeout=1800)
    assert settled.returncode == 0, settled.stdout[-5000:]


@pytest.fixture(scope="module")
def cut_open():
    """The cut with the run's own connection still open (ansible.cfg's strategy)."""
    return cut_off()


@pytest.fixture(scope="module")
def cut_closed():
    """The cut with no shared SSH connection (the stock strategy): after it, nothing of the run reaches drill1."""
    return cut_off(strategy="linear", ansible_ssh_args=NO_SHARED_CONNECTION,
                   accounts_lockout_rollback_seconds=TIMER_ONLY_ROLLBACK_SECONDS)


SCENARIOS = ["cut_open", "cut_closed"]
RESTORED_BY = {"cut_open": "command", "cut_closed": "timer"}
ARMED_FOR = {"cut_open": ROLLBACK_SECONDS, "cut_closed": TIMER_ONLY_ROLLBACK_SECONDS}


@pytest.mark.lab_cost(170)
@pytest.mark.parametrize("scenario", SCENARIOS)
def test_the_run_passes_the_preflight_and_stops_for_the_cut_off_host_with_exit_2(scenario, request):
    cut = request.getfixturevalue(scenario)
    assert "Lockout safety on drill1" in cut.proc.stdout, "the run never reached the guarded change:\n" + cut.output()
    assert cut.proc.returncode == 2, cut.output()
    assert recap(cut.proc.stdout)[HOST]["failed"] == 1


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_the_message_names_the_host_and_every_file_restored(scenario, request):
    cut = request.getfixturevalue(scenario)
    assert cut.record, "no rollback record on drill1:\n" + cut.output()
    assert cut.message.startswith("Lockout safety on drill1 (change: firewall ruleset): a new SSH login of "), \
        cut.message or cut.output()
    assert f"put back the access configuration from before this run: {cut.record['summary']}." in cut.message


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_the_ruleset_and_the_staff_keys_the_run_had_rewritten_are_what_was_restored(scenario, request):
    cut = request.getfixturevalue(scenario)
    restored = {f["path"] for f in cut.record.get("files", []) if f["action"] == "restored"}
    assert cut.keys, "no staff key file holds keys on drill1: the run had no keys to rewrite"
    assert restored == {"/etc/nftables.conf", *cut.keys}, cut.record


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_who_restored_drill1(scenario, request):
    """Open connection: the run restored at once through it; none: the host's own countdown did."""
    cut = request.getfixturevalue(scenario)
    assert cut.record.get("restored_by") == RESTORED_BY[scenario], cut.record or cut.output()


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_drill1_takes_a_new_login_again_within_the_rollback_time(scenario, request):
    cut = request.getfixturevalue(scenario)
    assert cut.back.returncode == 0, f"drill1 refuses a new login after the run: {cut.back.stderr}"
    took = cut.record["restored_at"] - cut.record["armed_at"]
    assert took <= ARMED_FOR[scenario] + 10, f"restored {took:.0f} s after the rollback was armed"
    assert "State now: a new SSH login of automation with sudo works" in cut.message


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_the_loaded_ruleset_is_the_one_from_before(scenario, request):
    cut = request.getfixturevalue(scenario)
    assert cut.after.get("ruleset") == cut.before["ruleset"]


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_nftables_conf_is_the_one_from_before(scenario, request):
    cut = request.getfixturevalue(scenario)
    assert cut.after.get("nftables.conf") == cut.before["nftables.conf"]


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_every_authorized_keys_is_the_one_from_before(scenario, request):
    cut = request.getfixturevalue(scenario)
    assert cut.after.get("authorized_keys") == cut.before["authorized_keys"]


# --- what the baseline forbids, added by hand -----------------------------------------------------------------------

@dataclass
class Strays:
    applied: subprocess.CompletedProcess
    again: subprocess.CompletedProcess
    sudoers_sha256: str
    key_sha256: str
    password_hash: str

    def records(self) -> list[dict]:
        text = on(HOST, f"sudo cat {UNMANAGED_RECORD}")
        return [json.loads(line) for line in text.splitlines() if line.strip()]


@pytest.fixture(scope="module")
def strays(tmp_path_factory):
    """A NOPASSWD drop-in for someone outside the roster and an account with a shell and a key, made by hand; then
    the baseline twice."""
    keyfile = tmp_path_factory.mktemp("stray") / "key"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "stray", "-f", str(keyfile)], check=True)
    public = keyfile.with_suffix(".pub").read_text().strip()
    on(HOST, f"printf '%s\\n' '{STRAY_USER} ALL=(ALL) NOPASSWD: ALL' | sudo tee {STRAY_SUDOERS} >/dev/null"
             f" && sudo chmod 0440 {STRAY_SUDOERS} && sudo visudo -cqf {STRAY_SUDOERS}")
    home = f"/home/{STRAY_USER}"
    password_hash = sha512_crypt.using(rounds=5000).hash(secrets.token_urlsafe(24))  # a usable password nobody knows
    on(HOST, f"sudo useradd --create-home --shell /bin/bash --password '{password_hash}' {STRAY_USER}"
             f" && sudo install -d -m 0700 -o {STRAY_USER} -g {STRAY_USER} {home}/.ssh"
             f" && printf '%s\\n' '{public}' | sudo tee {home}/.ssh/authorized_keys >/dev/null"
             f" && sudo chown {STRAY_USER}: {home}/.ssh/authorized_keys && sudo chmod 0600 {home}/.ssh/authorized_keys")
    sudoers_sha256 = on(HOST, f"sudo sha256sum {STRAY_SUDOERS}").split()[0]
    key_sha256 = on(HOST, f"sudo sha256sum {home}/.ssh/authorized_keys").split()[0]
    applied = playbook(*LINUX, "--limit", HOST, "--tags", STRAY_TAGS, timeout=1800)
    again = playbook(*LINUX, "--limit", HOST, "--tags", STRAY_TAGS, timeout=1800)
    return Strays(applied, again, sudoers_sha256, key_sha256, password_hash)


def test_the_run_that_finds_them_succeeds(strays):
    assert strays.applied.returncode == 0, strays.applied.stdout[-5000:]


def test_the_stray_sudoers_dropin_is_gone(strays):
    assert attempt(HOST, f"sudo test -e {STRAY_SUDOERS}").returncode == 1


def test_the_stray_dropin_is_recorded_and_kept_aside_byte_for_byte(strays):
    entries = [r for r in strays.records() if r.get("path") == STRAY_SUDOERS and r["host"] == HOST]
    assert [e["action"] for e in entries] == ["removed sudoers drop-in"], entries
    kept = on(HOST, f"sudo sha256sum {entries[0]['kept_at']}").split()[0]
    assert kept == strays.sudoers_sha256


def test_the_account_outside_the_roster_is_locked(strays):
    shell = on(HOST, f"getent passwd {STRAY_USER}").strip().split(":")[6]
    password = on(HOST, f"sudo getent shadow {STRAY_USER}").split(":")[1]
    keys = attempt(HOST, f"sudo test -e /home/{STRAY_USER}/.ssh/authorized_keys").returncode == 0
    assert (shell, password, keys) == ("/usr/sbin/nologin", "!" + strays.password_hash, False)


def test_the_locked_account_and_its_moved_key_are_recorded(strays):
    entries = [r for r in strays.records() if r.get("account") == STRAY_USER and r["host"] == HOST]
    assert [(e["action"], e["shell_was"], e["keys_moved"]) for e in entries] == \
        [("locked account outside the roster", "/bin/bash", [f"/home/{STRAY_USER}/.ssh/authorized_keys"])], entries
    kept = on(HOST, f"sudo sha256sum {entries[0]['kept_at']}/home/{STRAY_USER}/.ssh/authorized_keys").split()[0]
    assert kept == strays.key_sha256


def test_the_run_names_what_it_took_away(strays):
    out = strays.applied.stdout
    assert re.search(rf"AC-03: removed from /etc/sudoers.d on {HOST} \(not managed by the baseline\): {STRAY_SUDOERS};",
                     out), out[-5000:]
    assert re.search(rf"AC-02: locked on {HOST} \(outside the roster, could log in\): {STRAY_USER} ", out), out[-5000:]


def test_the_next_run_changes_nothing(strays):
    assert strays.again.returncode == 0, strays.again.stdout[-5000:]
    changed = re.findall(r"^changed: .*$", strays.again.stdout, re.M)
    assert recap(strays.again.stdout)[HOST]["changed"] == 0, changed
