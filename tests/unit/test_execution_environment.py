"""The execution environment for AWX / Ansible Automation Platform (execution-environment.yml, docs/awx.md).

`ansible-builder create` writes the build context (no container engine needed): a Containerfile and, under _build/,
the galaxy, Python and system requirements and the baseline package. The context must hold every collection the
roles and playbooks use, found from the FQCNs written in roles/, playbooks/ and ansible.cfg, so a role that starts
using a new collection fails here until the environment gets it; the collection versions are those of the pinned
`ansible` package the controller's .venv runs, and the Python packages are pyproject.toml's runtime dependencies,
pinned as in requirements.txt.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import yaml

from baseline import REPO_ROOT

EE_FILE = REPO_ROOT / "execution-environment.yml"
SCANNED = (REPO_ROOT / "roles", REPO_ROOT / "playbooks")
SCANNED_FILES = (REPO_ROOT / "ansible.cfg",)  # callbacks_enabled names collection callbacks
SCANNED_SUFFIXES = {".yml", ".yaml", ".j2", ".py", ".cfg"}
# ansible-core itself: not a collection to install
CORE = {"ansible.builtin", "ansible.legacy"}
FQCN = re.compile(r"\b([a-z][a-z0-9_]*)\.([a-z][a-z0-9_]*)\.([a-z][a-z0-9_]*)\b")
KEY_FQCN = re.compile(r"^(?:group/)?([a-z][a-z0-9_]*)\.([a-z][a-z0-9_]*)\.([a-z][a-z0-9_]*)$")
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==(\S+)")


def known_collections() -> dict[str, str]:
    """name -> version of every collection the installed `ansible` package bundles."""
    import ansible_collections

    found = {}
    for root in map(Path, ansible_collections.__path__):
        for manifest in root.glob("*/*/MANIFEST.json"):
            info = json.loads(manifest.read_text(encoding="utf-8"))["collection_info"]
            found[f"{info['namespace']}.{info['name']}"] = info["version"]
    return found


def _task_keys(node, in_list: bool = False):
    """The keys of the mappings that are list items (plays, tasks, handlers, blocks) and of module_defaults: where
    a module's or an action group's FQCN is a key. Other mappings hold data (sysctl names such as net.ipv4.x)."""
    if isinstance(node, dict):
        for key, value in node.items():
            if in_list:
                yield key
            if key == "module_defaults" and isinstance(value, dict):
                yield from value
            yield from _task_keys(value)
    elif isinstance(node, list):
        for item in node:
            yield from _task_keys(item, in_list=True)


def used_collections(dirs=SCANNED, files=SCANNED_FILES, known: set[str] | None = None) -> dict[str, set[str]]:
    """Collection -> the files that use it. A collection counts as used where one of its FQCNs is a task's key (a
    module, an action group of module_defaults), whichever collection it is, and where an FQCN of a collection
    the `ansible` package bundles appears in any text (a filter, a lookup, a callback of ansible.cfg)."""
    known = set(known_collections()) if known is None else known
    paths = [p for d in dirs for p in sorted(d.rglob("*")) if p.is_file() and p.suffix in SCANNED_SUFFIXES]
    used: dict[str, set[str]] = {}
    for path in [*paths, *files]:
        text = path.read_text(encoding="utf-8")
        names = {f"{a}.{b}" for a, b, _ in FQCN.findall(text)} & known
        if path.suffix in {".yml", ".yaml"}:
            for document in yaml.safe_load_all(text):
                names |= {f"{m[1]}.{m[2]}" for k in _task_keys(document)
                          if isinstance(k, str) and (m := KEY_FQCN.match(k))}
        shown = path.relative_to(REPO_ROOT) if path.is_relative_to(REPO_ROOT) else path
        for name in names - CORE:
            used.setdefault(name, set()).add(str(shown))
    return used


def listed_collections(requirements: Path) -> dict[str, str]:
    """name -> version of the collections of a galaxy requirements file."""
    data = yaml.safe_load(requirements.read_text(encoding="utf-8")) or {}
    return {c["name"] if isinstance(c, dict) else c: str(c.get("version", "*")) if isinstance(c, dict) else "*"
            for c in data.get("collections", [])}


def missing_collections(used, listed) -> list[str]:
    """The used collections the execution environment does not install, with where each is used."""
    return [f"{name} (used in {', '.join(sorted(used[name]))})" for name in sorted(set(used) - set(listed))]


def pins(requirements_text: str) -> dict[str, str]:
    """name (normalised) -> version of the `name==version` lines of a pip requirements text."""
    found = {}
    for line in requirements_text.splitlines():
        if m := PIN.match(line.split("#", 1)[0].strip()):
            found[_normalise(m[1])] = m[2]
    return found


def _normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _dependency_name(spec: str) -> str:
    return _normalise(re.split(r"[<>=!~;\[ ]", spec, maxsplit=1)[0])


def _ansible_builder() -> str:
    found = shutil.which("ansible-builder") or str(Path(sys.executable).parent / "ansible-builder")
    if not Path(found).exists():
        pytest.fail("ansible-builder is not installed: pip install -r requirements.txt")
    return found


@pytest.fixture(scope="module")
def context(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("ee-context")
    proc = subprocess.run([_ansible_builder(), "create", "--file", str(EE_FILE), "--context", str(out),
                           "--output-filename", "Containerfile"],
                          cwd=REPO_ROOT, capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, f"ansible-builder create failed:\n{proc.stdout}\n{proc.stderr}"
    return out


def test_build_context_has_a_containerfile_with_the_pinned_ansible_core_and_runner(context):
    containerfile = (context / "Containerfile").read_text(encoding="utf-8")
    base = yaml.safe_load(EE_FILE.read_text(encoding="utf-8"))["images"]["base_image"]["name"]
    assert f'ARG EE_BASE_IMAGE="{base}"' in containerfile
    core = pins((REPO_ROOT / "requirements.txt").read_text(encoding="utf-8"))["ansible-core"]
    assert re.search(rf'ARG ANSIBLE_INSTALL_REFS="ansible-core=={re.escape(core)} ansible-runner==\S+"', containerfile), \
        f"the image must install ansible-core=={core}, the version of requirements.txt"


def test_build_context_installs_every_collection_the_roles_and_playbooks_use(context):
    used = used_collections()
    listed = listed_collections(context / "_build" / "requirements.yml")
    assert missing_collections(used, listed) == [], "add them to execution-environment/requirements.yml"
    assert "ansible.builtin" not in listed


def test_collections_found_include_modules_filters_and_callbacks():
    used = used_collections()
    assert "roles/backup_store/tasks/main.yml" in used["ansible.posix"]  # a module
    assert "ansible.cfg" in used["ansible.posix"]  # the profile_tasks callback
    assert any(p.startswith("roles/postgresql/") for p in used["community.general"])  # the dict_kv filter
    assert {"community.crypto", "community.mysql", "community.postgresql"} <= set(used)
    assert "net.ipv4" not in used  # sysctl names of roles/hardening/defaults are data, not modules


def test_a_collection_the_environment_lacks_is_reported():
    """The check of the build-context test, shown to fail: a role using a collection the list lacks."""
    used = used_collections()
    listed = listed_collections(EE_FILE.parent / "execution-environment" / "requirements.yml")
    listed.pop("community.mysql")
    missing = missing_collections(used, listed)
    assert len(missing) == 1
    assert missing[0].startswith("community.mysql (used in ") and "roles/mariadb/tasks/accounts.yml" in missing[0]


def test_a_module_of_an_unknown_collection_counts_as_used(tmp_path):
    (tmp_path / "tasks.yml").write_text("- name: Example\n  example.thing.do_it:\n    arg: 1\n", encoding="utf-8")
    used = used_collections(dirs=(tmp_path,), files=(), known=set())
    assert set(used) == {"example.thing"}


def test_collection_versions_are_those_of_the_pinned_ansible_package(context):
    from importlib.metadata import version

    pinned = pins((REPO_ROOT / "requirements.txt").read_text(encoding="utf-8"))["ansible"]
    if version("ansible") != pinned:
        pytest.skip(f"the installed ansible {version('ansible')} is not requirements.txt's {pinned}")
    bundled = known_collections()
    listed = listed_collections(context / "_build" / "requirements.yml")
    differ = {name: (v, bundled.get(name)) for name, v in listed.items() if v != bundled.get(name)}
    assert differ == {}, f"execution-environment/requirements.yml: (listed, bundled with ansible=={pinned})"


def test_build_context_pins_the_runtime_dependencies_as_requirements_txt(context):
    declared = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["dependencies"]
    # `ansible` is ansible-core (pinned above) plus the collections of the galaxy requirements
    runtime = {_dependency_name(d) for d in declared} - {"ansible"}
    pinned = pins((REPO_ROOT / "requirements.txt").read_text(encoding="utf-8"))
    image = pins((context / "_build" / "requirements.txt").read_text(encoding="utf-8"))
    assert {name: image.get(name) for name in runtime} == {name: pinned[name] for name in runtime}


def test_build_context_has_the_system_packages_of_the_controller_side(context):
    bindep = (context / "_build" / "bindep.txt").read_text(encoding="utf-8")
    for package in ("openssh-clients",):
        assert re.search(rf"^{package} \[.*platform:rpm", bindep, re.MULTILINE), package


def test_build_context_pins_the_library_of_the_certificate_modules_as_requirements_txt(context):
    """roles/pki makes the project CA with community.crypto's x509 modules, which need `cryptography` on the
    controller: the image pins the version the controller's .venv runs."""
    pinned = pins((REPO_ROOT / "requirements.txt").read_text(encoding="utf-8"))
    image = pins((context / "_build" / "requirements.txt").read_text(encoding="utf-8"))
    assert "cryptography" in pinned
    assert image.get("cryptography") == pinned["cryptography"]


def test_build_context_carries_the_baseline_package_and_installs_it(context):
    source = context / "_build" / "baseline-src"
    assert (source / "pyproject.toml").read_bytes() == (REPO_ROOT / "pyproject.toml").read_bytes()
    package = REPO_ROOT / "baseline"
    files = [p.relative_to(package) for p in package.rglob("*")
             if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc"]
    assert files
    assert [f for f in files if not (source / "baseline" / f).is_file()] == []
    containerfile = (context / "Containerfile").read_text(encoding="utf-8")
    assert "COPY _build/baseline-src /tmp/baseline-src" in containerfile
    assert "pip install --no-cache-dir --no-deps /tmp/baseline-src" in containerfile
    assert "ENV BASELINE_ROOT=/runner/project" in containerfile


def test_the_package_reads_the_checkout_named_by_baseline_root(tmp_path):
    """Installed apart from the checkout (the execution environment), the package reads the project directory
    that BASELINE_ROOT names; without it, the package's parent directory."""
    code = "import baseline; print(baseline.REPO_ROOT)"
    env = {k: v for k, v in os.environ.items() if k != "BASELINE_ROOT"}
    plain = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    import baseline

    assert plain.stdout.strip() == str(Path(baseline.__file__).resolve().parent.parent)
    moved = subprocess.run([sys.executable, "-c", code], env={**env, "BASELINE_ROOT": str(tmp_path)},
                           capture_output=True, text=True, check=True)
    assert moved.stdout.strip() == str(tmp_path.resolve())
