"""`scripts/lab reboot HOST...` refuses what it cannot reboot before it touches anything. No lab is started; the
reboot itself (an orderly shutdown, then a boot of the same files) is shown on upg1 by tests/lab/test_trixie.py."""

import pytest

from devtools.lab import cli as lab_cli
from devtools.lab import config as lab_config
from devtools.lab import hosts as lab_hosts
from devtools.lab.system import LabError


def test_an_unknown_host_is_refused_by_name(capsys):
    assert lab_cli.main(["reboot", "nosuchhost"]) == 1
    assert "unknown lab host(s): nosuchhost" in capsys.readouterr().err


def test_the_vm_host_is_refused_as_not_a_container(tmp_path):
    vm = lab_config.VM_HOSTS[0]
    with pytest.raises(LabError, match=f"{vm.name} is not a running container host"):
        lab_hosts.reboot(vm, tmp_path)


def test_reboot_needs_at_least_one_host():
    with pytest.raises(SystemExit) as stopped:
        lab_cli.main(["reboot"])
    assert stopped.value.code == 2
