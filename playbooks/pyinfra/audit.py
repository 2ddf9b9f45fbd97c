"""pyinfra deploy of roles/audit (AU-01, AU-02, AU-03, AU-04, AU-05, IN-01, CF-01): the same files, bytes, modes,
packages and services as the Ansible role, in the same order, from the role's own templates, files and data.

    pyinfra inventory/lab/pyinfra_inventory.py playbooks/pyinfra/audit.py [--limit HOST] [--dry]

Container hosts (linux_servers:!kernel_hosts) get the whole role; kernel hosts (kernel_hosts, the lab's VM) get the
kernel-level part only (auditd and its rules, and the clock: chrony), as the two plays of playbooks/linux.yml give
them. What the role's handlers do runs at the end of this deploy, in the order of roles/audit/handlers/main.yml, and
only where a change of this run asks for it: every decision is taken from the host's state when pyinfra prepares the
run.
"""

from __future__ import annotations

import json
import runpy
import shlex
from io import StringIO
from pathlib import Path
from typing import Any

from pyinfra import host
from pyinfra.facts.deb import DebPackages
from pyinfra.facts.files import File
from pyinfra.facts.server import Command
from pyinfra.operations import apt, files, server

from baseline import pyinfra_deploy as deploy

ROLE = "audit"
CONTAINER_HOSTS = "linux_servers:!kernel_hosts"
KERNEL_HOSTS = "kernel_hosts"
ROLE_DIR = deploy.ROLES / ROLE
LOG_PERMISSIONS = str(Path(__file__).with_name("log_permissions.py"))
APT_CACHE_SECONDS = 3600

# Ansible's lineinfile with `regexp` and `line` (state present, no backrefs, no insert position), run by the
# host's python3: the last line the expression matches becomes `line`; without a match `line` is appended.
# "check" prints yes/no (a missing file is "yes": its package arrives in this run), "apply" edits in place.
LINEINFILE = r"""
import json, os, re, sys
mode, path, edits = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
if not os.path.exists(path):
    if mode == "check":
        print("yes")
        sys.exit(0)
    sys.exit(path + ": missing (its package should have made it)")
with open(path, "rb") as f:
    lines = f.readlines()
before = list(lines)
for regexp, line in edits:
    pattern = re.compile(regexp.encode())
    new = line.encode() + b"\n"
    found = [n for n, cur in enumerate(lines) if pattern.search(cur)]
    if found:
        lines[found[-1]] = new
    else:
        if lines and lines[-1][-1:] not in (b"\n", b"\r"):
            lines.append(b"\n")
        lines.append(new)
if mode == "check":
    print("yes" if lines != before else "no")
elif lines != before:
    with open(path, "r+b") as f:
        f.write(b"".join(lines))
        f.truncate()
"""


def role_values(role: str, prefix: str, facts: dict[str, Any] | None = None) -> dict[str, Any]:
    """The role's values for this host (deploy.values: defaults < inventory < vars, Jinja resolved, secrets left
    as data); `prefix` names the role's own variables."""
    del prefix
    return deploy.values(role, facts=facts)


def truthy(value: Any) -> bool:
    """A switch as Ansible reads it (booleans, or the text a resolved expression gives)."""
    if isinstance(value, str):
        return value.strip().lower() in ("true", "yes", "on", "1")
    return bool(value)


def role_file(name: str) -> str:
    return (ROLE_DIR / "files" / name).read_text(encoding="utf-8")


def put(control: str, what: str, item: deploy.Managed) -> bool:
    """A plain file as Ansible's template/copy writes it; whether it changes is decided from the prepare's facts."""
    changed = deploy.differs(item)
    files.put(name=f"{control} | {what}", src=StringIO(item.content), dest=item.path, user=item.user,
              group=item.group, mode=item.mode)
    return changed


_refreshed: set[str] = set()


def packages(control: str, what: str, names: list[str]) -> None:
    """apt install with the index refreshed (cache valid an hour) only when a package is missing: a host with the
    packages present gets no operation, as Ansible's apt module reports no change there."""
    installed = host.get_fact(DebPackages) or {}
    missing = [n for n in names if n not in installed]
    refresh = bool(missing) and host.name not in _refreshed
    if refresh:
        _refreshed.add(host.name)
    apt.packages(name=f"{control} | {what}", packages=names, present=True, update=refresh,
                 cache_time=APT_CACHE_SECONDS if refresh else None)


def lineinfile(control: str, what: str, path: str, edits: list[tuple[str, str]]) -> bool:
    argv = [json.dumps([list(edit) for edit in edits])]
    program = f"python3 -c {shlex.quote(LINEINFILE)}"
    needed = host.get_fact(Command, command=f"{program} check {shlex.quote(path)} {shlex.quote(argv[0])}")
    if str(needed).strip() != "yes":
        return False
    server.shell(name=f"{control} | {what}",
                 commands=[f"{program} apply {shlex.quote(path)} {shlex.quote(argv[0])}"])
    return True


def unit_state(unit: str) -> tuple[bool, bool]:
    """(enabled, active) of a systemd unit, read while pyinfra prepares (no service manager: neither)."""
    found = str(host.get_fact(Command, command=f"echo enabled=$(systemctl is-enabled {unit} 2>/dev/null || true) "
                                               f"active=$(systemctl is-active {unit} 2>/dev/null || true)") or "")
    words = found.split()
    return "enabled=enabled" in words, "active=active" in words


def service_on(name: str, unit: str, *, start: bool = True, reload: bool = False) -> bool:
    """Ansible's systemd_service enabled: true (and state: started; daemon_reload where a unit file of this run
    changed): only the commands the unit's state needs. Returns whether the unit is started by this run."""
    enabled, active = unit_state(unit)
    commands = ["systemctl daemon-reload"] if reload else []
    if not enabled:
        commands.append(f"systemctl enable {unit}")
    if start and not active:
        commands.append(f"systemctl start {unit}")
    if commands:
        server.shell(name=name, commands=commands)
    return start and not active


def auditd(v: dict[str, Any], notify: set[str]) -> None:
    """AU-01, AU-03, AU-05 on a host with its own kernel (tasks/auditd.yml)."""
    if v["host_kind"] == "container":
        # AU-01/AU-05 not applied: the kernel refuses audit from a non-initial PID namespace (nothing to do).
        return
    packages("AU-01", "Install auditd and its plugins", v["audit_auditd_packages"])
    # The role finds the privileged programs present (audit_privileged_present), but its rules template lists
    # audit_privileged_commands: the rendered bytes depend on that list only.
    # the package brings it: where auditd arrives in this run, the file is there by the time this operation runs
    default_rules = "/etc/audit/rules.d/audit.rules"
    if host.get_fact(File, path=default_rules) or "auditd" not in (host.get_fact(DebPackages) or {}):
        notify.add("rules")
        server.shell(name="AU-01 | The distribution's default rules file (replaced by the baseline's)",
                     commands=[f"rm -f {default_rules}"])
    if put("AU-01", "Audit rules (identity, privileged commands, logins, time, modules, permissions, deletions)",
           deploy.Managed("/etc/audit/rules.d/50-baseline.rules", deploy.render(ROLE, "audit.rules.j2", v),
                          mode="640")):
        notify.add("rules")
    settings = [(f"^{s['key']}\\s*=", f"{s['key']} = {s['value']}") for s in v["audit_auditd_settings"]]
    if lineinfile("AU-03", "auditd log handling (keep logs, warn then suspend on a full disk)",
                  "/etc/audit/auditd.conf", settings):
        notify.add("auditd")
    if lineinfile("AU-03", "Audit records also go to syslog (and so to the log server)",
                  "/etc/audit/plugins.d/syslog.conf", [("^active\\s*=", "active = yes")]):
        notify.add("auditd")
    files.directory(name="AU-05 | Directory for the auditd unit drop-in", path="/etc/systemd/system/auditd.service.d",
                    present=True, user="root", group="root", mode="755")
    dropin = put("AU-05", "auditd restarts when it dies",
                 deploy.Managed("/etc/systemd/system/auditd.service.d/50-baseline.conf",
                                role_file("auditd-restart.conf")))
    if dropin:
        notify.add("auditd")
    service_on("AU-01 | auditd enabled and running", "auditd.service", reload=dropin)


def time(v: dict[str, Any], notify: set[str]) -> None:
    """AU-02 (tasks/time.yml)."""
    packages("AU-02", "Install chrony", v["audit_time_packages"])
    if put("AU-02", "chrony uses only the platform's time sources",
           deploy.Managed("/etc/chrony/chrony.conf", deploy.render(ROLE, "chrony.conf.j2", v))):
        notify.add("chrony")
    serve_only = truthy(v["audit_time_serve_only"])
    dropin = False
    if serve_only:
        files.directory(name="AU-02 | Directory for the chrony unit drop-in (a time source in a container)",
                        path="/etc/systemd/system/chrony.service.d", present=True, user="root", group="root",
                        mode="755")
        dropin = put("AU-02", "A time source in a container serves the clock it may not set (chronyd -x)",
                     deploy.Managed("/etc/systemd/system/chrony.service.d/50-baseline-serve-only.conf",
                                    role_file("chrony-serve-only.conf")))
        if dropin:
            notify.add("chrony")
    # a container lacks CAP_SYS_TIME: its chronyd stays down (the unit's condition) unless it serves time (above)
    service_on("AU-02 | chrony enabled, and running where it may", "chrony.service",
               start=truthy(v["audit_time_runs"]), reload=dropin)


def local_logs(v: dict[str, Any], notify: set[str]) -> None:
    """AU-03, AU-04 (tasks/local_logs.yml)."""
    packages("AU-03", "Install rsyslog and logrotate", v["audit_local_log_packages"])
    files.directory(name="AU-03 | Directory for the journald drop-in", path="/etc/systemd/journald.conf.d",
                    present=True, user="root", group="root", mode="755")
    if put("AU-03", "journald persistent, bounded by space only, handed to rsyslog",
           deploy.Managed("/etc/systemd/journald.conf.d/50-baseline.conf",
                          deploy.render(ROLE, "journald.conf.j2", v))):
        notify.add("journald")
    put("AU-04", "Local logs rotated daily and kept for the retention period",
        deploy.Managed("/etc/logrotate.d/rsyslog", deploy.render(ROLE, "logrotate-rsyslog.j2", v)))
    if put("AU-03", "Login records (wtmp, btmp, the release's login databases) not readable by other users, also "
           "when created at boot", deploy.Managed("/etc/tmpfiles.d/00-baseline-logs.conf",
                                                  deploy.render(ROLE, "tmpfiles-logs.conf.j2", v))):
        server.shell(name="AU-03 | Login records made or set now, not at the next boot",
                     commands=["systemd-tmpfiles --create /etc/tmpfiles.d/00-baseline-logs.conf"])
    for item in v["audit_login_record_logs"]:
        put("AU-03", f"Login records not readable by other users after rotation: {item}",
            deploy.Managed(f"/etc/logrotate.d/{item}",
                           deploy.render(ROLE, "logrotate-login-record.j2", {**v, "item": item})))
    put("AU-03", "Logs written by package runs kept from other users (apt, dpkg and maintainer scripts create "
        "them 0644)", deploy.Managed("/etc/apt/apt.conf.d/99-baseline-logs", role_file("apt-logs.conf")))
    # the same deploy file linux.py runs again at the end of the server baseline (its operations named as here)
    runpy.run_path(LOG_PERMISSIONS, run_name="log_permissions_in_audit")["main"]()
    service_on("AU-03 | rsyslog enabled and running", "rsyslog.service")


def forwarding(v: dict[str, Any], notify: set[str]) -> None:
    """AU-03, IN-01, CF-01 (tasks/forwarding.yml): the drop-in is validated by rsyslogd before it is installed."""
    packages("AU-03", "Install the TLS driver of rsyslog", v["audit_forwarding_packages"])
    if deploy.install("AU-03", "rsyslog forwarding of every record to the log server over TLS (IN-01, CF-01)",
                      [deploy.Managed("/etc/rsyslog.d/50-baseline-forward.conf",
                                      deploy.render(ROLE, "rsyslog-forward.conf.j2", v), mode="640",
                                      validate="rsyslogd -N1 -f {path}")]):
        notify.add("rsyslog")


def handlers(v: dict[str, Any], notify: set[str]) -> None:
    """roles/audit/handlers/main.yml, in its order, for what this run changed."""
    if "rules" in notify:
        # Level 3 makes the loaded rules immutable (-e 2): then the new rules apply from the next boot.
        server.shell(name="AU-01 | Load audit rules",
                     commands=['out=$(augenrules --load 2>&1) || { case "$out" in *immutable*) ;; '
                               '*) echo "$out" >&2; exit 1 ;; esac; }'])
    if "auditd" in notify:
        # auditd refuses a restart through systemctl (RefuseManualStop=yes); its init script is the supported way.
        server.shell(name="AU-05 | Restart auditd", commands=["service auditd restart"])
    if "rsyslog" in notify:
        server.shell(name="AU-03 | Restart rsyslog", commands=["systemctl restart rsyslog"])
    if "journald" in notify:
        server.shell(name="AU-03 | Restart journald", commands=["systemctl restart systemd-journald"])
    if "chrony" in notify and truthy(v["audit_time_runs"]):
        server.shell(name="AU-02 | Restart chrony", commands=["systemctl restart chrony"])


def main() -> None:
    if deploy.targets(CONTAINER_HOSTS):
        play: dict[str, Any] = {}
    elif deploy.targets(KERNEL_HOSTS):
        play = {"audit_kernel_only": True}  # the kernel hosts' play passes it to the role
    else:
        return
    v = role_values(ROLE, "audit_", facts=play)
    kernel_only = truthy(v["audit_kernel_only"])
    notify: set[str] = set()
    if truthy(v["audit_manage_auditd"]):
        auditd(v, notify)
    if truthy(v["audit_manage_time"]):  # the clock is the kernel's: kernel hosts keep it too
        time(v, notify)
    if truthy(v["audit_manage_local_logs"]) and not kernel_only:
        local_logs(v, notify)
    if truthy(v["audit_manage_forwarding"]) and truthy(v["audit_forward"]) and not kernel_only:
        forwarding(v, notify)
    handlers(v, notify)


deploy.check_preflight()
main()
deploy.finish()
