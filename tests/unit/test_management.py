"""roles/management (OP-01, CM-01): the templates render the same under both engines, the units and the services'
program hold no secret and hand the vault password over in the environment only, the argument specs accept the
defaults and refuse a missing wheelhouse, the runtime's pins are those of requirements.txt, the runtime archive
is the same for the same files, and the lab declares the management host."""

from __future__ import annotations

import os
import re
import secrets
import stat
import subprocess
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml

from baseline import REPO_ROOT, templates
from devtools.lab import config as lab_config
from devtools.lab import outputs as lab_outputs
from devtools.lab import wheelhouse

ROLE = REPO_ROOT / "roles" / "management"
TEMPLATES = sorted((ROLE / "templates").glob("*.j2"))
UNITS = ("baseline-inspect.service", "baseline-inspect.timer", "baseline-verify.service", "baseline-verify.timer")
SSH_HOSTS = [["app1", "10.231.0.11"], ["mgmt1", "10.231.0.21"], ["noaddress", ""]]


def role_values(**extra: Any) -> dict[str, Any]:
    """The role's defaults and vars as Ansible merges them for a lab host, with the play variables the role reads."""
    shared: dict[str, Any] = {}
    for path in sorted((REPO_ROOT / "inventory/group_vars/all").glob("*.yml")):
        shared.update(yaml.safe_load(path.read_text(encoding="utf-8")) or {})
    play = {"inventory_hostname": "mgmt1", "playbook_dir": str(REPO_ROOT / "playbooks"),
            "inventory_dir": str(REPO_ROOT / "inventory" / "lab"), "ansible_user": "automation",
            "ansible_ssh_private_key_file": "/srv/keys/id_ed25519", "management_wheelhouse": "/srv/wheelhouse"}
    values = templates.role_values("management", {**shared, **play})
    values.update(yaml.safe_load((ROLE / "vars/main.yml").read_text(encoding="utf-8")))
    values["management_ssh_hosts"] = SSH_HOSTS
    values.update(extra)
    return values


def render(name: str, **extra: Any) -> str:
    return templates.render(ROLE / "templates" / name, role_values(**extra))


def helpers(monkeypatch):
    """playbooks/pyinfra/management.py as a module, its run gated off (no host is targeted)."""
    from test_pyinfra_audit import load_deploy

    return load_deploy("management", monkeypatch)


# --- templates -----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", TEMPLATES, ids=lambda p: p.name)
def test_templates_render_the_same_bytes_under_ansible_and_pyinfra(path):
    values = role_values()
    assert templates.render(path, values) == templates.render_with_ansible(path, values)


def test_the_role_renders_every_unit_it_installs():
    declared = yaml.safe_load((ROLE / "vars/main.yml").read_text(encoding="utf-8"))["management_unit_files"]
    assert tuple(declared) == UNITS
    assert all((ROLE / "templates" / f"{unit}.j2").is_file() for unit in declared)


def test_ssh_config_names_each_host_with_the_key_and_pinned_host_keys():
    text = render("ssh_config.j2")
    blocks = {b.split("\n", 1)[0]: b for b in re.split(r"\n(?=Host )", text) if b.startswith("Host ")}
    assert set(blocks) == {"Host app1", "Host mgmt1", "Host noaddress"}
    assert "HostName 10.231.0.11" in blocks["Host app1"]
    assert "HostName noaddress" in blocks["Host noaddress"]  # no ansible_host: the name itself
    for block in blocks.values():
        assert "  User automation\n" in block
        assert "  IdentityFile /var/lib/baseline-management/.ssh/id_ed25519\n" in block
        assert "  UserKnownHostsFile /etc/baseline-management/known_hosts\n" in block
        assert "  StrictHostKeyChecking yes\n" in block and "  BatchMode yes\n" in block


def unit(text: str) -> dict[str, list[str]]:
    """Key -> values of a unit file (comments left out)."""
    found: dict[str, list[str]] = {}
    for line in text.splitlines():
        if "=" in line and not line.startswith(("#", "[")):
            key, value = line.split("=", 1)
            found.setdefault(key, []).append(value)
    return found


def test_inspect_service_runs_the_inspection_as_the_account_into_the_data_directory():
    service = unit(render("baseline-inspect.service.j2"))
    assert service["Type"] == ["oneshot"] and service["User"] == ["baseline"]
    assert service["ExecStart"] == ["/opt/baseline/bin/baseline-scheduled inspect"]
    env = dict(e.split("=", 1) for e in service["Environment"])
    assert env["BASELINE_INVENTORY"] == "/etc/baseline-management/inventory"
    assert env["BASELINE_INSPECTION_DIR"] == "/var/lib/baseline-management/inspections"
    assert env["BASELINE_SSH_CONFIG"] == "/etc/baseline-management/ssh_config"
    assert env["BASELINE_ROOT"] == "/opt/baseline"
    assert service["ReadWritePaths"] == ["/var/lib/baseline-management"]
    for setting in ("ProtectSystem=strict", "NoNewPrivileges=true", "PrivateTmp=true", "ProtectHome=true"):
        key, value = setting.split("=")
        assert service[key] == [value], setting
    assert "AF_UNIX" in service["RestrictAddressFamilies"][0]  # the drift alert goes to the local syslog socket


def test_verify_service_keeps_the_history_and_alerts_on_syslog():
    service = unit(render("baseline-verify.service.j2", management_verify_keep=12,
                          management_verify_inventory="/etc/x/one-host"))
    assert service["ExecStart"] == ["/opt/baseline/bin/baseline-scheduled verify --history "
                                    "/var/lib/baseline-management/history --keep 12 --report-dir "
                                    "/var/lib/baseline-management/reports/latest --syslog"]
    env = dict(e.split("=", 1) for e in service["Environment"])
    assert env["BASELINE_INVENTORY"] == "/etc/x/one-host"


@pytest.mark.parametrize("kind", ["inspect", "verify"])
def test_timers_are_persistent_with_a_small_fixed_spread(kind):
    calendar = {"inspect": "*-*-* 07:45:00", "verify": "Mon *-*-* 01:00:00"}[kind]
    timer = unit(render(f"baseline-{kind}.timer.j2", **{f"management_{kind}_calendar": calendar}))
    assert timer["OnCalendar"] == [calendar]
    assert timer["Persistent"] == ["true"] and timer["FixedRandomDelay"] == ["true"]
    assert timer["RandomizedDelaySec"] == ["5min"]
    assert timer["WantedBy"] == ["timers.target"]


def test_the_inspection_runs_at_the_documented_time_daily():
    defaults = yaml.safe_load((ROLE / "defaults/main.yml").read_text(encoding="utf-8"))
    assert defaults["management_inspect_calendar"] == "*-*-* 08:30:00"
    assert re.fullmatch(r"\*-\*-\* \d\d:\d\d:00", defaults["management_verify_calendar"])


# --- secrets -------------------------------------------------------------------------------------------------------


def test_units_and_program_hold_no_secret_and_name_the_root_only_credential():
    password = secrets.token_urlsafe(24)
    values = role_values(vault_password=password, BASELINE_VAULT_PASSWORD=password)
    texts = {p.name: templates.render(p, values) for p in TEMPLATES}
    for name, text in texts.items():
        assert password not in text, name
        assert "BASELINE_VAULT_PASSWORD=" not in text.replace("    BASELINE_VAULT_PASSWORD=$(cat", ""), name
    for kind in ("inspect", "verify"):
        service = unit(texts[f"baseline-{kind}.service.j2"])
        assert service["LoadCredential"] == ["vault-password:/etc/baseline-management/vault-password"]
        assert not any("PASSWORD" in e for e in service["Environment"])
    tasks = (ROLE / "tasks/main.yml").read_text(encoding="utf-8")
    credential = next(t for t in yaml.safe_load(tasks) if t["name"].startswith("OP-01 | Vault password"))
    assert credential["no_log"] is True and credential["diff"] is False
    assert credential["ansible.builtin.copy"]["mode"] == "0400" and credential["ansible.builtin.copy"]["owner"] == "root"
    key = next(t for t in yaml.safe_load(tasks) if t["name"].startswith("OP-01 | The automation key"))
    assert key["no_log"] is True and key["ansible.builtin.copy"]["mode"] == "0600"


def fake_runtime(tmp_path: Path) -> dict[str, Any]:
    """A venv whose python records its arguments and the password it sees in its environment."""
    venv = tmp_path / "venv"
    (venv / "bin").mkdir(parents=True)
    python = venv / "bin" / "python"
    python.write_text('#!/bin/sh\nprintf "argv=%s\\n" "$*" > "$OUT"\n'
                      'printf "env=%s\\n" "${BASELINE_VAULT_PASSWORD:-}" >> "$OUT"\n'
                      'printf "cwd=%s\\n" "$(pwd)" >> "$OUT"\nexit 7\n')
    python.chmod(0o755)
    program = tmp_path / "baseline-scheduled"
    program.write_text(render("baseline-scheduled.sh.j2", management_venv=str(venv), management_root=str(tmp_path)))
    program.chmod(0o755)
    return {"program": program, "out": tmp_path / "out"}


def test_the_program_hands_the_credential_over_in_the_environment_only(tmp_path):
    runtime = fake_runtime(tmp_path)
    creds = tmp_path / "creds"
    creds.mkdir()
    password = secrets.token_urlsafe(24)
    (creds / "vault-password").write_text(password + "\n")
    env = {"PATH": os.environ["PATH"], "CREDENTIALS_DIRECTORY": str(creds), "OUT": str(runtime["out"])}
    proc = subprocess.run([str(runtime["program"]), "verify", "--syslog"], env=env, capture_output=True, text=True,
                          check=False)
    assert proc.returncode == 7  # the runtime's exit status is the unit's
    seen = dict(line.split("=", 1) for line in runtime["out"].read_text().splitlines())
    assert seen["argv"] == "-m baseline.cli verify --syslog"
    assert seen["env"] == password
    assert seen["cwd"] == str(tmp_path)
    assert password not in proc.stdout + proc.stderr


def test_the_program_runs_without_a_credential(tmp_path):
    runtime = fake_runtime(tmp_path)
    env = {"PATH": os.environ["PATH"], "OUT": str(runtime["out"])}
    proc = subprocess.run([str(runtime["program"]), "inspect"], env=env, capture_output=True, text=True, check=False)
    assert proc.returncode == 7
    assert "env=\n" in runtime["out"].read_text()


# --- argument specs, requirements ----------------------------------------------------------------------------------


def validate(values: dict[str, Any]) -> list[str]:
    from ansible.module_utils.common.arg_spec import ArgumentSpecValidator

    specs = yaml.safe_load((ROLE / "meta/argument_specs.yml").read_text(encoding="utf-8"))["argument_specs"]
    options = specs["main"]["options"]
    return list(ArgumentSpecValidator(options).validate(values).error_messages)


def test_argument_specs_declare_every_default_and_accept_the_resolved_defaults():
    defaults = yaml.safe_load((ROLE / "defaults/main.yml").read_text(encoding="utf-8"))
    options = yaml.safe_load((ROLE / "meta/argument_specs.yml").read_text(encoding="utf-8"))["argument_specs"]["main"]["options"]
    assert set(defaults) <= set(options)
    assert set(options) - set(defaults) == {"management_wheelhouse"}
    values = {k: v for k, v in role_values().items() if k in options}
    assert validate(values) == []


def test_argument_specs_refuse_a_missing_wheelhouse_and_a_keep_that_is_no_number():
    values = {k: v for k, v in role_values().items() if k in yaml.safe_load(
        (ROLE / "meta/argument_specs.yml").read_text(encoding="utf-8"))["argument_specs"]["main"]["options"]}
    del values["management_wheelhouse"]
    assert any("management_wheelhouse" in e for e in validate(values))
    assert any("management_verify_keep" in e for e in validate({**values, "management_wheelhouse": "/w",
                                                                   "management_verify_keep": "thirty"}))


def pins(lines: list[str]) -> dict[str, str]:
    found = {}
    for raw in lines:
        line = raw.split("#")[0].strip()
        if "==" in line:
            name, version = line.split("==", 1)
            found[name.strip().lower().replace("_", "-")] = version.strip()
    return found


def test_runtime_requirements_are_the_pins_of_requirements_txt_and_cover_the_runtime():
    role = pins(wheelhouse.requirements())
    project = pins((REPO_ROOT / "requirements.txt").read_text(encoding="utf-8").splitlines())
    assert {name: project.get(name) for name in role} == role
    runtime = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["dependencies"]
    controller_only = {"ansible", "pyinfra", "passlib"}  # collections, the pyinfra engine, password_hash of Ansible
    assert {d.lower() for d in runtime} - controller_only <= set(role)


def test_runtime_requirements_hold_the_plugins_the_compliance_suites_use():
    """The suites run with --strict-markers (a marker of a plugin that is not installed stops the whole run) and a
    read-only run may use pytest-xdist workers (-n, docs/report.md): both plugins are in the runtime."""
    role = pins(wheelhouse.requirements())
    conftest = (REPO_ROOT / "compliance_tests" / "conftest.py").read_text(encoding="utf-8")
    assert "numprocesses" in conftest and "pytest-xdist" in role
    assert "testinfra" in conftest and "pytest-testinfra" in role


def test_the_wheelhouse_path_follows_the_requirements():
    reqs = wheelhouse.requirements()
    assert wheelhouse.path(reqs) == wheelhouse.path(list(reversed(reqs)))
    assert wheelhouse.path(reqs) != wheelhouse.path([*reqs, "extra==1.0"])
    assert wheelhouse.path(reqs).parent == lab_config.CACHE_DIR


# --- the runtime archive -------------------------------------------------------------------------------------------


def test_the_runtime_archive_is_the_same_for_the_same_files_and_holds_no_compiled_file(tmp_path, monkeypatch):
    module = helpers(monkeypatch)
    src = tmp_path / "src"
    (src / "baseline" / "__pycache__").mkdir(parents=True)
    (src / "baseline" / "a.py").write_text("A = 1\n")
    (src / "baseline" / "__pycache__" / "a.cpython-311.pyc").write_bytes(b"\0compiled")
    (src / "scripts").mkdir()
    (src / "scripts" / "vault-password").write_text("#!/bin/sh\n")
    (src / "scripts" / "vault-password").chmod(0o775)
    (src / "scripts" / "other").write_text("not shipped\n")
    paths = ["baseline", "scripts/vault-password"]
    first = module.tree_archive(src, paths, tmp_path / "one.tar")
    os.utime(src / "baseline" / "a.py", (1, 1))
    (src / "baseline" / "__pycache__" / "a.cpython-311.pyc").write_bytes(b"\0recompiled")
    assert module.tree_archive(src, paths, tmp_path / "two.tar") == first
    names = subprocess.run(["tar", "-tvf", str(tmp_path / "two.tar")], capture_output=True, text=True,
                           check=True).stdout
    assert "__pycache__" not in names and "other" not in names
    assert re.search(r"^-rwxr-xr-x 0/0 .* scripts/vault-password$", names, re.M)  # group write dropped
    (src / "baseline" / "a.py").write_text("A = 2\n")
    assert module.tree_archive(src, paths, tmp_path / "three.tar") != first
    assert module.top_level(["inventory/group_vars", "inventory/waivers.yml", "baseline"]) == ["inventory", "baseline"]


def test_the_role_makes_the_archive_with_the_deploys_tar_options(monkeypatch):
    tasks = yaml.safe_load((ROLE / "tasks/main.yml").read_text(encoding="utf-8"))
    task = next(t for t in tasks if t["name"].startswith("OP-01 | Archive of the runtime"))
    argv = task["ansible.builtin.command"]["argv"]
    assert all(f"'{option}'" in argv for option in helpers(monkeypatch).TAR_OPTIONS)


def test_inventory_files_follow_the_group_vars_link(tmp_path, monkeypatch):
    (tmp_path / "shared" / "all").mkdir(parents=True)
    (tmp_path / "shared" / "all" / "policy.yml").write_text("a: 1\n")
    site = tmp_path / "site"
    site.mkdir()
    (site / "hosts.yml").write_text("all: {}\n")
    (site / "ssh_config").write_text("Host x\n")
    (site / "group_vars").symlink_to("../shared")
    assert helpers(monkeypatch).inventory_files(site) == [Path("group_vars/all/policy.yml"), Path("hosts.yml")]


# --- the lab -------------------------------------------------------------------------------------------------------


def test_the_lab_has_a_management_host_on_a_free_address():
    host = lab_config.host_by_name("mgmt1")
    assert host in lab_config.CONTAINER_HOSTS and host.groups == ("management_hosts",)
    octets = [h.octet for h in lab_config.KNOWN_HOSTS]
    assert len(octets) == len(set(octets)) and host.address == "10.231.0.21"
    assert wheelhouse.needed(list(lab_config.CONTAINER_HOSTS))
    assert not wheelhouse.needed([lab_config.host_by_name("app1")])


def test_the_generated_inventories_put_the_management_host_among_the_servers():
    hosts = list(lab_config.CONTAINER_HOSTS)
    inv = lab_outputs.ansible_inventory(hosts)
    children = inv["all"]["children"][lab_outputs.LINUX_GROUP]["children"]
    assert children["management_hosts"]["hosts"]["mgmt1"]["ansible_host"] == "10.231.0.21"
    assert inv["all"]["vars"]["management_wheelhouse"] == str(wheelhouse.path())
    pyinfra = lab_outputs.pyinfra_inventory(hosts)
    assert re.search(r'^management_hosts = \[\("mgmt1", _HOSTS\["mgmt1"\]\)\]$', pyinfra, re.M)
    assert re.search(r'^linux_servers = \[.*"mgmt1".*\]$', pyinfra, re.M)


def test_the_program_template_is_executable_shell():
    text = render("baseline-scheduled.sh.j2")
    assert text.startswith("#!/bin/sh\n")
    proc = subprocess.run(["sh", "-n"], input=text, text=True, capture_output=True, check=False)
    assert proc.returncode == 0, proc.stderr
    mode = next(t for t in yaml.safe_load((ROLE / "tasks/main.yml").read_text(encoding="utf-8"))
                if t["name"].startswith("OP-01 | Program of the services"))["ansible.builtin.template"]["mode"]
    assert int(mode, 8) & stat.S_IXUSR
