"""IR-02 evidence preservation (baseline/operations/evidence.py, `baseline incident collect|custody verify`): the
archive, its manifest and custody.json, the custody chain and its tamper detection, refusal of bad input, and an
interrupted collection leaving nothing behind. The commands run through the local transport (`sh -c` here instead
of ssh to the host): the same collection code, real processes, real files."""

from __future__ import annotations

import hashlib
import io
import json
import os
import signal
import subprocess
import tarfile
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from baseline.operations import evidence as ev
from baseline.operations import incidents as inc
from baseline.results import ResultWriter, read_results
from baseline.secrets import generate

SSH_CONNECTION = "10.231.0.1 51234 10.231.0.11 22"
SECRET = generate()  # a vault-like value, made for this run


def small_items() -> list[ev.Item]:
    """A few of the real items (volatile and persistent), an absent optional one and the identity item."""
    chosen = {"volatile/01-time.txt", "volatile/02-processes.txt", "volatile/08-mounts.txt",
              "persistent/06-key-binaries.sha256", "identity/host.txt"}
    items = [item for item in ev.default_items() if item.name in chosen]
    items.insert(3, ev.Item("persistent/99-absent.txt", "command -v no-such-tool-here >/dev/null 2>&1 || exit 127; "
                            "no-such-tool-here", "persistent", optional=True))
    return items


@pytest.fixture()
def env(monkeypatch, tmp_path):
    monkeypatch.setenv("SSH_CONNECTION", SSH_CONNECTION)
    monkeypatch.setenv("BASELINE_OPERATOR", "wangfang")
    monkeypatch.delenv(ev.DIR_ENV, raising=False)
    scratch = tmp_path / "hosttmp"
    scratch.mkdir()
    return tmp_path, str(scratch)


def collect(tmp_path: Path, scratch: str, items=None, **kwargs) -> ev.Collection:
    return ev.collect("app1", out_dir=tmp_path / "evidence", transport=ev.LocalTransport(), scratch_root=scratch,
                      items=items if items is not None else small_items(), **kwargs)


def members(archive: Path) -> dict[str, bytes]:
    with tarfile.open(archive, "r:gz") as tar:
        out = {}
        for m in tar.getmembers():
            handle = tar.extractfile(m)
            assert handle is not None
            out[m.name] = handle.read()
        return out


def test_archive_holds_items_manifest_and_custody(env):
    tmp_path, scratch = env
    collection = collect(tmp_path, scratch, incident="INC-20261202T081500Z-1a2b3c")
    assert collection.complete, collection.problems
    archive = collection.archive
    assert archive.parent == tmp_path / "evidence"
    assert archive.name.startswith("INC-20261202T081500Z-1a2b3c-") and archive.name.endswith("Z.tar.gz")
    files = members(archive)
    top = archive.name.removesuffix(".tar.gz")
    names = {name.removeprefix(top + "/") for name in files}
    assert names == {item.name for item in small_items()} | {"custody.json", "MANIFEST.sha256"}
    # the manifest is sha256sum's format: sha256sum -c accepts it on the extracted files
    extracted = tmp_path / "x"
    with tarfile.open(archive, "r:gz") as tar:
        tar.extractall(extracted, filter="data")
    check = subprocess.run(["sha256sum", "-c", "--strict", "MANIFEST.sha256"], cwd=extracted / top, capture_output=True,
                           text=True, check=False)
    assert check.returncode == 0, check.stdout + check.stderr
    assert len(check.stdout.splitlines()) == len(names) - 1  # every file but the manifest itself
    custody = json.loads(files[f"{top}/custody.json"])
    assert custody["who"]["operator"] == "wangfang"
    assert custody["from"]["address_seen_by_host"] == "10.231.0.1"
    assert custody["host_identity"]["machine_id"] == Path("/etc/machine-id").read_text().strip()
    assert custody["host_identity"]["hostname"] == subprocess.run(["hostname"], capture_output=True, text=True,
                                                                  check=True).stdout.strip()
    assert custody["incident"] == "INC-20261202T081500Z-1a2b3c" and custody["tool"].startswith("baseline")
    assert custody["scratch"]["removed"] is True
    by_name = {item["name"]: item for item in custody["items"]}
    assert by_name["persistent/99-absent.txt"]["status"] == "absent"
    processes = by_name["volatile/02-processes.txt"]
    assert processes["command"] == "ps auxww" and processes["exit_status"] == 0 and processes["as_root"]
    assert processes["start"] <= processes["end"]
    assert processes["sha256"] == hashlib.sha256(files[f"{top}/volatile/02-processes.txt"]).hexdigest()
    # volatile evidence is taken before persistent evidence
    order = [item["phase"] for item in custody["items"]]
    assert order.index("persistent") > max(i for i, phase in enumerate(order) if phase == "volatile")
    # the archive's own hash is in the chain, not in the archive
    digest = ev.sha256_file(archive)
    assert digest not in json.dumps(custody)
    record = ev.custody_archive(tmp_path / "evidence").read()[-1]
    assert record["archive_sha256"] == digest == collection.archive_sha256
    assert record["manifest_sha256"] == hashlib.sha256(files[f"{top}/MANIFEST.sha256"]).hexdigest()
    assert (record["host"], record["operator"], record["incident"]) == ("app1", "wangfang", "INC-20261202T081500Z-1a2b3c")
    assert not list(Path(scratch).iterdir()), "the scratch directory was left"
    assert sorted(p.name for p in (tmp_path / "evidence").iterdir() if not p.name.startswith(".custody")) == sorted(
        [archive.name, "custody.jsonl", "custody.HEAD"])


def test_archive_name_is_the_host_without_an_incident(env):
    tmp_path, scratch = env
    first = collect(tmp_path, scratch, items=small_items()[:1])
    second = collect(tmp_path, scratch, items=small_items()[:1])
    assert first.archive.name.startswith("app1-2") and first.archive != second.archive  # same second: not overwritten
    assert [r["seq"] for r in ev.custody_archive(tmp_path / "evidence").read()] == [1, 2]


def test_vault_values_are_replaced_before_hashing(env):
    tmp_path, scratch = env
    item = ev.Item("persistent/50-file.txt", f"echo 'password={SECRET}'; echo '{SECRET}' >&2", "persistent")
    collection = collect(tmp_path, scratch, items=[item], secrets=ev.secret_values({"db_credit_app_password": SECRET}))
    files = members(collection.archive)
    whole = b"".join(files.values())
    assert SECRET.encode() not in whole
    top = collection.archive.name.removesuffix(".tar.gz")
    assert files[f"{top}/persistent/50-file.txt"] == b"password=********\n"
    custody = json.loads(files[f"{top}/custody.json"])
    assert custody["items"][0]["redacted"] == 1
    assert any("vault values" in line for line in custody["excluded"])


def test_no_item_reads_shadow_or_private_keys():
    for item in ev.default_items():
        assert "shadow" not in item.command, item.name
        assert "_key " not in item.command and "id_" not in item.command, item.name
        assert "ssh_host_*_key.pub" in item.command or "ssh_host" not in item.command


def test_a_failed_command_fails_the_result_and_names_it(env, tmp_path):
    tmp, scratch = env
    bad = ev.Item("persistent/40-broken.txt", "echo partial; echo 'boom' >&2; exit 3", "persistent")
    collection = collect(tmp, scratch, items=[*small_items()[:2], bad])
    assert collection.archive is not None and not collection.complete
    assert any("persistent/40-broken.txt" in p and "exit 3" in p and "boom" in p for p in collection.problems)
    writer = ResultWriter(tmp / "r.jsonl", "run1")
    assert ev.collection_result(writer, collection, "baseline incident collect app1") == "fail"
    (result,) = read_results([tmp / "r.jsonl"])
    assert result.control_ids == ["IR-02"] and result.asset == "app1" and result.asset_kind == "linux"
    assert "persistent/40-broken.txt" in result.reason
    good = collect(tmp, scratch)
    assert ev.collection_result(writer, good, "baseline incident collect app1") == "pass"
    last = list(read_results([tmp / "r.jsonl"]))[-1]
    assert str(good.archive) in last.reason and good.archive_sha256 in last.reason
    assert last.evidence[0].observed["items"] == len(small_items())


def _custody(tmp_path: Path) -> Path:
    return tmp_path / "evidence"


def test_custody_verify_detects_an_edited_record(env, capsys):
    tmp_path, scratch = env
    collect(tmp_path, scratch, items=small_items()[:1])
    collect(tmp_path, scratch, items=small_items()[:1])
    assert inc.main(["custody", "verify", "--dir", str(_custody(tmp_path))]) == 0
    chain = _custody(tmp_path) / "custody.jsonl"
    lines = chain.read_text().splitlines()
    first = json.loads(lines[0])
    first["operator"] = "someone-else"
    lines[0] = json.dumps(first, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    chain.write_text("\n".join(lines) + "\n")
    capsys.readouterr()
    assert inc.main(["custody", "verify", "--dir", str(_custody(tmp_path))]) == 1
    out = capsys.readouterr().out
    assert f"{first['id']}, seq 1" in out and "edited" in out


def test_custody_verify_detects_a_removed_record(env, capsys):
    tmp_path, scratch = env
    for _ in range(3):
        collect(tmp_path, scratch, items=small_items()[:1])
    chain = _custody(tmp_path) / "custody.jsonl"
    lines = chain.read_text().splitlines()
    chain.write_text("\n".join([lines[0], lines[2]]) + "\n")
    check = ev.verify_custody(_custody(tmp_path))
    assert any("seq 2 missing" in p for p in check.problems), check.problems


def test_custody_verify_detects_a_changed_or_missing_archive(env):
    tmp_path, scratch = env
    changed = collect(tmp_path, scratch, items=small_items()[:2])
    missing = collect(tmp_path, scratch, items=small_items()[:1])
    os.chmod(changed.archive, 0o640)
    with open(changed.archive, "ab") as fh:
        fh.write(b"\0")
    missing.archive.unlink()
    check = ev.verify_custody(_custody(tmp_path))
    assert any(changed.id in p and "no longer has the SHA-256" in p for p in check.problems), check.problems
    assert any(missing.id in p and "missing" in p for p in check.problems), check.problems
    assert not [p for p in check.problems if p.startswith("custody chain:")]  # the chain itself is intact


def test_a_repacked_archive_with_an_edited_file_fails_its_manifest(env, tmp_path):
    tmp, scratch = env
    collection = collect(tmp, scratch)
    files = members(collection.archive)
    top = collection.archive.name.removesuffix(".tar.gz")
    files[f"{top}/volatile/02-processes.txt"] += b"root 1 0.0 0.0 evil\n"
    files[f"{top}/extra.txt"] = b"added later\n"
    forged = tmp / "forged.tar.gz"
    with tarfile.open(forged, "w:gz") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    problems, _ = ev.verify_archive(forged)
    assert any("volatile/02-processes.txt does not match" in p for p in problems), problems
    assert any("extra.txt is not listed" in p for p in problems), problems
    assert ev.verify_archive(collection.archive)[0] == []


@pytest.fixture()
def inventory(tmp_path):
    path = tmp_path / "inv" / "hosts.yml"
    path.parent.mkdir()
    path.write_text("all:\n  children:\n    linux_servers:\n      children:\n        app_servers:\n          hosts:\n"
                    "            app1: {}\n    network_devices:\n      hosts:\n        sw1: {}\n    other:\n      hosts:\n"
                    "        printer1: {}\n", encoding="utf-8")
    return path


@pytest.mark.parametrize(("argv", "words"), [
    (["collect", "sw1"], "HOST sw1 is a network device"),
    (["collect", "nosuch"], "HOST nosuch: no such host in inventory"),
    (["collect", "printer1"], "HOST printer1 is not in the inventory's linux_servers group"),
    (["collect", "-oProxyCommand=touch /tmp/x"], "is not an inventory host name"),
    (["collect", "app1", "--incident", "../../etc"], "--incident '../../etc'"),
    (["collect", "app1", "--days", "0"], "--days 0"),
])
def test_bad_input_is_refused_with_exit_2_before_any_command(env, inventory, capsys, argv, words):
    tmp_path, scratch = env
    out = tmp_path / "evidence"
    args = inc.parser().parse_args([*argv[:1], "--inventory", str(inventory), "--out", str(out),
                                    "--results-file", str(tmp_path / "r.jsonl"), "--", *argv[1:]]
                                   if argv[1].startswith("-o") else
                                   [*argv, "--inventory", str(inventory), "--out", str(out),
                                    "--results-file", str(tmp_path / "r.jsonl")])
    assert ev.run_collect(args, argv, transport=ev.LocalTransport(), scratch_root=scratch) == 2
    err = capsys.readouterr().err
    assert words in err, err
    assert not out.exists() and not (tmp_path / "r.jsonl").exists()
    assert not list(Path(scratch).iterdir())


def test_unknown_inventory_is_named(env, tmp_path, capsys):
    args = inc.parser().parse_args(["collect", "app1", "--inventory", str(tmp_path / "nope")])
    assert ev.run_collect(args, [], transport=ev.LocalTransport()) == 2
    assert f"--inventory {tmp_path / 'nope'} does not exist" in capsys.readouterr().err


def test_write_archive_leaves_no_partial_file_when_it_fails(tmp_path):
    staging = tmp_path / "staging"
    staging.mkdir()
    (staging / "a.txt").write_text("a")
    final = tmp_path / "out" / "app1-20261202T100000Z.tar.gz"
    final.parent.mkdir()
    with pytest.raises(FileNotFoundError):
        ev.write_archive(staging, ["a.txt", "missing.txt"], final, 0)
    assert list(final.parent.iterdir()) == []
    assert ev.write_archive(staging, ["a.txt"], final, 0) == final
    assert list(final.parent.iterdir()) == [final]


def _interrupt_during_sleep(signum: int, tmp_path: Path, scratch: str, capsys, monkeypatch) -> tuple[int, str]:
    """run_collect with a long command among the items; `signum` is sent to this process while it runs."""
    items = [*small_items()[:2], ev.Item("volatile/03-slow.txt", "echo started; sleep 30; echo done", "volatile"),
             *small_items()[2:]]
    args = inc.parser().parse_args(["collect", "app1", "--out", str(tmp_path / "evidence"),
                                    "--results-file", str(tmp_path / "r.jsonl")])
    monkeypatch.setattr(ev, "default_items", lambda days=7: items)
    monkeypatch.setattr(ev, "check_host", lambda host, inventory_path: {})  # no inventory needed here
    timer = threading.Timer(1.5, os.kill, (os.getpid(), signum))
    # Ctrl-C as at a terminal, also when this test process was started with SIGINT ignored (a background job)
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        timer.start()
        status = ev.run_collect(args, ["collect", "app1"], transport=ev.LocalTransport(), scratch_root=scratch)
    finally:
        timer.cancel()
        signal.signal(signal.SIGINT, previous)
    return status, capsys.readouterr().err


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_an_interrupted_collection_leaves_no_scratch_no_archive_no_record(env, capsys, monkeypatch, signum):
    tmp_path, scratch = env
    started = datetime.now(UTC)
    status, err = _interrupt_during_sleep(signum, tmp_path, scratch, capsys, monkeypatch)
    assert status == 130
    assert datetime.now(UTC) - started < timedelta(seconds=20), "the running command was not stopped"
    said = "interrupted (Ctrl-C)" if signum == signal.SIGINT else f"interrupted (signal {int(signal.SIGTERM)})"
    assert said in err and "was removed" in err and "no archive was written" in err, err
    assert not list(Path(scratch).iterdir()), "scratch directory left"
    out = tmp_path / "evidence"
    assert [p.name for p in out.iterdir()] == [], "partial archive, staging or custody record left"
    assert not (tmp_path / "r.jsonl").exists()
    ps = subprocess.run(["pgrep", "-f", "sleep 30; echo done"], capture_output=True, text=True, check=False)
    assert ps.stdout.strip() == "", "the interrupted command still runs"


def test_incident_verify_writes_ir02_rows(env, inventory, monkeypatch, capsys):
    tmp_path, scratch = env
    monkeypatch.setenv("BASELINE_PLATFORM_NAME", "platform")
    incidents = tmp_path / "incidents"
    evidence_dir = tmp_path / "evidence"

    def verify(name: str) -> tuple[int, dict]:
        results = tmp_path / f"{name}.jsonl"
        status = inc.main(["--dir", str(incidents), "verify", "--results-file", str(results), "--evidence-dir",
                           str(evidence_dir), "--inventory", str(inventory), "--window-hours", "24"])
        rows = {r.check: r for r in read_results([results]) if r.control_ids == ["IR-02"]}
        return status, rows

    # nothing collected, no incident: not applicable on every server of the inventory, devices left out
    status, rows = verify("empty")
    assert status == 0 and rows["evidence_custody"].outcome == "not_applicable"
    assert {r.asset for r in read_results([tmp_path / "empty.jsonl"]) if r.control_ids == ["IR-02"]} == {"app1"}
    # an incident graded, nothing collected: whether it concerned app1 cannot be told from the records
    assert inc.main(["--dir", str(incidents), "grade", "--outage-hours", "1", "--no-results"]) == 0
    status, rows = verify("graded")
    assert status == 0 and rows["evidence_custody"].outcome == "not_verifiable"
    assert "INC-" in rows["evidence_custody"].reason
    # a collection in the window: pass, with the collection's own row
    collection = collect(tmp_path, scratch)
    status, rows = verify("collected")
    assert status == 0 and rows["evidence_custody"].outcome == "pass", rows["evidence_custody"].reason
    assert rows[f"evidence_collection[{collection.id}]"].outcome == "pass"
    # the archive changed afterwards: fail, on the collection's row too, and verify exits 1
    os.chmod(collection.archive, 0o640)
    collection.archive.write_bytes(collection.archive.read_bytes()[:-10])
    capsys.readouterr()
    status, rows = verify("changed")
    assert status == 1
    assert rows["evidence_custody"].outcome == "fail" and collection.id in rows["evidence_custody"].reason
    assert rows[f"evidence_collection[{collection.id}]"].outcome == "fail"
    assert "evidence custody chain" in capsys.readouterr().out


def test_missing_ssh_config_is_named(env, inventory, monkeypatch, capsys):
    monkeypatch.delenv("BASELINE_SSH_CONFIG", raising=False)
    args = inc.parser().parse_args(["collect", "app1", "--inventory", str(inventory.parent)])
    assert ev.run_collect(args, []) == 2
    assert f"SSH client config {inventory.parent / 'ssh_config'} does not exist" in capsys.readouterr().err


def test_ssh_transport_runs_every_command_through_one_control_socket_with_sudo(env, inventory, monkeypatch, capsys):
    """A stand-in `ssh` (runs the remote command here) and `sudo` (only with -n) on PATH: the command lines the SSH
    transport builds go through a real shell as they would on the host."""
    tmp_path, scratch = env
    bin_dir, log = tmp_path / "bin", tmp_path / "ssh.log"
    bin_dir.mkdir()
    (bin_dir / "ssh").write_text('#!/bin/sh\nprintf "%s\\n" "$*" >> "$FAKE_SSH_LOG"\nfor a; do last="$a"; done\n'
                                 'case " $* " in *" -O exit "*) exit 0;; esac\nexec /bin/sh -c "$last"\n')
    (bin_dir / "sudo").write_text('#!/bin/sh\n[ "$1" = "-n" ] || { echo "sudo: a password is required" >&2; exit 1; }\n'
                                  'shift\nexec "$@"\n')
    for name in ("ssh", "sudo"):
        (bin_dir / name).chmod(0o755)
    (inventory.parent / "ssh_config").write_text("Host app1\n  HostName 127.0.0.1\n")
    monkeypatch.setenv("PATH", f"{bin_dir}:{os.environ['PATH']}")
    monkeypatch.setenv("FAKE_SSH_LOG", str(log))
    monkeypatch.delenv("BASELINE_SSH_CONFIG", raising=False)
    items = small_items()
    monkeypatch.setattr(ev, "default_items", lambda days=7: items)
    out = tmp_path / "evidence"
    args = inc.parser().parse_args(["collect", "app1", "--inventory", str(inventory.parent), "--out", str(out),
                                    "--results-file", str(tmp_path / "r.jsonl")])
    assert ev.run_collect(args, ["collect", "app1"], scratch_root=scratch) == 0, capsys.readouterr().err
    calls = log.read_text().splitlines()
    configs = {line.split()[1] for line in calls}
    assert len(configs) == 1, configs  # one client config (control socket) for every command
    (config,) = configs
    assert not Path(config).exists(), "the control directory was not removed"
    commands = [line for line in calls if " -O exit " not in line]
    assert all(" app1 " in line for line in commands)
    # scratch, the items, scratch removal: root commands through sudo -n, the identity item without
    assert len(commands) == len(small_items()) + 2
    assert sum(1 for line in commands if " app1 sudo -n /bin/sh -c " in line) == len(commands) - 1
    assert sum(1 for line in commands if " app1 /bin/sh -c " in line) == 1
    (result,) = read_results([tmp_path / "r.jsonl"])
    assert result.outcome == "pass", result.reason
    assert not list(Path(scratch).iterdir())
