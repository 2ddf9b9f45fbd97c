"""The GitLab example (examples/ci/gitlab-ci.yml) on the hardened lab: its job's lines, exactly as written, with the
CI variables set for the lab inventory, pass and leave the JUnit files and the report where the job publishes them;
then a drift made by hand on app1 (AC-01 of tests/lab/drifts.py: a system account gets a login shell) makes the
same `baseline verify` exit 1 and name it, and the drift's own repair restores app1.

The job's first line, `make setup`, is left out when the virtualenv exists (the lab session runs from it; setup
would only check the installed packages again): it is the only line not run."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
from pathlib import Path

import pytest
import yaml
from drifts import AC_01, AIDE, ROOT_SSH_AND_SHELLS
from lab_run import on, playbooks_beside

from baseline import REPO_ROOT
from baseline.operations import verify

pytestmark = pytest.mark.lab
JOB = "baseline-verify"


def job() -> dict:
    return yaml.safe_load((REPO_ROOT / "examples" / "ci" / "gitlab-ci.yml").read_text(encoding="utf-8"))[JOB]


def job_lines() -> tuple[list[str], list[str]]:
    """(lines to run, lines left out): the job's before_script and script, without `make setup` when .venv exists."""
    spec = job()
    lines = [*spec.get("before_script", []), *spec["script"]]
    skipped = [line for line in lines if line.strip() == "make setup" and (REPO_ROOT / ".venv" / "bin" / "python").exists()]
    return [line for line in lines if line not in skipped], skipped


def ci_env(history: Path) -> dict[str, str]:
    """The job's environment on the lab: the CI variables as a project would set them, for the lab inventory."""
    env = {k: v for k, v in os.environ.items() if k not in ("BASELINE_RUN_ID", "ANSIBLE_CONFIG")}
    vault = REPO_ROOT / ".lab" / "vault-password"
    env.update({"CI": "true", "GITLAB_CI": "true", "CI_PROJECT_DIR": str(REPO_ROOT),
                "BASELINE_INVENTORY": "inventory/lab", verify.HISTORY_ENV: str(history)})
    if vault.exists():  # the CI secret store's masked variable; in the environment, never on a command line
        env["BASELINE_VAULT_PASSWORD"] = vault.read_text(encoding="utf-8").strip()
    return env


def shell(lines: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
    """The lines as GitLab's runner runs them: one shell from the project directory, stopping at the first failure."""
    return subprocess.run(["bash", "-e", "-c", "\n".join(lines)], cwd=REPO_ROOT, env=env, capture_output=True,
                          text=True, timeout=3600, check=False)


def newest_summary(history: Path) -> dict:
    runs = verify.entries(history)
    assert runs, f"no complete run in {history}"
    return json.loads((runs[-1].path / verify.SUMMARY_NAME).read_text(encoding="utf-8"))


def test_gitlab_job_passes_on_the_lab_publishes_its_artifacts_and_fails_on_a_drift(demo_run, tmp_path):
    lines, skipped = job_lines()
    print(f"left out: {skipped} (the virtualenv exists)" if skipped else "every line of the job runs")
    verify_line = next(line for line in lines if " verify " in f"{line} ")
    args = verify.parser().parse_args(shlex.split(verify_line)[2:])
    history = tmp_path / "history"
    env = ci_env(history)

    proc = shell(lines, env)
    assert proc.returncode == 0, f"the job failed on the lab:\n{proc.stdout[-8000:]}\n{proc.stderr[-3000:]}"
    assert "compliant, no drift" in proc.stdout
    report = REPO_ROOT / args.report_dir
    spec = job()
    published = [*spec["artifacts"]["reports"]["junit"], *spec["artifacts"]["paths"]]
    for path in [args.junit, *published]:
        assert (REPO_ROOT / path).exists(), f"artifact path {path} was not written"
    report_json = json.loads((report / "report.json").read_text(encoding="utf-8"))
    assert report_json["overall"]["failing_controls"] == []
    assert len(verify.entries(history)) == 1

    try:
        on(AC_01.host, str(AC_01.command))
        proc = shell([verify_line], env)
        assert proc.returncode == 1, f"no drift seen (exit {proc.returncode}):\n{proc.stdout[-8000:]}\n{proc.stderr[-3000:]}"
        summary = newest_summary(history)
        found = {(d["control"], d["asset"], d["check"].split("[")[0]) for d in summary["drift"]}
        assert ("AC-01", "app1", ROOT_SSH_AND_SHELLS) in found, proc.stdout[-8000:]
        assert {asset for _, asset, _ in found} == {"app1"}, f"drift on another host: {sorted(found)}"
        # the change also shows as an unapproved AIDE difference, which the daily inspection (OP-01) reports red too
        made = set(AC_01.expected) | {AIDE, "daily_inspection"}
        assert {check for _, _, check in found} <= made, f"a drift the change did not make: {sorted(found)}"
        assert f"AC-01 app1 {ROOT_SSH_AND_SHELLS}" in proc.stdout
        assert "not compliant" in proc.stdout
    finally:
        for run in playbooks_beside(*AC_01.repair, timeout=1800):
            assert run.returncode == 0, run.stdout[-5000:] + run.stderr[-2000:]
