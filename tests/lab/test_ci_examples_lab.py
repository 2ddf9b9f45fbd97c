"""The GitLab example (examples/ci/gitlab-ci.yml) on the hardened lab: its job's lines, exactly as written, with the
CI variables set for the lab inventory, pass and leave the JUnit files and the report where the job publishes them;
then a drift made by hand on app1 (AC-01 of tests/lab/drifts.py: a system account gets a login shell) makes the
same `baseline verify` exit 1 and name it, and the drift's own repair restores app1.

The drift run is the Jenkins pipeline's (examples/ci/Jenkinsfile): its `sh` steps as written, with the parameter and
the credential as Jenkins binds them, on the same site and history; it must exit 1 and name the drift too.

The job's first line, `make setup`, is left out when the virtualenv exists (the lab session runs from it; setup
would only check the installed packages again): it is the only line not run.

The job's BASELINE_INVENTORY names a part of the lab as a project would name one of its sites: app1 with the log
server and the backup store it depends on (the lab's own vars, groups and SSH configuration, the other hosts and the
devices left out). The whole lab's verification is `scripts/demo`'s, which runs the same `baseline verify`
(tests/lab/test_demo.py); here the job's lines are what is under test, twice, not the lab's size."""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
from pathlib import Path

import pytest
import yaml
from drifts import AC_01, AIDE, ROOT_SSH_AND_SHELLS
from lab_run import on, playbooks_beside

from baseline import REPO_ROOT, inventory
from baseline.operations import verify
from devtools.lab import config

pytestmark = pytest.mark.lab
JOB = "baseline-verify"
SITE_HOSTS = ("app1", "log1", "bak1")  # the drift's host, and where its log and backups go


def site_inventory(directory: Path) -> Path:
    """An inventory of SITE_HOSTS alone: the lab's hosts.yml with its vars as they are (vault values included) and
    every other host taken out of its groups, beside the lab's group_vars and SSH configuration."""
    text = (config.INVENTORY_DIR / "hosts.yml").read_text(encoding="utf-8")
    head, marker, groups = text.partition("\n  children:\n")
    assert marker, "the lab's hosts.yml has no children: section under all:"
    tree = yaml.safe_load("children:\n" + "".join(f"{line[2:]}\n" for line in groups.splitlines()))

    def prune(group: dict) -> bool:
        hosts = {name: v for name, v in (group.get("hosts") or {}).items() if name in SITE_HOSTS}
        children = {name: child for name, child in (group.get("children") or {}).items() if prune(child or {})}
        group.clear()
        group.update({"hosts": hosts} if hosts else {}, **({"children": children} if children else {}))
        return bool(hosts or children)

    prune(tree)
    body = yaml.safe_dump({"children": tree["children"]}, sort_keys=False, default_flow_style=False)
    directory.mkdir(parents=True)
    hosts = directory / "hosts.yml"
    hosts.touch(mode=0o600)
    hosts.write_text(head + "\n" + "".join(f"  {line}\n" for line in body.splitlines()), encoding="utf-8")
    for name in ("group_vars", "ssh_config"):
        (directory / name).symlink_to((config.INVENTORY_DIR / name).resolve())
    return directory


def job() -> dict:
    return yaml.safe_load((REPO_ROOT / "examples" / "ci" / "gitlab-ci.yml").read_text(encoding="utf-8"))[JOB]


def job_lines() -> tuple[list[str], list[str]]:
    """(lines to run, lines left out): the job's before_script and script, without `make setup` when .venv exists."""
    spec = job()
    lines = [*spec.get("before_script", []), *spec["script"]]
    skipped = [line for line in lines if line.strip() == "make setup" and (REPO_ROOT / ".venv" / "bin" / "python").exists()]
    return [line for line in lines if line not in skipped], skipped


def ci_env(history: Path, site: Path) -> dict[str, str]:
    """The job's environment on the lab: the CI variables as a project would set them, for a site of the lab."""
    env = {k: v for k, v in os.environ.items() if k not in ("BASELINE_RUN_ID", "ANSIBLE_CONFIG")}
    vault = REPO_ROOT / ".lab" / "vault-password"
    env.update({"CI": "true", "GITLAB_CI": "true", "CI_PROJECT_DIR": str(REPO_ROOT),
                "BASELINE_INVENTORY": str(site), verify.HISTORY_ENV: str(history)})
    if vault.exists():  # the CI secret store's masked variable; in the environment, never on a command line
        env["BASELINE_VAULT_PASSWORD"] = vault.read_text(encoding="utf-8").strip()
    return env


def shell(lines: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
    """The lines as GitLab's runner runs them: one shell from the project directory, stopping at the first failure."""
    return subprocess.run(["bash", "-e", "-c", "\n".join(lines)], cwd=REPO_ROOT, env=env, capture_output=True,
                          text=True, timeout=3600, check=False)


def jenkins_steps() -> tuple[list[str], list[str]]:
    """(steps to run, steps left out): the shell of each `sh '...'` step of examples/ci/Jenkinsfile, in order,
    without `make setup` when .venv exists."""
    text = (REPO_ROOT / "examples" / "ci" / "Jenkinsfile").read_text(encoding="utf-8")
    steps = re.findall(r"\bsh '([^']*)'", text)
    skipped = [step for step in steps if step.strip() == "make setup" and (REPO_ROOT / ".venv" / "bin" / "python").exists()]
    return [step for step in steps if step not in skipped], skipped


def jenkins_env(gitlab: dict[str, str]) -> dict[str, str]:
    """The Jenkins agent's environment for the same site: the parameter and the bound credential as Jenkins sets
    them, the workspace the repository, no GitLab variables."""
    env = {k: v for k, v in gitlab.items() if not k.startswith(("CI_", "GITLAB_")) and k != "CI"}
    env.update({"JENKINS_URL": "http://jenkins.invalid/", "WORKSPACE": str(REPO_ROOT), "BUILD_NUMBER": "2"})
    return env


def jenkins(steps: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
    """Each step as Jenkins' `sh` runs it (`sh -xe` on a script of the step), stopping at the first failure."""
    out, err, proc = [], [], None
    for step in steps:
        proc = subprocess.run(["sh", "-xe", "-c", step], cwd=REPO_ROOT, env=env, capture_output=True, text=True,
                              timeout=3600, check=False)
        out.append(proc.stdout)
        err.append(proc.stderr)
        if proc.returncode:
            break
    assert proc is not None
    return subprocess.CompletedProcess(proc.args, proc.returncode, "".join(out), "".join(err))


def newest_summary(history: Path) -> dict:
    runs = verify.entries(history)
    assert runs, f"no complete run in {history}"
    return json.loads((runs[-1].path / verify.SUMMARY_NAME).read_text(encoding="utf-8"))


@pytest.mark.lab_cost(170)
def test_gitlab_job_passes_on_the_lab_publishes_its_artifacts_and_fails_on_a_drift(demo_run, tmp_path):
    lines, skipped = job_lines()
    print(f"left out: {skipped} (the virtualenv exists)" if skipped else "every line of the job runs")
    verify_line = next(line for line in lines if " verify " in f"{line} ")
    args = verify.parser().parse_args(shlex.split(verify_line)[2:])
    history = tmp_path / "history"
    site = site_inventory(tmp_path / "site")
    assert sorted(inventory.load(str(site / "hosts.yml")).hosts()) == sorted(SITE_HOSTS)
    env = ci_env(history, site)

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
        # the drift run is the Jenkins pipeline's steps, as written, in its environment (same site, same history)
        steps, left_out = jenkins_steps()
        assert left_out == skipped and steps, f"Jenkins steps {steps}, left out {left_out}"
        proc = jenkins(steps, jenkins_env(env))
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
