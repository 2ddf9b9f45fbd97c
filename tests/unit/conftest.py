"""Unit tests run ansible-playbook on throw-away inventories: give those runs a change reason and keep their change
records (CM-01, plugins/callback/baseline_changes.py) out of the repository's archive."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _change_records_of_unit_test_runs(tmp_path_factory, monkeypatch):
    monkeypatch.setenv("BASELINE_CHANGE_REASON", "unit test run")
    monkeypatch.setenv("BASELINE_CHANGES_DIR", str(tmp_path_factory.mktemp("changes")))
