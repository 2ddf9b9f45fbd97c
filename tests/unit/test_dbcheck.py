"""Helpers of the database suites (compliance_tests/databases/dbcheck.py) and the stdin runner both suites use
(baseline/hoststdin.py): a drill of zero tables proves nothing, an empty departed list is refused,
TLS versions and MariaDB refusals are told apart, stdin data never reaches the command line."""

from __future__ import annotations

import subprocess
import sys

import pytest
import testinfra

from baseline import REPO_ROOT

for suite_dir in ("linux", "databases"):
    path = str(REPO_ROOT / "compliance_tests" / suite_dir)
    if path not in sys.path:
        sys.path.insert(0, path)

import dbcheck  # noqa: E402

from baseline import hoststdin  # noqa: E402

GOOD_DRILL = {"passed": True, "differences": [], "rows_lost": 0, "tables": 4, "rows_source": 120, "rows_restored": 120}


def test_restore_drill_of_zero_tables_is_not_proof():
    assert dbcheck.drill_problems(GOOD_DRILL, 90, 3.0) == []
    empty = {**GOOD_DRILL, "tables": 0, "rows_source": 0, "rows_restored": 0}  # compare() of two empty fingerprints
    problems = dbcheck.drill_problems(empty, 90, 3.0)
    assert problems == ["tables compared: 0 (a comparison of no table proves nothing)"]
    # tables without rows (a new platform's empty database) are compared all the same: schema and counts match
    assert dbcheck.drill_problems({**GOOD_DRILL, "rows_source": 0, "rows_restored": 0}, 90, 3.0) == []
    assert dbcheck.drill_problems({k: v for k, v in GOOD_DRILL.items() if k != "rows_source"}, 90, 3.0)


def test_restore_drill_other_problems():
    assert dbcheck.drill_problems(None, 90, None) == ["no restore drill recorded"]
    assert dbcheck.drill_problems({**GOOD_DRILL, "passed": False, "differences": ["table x: missing"]}, 90, 1.0)
    assert dbcheck.drill_problems({**GOOD_DRILL, "rows_lost": 3}, 90, 1.0)
    assert dbcheck.drill_problems(GOOD_DRILL, 90, 91.0) == ["age 91.0 days, limit 90"]
    assert dbcheck.drill_problems({k: v for k, v in GOOD_DRILL.items() if k != "tables"}, 90, 1.0)


def test_empty_departed_list_is_refused_for_sql():
    staff = {"staff": [{"username": "zhangwei", "status": "active"}]}
    assert dbcheck.departed_names(staff) == []
    with pytest.raises(ValueError):
        dbcheck.departed_staff(staff)
    staff["staff"].append({"username": "sunhao", "status": "departed"})
    assert dbcheck.departed_staff(staff) == "sunhao"


def test_tls_version():
    assert dbcheck.tls_version("t|TLSv1.3") == "TLSv1.3"
    assert dbcheck.tls_version("Ssl_version\tTLSv1.2") == "TLSv1.2"
    assert dbcheck.tls_version("t|TLSv1.1") not in dbcheck.TLS_VERSIONS  # once accepted by startswith("t|TLSv1.")
    assert dbcheck.tls_version("f|") == ""


def test_mariadb_refusals_are_told_apart():
    assert dbcheck.mariadb_plain_refusal("ERROR 3159 (08004): Connections using insecure transport are prohibited "
                                         "while --require_secure_transport=ON.") == "secure transport required"
    assert dbcheck.mariadb_plain_refusal("ERROR 1045 (28000): Access denied for user 'q'@'10.0.0.1' "
                                         "(using password: YES)") == "access denied"
    assert dbcheck.mariadb_plain_refusal("ERROR 2002 (HY000): Can't connect to server on '10.0.0.1' (115)") == "other"


def test_remote_clients_read_the_password_from_stdin():
    command = dbcheck._with_password_from_stdin("PGPASSWORD", "psql -XAt 'host=db1' -c 'SELECT 1'")
    assert "PGPASSWORD=" not in command and "read -r PGPASSWORD" in command
    awkward = "a'b\"c$d\\e f!#%"
    probe = dbcheck._with_password_from_stdin("PGPASSWORD", 'sh -c \'printf "%s" "$PGPASSWORD"\'')
    out = subprocess.run(probe, shell=True, input=awkward + "\n", capture_output=True, text=True, check=True)  # noqa: S602 - the shell line under test
    assert out.stdout == awkward


def test_run_with_stdin_locally_keeps_data_off_the_command_line():
    host = testinfra.get_host("local://")
    result = hoststdin.run_with_stdin(host, "cat", "Secret#Value-1\n")
    assert result.rc == 0 and result.stdout == "Secret#Value-1\n" and result.command == "cat"


def test_run_with_stdin_over_ssh_sends_data_on_stdin_only(monkeypatch):
    host = testinfra.get_host("ssh://db1", ssh_config="/dev/null")
    seen = {}

    def fake_run(command, shell, input, **kwargs):  # noqa: A002 - subprocess.run's own keyword
        seen["command"], seen["input"] = command, input
        return subprocess.CompletedProcess(command, 0, b"ok", b"")

    monkeypatch.setattr(hoststdin.subprocess, "run", fake_run)
    result = hoststdin.run_with_stdin(host, "sudo -n /usr/bin/python3 -", b"Secret#Value-2")
    assert seen["command"].startswith("ssh ") and "db1" in seen["command"]
    assert "Secret#Value-2" not in seen["command"] and seen["input"] == b"Secret#Value-2"
    assert result.stdout == "ok"


def test_run_with_stdin_refuses_backends_it_cannot_serve():
    class Backend:
        hostname = "x"

        @staticmethod
        def get_connection_type():
            return "paramiko"

    class Host:
        backend = Backend()

    with pytest.raises(hoststdin.StdinUnsupported):
        hoststdin.run_with_stdin(Host(), "cat", "data")
