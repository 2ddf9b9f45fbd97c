"""pyinfra's pki, audit and logserver deploys on the lab (playbooks/pyinfra/pki.py, audit.py, logserver.py):

- a twin set up by pyinfra holds a certificate of the SAME project CA as the hosts Ansible set up (one CA in
  .lab/pki), and its records reach the log server over TLS (the server checks the client's certificate, the
  client the server's name);
- on the hosts the engine-parity test leaves out, the log server log1 and the kernel host kern1 (set up by Ansible),
  a pyinfra --dry run of these deploys plans no change: the engines never fight there either.

Runs after test_engine_parity.py (same rank, file order), which applies the twins; alone, it applies app2 first.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from lab_run import on

from baseline import REPO_ROOT
from baseline.operations import changes

pytestmark = [pytest.mark.lab, pytest.mark.extended]
BIN = Path(sys.executable).parent
PYINFRA_INVENTORY = "inventory/lab/pyinfra_inventory.py"
TWIN, ORIGINAL, LOG_SERVER, KERNEL_HOST = "app2", "app1", "log1", "kern1"
ARRIVAL_SECONDS = 60


def pyinfra(limit: str, deploy: str, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "ANSIBLE_CONFIG": str(REPO_ROOT / "ansible.cfg")}
    confirm = [] if "--dry" in args else ["-y"]
    limits = [arg for name in limit.split(",") for arg in ("--limit", name)]  # pyinfra: one --limit per name
    return subprocess.run([str(BIN / "pyinfra"), *confirm, PYINFRA_INVENTORY, deploy, *limits, *args],
                          cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=1800, check=False)


def planned_or_made() -> dict[str, list[str]]:
    """host -> operations the last pyinfra run changed (or, with --dry, would change), from its change record."""
    records = changes.archive().read()
    assert records, "the pyinfra run left no change record (CM-01)"
    found: dict[str, list[str]] = {}
    for entry in records[-1].get("changes") or []:
        found.setdefault(entry["host"], []).append(entry["task"])
    return found


def has_certificate(host: str) -> bool:
    try:
        on(host, f"test -s /etc/baseline-pki/{host}.crt")
    except AssertionError:
        return False
    return True


@pytest.fixture(scope="module")
def twin_applied(demo_run):
    if not has_certificate(TWIN):
        proc = pyinfra(TWIN, "playbooks/pyinfra/site.py")
        assert proc.returncode == 0, f"pyinfra on {TWIN} failed:\n{proc.stdout[-4000:]}\n{proc.stderr[-2000:]}"
    return TWIN


def test_the_twin_holds_a_certificate_of_the_same_project_ca(twin_applied):
    twin_ca = on(TWIN, "cat /etc/baseline-pki/ca.crt")
    assert twin_ca == on(ORIGINAL, "cat /etc/baseline-pki/ca.crt")
    assert twin_ca == (REPO_ROOT / ".lab" / "pki" / "ca.crt").read_text(encoding="utf-8")
    verified = on(TWIN, f"openssl verify -purpose sslclient -CAfile /etc/baseline-pki/ca.crt "
                        f"/etc/baseline-pki/{TWIN}.crt")
    assert verified.strip().endswith(": OK")
    subject = on(TWIN, f"openssl x509 -in /etc/baseline-pki/{TWIN}.crt -noout -subject -ext subjectAltName")
    assert f"CN = {TWIN}" in subject and f"DNS:{TWIN}" in subject
    assert on(TWIN, f"sudo stat -c '%U:%G %a' /etc/baseline-pki/{TWIN}.key").strip() == "root:root 600"
    # the key on the host is the one kept beside the CA on the controller (a replaced host gets it back)
    controller_key = (REPO_ROOT / ".lab" / "pki" / "issued" / f"{TWIN}-{TWIN}.key").read_bytes()
    host_key_digest = on(TWIN, f"sudo sha256sum /etc/baseline-pki/{TWIN}.key").split()[0]
    assert hashlib.sha256(controller_key).hexdigest() == host_key_digest


def test_the_twins_records_reach_the_log_server_over_tls(twin_applied):
    marker = f"baseline-pyinfra-forwarding-{uuid.uuid4().hex[:12]}"
    on(TWIN, f"logger -t baseline-test {marker}")
    deadline = time.monotonic() + ARRIVAL_SECONDS
    while time.monotonic() < deadline:
        found = on(LOG_SERVER, f"sudo grep -rl {marker} /var/log/remote/ 2>/dev/null || true").split()
        if found:
            assert all(f"/var/log/remote/{TWIN}" in path or "/var/log/remote/10." in path for path in found), found
            return
        time.sleep(2)
    pytest.fail(f"{marker} logged on {TWIN} did not reach {LOG_SERVER} within {ARRIVAL_SECONDS} s")


# log_permissions is left out: a service may have made a log readable by others since, which both engines fix.
@pytest.mark.parametrize("deploy", ["pki", "logserver", "audit"])
def test_pyinfra_plans_no_change_on_the_ansible_log_server_and_kernel_host(demo_run, deploy):
    proc = pyinfra(f"{LOG_SERVER},{KERNEL_HOST}", f"playbooks/pyinfra/{deploy}.py", "--dry")
    assert proc.returncode == 0, f"pyinfra --dry {deploy} failed:\n{proc.stdout[-4000:]}\n{proc.stderr[-2000:]}"
    assert planned_or_made() == {}, f"pyinfra's {deploy} deploy would change what Ansible set up"
