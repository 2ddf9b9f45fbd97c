"""pyinfra deploy of roles/hardening (IP-01..IP-05, RI-01, AC-04): the same data, templates, files, modes and order
as the Ansible role, decided from the host's facts when pyinfra prepares the run (a second run has no operation).

    pyinfra inventory/lab/pyinfra_inventory.py playbooks/pyinfra/hardening.py [--limit HOST] [--dry]

Hosts of `linux_servers:!kernel_hosts` get the whole role; `kernel_hosts` (the VM) get the kernel-level part only,
as in playbooks/linux.yml (hardening_kernel_only): the kernel sysctls, the blocked kernel modules and process
accounting (on the host's own kernel only).
"""

from __future__ import annotations

import base64
import importlib.util
import re
import shlex
import sys
import types
from collections.abc import Callable
from io import StringIO
from typing import Any

from pyinfra import host
from pyinfra.facts.deb import DebPackages
from pyinfra.facts.files import Directory, File
from pyinfra.facts.server import Command, Sysctl
from pyinfra.operations import apt, files, server

from baseline import REPO_ROOT
from baseline import pyinfra_deploy as deploy
from baseline.linux import services_for

ROLE = "hardening"
NET_FILE = "/etc/sysctl.d/99-zz-baseline-net.conf"
KERNEL_FILE = "/etc/sysctl.d/99-zz-baseline-kernel.conf"
NFT_CONF = "/etc/nftables.conf"
# What the lockout rollback runs after putting the previous ruleset back (as roles/hardening/tasks/firewall.yml).
NFT_LOAD = "sh -c 'if [ -e /etc/nftables.conf ]; then nft -f /etc/nftables.conf; else nft flush ruleset; fi'"
APPROVE_PROGRAM = "/usr/local/sbin/baseline-aide-approve"
AIDE_CONFIG = "/etc/aide/baseline.conf"
SYSSTAT_CONFIG = "/etc/sysstat/sysstat"
# systemd-analyze verify reads a unit only under its own name: the candidate is checked as such in a scratch directory.
UNIT_VALIDATE = ("sh -c 'd=$(mktemp -d) || exit 1; cp \"$1\" \"$d/$2\" && systemd-analyze verify \"$d/$2\"; rc=$?; "
                 "rm -rf \"$d\"; exit $rc' verify {path} ")
# The role's sysctl module (one call per file): its rules for how a value is written serve the deploy as well.
SYSCTL_MODULE = REPO_ROOT / "plugins" / "modules" / "baseline_sysctl.py"


def run_state() -> dict[str, Any]:
    """This run's integrity state of the host (kept across the deploy files of one pyinfra run, keyed by host)."""
    registry = sys.modules.setdefault("_baseline_integrity_run", types.ModuleType("_baseline_integrity_run"))
    hosts = registry.__dict__.setdefault("hosts", {})
    return hosts.setdefault(deploy.name(), {"integrity": False, "first_database": False})


def _trusted(value: Any) -> Any:
    from ansible.template import trust_as_template

    if isinstance(value, dict):
        return {k: _trusted(x) for k, x in value.items()}
    if isinstance(value, list):
        return [_trusted(x) for x in value]
    if type(value) is str and ("{{" in value or "{%" in value):
        return trust_as_template(value)
    return value


def role_values(*roles: str, facts: dict[str, Any] | None = None) -> dict[str, Any]:
    """The role's values for this host (deploy.values: defaults < inventory < vars, Jinja resolved)."""
    return deploy.values(*roles, facts=facts)


as_bool = deploy.as_bool  # Ansible's `bool` filter (the other deploys call it as helpers.as_bool)


def _sysctl_module() -> types.ModuleType:
    spec = importlib.util.spec_from_file_location("baseline_sysctl_module", SYSCTL_MODULE)
    assert spec and spec.loader, SYSCTL_MODULE
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# A value as the module writes it (booleans and yes/no as 1/0, text stripped), and the file it writes for a dict of
# settings (key=value per line, in order).
_SYSCTL = _sysctl_module()
sysctl_text: Callable[[Any], str] = _SYSCTL.sysctl_text
sysctl_file: Callable[[dict[str, Any]], str] = _SYSCTL.file_text


def net_sysctls(v: dict[str, Any]) -> dict[str, Any]:
    """Forwarding first (switching it resets per-interface settings), then hardening_sysctl_net."""
    forwarding = int(as_bool(v["hardening_ip_forwarding"]))
    items: dict[str, Any] = {"net.ipv4.ip_forward": forwarding, "net.ipv6.conf.all.forwarding": forwarding}
    items.update(v["hardening_sysctl_net"])
    return items


def live_differs(items: dict[str, Any]) -> list[str]:
    """Keys whose running value differs from the wanted one."""
    found = host.get_fact(Sysctl, keys=list(items)) or {}
    wrong = []
    for key, value in items.items():
        now = found.get(key)
        now_text = " ".join(str(x) for x in now) if isinstance(now, list) else ("" if now is None else str(now))
        if now_text.split() != sysctl_text(value).split():
            wrong.append(key)
    return wrong


def put(control: str, label: str, item: deploy.Managed) -> bool:
    """A plain file (no validation) where it differs; returns whether it is to change."""
    if not deploy.differs(item):
        return False
    files.put(name=f"{control} | {label}", src=StringIO(item.content), dest=item.path, user=item.user,
              group=item.group, mode=item.mode)
    return True


def directory(control: str, label: str, path: str, mode: str) -> None:
    info = host.get_fact(Directory, path=path)
    if (not info or str(info.get("mode")).lstrip("0") != mode.lstrip("0") or info.get("user") != "root"
            or info.get("group") != "root"):
        if not deploy.planned_before(path, ("directory", "root", "root", mode)):  # accounts makes the same one
            files.directory(name=f"{control} | {label}", path=path, user="root", group="root", mode=mode,
                            present=True)


def absent(control: str, label: str, path: str) -> None:
    if host.get_fact(File, path=path):
        files.file(name=f"{control} | {label}", path=path, present=False)


def file_text(path: str) -> str | None:
    """The file's exact text (None when it does not exist)."""
    q = shlex.quote(path)
    found = host.get_fact(Command, command=f"if [ -e {q} ]; then printf 'B64:'; base64 -w0 {q}; else echo missing; fi")
    found = "" if found is None else str(found)
    return base64.b64decode(found[4:]).decode() if found.startswith("B64:") else None


def lineinfile(text: str | None, regexp: str, line: str) -> str:
    """ansible.builtin.lineinfile with regexp and line: the last matching line is replaced, else the line is
    appended at the end."""
    lines = (text or "").splitlines(keepends=True)
    pattern = re.compile(regexp)
    index = -1
    for n, current in enumerate(lines):
        if pattern.search(current):
            index = n
    if index >= 0:
        lines[index] = line + "\n"
    else:
        if lines and not lines[-1].endswith(("\n", "\r")):
            lines[-1] += "\n"
        lines.append(line + "\n")
    return "".join(lines)


def installed() -> set[str]:
    return set(host.get_fact(DebPackages) or {})


def install_packages(control: str, label: str, names: list[str], *, no_recommends: bool = False) -> None:
    """apt state=present (update_cache with cache_valid_time 3600): only what is missing."""
    missing = [n for n in names if n not in installed()]
    if missing:
        apt.packages(name=f"{control} | {label}", packages=missing, present=True, update=True, cache_time=3600,
                     no_recommends=no_recommends)


def unit_state(unit: str) -> tuple[str, str]:
    """(is-enabled, is-active) of a systemd unit, as words ("" for a unit systemd does not know)."""
    out = host.get_fact(Command, command=f"echo \"enabled=$(systemctl is-enabled {unit} 2>/dev/null | head -n 1)\" "
                                         f"\"active=$(systemctl is-active {unit} 2>/dev/null | head -n 1)\"") or ""
    found = dict(word.split("=", 1) for word in out.split() if "=" in word)
    return found.get("enabled", ""), found.get("active", "")


def timer_on(control: str, label: str, unit: str, reload: bool) -> None:
    """enabled: true, state: started, daemon_reload (when a unit file changes)."""
    enabled, active = unit_state(unit)
    commands = ["systemctl daemon-reload"] if reload else []
    if enabled != "enabled":
        commands.append(f"systemctl enable {unit}")
    if active != "active":
        commands.append(f"systemctl start {unit}")
    if commands:
        server.shell(name=f"{control} | {label}", commands=commands)


def units(control: str, change: str, names: list[str], v: dict[str, Any]) -> bool:
    items = [deploy.Managed(f"/etc/systemd/system/{unit}", deploy.render(ROLE, f"{unit}.j2", v),
                            validate=UNIT_VALIDATE + unit) for unit in names]
    return deploy.install(control, change, items)


# --- the role's parts, in the order of roles/hardening/tasks/main.yml ------------------------------------------------

def sysctl_part(v: dict[str, Any], kernel_only: bool) -> None:
    for path in v["hardening_sysctl_former_files"]:
        absent("IP-03", f"Former names of the baseline's sysctl files are gone: {path}", path)
    if not kernel_only:
        items = net_sysctls(v)
        wanted = deploy.Managed(NET_FILE, sysctl_file(items))
        # the file written, then every value set (sysctl_set, reload), forwarding first
        if deploy.differs(wanted):
            deploy.install("IP-03", "network parameters (per network namespace)", [wanted],
                           then=[f"sysctl -q -p {NET_FILE}"])
        elif live_differs(items):
            server.shell(name="IP-03 | Network parameters (per network namespace) set",
                         commands=[f"sysctl -q -p {NET_FILE}"])
    kernel = v["hardening_sysctl_kernel"]
    wanted = deploy.Managed(KERNEL_FILE, sysctl_file(kernel))
    own_kernel = v.get("host_kind") != "container"
    if v.get("host_kind") == "container":
        print(f"{deploy.name()}: kernel.*/fs.* sysctls written to {KERNEL_FILE} but not set: container host, the "
              "kernel is shared and read-only there.")
    if deploy.differs(wanted):
        deploy.install("RI-01", "kernel self-protection parameters", [wanted],
                       then=[f"sysctl -q -p {KERNEL_FILE}"] if own_kernel else [])
    elif own_kernel and live_differs(kernel):
        server.shell(name="RI-01 | Kernel self-protection, no core dumps of privileged programs (set)",
                     commands=[f"sysctl -q -p {KERNEL_FILE}"])


def modules_part(v: dict[str, Any]) -> None:
    directory("IP-01", "Directory of modprobe's configuration", "/etc/modprobe.d", "755")
    put("IP-01", "Kernel modules not needed on a server are blocked",
        deploy.Managed("/etc/modprobe.d/50-baseline.conf", deploy.render(ROLE, "modprobe-blocked.conf.j2", v)))


def accounting_part(v: dict[str, Any]) -> None:
    """tasks/accounting.yml: process accounting where the kernel is the host's own (CAP_SYS_PACCT)."""
    if v.get("host_kind") == "container":
        print(f"{deploy.name()}: process accounting not applied: container host; it needs the host's own kernel.")
        return
    install_packages("AU-01", "Install acct", v["hardening_accounting_packages"])
    timer_on("AU-01", "Process accounting enabled and running", "acct.service", False)


def packages_part(v: dict[str, Any]) -> None:
    present = [n for n in v["hardening_forbidden_packages"] if n in installed()]
    if present:
        apt.packages(name="IP-01 IA-05 | Remove forbidden packages (clear-text remote access, FTP, NIS, ...)",
                     packages=present, present=False, purge=True)


def known_services(v: dict[str, Any]) -> set[str]:
    """The service units systemd knows, without `.service`: the role's listing (hardening_units_listing), each line's
    unit name (hardening_unit_name_pattern), as roles/hardening/tasks/services.yml reads it."""
    listing, pattern = v["hardening_units_listing"], v["hardening_unit_name_pattern"]
    out = host.get_fact(Command, command=f"{{ {listing}; }} 2>/dev/null || true") or ""
    names = (re.sub(pattern, r"\1", line) for line in out.splitlines())
    return {name.removesuffix(".service") for name in names if name.endswith(".service")}


packages_arriving = deploy.packages_arriving


def services_part(v: dict[str, Any]) -> None:
    present = known_services(v)
    unknown = [service for service in v["hardening_masked_services"] if service not in present]
    if unknown and packages_arriving():
        # not there when the run was prepared, but packages this run installs first may bring them
        server.shell(name="IP-02 | Services the packages of this run bring stay off (masked and stopped if present)",
                     commands=[f"if systemctl cat {s}.service >/dev/null 2>&1; then systemctl disable {s} && "
                               f"systemctl mask {s} && systemctl stop {s}; fi" for s in unknown])
    for service in v["hardening_masked_services"]:
        if service not in present:
            continue
        enabled, active = unit_state(service)
        commands = []
        if enabled != "masked":  # disabled first, as Ansible's enabled: false: a mask keeps the wants links
            commands += [f"systemctl disable {service}", f"systemctl mask {service}"]
        if active in ("active", "activating", "reloading"):
            commands.append(f"systemctl stop {service}")
        if commands:
            server.shell(name=f"IP-02 | Disable and mask services that are not needed: {service}", commands=commands)


def firewall_part(v: dict[str, Any]) -> None:
    install_packages("IP-03", "Install nftables", v["hardening_firewall_packages"])
    inbound = services_for(v["server_inbound_services"], v["group_names"])
    if not [s for s in inbound if str(s.get("port")) == "22"]:
        print(f"No inbound SSH rule for {deploy.name()} in server_inbound_services: the run would lock itself out.",
              file=sys.stderr)
        raise SystemExit(deploy.EXIT_REFUSED)
    ruleset = deploy.render(ROLE, "nftables.conf.j2", {**v, "hardening_inbound": inbound})
    deploy.install("IP-03", "firewall ruleset",
                   [deploy.Managed(NFT_CONF, ruleset, mode="600", validate="nft -c -f {path}")],
                   then=[NFT_LOAD], guard=True)
    timer_on("IP-03", "nftables enabled and running", "nftables", False)


def updates_part(v: dict[str, Any]) -> None:
    # without recommends, as the role: cron's recommends bring a mail transport agent (exim4) nothing here uses
    install_packages("IP-04", "Install unattended-upgrades and cron", v["hardening_updates_packages"],
                     no_recommends=True)
    for path in v["hardening_updates_logs"]:
        info = host.get_fact(File, path=path)
        if not info or str(info.get("mode")).lstrip("0") != "640" or (info.get("user"), info.get("group")) != ("root", "adm"):
            files.file(name="IP-04 | Logs of unattended-upgrades readable by root and adm only, made before its first run",
                       path=path, user="root", group="adm", mode="640", present=True, touch=False)
    put("IP-04", "Security updates installed automatically",
        deploy.Managed("/etc/apt/apt.conf.d/52baseline-unattended-upgrades",
                       deploy.render(ROLE, "unattended-upgrades.conf.j2", v)))
    directory("IP-04", "State directory", v["hardening_state_dir"], "750")
    put("IP-04", "Report of pending updates",
        deploy.Managed("/usr/local/sbin/baseline-pending-updates", deploy.render(ROLE, "pending-updates.sh.j2", v),
                       mode="755"))
    changed = units("IP-04", "service and timer of the daily report of pending updates",
                    v["hardening_updates_unit_files"], v)
    timer_on("IP-04", "Report pending updates daily (timer enabled and started)",
             "baseline-pending-updates.timer", changed)
    absent("IP-04", "The former cron entry of the report is gone (the timer replaces it)",
           "/etc/cron.d/baseline-pending-updates")
    # the setting (list, never restart) is in place before the package, whose apt hook runs after every dpkg run
    directory("IP-04", "Drop-in directory of needrestart", "/etc/needrestart/conf.d", "755")
    put("IP-04", "needrestart lists the services running replaced libraries and restarts none",
        deploy.Managed("/etc/needrestart/conf.d/50-baseline.conf", deploy.render(ROLE, "needrestart.conf.j2", v)))
    install_packages("IP-04", "Install needrestart", v["hardening_needrestart_packages"])


def integrity_part(v: dict[str, Any]) -> None:
    state = run_state()
    state["integrity"] = True
    install_packages("IP-05", "Install AIDE and debsums", v["hardening_integrity_packages"], no_recommends=True)
    put("IP-05", "AIDE configuration of the baseline",
        deploy.Managed(AIDE_CONFIG, deploy.render(ROLE, "aide.conf.j2", v), mode="600"))
    approve = deploy.ROLES / ROLE / "files" / "baseline-aide-approve"
    put("IP-05", "Approvals of the integrity database (only what a run changed, or what an administrator names)",
        deploy.Managed(APPROVE_PROGRAM, approve.read_text(encoding="utf-8"), mode="755"))
    db = v["hardening_aide_db"]
    former = v["hardening_aide_former_db"]
    moving = former != db and bool(host.get_fact(File, path=former))
    if moving:
        # the approved database of a host converging from the former path, moved once (before the first-run build)
        server.shell(name="IP-05 | The approved database moves from its former path (once)",
                     commands=[f"mv -f {former} {db}",
                               f"if [ -e {former}.pre-run ]; then mv -f {former}.pre-run {db}.pre-run; fi"])
    for path in v["hardening_aide_former_files"]:
        absent("IP-05", f"Leftovers of the former database are gone: {path}", path)
    if not moving and not host.get_fact(File, path=db):
        state["first_database"] = True
        server.shell(name="IP-05 | Build the AIDE database (first run only; later runs approve what they changed)",
                     commands=[f"set -e; aide --config {AIDE_CONFIG} --init >/dev/null; mv {db}.new {db}; "
                               f"chmod 0600 {db}"])
    put("IP-05", "Daily integrity check script",
        deploy.Managed("/usr/local/sbin/baseline-aide-check", deploy.render(ROLE, "aide-check.sh.j2", v), mode="755"))
    changed = units("IP-05", "service and timer of the daily integrity check", v["hardening_aide_unit_files"], v)
    timer_on("IP-05", "Run the integrity check daily (timer enabled and started)", "baseline-aide.timer", changed)
    absent("IP-05", "The former cron entry of the check is gone (the timer replaces it)", "/etc/cron.d/baseline-aide")
    enabled, _ = unit_state("dailyaidecheck.timer")
    # the unit arrives with aide-common: when that is installed by this run, the timer is there to mask then
    arrives = "aide-common" in v["hardening_integrity_packages"] and "aide-common" not in installed()
    if enabled != "masked" and (enabled or arrives):
        # failed_when: false in the role: a host without the unit is not an error
        server.shell(name="IP-05 | The distribution's own daily AIDE timer is replaced by the baseline's check",
                     commands=["systemctl disable dailyaidecheck.timer >/dev/null 2>&1 || true",
                               "systemctl mask dailyaidecheck.timer >/dev/null 2>&1 || true"])


def residual_part(v: dict[str, Any]) -> None:
    put("RI-01", "No core dumps (limits)",
        deploy.Managed("/etc/security/limits.d/50-baseline.conf", deploy.render(ROLE, "limits-core.conf.j2", v)))
    directory("RI-01", "Directory for the systemd-coredump drop-in", "/etc/systemd/coredump.conf.d", "755")
    put("RI-01", "No core dumps kept by systemd-coredump",
        deploy.Managed("/etc/systemd/coredump.conf.d/50-baseline.conf", deploy.render(ROLE, "coredump.conf.j2", v)))
    put("RI-01", "/tmp and /var/tmp emptied at boot and of old files",
        deploy.Managed("/etc/tmpfiles.d/tmp.conf", deploy.render(ROLE, "tmpfiles-tmp.conf.j2", v)))
    for item in v["hardening_cron_modes"]:
        path, mode = item["path"], str(item["mode"])
        info = host.get_fact(File, path=path) or host.get_fact(Directory, path=path)
        # missing when preparing: cron arrives with its package earlier in this run (as in the role, the operation
        # fails where the path is still missing then)
        if (not info or str(info.get("mode")).lstrip("0") != mode.lstrip("0") or info.get("user") != "root"
                or info.get("group") != "root"):
            server.shell(name=f"AC-04 | cron configuration readable by root only: {path}",
                         commands=[f"chown root:root {path}", f"chmod {mode} {path}"])


def tmpdir_part(v: dict[str, Any]) -> None:
    """tasks/tmpdir.yml: pam_tmpdir installed and in the session stacks (lineinfile)."""
    install_packages("RI-01", "Install pam_tmpdir (a private temporary directory per user)",
                     v["hardening_tmpdir_packages"])
    for path in v["hardening_tmpdir_pam_files"]:
        before = file_text(path)
        after = lineinfile(before, r"^\s*session\s+\S+\s+pam_tmpdir\.so", "session\toptional\tpam_tmpdir.so")
        if before != after:
            info = host.get_fact(File, path=path) or {}
            files.put(name=f"RI-01 | Every session gets its own temporary directory (pam_tmpdir in the session "
                           f"stacks): {path}", src=StringIO(after), dest=path, user=info.get("user") or "root",
                      group=info.get("group") or "root", mode=str(info.get("mode") or "644"))


def activity_part(v: dict[str, Any]) -> None:
    """tasks/activity.yml: sysstat installed, its switch on, its units enabled and started."""
    install_packages("OP-01", "Install sysstat", v["hardening_activity_packages"])
    umask_line = "UMASK=" + str(v["hardening_activity_umask"])
    before = file_text(SYSSTAT_CONFIG)
    label = "OP-01 AU-03 | The activity history readable by root and adm only (sysstat's umask)"
    if before is None:
        # the file arrives with the package this run installs: the line is set on the host, as lineinfile would
        server.shell(name=label, commands=[
            f"if grep -q '^UMASK=' {SYSSTAT_CONFIG}; then sed -i 's/^UMASK=.*/{umask_line}/' {SYSSTAT_CONFIG}; "
            f"else echo '{umask_line}' >> {SYSSTAT_CONFIG}; fi"])
    else:
        after = lineinfile(before, r"^UMASK=", umask_line)
        if after != before:
            info = host.get_fact(File, path=SYSSTAT_CONFIG) or {}
            files.put(name=label, src=StringIO(after), dest=SYSSTAT_CONFIG, user=info.get("user") or "root",
                      group=info.get("group") or "root", mode=str(info.get("mode") or "644"))
    put("OP-01", "sysstat collects (its switch, kept by the package's upgrades)",
        deploy.Managed("/etc/default/sysstat", deploy.render(ROLE, "sysstat-default.j2", v)))
    for unit in v["hardening_activity_units"]:
        timer_on("OP-01", f"Activity collected every 10 minutes and summarised daily: {unit}", unit, False)


def apply() -> None:
    full = deploy.targets("linux_servers:!kernel_hosts")
    kernel_host = deploy.targets("kernel_hosts")
    if not (full or kernel_host):
        return
    v = role_values("lockout_guard", ROLE, facts={"hardening_kernel_only": True} if kernel_host else None)
    if host.data.get("hardening_tasks") == "services":
        # tasks_from: services (settle.py): the role's switches are not consulted, as with include_role
        if full:
            services_part(v)
        return
    kernel_only = as_bool(v["hardening_kernel_only"])
    if as_bool(v["hardening_manage_sysctl"]):
        sysctl_part(v, kernel_only)
    if as_bool(v["hardening_manage_modules"]):
        modules_part(v)
    if as_bool(v["hardening_manage_accounting"]):
        accounting_part(v)
    if kernel_only:
        return
    if as_bool(v["hardening_manage_packages"]):
        packages_part(v)
    if as_bool(v["hardening_manage_services"]):
        services_part(v)
    if as_bool(v["hardening_manage_firewall"]):
        firewall_part(v)
    if as_bool(v["hardening_manage_updates"]):
        updates_part(v)
    if as_bool(v["hardening_manage_integrity"]):
        integrity_part(v)
    if as_bool(v["hardening_manage_residual"]):
        residual_part(v)
    if as_bool(v["hardening_manage_tmpdir"]):
        tmpdir_part(v)
    if as_bool(v["hardening_manage_activity"]):
        activity_part(v)


if __name__ != "baseline_pyinfra_helpers":  # loaded by the unit tests under that name: no host, no operation
    deploy.check_preflight()
    apply()
    deploy.finish()
