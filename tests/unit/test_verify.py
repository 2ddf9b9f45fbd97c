"""`baseline verify` (baseline/operations/verify.py): drift between two recorded runs, the history and its pruning,
syslog alerts, exit codes, and an interrupted run that leaves no half entry in the history.

The real code runs throughout; only the step commands (pytest over SSH, the device audit, ...) are replaced by a
runner that writes recorded results where the real step would write them; some tests run the real commands of the
steps, and the end-to-end tests run `baseline verify` itself on network devices of the device simulator (loopback)."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from baseline import REPO_ROOT
from baseline.operations import verify
from baseline.results import ResultWriter, read_results

PWQUALITY = "compliance_tests/linux/test_identification.py::test_pwquality_matches_policy"
SHELLS = "compliance_tests/linux/test_accounts.py::test_no_root_ssh_and_system_accounts_without_shells"
LISTENERS = "compliance_tests/linux/test_hardening.py::test_only_allowlisted_listeners"
KERNEL = "compliance_tests/linux/test_audit.py::test_kernel_parameters"
AIDE = "compliance_tests/linux/test_hardening.py::test_aide_detects_a_changed_binary"


def record(path: Path, run_id: str, rows: list[tuple[str, str, str, str]]) -> Path:
    """A results file as the compliance suites write it: (control, asset, check, outcome) per record."""
    writer = ResultWriter(path, run_id)
    for control, asset, check, outcome in rows:
        writer.record(asset=asset, asset_kind="linux", control_ids=[control], check=check, outcome=outcome,
                      reason="" if outcome == "pass" else f"{check.rsplit('::', 1)[-1]} {outcome}", host_kind="container")
    return path


GOOD = [("IA-02", "app1", PWQUALITY, "pass"), ("AC-01", "app1", SHELLS, "pass"),
        ("IP-03", "app1", LISTENERS, "pass"), ("AU-05", "app1", KERNEL, "not_verifiable")]


@pytest.fixture()
def inventory(tmp_path: Path) -> Path:
    """One Linux server and the repository's shared values (policy figures pass their floors)."""
    inv = tmp_path / "inv"
    inv.mkdir()
    (inv / "group_vars").symlink_to(REPO_ROOT / "inventory" / "group_vars")
    (inv / "hosts.yml").write_text("all:\n  children:\n    linux_servers:\n      children:\n        app_servers:\n"
                                   "          hosts:\n            app1: {ansible_host: 10.231.0.11}\n", encoding="utf-8")
    # the SSH client config beside the inventory, as the lab's: app1 on a closed port (steps that log in find it down)
    (inv / "ssh_config").write_text("Host app1\n  HostName 127.0.0.1\n  Port 9\n  ConnectTimeout 2\n", encoding="utf-8")
    return inv


@pytest.fixture()
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in ("BASELINE_RUN_ID", "BASELINE_INVENTORY", verify.HISTORY_ENV):
        monkeypatch.delenv(name, raising=False)
    return tmp_path


class Recorded:
    """The steps' stand-in: the compliance suites write the given records into the run's results file (with the
    run's id) and a JUnit file, and exit 1 when one fails, as pytest does; other steps exit with the given status."""

    def __init__(self, rows: list[tuple[str, str, str, str]], exits: dict[str, int] | None = None, real_report=False):
        self.rows, self.exits, self.real_report = rows, exits or {}, real_report
        self.seen: list[verify.Step] = []

    def __call__(self, step: verify.Step) -> int:
        self.seen.append(step)
        if step.name == "compliance suites":
            run_id = step.argv[step.argv.index("--run-id") + 1]
            record(step.results, run_id, self.rows)
            junit = next(a.split("=", 1)[1] for a in step.argv if a.startswith("--junitxml="))
            Path(junit).write_text("<testsuites/>\n", encoding="utf-8")
            failed = any(outcome in ("fail", "error") for *_, outcome in self.rows)
            return self.exits.get(step.name, 1 if failed else 0)
        if step.name == "report" and self.real_report:
            return verify.run_subprocess(step)
        return self.exits.get(step.name, 0)


def run(tmp: Path, inventory: Path, runner, *extra: str, run_id: str = "") -> int:
    if run_id:
        os.environ["BASELINE_RUN_ID"] = run_id
    try:
        return verify.main(["--inventory", str(inventory), "--history", str(tmp / "history"),
                            "--report-dir", str(tmp / "report" / (run_id or "x")), *extra], runner=runner)
    finally:
        os.environ.pop("BASELINE_RUN_ID", None)


def history_runs(tmp: Path) -> list[str]:
    return sorted(p.name for p in (tmp / "history").iterdir())


# --- drift from two recorded results files -----------------------------------------------------------------------


def test_drift_between_two_recorded_results_files(tmp_path):
    before = record(tmp_path / "a.jsonl", "a", [*GOOD, ("IP-05", "app1", AIDE, "fail")])
    now = record(tmp_path / "b.jsonl", "b", [
        ("IA-02", "app1", PWQUALITY, "fail"),          # was met: drift
        ("IP-03", "app1", LISTENERS, "not_verifiable"),  # was met, now not verified: drift
        ("AU-05", "app1", KERNEL, "fail"),              # not verified before, failing now: new 不符合
        ("IP-05", "app1", AIDE, "fail"),                # failing in both: no drift
        ("IA-02", "db1", PWQUALITY, "error"),           # no result before, failing now: new 不符合
    ])                                                  # AC-01 on app1 has no result now: drift
    found = verify.drift(verify.check_states(read_results([before])), verify.check_states(read_results([now])))
    got = {(d.control, d.asset, d.before, d.now, d.kind) for d in found}
    assert got == {
        ("IA-02", "app1", "符合", "不符合", "no_longer_met"),
        ("IP-03", "app1", "符合", "未验证", "no_longer_met"),
        ("AC-01", "app1", "符合", "", "no_longer_met"),
        ("AU-05", "app1", "未验证", "不符合", "new_not_met"),
        ("IA-02", "db1", "", "不符合", "new_not_met"),
    }
    pw = next(d for d in found if d.control == "IA-02" and d.asset == "app1")
    assert pw.reason == "test_pwquality_matches_policy fail" and "符合 -> 不符合" in pw.describe()
    assert verify.drift(verify.check_states(read_results([now])), verify.check_states(read_results([now]))) == []


def test_one_verdict_per_check_over_its_records(tmp_path):
    assert verify.check_verdict(["pass", "pass"]) == "符合"
    assert verify.check_verdict(["pass", "fail"]) == "部分符合"
    assert verify.check_verdict(["error"]) == "不符合"
    assert verify.check_verdict(["pass", "not_verifiable"]) == "部分符合"
    assert verify.check_verdict(["not_verifiable", "not_applicable"]) == "未验证"
    assert verify.check_verdict(["not_applicable"]) == "不适用"
    both = record(tmp_path / "r.jsonl", "r", [("IA-02", "app1", PWQUALITY, "pass"), ("IA-02", "app1", PWQUALITY, "fail")])
    assert verify.check_states(read_results([both]))[("IA-02", "app1", PWQUALITY)].verdict == "部分符合"


# --- runs, history, exit codes -------------------------------------------------------------------------------------


def test_a_compliant_run_then_a_drift_exits_1_and_lists_it(env, inventory, capsys):
    assert run(env, inventory, Recorded(GOOD), run_id="20260101T000000Z-a") == 0
    out = capsys.readouterr().out
    assert "compliant, no drift" in out and "first run of the history" in out
    drifted = [("IA-02", "app1", PWQUALITY, "fail"), *GOOD[1:]]
    assert run(env, inventory, Recorded(drifted), run_id="20260101T010000Z-b") == 1
    out = capsys.readouterr().out
    assert "drift since run 20260101T000000Z-a: 1" in out
    assert f"IA-02 app1 {PWQUALITY}: 符合 -> 不符合: test_pwquality_matches_policy fail" in out
    summary = json.loads((env / "history" / "20260101T010000Z-b" / "summary.json").read_text(encoding="utf-8"))
    assert summary["previous"] == "20260101T000000Z-a"
    assert [(d["control"], d["asset"], d["check"]) for d in summary["drift"]] == [("IA-02", "app1", PWQUALITY)]
    assert summary["counts"]["IA-02"]["app1"] == {"不符合": 1} and summary["counts"]["AU-05"]["app1"] == {"未验证": 1}
    assert summary["steps"] == {"compliance suites": 1, "change archive": 0, "incident register": 0,
                                "sanitisation register": 0, "daily inspection": 0,
                                "assessment register": 0, "report": 0}
    kept = list(read_results([env / "history" / "20260101T010000Z-b" / "results.jsonl"]))
    assert {r.run_id for r in kept} == {"20260101T010000Z-b"} and len(kept) == len(GOOD)
    # the same state again: nothing new has drifted, but the failing check still fails the run
    assert run(env, inventory, Recorded(drifted), run_id="20260101T020000Z-c") == 1
    out = capsys.readouterr().out
    assert "drift since run 20260101T010000Z-b: none" in out
    assert "not compliant: failed: compliance suites (exit 1)" in out


def test_a_failing_step_exits_1_without_drift(env, inventory, capsys):
    assert run(env, inventory, Recorded(GOOD, {"report": 1}), run_id="r1") == 1
    assert "not compliant: failed: report (exit 1)" in capsys.readouterr().out


def test_the_real_report_reads_the_run_and_its_cells_reach_the_summary(env, inventory, capsys):
    code = run(env, inventory, Recorded(GOOD, real_report=True), run_id="20260101T000000Z-rep")
    summary = json.loads((env / "history" / "20260101T000000Z-rep" / "summary.json").read_text(encoding="utf-8"))
    report = env / "report" / "20260101T000000Z-rep"
    assert (report / "report.json").is_file() and (report / "compliance-junit.xml").is_file()
    assert summary["cells"]["IA-02"]["app1"] == "符合"
    # four checks are no evidence for the whole catalog: the report draws no conclusion (its exit 2), the run fails
    assert summary["steps"]["report"] == 2 and code == 1


def test_history_is_pruned_to_the_last_n_runs(env, inventory):
    for n in range(4):
        assert run(env, inventory, Recorded(GOOD), "--keep", "2", run_id=f"20260101T00000{n}Z-k") == 0
    assert history_runs(env) == ["20260101T000002Z-k", "20260101T000003Z-k"]
    stale = env / "history" / ".old-run.partial"
    stale.mkdir()
    os.utime(stale, (1, 1))  # left by a killed run long ago
    removed = verify.prune(env / "history", 1)
    assert sorted(p.name for p in removed) == [".old-run.partial", "20260101T000002Z-k"]
    assert history_runs(env) == ["20260101T000003Z-k"]


def test_steps_use_this_python_and_one_run_id(env, inventory):
    runner = Recorded(GOOD)
    assert run(env, inventory, runner, "--junit", str(env / "j.xml"), run_id="same-run") == 0
    assert [s.name for s in runner.seen] == ["compliance suites", "change archive", "incident register",
                                           "sanitisation register", "daily inspection",
                                           "assessment register", "report"]
    for step in runner.seen:
        assert step.argv[0] == sys.executable
        assert step.env["BASELINE_RUN_ID"] == "same-run" and step.env["BASELINE_INVENTORY"] == str(inventory.absolute())
        if "--run-id" in step.argv:
            assert step.argv[step.argv.index("--run-id") + 1] == "same-run"
    assert f"--junitxml={env / 'j.xml'}" in runner.seen[0].argv and (env / "j.xml").is_file()
    assert "--host-jobs" not in runner.seen[0].argv


def test_host_jobs_go_to_the_compliance_suites_and_bad_values_are_refused(env, inventory, capsys):
    runner = Recorded(GOOD)
    assert run(env, inventory, runner, "--host-jobs", "4", run_id="jobs") == 0
    suites = runner.seen[0].argv
    assert suites[suites.index("--host-jobs") + 1] == "4"
    for bad in ("0", "many"):
        with pytest.raises(SystemExit) as stop:
            run(env, inventory, Recorded(GOOD), "--host-jobs", bad, run_id=f"bad{bad}")
        assert stop.value.code == 2 and "--host-jobs" in capsys.readouterr().err


def test_an_inventory_with_devices_adds_the_device_audit(env, inventory):
    (inventory / "devices.yml").write_text("all:\n  children:\n    network_devices:\n      hosts:\n"
                                           "        sw1: {ansible_host: 10.231.0.40}\n", encoding="utf-8")
    runner = Recorded(GOOD)
    run(env, inventory, runner, run_id="dev")
    audit = next(s for s in runner.seen if s.name == "device audit")
    assert audit.argv[1:6] == ["-m", "baseline.cli", "netdev", "-q", "-i"]


@pytest.mark.parametrize("case", [
    (["--inventory", "{tmp}/missing"], {}, "--inventory {tmp}/missing: does not exist"),
    ([], {"BASELINE_INVENTORY": "{tmp}/gone"}, "BASELINE_INVENTORY {tmp}/gone: does not exist"),
    (["--inventory", "{tmp}/empty"], {}, "lists no hosts"),
    (["--inventory", "{inv}", "--history", "{tmp}/file"], {}, "--history {tmp}/file: not a directory"),
    (["--inventory", "{inv}", "--syslog", "--syslog-socket", "{tmp}/nosock"], {}, "--syslog-socket {tmp}/nosock"),
    (["--inventory", "{inv}"], {"BASELINE_RUN_ID": "../x"}, "BASELINE_RUN_ID '../x'"),
    (["--inventory", "{inv}", "--keep", "0"], {}, "--keep 0: keep at least 1 run"),
])
def test_bad_input_exits_2_naming_it_before_any_step(env, inventory, monkeypatch, capsys, case):
    args, environ, named = case
    (env / "file").write_text("", encoding="utf-8")
    (env / "empty").mkdir()
    (env / "empty" / "hosts.yml").write_text("all: {}\n", encoding="utf-8")
    fill = {"tmp": str(env), "inv": str(inventory)}
    for name, value in environ.items():
        monkeypatch.setenv(name, value.format(**fill))
    runner = Recorded(GOOD)
    argv = [a.format(**fill) for a in args] + (["--history", str(env / "h")] if "--history" not in args else [])
    try:
        code = verify.main(argv, runner=runner)
    except SystemExit as exc:  # argparse refuses --keep 0
        code = exc.code
    assert code == 2
    assert named.format(**fill) in capsys.readouterr().err
    assert runner.seen == [] and not (env / "h").exists()


def test_a_run_id_already_in_the_history_is_refused(env, inventory, capsys):
    assert run(env, inventory, Recorded(GOOD), run_id="twice") == 0
    assert run(env, inventory, Recorded(GOOD), run_id="twice") == 2
    assert "BASELINE_RUN_ID twice: the history" in capsys.readouterr().err


# --- syslog --------------------------------------------------------------------------------------------------------


def test_one_syslog_alert_per_drift(env, inventory, capsys):
    path = str(env / "log.sock")
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as server:
        server.bind(path)
        server.settimeout(2)
        assert run(env, inventory, Recorded(GOOD), "--syslog", "--syslog-socket", path, run_id="s1") == 0
        drifted = [("IA-02", "app1", PWQUALITY, "fail"), ("AC-01", "app1", SHELLS, "error"), *GOOD[2:]]
        assert run(env, inventory, Recorded(drifted), "--syslog", "--syslog-socket", path, run_id="s2") == 1
        got = [server.recv(4096).decode("utf-8") for _ in range(2)]
        server.setblocking(False)
        with pytest.raises(BlockingIOError):
            server.recv(4096)  # one alert per drift, none for the compliant first run
    for message in got:
        assert message.startswith("<84>")  # authpriv (10) * 8 + warning (4)
        assert f" baseline-verify[{os.getpid()}]: drift run s2 (previous s1): " in message
    assert any(f"IA-02 app1 {PWQUALITY}: 符合 -> 不符合" in m for m in got)
    assert any(f"AC-01 app1 {SHELLS}: 符合 -> 不符合" in m for m in got)
    assert verify.syslog_message("x", "local6").startswith(b"<180>")


# --- interruption --------------------------------------------------------------------------------------------------


class Stop(Recorded):
    def __init__(self, at: str, how: str):
        super().__init__(GOOD)
        self.at, self.how = at, how

    def __call__(self, step):
        code = super().__call__(step)
        if step.name == self.at:
            if self.how == "sigterm":
                os.kill(os.getpid(), signal.SIGTERM)
            raise KeyboardInterrupt
        return code


@pytest.mark.parametrize("how", ["ctrl-c", "sigterm"])
def test_an_interrupted_run_leaves_no_half_entry(env, inventory, capsys, how):
    assert run(env, inventory, Recorded(GOOD), run_id="before") == 0
    assert run(env, inventory, Stop("change archive", how), run_id="cut") == 130
    err = capsys.readouterr().err
    assert "interrupted during step 2/7 (change archive); run cut is not kept in the history" in err
    assert history_runs(env) == ["before"]  # no entry, no temporary one
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL
    assert run(env, inventory, Recorded(GOOD), run_id="after") == 0  # compared with the last complete run
    assert "drift since run before: none" in capsys.readouterr().out


STEP_WITH_CLEANUP = """
import pathlib, signal, sys, time
done = pathlib.Path(sys.argv[1])
def stop(signum, frame):
    time.sleep(1)  # a clean-up that takes a while; a second signal would cut it short
    done.write_text(done.read_text() + signal.Signals(signum).name + " " if done.exists() else signal.Signals(signum).name + " ")
    sys.exit(130)
signal.signal(signal.SIGINT, stop)
signal.signal(signal.SIGTERM, stop)
print("step started", flush=True)
time.sleep(60)
"""


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_an_interrupted_step_gets_the_signal_once_and_ends_its_clean_up(env, inventory, tmp_path, signum):
    """Ctrl-C or SIGTERM to verify alone (as `kill` sends it): verify passes it on to the step it runs, once, waits
    for the step's own clean-up, then removes the unfinished run."""
    done = tmp_path / "cleaned"

    def runner(step: verify.Step) -> int:
        if step.name == "change archive":
            threading.Timer(1.5, os.kill, (os.getpid(), signum)).start()
            return verify.run_subprocess(verify.Step(step.name, [sys.executable, "-c", STEP_WITH_CLEANUP, str(done)],
                                                     step.env, step.results))
        return Recorded(GOOD)(step)

    assert run(env, inventory, runner, run_id="cut") == 130
    assert done.read_text() == signum.name + " "  # the step ended its clean-up, after one signal
    assert history_runs(env) == []


# --- the real commands of the steps that need no host -----------------------------------------------------------


def test_the_record_steps_and_the_report_run_for_real_into_the_run(env, inventory, monkeypatch):
    """Every step but the compliance suites runs its real command (this Python, -m baseline.cli ...): they accept
    the options verify gives them and write their records into the run's results file with the run's id."""
    for name in ("BASELINE_INCIDENTS_DIR", "BASELINE_SANITISATION_DIR", "BASELINE_ASSESSMENTS_DIR", "BASELINE_EVIDENCE_DIR"):
        monkeypatch.setenv(name, str(env / name.lower()))

    def runner(step: verify.Step) -> int:
        if step.name == "compliance suites":
            return Recorded(GOOD)(step)
        return verify.run_subprocess(step)

    run(env, inventory, runner, run_id="20260101T000000Z-real")
    entry = env / "history" / "20260101T000000Z-real"
    summary = json.loads((entry / "summary.json").read_text(encoding="utf-8"))
    steps = summary["steps"]
    # 2 would be a refusal of the options; the report's 2 is its "no conclusion" from four checks of one host
    assert all(code in (0, 1) for name, code in steps.items() if name != "report"), steps
    assert steps["report"] == 2 and summary["overall"]["verdict"] == "无法得出结论"
    records = list(read_results([entry / "results.jsonl"]))
    assert {r.run_id for r in records} == {"20260101T000000Z-real"}
    controls = {c for r in records for c in r.control_ids}
    assert {"CM-01", "IR-01", "RI-02", "AS-01", "IA-02"} <= controls
    assert (env / "report" / "20260101T000000Z-real" / "report.json").is_file()


def test_a_damaged_results_file_fails_the_run_and_keeps_no_entry(env, inventory, capsys):
    def runner(step: verify.Step) -> int:
        if step.name == "compliance suites":
            step.results.write_text('{"not": "a result"}\n', encoding="utf-8")
        return 0

    assert run(env, inventory, runner, run_id="bad") == 1
    assert "comparing with the previous run" in capsys.readouterr().err
    assert history_runs(env) == []


def test_drift_is_found_from_the_summary_when_the_previous_results_are_lost(env, inventory, capsys):
    assert run(env, inventory, Recorded(GOOD), run_id="p1") == 0
    (env / "history" / "p1" / "results.jsonl").unlink()
    assert run(env, inventory, Recorded([("IA-02", "app1", PWQUALITY, "fail"), *GOOD[1:]]), run_id="p2") == 1
    assert f"IA-02 app1 {PWQUALITY}: 符合 -> 不符合" in capsys.readouterr().out


def test_a_killed_run_of_the_same_id_is_named(env, inventory, capsys):
    (env / "history" / ".k1.partial").mkdir(parents=True)
    assert run(env, inventory, Recorded(GOOD), run_id="k1") == 2
    assert "BASELINE_RUN_ID k1: a run of that id is being written, or was killed" in capsys.readouterr().err


# --- end to end: the real command on simulated network devices (loopback), no step replaced ----------------------


@pytest.fixture()
def devices(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """The lab's network devices in the device simulator on free loopback ports, with a throw-away inventory and
    vault, the baseline pushed; the registers and archives in the test's directory."""
    from baseline.netdev import devices as devices_mod
    from devtools.simulator import Simulator, from_inventory
    from devtools.simulator.testbed import make_inventory

    password = "test-" + os.urandom(12).hex()
    monkeypatch.setenv("BASELINE_VAULT_PASSWORD", password)
    for name in ("INCIDENTS", "SANITISATION", "ASSESSMENTS", "EVIDENCE"):
        monkeypatch.setenv(f"BASELINE_{name}_DIR", str(tmp_path / name.lower()))
    for name in ("BASELINE_RUN_ID", "BASELINE_INVENTORY", verify.HISTORY_ENV):
        monkeypatch.delenv(name, raising=False)
    inv = make_inventory(tmp_path, password)
    state = tmp_path / "state"
    sim = Simulator(from_inventory(devices_mod.load(inv), state), state)
    sim.start()
    try:
        pushed = subprocess.run([sys.executable, "-m", "baseline.cli", "netdev", "-q", "-i", str(inv), "push"],
                                capture_output=True, text=True, cwd=REPO_ROOT, timeout=300, check=False)
        assert pushed.returncode == 0, pushed.stdout[-3000:] + pushed.stderr[-3000:]
        yield inv
    finally:
        sim.stop()


def baseline_verify(inv: Path, tmp: Path) -> list[str]:
    return [sys.executable, "-m", "baseline.cli", "verify", "-i", str(inv), "--history", str(tmp / "history"),
            "--report-dir", str(tmp / "report")]


def test_end_to_end_on_simulated_devices_a_hand_change_is_drift(devices, tmp_path):
    from baseline.netdev import devices as devices_mod
    from baseline.netdev import drivers, push

    first = subprocess.run(baseline_verify(devices, tmp_path), capture_output=True, text=True, cwd=REPO_ROOT,
                           timeout=300, check=False)
    assert first.returncode == 0, first.stdout[-5000:] + first.stderr[-3000:]
    assert "device audit exit 0" in first.stdout and "no compliance suites ran" in first.stdout
    device = devices_mod.load(devices, ["sw-acc-01"])[0]
    conn = drivers.connect(device)
    try:
        assert push.send(conn, device, ["telnet server enable"]) is None
    finally:
        conn.disconnect()
    second = subprocess.run(baseline_verify(devices, tmp_path), capture_output=True, text=True, cwd=REPO_ROOT,
                            timeout=300, check=False)
    assert second.returncode == 1, second.stdout[-5000:] + second.stderr[-3000:]
    found = {(d["control"], d["asset"], d["check"]) for d in json.loads(
        (verify.entries(tmp_path / "history")[-1].path / "summary.json").read_text(encoding="utf-8"))["drift"]}
    assert ("NW-03", "sw-acc-01", "netdev.ssh_only_management") in found
    assert {asset for _, asset, _ in found} == {"sw-acc-01"}
    assert "NW-03 sw-acc-01 netdev.ssh_only_management: 符合 -> 不符合" in second.stdout
    secret = os.environ["BASELINE_VAULT_PASSWORD"]
    assert secret not in second.stdout + second.stderr + first.stdout + first.stderr


def test_end_to_end_ctrl_c_names_the_step_and_keeps_no_half_run(devices, tmp_path):
    """Ctrl-C as a terminal sends it: SIGINT to the whole process group, verify and the step it runs."""
    done = subprocess.run(baseline_verify(devices, tmp_path), capture_output=True, text=True, cwd=REPO_ROOT,
                          timeout=300, check=False)
    assert done.returncode == 0, done.stdout[-5000:] + done.stderr[-3000:]
    # Ctrl-C's default action in verify and its steps, as at a terminal, also when the tests run as a background job
    # (which starts with SIGINT ignored, inherited by every child)
    proc = subprocess.Popen(baseline_verify(devices, tmp_path), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, cwd=REPO_ROOT, start_new_session=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))  # noqa: PLW1509
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            if "1/7: device audit" in line:
                os.killpg(proc.pid, signal.SIGINT)
                break
        out, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, out + err
    assert "interrupted during step 1/7 (device audit)" in err and "is not kept in the history" in err
    assert [e.path.name for e in verify.entries(tmp_path / "history")] == history_runs(tmp_path)  # no partial left
    assert len(history_runs(tmp_path)) == 1
