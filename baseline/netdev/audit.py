"""Audit NW-01..NW-08 on a device's running or saved configuration; one result record per device per check.

Expected values come from the device's rendered baseline (inventory policy values, never literals): each
check takes the template sections marked with its control, and the owned areas of that control. Numeric
settings pass when they meet the policy (a stricter device passes); secrets compare without their values.
Evidence names the command read, the device's own lines for the control and the baseline's lines.

A device that cannot be read (connection refused, timeout, login refused) gets an `error` record for every check
that applies to it, naming the cause, so the report shows it as failing and never as merely absent.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from baseline.netdev import backup, configdiff
from baseline.netdev.devices import NetDevice, backup_root
from baseline.netdev.drivers import connection_problem
from baseline.netdev.render import Rendered
from baseline.netdev.vendors import Vendor, config_body
from baseline.results import METHODS, Evidence


@dataclass
class AuditContext:
    device: NetDevice
    config: str  # the configuration audited (running or saved)
    source: str  # "running" | "saved"
    running: str
    saved: str
    rendered: Rendered  # without secrets
    backups: Path


@dataclass
class Outcome:
    outcome: str  # pass | fail | not_applicable | not_verifiable | error
    reason: str = ""
    evidence: list[Evidence] = field(default_factory=list)


@dataclass(frozen=True)
class AuditCheck:
    control_ids: tuple[str, ...]
    name: str
    run: Callable[[AuditContext], Outcome]
    roles: tuple[str, ...] | None = None  # device roles the check applies to (None: every device)
    method: str = "config"  # how it verifies (baseline/results.py METHODS): these read the device's configuration

    def not_applicable(self, device: NetDevice) -> Outcome | None:
        """The not-applicable outcome when the check does not apply to the device's role (known without contact)."""
        if self.roles is None or device.role in self.roles:
            return None
        return Outcome("not_applicable", f"device_role is {device.role}; {'/'.join(self.control_ids)} applies to "
                                         f"{' and '.join(self.roles)} devices")


CHECKS: list[AuditCheck] = []


def audit_check(*control_ids: str, roles: tuple[str, ...] | None = None, method: str = "config") -> Callable[
        [Callable[[AuditContext], Outcome]], Callable[[AuditContext], Outcome]]:
    """Declare an audit check and the controls it verifies (baseline/trace.py reads these IDs); `roles` limits it
    to devices of those roles (the others get not_applicable); `method` says how it verifies (probe, state, config
    or record; the checks here read the running or saved configuration, and NW-08 compares it with the archives)."""
    if method not in METHODS:
        raise ValueError(f"method {method!r} is not one of {', '.join(METHODS)}")

    def register(func: Callable[[AuditContext], Outcome]) -> Callable[[AuditContext], Outcome]:
        CHECKS.append(AuditCheck(tuple(control_ids), func.__name__, func, roles, method))
        return func
    return register


def _baseline_check(ctx: AuditContext, control: str, what: str) -> Outcome:
    vendor = ctx.device.vendor
    section = ctx.rendered.sections.get(control, "")
    if not section.strip():
        return Outcome("not_applicable", f"the {ctx.device.role} baseline has no {control} section")
    found = configdiff.findings(vendor, ctx.config, section, ctx.device.values, owned_only=[control])
    command = vendor.show_running if ctx.source == "running" else vendor.show_saved
    expected = [_masked(vendor, line) for line in configdiff.every_vty(vendor, section, ctx.config).splitlines()]
    if not found:
        observed = configdiff.shown(vendor, ctx.config, section, ctx.device.values)
        return Outcome("pass", f"{what}: every baseline line present", [Evidence(
            command, observed, expected, note=f"{ctx.source} configuration of {ctx.device.name}: the device's lines "
                                              f"for each of the {len(expected)} baseline lines")])
    missing = [" > ".join((*p, t)) for p, t in found.missing]
    unexpected = [" > ".join((*p, vendor.mask(t))) for p, t, _ in found.unexpected]
    observed = _related(ctx, found)
    reasons = []
    if missing:
        reasons.append("missing or weaker than policy: " + "; ".join(missing))
    if unexpected:
        reasons.append("present but not allowed: " + "; ".join(unexpected))
    return Outcome("fail", f"{what}: " + " | ".join(reasons),
                   [Evidence(command, observed, expected, note="; ".join(reasons))])


def _masked(vendor: Vendor, line: str) -> str:
    """A configuration line with its secret hidden, indentation kept."""
    body = line.lstrip(" ")
    return line[:len(line) - len(body)] + vendor.mask(body)


def _related(ctx: AuditContext, found: configdiff.Finding) -> list[str]:
    """Device lines near each finding (same section, same first word), secrets masked."""
    vendor = ctx.device.vendor
    lines = config_body(ctx.config).splitlines()
    words = set()
    for _, text in found.missing:
        body = text.removeprefix(vendor.negation + " ")
        words.add(body.split()[0])
    out = [vendor.mask(t) for _, t, _ in found.unexpected]
    out += [vendor.mask(line.strip()) for line in lines if line.strip().split()[0] in words]
    return sorted(set(out))


@audit_check("NW-01")
def individual_accounts_and_password_policy(ctx: AuditContext) -> Outcome:
    result = _baseline_check(ctx, "NW-01", "individual accounts from the roster and the device password policy")
    for item in result.evidence:
        item.note = (item.note + "; " if item.note else "") + (
            "passwords are stored as digests: their length and composition were checked against the policy "
            "when the project set them")
    return result


@audit_check("NW-02")
def login_lockout_and_idle_timeout(ctx: AuditContext) -> Outcome:
    return _baseline_check(ctx, "NW-02", "login-failure lockout and vty idle timeout")


@audit_check("NW-03")
def ssh_only_management(ctx: AuditContext) -> Outcome:
    return _baseline_check(ctx, "NW-03", "SSH only; telnet, HTTP/HTTPS and FTP off")


@audit_check("NW-04")
def management_acl_and_privilege_levels(ctx: AuditContext) -> Outcome:
    return _baseline_check(ctx, "NW-04", "management limited to the admin networks; privilege by duty")


@audit_check("NW-05")
def logging_and_ntp(ctx: AuditContext) -> Outcome:
    """The baseline's NW-05 lines; on IOS these include `logging origin-id hostname`, without which the device's
    messages carry no host name and the log server cannot file them under it."""
    what = "logging with timestamps to the central log server; NTP"
    if ctx.device.vendor.key == "cisco":
        what = "logging with timestamps and the host name (logging origin-id hostname) to the central log server; NTP"
    return _baseline_check(ctx, "NW-05", what)


@audit_check("NW-06")
def minimal_services_and_snmpv3(ctx: AuditContext) -> Outcome:
    return _baseline_check(ctx, "NW-06", "minimal services; SNMPv3 with authentication and privacy, no communities")


@audit_check("NW-07", roles=("border",))
def boundary_acl_default_deny(ctx: AuditContext) -> Outcome:
    return _baseline_check(ctx, "NW-07", "boundary ACL on the outside interface, default deny")


@audit_check("NW-08")
def configuration_backed_up_offline(ctx: AuditContext) -> Outcome:
    limit = int(ctx.device.values["netdev_config_backup_interval_days"])
    name = ctx.device.name
    latest = backup.latest(ctx.backups, name)
    expected = f"an archive no older than {limit} days, SHA-256 manifest intact, equal to the running configuration"
    if latest is None:
        return Outcome("fail", f"no offline backup of {name} under {ctx.backups}",
                       [Evidence(f"ls {ctx.backups}", "no archive", expected)])
    problems = backup.verify(latest)
    age = backup.age_days(latest)
    if age > limit:
        problems.append(f"latest backup {latest.name} is {age:.1f} days old (netdev_config_backup_interval_days = {limit})")
    if config_body(backup.previous_running(latest, name)) != config_body(ctx.running):
        problems.append(f"the running configuration changed since {latest.name}")
    if config_body(ctx.running) != config_body(ctx.saved):
        problems.append("running and saved configurations differ (unsaved changes would be lost on restart)")
    evidence = [Evidence(f"sha256sum -c {latest / backup.MANIFEST}", problems or "intact, current", expected)]
    if problems:
        return Outcome("fail", "; ".join(problems), evidence)
    return Outcome("pass", f"backed up in {latest.name} ({age:.2f} days ago), manifest verified", evidence)


def not_audited(device: NetDevice, cause: str, source: str = "running") -> list[tuple[AuditCheck, Outcome, float]]:
    """An `error` for every check that applies to a device whose configuration could not be read, naming `cause`."""
    command = device.vendor.show_running if source == "running" else device.vendor.show_saved
    out = []
    for check in CHECKS:
        outcome = check.not_applicable(device) or Outcome(
            "error", f"device not audited, {cause}",
            [Evidence(f"ssh {device.login_user}@{device.host} -p {device.port}: {command}", cause,
                      f"a session of {device.login_user} that reads the {source} configuration")])
        out.append((check, outcome, 0.0))
    return out


def audit_device(device: NetDevice, rendered: Rendered, source: str, read: Callable[[], tuple[str, str]]) -> list[
        tuple[AuditCheck, Outcome, float]]:
    """Run every check on one device. `read` returns (running, saved); when it fails, every check that applies
    gets an error naming the cause (see not_audited)."""
    try:
        running, saved = read()
    except Exception as exc:  # noqa: BLE001 - any failure to read is reported per check
        return not_audited(device, str(connection_problem(device, exc)), source)
    ctx = AuditContext(device, running if source == "running" else saved, source, running, saved, rendered,
                       backup_root(device.values))
    out = []
    for check in CHECKS:
        start = time.monotonic()
        try:
            outcome = check.not_applicable(device) or check.run(ctx)
        except Exception as exc:  # noqa: BLE001 - one broken check must not hide the others
            outcome = Outcome("error", f"{type(exc).__name__}: {exc}")
        out.append((check, outcome, round(time.monotonic() - start, 4)))
    return out
