"""Compliance suites: testinfra over SSH against the inventory's hosts (the lab by default; set
BASELINE_INVENTORY and BASELINE_SSH_CONFIG for a real one). Every test carries @pytest.mark.control(...)."""

import importlib.util

import pytest

from baseline import compliance

if importlib.util.find_spec("baseline.compliance_plugin"):
    pytest_plugins = ["baseline.compliance_plugin"]


def pytest_configure(config):
    if not getattr(config.option, "ssh_config", None):
        config.option.ssh_config = str(compliance.ssh_config_path())


@pytest.fixture()
def policy(host):
    """Inventory variables of the host under test (policy values, platform values, roster)."""
    return compliance.host_vars(host)
