"""Import a compliance suite's module without the lab: the suites read the inventory when they are imported, so
they are loaded under a private name with an inventory that has no hosts (no lab is read)."""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path
from types import ModuleType

from baseline import REPO_ROOT


def load_suite(path: Path, name: str) -> ModuleType:
    saved = os.environ.get("BASELINE_INVENTORY")
    os.environ["BASELINE_INVENTORY"] = str(REPO_ROOT / "tests" / "unit" / "no-such-inventory")
    try:
        spec = importlib.util.spec_from_file_location(name, path)
        assert spec is not None and spec.loader is not None, path
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    finally:
        if saved is None:
            os.environ.pop("BASELINE_INVENTORY", None)
        else:
            os.environ["BASELINE_INVENTORY"] = saved
    return module
