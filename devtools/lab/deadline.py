"""The lab session's deadline (BASELINE_LAB_DEADLINE, seconds from the session's start; `make test` sets one below
CI's limit): a lab test starts only when what it may still take fits before the deadline, so that a slow run ends
with pytest's summary of what passed, failed and never ran instead of being killed without one.

What a test may take is its own call (`@pytest.mark.lab_cost(seconds)`, DEFAULT_CALL_COST without one) plus every
expensive fixture it asks for that is not set up yet: a test module names those in LAB_FIXTURE_COSTS (fixture name ->
seconds), the lab's conftest its own. The figures are upper bounds on CI's machine: about 1.4 times what the lab
measures on two cores (results/lab-test-times.tsv). Tests marked `lab_teardown` always run.

Load with `-p devtools.lab.deadline`, or from a conftest with `register(config)` in its pytest_configure (then lab
tests outside the conftest's directory are held to the deadline too)."""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Mapping

import pytest

DEADLINE_ENV = "BASELINE_LAB_DEADLINE"
DEFAULT_CALL_COST = 60.0
SESSION_START = time.monotonic()


def needs(call_cost: float, fixture_costs: Mapping[str, float], wanted: list[str], ready: set[str]) -> dict[str, float]:
    """What a test may take, item by item: the fixtures it asks for that have a cost and are not set up, then its
    call ("the test")."""
    found = {name: float(fixture_costs[name]) for name in wanted if name in fixture_costs and name not in ready}
    found["the test"] = float(call_cost)
    return found


def refusal(spent: float, deadline: float, needed: Mapping[str, float]) -> str | None:
    """Why a test that may take `needed` must not start `spent` seconds into a session with `deadline`, or None."""
    total = sum(needed.values())
    if spent + total <= deadline:
        return None
    parts = ", ".join(f"{name} {cost:.0f} s" for name, cost in needed.items())
    return (f"not run: the lab session's deadline ({DEADLINE_ENV}={deadline:.0f} s) leaves {max(deadline - spent, 0):.0f} s "
            f"after {spent:.0f} s, and this test may take {total:.0f} s ({parts})")


def call_cost(item: pytest.Item) -> float:
    marker = item.get_closest_marker("lab_cost")
    return float(marker.args[0]) if marker else DEFAULT_CALL_COST


def set_up(item: pytest.Item) -> set[str]:
    """The fixtures of the test that hold a value (or a failure pytest keeps for their scope) now: set up by an
    earlier test and not torn down since."""
    info = getattr(item, "_fixtureinfo", None)
    defs = getattr(info, "name2fixturedefs", {}) or {}
    return {name for name, chain in defs.items() if chain and getattr(chain[-1], "cached_result", None) is not None}


def fixture_costs(item: pytest.Item) -> dict[str, float]:
    """LAB_FIXTURE_COSTS of the lab's conftest modules and of the test's module."""
    costs: dict[str, float] = {}
    for plugin in item.config.pluginmanager.get_plugins():
        if getattr(plugin, "__file__", "").endswith("conftest.py"):
            costs.update(getattr(plugin, "LAB_FIXTURE_COSTS", {}))
    costs.update(getattr(getattr(item, "module", None), "LAB_FIXTURE_COSTS", {}))
    return costs


def register(config: pytest.Config) -> None:
    """This module's hooks for the whole session (once)."""
    module = sys.modules[__name__]
    if not config.pluginmanager.is_registered(module):
        config.pluginmanager.register(module, "baseline-lab-deadline")


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    deadline = os.environ.get(DEADLINE_ENV, "")
    if not deadline or item.get_closest_marker("lab") is None or item.get_closest_marker("lab_teardown"):
        return
    needed = needs(call_cost(item), fixture_costs(item), list(getattr(item, "fixturenames", [])), set_up(item))
    why = refusal(time.monotonic() - SESSION_START, float(deadline), needed)
    if why:
        pytest.fail(why, pytrace=False)
