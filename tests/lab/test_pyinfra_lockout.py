"""pyinfra's lockout safety fires for real, on drill1 after `scripts/demo` hardened the lab, as
tests/lab/test_lockout_safety.py shows Ansible's.

The cut is the one of that module: admin_networks gains a network and still holds the controller's (the pre-flight
passes), while the firewall's SSH rule admits only that other network. Here it reaches pyinfra as a copy of the lab
inventory with these values in host_vars/drill1.yml, named with `--data baseline_inventory=...`, and the firewall
deploy (playbooks/pyinfra/hardening.py) runs on drill1. The on-host rollback is armed before the new ruleset loads;
the confirming login, a new SSH connection, is refused; the run restores through its own open connection and stops
for drill1. Afterwards the ruleset and nftables.conf are byte for byte what they were, a new login with sudo works
within the rollback time, the rollback's record names the file it put back, and the change record of the run says
it failed at the confirming login. The module leaves drill1 as it found it: playbooks/settle.yml approves its one
integrity difference (the restored file has a new inode).
"""

from __future__ import annotations

import json
import os
import subprocess
from dataclasses import dataclass, field

import pytest
from lab_run import BIN, on, playbook
from test_lockout_safety import ROLLBACK_RECORD, ROLLBACK_SECONDS, attempt, cut_vars

from baseline import REPO_ROOT
from baseline.operations import changes
from devtools.lab import config

pytestmark = [pytest.mark.lab, pytest.mark.extended]
HOST = "drill1"
DEPLOY = "playbooks/pyinfra/hardening.py"
REASON = "pyinfra lockout safety test: the firewall admits SSH from another network only"


def firewall(host: str) -> dict[str, str]:
    """What the rollback must give back: the loaded ruleset and nftables.conf (content, mode, owner)."""
    return {"ruleset": on(host, "sudo nft list ruleset"),
            "nftables.conf": on(host, "sudo sha256sum /etc/nftables.conf; sudo stat -c '%a %U:%G' /etc/nftables.conf")}


@dataclass
class Cut:
    proc: subprocess.CompletedProcess
    before: dict[str, str]
    back: subprocess.CompletedProcess
    after: dict[str, str] = field(default_factory=dict)
    record: dict = field(default_factory=dict)
    change: dict = field(default_factory=dict)

    def output(self) -> str:
        return self.proc.stdout[-6000:] + self.proc.stderr[-3000:]


@pytest.fixture(scope="module")
def pyinfra_cut(demo_run, tmp_path_factory):
    copy = tmp_path_factory.mktemp("pyinfra-cut") / "inventory"
    (copy / "host_vars").mkdir(parents=True)
    hosts = copy / "hosts.yml"
    hosts.touch(mode=0o600)  # the lab's vaulted values stay vaulted, in a file of the owner alone
    hosts.write_bytes((config.INVENTORY_DIR / "hosts.yml").read_bytes())
    for name in ("devices.yml", "devsim.yml", "group_vars", "known_hosts", "ssh_config"):
        (copy / name).symlink_to((config.INVENTORY_DIR / name).resolve())
    (copy / "host_vars" / f"{HOST}.yml").write_text(cut_vars(), encoding="utf-8")  # JSON is YAML
    on(HOST, f"sudo -n true && sudo rm -f {ROLLBACK_RECORD}")  # the record read afterwards is this run's
    before = firewall(HOST)
    seen = len(changes.archive().read())
    env = {**os.environ, "ANSIBLE_CONFIG": str(REPO_ROOT / "ansible.cfg")}
    proc = subprocess.run([str(BIN / "pyinfra"), "-y", str(config.INVENTORY_DIR / "pyinfra_inventory.py"), DEPLOY,
                           "--limit", HOST, "--data", f"baseline_inventory={copy}", "--data", f"change_reason={REASON}"],
                          cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=1800, check=False)
    cut = Cut(proc, before, attempt(HOST, "sudo -n true"))
    if cut.back.returncode == 0:
        cut.after = firewall(HOST)
        cut.record = json.loads(on(HOST, f"sudo cat {ROLLBACK_RECORD}"))
    new = [r for r in changes.archive().read()[seen:] if r.get("engine") == "pyinfra"]
    cut.change = new[-1] if new else {}
    yield cut
    settled = playbook("playbooks/settle.yml", "--limit", HOST, "-e", "integrity_approve=all", timeout=1800)
    assert settled.returncode == 0, settled.stdout[-5000:]


def test_the_run_arms_the_rollback_and_stops_for_the_cut_off_host(pyinfra_cut):
    out = pyinfra_cut.proc.stdout + pyinfra_cut.proc.stderr
    assert "Lockout safety: arm the rollback before the change: firewall ruleset" in out, pyinfra_cut.output()
    assert pyinfra_cut.proc.returncode != 0, pyinfra_cut.output()
    assert (f"{HOST}: firewall ruleset: a new SSH login with sudo failed after the change" in out
            and "the previous access configuration is restored and the run stops for this host" in out), \
        pyinfra_cut.output()
    assert "Traceback" not in out, pyinfra_cut.output()  # the stop is the operation's failure, with its reason


def test_drill1_takes_a_new_login_again_within_the_rollback_time(pyinfra_cut):
    assert pyinfra_cut.back.returncode == 0, f"drill1 refuses a new login after the run: {pyinfra_cut.back.stderr}"
    record = pyinfra_cut.record
    assert record.get("restored_by") == "command", record or pyinfra_cut.output()  # through the run's connection
    assert record["restored_at"] - record["armed_at"] <= ROLLBACK_SECONDS + 10, record
    assert {f["path"] for f in record["files"] if f["action"] == "restored"} == {"/etc/nftables.conf"}, record


def test_the_ruleset_and_nftables_conf_are_those_from_before(pyinfra_cut):
    assert pyinfra_cut.after == pyinfra_cut.before


def test_the_change_record_says_the_run_failed_at_the_confirming_login(pyinfra_cut):
    change = pyinfra_cut.change
    assert change, "the pyinfra run left no change record (CM-01)"
    assert change["result"] == "failed" and change["reason"] == REASON and change["hosts"] == [HOST], change
    failed = [p["task"] for p in change.get("problems", []) if p.get("host") == HOST]
    assert any("a new SSH login with sudo after the change: firewall ruleset" in task for task in failed), change
