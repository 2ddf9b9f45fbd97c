"""Platform values are refused on the controller before any host is contacted (baseline/platform.py through the
pre-flight's platform_preflight): malformed networks, admin networks without the controller's own address
towards a host, an address the controller cannot determine, and invalid log server, time source and backup store
values. Each message names the host, the variable and the rule."""

import ipaddress
import shutil

import pytest
import yaml
from preflight_inventory import CONTROLLER, guarded, inventory, output, refusals, roster_keys, run, valid_host_vars

from baseline import REPO_ROOT, platform
from baseline import inventory as inventory_mod
from devtools.lab import config as lab_config
from devtools.lab import outputs as lab_outputs

ADMIN = [ipaddress.IPv4Network("10.231.0.0/24")]


def _values(**changes):
    values = {}
    for name in ("platform.yml", "linux.yml", "databases.yml", "network.yml"):
        values.update(yaml.safe_load((REPO_ROOT / "inventory/group_vars/all" / name).read_text(encoding="utf-8")))
    values["server_inbound_services"] = []
    values.update(changes)
    return values


def _controller(address=CONTROLLER):
    return lambda: platform.Reach([address], "route to 10.231.0.13")


# --- networks --------------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("entry", "reason"), [
    ("10.231.0.0/33", "the prefix length 33 is not a whole number from 0 to 32"),
    ("10.231.0.5/24", "host bits are set (the network is 10.231.0.0/24)"),
    ("10.231.0.300/24", "10.231.0.300 is not an IPv4 address"),
    ("10.231.0/24", "10.231.0 is not an IPv4 address"),
    ("10.231.0.0/255.255.255.0", "the prefix length 255.255.255.0 is not a whole number from 0 to 32"),
    (" 10.231.0.0/24", "it contains spaces"),
    ("fd00::/64", "it is an IPv6 network"),
])
def test_malformed_admin_network_is_refused_naming_entry_and_reason(entry, reason):
    (message,) = platform.check_host(_values(admin_networks=[entry]), {}, "db2", _controller())
    assert message.startswith(f"db2: admin_networks[0] = {entry!r} is not a valid IPv4 network in CIDR form")
    assert reason in message


def test_admin_networks_must_be_a_non_empty_list_and_not_everything():
    (text,) = platform.check_host(_values(admin_networks="10.231.0.0/24"), {}, "db2", _controller())
    assert "admin_networks = '10.231.0.0/24' is text, not a list" in text
    (empty,) = platform.check_host(_values(admin_networks=[]), {}, "db2", _controller())
    assert "admin_networks is empty" in empty
    (everyone,) = platform.check_host(_values(admin_networks=["0.0.0.0/0"]), {}, "db2", _controller())
    assert "admits every address" in everyone and "第十五条(四)" in everyone
    (unset,) = platform.check_host({k: v for k, v in _values().items() if k != "admin_networks"}, {}, "db2",
                                   _controller())
    assert unset.startswith("db2: admin_networks is not set")


def test_server_networks_are_checked_like_admin_networks():
    (message,) = platform.check_host(_values(server_networks=["10.231.0.0/33"]), {}, "db2", _controller())
    assert message.startswith("db2: server_networks[0] = '10.231.0.0/33' is not a valid IPv4 network")


def test_valid_values_of_the_repository_pass():
    assert platform.check_host(_values(), {}, "db2", _controller()) == []


# --- the controller's address towards a host -------------------------------------------------------------------

def test_admin_networks_without_the_controller_are_refused_naming_its_address():
    values = _values(admin_networks=["192.0.2.0/24"])
    (message,) = platform.check_host(values, {}, "db2", _controller())
    assert message.startswith("db2: admin_networks (192.0.2.0/24) does not hold 10.231.0.1, the controller's address")
    assert "route to 10.231.0.13" in message and "lock the automation out" in message
    assert platform.check_host(_values(admin_networks=["192.0.2.0/24", "10.231.0.0/24"]), {}, "db2",
                               _controller()) == []


def test_undetermined_controller_address_is_said_not_guessed():
    unknown = platform.Reach(problem="the controller cannot resolve db2.example (Name or service not known)")
    (message,) = platform.check_host(_values(), {}, "db2", lambda: unknown)
    assert "cannot tell whether it holds the controller's address" in message
    assert "db2.example" in message and "set controller_address" in message


def test_the_address_comes_from_the_routing_table_of_the_controller():
    routes = {"10.231.0.13": "10.231.0.1"}
    found = platform.reach(platform.SshView("db2.lab", 22), route=lambda dest, port: routes[dest],
                           lookup=lambda name, port: ["10.231.0.13"])
    assert found.sources == ["10.231.0.1"] and found.how == "route to 10.231.0.13"

    def no_route(dest, port):
        raise OSError(101, "Network is unreachable")

    assert "no route to 10.231.0.13 (Network is unreachable)" in platform.reach(
        platform.SshView("10.231.0.13", 22), route=no_route).problem
    assert platform.reach(platform.SshView("10.231.0.13", 22, bind="10.231.0.9")).sources == ["10.231.0.9"]
    assert "ProxyJump" in platform.reach(platform.SshView("10.231.0.13", 22, proxy="ProxyJump")).problem
    assert platform.source_address("127.0.0.1") == "127.0.0.1"


def test_ssh_configuration_reveals_jump_hosts_without_connecting(tmp_path):
    marker = tmp_path / "contacted"
    options = platform.split_options("-o ControlMaster=auto", f"-o ProxyCommand='touch {marker}; exit 1'")
    assert platform.ssh_view("127.0.0.1", 9, options).proxy == "ProxyCommand"
    assert platform.ssh_view("127.0.0.1", 9, ["-J", "jump.example"]).proxy == "ProxyJump"
    assert platform.ssh_view("127.0.0.1", 9, ["-o", "ControlMaster=auto"]).proxy == ""
    assert platform.ssh_view("127.0.0.1", 9, options, ssh=str(tmp_path / "no-ssh")).proxy == "ProxyCommand"
    assert not marker.exists()


def test_a_stated_controller_address_must_be_an_address():
    (message,) = platform.check_host(_values(), {}, "db2", lambda: platform.explicit("controller_address", "ctl"))
    assert "controller_address = 'ctl' is not a valid IPv4 address" in message


# --- log server, time sources, mirror, backup store -------------------------------------------------------------

def test_service_addresses_are_refused_naming_the_variable():
    values = _values(log_server_address="10.231.0.300", ntp_servers="10.231.0.14", malware_mirror_address="log1",
                     log_server_tls_port="65536")
    found = platform.check_host(values, {}, "db2", _controller())
    assert "db2: log_server_address = '10.231.0.300' is not a valid IPv4 address (the central log server" in found[0]
    assert any("malware_mirror_address = 'log1' is not a valid IPv4 address" in m for m in found)
    assert any("log_server_tls_port = '65536' is not a port number" in m for m in found)
    assert any("ntp_servers = '10.231.0.14' is text, not a list of IPv4 addresses" in m for m in found)
    unspecified = str(ipaddress.IPv4Address(0))
    (entry,) = platform.check_host(_values(ntp_servers=["10.231.0.14", unspecified]), {}, "db2", _controller())
    assert f"ntp_servers[1] = '{unspecified}' is not the address of a host" in entry
    (empty,) = platform.check_host(_values(ntp_servers=[]), {}, "db2", _controller())
    assert "ntp_servers is empty" in empty


def test_backup_store_must_be_a_store_host_with_a_valid_address():
    groups = {"backup_clients": ["db2"], "backup_servers": ["bak1"]}
    assert platform.check_host(_values(), groups, "db2", _controller(), "10.231.0.15") == []
    assert platform.check_host(_values(), groups, "db2", _controller(), "bak1.example.org") == []
    (missing,) = platform.check_host(_values(backup_store_host="bak9"), groups, "db2", _controller(), "bak9")
    assert "backup_store_host = 'bak9' is not a host of the group backup_servers" in missing
    (bad,) = platform.check_host(_values(), groups, "db2", _controller(), "10.231.0.256")
    assert "ansible_host of bak1 = '10.231.0.256' is not a valid IPv4 address" in bad
    (root,) = platform.check_host(_values(backup_store_root="srv/backup"), groups, "db2", _controller(), "bak1")
    assert "backup_store_root = 'srv/backup' is not an absolute path" in root
    assert platform.check_host(_values(backup_store_host="bak9"), {"backup_servers": []}, "db2", _controller()) == []


def test_the_generated_lab_inventory_passes(tmp_path):
    """scripts/lab up writes hosts.yml (devtools/lab/outputs.py) next to devices.yml and the shared group_vars;
    with the controller on the lab bridge every host and device passes, the roster with the lab's staff keys."""
    from baseline import roster

    inv = tmp_path / "lab"
    inv.mkdir()
    (inv / "group_vars").symlink_to(REPO_ROOT / "inventory/group_vars")
    shutil.copy(REPO_ROOT / "inventory/lab/devices.yml", inv / "devices.yml")
    generated = lab_outputs.ansible_inventory(list(lab_config.ALL_HOSTS), {"staff_ssh_keys": roster_keys()})
    (inv / "hosts.yml").write_text(yaml.safe_dump(generated, allow_unicode=True), encoding="utf-8")
    loaded = inventory_mod.load(str(inv))
    groups = loaded.groups()
    assert set(groups["network_devices"]) and set(groups["linux_servers"])
    for host in loaded.hosts("all"):
        values = loaded.vars(host)
        store = loaded.vars(values["backup_store_host"]).get("ansible_host")
        assert platform.check_host(values, groups, host, _controller(lab_config.CONTROLLER_ADDRESS), store) == []
        assert roster.problems(values["staff"], roster.default_roles(), values["staff_ssh_keys"],
                               needs_keys=host in groups["linux_servers"]) == []


# --- through ansible-playbook: the run stops in the pre-flight, also in --check, and contacts nobody ----------

def _both(inv, playbook, *args):
    real, check = run(inv, playbook, *args), run(inv, playbook, *args, "--check")
    return real, check


def test_malformed_cidr_stops_the_run_and_check_mode_says_the_same(tmp_path):
    inv, marker = inventory(tmp_path, valid_host_vars())
    real, check = _both(inv, guarded(tmp_path), "-e", '{"admin_networks": ["10.231.0.0/33"]}')
    assert real.returncode == 2, output(real)[-2000:]
    assert check.returncode == 2
    expected = ("ghost: admin_networks[0] = '10.231.0.0/33' is not a valid IPv4 network in CIDR form such as "
                "10.231.0.0/24: the prefix length 33 is not a whole number from 0 to 32")
    assert expected in refusals(real)
    assert refusals(check) == refusals(real)
    assert "_Ansible" not in output(real)
    assert not marker.exists(), "a host was contacted although the platform check failed"


def test_admin_networks_without_the_controller_stop_the_run_before_contact(tmp_path):
    """The case that locked the automation out of db2: a list leaving out the controller."""
    inv, marker = inventory(tmp_path, valid_host_vars())
    real, check = _both(inv, guarded(tmp_path), "--limit", "ghost", "-e", '{"admin_networks": ["192.0.2.0/24"]}')
    assert real.returncode == 2 and check.returncode == 2
    (line,) = refusals(real)[1:]
    assert line.startswith("ghost: admin_networks (192.0.2.0/24) does not hold 10.231.0.1")
    assert "controller_address" in line
    assert refusals(check) == refusals(real)
    assert not marker.exists()


def test_route_of_the_controller_decides_without_contacting_the_host(tmp_path):
    inv, marker = inventory(tmp_path, {"staff_ssh_keys": roster_keys()}, proxy=False)
    refused = run(inv, "playbooks/preflight.yml")
    assert refused.returncode == 2
    assert ("ghost: admin_networks (10.231.0.0/24) does not hold 127.0.0.1, the controller's address towards this "
            "host (route to 127.0.0.1)") in "\n".join(refusals(refused))
    passed = run(inv, "playbooks/preflight.yml", "-e", '{"admin_networks": ["10.231.0.0/24", "127.0.0.0/8"]}')
    assert passed.returncode == 0, output(passed)[-2000:]
    assert not marker.exists(), "the pre-flight contacted the host"


def test_jump_host_without_stated_controller_address_is_refused(tmp_path):
    inv, marker = inventory(tmp_path, {"staff_ssh_keys": roster_keys()})
    proc = run(inv, "playbooks/preflight.yml", "--check")
    assert proc.returncode == 2
    (line,) = refusals(proc)[1:]
    assert "cannot tell whether it holds the controller's address" in line and "ProxyCommand" in line
    assert "set controller_address" in line
    assert not marker.exists()


def test_service_addresses_stop_the_run_each_named(tmp_path):
    host = {**valid_host_vars(), "log_server_address": "10.231.0.314", "ntp_servers": ["ntp.example"],
            "backup_store_host": "bak9"}
    inv, marker = inventory(tmp_path, host, groups=("linux_servers", "backup_clients"),
                            others={"backup_servers": {"bak1": {"ansible_host": "10.231.0.15"}}})
    real, check = _both(inv, "playbooks/preflight.yml", "--limit", "ghost")
    assert real.returncode == 2
    found = "\n".join(refusals(real))
    assert "ghost: log_server_address = '10.231.0.314' is not a valid IPv4 address" in found
    assert "ghost: ntp_servers[0] = 'ntp.example' is not a valid IPv4 address" in found
    assert "ghost: backup_store_host = 'bak9' is not a host of the group backup_servers" in found
    assert refusals(check) == refusals(real)
    assert not marker.exists()
