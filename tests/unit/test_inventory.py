"""baseline.inventory reads variables with Ansible's merge rules and decrypts vault values."""

import secrets
import shutil

import yaml

from baseline import REPO_ROOT, inventory
from baseline.lab.secrets import vault_yaml


def test_vault_values_are_decrypted_and_host_vars_win(tmp_path, monkeypatch):
    password = secrets.token_urlsafe(16)  # a throw-away vault password for this test only
    value = "S3cret!" + secrets.token_hex(4)
    monkeypatch.setenv("BASELINE_VAULT_PASSWORD", password)
    inv = tmp_path / "inv"
    shutil.copytree(REPO_ROOT / "inventory/group_vars", inv / "group_vars")
    hosts = yaml.safe_dump({"all": {"hosts": {"h1": {"password_min_length": 12}, "h2": None}, "vars": {}}})
    hosts = hosts.replace("  vars: {}\n", "  vars:\n" + vault_yaml({"db_password": value}, password))
    (inv / "hosts.yml").write_text(hosts)
    loaded = inventory.load(str(inv))
    assert sorted(loaded.hosts()) == ["h1", "h2"]
    assert loaded.vars("h1")["password_min_length"] == 12
    assert loaded.vars("h2")["password_min_length"] == 10
    assert type(loaded.vars("h2")["password_min_length"]) is int
    assert loaded.vars("h2")["db_password"] == value


def test_inventories_with_different_vault_passwords_in_one_process(tmp_path, monkeypatch):
    """The vault secrets context is process-wide; a second inventory with another password still decrypts."""
    for number in (1, 2):
        password = secrets.token_urlsafe(16)
        value = f"Value!{number}{secrets.token_hex(4)}"
        monkeypatch.setenv("BASELINE_VAULT_PASSWORD", password)
        inv = tmp_path / f"inv{number}"
        inv.mkdir()
        hosts = yaml.safe_dump({"all": {"hosts": {"h": None}, "vars": {}}})
        (inv / "hosts.yml").write_text(hosts.replace("  vars: {}\n", "  vars:\n" + vault_yaml({"s": value}, password)))
        assert inventory.load(str(inv)).vars("h")["s"] == value
