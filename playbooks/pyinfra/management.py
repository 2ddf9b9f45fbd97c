"""pyinfra deploy of roles/management (OP-01, CM-01) on the management hosts (management_hosts), the counterpart of
playbooks/management.yml: the integrity snapshot, then the role's packages, account, directories, runtime archive,
wheelhouse, virtual environment, key, SSH client config, inventory, vault credential, units and timers, in the same
order, from the role's templates and data, then the settle part (AC-01, IP-02, IP-05).

    pyinfra inventory/lab/pyinfra_inventory.py playbooks/pyinfra/management.py [--limit HOST] [--dry]

What Ansible's play variables give the role (`playbook_dir`, `inventory_dir`) is the repository root and the host's
Ansible inventory (deploy.inventory_dir()) here. The runtime's archive is made while pyinfra prepares, with the same
tar options as the role, so the same checkout gives the same bytes under both engines and a second run has no
operation. Secrets (the automation key, the vault password) reach the host on an operation's standard input, never
on a command line or through an upload's temporary file.
"""

from __future__ import annotations

import atexit
import hashlib
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
from io import BytesIO, StringIO
from pathlib import Path
from typing import Any

from pyinfra import host
from pyinfra.facts.deb import DebPackages
from pyinfra.facts.files import File, Sha256File
from pyinfra.facts.server import Command
from pyinfra.operations import apt, files, server

from baseline import REPO_ROOT, inventory
from baseline import pyinfra_deploy as deploy

ROLE = "management"
HOSTS = "management_hosts"
UNIT_DIR = "/etc/systemd/system"
UNIT_VALIDATE = ("sh -c 'd=$(mktemp -d) || exit 1; cp \"$1\" \"$d/$2\" && systemd-analyze verify \"$d/$2\"; rc=$?; "
                 "rm -rf \"$d\"; exit $rc' verify {path} ")
TAR_OPTIONS = ("--format=gnu", "--sort=name", "--mtime=@0", "--owner=0", "--group=0", "--numeric-owner", "--mode=go-w",
               "--exclude=__pycache__", "--exclude=*.pyc")


def controller_values(v: dict[str, Any], inventory_dir: Path) -> dict[str, Any]:
    """The role's controller-side paths where they come from Ansible's play variables (playbook_dir, inventory_dir),
    which pyinfra has not: the repository root and the host's inventory. Values the inventory sets win."""
    found = dict(v)
    found.setdefault("management_source_dir", str(REPO_ROOT))
    found.setdefault("management_inventory_source", str(inventory_dir))
    found.setdefault("management_known_hosts_file", str(inventory_dir / "known_hosts"))
    found.setdefault("management_vault_password_command", str(REPO_ROOT / "scripts" / "vault-password"))
    found.setdefault("management_verify_inventory", f"{found['management_config_dir']}/inventory")
    if not found.get("management_automation_key_file"):
        found["management_automation_key_file"] = found.get("ansible_ssh_private_key_file", "")
    return found


def tree_archive(source: str | Path, paths: list[str], dest: Path) -> str:
    """The runtime's archive as the role makes it (same tar options); returns its SHA-256."""
    subprocess.run(["tar", "--create", TAR_OPTIONS[0], "--file", str(dest), *TAR_OPTIONS[1:], "--directory",
                    str(source), *paths], check=True)
    return hashlib.sha256(dest.read_bytes()).hexdigest()


def top_level(paths: list[str]) -> list[str]:
    """The names below the runtime's root that the archive replaces as a whole."""
    return list(dict.fromkeys(p.split("/", 1)[0] for p in paths))


def ssh_hosts(inv_dir: Path, pattern: str) -> list[list[str]]:
    """[name, address] of every host of the pattern, as the role's set_fact gives them (address '' when none)."""
    inv = inventory.load(str(inv_dir))
    return [[name, str(inv.vars(name).get("ansible_host", "") or "")] for name in inv.hosts(pattern)]


def inventory_files(source: Path) -> list[Path]:
    """The YAML files of the inventory, relative to it, symbolic links followed (the role's find)."""
    found = []
    for root, _dirs, names in os.walk(source, followlinks=True):
        for name in names:
            if name.endswith((".yml", ".yaml")):
                found.append((Path(root) / name).relative_to(source))
    return sorted(found)


def pip_command(v: dict[str, Any], dry: bool = False) -> str:
    root = v["management_root"]
    argv = [f"{v['management_venv']}/bin/python", "-m", "pip", "install", "--no-index", "--find-links",
            f"{root}/wheelhouse", "--requirement", f"{root}/requirements.txt", *(["--dry-run"] if dry else [])]
    return "PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_INPUT=1 " + shlex.join(argv)


def main() -> None:  # noqa: PLR0915 - the role's tasks in their order
    if not deploy.targets(HOSTS):
        return
    inv_dir = deploy.inventory_dir()
    v = controller_values(deploy.values(ROLE), inv_dir)
    user, data, root, conf = (v["management_user"], v["management_data_dir"], v["management_root"],
                              v["management_config_dir"])
    wheelhouse = Path(str(v.get("management_wheelhouse") or ""))
    key_file = Path(str(v["management_automation_key_file"] or ""))
    if not str(wheelhouse) or not any(wheelhouse.glob("*.whl")) or not key_file.is_file():
        print(f"{deploy.name()}: OP-01: management_wheelhouse (a directory of wheels on the controller) and "
              "management_automation_key_file (a file on the controller) must be given", file=sys.stderr)
        raise SystemExit(deploy.EXIT_REFUSED)

    installed = host.get_fact(DebPackages) or {}
    if any(n not in installed for n in v["management_packages"]):
        apt.packages(name="OP-01 | Packages of the runtime's virtual environment and of the SSH client",
                     packages=v["management_packages"], present=True)
    server.user(  # noqa: S604
        name="OP-01 | System account of the timers (no password, no login shell)", user=user, system=True,
        home=data, create_home=False, ensure_home=False, shell="/usr/sbin/nologin",
        password="*",  # noqa: S106
        comment="Security baseline timers (automation key)")
    deploy.directory("OP-01 | Data directory of the account", data, user=user, group=user, mode="750")
    for sub in v["management_data_subdirs"]:
        deploy.directory(f"OP-01 | Inspections, verification history, reports, results and the SSH directory: {sub}",
                         f"{data}/{sub}", user=user, group=user, mode="700" if sub == ".ssh" else "750")
    for path, group, mode in ((root, "root", "755"), (f"{root}/bin", "root", "755"), (f"{root}/wheelhouse", "root", "755"),
                              (conf, user, "750")):
        deploy.directory(f"OP-01 | Runtime and configuration directories: {path}", path, group=group, mode=mode)

    # the runtime: one archive, replaced as a whole when it differs
    scratch = Path(tempfile.mkdtemp(prefix="baseline-management-"))
    atexit.register(shutil.rmtree, scratch, ignore_errors=True)  # read by the upload, after the prepare
    archive = scratch / "project.tar"
    digest = tree_archive(v["management_source_dir"], list(v["management_project_paths"]), archive)
    archive_differs = host.get_fact(Sha256File, path=f"{root}/project.tar") != digest
    if archive_differs:
        files.put(name="OP-01 | Runtime archive on the host", src=str(archive), dest=f"{root}/project.tar",
                  user="root", group="root", mode="644")
    # a run stopped between the archive and its extraction left the runtime out
    if archive_differs or not host.get_fact(File, path=f"{root}/baseline/cli.py"):
        server.shell(name="OP-01 | Runtime files replaced by the archive's (code, catalog, compliance suites)",
                     commands=[f"set -e; cd {shlex.quote(root)}; rm -rf "
                               + " ".join(shlex.quote(n) for n in top_level(list(v["management_project_paths"])))
                               + "; tar --extract --no-same-owner --file project.tar"])
    for name in v["management_state_links"]:
        files.link(name=f"OP-01 | What the runtime writes below its root goes to the data directory: {name}",
                   path=f"{root}/{name}", target=f"{data}/{name}", force=True)
    for wheel in sorted(wheelhouse.iterdir()):
        if wheel.is_file():
            deploy_put("OP-01", f"Wheels of the runtime: {wheel.name}", f"{root}/wheelhouse/{wheel.name}",
                       wheel.read_bytes(), mode="644")
    requirements = deploy.Managed(f"{root}/requirements.txt", deploy.render(ROLE, "requirements.txt.j2", v))
    requirements_new = deploy.differs(requirements)
    put("OP-01", "Requirements of the runtime", requirements)
    venv_missing = not host.get_fact(File, path=f"{v['management_venv']}/bin/python")
    if venv_missing:
        server.shell(name="OP-01 | Virtual environment of the runtime",
                     commands=[shlex.join(["/usr/bin/python3", "-m", "venv", v["management_venv"]])])
    would = "" if venv_missing or requirements_new else str(host.get_fact(Command, command=pip_command(v, dry=True)
                                                                              + " 2>&1 || true") or "")
    if venv_missing or requirements_new or "Would install" in would:
        server.shell(name="OP-01 | Runtime packages installed from the wheelhouse only (no package index)",
                     commands=[pip_command(v)])
    put("OP-01", "Program of the services (baseline ARGS, the vault password from the systemd credential)",
        deploy.Managed(f"{root}/bin/{v['management_program']}", deploy.render(ROLE, "baseline-scheduled.sh.j2", v),
                       mode="755"))

    # access to the hosts
    key = deploy.Managed(f"{data}/.ssh/id_ed25519", key_file.read_text(encoding="utf-8"), mode="600", user=user,
                         group=user, secret=True)
    if deploy.differs(key):
        deploy.put_secret("OP-01 | The automation key, readable by the account only", key.content, key.path,
                          mode="600", user=user, group=user)
    put("OP-01", "Host keys of the inventory's hosts (known_hosts)",
        deploy.Managed(f"{conf}/known_hosts", Path(v["management_known_hosts_file"]).read_text(encoding="utf-8"),
                       group=user))
    values = {**v, "management_ssh_hosts": ssh_hosts(inv_dir, v["management_ssh_hosts_pattern"])}
    put("OP-01", "SSH client config of the timers (automation account, its key, pinned host keys)",
        deploy.Managed(f"{conf}/ssh_config", deploy.render(ROLE, "ssh_config.j2", values), mode="640", group=user))
    source = Path(v["management_inventory_source"])
    found = inventory_files(source)
    for sub in ["", *sorted({str(p.parent) for p in found if str(p.parent) != "."})]:
        deploy.directory(f"OP-01 | Inventory directories: {sub or '.'}", f"{conf}/inventory/{sub}".rstrip("/"),
                         group=user, mode="750")
    for rel in found:
        put("OP-01", f"Inventory of the timers (the site's; vaulted values stay vaulted): {rel}",
            deploy.Managed(f"{conf}/inventory/{rel}", (source / rel).read_text(encoding="utf-8"), mode="640", group=user))
    password = subprocess.run([v["management_vault_password_command"]], capture_output=True, text=True,
                              check=False).stdout.strip()
    vault = deploy.Managed(f"{conf}/{v['management_vault_credential']}", password + "\n", mode="400", secret=True)
    if deploy.differs(vault):
        deploy.put_secret("OP-01 | Vault password for the timers' credential (root only; delivered by systemd, never "
                          "in a unit)", vault.content, vault.path, mode="400")

    # the timers
    units = deploy.install(
        "OP-01", "services and timers of the inspection and the verification (verified before they are installed)",
        [deploy.Managed(f"{UNIT_DIR}/{unit}", deploy.render(ROLE, f"{unit}.j2", v), validate=UNIT_VALIDATE + shlex.quote(unit))
         for unit in v["management_unit_files"]])
    for timer in v["management_timers"]:
        service_on(f"OP-01 | Timers enabled and started (daily inspection; scheduled verification, CM-01): {timer}",
                   timer, reload=units)


def put(control: str, what: str, item: deploy.Managed) -> bool:
    """A plain file as Ansible's template and copy modules write it; whether it changes is decided from the prepare's
    facts."""
    if not deploy.differs(item):
        return False
    files.put(name=f"{control} | {what}", src=StringIO(item.content), dest=item.path, user=item.user, group=item.group,
              mode=item.mode)
    return True


def deploy_put(control: str, what: str, dest: str, content: bytes, mode: str = "644") -> None:
    """A binary file (a wheel) where the host's differs in bytes, owner or mode."""
    info = host.get_fact(File, path=dest)
    same = (info and host.get_fact(Sha256File, path=dest) == hashlib.sha256(content).hexdigest()
            and str(info.get("mode")).lstrip("0") == mode.lstrip("0") and info.get("user") == "root"
            and info.get("group") == "root")
    if not same:
        files.put(name=f"{control} | {what}", src=BytesIO(content), dest=dest, user="root", group="root", mode=mode)


def service_on(name: str, unit: str, *, reload: bool = False) -> None:
    """Ansible's systemd_service enabled: true, state: started (daemon_reload where a unit file changed)."""
    found = str(host.get_fact(Command, command=f"echo enabled=$(systemctl is-enabled {unit} 2>/dev/null || true) "
                                               f"active=$(systemctl is-active {unit} 2>/dev/null || true)") or "")
    words = found.split()
    commands = ["systemctl daemon-reload"] if reload else []
    if "enabled=enabled" not in words:
        commands.append(f"systemctl enable {unit}")
    if "active=active" not in words:
        commands.append(f"systemctl start {unit}")
    if commands:
        server.shell(name=name, commands=commands)


deploy.check_preflight()
if deploy.targets(HOSTS):  # the integrity snapshot and the settle part bracket the role, as in management.yml
    deploy.include("integrity_snapshot", snapshot_hosts=HOSTS)
    main()
    deploy.include("settle", settle_hosts=HOSTS)
deploy.finish()
