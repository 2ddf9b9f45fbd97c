"""CM-01 change records: the callback plugin (plugins/callback/baseline_changes.py) appends one hash-chained record
per ansible-playbook run, with changed tasks and diffs, no_log tasks and vault values kept out, check mode as
planned changes, and refuses a run without a reason outside the lab before any host is contacted;
`scripts/changes verify` names a removed, reordered or edited record (exit 1) and writes CM-01 results."""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from baseline import REPO_ROOT
from baseline.operations import changes
from baseline.operations.chain import Archive
from baseline.results import ResultWriter, read_results

ANSIBLE_PLAYBOOK = str(Path(sys.executable).parent / "ansible-playbook")
VAULT_SECRET = "vaulted-" + secrets.token_hex(8)  # made afresh for each run: no value to leak from the repository
NO_LOG_SECRET = "no-log-" + secrets.token_hex(8)
GROUP_SECRET = "group-vault-" + secrets.token_hex(8)  # in a whole-file vault of the inventory's group_vars
PLAYBOOK = f"""
- name: Small change
  hosts: all
  gather_facts: false
  vars_files: [vars.yml]
  tasks:
    - name: Changed file
      ansible.builtin.copy:
        dest: "{{{{ playbook_dir }}}}/out/changed.txt"
        content: "first line\\ntoken {{{{ vault_secret }}}}\\ngroup {{{{ group_secret }}}}\\n"
        mode: "0644"
    - name: Unchanged task
      ansible.builtin.command: "true"
      changed_when: false
    - name: Secret task
      ansible.builtin.copy:
        dest: "{{{{ playbook_dir }}}}/out/secret.txt"
        content: "{NO_LOG_SECRET}\\n"
        mode: "0600"
      no_log: true
"""


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    work = tmp_path_factory.mktemp("play")
    (work / "vault-pass").write_text("unit-test-vault-password\n")
    (work / "empty.cfg").write_text("[defaults]\n")
    encrypted = subprocess.run([str(Path(sys.executable).parent / "ansible-vault"), "encrypt_string", "--vault-password-file",
                                str(work / "vault-pass"), VAULT_SECRET, "--name", "vault_secret"], cwd=work,
                               env={**os.environ, "ANSIBLE_CONFIG": str(work / "empty.cfg")},
                               capture_output=True, text=True, check=True).stdout
    (work / "vars.yml").write_text(encrypted)
    (work / "group_vars/all").mkdir(parents=True)
    (work / "group_vars/all/vault.yml").write_text(f"group_secret: {GROUP_SECRET}\n")
    subprocess.run([str(Path(sys.executable).parent / "ansible-vault"), "encrypt", "--vault-password-file",
                    str(work / "vault-pass"), str(work / "group_vars/all/vault.yml")], cwd=work,
                   env={**os.environ, "ANSIBLE_CONFIG": str(work / "empty.cfg")}, capture_output=True, check=True)
    (work / "hosts.yml").write_text(
        "all:\n  children:\n    linux_servers:\n      hosts:\n        localhost:\n          ansible_connection: local\n"
        f"          ansible_python_interpreter: {sys.executable}\n")
    (work / "play.yml").write_text(PLAYBOOK)
    return work


def play(work: Path, archive_dir: Path, *args: str, reason: str | None = "", inventory: str | None = None,
         changes_dir: str | None = None, playbook: str = "play.yml") -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in (changes.REASON_ENV, changes.DIR_ENV)}
    env.update({"ANSIBLE_CONFIG": str(REPO_ROOT / "ansible.cfg"), "ANSIBLE_NOCOLOR": "1",
                "ANSIBLE_VAULT_PASSWORD_FILE": str(work / "vault-pass"), changes.DIR_ENV: changes_dir or str(archive_dir),
                "BASELINE_OPERATOR": "zhangwei"})
    if reason:
        env[changes.REASON_ENV] = reason
    return subprocess.run([ANSIBLE_PLAYBOOK, "-i", inventory or str(work / "hosts.yml"), str(work / playbook), *args],
                          cwd=work, env=env, capture_output=True, text=True, timeout=300, check=False)


def records(archive_dir: Path) -> list[dict]:
    return [json.loads(line) for line in (archive_dir / "changes.jsonl").read_text().splitlines()]


@pytest.fixture(scope="module")
def runs(workdir, tmp_path_factory):
    """A refused run, then a run with --diff (first: changes), then --check with the file changed back by hand."""
    archive_dir = tmp_path_factory.mktemp("archive")
    shutil.rmtree(workdir / "out", ignore_errors=True)
    (workdir / "out").mkdir()
    refused = play(workdir, archive_dir)
    applied = play(workdir, archive_dir, "--diff", reason="CR-2026-118: rotate the service token")
    (workdir / "out/changed.txt").write_text("edited by hand\n")
    checked = play(workdir, archive_dir, "--check", "--diff", "-e", "change_reason='preview of CR-2026-119'")
    return archive_dir, refused, applied, checked


def test_run_without_reason_outside_the_lab_is_refused_before_any_host(runs, workdir):
    _, refused, *_ = runs
    assert refused.returncode == 2, refused.stdout + refused.stderr
    assert "change_reason" in refused.stderr and "BASELINE_CHANGE_REASON" in refused.stderr
    assert "TASK [" not in refused.stdout  # no task ran


def test_one_record_per_run_with_who_why_when_and_the_changed_tasks(runs):
    archive_dir, _, applied, _ = runs
    assert applied.returncode == 0, applied.stdout[-3000:]
    first = records(archive_dir)[0]
    assert first["reason"] == "CR-2026-118: rotate the service token" and first["reason_source"] == changes.REASON_ENV
    assert first["operator"] == "zhangwei" and first["mode"] == "apply" and first["result"] == "succeeded"
    assert first["start"] <= first["end"] and first["hosts"] == ["localhost"]
    assert first["assets"] == {"localhost": ["linux"]} and first["stats"]["localhost"]["changed"] == 2
    tasks = {c["task"]: c for c in first["changes"]}
    assert set(tasks) == {"Changed file", "Secret task"}, "the unchanged task is not a change"
    [diff] = tasks["Changed file"]["diff"]
    assert "first line" in diff["after"] and not tasks["Changed file"]["planned"]


def test_no_log_results_and_vault_values_never_reach_the_archive(runs):
    archive_dir, *_ = runs
    text = (archive_dir / "changes.jsonl").read_text()
    assert VAULT_SECRET not in text and NO_LOG_SECRET not in text and GROUP_SECRET not in text
    first = records(archive_dir)[0]
    secret_task = next(c for c in first["changes"] if c["task"] == "Secret task")
    assert "diff" not in secret_task and "no_log" in secret_task["redacted"]
    changed = next(c for c in first["changes"] if c["task"] == "Changed file")
    assert f"token {changes.REDACTED}\ngroup {changes.REDACTED}" in changed["diff"][0]["after"]


def test_check_mode_is_recorded_as_planned_changes(runs, workdir):
    archive_dir, _, _, checked = runs
    assert checked.returncode == 0, checked.stdout[-3000:]
    assert (workdir / "out/changed.txt").read_text() == "edited by hand\n", "check mode changed the file"
    second = records(archive_dir)[1]
    assert second["mode"] == "check" and second["reason"] == "preview of CR-2026-119"
    assert second["reason_source"] == "-e change_reason"
    [planned] = [c for c in second["changes"] if c["task"] == "Changed file"]
    assert planned["planned"] is True and "edited by hand" in planned["diff"][0]["before"]


def test_records_are_chained_and_verify(runs):
    archive_dir, *_ = runs
    first, second = records(archive_dir)
    assert (first["seq"], second["seq"]) == (1, 2) and second["prev"] == first["hash"]
    proc = subprocess.run([str(REPO_ROOT / "scripts/changes"), "--dir", str(archive_dir), "verify"],
                          capture_output=True, text=True, check=False)
    assert proc.returncode == 0 and "intact" in proc.stdout
    shown = subprocess.run([str(REPO_ROOT / "scripts/changes"), "--dir", str(archive_dir), "show", first["id"]],
                           capture_output=True, text=True, check=False).stdout
    assert "rotate the service token" in shown and "+token ********" in shown and VAULT_SECRET not in shown


def test_the_lab_inventory_needs_no_reason(workdir, tmp_path):
    (workdir / "lab.yml").write_text("- name: On the controller\n  hosts: localhost\n  connection: local\n"
                                     "  gather_facts: false\n  tasks:\n    - name: Say\n      ansible.builtin.debug:\n"
                                     "        msg: hello\n")
    proc = play(workdir, tmp_path, "--check", inventory=str(REPO_ROOT / "inventory/lab"), playbook="lab.yml")
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    [record] = records(tmp_path)
    assert record["lab"] is True and record["reason"] == changes.LAB_REASON and record["mode"] == "check"


def test_the_plugins_own_failure_never_fails_the_run(workdir, tmp_path):
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("x")
    proc = play(workdir, tmp_path, "--check", reason="archive unwritable", changes_dir=str(blocker))
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    assert "CM-01 change record" in proc.stderr and proc.stderr.count("CM-01 change record") == 1


# --- verify: tampering ------------------------------------------------------------------------------------------


@pytest.fixture()
def archive(tmp_path) -> Archive:
    store = changes.archive(tmp_path)
    for n in range(1, 5):
        store.append({"schema": changes.SCHEMA, "id": f"CHG-{n}", "reason": f"change {n}", "operator": "lisi",
                      "start": f"2026-12-0{n}T00:00:00+00:00", "end": f"2026-12-0{n}T00:00:00+00:00",
                      "result": "succeeded", "assets": {"app1": ["linux"], "db1": ["linux", "postgresql"]},
                      "changes": []})
    return store


def lines(store: Archive) -> list[str]:
    return store.path.read_text().splitlines()


def put(store: Archive, rows: list[str]) -> None:
    store.path.write_text("\n".join(rows) + "\n")


def verify(store: Archive, *extra: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(REPO_ROOT / "scripts/changes"), "--dir", str(store.directory), "verify", *extra],
                          capture_output=True, text=True, check=False)


def test_intact_archive_verifies(archive):
    assert archive.verify().intact and verify(archive).returncode == 0


def test_removed_record_is_named(archive):
    rows = lines(archive)
    put(archive, rows[:1] + rows[2:])
    proc = verify(archive)
    assert proc.returncode == 1 and "CHG-3, seq 3" in proc.stdout and "removed" in proc.stdout and "seq 2" in proc.stdout


def test_removed_last_record_is_named(archive):
    put(archive, lines(archive)[:-1])
    proc = verify(archive)
    assert proc.returncode == 1 and "HEAD" in proc.stdout and "removed" in proc.stdout


def test_reordered_records_are_named(archive):
    rows = lines(archive)
    put(archive, [rows[0], rows[2], rows[1], rows[3]])
    proc = verify(archive)
    assert proc.returncode == 1 and "out of order" in proc.stdout and "CHG-2, seq 2" in proc.stdout
    assert "removed" not in proc.stdout


def test_edited_record_is_named(archive):
    rows = lines(archive)
    edited = json.loads(rows[1])
    edited["reason"] = "something else"
    put(archive, [rows[0], json.dumps(edited), *rows[2:]])
    proc = verify(archive)
    assert proc.returncode == 1 and "CHG-2, seq 2" in proc.stdout and "edited" in proc.stdout


def test_edited_and_rehashed_record_is_named_by_the_next(archive):
    from baseline.operations.chain import digest

    rows = lines(archive)
    edited = json.loads(rows[1])
    edited["operator"] = "someone"
    edited["hash"] = digest(edited)
    put(archive, [rows[0], json.dumps(edited), *rows[2:]])
    proc = verify(archive)
    assert proc.returncode == 1 and "CHG-3, seq 3" in proc.stdout and "does not follow CHG-2, seq 2" in proc.stdout


def test_edited_last_record_is_named(archive):
    from baseline.operations.chain import digest

    rows = lines(archive)
    edited = json.loads(rows[-1])
    edited["reason"] = "rewritten"
    edited["hash"] = digest(edited)
    put(archive, [*rows[:-1], json.dumps(edited)])
    proc = verify(archive)
    assert proc.returncode == 1 and "last record was edited" in proc.stdout


def test_verify_writes_cm01_results_per_host(archive, tmp_path):
    out = tmp_path / "results.jsonl"
    assert verify(archive, "--results-file", str(out)).returncode == 0
    results = list(read_results([out]))
    assert {(r.asset, r.asset_kind) for r in results} == {("app1", "linux"), ("db1", "linux")}
    assert all(r.control_ids == ["CM-01"] and r.outcome == "pass" and r.method == "record" for r in results)
    put(archive, lines(archive)[1:])
    assert verify(archive, "--results-file", str(out)).returncode == 1
    assert {r.outcome for r in list(read_results([out]))[2:]} == {"fail"}


def test_with_an_inventory_only_its_hosts_get_cm01_results(tmp_path):
    """An archive shared by two sites: verifying one site's inventory writes results for its hosts alone (a host it
    lacks is another report's), and a host of the inventory the archive never names is a result all the same."""
    when = "2026-12-01T10:00:00+00:00"
    records = [{"id": f"c{i}", "assets": {host: ["linux"]}, "end": when, "start": when, "operator": "ops",
                "reason": "r", "result": "succeeded", "mode": "apply"} for i, host in enumerate(("app1", "site2-app"))]
    out = tmp_path / "results.jsonl"
    written = changes.cm01_results(ResultWriter(out, run_id="r1"), records, [], tmp_path / "changes.jsonl",
                                   assets=[("app1", "linux"), ("log1", "linux")])
    results = list(read_results([out]))
    assert written == 2
    assert {(r.asset, r.outcome) for r in results} == {("app1", "pass"), ("log1", "pass")}
    changes.cm01_results(ResultWriter(out, run_id="r2"), records, [], tmp_path / "changes.jsonl")
    assert {r.asset for r in read_results([out]) if r.run_id == "r2"} == {"app1", "site2-app"}


def test_redactor_replaces_secrets_and_their_lines():
    redact = changes.Redactor(["short-secret-1", "-----BEGIN KEY-----\nAAAABBBBCCCCDDDD\n-----END KEY-----"])
    assert redact({"after": "x short-secret-1 y", "list": ["AAAABBBBCCCCDDDD"]}) == {
        "after": f"x {changes.REDACTED} y", "list": [changes.REDACTED]}


def test_lab_detection_and_reason_order(tmp_path):
    lab = str(REPO_ROOT / "inventory/lab")
    assert changes.is_lab([lab]) and changes.is_lab([lab + "/hosts.yml"])
    assert not changes.is_lab([str(tmp_path)]) and not changes.is_lab([lab, str(tmp_path)]) and not changes.is_lab([])
    assert changes.reason({"change_reason": "a"}, [str(tmp_path)], {"BASELINE_CHANGE_REASON": "b"}) == ("a", "-e change_reason")
    assert changes.reason({}, [str(tmp_path)], {"BASELINE_CHANGE_REASON": "b"})[0] == "b"
    assert changes.reason({"change_reason": "  "}, [str(tmp_path)], {}) == ("", "")
    assert changes.reason({}, [lab], {})[1] == "lab default"


def test_a_failed_run_of_two_playbooks_is_one_failed_record_with_the_message_redacted(workdir, tmp_path):
    (workdir / "fails.yml").write_text(
        "- name: Fails\n  hosts: all\n  gather_facts: false\n  vars_files: [vars.yml]\n  tasks:\n"
        "    - name: Refuse\n      ansible.builtin.fail:\n        msg: \"cannot use {{ vault_secret }}\"\n")
    proc = play(workdir, tmp_path, str(workdir / "play.yml"), "--check", reason="two playbooks", playbook="fails.yml")
    assert proc.returncode == 2, proc.stdout[-3000:]
    [record] = records(tmp_path)
    assert record["result"] == "failed" and record["stats"]["localhost"]["failed"] == 1
    assert record["playbooks"] == [str(workdir / "fails.yml")], "the second playbook never started"
    [problem] = record["problems"]
    assert problem["task"] == "Refuse" and problem["msg"] == f"cannot use {changes.REDACTED}"
    assert VAULT_SECRET not in (tmp_path / "changes.jsonl").read_text()


def test_the_operator_of_an_awx_job_is_the_user_who_launched_it():
    """In AWX / AAP the OS account is the execution environment's: the record names the launching user (docs/awx.md)."""
    awx = {"awx_user_name": "wangfang", "awx_job_id": 42}
    assert changes.operator({"USER": "runner"}, awx) == "wangfang"
    assert changes.operator({"BASELINE_OPERATOR": "zhangwei"}, awx) == "zhangwei"  # an explicit operator still wins
    assert changes.operator({"SUDO_USER": "lisi"}, {"awx_user_name": ""}) == "lisi"
    assert changes.operator({"SUDO_USER": "lisi"}) == "lisi"
