"""One verification run, one run id: the compliance plugin (pytest) and the device audit (scripts/netdev) write
records under the same id, given with --run-id to both or once through $BASELINE_RUN_ID."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from baseline.netdev.cli import main
from baseline.results import read_results

SUITE = '''
import pytest


@pytest.mark.control("IA-01")
@pytest.mark.asset("app1")
def test_server_check():
    pass


@pytest.mark.control("DB-01")
@pytest.mark.asset("db1")
@pytest.mark.asset_kind("postgresql")
def test_database_check():
    pass
'''


def _suite(tmp_path: Path, results: Path, env: dict[str, str], *args: str) -> None:
    (tmp_path / "suite").mkdir(exist_ok=True)
    (tmp_path / "suite" / "test_servers.py").write_text(SUITE, encoding="utf-8")
    proc = subprocess.run([sys.executable, "-m", "pytest", "-p", "baseline.compliance_plugin", "-p", "no:cacheprovider",
                           "-q", "--results-file", str(results), *args, "test_servers.py"],
                          cwd=tmp_path / "suite", env=env, capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]


@pytest.mark.parametrize("how", ["option", "environment"])
def test_servers_databases_and_devices_carry_the_same_run_id(lab, tmp_path, monkeypatch, how):
    run_id = f"assessment-{how}-{os.urandom(3).hex()}"
    results = tmp_path / "results.jsonl"
    env = {k: v for k, v in os.environ.items() if k != "BASELINE_RUN_ID"}
    monkeypatch.delenv("BASELINE_RUN_ID", raising=False)
    if how == "option":
        _suite(tmp_path, results, env, "--run-id", run_id)
        main(["-q", "-i", str(lab.inventory), "-l", "sw-acc-02", "-l", "rt-border-02", "audit", "--results", str(results),
              "--run-id", run_id])
    else:
        _suite(tmp_path, results, {**env, "BASELINE_RUN_ID": run_id})
        monkeypatch.setenv("BASELINE_RUN_ID", run_id)
        main(["-q", "-i", str(lab.inventory), "-l", "sw-acc-02", "-l", "rt-border-02", "audit", "--results", str(results)])
    records = list(read_results([results]))
    assert {r.asset_kind for r in records} == {"linux", "postgresql", "network"}
    assert {r.asset for r in records} == {"app1", "db1", "sw-acc-02", "rt-border-02"}
    assert {r.run_id for r in records} == {run_id}


def test_without_an_id_each_producer_makes_its_own(lab, tmp_path, monkeypatch):
    monkeypatch.delenv("BASELINE_RUN_ID", raising=False)
    results = tmp_path / "results.jsonl"
    _suite(tmp_path, results, {k: v for k, v in os.environ.items() if k != "BASELINE_RUN_ID"})
    main(["-q", "-i", str(lab.inventory), "-l", "sw-acc-02", "audit", "--results", str(results)])
    ids = {r.asset_kind: r.run_id for r in read_results([results])}
    assert len(set(ids.values())) == 2 and all(ids.values())
