"""The Debian releases the baseline supports, said in one place (playbooks/group_vars/debian_<N>.yml): every release
file names the same variables; Ansible's release play (playbooks/release.yml) groups a host by its release and refuses
an unsupported one before any change, naming the host, its release and the supported ones; the pyinfra deploys read
the same files and refuse the same hosts; the lab builds each release's images from its own package lists."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from baseline import REPO_ROOT
from baseline import pyinfra_deploy as deploy
from devtools.lab import config, image

RELEASE_FILES = sorted((REPO_ROOT / "playbooks" / "group_vars").glob("debian_*.yml"))
ANSIBLE_PLAYBOOK = str(Path(sys.executable).parent / "ansible-playbook")


def controller_release() -> str:
    found = dict(line.split("=", 1) for line in Path("/etc/os-release").read_text().splitlines() if "=" in line)
    return found.get("VERSION_ID", "").strip('"')


def test_debian_12_and_13_are_supported_and_every_release_file_names_the_same_variables():
    assert [p.name for p in RELEASE_FILES] == ["debian_12.yml", "debian_13.yml"]
    names = {p.name: set(yaml.safe_load(p.read_text(encoding="utf-8"))["debian_release"]) for p in RELEASE_FILES}
    assert len({frozenset(v) for v in names.values()}) == 1, names
    assert deploy.supported_releases() == ["12", "13"]


def test_each_release_file_says_its_own_release_and_postgresql():
    for path, (number, codename, postgresql) in zip(RELEASE_FILES, [(12, "bookworm", 15), (13, "trixie", 17)],
                                                    strict=True):
        values = yaml.safe_load(path.read_text(encoding="utf-8"))["debian_release"]
        assert (values["number"], values["codename"], values["postgresql_version"]) == (number, codename, postgresql)
        assert codename in config.RELEASES and config.RELEASES[codename] == str(number)


def test_pyinfra_reads_the_release_file_of_the_host_and_refuses_another_release(monkeypatch):
    assert deploy.release_values(("Debian", "13"))["debian_release"]["postgresql_version"] == 17
    assert deploy.release_values(("Debian", "12"))["debian_release"]["postgresql_version"] == 15
    assert deploy.release_values(("Debian", "11")) == {}
    monkeypatch.setattr(deploy, "name", lambda: "old1")
    assert deploy.release_problem(("Debian", "12")) is None
    assert deploy.release_problem(None) is None  # the controller
    for refused in (("Debian", "11"), ("Ubuntu", "24")):
        message = deploy.release_problem(refused)
        assert message is not None
        assert f"old1 runs {refused[0]} {refused[1]}" in message
        assert "supports Debian 12 and 13" in message and "Nothing was changed" in message


def release_play(tmp_path: Path, releases: list[str]) -> subprocess.CompletedProcess:
    """playbooks/release.yml, as it is, beside release files for `releases` only, on the controller as a server."""
    books = tmp_path / "playbooks"
    (books / "group_vars").mkdir(parents=True)
    shutil.copy(REPO_ROOT / "playbooks" / "release.yml", books / "release.yml")
    for number in releases:
        (books / "group_vars" / f"debian_{number}.yml").write_text(f"release_marker: debian-{number}\n")
    (books / "show.yml").write_text(
        "- ansible.builtin.import_playbook: release.yml\n"
        "- ansible.builtin.import_playbook: release.yml\n"  # as site.yml imports it once per part
        "- hosts: linux_servers\n  gather_facts: false\n  tasks:\n"
        "    - ansible.builtin.debug:\n        msg: 'marker={{ release_marker }} groups={{ group_names | join(\",\") }}'\n")
    (tmp_path / "hosts.yml").write_text(yaml.safe_dump({"all": {"children": {"linux_servers": {"hosts": {"box": {
        "ansible_connection": "local", "ansible_python_interpreter": sys.executable}}}}}}))
    return subprocess.run([ANSIBLE_PLAYBOOK, "-i", str(tmp_path / "hosts.yml"), str(books / "show.yml")],
                          capture_output=True, text=True, timeout=300, check=False, cwd=tmp_path)


@pytest.mark.skipif(not Path("/etc/debian_version").exists(), reason="the release play reads a Debian controller")
def test_the_release_play_groups_a_supported_host_and_changes_nothing(tmp_path):
    number = controller_release()
    proc = release_play(tmp_path, [number])
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert f"marker=debian-{number} groups=debian_{number},linux_servers" in proc.stdout
    assert "changed=0" in proc.stdout
    # the second import leaves out the host grouped by the first, and no pattern makes Ansible warn
    assert proc.stdout.count("TASK [Debian release | distribution facts]") == 1, proc.stdout[-3000:]
    assert "skipping: no hosts matched" in proc.stdout
    assert "Could not match supplied host pattern" not in proc.stdout + proc.stderr


@pytest.mark.skipif(not Path("/etc/debian_version").exists(), reason="the release play reads a Debian controller")
def test_the_release_play_refuses_an_unsupported_release_before_any_change(tmp_path):
    number = controller_release()
    proc = release_play(tmp_path, ["98", "99"])
    assert proc.returncode != 0
    assert f"box runs Debian {number}" in proc.stdout
    assert "the baseline supports Debian 98 and 99" in proc.stdout and "Nothing was changed" in proc.stdout
    assert "marker=" not in proc.stdout  # the next play never ran


def test_the_lab_builds_each_release_from_its_own_package_lists():
    bookworm = config.read_package_list("repo-packages.txt", "bookworm")
    trixie = config.read_package_list("repo-packages.txt", "trixie")
    assert "postgresql-15" in bookworm and "postgresql-17" not in bookworm
    assert "postgresql-17" in trixie and "postgresql-15" not in trixie
    assert set(bookworm) - {"postgresql-15", "postgresql-15-pgaudit", "postgresql-contrib"} == \
        set(trixie) - {"postgresql-17", "postgresql-17-pgaudit"}
    with pytest.raises(ValueError, match="no lab release 'sid'"):
        config.read_package_list("repo-packages.txt", "sid")
    assert image.lab_sources_list("trixie") != image.lab_sources_list("bookworm")
    assert str(config.REPO_PORTS["trixie"]) in image.lab_sources_list("trixie")
    # the default release keeps its cache names; another release's never match the default's pruning pattern
    assert image._name("base", "bookworm") == "base" and image._name("base", "trixie") == "trixie-base"
    assert {h.release for h in config.TRIXIE_HOSTS} == {"trixie"}
    assert {h.release for h in config.ALL_HOSTS} == {"bookworm"}


def test_each_drill_host_restores_the_database_servers_of_its_own_release():
    from devtools.lab import outputs

    standard = list(config.ALL_HOSTS)
    assert outputs.drill_sources(standard) == {}  # one release: every drill host restores every server (the default)
    inventory = outputs.ansible_inventory(standard)
    drill1 = inventory["all"]["children"]["linux_servers"]["children"]["drill_hosts"]["hosts"]["drill1"]
    assert "restore_drill_postgresql_sources" not in drill1
    both = [*config.ALL_HOSTS, *config.TRIXIE_HOSTS, *config.UPGRADE_HOSTS]
    assert outputs.drill_sources(both) == {
        "drill1": {"restore_drill_postgresql_sources": ["db1"], "restore_drill_mariadb_sources": ["db2"]},
        "drill13": {"restore_drill_postgresql_sources": ["pg13"], "restore_drill_mariadb_sources": ["maria13"]}}
    inventory = outputs.ansible_inventory(both)
    drill13 = inventory["all"]["children"]["linux_servers"]["children"]["drill_hosts"]["hosts"]["drill13"]
    assert drill13["restore_drill_postgresql_sources"] == ["pg13"]
    # every Debian 13 server and the upgraded host are backup clients of the store, as their Debian 12 counterparts
    clients = inventory["all"]["children"]["linux_servers"]["children"]["backup_clients"]["hosts"]
    assert {"app13", "pg13", "maria13", "upg1"} <= set(clients)


def test_the_debian_13_vm_boots_with_trixie_and_vm_only():
    import argparse

    from devtools.lab import cli

    def names(**flags) -> set[str]:
        args = argparse.Namespace(**{"hosts": None, "vm": False, "trixie": False, "twins": False, "scale": 0, **flags})
        return {h.name for h in cli.selected_hosts(args)}

    assert "kern13" not in names(trixie=True) and "kern13" not in names(vm=True)
    assert {"kern1", "kern13", "app13", "drill13", "upg1"} <= names(trixie=True, vm=True)
    assert {h.release for h in config.TRIXIE_VM_HOSTS} == {"trixie"}
    assert {h.kind for h in config.TRIXIE_VM_HOSTS} == {"vm"}



def test_the_vm_image_carries_the_packages_the_roles_install_on_the_vm_kind():
    """The VM image is built with the packages of the roles' own lists (no second copy of them), each of which the
    offline repository also holds for the containers' first apply."""
    lists = [yaml.safe_load((REPO_ROOT / "roles" / role / "vars/main.yml").read_text(encoding="utf-8"))[name]
             for role, name in image.VM_ROLE_PACKAGES]
    assert image.vm_role_packages() == [p for names in lists for p in names]
    assert {"auditd", "chrony", "acct"} <= set(image.vm_role_packages())
    for release in config.RELEASES:
        assert set(image.vm_role_packages()) <= set(config.read_package_list("repo-packages.txt", release))


def test_a_vm_host_gets_a_longer_login_wait_in_every_client_and_containers_keep_ten_seconds(tmp_path, monkeypatch):
    """The emulated VM needs up to 20 s for one login when the cores are busy: Ansible (ansible_timeout), ssh
    (ConnectTimeout), pyinfra (paramiko's timeouts) and the inspection (ansible_timeout) wait 60 s for it only."""
    import ast

    from devtools.lab import config, outputs

    standard = list(config.ALL_HOSTS)
    groups = outputs.ansible_inventory(standard)["all"]["children"]["linux_servers"]["children"]
    assert groups["kernel_hosts"]["hosts"]["kern1"]["ansible_timeout"] == config.VM_CONNECT_TIMEOUT_S == 60
    assert "ansible_timeout" not in groups["app_servers"]["hosts"]["app1"]
    monkeypatch.setattr(config, "INVENTORY_DIR", tmp_path)
    outputs.write_ssh_config(standard)
    blocks = {b.split()[0]: b for b in (tmp_path / "ssh_config").read_text().split("Host ")[1:]}
    assert "ConnectTimeout 60" in blocks["kern1"] and "ConnectTimeout 10" in blocks["app1"]
    text = outputs.pyinfra_inventory(standard)
    ast.parse(text)
    kern1 = next(line for line in text.splitlines() if line.strip().startswith('"kern1"'))
    app1 = next(line for line in text.splitlines() if line.strip().startswith('"app1"'))
    assert '"ssh_paramiko_connect_kwargs": {"timeout": 60, "banner_timeout": 60, "auth_timeout": 60}' in kern1
    assert "paramiko" not in app1
