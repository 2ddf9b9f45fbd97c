"""The database servers' certificate parameters (roles/pki host_cert: name, key owner, group and mode) and MariaDB's
directory of server-side file operations live once, in the roles' vars: the Ansible tasks pass them by name and the
pyinfra deploys pass what the same file says. A value written again by hand in either engine fails here."""

from __future__ import annotations

import importlib.util
from typing import Any

import pytest
import yaml

from baseline import REPO_ROOT
from baseline import pyinfra_deploy as real_deploy

ROLES = REPO_ROOT / "roles"
PARAMETERS = {"pki_cert_name": "tls_cert_name", "pki_key_owner": "tls_key_owner", "pki_key_group": "tls_key_group",
              "pki_key_mode": "tls_key_mode"}


def role_vars(role: str) -> dict[str, Any]:
    return yaml.safe_load((ROLES / role / "vars" / "main.yml").read_text(encoding="utf-8"))


def load_deploy(role: str, monkeypatch) -> Any:
    """The deploy file as a module, its module-level run gated off (no host is targeted)."""
    monkeypatch.setattr(real_deploy, "check_preflight", lambda: None)
    monkeypatch.setattr(real_deploy, "targets", lambda pattern: False)
    monkeypatch.setattr(real_deploy, "finish", lambda: None)
    spec = importlib.util.spec_from_file_location(f"baseline_tls_params_{role}",
                                                  REPO_ROOT / "playbooks" / "pyinfra" / f"{role}.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("role", ["postgresql", "mariadb"])
def test_the_tls_task_passes_the_role_vars_by_name(role):
    (task,) = yaml.safe_load((ROLES / role / "tasks" / "tls.yml").read_text(encoding="utf-8"))
    passed = task["vars"]
    assert set(passed) == set(PARAMETERS)
    for parameter, suffix in PARAMETERS.items():
        assert passed[parameter] == f"{{{{ {role}_{suffix} }}}}", f"{role} tasks/tls.yml: {parameter} written by hand"
    values = role_vars(role)
    assert values[f"{role}_tls_key_mode"] == "0640" and values[f"{role}_tls_key_owner"] == "root"


@pytest.mark.parametrize("role", ["postgresql", "mariadb"])
def test_the_pyinfra_deploy_passes_what_the_role_vars_say(role, monkeypatch):
    module = load_deploy(role, monkeypatch)
    seen: list[tuple[str, dict[str, Any]]] = []
    monkeypatch.setattr(module.deploy, "include", lambda part, **data: seen.append((part, data)))
    values = role_vars(role)
    # a changed value in the role's vars must reach the deploy: no copy of its own
    values = {**values, f"{role}_tls_key_mode": "0600", f"{role}_tls_key_group": "ssl-cert"}
    module.tls(values)
    assert seen == [("pki", {parameter: values[f"{role}_{suffix}"] for parameter, suffix in PARAMETERS.items()})]


def test_mariadb_files_directory_is_one_value_for_task_template_and_deploy():
    values = role_vars("mariadb")
    (task,) = [t for t in yaml.safe_load((ROLES / "mariadb" / "tasks" / "config.yml").read_text(encoding="utf-8"))
               if t["name"].startswith("DB-04 | Directory")]
    module = task["ansible.builtin.file"]
    assert module["path"] == "{{ mariadb_files_dir }}" and module["mode"] == "{{ mariadb_files_dir_mode }}"
    template = (ROLES / "mariadb" / "templates" / "60-baseline.cnf.j2").read_text(encoding="utf-8")
    assert "secure_file_priv = {{ mariadb_files_dir }}" in template
    source = (REPO_ROOT / "playbooks" / "pyinfra" / "mariadb.py").read_text(encoding="utf-8")
    assert values["mariadb_files_dir"] not in source, "the deploy writes the directory again by hand"
    assert 'path=v["mariadb_files_dir"]' in source and 'mode=v["mariadb_files_dir_mode"]' in source
