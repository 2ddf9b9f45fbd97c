"""CM-01 rollback of a recorded change (playbooks/rollback.yml): a real ansible-playbook run on a local connection
changes files in a temporary root, keeping copies under its change id (plugins/modules/baseline_keep.py, the id
from the callback); its record lists the kept files with hashes and no content; the rollback puts back bytes, owner
and mode (and removes what the change created), keeps what it replaced and records itself as "rollback of ID".
A tampered archive, a tampered copy, a file changed since the change and an unknown change are refused with
status 2 and a message naming the cause, restoring nothing."""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import pwd
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

from baseline import REPO_ROOT
from baseline.operations import changes, rollback
from baseline.operations.chain import Archive

ANSIBLE_PLAYBOOK = str(Path(sys.executable).parent / "ansible-playbook")
ROLLBACK = str(REPO_ROOT / "playbooks/rollback.yml")
PRIVATE_LINE = "token s3cr3t-value-never-recorded"
CHANGE = """
- name: A change that replaces, removes and creates files
  hosts: all
  gather_facts: false
  tasks:
    - name: CM-01 | Keep the watched configuration (as the integrity snapshot does at the start of a run)
      baseline_keep:
        state: keep
        snapshot: true
        change_id: "{{ lookup('ansible.builtin.env', 'BASELINE_CHANGE_ID') }}"
        paths: ["{{ etc }}"]
        root: "{{ baseline_keep_root }}"
    - name: CM-01 | Keep a file before a guarded change (as the lockout guard's arm does)
      baseline_keep:
        state: keep
        change_id: "{{ lookup('ansible.builtin.env', 'BASELINE_CHANGE_ID') }}"
        paths: ["{{ etc }}/app.conf"]
        root: "{{ baseline_keep_root }}"
    - name: Replace app.conf
      ansible.builtin.copy:
        dest: "{{ etc }}/app.conf"
        content: "setting = {{ value }}\\n"
        mode: "0600"
        owner: "{{ new_owner }}"
    - name: Remove old.conf
      ansible.builtin.file:
        path: "{{ etc }}/old.conf"
        state: absent
    - name: Create new.conf
      ansible.builtin.copy:
        dest: "{{ etc }}/new.conf"
        content: "new\\n"
        mode: "0644"
    - name: CM-01 | Note the files as the change left them (as the integrity approval does at the end of a run)
      baseline_keep:
        state: seal
        snapshot: true
        change_id: "{{ lookup('ansible.builtin.env', 'BASELINE_CHANGE_ID') }}"
        root: "{{ baseline_keep_root }}"
"""
ROOT = os.geteuid() == 0


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def work(tmp_path: Path) -> Path:
    etc = tmp_path / "etc"
    etc.mkdir()
    (etc / "app.conf").write_bytes(f"setting = 1\n{PRIVATE_LINE}\n\x00binary\xff".encode("latin-1"))
    os.chmod(etc / "app.conf", 0o640)
    (etc / "old.conf").write_text("old\n")
    os.chmod(etc / "old.conf", 0o600)
    (etc / "same.conf").write_text("left as it is\n")
    values = {"ansible_connection": "local", "ansible_become": False, "ansible_python_interpreter": sys.executable,
              "etc": str(etc), "baseline_keep_root": str(tmp_path / "keep")}
    (tmp_path / "hosts.yml").write_text(json.dumps({"all": {"children": {"rollback_test": {"hosts": {"box": values}}}}}))
    (tmp_path / "change.yml").write_text(CHANGE)
    return tmp_path


def run(work: Path, playbook: str, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in (changes.REASON_ENV, "BASELINE_CHANGE_ID")}
    env.update({"ANSIBLE_CONFIG": str(REPO_ROOT / "ansible.cfg"), "ANSIBLE_NOCOLOR": "1",
                changes.DIR_ENV: str(work / "changes"), "BASELINE_OPERATOR": "zhangwei",
                "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"})
    return subprocess.run([ANSIBLE_PLAYBOOK, "-i", str(work / "hosts.yml"), playbook, *args], cwd=REPO_ROOT, env=env,
                          capture_output=True, text=True, timeout=300, check=False)


def records(work: Path) -> list[dict]:
    return Archive(work / "changes", "changes").read()


def snapshot(etc: Path) -> dict[str, tuple[bytes, int, int, int]]:
    return {p.name: (p.read_bytes(), p.stat().st_mode, p.stat().st_uid, p.stat().st_gid) for p in sorted(etc.iterdir())}


def change(work: Path, value: str = "2") -> dict:
    owner = "nobody" if ROOT else pwd.getpwuid(os.geteuid()).pw_name
    proc = run(work, str(work / "change.yml"), "-e", f"value={value}", "-e", f"new_owner={owner}",
               "-e", "change_reason=raise the setting")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return records(work)[-1]


def test_a_change_then_its_rollback_restores_bytes_owner_and_mode(work: Path) -> None:
    etc = work / "etc"
    before = snapshot(etc)
    record = change(work)
    kept = record["kept"]["box"]
    assert kept["dir"] == str(work / "keep" / record["id"])
    files = {item["path"]: item for item in kept["files"]}
    assert set(files) == {str(etc / "app.conf"), str(etc / "old.conf"), str(etc / "new.conf")}  # not same.conf
    manifest = json.loads((work / "keep" / record["id"] / "manifest.json").read_text())
    assert set(manifest["files"]) == set(files) and len(os.listdir(work / "keep" / record["id"] / "files")) == 2
    app = files[str(etc / "app.conf")]
    assert app["sha256_before"] == hashlib.sha256(before["app.conf"][0]).hexdigest()
    assert app["sha256_after"] == sha(etc / "app.conf") and app["mode"] == "0640" and app["existed_after"]
    assert files[str(etc / "old.conf")]["existed_before"] and not files[str(etc / "old.conf")]["existed_after"]
    assert not files[str(etc / "new.conf")]["existed_before"] and files[str(etc / "new.conf")]["existed_after"]
    archive_text = (work / "changes" / "changes.jsonl").read_text(encoding="utf-8")
    assert "s3cr3t-value" not in archive_text  # hashes, never the content
    assert (work / "keep").stat().st_mode & 0o777 == 0o700
    assert (work / "keep" / record["id"]).stat().st_mode & 0o777 == 0o700
    assert snapshot(etc) != before
    shown = subprocess.run([sys.executable, "-m", "baseline.operations.changes", "--dir", str(work / "changes"), "show",
                            record["id"]], capture_output=True, text=True, check=True, cwd=REPO_ROOT).stdout
    assert f"kept       box: 3 file(s) in {kept['dir']}" in shown
    assert f"{etc / 'new.conf'}  (absent) -> {files[str(etc / 'new.conf')]['sha256_after'][:12]}" in shown

    proc = run(work, ROLLBACK, "-e", f"change_id={record['id']}")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert snapshot(etc) == before  # bytes, mode, owner, group; new.conf gone, old.conf back
    undo = records(work)[-1]
    assert undo["reason"] == f"rollback of {record['id']}" and undo["rollback_of"] == record["id"]
    assert undo["result"] == "succeeded" and undo["id"] != record["id"]
    restored = {item["path"]: item for item in undo["kept"]["box"]["files"]}
    assert restored[str(etc / "app.conf")]["sha256_before"] == app["sha256_after"]  # what it replaced, kept
    assert restored[str(etc / "app.conf")]["sha256_after"] == app["sha256_before"]
    assert (work / "keep" / undo["id"] / "manifest.json").exists()
    assert Archive(work / "changes", "changes").verify().intact
    assert "restores" in proc.stdout and str(etc / "app.conf") in proc.stdout

    again = run(work, ROLLBACK, "-e", f"change_id={undo['id']}")  # the rollback itself can be rolled back
    assert again.returncode == 0, again.stdout + again.stderr
    assert (etc / "app.conf").read_text() == "setting = 2\n" and (etc / "new.conf").exists()
    assert not (etc / "old.conf").exists()


def test_check_mode_says_what_would_be_restored_and_changes_nothing(work: Path) -> None:
    record = change(work)
    changed = snapshot(work / "etc")
    proc = run(work, ROLLBACK, "-e", f"change_id={record['id']}", "--check")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "would restore" in proc.stdout and str(work / "etc" / "old.conf") in proc.stdout
    assert snapshot(work / "etc") == changed
    assert records(work)[-1]["mode"] == "check"


def refused(proc: subprocess.CompletedProcess, *messages: str) -> None:
    out = proc.stdout + proc.stderr
    assert proc.returncode == 2, out
    assert "CM-01 rollback" in out and "refused" in out, out
    for message in messages:
        assert message in out, out


def test_a_file_changed_since_the_change_is_refused_unless_forced(work: Path) -> None:
    record = change(work)
    (work / "etc" / "app.conf").write_text("edited by hand\n")
    changed = snapshot(work / "etc")
    proc = run(work, ROLLBACK, "-e", f"change_id={record['id']}")
    refused(proc, f"{work / 'etc' / 'app.conf'}: changed since {record['id']}", "rollback_force=true")
    assert snapshot(work / "etc") == changed  # nothing restored, not even the files that did not change
    forced = run(work, ROLLBACK, "-e", f"change_id={record['id']}", "-e", "rollback_force=true")
    assert forced.returncode == 0, forced.stdout + forced.stderr
    assert (work / "etc" / "app.conf").read_bytes().startswith(b"setting = 1\n")


def test_an_edited_change_record_is_refused(work: Path) -> None:
    record = change(work)
    changed = snapshot(work / "etc")
    path = work / "changes" / "changes.jsonl"
    lines = path.read_text(encoding="utf-8").splitlines()
    edited = json.loads(lines[-1])
    edited["kept"]["box"]["files"][0]["sha256_before"] = "0" * 64
    lines[-1] = json.dumps(edited, ensure_ascii=False)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    proc = run(work, ROLLBACK, "-e", f"change_id={record['id']}")
    refused(proc, "hash chain does not verify")
    assert snapshot(work / "etc") == changed


def test_a_tampered_copy_on_the_host_is_refused(work: Path) -> None:
    record = change(work)
    changed = snapshot(work / "etc")
    manifest = json.loads((work / "keep" / record["id"] / "manifest.json").read_text())
    copy = work / "keep" / record["id"] / manifest["files"][str(work / "etc" / "app.conf")]["copy"]
    copy.write_bytes(copy.read_bytes() + b"# added\n")
    proc = run(work, ROLLBACK, "-e", f"change_id={record['id']}")
    refused(proc, f"{work / 'etc' / 'app.conf'}: the kept copy", "tampered")
    assert snapshot(work / "etc") == changed


def test_an_unknown_or_missing_change_id_is_refused(work: Path) -> None:
    change(work)
    refused(run(work, ROLLBACK, "-e", "change_id=CHG-20200101T000000Z-abcdef"),
            "no change CHG-20200101T000000Z-abcdef in the change archive")
    refused(run(work, ROLLBACK, "-e", "change_reason=undo"), "-e change_id=CHG-")


# --- the parts on their own ------------------------------------------------------------------------------------


def keep_module() -> ModuleType:
    spec = importlib.util.spec_from_file_location("baseline_keep", REPO_ROOT / "plugins/modules/baseline_keep.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_copies_are_kept_for_the_last_changes_only_and_the_first_state_of_a_run_wins(tmp_path: Path) -> None:
    keep = keep_module()
    target = tmp_path / "f.conf"
    target.write_text("one\n")
    root = str(tmp_path / "keep")
    for n in range(4):
        keep.keep(root, f"CHG-2026010{n}T000000Z-aaaaaa", [str(target)], keep_changes=2)
    assert sorted(os.listdir(root)) == ["CHG-20260102T000000Z-aaaaaa", "CHG-20260103T000000Z-aaaaaa"]
    target.write_text("two\n")
    manifest, _ = keep.keep(root, "CHG-20260103T000000Z-aaaaaa", [str(target)], keep_changes=2)
    assert manifest["files"][str(target)]["before"]["sha256"] == hashlib.sha256(b"one\n").hexdigest()
    with pytest.raises(ValueError, match="not a change id"):
        keep.keep(root, "../etc", [str(target)])


def test_rolling_back_the_oldest_change_kept_spares_its_copies_from_the_pruning(tmp_path: Path) -> None:
    keep = keep_module()
    target = tmp_path / "f.conf"
    root, old, newer = str(tmp_path / "keep"), "CHG-20260101T000000Z-aaaaaa", "CHG-20260102T000000Z-aaaaaa"
    target.write_text("one\n")
    keep.keep(root, old, [str(target)], keep_changes=2)
    target.write_text("two\n")
    keep.seal(root, old, [str(target)])
    keep.keep(root, newer, [str(target)], keep_changes=2)  # two changes kept: the limit
    entries = [{"path": str(target), "existed_before": True, "sha256_before": hashlib.sha256(b"one\n").hexdigest(),
                "existed_after": True, "sha256_after": hashlib.sha256(b"two\n").hexdigest()}]
    problems, paths = keep.check(root, old, entries)
    assert problems == [] and paths == [str(target)]
    # the rollback's own copies make a third directory; the oldest beyond the limit is the one being restored
    keep.restore(root, old, "CHG-20260103T000000Z-aaaaaa", paths, keep_changes=2)
    assert target.read_text() == "one\n"
    # spared beyond the limit until the next change prunes it
    assert sorted(os.listdir(root)) == [old, newer, "CHG-20260103T000000Z-aaaaaa"]


def test_the_pyinfra_command_line_keeps_and_seals_the_same_layout(tmp_path: Path) -> None:
    target = tmp_path / "f.conf"
    target.write_text("one\n")
    module = str(REPO_ROOT / "plugins/modules/baseline_keep.py")
    root, cid = str(tmp_path / "keep"), "CHG-20260101T000000Z-bbbbbb"
    kept = json.loads(subprocess.run([sys.executable, module, "keep", root, cid, "20", str(target)],
                                     capture_output=True, text=True, check=True).stdout)
    assert kept[0]["sha256_before"] == hashlib.sha256(b"one\n").hexdigest() and "sha256_after" not in kept[0]
    target.write_text("two\n")
    sealed = json.loads(subprocess.run([sys.executable, module, "seal", root, cid, str(target)],
                                       capture_output=True, text=True, check=True).stdout)
    assert sealed[0]["sha256_after"] == hashlib.sha256(b"two\n").hexdigest()


def test_reload_commands_follow_the_longest_prefix_and_access_paths_are_guarded() -> None:
    reload_map = {"/etc/ssh/": "systemctl reload ssh", "/etc/ssh/ssh_config.d/": "", "/etc/sysctl.d/": "sysctl --system"}
    assert rollback.reloads(["/etc/ssh/sshd_config.d/50-baseline.conf"], reload_map) == ["systemctl reload ssh"]
    assert rollback.reloads(["/etc/ssh/ssh_config.d/x.conf", "/etc/pam.d/sshd"], reload_map) == []
    assert rollback.reloads(["/etc/sysctl.d/a.conf", "/etc/ssh/sshd_config"], reload_map) == [
        "systemctl reload ssh", "sysctl --system"]
    assert rollback.access("/etc/pam.d/common-auth") and rollback.access("/home/li/.ssh/authorized_keys")
    assert rollback.access("/etc/sudoers.d/50-baseline-roles") and not rollback.access("/etc/rsyslog.conf")


def test_a_planned_change_has_nothing_to_roll_back() -> None:
    with pytest.raises(rollback.Refused, match="check-mode run"):
        rollback.plan("CHG-1", [{"id": "CHG-1", "mode": "check", "kept": {}}], [])
    with pytest.raises(rollback.Refused, match="kept no file"):
        rollback.plan("CHG-1", [{"id": "CHG-1", "mode": "apply"}], [])


def test_a_run_that_changes_no_watched_file_leaves_no_copies(tmp_path: Path) -> None:
    keep = keep_module()
    (tmp_path / "etc").mkdir()
    (tmp_path / "etc" / "a.conf").write_text("a\n")
    root, cid = str(tmp_path / "keep"), "CHG-20260101T000000Z-cccccc"
    manifest, _ = keep.keep(root, cid, [str(tmp_path / "etc")], snapshot=True)
    assert list(manifest["files"]) == [str(tmp_path / "etc" / "a.conf")]
    keep.seal(root, cid, [str(tmp_path / "etc" / "a.conf")])  # a guard's seal in the middle of the run drops nothing
    assert (tmp_path / "keep" / cid / "files" / "0").exists()
    keep.seal(root, cid, final=True)
    assert not (tmp_path / "keep" / cid).exists()


def test_watched_directories_are_read_four_levels_deep_and_a_directory_named_alone_is_not_kept(tmp_path: Path) -> None:
    keep = keep_module()
    deep = tmp_path / "postgresql" / "15" / "main" / "conf.d"
    deep.mkdir(parents=True)
    (deep / "60-baseline.conf").write_text("x\n")
    (deep / "too-deep").mkdir()
    (deep / "too-deep" / "f").write_text("y\n")
    assert keep.watched([str(tmp_path / "postgresql")]) == [str(deep / "60-baseline.conf")]
    manifest, _ = keep.keep(str(tmp_path / "keep"), "CHG-20260101T000000Z-dddddd", [str(deep)])
    assert manifest["files"] == {} and manifest["not_kept"] == [str(deep)]


PYINFRA = Path(sys.executable).parent / "pyinfra"
PYINFRA_DEPLOY = """
from baseline import pyinfra_deploy as deploy

deploy.STAGE_DIR = "{stage}"
deploy.install("CM-01", "test files", [deploy.Managed("{etc}/app.conf", "setting = 3\\n", mode="600"),
                                       deploy.Managed("{etc}/new.conf", "created\\n", mode="644")])
"""


@pytest.mark.skipif(not ROOT, reason="the deploy installs files owned by root")
def test_a_pyinfra_change_is_rolled_back_by_the_same_playbook(work: Path) -> None:
    etc = work / "etc"
    before = snapshot(etc)
    (work / "deploy.py").write_text(PYINFRA_DEPLOY.format(stage=work / "stage", etc=etc), encoding="utf-8")
    (work / "inv").mkdir()
    (work / "inv" / "hosts.yml").write_text(  # the place of the copies from the inventory, as Ansible reads it
        f"all:\n  children:\n    linux_servers:\n      hosts:\n        box:\n          baseline_keep_root: {work / 'keep'}\n")
    env = {k: v for k, v in os.environ.items() if k not in (changes.REASON_ENV, changes.SYSLOG_ENV)}
    env[changes.DIR_ENV] = str(work / "changes")
    proc = subprocess.run([str(PYINFRA), "-y", "@local", str(work / "deploy.py"), "--data", "baseline_host=box",
                           "--data", f"baseline_inventory={work / 'inv'}",
                           "--data", "change_reason=pyinfra test change"],
                          capture_output=True, text=True, timeout=180, env=env, cwd=REPO_ROOT, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert (etc / "app.conf").read_text() == "setting = 3\n" and (etc / "new.conf").exists()
    record = records(work)[-1]
    assert record["engine"] == "pyinfra"
    files = {item["path"]: item for item in record["kept"]["box"]["files"]}
    assert files[str(etc / "app.conf")]["sha256_before"] == hashlib.sha256(before["app.conf"][0]).hexdigest()
    assert files[str(etc / "app.conf")]["sha256_after"] == sha(etc / "app.conf")
    assert not files[str(etc / "new.conf")]["existed_before"]
    assert record["kept"]["box"]["dir"] == str(work / "keep" / record["id"])
    assert not list((work / "stage").glob("baseline-keep.*"))  # the program is not left behind

    undo = run(work, ROLLBACK, "-e", f"change_id={record['id']}")
    assert undo.returncode == 0, undo.stdout + undo.stderr
    assert snapshot(etc) == before
    assert records(work)[-1]["rollback_of"] == record["id"]


# --- the same rollback with pyinfra (playbooks/pyinfra/rollback.py, baseline/pyinfra_rollback.py) -----------------

PYINFRA_ROLLBACK = str(REPO_ROOT / "playbooks/pyinfra/rollback.py")


def pyinfra_rollback(work: Path, *data: str, dry: bool = False) -> subprocess.CompletedProcess:
    """The pyinfra rollback on @local as the inventory's `box` (the Ansible runs' inventory: its baseline_keep_root)."""
    env = {k: v for k, v in os.environ.items() if k not in (changes.REASON_ENV, changes.SYSLOG_ENV, "BASELINE_CHANGE_ID")}
    env.update({changes.DIR_ENV: str(work / "changes"), "BASELINE_OPERATOR": "zhangwei"})
    given = [arg for item in data for arg in ("--data", item)]
    return subprocess.run([str(PYINFRA), *(["--dry"] if dry else ["-y"]), "@local", PYINFRA_ROLLBACK,
                           "--data", "baseline_host=box", "--data", f"baseline_inventory={work / 'hosts.yml'}", *given],
                          capture_output=True, text=True, timeout=180, env=env, cwd=REPO_ROOT, check=False)


@pytest.mark.skipif(not ROOT, reason="the rollback puts back files owned by another account")
def test_the_pyinfra_rollback_restores_an_ansible_change_and_is_itself_recorded_and_undoable(work: Path) -> None:
    etc = work / "etc"
    before = snapshot(etc)
    record = change(work)
    changed = snapshot(etc)
    dry = pyinfra_rollback(work, f"change_id={record['id']}", dry=True)
    assert dry.returncode == 0, dry.stdout + dry.stderr
    assert "box: would restore" in dry.stdout and str(etc / "old.conf") in dry.stdout
    assert snapshot(etc) == changed and records(work)[-1]["mode"] == "check"

    proc = pyinfra_rollback(work, f"change_id={record['id']}")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert snapshot(etc) == before  # bytes, mode, owner, group; new.conf gone, old.conf back
    undo = records(work)[-1]
    assert undo["engine"] == "pyinfra" and undo["rollback_of"] == record["id"] and undo["result"] == "succeeded"
    assert undo["reason"] == f"rollback of {record['id']}" and undo["reason_source"] == "rollback"
    app = {item["path"]: item for item in record["kept"]["box"]["files"]}[str(etc / "app.conf")]
    restored = {item["path"]: item for item in undo["kept"]["box"]["files"]}
    assert set(restored) == {str(etc / "app.conf"), str(etc / "old.conf"), str(etc / "new.conf")}
    assert restored[str(etc / "app.conf")]["sha256_before"] == app["sha256_after"]  # what it replaced, kept
    assert restored[str(etc / "app.conf")]["sha256_after"] == app["sha256_before"]
    assert (work / "keep" / undo["id"] / "manifest.json").exists()
    assert Archive(work / "changes", "changes").verify().intact

    again = pyinfra_rollback(work, f"change_id={record['id']}")  # the files changed since: the first rollback
    refused(again, f"{etc / 'app.conf'}: changed since {record['id']}", "--data rollback_force=true")
    assert snapshot(etc) == before

    back = run(work, ROLLBACK, "-e", f"change_id={undo['id']}")  # Ansible rolls back pyinfra's rollback
    assert back.returncode == 0, back.stdout + back.stderr
    assert snapshot(etc) == changed


def test_the_pyinfra_rollback_refuses_what_the_playbook_refuses_before_touching_anything(work: Path) -> None:
    record = change(work)
    changed = snapshot(work / "etc")
    refused(pyinfra_rollback(work, "change_id=CHG-20200101T000000Z-abcdef"),
            "no change CHG-20200101T000000Z-abcdef in the change archive")
    refused(pyinfra_rollback(work, "change_reason=undo"), "--data change_id=CHG-")
    manifest = json.loads((work / "keep" / record["id"] / "manifest.json").read_text())
    copy = work / "keep" / record["id"] / manifest["files"][str(work / "etc" / "app.conf")]["copy"]
    copy.write_bytes(copy.read_bytes() + b"# added\n")
    refused(pyinfra_rollback(work, f"change_id={record['id']}"), f"{work / 'etc' / 'app.conf'}: the kept copy",
            "tampered")
    path = work / "changes" / "changes.jsonl"
    lines = path.read_text(encoding="utf-8").splitlines()
    edited = json.loads(lines[0])
    edited["operator"] = "someone-else"
    lines[0] = json.dumps(edited, ensure_ascii=False)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    refused(pyinfra_rollback(work, f"change_id={record['id']}"), "hash chain does not verify")
    assert snapshot(work / "etc") == changed
