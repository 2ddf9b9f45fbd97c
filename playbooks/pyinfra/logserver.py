"""pyinfra deploy of roles/logserver (AU-03, AU-04, IN-01, CF-01, NW-05) on the log servers (log_servers): the same
packages, directories, files, bytes, modes and services as the Ansible role, in the same order, from the role's
templates and data.

    pyinfra inventory/lab/pyinfra_inventory.py playbooks/pyinfra/logserver.py [--limit HOST] [--dry]

The play gathers facts, but no template of the role reads one: the role's values and the inventory's are all the
templates need. Decisions are taken from the host's state when pyinfra prepares the run, so a second run has no
operation and `--dry` lists what the real run does. The rsyslog restart (the role's handler, flushed before the
listener check) runs where the configuration changes; the listener check then follows the restart.
"""

from __future__ import annotations

import shlex
from io import StringIO
from typing import Any

from pyinfra import host
from pyinfra.facts.deb import DebPackages
from pyinfra.facts.server import Command
from pyinfra.operations import apt, files, server

from baseline import pyinfra_deploy as deploy

ROLE = "logserver"
HOSTS = "log_servers"
APT_CACHE_SECONDS = 3600
UNIT_DIR = "/etc/systemd/system"
OLD_CRON_ENTRY = "/etc/cron.d/baseline-logspace"
# systemd-analyze verify reads a unit only under its own name: the candidate is checked as such in a scratch
# directory (the same command as the Ansible task's validate; {path} is the staged copy).
UNIT_VALIDATE = ("sh -c 'd=$(mktemp -d) || exit 1; cp \"$1\" \"$d/$2\" && systemd-analyze verify \"$d/$2\"; rc=$?; "
                 "rm -rf \"$d\"; exit $rc' verify {path} ")
LISTEN_TRIES = 10


def role_values(role: str, prefix: str, facts: dict[str, Any] | None = None) -> dict[str, Any]:
    """The role's values for this host (deploy.values: defaults < inventory < vars, Jinja resolved, secrets left
    as data); `prefix` names the role's own variables."""
    del prefix
    return deploy.values(role, facts=facts)


def put(control: str, what: str, item: deploy.Managed) -> bool:
    """A plain file as Ansible's template module writes it; whether it changes is decided from the prepare's facts."""
    changed = deploy.differs(item)
    files.put(name=f"{control} | {what}", src=StringIO(item.content), dest=item.path, user=item.user,
              group=item.group, mode=item.mode)
    return changed


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


def listener_check(port: int) -> str:
    """rsyslog listens on UDP and TCP `port`, retried for up to LISTEN_TRIES seconds as the Ansible task retries."""
    seen = f"ss -Hltun sport = :{port} | awk '{{print $1}}' | sort -u | tr '\\n' ' '"
    return (f"for i in $(seq {LISTEN_TRIES}); do [ \"$({seen})\" = 'tcp udp ' ] && exit 0; sleep 1; done; "
            f"echo {shlex.quote(f'rsyslog does not listen on both UDP and TCP port {port}')} >&2; exit 1")


def main() -> None:
    if not deploy.targets(HOSTS):
        return
    v = role_values(ROLE, "logserver_")
    devices = len(v["device_management_networks"] or []) > 0

    installed = host.get_fact(DebPackages) or {}
    missing = [n for n in v["logserver_packages"] if n not in installed]
    apt.packages(name="AU-03 | Install rsyslog with its TLS driver and logrotate (IN-01)",
                 packages=v["logserver_packages"], present=True, update=bool(missing),
                 cache_time=APT_CACHE_SECONDS if missing else None, no_recommends=True)
    files.directory(name="AU-04 | Directory of received records, one subdirectory per host", path=v["logserver_dir"],
                    present=True, user="root", group="adm", mode="750")
    if devices:
        files.directory(name="NW-05 | Directory of network devices' records, one subdirectory per device",
                        path=v["logserver_device_dir"], present=True, user="root", group="adm", mode="750")
    restart = deploy.install(
        "AU-03", "rsyslog reception: TLS only from servers (IN-01, CF-01), plain syslog from the device management "
        "networks (NW-05), per host",
        [deploy.Managed("/etc/rsyslog.d/10-baseline-server.conf", deploy.render(ROLE, "rsyslog-server.conf.j2", v),
                        mode="640", validate="rsyslogd -N1 -f {path}")])
    put("AU-04", "Keep received records for the retention period (servers and network devices, NW-05)",
        deploy.Managed("/etc/logrotate.d/baseline-remote", deploy.render(ROLE, "logrotate-remote.j2", v)))
    put("AU-03", "Space check of the log store",
        deploy.Managed("/usr/local/sbin/baseline-logspace", deploy.render(ROLE, "space-check.sh.j2", v), mode="755"))
    units = deploy.install(
        "AU-03", "service and timer of the space check (verified before they are installed)",
        [deploy.Managed(f"{UNIT_DIR}/{unit}", deploy.render(ROLE, f"{unit}.j2", v),
                        validate=UNIT_VALIDATE + shlex.quote(unit))
         for unit in v["logserver_space_unit_files"]])
    service_on("AU-03 | Run the space check regularly (timer enabled and started)", "baseline-logspace.timer",
               reload=units)
    files.file(name="AU-03 | The former cron entry of the space check is gone (the timer replaces it)",
               path=OLD_CRON_ENTRY, present=False)
    started = service_on("AU-03 | rsyslog enabled and running", "rsyslog.service")
    if restart:
        server.shell(name="AU-03 | Restart rsyslog (apply a changed configuration before the clients connect)",
                     commands=["systemctl restart rsyslog"])
    # rsyslogd -N1 reads the configuration but opens no socket: an input rsyslog cannot open only shows in its log.
    # Checked where this run (re)starts rsyslog; the compliance suite checks it on every verification.
    if devices and (restart or started):
        server.shell(name=f"NW-05 | rsyslog listens for network devices on UDP and TCP {v['netdev_syslog_port']}",
                     commands=[listener_check(int(v["netdev_syslog_port"]))])


deploy.check_preflight()
main()
deploy.finish()
