"""Render a device's baseline from network_configs/<vendor>/baseline.j2 (plain Jinja2, values computed here).

Templates mark each section with `{# control: NW-03 #}`. For rendering those are Jinja comments; the project's
loader turns them into marker lines first, so the audit knows which lines serve which control.
"""

from __future__ import annotations

import ipaddress
import math
import re
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
    def get_source(self, environment: jinja2.Environment, template: str) -> tuple[str, str | None, Any]:
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


def _wildcard(network: str) -> dict[str, str]:
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


def render(device: NetDevice, with_secrets: bool = True, templates: Path = TEMPLATES) -> Rendered:
    """The device's baseline. With secrets, every secret is first checked against the policy (refused if weak)."""
    problems = check_management(device)
    if with_secrets:
        problems += check_secrets(device)
    if problems:
        raise NetdevError(problems)
    template = _environment(templates).get_template(f"{device.vendor.key}/baseline.j2")
    text, sections = split_sections(template.render(**context(device, with_secrets)))
    return Rendered(device=device.name, text=text, sections=sections)
