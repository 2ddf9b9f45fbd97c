"""A failing check's reason in the results is what its assertion said, in full: never cut mid-value by pytest's
"..." shortening, never reduced to one line; AIDE failures name the paths, not the last line of the report."""

from __future__ import annotations

import json
import subprocess
import sys

from baseline import REPO_ROOT
from baseline.compliance_plugin import REASON_LIMIT, failure_reason

sys.path.insert(0, str(REPO_ROOT / "compliance_tests" / "linux"))
import linuxcheck as lc  # noqa: E402

CHECKS = '''
import pytest

SETTINGS = {"minlen": "8", "dcredit": "0", "enforce_for_root": "not set", "padding": "p" * 600, "last": "END-OF-VALUE"}


@pytest.mark.control("IA-02")
def test_settings():
    problems = [f"{k}: observed {v!r}" for k, v in SETTINGS.items()]
    assert problems == [], problems


@pytest.mark.control("IA-02")
def test_lines():
    assert False, "first line\\nsecond line\\nlast line"
'''


def test_the_record_keeps_the_whole_assertion_message(tmp_path):
    (tmp_path / "test_checks.py").write_text(CHECKS, encoding="utf-8")
    results = tmp_path / "results.jsonl"
    subprocess.run([sys.executable, "-m", "pytest", str(tmp_path / "test_checks.py"), "-c", str(REPO_ROOT / "pyproject.toml"),
                    "--rootdir", str(tmp_path), "-p", "baseline.compliance_plugin", "-p", "no:cacheprovider",
                    "--results-file", str(results), "-q"], capture_output=True, text=True, check=False, cwd=tmp_path)
    reasons = {json.loads(line)["check"].rsplit("::", 1)[1]: json.loads(line)["reason"]
               for line in results.read_text(encoding="utf-8").splitlines()}
    assert "END-OF-VALUE" in reasons["test_settings"] and "..." not in reasons["test_settings"], reasons["test_settings"]
    assert reasons["test_lines"] == "AssertionError: first line | second line | last line"


def test_pytest_s_re_evaluation_is_left_out_and_only_very_long_messages_are_cut():
    assert failure_reason("AssertionError: minlen 8, expected >= 10\nassert 8 >= 10\n +  where 8 = f()") == \
        "AssertionError: minlen 8, expected >= 10"
    assert failure_reason("assert 3 == 4") == "assert 3 == 4"
    long = failure_reason("x" * (REASON_LIMIT + 25))
    assert long.endswith("(25 more characters in the test output)")


AIDE_REPORT = """Start timestamp: 2026-12-01 10:00:00 +0000 (AIDE 0.18.3)
AIDE found differences between database and filesystem!!

Summary:
  Total number of entries:\t41234
  Added entries:\t\t1
  Removed entries:\t\t1
  Changed entries:\t\t2

---------------------------------------------------
Added entries:
---------------------------------------------------

f++++++++++++++++: /etc/sudoers.d/90-extra

---------------------------------------------------
Removed entries:
---------------------------------------------------

f----------------: /usr/local/bin/old tool

---------------------------------------------------
Changed entries:
---------------------------------------------------

f   ...    .C... : /usr/bin/tac
d   ...    .C... : /etc/ssh

---------------------------------------------------
Detailed information about changes:
---------------------------------------------------

File: /usr/bin/tac
  SHA512    : btb1+ijKpNI=                     | kFXN7Xf/Auk=
"""


def test_aide_failures_name_every_path_by_kind():
    assert lc.aide_entries(AIDE_REPORT) == {"added": ["/etc/sudoers.d/90-extra"], "removed": ["/usr/local/bin/old tool"],
                                            "changed": ["/usr/bin/tac", "/etc/ssh"]}
    summary = lc.aide_summary(4, AIDE_REPORT)
    assert summary == ("aide --check exit 4; added (1): /etc/sudoers.d/90-extra; removed (1): /usr/local/bin/old tool; "
                       "changed (2): /usr/bin/tac, /etc/ssh")
    assert "kFXN7Xf" not in summary
    assert lc.aide_summary(17, "Couldn't open file /var/lib/aide/x.db\n").startswith("aide --check exit 17; no path listed")
