"""The runtime never imports development tooling.

What production runs (baseline/, the compliance suites, the Ansible plugins) must work on a controller that has no
devtools/ (the lab, the device simulator, benchmarks, role docs). Every module is parsed, not imported, so an import
inside a function or behind a condition counts too, and so does a module named by a string to importlib.
The device simulator, in turn, reads devices only through what it shares with the client
(baseline/netdev/definitions.py).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from baseline import REPO_ROOT

RUNTIME_DIRS = ("baseline", "compliance_tests", "plugins")
DEVELOPMENT_PACKAGE = "devtools"
DYNAMIC_IMPORTS = {"import_module", "__import__"}  # importlib.import_module(name), import_module(name), __import__(name)


def _is_development(module: str) -> bool:
    return module == DEVELOPMENT_PACKAGE or module.startswith(DEVELOPMENT_PACKAGE + ".")


def _called_name(call: ast.Call) -> str:
    func = call.func
    if isinstance(func, ast.Attribute):
        return func.attr
    return func.id if isinstance(func, ast.Name) else ""


def imported_modules(path: Path) -> list[tuple[int, str]]:
    """(line, module) for every import in the module at `path`: `import a.b`, `from a.b import c` (as a.b and a.b.c,
    since c may be a module), and a string given to importlib.import_module or __import__."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found += [(node.lineno, node.module)] + [(node.lineno, f"{node.module}.{alias.name}") for alias in node.names]
        elif (isinstance(node, ast.Call) and _called_name(node) in DYNAMIC_IMPORTS and node.args
              and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str)):
            found.append((node.lineno, node.args[0].value))
    return found


def _shown(path: Path, root: Path) -> Path:
    return path.relative_to(root) if path.is_relative_to(root) else path


def development_imports(path: Path, root: Path = REPO_ROOT) -> list[str]:
    """One line `file:line: imports NAME` for each import of the development package in the module at `path`."""
    seen: dict[int, str] = {}
    for line, module in imported_modules(path):
        if _is_development(module):
            seen.setdefault(line, module)  # `from devtools.lab import config`: named once, as devtools.lab
    return [f"{_shown(path, root)}:{line}: imports {module}" for line, module in sorted(seen.items())]


def runtime_modules(root: Path = REPO_ROOT) -> list[Path]:
    return sorted(p for d in RUNTIME_DIRS for p in (root / d).rglob("*.py") if "__pycache__" not in p.parts)


def test_the_runtime_never_imports_development_tooling():
    modules = runtime_modules()
    assert {REPO_ROOT / "baseline/secrets.py", REPO_ROOT / "compliance_tests/linux/linuxcheck.py",
            REPO_ROOT / "plugins/action/policy_preflight.py"} <= set(modules)
    problems = [line for path in modules for line in development_imports(path)]
    assert not problems, "runtime code imports development tooling (devtools/):\n" + "\n".join(problems)


@pytest.mark.parametrize(("source", "line", "name"), [
    ("import devtools\n", 1, "devtools"),
    ("import os, devtools.lab.config as lab\n", 1, "devtools.lab.config"),
    ("from devtools.simulator import Simulator\n", 1, "devtools.simulator"),
    ("def f():\n    from devtools import roledocs\n", 2, "devtools"),
    ("x = 1\nfrom devtools.lab import config, hosts\n", 2, "devtools.lab"),
    ("import importlib\nimportlib.import_module('devtools.bench.netdev')\n", 2, "devtools.bench.netdev"),
    ("from importlib import import_module\n\nimport_module(\"devtools\")\n", 3, "devtools"),
    ("__import__('devtools.lab')\n", 1, "devtools.lab"),
])
def test_an_import_of_development_tooling_is_named_with_file_and_line(tmp_path, source, line, name):
    module = tmp_path / "baseline" / "leaky.py"
    module.parent.mkdir()
    module.write_text(source, encoding="utf-8")
    assert development_imports(module, tmp_path) == [f"baseline/leaky.py:{line}: imports {name}"]
    assert module in runtime_modules(tmp_path)


def test_runtime_imports_and_lookalike_names_pass(tmp_path):
    module = tmp_path / "ok.py"
    module.write_text("import devtoolsx\nfrom baseline import secrets\nfrom . import devtools\n"
                      "import importlib\nimportlib.import_module('baseline.netdev.definitions')\nname = 'devtools'\n",
                      encoding="utf-8")
    assert development_imports(module, tmp_path) == []


SHARED_DEFINITIONS = "baseline.netdev.definitions"


def client_imports(path: Path, root: Path = REPO_ROOT) -> list[str]:
    """Imports of the network-device client (baseline.netdev.*) other than the shared definitions."""
    return [f"{_shown(path, root)}:{line}: imports {module}" for line, module in imported_modules(path)
            if module.startswith("baseline.netdev.")
            and not (module == SHARED_DEFINITIONS or module.startswith(SHARED_DEFINITIONS + "."))]


def test_the_simulator_reads_devices_only_through_the_shared_definitions():
    """The device simulator shares what a device is with the client (baseline/netdev/definitions.py) and imports
    nothing else of the client: not its drivers, pre-checks, push, backup or audit."""
    simulator = sorted((REPO_ROOT / "devtools" / "simulator").rglob("*.py"))
    assert REPO_ROOT / "devtools/simulator/__init__.py" in simulator
    problems = [line for path in simulator for line in client_imports(path)]
    assert not problems, "the simulator imports the network-device client:\n" + "\n".join(problems)


def test_a_simulator_import_of_the_client_is_named(tmp_path):
    module = tmp_path / "sim.py"
    module.write_text("from baseline.netdev.definitions import NetDevice\nfrom baseline.netdev import definitions\n"
                      "from baseline.netdev import devices\nimport baseline.netdev.drivers\n", encoding="utf-8")
    assert client_imports(module, tmp_path) == ["sim.py:3: imports baseline.netdev.devices",
                                                "sim.py:4: imports baseline.netdev.drivers"]
