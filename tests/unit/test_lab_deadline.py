"""The lab session's deadline (devtools/lab/deadline.py): a lab test starts only when its call and the expensive
fixtures it still has to set up fit before BASELINE_LAB_DEADLINE; a fixture already set up costs nothing again."""

from __future__ import annotations

import re
import subprocess
import sys

from devtools.lab import deadline

INI = """\
[pytest]
markers =
    lab: lab
    lab_teardown: teardown
    lab_cost(seconds): cost
"""

# as the lab's conftest does: the hooks registered for the whole session, a session fixture with its cost
CONFTEST = """\
import pytest

from devtools.lab import deadline

LAB_FIXTURE_COSTS = {"lab": 300}


def pytest_configure(config):
    deadline.register(config)


@pytest.fixture(scope="session")
def lab():
    return 1
"""

TESTS = """\
import pytest

pytestmark = pytest.mark.lab
LAB_FIXTURE_COSTS = {"slow_setup": 500}


@pytest.fixture(scope="module")
def slow_setup():
    return 1


def test_first_sets_it_up(lab, slow_setup):
    pass


def test_second_finds_it_ready(lab, slow_setup):
    pass


@pytest.mark.lab_cost(700)
def test_long_call(lab):
    pass


@pytest.mark.lab_teardown
@pytest.mark.lab_cost(9000)
def test_teardown_always_runs():
    pass
"""


def run(tmp_path, limit: str) -> subprocess.CompletedProcess:
    (tmp_path / "pytest.ini").write_text(INI)
    (tmp_path / "lab").mkdir()
    (tmp_path / "lab" / "conftest.py").write_text(CONFTEST)
    (tmp_path / "lab" / "test_sample.py").write_text(TESTS)
    env = {"PATH": "/usr/bin:/bin", "BASELINE_LAB_DEADLINE": limit, "PYTHONPATH": ":".join(sys.path)}
    return subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-rfE", "lab"], cwd=tmp_path,
                          env=env, capture_output=True, text=True, check=False)


def refusals(output: str) -> dict[str, str]:
    """test name -> the message of its refusal, from pytest's error sections."""
    return dict(re.findall(r"^_+ ERROR at setup of (\w+) _+\n(not run: .*)$", output, re.M))


def test_a_test_whose_fixtures_and_call_do_not_fit_fails_at_once_naming_the_deadline_and_the_costs(tmp_path):
    proc = run(tmp_path, "400")
    assert proc.returncode == 1, proc.stdout
    head = "not run: the lab session's deadline (BASELINE_LAB_DEADLINE=400 s) leaves 400 s after 0 s, and this test"
    assert refusals(proc.stdout) == {
        "test_first_sets_it_up": f"{head} may take 860 s (lab 300 s, slow_setup 500 s, the test 60 s)",
        # the refused test set nothing up: the next one needs the same
        "test_second_finds_it_ready": f"{head} may take 860 s (lab 300 s, slow_setup 500 s, the test 60 s)",
        "test_long_call": f"{head} may take 1000 s (lab 300 s, the test 700 s)",
    }, proc.stdout
    assert "1 passed, 3 errors" in proc.stdout  # the teardown test runs whatever its cost


def test_fixtures_already_set_up_cost_nothing_again_the_session_s_too(tmp_path):
    # the first test (860 s) fits in 900 s and sets up the session's and the module's fixture; after it, the long
    # call needs its 700 s alone
    proc = run(tmp_path, "900")
    assert refusals(proc.stdout) == {}, proc.stdout
    assert "4 passed" in proc.stdout, proc.stdout


def test_without_a_deadline_every_test_runs(tmp_path):
    proc = run(tmp_path, "")
    assert proc.returncode == 0 and "4 passed" in proc.stdout, proc.stdout


def test_the_refusal_counts_the_time_spent():
    needed = deadline.needs(60, {"a": 100, "b": 50}, ["a", "b", "c"], ready={"b"})
    assert needed == {"a": 100.0, "the test": 60.0}
    assert deadline.refusal(spent=4000, deadline=5000, needed=needed) is None
    why = deadline.refusal(spent=4900, deadline=5000, needed=needed)
    assert why is not None and "leaves 100 s after 4900 s, and this test may take 160 s (a 100 s, the test 60 s)" in why
