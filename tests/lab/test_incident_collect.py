"""IR-02 evidence preservation on the hardened lab (`baseline incident collect`, baseline/operations/evidence.py):
collecting from app1 changes nothing the integrity check (IP-05, roles/hardening: AIDE with
/etc/aide/baseline.conf) sees, leaves no scratch directory on the host, writes an archive whose manifest verifies,
and the custody chain names an edited record."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest
from lab_run import on

from baseline import REPO_ROOT
from baseline.operations import evidence
from baseline.results import read_results
from devtools.lab import config

pytestmark = pytest.mark.lab
HOST = "app1"
# The integrity check as the baseline runs it (roles/hardening/templates/aide-check.sh.j2) and the compliance
# suite checks it (compliance_tests/linux/test_hardening.py); its exit status is printed, so that `on` does not fail
# on a non-zero one and the two runs can be compared.
AIDE_CHECK = "sudo -n aide --config /etc/aide/baseline.conf --check; echo \"aide-exit=$?\""
# The lines of AIDE's report that name a path (the check script forwards the same lines to the log server).
AIDE_ENTRY = re.compile(r"^(added|removed|changed|[fdl][ +=!.a-zA-Z]+):.*$", re.M)


def baseline(*args: str, timeout: float = 900) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "baseline.cli", *args], cwd=REPO_ROOT, capture_output=True, text=True,
                          timeout=timeout, check=False)


def aide_state(output: str) -> tuple[str, list[str]]:
    found = re.search(r"aide-exit=(\d+)", output)
    assert found, output[-2000:]
    return found.group(1), sorted(m.group(0) for m in AIDE_ENTRY.finditer(output))


def test_collect_preserves_evidence_without_changing_the_host(demo_run, tmp_path):
    out = tmp_path / "evidence"
    results = tmp_path / "ir02.jsonl"
    before = aide_state(on(HOST, AIDE_CHECK, timeout=900))

    proc = baseline("incident", "collect", HOST, "--inventory", str(config.INVENTORY_DIR), "--out", str(out),
                    "--results-file", str(results))
    assert proc.returncode == 0, f"{proc.stdout}\n{proc.stderr}"

    after = aide_state(on(HOST, AIDE_CHECK, timeout=900))
    assert after == before, f"the integrity check differs after the collection: before {before}, after {after}"

    # no scratch directory left on the host
    left = on(HOST, "sudo -n find /tmp -maxdepth 1 -name 'baseline-evidence.*'")
    assert left.strip() == "", left

    # the archive: its manifest verifies, its custody.json names the host as it is
    (archive,) = sorted(out.glob(f"{HOST}-*.tar.gz"))
    problems, manifest_hash = evidence.verify_archive(archive)
    assert problems == [] and manifest_hash
    with tarfile.open(archive, "r:gz") as tar:
        top = archive.name.removesuffix(".tar.gz")
        handle = tar.extractfile(f"{top}/custody.json")
        assert handle is not None
        custody = json.loads(handle.read())
        processes = tar.extractfile(f"{top}/volatile/02-processes.txt")
        assert processes is not None and b"sshd" in processes.read()
    assert custody["host_identity"]["machine_id"] == on(HOST, "cat /etc/machine-id").strip()
    assert custody["host_identity"]["ssh_host_keys"], custody["host_identity"]
    assert custody["from"]["address_seen_by_host"] == "10.231.0.1"
    assert custody["scratch"]["removed"] is True
    assert not [i for i in custody["items"] if i["status"] == "failed"], custody["items"]
    assert on(HOST, f"test ! -e {custody['scratch']['path']} && echo gone").strip() == "gone"

    # the IR-02 result of the collection
    (result,) = [r for r in read_results([results]) if r.control_ids == ["IR-02"]]
    assert (result.asset, result.outcome) == (HOST, "pass"), result.reason
    assert evidence.sha256_file(archive) in result.reason

    # the custody chain verifies; an edited record is named and verify exits 1
    verified = baseline("incident", "custody", "verify", "--dir", str(out))
    assert verified.returncode == 0, verified.stdout + verified.stderr
    chain = out / "custody.jsonl"
    record = json.loads(chain.read_text().splitlines()[0])
    record["operator"] = "someone-else"
    chain.write_text(json.dumps(record, ensure_ascii=False, sort_keys=True, separators=(",", ":")) + "\n")
    tampered = baseline("incident", "custody", "verify", "--dir", str(out))
    assert tampered.returncode == 1, tampered.stdout + tampered.stderr
    assert f"{record['id']}, seq 1" in tampered.stdout and "edited" in tampered.stdout, tampered.stdout


def test_incident_verify_writes_ir02_for_every_server(demo_run, tmp_path):
    """After one collection from app1: IR-02 passes on app1 and is not applicable on the other servers (no incident
    graded in this empty register)."""
    out = tmp_path / "evidence"
    proc = baseline("incident", "collect", HOST, "--inventory", str(config.INVENTORY_DIR), "--out", str(out),
                    "--results-file", str(tmp_path / "collect.jsonl"))
    assert proc.returncode == 0, f"{proc.stdout}\n{proc.stderr}"
    results = tmp_path / "verify.jsonl"
    verified = baseline("incident", "--dir", str(tmp_path / "incidents"), "verify", "--results-file", str(results),
                        "--evidence-dir", str(out), "--inventory", str(config.INVENTORY_DIR))
    assert verified.returncode == 0, verified.stdout + verified.stderr
    rows = {r.asset: r.outcome for r in read_results([results]) if r.check == "evidence_custody"}
    assert rows.pop(HOST) == "pass"
    assert rows and set(rows.values()) == {"not_applicable"}, rows
    assert Path(out / "custody.jsonl").is_file()
