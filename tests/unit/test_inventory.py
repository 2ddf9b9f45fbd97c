"""baseline.inventory reads variables with Ansible's merge rules and decrypts vault values."""

import secrets
import shutil
import subprocess
import sys

import yaml

from baseline import REPO_ROOT, inventory
from devtools.lab.secrets import vault_yaml


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


def test_a_failing_compliance_test_never_prints_the_host_variables(tmp_path):
    """pytest prints a failing test's arguments; the `policy` fixture holds decrypted secrets."""
    value = "Vault!" + secrets.token_hex(6)
    (tmp_path / "test_leak.py").write_text(
        "import pytest\n"
        "from baseline.compliance import HostVars\n\n"
        "@pytest.fixture()\n"
        f"def policy():\n    return HostVars('app1', {{'password_min_length': 10, 'db_password': {value!r}}})\n\n"
        "def test_fails(policy):\n    assert policy['password_min_length'] == 11\n\n"
        "def test_fails_on_the_mapping(policy):\n    assert 'absent' in policy\n")
    proc = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "--tb=long", "-vv", str(tmp_path)],
                          capture_output=True, text=True, check=False, cwd=tmp_path)
    assert proc.returncode == 1 and "2 failed" in proc.stdout, proc.stdout[-2000:]
    assert "inventory variables of app1: 2 names, values not shown" in proc.stdout
    assert value not in proc.stdout + proc.stderr


def test_suites_find_the_lab_staff_keys_without_importing_the_lab(monkeypatch, tmp_path):
    from baseline import compliance
    from devtools.lab import secrets as lab_secrets

    monkeypatch.delenv("BASELINE_STAFF_KEYS", raising=False)
    assert compliance.staff_key_path("zhangsan") == lab_secrets.staff_key_path("zhangsan")
    monkeypatch.setenv("BASELINE_STAFF_KEYS", str(tmp_path))
    assert compliance.staff_key_path("zhangsan") == tmp_path / "zhangsan" / "id_ed25519"


def test_a_pattern_naming_groups_the_inventory_lacks_matches_as_in_ansible_without_its_warning(tmp_path, capfd):
    inv = tmp_path / "inv"
    inv.mkdir()
    (inv / "hosts.yml").write_text(yaml.safe_dump({"all": {"children": {
        "linux_servers": {"hosts": {"app2": None, "db3": None}}, "postgresql_servers": {"hosts": {"db3": None}}}}}))
    loaded = inventory.load(str(inv))
    assert loaded.hosts("linux_servers:!kernel_hosts") == ["app2", "db3"]
    assert loaded.hosts("linux_servers:!postgresql_servers:!kernel_hosts") == ["app2"]
    assert loaded.hosts("log_servers") == []
    assert loaded.hosts("log_servers:backup_servers") == []
    assert loaded.hosts("log_servers:!postgresql_servers") == []
    assert loaded.hosts("linux_servers:&drill_hosts") == []
    assert loaded.hosts("linux_servers:&postgresql_servers") == ["db3"]
    assert loaded.hosts("!kernel_hosts") == ["app2", "db3"]
    assert loaded.hosts("!db3") == ["app2"]
    assert loaded.hosts("backup_servers,db3") == ["db3"]
    assert loaded.hosts("app*") == ["app2"]
    assert "Could not match supplied host pattern" not in "".join(capfd.readouterr())


def test_patterns_keep_their_meaning_once_unknown_names_are_left_out():
    names = {"a", "b", "h1"}
    assert inventory.pattern_without_unknown_names("a:!x:&b", names) == "a:&b"
    assert inventory.pattern_without_unknown_names("x:&a", names) is None
    assert inventory.pattern_without_unknown_names("a:&x", names) is None
    assert inventory.pattern_without_unknown_names("!x", names) == "all"
    assert inventory.pattern_without_unknown_names("web[1:3]", names) == "web[1:3]"
    assert inventory.pattern_without_unknown_names("~^a$", names) == "~^a$"
