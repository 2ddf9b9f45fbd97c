"""The baseline's scheduled jobs are systemd timers, each with a oneshot service: the rendered units pass
`systemd-analyze verify` (where it is installed), each timer keeps the schedule its former /etc/cron.d entry had
(read back with the compliance suites' own parser), and no task writes a /etc/cron.d file any more: the former
ones are only removed."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys

import jinja2
import pytest
import yaml

from baseline import REPO_ROOT, templates

sys.path.insert(0, str(REPO_ROOT / "compliance_tests" / "linux"))
import linuxcheck  # noqa: E402

sys.path.insert(0, str(REPO_ROOT / "tests" / "unit"))
from test_templates import shared_values  # noqa: E402

POLICY = yaml.safe_load((REPO_ROOT / "inventory/group_vars/all/policy.yml").read_text(encoding="utf-8"))
NETWORK_PLAY = REPO_ROOT / "playbooks" / "network.yml"
# (directory of the templates, unit name, program the service runs, longest gap between runs in days: today's
# cron schedule)
JOBS = [
    ("roles/hardening/templates", "baseline-aide", "/usr/local/sbin/baseline-aide-check", 1),
    ("roles/hardening/templates", "baseline-pending-updates", "/usr/local/sbin/baseline-pending-updates", 1),
    ("roles/antimalware/templates", "baseline-clamav-scan", "/usr/local/sbin/baseline-clamav-scan",
     POLICY["malware_scan_interval_days"]),
    ("roles/antimalware/templates", "baseline-clamav-age", "/usr/local/sbin/baseline-clamav-age", 1),
    ("roles/antimalware/templates", "baseline-clamav-build", "/usr/local/sbin/baseline-clamav-build", 1),
    ("roles/logserver/templates", "baseline-logspace", "/usr/local/sbin/baseline-logspace", 10 / 1440),
    ("playbooks/templates", "baseline-netdev-backup", "/opt/baseline/scripts/netdev",
     POLICY["netdev_config_backup_interval_days"]),
]


def _resolved(values: dict) -> dict:
    """Values whose text is itself a Jinja2 expression ("*-*-01/{{ malware_scan_interval_days }} …") rendered
    against the others, as Ansible does with role defaults and play variables."""
    return {k: jinja2.Template(v).render(values) if isinstance(v, str) and "{{" in v else v for k, v in values.items()}


def _values(directory: str) -> dict:
    if directory.startswith("roles/"):
        return _resolved(templates.role_values(directory.split("/")[1], shared_values()))
    play_vars = yaml.safe_load(NETWORK_PLAY.read_text(encoding="utf-8"))[0]["vars"]
    local = {"netdev_repo_dir": "/opt/baseline", "netdev_command": "/opt/baseline/scripts/netdev",
             "netdev_inventory": "/opt/baseline/inventory/site/hosts.yml"}
    return _resolved({**shared_values(), **play_vars, **local})


def _render(directory: str, unit: str) -> str:
    path = REPO_ROOT / directory / f"{unit}.j2"
    values = _values(directory)
    text = templates.render(path, values)
    assert text == templates.render_with_ansible(path, values)
    return text


def _settings(text: str) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for line in text.splitlines():
        if line and not line.startswith(("#", "[")) and "=" in line:
            key, value = line.split("=", 1)
            found.setdefault(key, []).append(value)
    return found


@pytest.mark.parametrize(("directory", "name", "program", "days"), JOBS, ids=[j[1] for j in JOBS])
def test_timer_keeps_the_former_schedule_and_starts_a_oneshot_service(directory, name, program, days):
    timer = _settings(_render(directory, f"{name}.timer"))
    service = _settings(_render(directory, f"{name}.service"))
    assert len(timer["OnCalendar"]) == 1
    assert linuxcheck.calendar_interval_days(timer["OnCalendar"][0]) == pytest.approx(days)
    assert timer["Persistent"] == ["true"] and "Unit" not in timer  # starts the service of the same name
    assert service["Type"] == ["oneshot"]
    assert service["ExecStart"][0].split()[0] == program
    assert service.get("NoNewPrivileges") == ["true"]


@pytest.mark.skipif(not shutil.which("systemd-analyze"), reason="systemd-analyze is not installed here")
@pytest.mark.parametrize(("directory", "name", "program", "days"), JOBS, ids=[j[1] for j in JOBS])
def test_rendered_units_pass_systemd_analyze_verify(tmp_path, directory, name, program, days):
    """Verified as the roles' `validate:` does it, under the unit's own name; the program stands in as /bin/true
    (verify requires the ExecStart program to exist, which only the host has)."""
    for kind in ("service", "timer"):
        text = _render(directory, f"{name}.{kind}")
        text = re.sub(r"^ExecStart=\S+", "ExecStart=/bin/true", text, flags=re.MULTILINE)
        text = re.sub(r"^(WorkingDirectory|ReadWritePaths)=.*\n", "", text, flags=re.MULTILINE)
        unit = tmp_path / f"{name}.{kind}"
        unit.write_text(text)
        proc = subprocess.run(["systemd-analyze", "verify", str(unit)], capture_output=True, text=True, check=False,
                               timeout=60)
        assert proc.returncode == 0, proc.stderr


def _tasks(data) -> list[dict]:
    """Every task of a task file or playbook, blocks opened."""
    found = []
    for item in data or []:
        if not isinstance(item, dict):
            continue
        for key in ("tasks", "block", "rescue", "always", "pre_tasks", "post_tasks", "handlers"):
            found += _tasks(item.get(key))
        found.append(item)
    return found


def test_no_task_writes_a_cron_file_any_more():
    files = [*REPO_ROOT.glob("roles/*/tasks/*.yml"), *REPO_ROOT.glob("roles/*/handlers/*.yml"),
             *REPO_ROOT.glob("playbooks/*.yml")]
    removed = []
    for path in files:
        loaded = yaml.safe_load(path.read_text(encoding="utf-8"))
        # a path given as a play variable (data both engines read, e.g. network.yml's netdev_backup_old_cron)
        play_vars = {k: v for play in loaded if isinstance(play, dict) for k, v in (play.get("vars") or {}).items()} \
            if isinstance(loaded, list) else {}
        for task in _tasks(loaded):
            for module, args in task.items():
                if not isinstance(args, dict):
                    continue
                target = str(args.get("dest") or args.get("path") or "")
                named = re.fullmatch(r"\{\{\s*(\w+)\s*\}\}", target)
                if named and isinstance(play_vars.get(named.group(1)), str):
                    target = play_vars[named.group(1)]
                if target.startswith("/etc/cron.d/"):
                    assert module in ("ansible.builtin.file", "file") and args.get("state") == "absent", \
                        f"{path.relative_to(REPO_ROOT)}: {task.get('name')} writes {target}"
                    removed.append(target)
    assert sorted(removed) == sorted(f"/etc/cron.d/baseline-{j}" for j in
                                     ("aide", "pending-updates", "clamav", "clamav-build", "logspace", "netdev-backup"))
