"""Docs name only what exists: every repository path written in README.md, docs/, the roles' READMEs, and the
docstrings and comments of the Python code, playbooks and roles exists (a path with a wildcard or a placeholder
must match at least one file)."""

from __future__ import annotations

import ast
import io
import re
import tokenize
from pathlib import Path

import pytest

from baseline import REPO_ROOT

TOP = ("baseline", "devtools", "roles", "playbooks", "scripts", "docs", "tests", "compliance_tests", "inventory",
       "catalog", "network_configs", "plugins")
PATH = re.compile(r"(?<![\w./-])((?:" + "|".join(TOP) + r")/[\w./*<>{}\-]*[\w*>}])")
# Written by a run, not kept in the repository.
GENERATED = ("inventory/lab/hosts.yml", "inventory/lab/ssh_config", "inventory/lab/known_hosts",
             "inventory/lab/pyinfra_inventory.py", "inventory/lab/testinfra_hosts", "inventory/lab/group_vars")


def documents() -> list[Path]:
    docs = [REPO_ROOT / "README.md", *sorted((REPO_ROOT / "docs").rglob("*.md")),
            *sorted((REPO_ROOT / "roles").glob("*/README.md"))]
    code = [p for top in ("baseline", "devtools", "plugins", "compliance_tests", "tests", "scripts", "playbooks", "roles")
            for p in sorted((REPO_ROOT / top).rglob("*")) if p.is_file() and p.suffix in (".py", ".yml", ".j2", "")
            and "__pycache__" not in p.parts]
    return docs + code


def exists(path: str) -> bool:
    """The path exists; a wildcard matches a file; a placeholder (`inventory/<site>/hosts.yml`, a name the user
    chooses) stands in a directory that exists, or (`debian_<N>.yml`) stands for files that exist."""
    if path.startswith(GENERATED):
        return True
    pattern = re.sub(r"<[^>]*>|\{[^}]*\}|\b[A-Z][A-Z_]{2,}\b", "*", path)
    if "<" in path:
        return (REPO_ROOT / path.split("<", 1)[0]).is_dir() or any(REPO_ROOT.glob(pattern))
    if "*" in pattern:
        return any(REPO_ROOT.glob(pattern))
    return (REPO_ROOT / pattern.rstrip(".")).exists()


def prose(path: Path) -> list[tuple[int, str]]:
    """The lines a reader reads as documentation: a Markdown file whole; of Python its docstrings and comments; of
    YAML, templates and shell scripts their comments. (String literals of code are data, e.g. a test's made-up path.)"""
    text = path.read_text(encoding="utf-8", errors="replace")
    if path.suffix == ".md":
        return list(enumerate(text.splitlines(), 1))
    if path.suffix == ".py" or text.startswith("#!/usr/bin/env python"):
        try:
            tree = ast.parse(text)
        except SyntaxError:
            return []
        lines = []
        for node in ast.walk(tree):
            if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and node.body:
                first = node.body[0]
                if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant) \
                        and isinstance(first.value.value, str):
                    lines += [(first.lineno + i, line) for i, line in enumerate(first.value.value.splitlines())]
        for token in tokenize.generate_tokens(io.StringIO(text).readline):
            if token.type == tokenize.COMMENT:
                lines.append((token.start[0], token.string))
        return lines
    return [(n, line) for n, line in enumerate(text.splitlines(), 1) if line.lstrip().startswith(("#", "{#"))]


def named_paths(path: Path) -> list[tuple[int, str]]:
    return [(number, match.group(1).rstrip(".")) for number, line in prose(path) for match in PATH.finditer(line)]


def test_every_path_named_in_docs_and_docstrings_exists():
    missing = [f"{doc.relative_to(REPO_ROOT)}:{number}: {named}" for doc in documents()
               for number, named in named_paths(doc) if not exists(named)]
    assert missing == [], "paths that do not exist:\n" + "\n".join(missing)


@pytest.mark.parametrize(("text", "ok"), [("see `scripts/no-such-tool`", False), ("see `scripts/lab`", True),
                                          ("results in `roles/*/README.md`", True), ("`docs/<name>.md`", True),
                                          ("`docs/nothing/<site>/x`", False), ("`roles/*/nothing.yml`", False)])
def test_a_missing_path_is_found(tmp_path, text, ok):
    doc = tmp_path / "doc.md"
    doc.write_text(text + "\n", encoding="utf-8")
    assert all(exists(p) for _, p in named_paths(doc)) is ok
