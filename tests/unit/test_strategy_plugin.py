"""plugins/strategy/mitogen_linear.py: the work it does once per run, before the first fork, is the work Mitogen's
own strategy does for every task and host (scripts/bench-controller measures what it saves)."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
import types

import ansible_mitogen.planner
import pytest
from ansible.collections import list as collection_list

from baseline import REPO_ROOT

PLUGIN = REPO_ROOT / "plugins" / "strategy" / "mitogen_linear.py"


@pytest.fixture(scope="module")
def plugin():
    original = ansible_mitogen.planner._load_collections
    spec = importlib.util.spec_from_file_location("baseline_test_mitogen_linear", PLUGIN)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    yield module, original
    ansible_mitogen.planner._load_collections = original
    sys.modules.pop("baseline_test_mitogen_linear", None)


def invocation():
    return types.SimpleNamespace(_extra_sys_paths=set())


def test_mitogen_reads_the_collection_list_through_the_plugin(plugin):
    module, original = plugin
    assert module._mitogen_load_collections is original, "the pinned Mitogen has no _load_collections any more"
    assert ansible_mitogen.planner._load_collections is module.load_collections


# In a process of its own: the listing needs Ansible's collection loader, which a run installs and these tests do not.
COMPARE = """
import importlib.util, json, sys, types
from ansible.plugins.loader import init_plugin_loader
init_plugin_loader()
import ansible_mitogen.planner
original = ansible_mitogen.planner._load_collections
spec = importlib.util.spec_from_file_location("plugin", sys.argv[1])
plugin = importlib.util.module_from_spec(spec)
spec.loader.exec_module(plugin)
mitogen_own, once = types.SimpleNamespace(_extra_sys_paths=set()), types.SimpleNamespace(_extra_sys_paths=set())
original(mitogen_own)
plugin.load_collections(once)
print(json.dumps([sorted(mitogen_own._extra_sys_paths), sorted(once._extra_sys_paths)]))
"""


def test_the_list_read_once_is_the_list_mitogen_reads_each_time():
    proc = subprocess.run([sys.executable, "-c", COMPARE, str(PLUGIN)], cwd=REPO_ROOT, capture_output=True, text=True,
                          timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    mitogen_own, once = json.loads(proc.stdout.splitlines()[-1])
    assert once == mitogen_own
    assert any(path.endswith("/community/general") for path in once)


def test_the_collections_are_listed_once_per_process(plugin, monkeypatch):
    module, _ = plugin
    calls = []

    def counted(*args, **kwargs):
        calls.append(args)
        return iter([b"/one/collection"])

    monkeypatch.setattr(module, "list_collection_dirs", counted)
    module.collection_dirs.cache_clear()
    first, second = invocation(), invocation()
    module.load_collections(first)
    module.load_collections(second)
    assert len(calls) == 1
    assert first._extra_sys_paths == second._extra_sys_paths == {"/one/collection"}
    module.collection_dirs.cache_clear()


def test_the_modules_preloaded_exist_in_the_pinned_ansible_core(plugin):
    module, _ = plugin
    for name in module.PRELOADED:
        importlib.import_module(name)


def test_the_plugin_reads_ansibles_own_listing(plugin):
    module, _ = plugin
    assert module.list_collection_dirs is collection_list.list_collection_dirs
