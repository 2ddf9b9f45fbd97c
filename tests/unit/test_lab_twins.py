"""Twins of the lab for the pyinfra engine (`scripts/lab up --twins`): app2, db3 and db4 have the classes of app1,
db1 and db2, their own Ansible-format inventory (inventory/lab-twins) that Ansible's default lab inventory does not
include, and pyinfra's inventory takes each host's values from the right one. No lab is started."""

import argparse

import pytest
import yaml
from preflight_inventory import roster_keys

from baseline import REPO_ROOT
from devtools.lab import cli as lab_cli
from devtools.lab import config as lab_config
from devtools.lab import outputs as lab_outputs


def test_each_twin_has_the_groups_of_its_original_except_the_backup_store_s_clients():
    for twin in lab_config.TWIN_HOSTS:
        original = lab_config.host_by_name(lab_config.TWIN_OF[twin.name])
        assert set(twin.groups) == set(original.groups) - {"backup_clients"}, twin.name
    addresses = [h.address for h in lab_config.KNOWN_HOSTS]
    assert len(addresses) == len(set(addresses))


def test_twins_boot_only_when_asked():
    plain = lab_cli.selected_hosts(argparse.Namespace(hosts=None, vm=False, scale=0, twins=False))
    assert not set(plain) & set(lab_config.TWIN_HOSTS)
    asked = lab_cli.selected_hosts(argparse.Namespace(hosts=None, vm=False, scale=0, twins=True))
    assert [h.name for h in asked][-3:] == ["app2", "db3", "db4"]


@pytest.fixture
def lab_dirs(tmp_path, monkeypatch):
    monkeypatch.setattr(lab_config, "INVENTORY_DIR", tmp_path / "lab")
    monkeypatch.setattr(lab_config, "SECRETS_DIR", tmp_path / "secrets")
    monkeypatch.setattr(lab_config, "TWIN_INVENTORY_DIR", tmp_path / "lab-twins")
    (tmp_path / "lab-twins").mkdir()
    return tmp_path


def test_twins_get_their_own_inventory_and_pyinfra_reads_each_host_from_its_own(lab_dirs):
    chosen = list(lab_config.CONTAINER_HOSTS) + list(lab_config.TWIN_HOSTS)
    keys = {h.name: ["ssh-ed25519", f"KEY{h.octet}"] for h in chosen}
    lab_outputs.write_all(chosen, keys, "", {"staff_ssh_keys": roster_keys()})

    main = yaml.safe_load((lab_dirs / "lab" / "hosts.yml").read_text())
    twins = yaml.safe_load((lab_dirs / "lab-twins" / "hosts.yml").read_text())
    main_hosts = {h for g in main["all"]["children"]["linux_servers"]["children"].values() for h in g["hosts"]}
    twin_groups = twins["all"]["children"]["linux_servers"]["children"]
    assert main_hosts == {h.name for h in lab_config.CONTAINER_HOSTS}
    assert {g: list(v["hosts"]) for g, v in twin_groups.items()} == {
        "app_servers": ["app2"], "postgresql_servers": ["db3"], "mariadb_servers": ["db4"]}
    assert twins["all"]["vars"] == main["all"]["vars"], "the same platform values and secrets"
    assert (lab_dirs / "lab" / "testinfra_hosts").read_text().split() == [
        f"ssh://{h.name}" for h in lab_config.CONTAINER_HOSTS]
    assert (lab_dirs / "lab-twins" / "testinfra_hosts").read_text().split() == ["ssh://app2", "ssh://db3",
                                                                                "ssh://db4"]
    assert "Host db4\n  HostName 10.231.0.19\n" in (lab_dirs / "lab" / "ssh_config").read_text()

    namespace: dict = {}
    exec((lab_dirs / "lab" / "pyinfra_inventory.py").read_text(), namespace)  # noqa: S102 - the generated file
    hosts = dict(namespace["linux_servers"])
    assert hosts["app2"]["baseline_inventory"] == str(lab_dirs / "lab-twins")
    assert hosts["app1"]["baseline_inventory"] == str(lab_dirs / "lab")
    assert [name for name, _ in namespace["postgresql_servers"]] == ["db1", "db3"]
    assert namespace["controller"] == [("@local", {"baseline_inventory": str(lab_dirs / "lab")})], \
        "the controller drives the devices (playbooks/pyinfra/network.py)"

    lab_outputs.write_all(list(lab_config.CONTAINER_HOSTS), keys, "", {"staff_ssh_keys": roster_keys()})
    assert not (lab_dirs / "lab-twins" / "hosts.yml").exists(), "twins stopped: their inventory goes"


def test_the_twins_inventory_shares_the_lab_s_group_variables():
    link = REPO_ROOT / "inventory" / "lab-twins" / "group_vars"
    assert link.is_symlink() and link.resolve() == (REPO_ROOT / "inventory" / "group_vars").resolve()
