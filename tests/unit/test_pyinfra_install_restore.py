"""pyinfra_deploy.install: the one shell script it hands to pyinfra stages, validates, installs and, when a
validation or a `then` command fails, leaves or puts back the previous files. The script is taken from the
operation it builds and run here on files under a temporary directory (as root would on the host): a refused
validation changes nothing, a failing reload restores the previous bytes and mode and removes a file that did not
exist before, and a good change is installed. The lockout guard's confirmation: a new login confirms; a failed
login, or a rollback that fired first, restores the previous access files and stops the host."""

from __future__ import annotations

import os
import shlex
import subprocess
from pathlib import Path

import pytest

from baseline import pyinfra_deploy as deploy
from baseline import pyinfra_records


@pytest.fixture()
def run_install(tmp_path, monkeypatch):
    """install(...) with pyinfra's operations captured; returns a runner of the captured script."""
    stage = tmp_path / "stage"
    stage.mkdir()
    captured: dict = {}

    def put(name, src, dest, **_kw):
        Path(dest).write_text(src.read(), encoding="utf-8")

    def shell(name, commands, _stdin=None):
        captured.update(name=name, script=commands[0], stdin=_stdin)

    import pyinfra.operations.files as files_ops
    import pyinfra.operations.server as server_ops

    monkeypatch.setattr(files_ops, "put", put)
    monkeypatch.setattr(server_ops, "shell", shell)
    monkeypatch.setattr(deploy, "STAGE_DIR", str(stage))
    monkeypatch.setattr(deploy, "differs", lambda item: True)
    monkeypatch.setattr(deploy, "planned_before", lambda path, signature: False)
    monkeypatch.setattr(deploy, "staging_directory", lambda control: None)
    monkeypatch.setattr(deploy, "host_vars", lambda: {})
    monkeypatch.setattr(pyinfra_records, "keep_directory", lambda: ("CHG-unit", str(tmp_path / "keep" / "CHG-unit")))
    monkeypatch.setattr(pyinfra_records, "kept", lambda *a, **k: None)
    monkeypatch.setattr(deploy, "_kept_entry", lambda item: {"path": item.path})
    me = subprocess.run(["id", "-un"], capture_output=True, text=True, check=True).stdout.strip()
    group = subprocess.run(["id", "-gn"], capture_output=True, text=True, check=True).stdout.strip()

    def run(items, then=()):
        managed = [deploy.Managed(str(path), content, mode=mode, user=me, group=group, validate=validate)
                   for path, content, mode, validate in items]
        assert deploy.install("IA-02", "the unit test's files", managed, then=list(then)) is True
        proc = subprocess.run(["bash", "-c", captured["script"]], input=captured["stdin"], capture_output=True,
                              text=True, timeout=60, check=False)
        return proc, captured

    return run


def state(path: Path) -> tuple[str, str] | None:
    return (path.read_text(encoding="utf-8"), oct(path.stat().st_mode & 0o777)) if path.exists() else None


def test_a_good_change_is_installed_and_names_its_safety(run_install, tmp_path):
    conf = tmp_path / "etc" / "a.conf"
    conf.parent.mkdir()
    conf.write_text("old\n", encoding="utf-8")
    proc, captured = run_install([(conf, "new\n", "640", "grep -q new {path}")], then=["true"])
    assert proc.returncode == 0, proc.stderr
    assert state(conf) == ("new\n", "0o640")
    assert "the previous files return on failure" in captured["name"]


def test_a_refused_validation_changes_nothing(run_install, tmp_path):
    conf = tmp_path / "etc" / "a.conf"
    conf.parent.mkdir()
    conf.write_text("old\n", encoding="utf-8")
    os.chmod(conf, 0o644)
    proc, _ = run_install([(conf, "broken\n", "600", "grep -q valid {path}")])
    assert proc.returncode == 1
    assert f"{conf}: the new file was refused by its validation" in proc.stderr
    assert state(conf) == ("old\n", "0o644")


def test_a_failing_then_command_restores_the_previous_files_and_removes_new_ones(run_install, tmp_path):
    etc = tmp_path / "etc"
    etc.mkdir()
    old, new = etc / "old.conf", etc / "new.conf"
    old.write_text("before\n", encoding="utf-8")
    os.chmod(old, 0o644)
    reloads = tmp_path / "reloads"
    proc, _ = run_install([(old, "after\n", "600", None), (new, "fresh\n", "600", None)],
                          then=[f"echo reload >> {shlex.quote(str(reloads))} && grep -q before {shlex.quote(str(old))}"])
    assert proc.returncode == 1
    assert "failed: previous files restored" in proc.stderr
    assert state(old) == ("before\n", "0o644")
    assert not new.exists()
    assert reloads.read_text(encoding="utf-8").count("reload") == 2, "the command runs again on the restored files"


# --- the lockout guard's confirmation (a change that can cut access) ------------------------------------------------


class GuardedHost:
    """The host as _confirm_or_restore sees it: the commands it runs there, and whether `confirm` succeeds."""

    def __init__(self, confirm_ok: bool = True):
        self.name = "app2"
        self.commands: list[str] = []
        self.confirm_ok = confirm_ok

    def run_shell_command(self, command, _sudo=False):
        assert _sudo, "the rollback program runs as root"
        self.commands.append(command)
        return (self.confirm_ok if " confirm " in command else True), None


def login(rc: int) -> subprocess.CompletedProcess:
    return subprocess.CompletedProcess(["ssh"], rc, "", "" if rc == 0 else "Permission denied (publickey).")


def test_a_new_login_confirms_the_change_and_nothing_is_restored(monkeypatch):
    host = GuardedHost()
    monkeypatch.setattr(deploy, "_host", lambda: host)
    monkeypatch.setattr(deploy, "fresh_login", lambda: login(0))
    deploy._confirm_or_restore("sshd drop-in")
    assert [c.split()[1] for c in host.commands] == ["confirm"]


@pytest.mark.parametrize(("rc", "confirm_ok", "cause"), [
    (255, True, "a new SSH login with sudo failed after the change (exit 255: Permission denied (publickey).)"),
    (0, False, "the rollback fired before the login could confirm the change"),
])
def test_a_failed_login_or_a_fired_rollback_restores_and_stops_the_host(monkeypatch, rc, confirm_ok, cause):
    host = GuardedHost(confirm_ok)
    monkeypatch.setattr(deploy, "_host", lambda: host)
    monkeypatch.setattr(deploy, "fresh_login", lambda: login(rc))
    with pytest.raises(RuntimeError) as stopped:
        deploy._confirm_or_restore("sshd drop-in")
    assert host.commands[-1] == f"{deploy.ROLLBACK_PROGRAM} restore {deploy.GUARD_ID} --run {deploy.RUN_MARK}"
    assert str(stopped.value) == (f"app2: sshd drop-in: {cause}; the previous access configuration is restored and "
                                  "the run stops for this host")


class LoggingHost(GuardedHost):
    """GuardedHost with pyinfra's host.log_styled: what the operator sees when the run stops for the host."""

    def __init__(self, confirm_ok: bool = True):
        super().__init__(confirm_ok)
        self.logged: list[str] = []

    def log_styled(self, message, fg=None, log_func=None):
        self.logged.append(message)


@pytest.mark.parametrize(("rc", "ok"), [(0, True), (255, False)])
def test_pyinfra_sees_the_stop_as_the_operations_failure_with_its_reason_and_no_traceback(monkeypatch, rc, ok):
    """pyinfra prints a traceback for an exception raised in a python.call function; the `state, host` form returns
    the operation's status instead: False with the reason logged when the rollback restored access."""
    host = LoggingHost()
    monkeypatch.setattr(deploy, "_host", lambda: host)
    monkeypatch.setattr(deploy, "fresh_login", lambda: login(rc))
    assert deploy._confirm_step(None, host, "sshd drop-in") is ok
    if ok:
        assert host.logged == []
    else:
        assert host.logged == ["app2: sshd drop-in: a new SSH login with sudo failed after the change (exit 255: "
                               "Permission denied (publickey).); the previous access configuration is restored and "
                               "the run stops for this host"]
