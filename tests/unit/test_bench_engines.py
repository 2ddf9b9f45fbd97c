"""The engines benchmark (devtools/bench/engines.py, scripts/bench-engines) without a lab: reading Ansible's recaps
and pyinfra's results table, the side-by-side table and its JSON, and the refusal when the lab has no twins."""

from __future__ import annotations

import json
import subprocess

import pytest

from devtools.bench import engines
from devtools.bench.engines import Step

ANSIBLE_TWO_PLAYBOOKS = """
PLAY RECAP *********************************************************************
app1                       : ok=120  changed=37   unreachable=0    failed=0    skipped=9    rescued=0    ignored=0
log1                       : ok=3    changed=1    unreachable=0    failed=0    skipped=0    rescued=0    ignored=0

PLAY RECAP *********************************************************************
app1                       : ok=40   changed=5    unreachable=0    failed=0    skipped=2    rescued=0    ignored=0
"""

PYINFRA_RESULTS = """
--> Results:
    Operation                          Hosts   Success   Error   No Change
    IA-05 | Install sshd configuration 1       1         -       -
    AU-01 | auditd rules               1       -         -       1
    \x1b[1mGrand total\x1b[0m         2       1         -       1

--> Disconnecting from hosts...
"""


def test_ansible_changed_tasks_add_up_over_the_playbooks_of_the_run_for_the_host_only():
    assert engines.ansible_outcome(ANSIBLE_TWO_PLAYBOOKS, "app1") == (42, True)
    assert engines.ansible_outcome(ANSIBLE_TWO_PLAYBOOKS, "log1") == (1, True)
    assert engines.ansible_outcome(ANSIBLE_TWO_PLAYBOOKS, "db1") == (None, False)
    failed = ANSIBLE_TWO_PLAYBOOKS.replace("changed=5    unreachable=0    failed=0", "changed=5    unreachable=0    failed=2")
    assert engines.ansible_outcome(failed, "app1") == (42, False)


def test_pyinfra_changed_operations_and_errors_come_from_the_grand_total():
    assert engines.pyinfra_outcome(PYINFRA_RESULTS) == (1, True)
    nothing = PYINFRA_RESULTS.replace("2       1         -       1", "2       -         -       2")
    assert engines.pyinfra_outcome(nothing) == (0, True)
    error = PYINFRA_RESULTS.replace("2       1         -       1", "2       -         1       1")
    assert engines.pyinfra_outcome(error) == (0, False)
    assert engines.pyinfra_outcome("--> Loading config...\nerror before any operation") == (None, False)


def steps(reapply_changed: int = 0, pyinfra_apply_changed: int = 80) -> dict[str, dict[str, Step]]:
    return {"ansible": {"apply": Step(200.0, 90, True, "a1"), "reapply": Step(40.0, 0, True, "a2")},
            "pyinfra": {"apply": Step(100.0, pyinfra_apply_changed, True, "p1"),
                        "reapply": Step(10.0, reapply_changed, True, "p2")}}


def test_the_table_puts_both_engines_side_by_side_with_the_ratio():
    spec = engines.CLASSES["postgresql"]
    text = engines.table("postgresql", spec, steps())
    lines = text.splitlines()
    assert "db1" in lines[0] and "db3" in lines[0] and "playbooks/pyinfra/databases.py" in lines[0]
    assert "Ansible (db1)" in lines[1] and "pyinfra (db3)" in lines[1] and "pyinfra/Ansible" in lines[1]
    apply = next(line for line in lines if line.startswith("apply"))
    assert "200.0 s (changed 90)" in apply and "100.0 s (changed 80)" in apply and apply.endswith("0.50x")
    reapply = next(line for line in lines if line.startswith("re-apply"))
    assert "40.0 s (changed 0)" in reapply and reapply.endswith("0.25x")
    assert "NOT idempotent" not in text and "already converged" not in text
    assert engines.succeeded(steps())


def test_a_changing_reapply_and_an_already_converged_host_are_said():
    text = engines.table("app", engines.CLASSES["app"], steps(reapply_changed=3, pyinfra_apply_changed=0))
    assert "NOT idempotent: the pyinfra re-apply of app2 changed 3" in text
    assert "app2 was already converged" in text
    assert not engines.succeeded(steps(reapply_changed=3))


def test_a_run_that_stopped_early_is_not_a_success_and_prints_not_run():
    partial = steps()
    del partial["pyinfra"]["reapply"]
    partial["pyinfra"]["apply"] = Step(12.0, None, False, "p1")
    text = engines.table("mariadb", engines.CLASSES["mariadb"], partial)
    assert "12.0 s (changed ?) FAILED" in text and "not run" in text
    assert not engines.succeeded(partial)


def test_json_holds_the_commands_the_figures_and_the_ratios():
    spec = engines.CLASSES["app"]
    data = json.loads(json.dumps(engines.as_json("app", spec, steps())))
    assert data["class"] == "app" and data["ansible"]["host"] == "app1" and data["pyinfra"]["host"] == "app2"
    assert data["ansible"]["command"][-1] == "playbooks/linux.yml"
    assert data["pyinfra"]["command"][1:3] == ["-y", str(engines.PYINFRA_INVENTORY)]
    assert data["pyinfra"]["command"][-2:] == ["--limit", "app2"]
    assert data["ansible"]["apply"] == {"seconds": 200.0, "changed": 90, "ok": True, "log": "a1"}
    assert data["ratio"] == {"apply": 0.5, "reapply": 0.25}


def test_without_a_lab_with_twins_the_benchmark_refuses_with_exit_2(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(engines.config, "LOCK_FILE", tmp_path / "lock")
    monkeypatch.setattr(engines, "PYINFRA_INVENTORY", tmp_path / "pyinfra_inventory.py")
    assert engines.main(["--class", "mariadb", "--log-dir", str(tmp_path)]) == 2
    assert "the lab is not up" in capsys.readouterr().err
    (tmp_path / "pyinfra_inventory.py").write_text('_HOSTS = {"db2": {}}\n', encoding="utf-8")
    assert engines.main(["--class", "mariadb", "--log-dir", str(tmp_path)]) == 2
    assert "no db4" in capsys.readouterr().err


def test_an_unknown_class_is_refused_by_the_parser(capsys):
    with pytest.raises(SystemExit) as exc:
        engines.main(["--class", "oracle"])
    assert exc.value.code == 2 and "--class" in capsys.readouterr().err


def fake_lab(tmp_path, monkeypatch, services_failed: str = "0"):
    """engines.main with the lab, the runs and the measurements replaced: what it runs, in order."""
    calls: list[tuple] = []
    monkeypatch.setattr(engines.config, "LOCK_FILE", tmp_path / "lock")
    inventory = tmp_path / "pyinfra_inventory.py"
    inventory.write_text("".join(f'"{h}"\n' for h in ("app1", "app2", "db1", "db3", "db2", "db4")), encoding="utf-8")
    monkeypatch.setattr(engines, "PYINFRA_INVENTORY", inventory)
    monkeypatch.setattr(engines, "lab", lambda log, *args: calls.append(("lab", *args)) or 1.0)

    def run(cmd, log):
        calls.append(("run", *cmd[1:]))
        recap = "".join(f"{h} : ok=9 changed=3 unreachable=0 failed={services_failed}\n" for h in engines.SERVICE_HOSTS)
        return subprocess.CompletedProcess(cmd, 1 if services_failed != "0" else 0, recap, ""), 5.0

    monkeypatch.setattr(engines, "run", run)

    def measure(engine, step, command, host, log, *, out):
        calls.append(("measure", engine, step, host))
        return Step(1.0, 0, True, str(log))

    monkeypatch.setattr(engines, "measure", measure)
    return calls


def test_fresh_converges_the_service_hosts_first_and_all_measures_the_three_classes_in_order(tmp_path, monkeypatch,
                                                                                            capsys):
    calls = fake_lab(tmp_path, monkeypatch)
    assert engines.main(["--class", "all", "--fresh", "--log-dir", str(tmp_path)]) == 0
    assert calls[:2] == [("lab", "down"), ("lab", "up", "--twins", "--no-devices")]
    assert calls[2] == ("run", "--limit", "log1,bak1,drill1", "playbooks/site.yml")
    measured = [c[1:] for c in calls[3:]]
    assert [m[2] for m in measured] == ["app1", "app1", "app2", "app2", "db1", "db1", "db3", "db3",
                                        "db2", "db2", "db4", "db4"]
    out = capsys.readouterr().out
    assert "services log1,bak1,drill1" in out and "not in the table" in out
    assert [line.split(":")[0] for line in out.splitlines() if line.startswith("class ") and ":" in line
            and "runs" not in line] == ["class app", "class postgresql", "class mariadb"]


def test_without_fresh_no_service_run_and_a_failed_service_run_stops_before_any_measurement(tmp_path, monkeypatch):
    calls = fake_lab(tmp_path, monkeypatch)
    assert engines.main(["--class", "app", "--log-dir", str(tmp_path)]) == 0
    assert [c[0] for c in calls] == ["measure"] * 4
    calls = fake_lab(tmp_path, monkeypatch, services_failed="1")
    assert engines.main(["--class", "postgresql", "--fresh", "--log-dir", str(tmp_path)]) == 1
    assert not [c for c in calls if c[0] == "measure"]


def test_ansible_runs_of_a_database_class_include_the_backup_store_and_count_the_original_alone():
    for cls, host in (("postgresql", "db1"), ("mariadb", "db2")):
        command = engines.ansible_command(engines.CLASSES[cls])
        assert command[1:3] == ["--limit", f"{host},bak1,drill1"]
    assert engines.ansible_command(engines.CLASSES["app"])[1:3] == ["--limit", "app1"]
    recap = ("db1 : ok=300 changed=213 unreachable=0 failed=0\n"
             "bak1 : ok=40 changed=2 unreachable=0 failed=0\n")
    assert engines.ansible_outcome(recap, "db1") == (213, True)
