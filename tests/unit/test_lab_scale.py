"""Scale hosts of the lab (`scripts/lab up --scale N`, devtools/lab): names, addresses, groups, and what the
generated inventory, SSH config, known_hosts and testinfra hosts make of them. No lab is started."""

import argparse
import ipaddress
import shutil

import pytest
import yaml
from preflight_inventory import roster_keys

from baseline import REPO_ROOT, compliance, platform
from baseline import inventory as inventory_mod
from devtools.lab import cli as lab_cli
from devtools.lab import config as lab_config
from devtools.lab import hosts as lab_hosts
from devtools.lab import outputs as lab_outputs


def test_twenty_four_scale_hosts_named_and_addressed_in_order():
    scale = lab_config.scale_hosts(24)
    assert [h.name for h in scale] == [f"scale{i:02d}" for i in range(1, 25)]
    assert [h.address for h in scale] == [f"10.231.0.{i}" for i in range(101, 125)]
    assert {h.kind for h in scale} == {"container"}


def test_scale_hosts_are_app_class_without_the_backup_store():
    app1 = lab_config.host_by_name("app1")
    assert "backup_clients" in app1.groups
    for host in lab_config.scale_hosts(lab_config.SCALE_MAX):
        assert host.groups == ("app_servers",)
        assert set(host.groups) == set(app1.groups) - {"backup_clients"}


def test_scale_hosts_clash_with_no_standard_host_and_stay_in_the_lab_network():
    every = lab_config.KNOWN_HOSTS
    assert len({h.name for h in every}) == len(every)
    assert len({h.address for h in every}) == len(every)
    network = ipaddress.ip_network(f"{lab_config.SUBNET_PREFIX}.0/{lab_config.PREFIX_LEN}")
    for host in lab_config.scale_hosts(lab_config.SCALE_MAX):
        address = ipaddress.ip_address(host.address)
        assert address in network
        assert address not in (network.network_address, network.broadcast_address)
        assert host.address != lab_config.CONTROLLER_ADDRESS


def test_no_scale_host_by_default():
    assert lab_config.scale_hosts(0) == ()
    args = argparse.Namespace(hosts=None, vm=False, scale=0)
    assert lab_cli.selected_hosts(args) == list(lab_config.CONTAINER_HOSTS)
    assert not any(h.name.startswith("scale") for h in lab_config.ALL_HOSTS)


@pytest.mark.parametrize("count", [-1, 25, 2.0, True, "6"])
def test_scale_count_out_of_range_or_not_a_whole_number_is_refused(count):
    with pytest.raises(ValueError, match="from 0 to 24"):
        lab_config.scale_hosts(count)


def test_host_by_name_knows_every_scale_host_and_no_other():
    assert lab_config.host_by_name("scale07").address == "10.231.0.107"
    assert lab_config.host_by_name("scale24").octet == 124
    with pytest.raises(KeyError, match="scale25"):
        lab_config.host_by_name("scale25")


def test_selected_hosts_adds_the_scale_hosts_to_the_standard_ones_or_to_a_subset():
    chosen = lab_cli.selected_hosts(argparse.Namespace(hosts=None, vm=False, scale=6))
    assert [h.name for h in chosen] == [h.name for h in lab_config.CONTAINER_HOSTS] + [
        f"scale0{i}" for i in range(1, 7)]
    subset = lab_cli.selected_hosts(argparse.Namespace(hosts="log1,scale02", vm=False, scale=3))
    assert [h.name for h in subset] == ["log1", "scale02", "scale01", "scale03"]


@pytest.mark.parametrize("value", ["25", "-1", "six", "1.5"])
def test_lab_up_refuses_a_bad_scale_value_naming_the_option(value, capsys):
    with pytest.raises(SystemExit) as stop:
        lab_cli.main(["up", "--scale", value])
    assert stop.value.code == 2
    assert "--scale" in capsys.readouterr().err


def test_lab_up_parses_a_scale_value():
    assert lab_cli.scale_count("24") == 24
    assert lab_cli.scale_count("0") == 0


def test_etc_hosts_names_every_scale_host_for_the_log_server():
    """log1 files a client's records under the name the client's address resolves to (%FROMHOST%): its hosts file
    has to name the scale hosts, whichever hosts run."""
    lines = lab_hosts._etc_hosts().splitlines()
    assert "10.231.0.105\tscale05" in lines
    assert "10.231.0.124\tscale24" in lines
    assert "10.231.0.14\tlog1" in lines
    assert len(lines) == 2 + len(lab_config.KNOWN_HOSTS) + 1


@pytest.fixture
def lab_dirs(tmp_path, monkeypatch):
    monkeypatch.setattr(lab_config, "INVENTORY_DIR", tmp_path / "inventory")
    monkeypatch.setattr(lab_config, "SECRETS_DIR", tmp_path / "secrets")
    monkeypatch.setattr(lab_config, "TWIN_INVENTORY_DIR", tmp_path / "inventory-twins")
    (tmp_path / "inventory-twins").mkdir()
    return tmp_path / "inventory"


def test_generated_files_list_every_scale_host(lab_dirs):
    chosen = list(lab_config.CONTAINER_HOSTS) + list(lab_config.scale_hosts(24))
    keys = {h.name: ["ssh-ed25519", f"KEY{h.octet}"] for h in chosen}
    lab_outputs.write_all(chosen, keys, "", {"staff_ssh_keys": roster_keys()})

    generated = yaml.safe_load((lab_dirs / "hosts.yml").read_text())
    groups = generated["all"]["children"][lab_outputs.LINUX_GROUP]["children"]
    assert list(groups["app_servers"]["hosts"]) == ["app1"] + [f"scale{i:02d}" for i in range(1, 25)]
    assert groups["app_servers"]["hosts"]["scale24"] == {"ansible_host": "10.231.0.124", "host_kind": "container"}
    assert not any(name.startswith("scale") for name in groups["backup_clients"]["hosts"])

    ssh_config = (lab_dirs / "ssh_config").read_text()
    assert "Host scale01\n  HostName 10.231.0.101\n  User automation\n" in ssh_config
    assert "Host scale24\n  HostName 10.231.0.124\n" in ssh_config
    known = (lab_dirs / "known_hosts").read_text().splitlines()
    assert "scale13,10.231.0.113 ssh-ed25519 KEY113" in known
    assert len(known) == len(chosen)
    testinfra = (lab_dirs / "testinfra_hosts").read_text().splitlines()
    assert testinfra[-24:] == [f"ssh://scale{i:02d}" for i in range(1, 25)]
    pyinfra = (lab_dirs / "pyinfra_inventory.py").read_text()
    assert ('"scale09": {**_COMMON, "ssh_hostname": "10.231.0.109", "host_kind": "container", '
            f'"baseline_inventory": "{lab_dirs}"}}') in pyinfra


def test_generated_inventory_with_scale_hosts_passes_the_preflight_and_selects_them(tmp_path):
    """The platform pre-flight accepts the scale hosts (addresses in the admin and server networks), and the
    compliance suites' --hosts picks exactly the named scale hosts."""
    inv = tmp_path / "lab"
    inv.mkdir()
    (inv / "group_vars").symlink_to(REPO_ROOT / "inventory/group_vars")
    shutil.copy(REPO_ROOT / "inventory/lab/devices.yml", inv / "devices.yml")
    chosen = list(lab_config.ALL_HOSTS) + list(lab_config.scale_hosts(24))
    generated = lab_outputs.ansible_inventory(chosen, {"staff_ssh_keys": roster_keys()})
    (inv / "hosts.yml").write_text(yaml.safe_dump(generated, allow_unicode=True), encoding="utf-8")
    loaded = inventory_mod.load(str(inv))
    groups = loaded.groups()
    controller = lambda: platform.Reach([lab_config.CONTROLLER_ADDRESS], "route")  # noqa: E731
    for name in ("scale01", "scale24"):
        values = loaded.vars(name)
        store = loaded.vars(values["backup_store_host"]).get("ansible_host")
        assert platform.check_host(values, groups, name, controller, store) == []
    names = [f"scale{i:02d}" for i in range(1, 7)]
    assert compliance.select_hosts(loaded, ",".join(names)) == names


def test_benchmark_counts_are_whole_numbers_within_the_scale_hosts():
    from devtools.bench import scale as bench_scale

    assert bench_scale.counts_arg("24,1,6,6") == [1, 6, 24]
    for bad in ("0", "25", "1,x", ""):
        with pytest.raises(argparse.ArgumentTypeError, match="--counts"):
            bench_scale.counts_arg(bad)


def test_inotify_limit_raised_for_many_containers_and_never_lowered(tmp_path):
    limit = tmp_path / "max_user_instances"
    limit.write_text("128\n")
    assert lab_hosts.ensure_inotify_instances(30, limit) == 30 * lab_hosts.INOTIFY_PER_HOST
    assert limit.read_text() == f"{30 * lab_hosts.INOTIFY_PER_HOST}\n"
    limit.write_text("100000\n")
    assert lab_hosts.ensure_inotify_instances(30, limit) is None
    assert limit.read_text() == "100000\n"
