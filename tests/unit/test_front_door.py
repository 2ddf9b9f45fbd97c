"""One front door: the `baseline` command declared in pyproject.toml runs every command of the runtime and the
development commands registered by devtools/; scripts/ holds only shims of them; no module edits sys.path."""

from __future__ import annotations

import ast
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from baseline import REPO_ROOT, cli

PYPROJECT = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text(encoding="utf-8"))
# scripts/ files that are programs of their own, not shims: the two README commands' helpers and Ansible's vault
# password source.
NOT_SHIMS = {"demo", "setup", "vault-password"}


def front_door(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "baseline.cli", *args], cwd=REPO_ROOT, capture_output=True,
                          text=True, timeout=120, check=False)


def test_pyproject_declares_the_command_and_its_dependencies():
    assert PYPROJECT["project"]["scripts"] == {"baseline": "baseline.cli:main"}
    declared = {re.split(r"[<>=\[ ]", d)[0].lower() for d in PYPROJECT["project"]["dependencies"]}
    assert {"ansible", "pytest", "pytest-testinfra", "netmiko", "jinja2", "pyyaml", "openpyxl"} <= declared


@pytest.mark.parametrize("name", sorted(cli.RUNTIME))
def test_every_runtime_command_answers_help(name):
    proc = front_door(name, "--help")
    assert proc.returncode == 0 and "usage:" in proc.stdout, proc.stdout + proc.stderr


def test_development_commands_are_registered_by_devtools_and_load():
    registered = PYPROJECT["project"]["entry-points"][cli.DEV_GROUP]
    assert {"lab", "devsim", "role-docs", "bench-netdev"} <= set(registered)
    for name, target in registered.items():
        module, _, func = target.partition(":")
        assert module.startswith("devtools."), f"{name}: development commands live in devtools/, not {module}"
        assert (REPO_ROOT / (module.replace(".", "/") + ".py")).is_file(), f"{name}: {module} does not exist"
        tree = ast.parse((REPO_ROOT / (module.replace(".", "/") + ".py")).read_text(encoding="utf-8"))
        assert func in {n.name for n in tree.body if isinstance(n, ast.FunctionDef)}, f"{name}: no {func}() in {module}"


def test_usage_lists_the_commands_and_an_unknown_one_is_refused_with_exit_2():
    listed = front_door("--help")
    assert listed.returncode == 0
    for name in cli.RUNTIME:
        assert re.search(rf"^  {name}\s", listed.stdout, re.M), listed.stdout
    unknown = front_door("no-such-command")
    assert unknown.returncode == 2 and "unknown command 'no-such-command'" in unknown.stderr


def test_catalog_trace_names_the_article_and_existing_places():
    proc = front_door("catalog", "trace", "IA-02")
    assert proc.returncode == 0, proc.stderr
    assert re.search(r"^  policy\s+第", proc.stdout, re.M), proc.stdout
    places = re.findall(r"^  (?:catalog|applied|verified)\s+(\S+?)(?::\d+)?$", proc.stdout, re.M)
    assert any(p.startswith("roles/") for p in places) and any(p.startswith("compliance_tests/") for p in places)
    missing = [p for p in places if not (REPO_ROOT / p).exists()]
    assert missing == [], missing
    refused = front_door("catalog", "trace", "XX-99")
    assert refused.returncode == 2 and "XX-99" in refused.stderr


@pytest.mark.parametrize("script", sorted(p.name for p in (REPO_ROOT / "scripts").iterdir()
                                          if p.is_file() and p.name not in NOT_SHIMS))
def test_scripts_are_shims(script):
    text = (REPO_ROOT / "scripts" / script).read_text(encoding="utf-8")
    code = [line for line in text.splitlines() if line.strip() and not line.startswith("#")]
    assert len(code) <= 3 and code[-1].startswith("exec "), f"scripts/{script} is more than a shim:\n{text}"
    assert re.search(r"-m (baseline|devtools)\.[\w.]+ \"\$@\"$", code[-1]), code[-1]


def python_files() -> list[Path]:
    return [p for top in ("baseline", "devtools", "plugins", "compliance_tests") for p in (REPO_ROOT / top).rglob("*.py")]


def sys_path_edits(path: Path) -> list[int]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return [node.lineno for node in ast.walk(tree)
            if isinstance(node, ast.Attribute) and node.attr in ("insert", "append", "extend")
            and isinstance(node.value, ast.Attribute) and node.value.attr == "path"
            and isinstance(node.value.value, ast.Name) and node.value.value.id == "sys"]


def test_no_module_edits_sys_path():
    found = [f"{p.relative_to(REPO_ROOT)}:{line}" for p in python_files() for line in sys_path_edits(p)]
    assert found == [], "sys.path edited (the package is installed into the virtualenv instead): " + ", ".join(found)


def test_a_sys_path_edit_is_found(tmp_path):
    module = tmp_path / "m.py"
    module.write_text("import sys\nsys.path.insert(0, '/x')\n", encoding="utf-8")
    assert sys_path_edits(module) == [2]


def test_policy_check_passes_the_project_values_and_refuses_a_weaker_one_with_exit_2(tmp_path):
    inventory = tmp_path / "inventory"
    (inventory / "group_vars").mkdir(parents=True)
    (inventory / "hosts.yml").write_text("all:\n  hosts:\n    h1:\n", encoding="utf-8")
    shutil.copytree(REPO_ROOT / "inventory" / "group_vars" / "all", inventory / "group_vars" / "all")
    passed = front_door("policy", "check", "-i", str(inventory))
    assert passed.returncode == 0 and "pass their floors on 1 host" in passed.stdout, passed.stdout + passed.stderr
    values = inventory / "group_vars" / "all" / "policy.yml"
    text = values.read_text(encoding="utf-8")
    assert re.search(r"^password_min_length: \d+", text, re.M)
    values.write_text(re.sub(r"^password_min_length: \d+", "password_min_length: 8", text, flags=re.M), encoding="utf-8")
    refused = front_door("policy", "check", "-i", str(inventory))
    assert refused.returncode == 2 and "h1: password_min_length" in refused.stderr, refused.stdout + refused.stderr


def test_development_commands_are_offered_only_where_their_package_is_installed(monkeypatch):
    """The runtime installed without devtools/ (the execution environment) still carries the registrations of
    pyproject.toml: a command whose package cannot be found is not offered."""
    from importlib.metadata import EntryPoint

    registered = [EntryPoint("lab", "devtools.lab.cli:main", cli.DEV_GROUP),
                  EntryPoint("gone", "no_such_development_package.cli:main", cli.DEV_GROUP)]
    monkeypatch.setattr(cli, "entry_points", lambda group: registered if group == cli.DEV_GROUP else [])
    assert set(cli.development_commands()) == {"lab"}
    assert "gone" not in cli.usage()
