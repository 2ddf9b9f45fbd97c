"""Shared fixtures for the project's own tests."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml

from baseline import REPO_ROOT


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO_ROOT


@pytest.fixture()
def policy_values() -> dict:
    with open(REPO_ROOT / "inventory/group_vars/all/policy.yml", encoding="utf-8") as fh:
        return copy.deepcopy(yaml.safe_load(fh))
