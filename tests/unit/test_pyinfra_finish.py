"""Every deploy pyinfra is given ends with deploy.finish(): where the run armed the on-host rollback (a change that
can cut access), its copies of sshd, PAM, sudoers and firewall files go once the run's changes stand. The parts a
deploy includes leave that to it, so the entry that includes them (site.py above all) must call it itself."""

from __future__ import annotations

import runpy
from types import SimpleNamespace

import pytest

from baseline import REPO_ROOT
from baseline import pyinfra_deploy as real_deploy

DEPLOYS = REPO_ROOT / "playbooks" / "pyinfra"
# Parts that are only ever included by other deploys (their includer finishes the run).
INCLUDED_ONLY = {"integrity_approve", "integrity_snapshot", "settle"}


@pytest.mark.parametrize("path", sorted(p for p in DEPLOYS.glob("*.py") if p.stem not in INCLUDED_ONLY),
                         ids=lambda p: p.name)
def test_every_entry_deploy_calls_finish(path):
    assert "deploy.finish()" in path.read_text(encoding="utf-8"), f"{path.name} never calls deploy.finish()"


def test_site_disarms_the_rollback_its_parts_armed(monkeypatch):
    """site.py's parts arm the rollback and call finish() inside the include (it does nothing there); the disarm
    must come from site.py's own finish(), once, at the end of the run."""
    recorded: list[tuple[str, list[str]]] = []
    monkeypatch.setattr(real_deploy, "check_preflight", lambda: None)
    monkeypatch.setattr(real_deploy, "_host", lambda: SimpleNamespace(name="app2"))
    monkeypatch.setattr(real_deploy, "_armed", set())
    monkeypatch.setattr(real_deploy, "_depth", {})
    parts: list[str] = []

    def include(part: str, **data) -> None:
        parts.append(part)
        real_deploy._depth["app2"] = real_deploy._depth.get("app2", 0) + 1
        try:
            if part == "linux":
                real_deploy._armed.add("app2")  # as arm() before the sshd/PAM/firewall changes
            real_deploy.finish()
        finally:
            real_deploy._depth["app2"] -= 1

    from pyinfra.operations import server

    monkeypatch.setattr(real_deploy, "include", include)
    monkeypatch.setattr(server, "shell", lambda name, commands: recorded.append((name, commands)))
    runpy.run_path(str(DEPLOYS / "site.py"), run_name="site")
    assert parts == ["linux", "databases", "management", "network"]
    assert len(recorded) == 1, recorded
    name, commands = recorded[0]
    assert "the rollback's copies go" in name
    assert commands == [f"{real_deploy.ROLLBACK_PROGRAM} disarm {real_deploy.GUARD_ID} --run {real_deploy.RUN_MARK} "
                        ">/dev/null"]
