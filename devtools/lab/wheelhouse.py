"""The wheelhouse the lab's management host installs the runtime from (roles/management, `management_wheelhouse`).

Lab hosts reach no internet: the role installs the runtime's Python packages with `pip install --no-index
--find-links` from a directory of wheels the administrator provides. The lab builds that directory once on the
controller (`pip wheel` of the role's `management_python_requirements`, from the package index the controller's pip
is configured for) and keeps it in CACHE_DIR under a name carrying the hash of the list, so it is rebuilt only when
the list changes. It is built in a temporary directory renamed into place at the end: a killed build never leaves a
half-made wheelhouse that looks finished. Tests never build it; `scripts/lab up` does, when a management host is
among the hosts it boots.
"""

from __future__ import annotations

import hashlib
import shutil
import sys
import time
from pathlib import Path

import yaml

from baseline import REPO_ROOT
from devtools.lab import config
from devtools.lab.image import Built
from devtools.lab.system import LabError, run

ROLE_DEFAULTS = REPO_ROOT / "roles" / "management" / "defaults" / "main.yml"
GROUP = "management_hosts"
PREFIX = "wheelhouse"


def requirements() -> list[str]:
    """The pinned requirements the role installs (its defaults' `management_python_requirements`)."""
    data = yaml.safe_load(ROLE_DEFAULTS.read_text(encoding="utf-8")) or {}
    found = data.get("management_python_requirements")
    if not isinstance(found, list) or not found or not all(isinstance(r, str) and "==" in r for r in found):
        raise LabError(f"{ROLE_DEFAULTS}: management_python_requirements is not a list of pinned requirements")
    return found


def path(reqs: list[str] | None = None) -> Path:
    """Where the wheelhouse of these requirements lives (whether or not it is built yet)."""
    reqs = requirements() if reqs is None else reqs
    key = hashlib.sha256(repr((sorted(reqs), sys.version_info[:2])).encode()).hexdigest()[:12]
    return config.CACHE_DIR / f"{PREFIX}-{key}"


def needed(hosts: list[config.LabHost]) -> bool:
    return any(GROUP in h.groups for h in hosts)


def build() -> Built:
    """The wheelhouse, built with this Python's pip when it is not in the cache yet."""
    reqs = requirements()
    final = path(reqs)
    if (final / "requirements.txt").is_file():
        return Built(final, 0.0)
    start = time.monotonic()
    tmp = config.CACHE_DIR / f"tmp-{final.name}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    listed = tmp / "requirements.in"
    listed.write_text("\n".join(reqs) + "\n", encoding="utf-8")
    run([sys.executable, "-m", "pip", "wheel", "--quiet", "--wheel-dir", str(tmp), "-r", str(listed)])
    if not any(tmp.glob("*.whl")):
        raise LabError("the management host's wheelhouse came out empty")
    listed.rename(tmp / "requirements.txt")  # last: its presence marks a finished wheelhouse
    tmp.rename(final)
    for old in config.CACHE_DIR.glob(f"{PREFIX}-*"):
        if old != final and old.is_dir():
            shutil.rmtree(old, ignore_errors=True)
    return Built(final, round(time.monotonic() - start, 1))
