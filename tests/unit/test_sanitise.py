"""Media sanitisation (RI-02, playbooks/sanitise.yml, plugins/modules/block_sanitise.py, baseline/sanitise.py).

The playbook runs on localhost with a local connection against a loop device over a few MiB file in a temporary
directory, created here and detached in a finally; no other device is written. Refusals end the run with status 2
and leave the file's bytes and the results untouched; the system disk is only ever given with --check, so that
even a broken refusal could write nothing to it. The report (scripts/report's JSON) shows the certificate on
RI-02's row. Every record also goes to the sanitisation register, kept in the temporary directory
($BASELINE_SANITISATION_DIR) and checked here; its verification has its own tests (test_sanitise_register.py)."""

from __future__ import annotations

import hashlib
import importlib.util
import io
import json
import os
import shutil
import subprocess
import sys
import time
from contextlib import redirect_stdout
from pathlib import Path
from types import ModuleType

import pytest

from baseline import REPO_ROOT, sanitise
from baseline.results import read_results

ANSIBLE_PLAYBOOK = str(Path(sys.executable).parent / "ansible-playbook")
SIZE = 4 * 1024 * 1024
FILL = b"\xab"

needs_loop = pytest.mark.skipif(
    os.geteuid() != 0 or shutil.which("losetup") is None,
    reason="loop devices need root and losetup (util-linux); the sanitisation runs on a loop device over a file")


def module() -> ModuleType:
    spec = importlib.util.spec_from_file_location("block_sanitise", REPO_ROOT / "plugins/modules/block_sanitise.py")
    assert spec and spec.loader
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture
def work(tmp_path: Path) -> Path:
    inventory = {"all": {"hosts": {"localhost": {"ansible_connection": "local", "ansible_become": False,
                                                 "ansible_python_interpreter": sys.executable}}}}
    (tmp_path / "hosts.yml").write_text(json.dumps(inventory), encoding="utf-8")
    return tmp_path


@pytest.fixture
def disk(tmp_path: Path):
    """A file of SIZE bytes of FILL behind a loop device: (device path, file)."""
    image = tmp_path / "medium.img"
    image.write_bytes(FILL * SIZE)
    device = subprocess.run(["losetup", "--find", "--show", str(image)], capture_output=True, text=True,
                            check=True).stdout.strip()
    try:
        yield device, image
    finally:
        backing = Path("/sys/block") / Path(device).name / "loop" / "backing_file"
        for _ in range(50):  # a device just unmounted can still be busy for a moment: detach until it is gone
            subprocess.run(["losetup", "-d", device], capture_output=True, check=False)
            if not backing.exists():
                break
            time.sleep(0.1)


def play(work: Path, *args: str, register: Path | None = None, **extra: object) -> subprocess.CompletedProcess:
    """The playbook on localhost; the sanitisation register in work/sanitisation unless `register` is given."""
    values = {"sanitise_host": "localhost", "sanitise_results_file": str(work / "results.jsonl"), **extra}
    env = {**os.environ, "ANSIBLE_CONFIG": str(REPO_ROOT / "ansible.cfg"), "ANSIBLE_NOCOLOR": "1",
           "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    env["BASELINE_SANITISATION_DIR"] = str(register or work / "sanitisation")
    env.pop("BASELINE_RUN_ID", None)
    return subprocess.run([ANSIBLE_PLAYBOOK, "-i", str(work / "hosts.yml"), str(REPO_ROOT / "playbooks/sanitise.yml"),
                           "-e", json.dumps(values), *args],
                          cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=300, check=False)


def refused(proc: subprocess.CompletedProcess, work: Path, *messages: str) -> None:
    out = proc.stdout + proc.stderr
    assert proc.returncode == 2, out
    assert "RI-02: refused, nothing was written" in out, out
    for message in messages:
        assert message in out, out
    assert not (work / "results.jsonl").exists()
    assert kept(work) == []


def kept(work: Path) -> list[dict]:
    """The certificates the run kept in the sanitisation register (the chain must be intact)."""
    checked = sanitise.register(work / "sanitisation").verify()
    assert checked.intact, [str(p) for p in checked.problems]
    return checked.records


def register_seq(record) -> int:
    """The seq of the register record a results record names."""
    (named,) = [e.observed for e in record.evidence if e.command == sanitise.REGISTER_COMMAND]
    return named["seq"]


def report_cell(work: Path) -> dict:
    """RI-02's cell in the report made from the run's results."""
    out = work / "report"
    subprocess.run([sys.executable, "-m", "baseline.report.cli", "--results", str(work / "results.jsonl"),
                    "--out", str(out), "--formats", "json", "--no-inventory"],
                   cwd=REPO_ROOT, capture_output=True, text=True, check=False, timeout=120)
    data = json.loads((out / "report.json").read_text(encoding="utf-8"))
    row = next(c for c in data["controls"] if c["id"] == "RI-02")
    (cell,) = row["cells"]
    return cell


# --- refusals ----------------------------------------------------------------------------------------------------

@needs_loop
def test_refuses_a_mounted_loop_device_and_writes_nothing(work: Path, disk, tmp_path: Path) -> None:
    device, image = disk
    if shutil.which("mkfs.ext4") is None:
        pytest.skip("mkfs.ext4 is needed to mount the loop device")
    subprocess.run(["mkfs.ext4", "-q", "-F", device], capture_output=True, check=True)
    before = image.read_bytes()
    point = tmp_path / "mnt"
    point.mkdir()
    subprocess.run(["mount", "-o", "ro,noload", device, str(point)], capture_output=True, check=True)  # ro: no write
    try:
        proc = play(work, sanitise_device=device, sanitise_confirm=Path(device).name)
    finally:
        subprocess.run(["umount", str(point)], capture_output=True, check=False)
    refused(proc, work, f"sanitise_device = {device}: {Path(device).name} is mounted on {point}",
            "a mounted device or a device holding a mounted partition is never wiped")
    assert image.read_bytes() == before


@needs_loop
def test_refuses_a_loop_device_in_use_as_swap(work: Path, disk) -> None:
    device, _ = disk
    if shutil.which("mkswap") is None or shutil.which("swapon") is None:
        pytest.skip("mkswap and swapon are needed")
    subprocess.run(["mkswap", device], capture_output=True, check=True)
    on = subprocess.run(["swapon", device], capture_output=True, text=True, check=False)
    if on.returncode != 0:
        pytest.skip(f"swapon refused here: {on.stderr.strip()}")
    try:
        proc = play(work, sanitise_device=device, sanitise_confirm=Path(device).name)
    finally:
        subprocess.run(["swapoff", device], capture_output=True, check=False)
    refused(proc, work, f"{Path(device).name} is an active swap area", "a device in use as swap is never wiped")
    # the bytes are not compared: the kernel may page out to this swap area while it is on


@needs_loop
def test_refuses_a_confirmation_that_does_not_match(work: Path, disk) -> None:
    device, image = disk
    proc = play(work, sanitise_device=device, sanitise_confirm="loop999")
    refused(proc, work, "sanitise_confirm = 'loop999' does not match the device",
            f"its name ({Path(device).name}, {device})")
    assert image.read_bytes() == FILL * SIZE


def _root_disk() -> str | None:
    proc = subprocess.run(["findmnt", "-no", "SOURCE", "/"], capture_output=True, text=True, check=False)
    source = proc.stdout.strip()
    if not source.startswith("/dev/"):
        return None
    parent = subprocess.run(["lsblk", "-ndo", "PKNAME", source], capture_output=True, text=True,
                            check=False).stdout.strip()
    return f"/dev/{parent}" if parent else source


@pytest.mark.skipif(shutil.which("findmnt") is None or shutil.which("lsblk") is None, reason="findmnt and lsblk needed")
def test_refuses_the_disk_of_root_even_with_its_name_confirmed(work: Path) -> None:
    root_disk = _root_disk()
    if root_disk is None:
        pytest.skip("/ is not on a block device here (container overlay)")
    name = Path(os.path.realpath(root_disk)).name
    proc = play(work, "--check", sanitise_device=root_disk, sanitise_confirm=name)  # --check: never a write here
    refused(proc, work, "the disk holding /", "the system disk is never wiped")


def test_refuses_a_path_that_is_not_a_block_device(work: Path, tmp_path: Path) -> None:
    plain = tmp_path / "plain.img"
    plain.write_bytes(FILL * 4096)
    proc = play(work, sanitise_device=str(plain), sanitise_confirm="plain.img")
    refused(proc, work, f"sanitise_device = {plain} is a regular file, not a block device")
    assert plain.read_bytes() == FILL * 4096
    proc = play(work, sanitise_device=str(tmp_path / "absent"), sanitise_confirm="absent")
    refused(proc, work, f"sanitise_device = {tmp_path / 'absent'}: no such path")


def test_refuses_missing_inputs_and_a_host_that_is_not_one(work: Path) -> None:
    proc = play(work, sanitise_device="/dev/loop999")
    assert proc.returncode == 2 and "sanitise_confirm=<the device's serial or name>" in proc.stdout, proc.stdout
    proc = play(work, sanitise_host="nohost", sanitise_device="/dev/loop999", sanitise_confirm="loop999")
    assert proc.returncode == 2 and "sanitise_host = 'nohost' must name exactly one inventory host" in proc.stdout
    proc = play(work, sanitise_device="/dev/loop999", sanitise_confirm="loop999", sanitise_passes=9)
    assert proc.returncode == 2 and "sanitise_passes a whole number from 1 to 7 (given 9)" in proc.stdout
    assert not (work / "results.jsonl").exists()


# --- check mode, wipes and records -------------------------------------------------------------------------------

@needs_loop
def test_check_mode_says_what_would_be_wiped_and_writes_nothing(work: Path, disk) -> None:
    device, image = disk
    proc = play(work, "--check", sanitise_device=device, sanitise_confirm=Path(device).name)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert f"check mode: would wipe {device} ({Path(device).name}, {SIZE} bytes" in proc.stdout
    assert "Nothing was written" in proc.stdout
    assert image.read_bytes() == FILL * SIZE
    assert not (work / "results.jsonl").exists()
    assert kept(work) == []


@needs_loop
def test_a_wipe_leaves_only_zeros_and_a_pass_record_the_report_shows(work: Path, disk) -> None:
    device, image = disk
    proc = play(work, sanitise_device=device, sanitise_confirm=device)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert image.read_bytes() == bytes(SIZE)
    started, done = list(read_results([work / "results.jsonl"]))
    assert (started.outcome, done.outcome) == ("fail", "pass")
    assert started.check == done.check == f"media_sanitisation[localhost:{device}]"
    assert "not finished" in started.reason and started.run_id == done.run_id
    assert done.control_ids == ["RI-02"] and done.asset_kind == "organisation" and done.method == "probe"
    cert = sanitise.certificate_of(done)
    assert cert["device"] == device and cert["size_bytes"] == SIZE and cert["method"] == "overwrite with zeros"
    assert cert["passes"] == 1 and cert["verification"] == "passed" and cert["host"] == "localhost"
    assert cert["operator"] and cert["time"] and cert["certificate"].startswith("SAN-")
    assert "read back 4194304 bytes" in cert["verified_by"]
    assert done.evidence[1].observed["nonzero_bytes"] == 0
    # the register keeps both stages' certificates, and each results record names the seq its certificate got
    first, second = kept(work)
    assert (first["stage"], second["stage"]) == ("started", "done") and second["verification"] == "passed"
    assert first["check"] == second["check"] == done.check and second["certificate"] == cert["certificate"]
    assert (first["outcome"], second["outcome"]) == ("fail", "pass") and second["reason"] == done.reason
    assert (register_seq(started), register_seq(done)) == (first["seq"], second["seq"]) == (1, 2)

    cell = report_cell(work)
    assert cell["verdict"] == "met"  # RI-02 is automated: the passing certificate meets it
    (check,) = cell["checks"]
    assert check["outcome"] == "pass" and check["check"] == done.check and "every byte zero" in check["reason"]


@needs_loop
def test_a_register_that_cannot_keep_the_certificate_stops_the_run_before_the_wipe(work: Path, disk) -> None:
    """The started record's certificate cannot be appended (the register's directory would be under a file): the
    results record is written, `record` fails, and the run stops before the first byte is overwritten."""
    device, image = disk
    blocker = work / "not-a-directory"
    blocker.write_text("a file where the register's directory should be\n", encoding="utf-8")
    proc = play(work, register=blocker / "sanitisation", sanitise_device=device, sanitise_confirm=Path(device).name)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0, out
    assert "could NOT be kept in the sanitisation register" in out, out
    assert image.read_bytes() == FILL * SIZE
    (started,) = read_results([work / "results.jsonl"])
    assert started.outcome == "fail" and "not finished" in started.reason
    assert register_seq(started) is None


@needs_loop
def test_random_passes_are_verified_by_their_digest(work: Path, disk) -> None:
    device, image = disk
    proc = play(work, sanitise_device=device, sanitise_confirm=Path(device).name, sanitise_method="random",
                sanitise_passes=2)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    content = image.read_bytes()
    left = content.count(FILL)  # random bytes equal the old fill by chance about once in 256
    assert left < SIZE // 100, f"{left} bytes still {FILL!r}"
    done = list(read_results([work / "results.jsonl"]))[-1]
    assert done.outcome == "pass" and sanitise.certificate_of(done)["passes"] == 2
    assert [r["stage"] for r in kept(work)] == ["started", "done"] and kept(work)[-1]["passes"] == 2
    assert done.evidence[1].observed["sha256"] == hashlib.sha256(content).hexdigest()


@needs_loop
def test_a_wipe_that_stops_with_an_error_is_recorded_as_failed(work: Path, disk) -> None:
    """blkdiscard --secure on a loop device: the kernel refuses secure discard there, so the run stops after the
    started record, records the failure and fails; the medium is as it was."""
    device, image = disk
    if (Path("/sys/block") / Path(device).name / "queue/discard_max_bytes").read_text().strip() == "0":
        pytest.skip("this kernel's loop devices do not support discard")
    proc = play(work, sanitise_device=device, sanitise_confirm=Path(device).name, sanitise_method="secure_discard")
    started, failed = list(read_results([work / "results.jsonl"]))
    if proc.returncode == 0:  # a kernel that can discard securely on a loop device: then it is a wipe
        assert failed.outcome == "pass" and image.read_bytes() == bytes(SIZE)
        return
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert started.outcome == failed.outcome == "fail" and started.check == failed.check
    assert f"blkdiscard --secure {device} failed" in failed.reason and "NOT sanitised" in failed.reason
    assert sanitise.certificate_of(failed)["verification"].startswith("not done: blkdiscard --secure")
    assert [(r["stage"], r["outcome"]) for r in kept(work)] == [("started", "fail"), ("failed", "fail")]
    assert "the device is NOT sanitised" in proc.stdout
    assert image.read_bytes() == FILL * SIZE


@needs_loop
def test_a_verification_failure_gives_a_fail_record(work: Path, disk) -> None:
    """The module's own write and read back on the loop device, with bytes changed between them (as a device that
    drops writes would show), then the certificate written as the playbook writes it."""
    device, image = disk
    mod = module()
    found = mod.inspect(device, Path(device).name)
    assert found["refusals"] == []
    written = mod.overwrite(device, SIZE, "zero", 1)
    with open(device, "r+b") as fh:
        fh.seek(123456)
        fh.write(b"\x01\x02")
        fh.flush()
        os.fsync(fh.fileno())
    check = mod.verify(device, SIZE, "zero", written["expected_sha256"])
    assert not check["ok"] and check["nonzero_bytes"] == 2 and check["first_nonzero_offset"] == 123456
    found["wipe"] = {**written, "verification": check, "steps": ["test write", "test read back"], "method": "zero",
                     "passes": 1, "seconds": 0.1}
    results = work / "results.jsonl"
    stdin = sys.stdin
    sys.stdin = io.StringIO(json.dumps(found))
    try:
        with redirect_stdout(io.StringIO()):
            code = sanitise.main(["record", "--stage", "done", "--results-file", str(results), "--run-id", "r1",
                                  "--host", "localhost", "--certificate", "SAN-test", "--dir", str(work / "sanitisation")])
    finally:
        sys.stdin = stdin
    assert code == 1
    (record,) = read_results([results])
    assert record.outcome == "fail" and "verification FAILED" in record.reason and "offset 123456" in record.reason
    assert sanitise.certificate_of(record)["verification"] == "failed"
    (certificate,) = kept(work)
    assert certificate["verification"] == "failed" and certificate["outcome"] == "fail"
    assert register_seq(record) == certificate["seq"] == 1
    assert report_cell(work)["checks"][0]["outcome"] == "fail"


# --- interrupted runs --------------------------------------------------------------------------------------------

def test_the_started_record_is_written_before_the_wipe_and_stands_until_replaced(tmp_path: Path) -> None:
    text = (REPO_ROOT / "playbooks/sanitise.yml").read_text(encoding="utf-8")
    assert text.index("--stage={{ sanitise_stage }}") < text.index("state: wiped")
    found = {"device": {"path": "/dev/loop7", "name": "loop7", "size_bytes": SIZE, "serial": ""}}
    common = {"run_id": "r", "asset": "platform", "host": "app1", "cert_id": "SAN-x", "operator_name": "wangfang",
              "method": "zero", "passes": 1}
    started = sanitise.result("started", found, **common)
    assert started.outcome == "fail" and "not certified erased" in started.reason
    assert started.evidence[-1].observed["verification"] == "not done: the wipe did not finish"
    failed = sanitise.result("failed", found, error="Input/output error", **common)
    assert failed.outcome == "fail" and "NOT sanitised" in failed.reason
    done = sanitise.result("done", {**found, "wipe": {"verification": {"ok": True, "bytes_read": SIZE,
                                                                       "expected": "every byte zero"}}}, **common)
    assert done.outcome == "pass" and started.check == failed.check == done.check == "media_sanitisation[app1:/dev/loop7]"
