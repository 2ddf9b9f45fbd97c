"""roles/postgresql's refusal of a cluster of another major version (tasks/preflight.yml), on localhost with a local
connection: the role's own assert task, after a fact that stands for the clusters found under /etc/postgresql. A host
without PostgreSQL or with a cluster of postgresql_version passes (the task's message is rendered then too, so it must
not fail on an empty list); a host with a cluster of another version is refused with the cluster and the ways out."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from baseline import REPO_ROOT

ANSIBLE_PLAYBOOK = str(Path(sys.executable).parent / "ansible-playbook")
PREFLIGHT = REPO_ROOT / "roles" / "postgresql" / "tasks" / "preflight.yml"


def refusal_task() -> dict:
    tasks = yaml.safe_load(PREFLIGHT.read_text(encoding="utf-8"))
    found = [t for t in tasks if "ansible.builtin.assert" in t and "postgresql_clusters_found" in json.dumps(t)]
    assert len(found) == 1, "roles/postgresql/tasks/preflight.yml: one assert reads postgresql_clusters_found"
    return found[0]


def run(tmp_path: Path, clusters: list[str], version: int):
    play = [{"name": "The refusal of roles/postgresql's pre-flight", "hosts": "localhost", "gather_facts": False,
             "become": False,
             "tasks": [{"name": "Clusters found", "ansible.builtin.set_fact": {
                 "postgresql_clusters_found": {"stdout_lines": clusters}}}, refusal_task()]}]
    (tmp_path / "play.yml").write_text(yaml.safe_dump(play, allow_unicode=True), encoding="utf-8")
    inventory = {"all": {"hosts": {"localhost": {"ansible_connection": "local",
                                                 "ansible_python_interpreter": sys.executable}}}}
    (tmp_path / "hosts.yml").write_text(json.dumps(inventory), encoding="utf-8")
    env = {**os.environ, "ANSIBLE_CONFIG": str(REPO_ROOT / "ansible.cfg"), "ANSIBLE_NOCOLOR": "1",
           "BASELINE_CHANGE_REASON": "unit test of a pre-flight check",
           "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    return subprocess.run([ANSIBLE_PLAYBOOK, "-i", str(tmp_path / "hosts.yml"), str(tmp_path / "play.yml"),
                           "-e", json.dumps({"postgresql_version": version})],
                          cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=300, check=False)


@pytest.mark.parametrize(("clusters", "version"), [([], 15), (["15"], 15), (["17"], 17), (["lost+found"], 17)])
def test_no_cluster_or_one_of_the_version_passes(tmp_path, clusters, version):
    proc = run(tmp_path, clusters, version)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]


@pytest.mark.parametrize(("clusters", "version", "other"), [(["15"], 17, "15"), (["15", "17"], 17, "15"),
                                                             (["17"], 15, "17")])
def test_a_cluster_of_another_version_is_refused_naming_it(tmp_path, clusters, version, other):
    proc = run(tmp_path, clusters, version)
    assert proc.returncode != 0
    out = proc.stdout + proc.stderr
    assert f"holds a PostgreSQL {other} cluster (/etc/postgresql/{other}/main)" in out, out[-3000:]
    assert f"pg_upgradecluster {other} main" in out and f"postgresql_version is {version}" in out, out[-3000:]
    assert "PostgreSQL was left as it is" in out
