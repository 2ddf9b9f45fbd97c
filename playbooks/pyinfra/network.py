"""The network devices with pyinfra, the counterpart of playbooks/network.yml: from the controller (pyinfra's
@local), the same `scripts/netdev` commands as the play (baseline/netdev: backup NW-08, push NW-01..NW-07), the same
change reason for the push's own change record (CM-01, engine netdev), the same optional backup timer.

    pyinfra @local playbooks/pyinfra/network.py [--data baseline_inventory=inventory/<site>] \
        [--data change_reason='...'] [--data netdev_backup_schedule_enabled=true] [--dry]

Decisions are taken while pyinfra prepares, from what the devices hold then (read over SSH, nothing sent): the push
is an operation only when a device misses baseline lines, the backup only when a device has no intact archive that
equals its running configuration and is young enough for NW-08, so a second run changes nothing. With --dry the
push runs as `netdev push --dry-run --show-commands` while preparing, as Ansible's check mode runs it: the lines each
device would get are printed and recorded as planned (mode check). Included for a server host (site.py), it does
nothing: the network play runs on the controller.
"""

import os
import shlex
import subprocess
import sys

import yaml
from pyinfra import host
from pyinfra.operations import files, python, systemd

from baseline import REPO_ROOT, policy, pyinfra_records, templates
from baseline import pyinfra_deploy as deploy
from baseline.netdev import backup, configdiff, push
from baseline.netdev import cli as netdev_cli
from baseline.netdev.devices import NetdevError, backup_root, load
from baseline.netdev.drivers import connect
from baseline.netdev.vendors import config_body

PLAY = REPO_ROOT / "playbooks" / "network.yml"
TASKS = yaml.safe_load(PLAY.read_text(encoding="utf-8"))[0]["tasks"]


def task_name(control: str, words: str) -> str:
    """The play's task name (the operation's name too) that starts with `control` and holds `words`."""
    return next(t["name"] for t in TASKS if t["name"].startswith(control) and words in t["name"])


BACKUP_TASK = task_name("NW-08", "Back up every device")
PUSH_TASK = task_name("NW-01 NW-02 NW-03 NW-04 NW-05 NW-06 NW-07", "Push the device baseline")
CHOICES = ("netdev_backup_schedule_enabled", "change_reason")  # what Ansible takes with -e, pyinfra with --data


def play_values() -> dict:
    """The play's values as Ansible resolves them on localhost: inventory < the play's vars < --data (for -e)."""
    from ansible.template import trust_as_template

    play = yaml.safe_load(PLAY.read_text(encoding="utf-8"))[0]
    # the play's own expressions are templates to Ansible (trusted); values read with yaml are plain text otherwise
    own = {k: trust_as_template(v) if isinstance(v, str) else v for k, v in play.get("vars", {}).items()}
    merged = {**deploy.host_vars(), **own,
              "playbook_dir": str(PLAY.parent), "ansible_inventory_sources": [str(deploy.inventory_dir().resolve())]}
    merged.update({k: host.data.get(k) for k in CHOICES if host.data.get(k) is not None})
    return templates.resolve(merged)


def rendered_baselines(devices: list) -> dict:
    """Every device's baseline, rendered with its secrets: weak or missing secrets and policy values below their
    floors refuse the run here, before any device is contacted (netdev's own pre-flight)."""
    rendered = netdev_cli._preflight(devices, with_secrets=True)
    netdev_cli._check_login(devices)
    return rendered


def device_facts(devices: list, rendered: dict) -> dict:
    """Per device: the lines a push would send and whether NW-08 needs a new backup (None: cannot be read). A backup
    is needed when the device's newest archive is missing, altered, would be older than
    netdev_config_backup_interval_days by the next daily inspection, or differs from the running configuration."""
    def read(device) -> dict:
        conn = connect(device)
        try:
            running, _saved = push.read_configs(conn, device)
        finally:
            conn.disconnect()
        lines = configdiff.missing(device.vendor, running, rendered[device.name].text, device.values)
        limit = float(device.values["netdev_config_backup_interval_days"])
        margin = float(device.values.get("inspection_interval_hours", 24)) / 24
        latest = backup.latest(backup_root(device.values), device.name)
        needed = (latest is None or bool(backup.verify(latest)) or backup.age_days(latest) > limit - margin
                  or config_body(backup.previous_running(latest, device.name)) != config_body(running))
        return {"lines": len(lines), "backup": needed}

    found = netdev_cli.run_parallel(devices, read, int(devices[0].values.get("netdev_parallel", 16)),
                                    lambda f: f"{f['lines']} missing lines, backup {'needed' if f['backup'] else 'current'}",
                                    quiet=True)
    return {name: None if isinstance(value, BaseException) else value for name, value in found.items()}


def run_netdev(argv: list, *, preparing: bool = False) -> None:
    """One `scripts/netdev` command, as the play runs it; its output (secrets masked by netdev) is shown. A failure
    fails the operation, or, while preparing (the --dry push), stops the run with netdev's status."""
    proc = subprocess.run(argv, capture_output=True, text=True, check=False, cwd=REPO_ROOT,
                          env={**os.environ, "ANSIBLE_CONFIG": str(REPO_ROOT / "ansible.cfg")})
    for stream, text in ((sys.stdout, proc.stdout), (sys.stderr, proc.stderr)):
        if text.strip():
            print(text.rstrip(), file=stream, flush=True)
    if proc.returncode != 0:
        what = f"{shlex.join(argv[3:5])} exited {proc.returncode} (its output above)"
        if preparing:
            print(f"scripts/netdev {what}", file=sys.stderr, flush=True)
            raise SystemExit(proc.returncode)
        raise RuntimeError(what)


def schedule(values: dict) -> None:
    """NW-08: the backup's service and timer (verified before they are installed), the timer enabled and started,
    the former cron entry gone: the play's three tasks under netdev_backup_schedule_enabled."""
    from pyinfra.facts.systemd import SystemdEnabled, SystemdStatus

    validate = ("sh -c 'd=$(mktemp -d) || exit 1; cp \"$1\" \"$d/$2\" && systemd-analyze verify \"$d/$2\"; rc=$?; "
                "rm -rf \"$d\"; exit $rc' verify {path} ")
    units = values["netdev_backup_unit_names"]
    items = [deploy.Managed(f"/etc/systemd/system/{unit}",
                            templates.render(PLAY.parent / "templates" / f"{unit}.j2", values),
                            validate=validate + unit) for unit in units]
    changed = deploy.install("NW-08", "service and timer of the scheduled offline backup", items,
                             then=["systemctl daemon-reload"])
    timer = next(unit for unit in units if unit.endswith(".timer"))
    if changed or not host.get_fact(SystemdEnabled).get(timer) or not host.get_fact(SystemdStatus).get(timer):
        systemd.service(name=task_name("NW-08", "Schedule the offline backup"), service=timer, running=True,
                        enabled=True)
    files.file(name=task_name("NW-08", "former cron entry"),
               path=values["netdev_backup_old_cron"], present=False)


if host.name.startswith("@local"):
    if not host.data.get("baseline_host"):
        host.data.baseline_host = "localhost"  # the play's host
    deploy.check_preflight()
    pyinfra_records.start()
    values = play_values()
    command = [values["netdev_command"], "-i", values["netdev_inventory"]]
    reason = str(values.get("change_reason") or "").strip()
    reasons = ["--reason", reason] if reason else []
    devices = load(values["netdev_inventory"]) if values["groups"].get("network_devices") else []
    facts: dict = {}
    if devices:
        try:
            rendered = rendered_baselines(devices)
        except NetdevError as exc:
            print("refused before contacting any device:\n  " + "\n  ".join(exc.problems), file=sys.stderr)
            raise SystemExit(2) from None
        if pyinfra_records.cli_options().get("dry"):
            # Ansible's check mode runs the push with --dry-run (check_mode: false): each device backed up, nothing
            # sent, the lines it would get printed, recorded as planned (CM-01). Before the reads below, so that
            # this run's decisions see its archive as the real run after it will.
            run_netdev([*command, "push", "--show-commands", "--dry-run", *reasons], preparing=True)
        facts = device_facts(devices, rendered)
        unreadable = sorted(name for name, fact in facts.items() if fact is None)
        if unreadable:
            print(f"network devices that could not be read while preparing (their backup and push run, as Ansible's "
                  f"would): {', '.join(unreadable)}", file=sys.stderr)
        if any(fact is None or fact["backup"] for fact in facts.values()):
            python.call(name=BACKUP_TASK, function=run_netdev, argv=[*command, "backup"])
    if policy.boolean(values.get("netdev_backup_schedule_enabled")) is True:
        schedule(values)
    if devices:
        if any(fact is None or fact["lines"] for fact in facts.values()):
            python.call(name=PUSH_TASK, function=run_netdev, argv=[*command, "push", "--show-commands", *reasons])
    deploy.finish()
