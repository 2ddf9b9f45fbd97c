"""The sanitisation register (RI-02, baseline/sanitise.py): every `record` keeps its certificate in an append-only,
hash-chained archive, and `verify` judges RI-02 from it into one `sanitisation_register` result.

No device is written here: the module's result is made up as playbooks/sanitise.yml hands it to `record` (the wipes
themselves run on a loop device in test_sanitise.py). Each test has its own register in a temporary directory."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from baseline import REPO_ROOT, sanitise
from baseline.results import CheckResult, read_results

SIZE = 8 * 1024 * 1024
SDB = ("/dev/sdb", "S4EVNX0N123456")
SDC = ("/dev/sdc", "WD-WCC4N1234567")


@pytest.fixture(autouse=True)
def _own_register(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No test reaches the repository's register, whatever it forgets to pass."""
    monkeypatch.setenv(sanitise.DIR_ENV, str(tmp_path / "default-register"))
    monkeypatch.delenv("BASELINE_RUN_ID", raising=False)


def found(device: tuple[str, str], ok: bool = True) -> dict:
    """The module's result as the playbook gives it to `record`: the inspection, and the wipe when there was one."""
    path, serial = device
    wipe = {"verification": {"ok": ok, "bytes_read": SIZE, "size_bytes": SIZE, "nonzero_bytes": 0 if ok else 2,
                             "first_nonzero_offset": None if ok else 4096, "expected": "every byte zero"},
            "steps": ["write zeros", f"read back {SIZE} bytes"], "bytes_written": SIZE, "seconds": 0.4}
    return {"device": {"path": path, "name": Path(path).name, "kind": "disk", "size_bytes": SIZE, "serial": serial,
                       "model": "test disk", "host": "app1"}, "wipe": wipe}


def record(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, stage: str, device: tuple[str, str], cert: str,
           *, ok: bool = True, register: Path | None = None) -> int:
    """One `record` as the playbook runs it; its results go to tmp_path/wipes.jsonl."""
    monkeypatch.setattr(sys, "stdin", io.StringIO(json.dumps(found(device, ok))))
    args = ["record", "--stage", stage, "--results-file", str(tmp_path / "wipes.jsonl"), "--run-id", f"run-{cert}",
            "--host", "app1", "--certificate", cert, "--operator", "wangfang",
            "--dir", str(register or tmp_path / "register")]
    if stage == "failed":
        args += ["--error", "Input/output error"]
    return sanitise.main(args)


def verify(tmp_path: Path, *extra: str) -> tuple[int, dict[str, CheckResult]]:
    """`verify` into tmp_path/verify.jsonl: its exit status and the newest record of each check written."""
    out = tmp_path / "verify.jsonl"
    code = sanitise.main(["verify", "--results-file", str(out), "--run-id", "verify-run",
                          "--dir", str(tmp_path / "register"), *extra])
    newest = {r.check: r for r in read_results([out])} if out.exists() else {}
    return code, newest


def check_of(device: tuple[str, str]) -> str:
    return f"media_sanitisation[app1:{device[1]}]"


def lines(tmp_path: Path) -> list[str]:
    return (tmp_path / "register" / "sanitisation.jsonl").read_text(encoding="utf-8").splitlines()


# --- pass ----------------------------------------------------------------------------------------------------------

def test_an_intact_register_with_a_verified_wipe_passes(tmp_path, monkeypatch, capsys):
    assert record(tmp_path, monkeypatch, "started", SDB, "SAN-1") == 0
    assert record(tmp_path, monkeypatch, "done", SDB, "SAN-1") == 0
    code, written = verify(tmp_path)
    assert code == 0
    result = written[sanitise.REGISTER_CHECK]
    assert result.outcome == "pass" and result.control_ids == ["RI-02"] and result.run_id == "verify-run"
    assert result.asset == sanitise.platform() and result.asset_kind == "organisation" and result.method == "record"
    assert "SAN-1" in result.reason and "hash chain intact (2 record(s))" in result.reason
    observed = result.evidence[0].observed
    assert observed["records"] == observed["records_in_window"] == 2 and observed["problems"] == []
    assert observed["media"][check_of(SDB)]["stage"] == "done"
    assert set(written) == {sanitise.REGISTER_CHECK}  # an intact register rewrites no certificate
    assert "RI-02 pass" in capsys.readouterr().out


def test_a_failed_wipe_then_a_verified_one_of_the_same_medium_passes(tmp_path, monkeypatch):
    record(tmp_path, monkeypatch, "started", SDB, "SAN-1")
    assert record(tmp_path, monkeypatch, "failed", SDB, "SAN-1") == 0
    record(tmp_path, monkeypatch, "started", SDB, "SAN-2")
    record(tmp_path, monkeypatch, "done", SDB, "SAN-2")
    code, written = verify(tmp_path)
    assert (code, written[sanitise.REGISTER_CHECK].outcome) == (0, "pass")
    assert written[sanitise.REGISTER_CHECK].evidence[0].observed["media"][check_of(SDB)]["certificate"] == "SAN-2"


# --- fail: media not sanitised -------------------------------------------------------------------------------------

def test_an_interrupted_latest_wipe_fails_naming_the_medium(tmp_path, monkeypatch, capsys):
    record(tmp_path, monkeypatch, "started", SDB, "SAN-1")
    record(tmp_path, monkeypatch, "done", SDB, "SAN-1")
    record(tmp_path, monkeypatch, "started", SDC, "SAN-2")  # a run stopped here: Ctrl-C, a lost connection
    code, written = verify(tmp_path)
    result = written[sanitise.REGISTER_CHECK]
    assert code == 1 and result.outcome == "fail"
    assert check_of(SDC) in result.reason and "never finished (interrupted)" in result.reason
    assert check_of(SDB) not in result.reason  # the other medium is sanitised
    assert result.evidence[0].observed["problems"] == []  # the chain itself is intact
    assert set(written) == {sanitise.REGISTER_CHECK}
    assert "RI-02 fail" in capsys.readouterr().out


def test_a_verified_wipe_then_an_interrupted_one_of_the_same_medium_fails(tmp_path, monkeypatch):
    record(tmp_path, monkeypatch, "started", SDB, "SAN-1")
    record(tmp_path, monkeypatch, "done", SDB, "SAN-1")
    record(tmp_path, monkeypatch, "started", SDB, "SAN-2")
    code, written = verify(tmp_path)
    assert code == 1 and "SAN-2" in written[sanitise.REGISTER_CHECK].reason


def test_a_failed_wipe_and_a_read_back_that_did_not_verify_fail(tmp_path, monkeypatch):
    record(tmp_path, monkeypatch, "started", SDB, "SAN-1")
    record(tmp_path, monkeypatch, "failed", SDB, "SAN-1")
    record(tmp_path, monkeypatch, "started", SDC, "SAN-2")
    assert record(tmp_path, monkeypatch, "done", SDC, "SAN-2", ok=False) == 1
    code, written = verify(tmp_path)
    reason = written[sanitise.REGISTER_CHECK].reason
    assert code == 1
    assert f"{check_of(SDB)} (/dev/sdb on app1, certificate SAN-1, seq 2" in reason and "the wipe failed" in reason
    assert f"{check_of(SDC)} (/dev/sdc on app1, certificate SAN-2, seq 4" in reason
    assert "the read back did not verify (failed)" in reason


# --- fail: the chain broken ----------------------------------------------------------------------------------------

def test_an_edited_record_fails_and_its_check_is_written_again_as_fail(tmp_path, monkeypatch):
    record(tmp_path, monkeypatch, "started", SDB, "SAN-1")
    record(tmp_path, monkeypatch, "done", SDB, "SAN-1")
    assert verify(tmp_path)[0] == 0
    kept = lines(tmp_path)
    edited = json.loads(kept[1])
    edited["operator"] = "someone else"
    (tmp_path / "register" / "sanitisation.jsonl").write_text(kept[0] + "\n" + json.dumps(edited) + "\n",
                                                                encoding="utf-8")
    code, written = verify(tmp_path)
    register = written[sanitise.REGISTER_CHECK]
    assert code == 1 and register.outcome == "fail"
    assert "line 2 (SAN-1, seq 2): edited" in register.reason
    # the certificate's own pass (from `record`) no longer stands: the newest record of its check fails
    rewritten = written[check_of(SDB)]
    assert rewritten.outcome == "fail" and rewritten.control_ids == ["RI-02"]
    assert "cannot vouch for this certificate" in rewritten.reason and "SAN-1, seq 2" in rewritten.reason
    everything = list(read_results([tmp_path / "wipes.jsonl", tmp_path / "verify.jsonl"]))
    newest = [r for r in everything if r.check == check_of(SDB)][-1]
    assert newest.outcome == "fail"


def test_a_removed_last_record_fails_and_every_kept_check_is_written_again_as_fail(tmp_path, monkeypatch):
    """Removing the interrupted wipe that came last would make the medium read as sanitised: HEAD still names it."""
    record(tmp_path, monkeypatch, "started", SDB, "SAN-1")
    record(tmp_path, monkeypatch, "done", SDB, "SAN-1")
    record(tmp_path, monkeypatch, "started", SDC, "SAN-2")
    record(tmp_path, monkeypatch, "done", SDC, "SAN-2")
    record(tmp_path, monkeypatch, "started", SDB, "SAN-3")
    (tmp_path / "register" / "sanitisation.jsonl").write_text("\n".join(lines(tmp_path)[:-1]) + "\n",
                                                                encoding="utf-8")
    code, written = verify(tmp_path)
    register = written[sanitise.REGISTER_CHECK]
    assert code == 1 and "HEAD names seq 5 as the last record, the archive ends at seq 4" in register.reason
    assert written[check_of(SDB)].outcome == written[check_of(SDC)].outcome == "fail"
    assert "does not verify" in written[check_of(SDB)].reason


def test_a_removed_record_in_the_middle_is_named(tmp_path, monkeypatch):
    record(tmp_path, monkeypatch, "started", SDB, "SAN-1")
    record(tmp_path, monkeypatch, "done", SDB, "SAN-1")
    record(tmp_path, monkeypatch, "done", SDC, "SAN-2")
    kept = lines(tmp_path)
    (tmp_path / "register" / "sanitisation.jsonl").write_text(kept[1] + "\n" + kept[2] + "\n", encoding="utf-8")
    code, written = verify(tmp_path)
    assert code == 1
    assert "(SAN-1, seq 2): record(s) removed before it: seq 1 missing" in written[sanitise.REGISTER_CHECK].reason
    assert "seq 1 missing" in written[check_of(SDB)].reason  # its own problem, named on its check
    assert written[check_of(SDC)].outcome == "fail"


# --- not applicable ------------------------------------------------------------------------------------------------

def test_an_empty_register_is_not_applicable(tmp_path):
    code, written = verify(tmp_path)
    result = written[sanitise.REGISTER_CHECK]
    assert (code, result.outcome) == (0, "not_applicable")
    assert "no medium was sent out for repair or disposal" in result.reason
    assert "the register holds 0 certificate record(s)" in result.reason
    assert not (tmp_path / "register").exists()  # verifying creates no register


def test_certificates_older_than_the_window_are_not_applicable(tmp_path, monkeypatch):
    old = (datetime.now(UTC) - timedelta(days=30)).isoformat(timespec="seconds")
    monkeypatch.setattr(sanitise, "now_iso", lambda: old)
    record(tmp_path, monkeypatch, "started", SDB, "SAN-1")
    record(tmp_path, monkeypatch, "done", SDB, "SAN-1")
    code, written = verify(tmp_path)
    result = written[sanitise.REGISTER_CHECK]
    assert (code, result.outcome) == (0, "not_applicable")
    assert "holds 2 certificate record(s) of 1 medium" in result.reason
    assert result.evidence[0].observed["records_in_window"] == 0
    # the same register with a window long enough to hold them passes
    code, written = verify(tmp_path, "--window-hours", str(31 * 24))
    assert (code, written[sanitise.REGISTER_CHECK].outcome) == (0, "pass")


# --- record and bad input ------------------------------------------------------------------------------------------

def test_the_results_record_names_the_register_and_its_seq(tmp_path, monkeypatch):
    record(tmp_path, monkeypatch, "started", SDB, "SAN-1")
    record(tmp_path, monkeypatch, "done", SDB, "SAN-1")
    started, done = read_results([tmp_path / "wipes.jsonl"])
    named = [e.observed for r in (started, done) for e in r.evidence if e.command == sanitise.REGISTER_COMMAND]
    register = str(tmp_path / "register" / "sanitisation.jsonl")
    assert [(n["register"], n["seq"]) for n in named] == [(register, 1), (register, 2)]
    first, second = (json.loads(line) for line in lines(tmp_path))
    assert named[1]["hash"] == second["hash"] and second["prev"] == first["hash"]
    assert second["certificate"] == "SAN-1" and second["check"] == check_of(SDB) and second["outcome"] == "pass"
    assert second["reason"] == done.reason and second["verification"] == "passed" and second["operator"] == "wangfang"


@pytest.mark.parametrize("stage", ["started", "done"])
def test_an_unwritable_register_makes_record_fail_but_keeps_the_results_record(tmp_path, monkeypatch, capsys, stage):
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("a file where the register's directory should be\n", encoding="utf-8")
    code = record(tmp_path, monkeypatch, stage, SDB, "SAN-1", register=blocker / "register")
    assert code == 1
    err = capsys.readouterr().err
    assert "could NOT be kept in the sanitisation register" in err and str(blocker / "register") in err
    (written,) = read_results([tmp_path / "wipes.jsonl"])
    assert written.check == check_of(SDB) and written.outcome == ("pass" if stage == "done" else "fail")
    (named,) = [e for e in written.evidence if e.command == sanitise.REGISTER_COMMAND]
    assert named.observed["seq"] is None and named.observed["error"] and "NOT kept" in named.note


def test_bad_input_exits_2_naming_the_option(tmp_path, capsys):
    target = tmp_path / "results-dir"
    target.mkdir()
    code = sanitise.main(["verify", "--results-file", str(target), "--dir", str(tmp_path / "register")])
    assert code == 2 and f"--results-file {target} is a directory" in capsys.readouterr().err
    assert list(target.iterdir()) == []
    (tmp_path / "plain").write_text("x", encoding="utf-8")
    code = sanitise.main(["verify", "--results-file", str(tmp_path / "v.jsonl"), "--dir", str(tmp_path / "plain")])
    assert code == 2 and f"--dir {tmp_path / 'plain'} is not a directory" in capsys.readouterr().err
    with pytest.raises(SystemExit) as stopped:
        sanitise.main(["verify", "--results-file", str(tmp_path / "v.jsonl"), "--window-hours", "0"])
    assert stopped.value.code == 2 and "argument --window-hours" in capsys.readouterr().err
    assert not (tmp_path / "v.jsonl").exists()


def test_the_project_command_line_runs_verify(tmp_path, monkeypatch):
    record(tmp_path, monkeypatch, "started", SDB, "SAN-1")
    out = tmp_path / "cli.jsonl"
    proc = subprocess.run([sys.executable, "-m", "baseline.cli", "sanitise", "verify", "--results-file", str(out),
                           "--run-id", "cli-run", "--dir", str(tmp_path / "register")],
                          cwd=REPO_ROOT, capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert f"sanitisation register {tmp_path / 'register' / 'sanitisation.jsonl'}: 1 record(s), intact" in proc.stdout
    (result,) = read_results([out])
    assert (result.check, result.outcome, result.run_id) == (sanitise.REGISTER_CHECK, "fail", "cli-run")
    assert check_of(SDB) in result.reason
