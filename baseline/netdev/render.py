"""Render a device's baseline from network_configs/<vendor>/baseline.j2 (plain Jinja2, values computed here).

Templates mark each section with `{# control: NW-03 #}`. For rendering those are Jinja comments; the project's
loader turns them into marker lines first, so the audit knows which lines serve which control.
"""

from __future__ import annotations

import ipaddress
import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jinja2

from baseline import REPO_ROOT
from baseline.netdev.devices import NetdevError, NetDevice, check_management, check_secrets

TEMPLATES = REPO_ROOT / "network_configs"
MARKER = re.compile(r"\{#-?\s*control:\s*([A-Z]{2}-\d{2}(?:\s*,\s*[A-Z]{2}-\d{2})*)\s*-?#\}")
MARKER_LINE = "@@control "


class _MarkerLoader(jinja2.FileSystemLoader):
    def get_source(self, environment: jinja2.Environment, template: str) -> tuple[str, str, Callable[[], bool]]:
        source, filename, uptodate = super().get_source(environment, template)
        return MARKER.sub(lambda m: MARKER_LINE + m.group(1).replace(" ", ""), source), filename, uptodate


def _environment(root: Path) -> jinja2.Environment:
    return jinja2.Environment(loader=_MarkerLoader(str(root)), undefined=jinja2.StrictUndefined,
                              trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True, autoescape=False)  # noqa: S701 - device configuration, not HTML


@dataclass
class Rendered:
    """The baseline of one device: the whole text and the lines of each control's sections."""

    device: str
    text: str
    sections: dict[str, str] = field(default_factory=dict)


def _wildcard(network: str) -> dict[str, str | bool]:
    net = ipaddress.ip_network(network, strict=False)
    return {"address": str(net.network_address), "wildcard": str(net.hostmask), "netmask": str(net.netmask),
            "host": net.prefixlen == 32}


def context(device: NetDevice, with_secrets: bool = True) -> dict[str, Any]:
    """Every value the templates use, computed from inventory values (policy figures read, never restated)."""
    v = device.values
    idle = int(v["session_idle_timeout_seconds"])
    rules = []
    for rule in v.get("netdev_border_rules", []):
        entry = {"protocol": rule.get("protocol", "ip"), "port": rule.get("port"), "comment": rule.get("comment", "")}
        entry["source"] = None if rule.get("source", "any") == "any" else _wildcard(rule["source"])
        entry["destination"] = None if rule.get("destination", "any") == "any" else _wildcard(rule["destination"])
        rules.append(entry)
    secret = (lambda name: v.get(name, "")) if with_secrets else (lambda name: "<secret>")
    return {
        "hostname": v.get("netdev_hostname", device.name),
        "role": device.role,
        "vrp_version": 8 if device.device_type == "huawei_vrpv8" else 5,
        "accounts": device.accounts(with_secrets),
        "departed": device.departed(),
        "password_min_length": v["password_min_length"],
        "password_history": v["password_history"],
        "password_max_age_days": v["password_max_age_days"],
        "login_max_failures": v["login_max_failures"],
        "lockout_minutes": math.ceil(v["login_lockout_seconds"] / 60),
        "lockout_seconds": v["login_lockout_seconds"],
        "failure_window_minutes": v.get("netdev_login_failure_window_minutes", 5),
        "idle_minutes": idle // 60,
        "idle_seconds": idle % 60,
        "admin_networks": [_wildcard(n) for n in v["admin_networks"]],
        "mgmt_acl_number": v.get("netdev_mgmt_acl_number", 2000),
        "mgmt_acl_name": v.get("netdev_mgmt_acl_name", "MGMT-SSH"),
        "log_server_address": v["log_server_address"],
        "syslog_port": v.get("netdev_syslog_port", 514),
        "ntp_servers": v["ntp_servers"],
        "snmp_user": v.get("netdev_snmp_user", "nms-monitor"),
        "snmp_group": v.get("netdev_snmp_group", "NMS-RO"),
        "snmp_auth_key": secret("vault_netdev_snmp_auth_key"),
        "snmp_priv_key": secret("vault_netdev_snmp_priv_key"),
        "enable_secret": secret("vault_netdev_enable_secret"),
        "border_interface": v.get("border_interface", ""),
        "border_acl_number": v.get("netdev_border_acl_number", 3000),
        "border_acl_name": v.get("netdev_border_acl_name", "BORDER-IN"),
        "border_rules": rules,
    }


def merge_sections(text: str) -> str:
    """Merge repeated sections (templates are organised by control, so `aaa` may open more than once)."""
    root: dict[str, dict] = {}
    stack: list[tuple[int, dict[str, dict]]] = [(-1, root)]
    for line in text.splitlines():
        if not line.strip():
            continue
        depth = len(line) - len(line.lstrip(" "))
        while stack[-1][0] >= depth:
            stack.pop()
        children = stack[-1][1].setdefault(line.strip(), {})
        stack.append((depth, children))

    def emit(node: dict[str, dict], depth: int) -> list[str]:
        out = []
        for text_line, children in node.items():
            out.append(" " * depth + text_line)
            out += emit(children, depth + 1)
        return out

    return "\n".join(emit(root, 0)) + "\n"


def split_sections(marked: str) -> tuple[str, dict[str, str]]:
    """Separate marker lines from configuration: (plain text, control ID -> text of its sections)."""
    plain: list[str] = []
    sections: dict[str, list[str]] = {}
    current: list[str] = []
    for line in marked.splitlines():
        if line.startswith(MARKER_LINE):
            current = line[len(MARKER_LINE):].split(",")
            continue
        if not line.strip():
            continue
        plain.append(line.rstrip())
        for cid in current:
            sections.setdefault(cid, []).append(line.rstrip())
    return merge_sections("\n".join(plain)), {cid: merge_sections("\n".join(lines)) for cid, lines in sections.items()}


def _shown(path: str | None, root: Path) -> str:
    if not path:
        return "(template)"
    for base in (REPO_ROOT, root.parent):
        try:
            return str(Path(path).resolve().relative_to(base.resolve()))
        except ValueError:
            continue
    return path


def _template_line(exc: BaseException, root: Path) -> tuple[str, int | None]:
    """The template file and line where rendering failed: the innermost traceback frame inside the templates."""
    found: tuple[str, int | None] = ("", None)
    tb = exc.__traceback__
    base = str(root.resolve())
    while tb is not None:
        filename = tb.tb_frame.f_code.co_filename
        if filename.endswith(".j2") or filename.startswith(base):
            found = (filename, tb.tb_lineno)
        tb = tb.tb_next
    return found


UNDEFINED = re.compile(r"^'([^']+)' is undefined$|has no attribute '([^']+)'$")


def template_problem(device: NetDevice, exc: Exception, root: Path) -> str:
    """One line naming the template, the line and what is wrong (the undefined variable, the syntax rule)."""
    if isinstance(exc, jinja2.TemplateSyntaxError):
        return f"{_shown(exc.filename, root)} line {exc.lineno}: template syntax error: {exc.message}"
    filename, line = _template_line(exc, root)
    where = f"{_shown(filename, root)} line {line}" if line else f"{device.vendor.key}/baseline.j2"
    message = str(exc)
    if isinstance(exc, jinja2.UndefinedError):
        match = UNDEFINED.search(message)
        name = (match.group(1) or match.group(2)) if match else message
        return f"{device.name}: {where}: undefined variable {name!r} ({message})"
    return f"{device.name}: {where}: {type(exc).__name__}: {message}"


def render(device: NetDevice, with_secrets: bool = True, templates: Path | None = None) -> Rendered:
    """The device's baseline. With secrets, every secret is first checked against the policy (refused if weak).

    A template with a syntax error or a variable the context lacks raises NetdevError naming the template, the line
    and the variable (nothing has been sent to a device yet: rendering comes before any connection)."""
    root = templates or TEMPLATES
    problems = check_management(device)
    if with_secrets:
        problems += check_secrets(device)
    if problems:
        raise NetdevError(problems)
    try:
        template = _environment(root).get_template(f"{device.vendor.key}/baseline.j2")
        output = template.render(**context(device, with_secrets))
    except jinja2.TemplateNotFound as exc:
        raise NetdevError([f"{device.name}: no template {root / str(exc.name)}"]) from exc
    except Exception as exc:  # noqa: BLE001 - every template failure becomes a refusal naming file and line
        if not isinstance(exc, jinja2.TemplateError) and _template_line(exc, root)[1] is None:
            raise
        raise NetdevError([template_problem(device, exc, root)]) from exc
    text, sections = split_sections(output)
    return Rendered(device=device.name, text=text, sections=sections)
