"""Ansible's linear strategy over Mitogen (ansible.cfg: `strategy = mitogen_linear`).

Mitogen keeps one Python interpreter per host and user for the whole run and sends modules to it over the SSH
connection, instead of copying and starting each module anew: an idempotent re-apply of the server baseline takes
about a third of the time of the stock strategy on the same host (`baseline bench-linux`). Playbooks, tasks and
results are the same; the connection, become and check mode are Ansible's own. Set ANSIBLE_STRATEGY=linear to run
without it, e.g. to compare or where Mitogen is not installed.

The package is pinned in requirements.txt; its strategy is reached through this module so that ansible.cfg needs no
path into the Python environment.

Work done once on the controller instead of once per task and host. Ansible runs every task for every host in a
process forked from the controller's; what that process computes or imports is lost with it. Two things the forked
processes did each time are done here once, before the first fork, so that every fork inherits them:
- the list of installed collection directories, which Mitogen reads before it sends a module of a collection
  (`ansible_mitogen.planner._load_collections`): a walk over every collection path, most of what a task of a
  collection's module cost (`scripts/bench-controller`: 1.49 s per task on 7 hosts without this, 0.37 s with it). The
  list cannot change during a run (collections are installed by `make setup`, before it);
- the imports that Ansible's filter plugins and its module-result decoding make at their first use (PRELOADED).
"""

from __future__ import annotations

import functools
import importlib

import ansible_mitogen.planner
from ansible.collections.list import list_collection_dirs
from ansible_mitogen.plugins.strategy.mitogen_linear import StrategyModule as _MitogenLinear

__all__ = ["StrategyModule"]

# Imported by the forked processes at the first filter or module result of each; imported here, they are inherited.
PRELOADED = (
    "ansible.utils.encrypt",
    "ansible.plugins.filter.core",
    "ansible.module_utils._internal._json._profiles._module_legacy_m2c",
    "ansible.module_utils._internal._json._profiles._module_legacy_c2m",
)

_mitogen_load_collections = getattr(ansible_mitogen.planner, "_load_collections", None)


@functools.cache
def collection_dirs() -> tuple[str, ...]:
    """The installed collections' directories, read once per controller process."""
    return tuple(path.decode("utf-8") if isinstance(path, bytes) else path for path in list_collection_dirs())


def load_collections(invocation) -> None:
    """What Mitogen's `_load_collections` does, from the list read once."""
    invocation._extra_sys_paths.update(collection_dirs())


def preload() -> None:
    for name in PRELOADED:
        try:
            importlib.import_module(name)
        except ImportError:  # another ansible-core: the forked processes import what they need themselves
            pass


if _mitogen_load_collections is not None:  # another Mitogen release without it: its own behaviour stays
    ansible_mitogen.planner._load_collections = load_collections


class StrategyModule(_MitogenLinear):
    def run(self, iterator, play_context, *args, **kwargs):
        collection_dirs()
        preload()
        return super().run(iterator, play_context, *args, **kwargs)
