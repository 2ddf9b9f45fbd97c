"""Media sanitisation (RI-02) on a lab host over SSH, as an administrator runs it: playbooks/sanitise.yml wipes a
loop device over a file on kern1 (the VM: its own kernel, so the loop device is its own), the bytes read on the host
afterwards are all zeros, the certificate names the device and a passed read back, and `baseline sanitise verify`
judges the register it was kept in. The host's system disk is refused before anything is written, in --check as
well. The loop device and its file are removed in a `finally`; the register and results live in a temporary
directory of the test."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from lab_run import SSH, on, playbook

from baseline import sanitise
from baseline.results import read_results

pytestmark = pytest.mark.lab

HOST = "kern1"
IMAGE = "/var/tmp/baseline-sanitise-medium.img"
SIZE_MIB = 8


@pytest.fixture()
def medium():
    """A loop device over an 8 MiB file of random bytes on the host: its path."""
    device = on(HOST, f"sudo dd if=/dev/urandom of={IMAGE} bs=1M count={SIZE_MIB} status=none && "
                      f"sudo losetup --find --show {IMAGE}").strip()
    assert device.startswith("/dev/loop"), device
    try:
        yield device
    finally:
        subprocess.run([*SSH, HOST, f"sudo losetup -d {device}; sudo rm -f {IMAGE}"], capture_output=True,
                       timeout=120, check=False)


def run(tmp_path, *args: str, **values: object) -> subprocess.CompletedProcess:
    os.environ["BASELINE_SANITISATION_DIR"] = str(tmp_path / "sanitisation")
    try:
        extra = {"sanitise_host": HOST, "sanitise_results_file": str(tmp_path / "results.jsonl"), **values}
        return playbook("playbooks/sanitise.yml", "-e", json.dumps(extra), *args, timeout=900)
    finally:
        os.environ.pop("BASELINE_SANITISATION_DIR", None)


def test_a_loop_device_on_the_vm_is_wiped_read_back_and_certified(demo_run, medium, tmp_path):
    name = medium.rsplit("/", 1)[1]
    before = on(HOST, f"sudo cmp -s -n {SIZE_MIB * 1024 * 1024} {medium} /dev/zero; echo $?").strip()
    assert before == "1", "the medium holds zeros before the wipe: the test would prove nothing"
    proc = run(tmp_path, sanitise_device=medium, sanitise_confirm=name)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    # the host's own view of the device: every byte is zero
    assert on(HOST, f"sudo cmp -n {SIZE_MIB * 1024 * 1024} {medium} /dev/zero && echo zeros").strip() == "zeros"
    records = [r for r in read_results([tmp_path / "results.jsonl"]) if "RI-02" in r.control_ids]
    assert records and records[-1].outcome == "pass", [(r.outcome, r.reason) for r in records]
    (certificate,) = [e.observed for e in records[-1].evidence if e.command.startswith("sanitisation certificate")]
    assert certificate["host"] == HOST and certificate["device"] == medium
    assert certificate["size_bytes"] == SIZE_MIB * 1024 * 1024 and certificate["verification"] == "passed"
    kept = sanitise.register(tmp_path / "sanitisation").verify()
    assert kept.intact and [r["stage"] for r in kept.records] == ["started", "done"]
    verified = subprocess.run([sys.executable, "-m", "baseline.cli", "sanitise", "verify", "--dir",
                               str(tmp_path / "sanitisation"), "--results-file", str(tmp_path / "verify.jsonl")],
                              capture_output=True, text=True, timeout=120, check=False)
    assert verified.returncode == 0, verified.stdout + verified.stderr
    (judged,) = [r for r in read_results([tmp_path / "verify.jsonl"]) if r.check == "sanitisation_register"]
    assert judged.outcome == "pass", judged.reason


def test_the_vms_system_disk_is_refused_before_anything_is_written(demo_run, tmp_path):
    # the block device that holds / (the VM boots with root=/dev/vda), found from the kernel's numbers
    disk = on(HOST, "basename $(readlink -f /sys/dev/block/$(mountpoint -d /))").strip()
    assert disk and "/" not in disk, f"the disk of / was not found: {disk!r}"
    proc = run(tmp_path, "--check", sanitise_device=f"/dev/{disk}", sanitise_confirm=disk)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 2, out[-4000:]
    assert "RI-02: refused, nothing was written" in out and "the system disk is never wiped" in out, out[-4000:]
    assert not (tmp_path / "results.jsonl").exists()
