"""Platform values checked on the controller before any host is contacted: admin and server networks, the address
the controller reaches each host from, and the addresses of the log server, time sources, signature mirror and
backup store (inventory/group_vars/all/platform.yml, linux.yml, databases.yml).

Used by the pre-flight play (action plugin `platform_preflight`). Every message names the host, the variable and
the rule. Nothing here opens a connection to a host: the controller's own address towards a host is what its
routing table chooses (a UDP socket is connected, which sends nothing), after `ssh -G` has said where SSH would
really go (Host aliases, jump hosts, BindAddress of the controller's SSH configuration).
"""

from __future__ import annotations

import ipaddress
import re
import shlex
import shutil
import socket
import subprocess
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from baseline.policy import shown, type_name, whole_number

# The firewall (nftables `ip saddr`, roles/hardening), sshd's from= and the device ACLs (network_configs/) take
# IPv4 networks; the device templates write the log server and time sources as IPv4 addresses.
NETWORK_VARIABLES = {
    "admin_networks": "networks from which administrators and the automation manage servers and devices "
                      "(第十五条(四)): SSH firewall rule, from= of staff keys, device management ACL",
    "server_networks": "networks of the platform's servers: log, time and database clients",
    "device_management_networks": "networks the network devices send syslog from (NW-05): the log server's firewall "
                                  "takes the device syslog port from these only",
}
DEVICE_NETWORKS = "device_management_networks"
ADDRESS_VARIABLES = {
    "log_server_address": "the central log server (AU-03, NW-05)",
    "malware_mirror_address": "the signature mirror (MP-01)",
}
PORT_VARIABLES = ("log_server_tls_port", "malware_mirror_port")
OVERRIDE = "controller_address"
DEVICE_OVERRIDE = "netdev_controller_address"
DEVICE_GROUP = "network_devices"
BACKUP_USERS = ("backup_clients", "drill_hosts")
BACKUP_GROUP = "backup_servers"
SSH_CONNECTIONS = ("ssh", "ansible.builtin.ssh", "smart", "paramiko", "paramiko_ssh", "ansible.builtin.paramiko_ssh")


def networks(variable: str, value: Any) -> tuple[list[ipaddress.IPv4Network], list[str]]:
    """The networks of a list variable, and one message per entry that is not an IPv4 network in CIDR form."""
    rule = NETWORK_VARIABLES.get(variable, "networks")
    if isinstance(value, str):
        return [], [f"{variable} = {shown(value)} is text, not a list: give a list of networks in CIDR form "
                    f"(YAML list, or -e '{{\"{variable}\": [\"10.231.0.0/24\"]}}'); {variable}: {rule}"]
    if not isinstance(value, Sequence) or isinstance(value, (bytes, bytearray)):
        return [], [f"{variable} is {type_name(value)}, not a list of networks in CIDR form ({rule})"]
    if not value:
        return [], [f"{variable} is empty: no administrator and no automation could reach the hosts ({rule})"]
    found, problems = [], []
    for index, entry in enumerate(value):
        label = f"{variable}[{index}] = {shown(entry)}"
        if not isinstance(entry, str):
            problems.append(f"{label} is {type_name(entry)}, not a network in CIDR form such as 10.231.0.0/24")
            continue
        network, reason = parse_network(entry)
        if network is None:
            problems.append(f"{label} is not a valid IPv4 network in CIDR form such as 10.231.0.0/24: {reason}")
        elif variable == "admin_networks" and network.prefixlen == 0:
            problems.append(f"{label} admits every address; management must be limited to the admin networks "
                            "(第十五条(四))")
        elif variable == DEVICE_NETWORKS and network.prefixlen == 0:
            problems.append(f"{label} admits every address; the device syslog port must be open to the device "
                            "management networks only (NW-05)")
        else:
            found.append(network)
    return found, problems


def device_networks(value: Any, groups: Mapping[str, Sequence[str]]) -> list[str]:
    """device_management_networks: IPv4 networks in CIDR form, not one that admits every address, and not empty while
    the inventory has network devices (their syslog would be dropped by the log server's firewall)."""
    rule = NETWORK_VARIABLES[DEVICE_NETWORKS]
    if isinstance(value, Sequence) and not isinstance(value, (str, bytes, bytearray)) and not value:
        devices = list(groups.get(DEVICE_GROUP, ()))
        if devices:
            listed = ", ".join(devices[:3]) + (", ..." if len(devices) > 3 else "")
            return [f"{DEVICE_NETWORKS} is empty while the inventory has network devices ({listed}): the log server "
                    f"would take none of their syslog; give the networks their management addresses are in ({rule})"]
        return []
    return networks(DEVICE_NETWORKS, value)[1]


def parse_network(text: str) -> tuple[ipaddress.IPv4Network | None, str]:
    """An IPv4 network written `address/prefix` (or a single address), or None and the reason in words."""
    if text != text.strip() or any(c.isspace() for c in text):
        return None, "it contains spaces"
    host, slash, prefix = text.partition("/")
    try:
        ipaddress.IPv4Address(host)
    except ValueError:
        try:
            ipaddress.IPv6Address(host)
        except ValueError:
            return None, f"{host or 'the address part'} is not an IPv4 address"
        return None, ("it is an IPv6 network; the firewall rules (nftables ip saddr), sshd's from= and the device "
                      "ACLs take IPv4 networks only")
    if slash and not (prefix.isdigit() and 0 <= int(prefix) <= 32):
        return None, f"the prefix length {prefix or '(empty)'} is not a whole number from 0 to 32"
    try:
        return ipaddress.IPv4Network(text, strict=True), ""
    except ValueError:
        return None, f"host bits are set (the network is {ipaddress.IPv4Network(text, strict=False)})"


def address(variable: str, value: Any, rule: str) -> list[str]:
    """Problems of a variable that must hold one IPv4 address."""
    if not isinstance(value, str):
        return [f"{variable} = {shown(value)} is {type_name(value)}, not an IPv4 address ({rule})"]
    try:
        parsed = ipaddress.ip_address(value)
    except ValueError:
        return [f"{variable} = {shown(value)} is not a valid IPv4 address ({rule})"]
    if parsed.version != 4:
        return [f"{variable} = {shown(value)} is an IPv6 address; the device baselines and the firewall take IPv4 "
                f"addresses ({rule})"]
    if parsed.is_unspecified or parsed.is_multicast or parsed == ipaddress.IPv4Address("255.255.255.255"):
        return [f"{variable} = {shown(value)} is not the address of a host ({rule})"]
    return []


def addresses(variable: str, value: Any, rule: str) -> list[str]:
    """Problems of a variable that must hold a non-empty list of IPv4 addresses."""
    if isinstance(value, str) or not isinstance(value, Sequence):
        return [f"{variable} = {shown(value)} is {type_name(value)}, not a list of IPv4 addresses ({rule}); "
                f"e.g. -e '{{\"{variable}\": [\"10.231.0.14\"]}}'"]
    if not value:
        return [f"{variable} is empty: {rule} needs at least one address"]
    return [p for index, entry in enumerate(value) for p in address(f"{variable}[{index}]", entry, rule)]


def port(variable: str, value: Any) -> list[str]:
    number = whole_number(value)
    if number is None or not 1 <= number <= 65535:
        return [f"{variable} = {shown(value)} is not a port number (a whole number from 1 to 65535)"]
    return []


def host_name_or_address(variable: str, value: Any, rule: str) -> list[str]:
    """Problems of a value that names a host by IPv4 address or DNS name (backup store)."""
    if not isinstance(value, str) or not value:
        return [f"{variable} = {shown(value)} is {type_name(value)}, not a host name or address ({rule})"]
    if all(part.isdigit() for part in value.split(".")) or ":" in value:
        return address(variable, value, rule)
    labels = value.removesuffix(".").split(".")
    if len(value) > 253 or not all(_HOST_LABEL.fullmatch(label) for label in labels):
        return [f"{variable} = {shown(value)} is neither a valid host name nor an IPv4 address ({rule})"]
    return []


_HOST_LABEL = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?")


# --- The controller's address towards a host -------------------------------------------------------------------

@dataclass
class Reach:
    """How the controller reaches a host: the source addresses its routing table chooses, or why it cannot tell."""

    sources: list[str] = field(default_factory=list)
    how: str = ""  # e.g. "route to 10.231.0.13", "controller_address"
    problem: str = ""


@dataclass
class SshView:
    """Where SSH would really connect to, as `ssh -G` tells without connecting."""

    hostname: str
    port: int | None = None
    proxy: str = ""  # "ProxyCommand" or "ProxyJump" when the connection goes through another host
    bind: str = ""


def ssh_view(target: str, port: int | None, options: Sequence[str], ssh: str | None = None) -> SshView:
    """`ssh -G` (prints the configuration it would use, opens no connection) for the host; the options are the
    ones Ansible passes (ssh_args, ssh_common_args, ssh_extra_args). Without an ssh client: the options only."""
    client = ssh or shutil.which("ssh")
    argv = [*options, *(["-p", str(port)] if port else []), target]
    if client:
        try:
            proc = subprocess.run([client, "-G", *argv], capture_output=True, text=True, timeout=15, check=False,
                                  stdin=subprocess.DEVNULL)
        except (OSError, subprocess.SubprocessError):
            proc = None
        if proc is not None and proc.returncode == 0:
            seen: dict[str, str] = {}
            for line in proc.stdout.splitlines():
                key, _, value = line.partition(" ")
                seen.setdefault(key.lower(), value.strip())
            proxy = ""
            if seen.get("proxycommand", "none").lower() != "none":
                proxy = "ProxyCommand"
            elif seen.get("proxyjump", "none").lower() != "none":
                proxy = "ProxyJump"
            return SshView(hostname=seen.get("hostname") or target, port=whole_number(seen.get("port", "")),
                           proxy=proxy, bind=seen.get("bindaddress", ""))
    return _view_from_options(target, port, options)


def _view_from_options(target: str, port: int | None, options: Sequence[str]) -> SshView:
    proxy, bind = "", ""
    items = list(options)
    for index, item in enumerate(items):
        following = items[index + 1] if index + 1 < len(items) else ""
        if item.startswith("-J"):
            proxy = "ProxyJump"
        if item == "-b":
            bind = following
        if item == "-o":
            setting = following
        elif item.startswith("-o"):
            setting = item[2:]
        else:
            continue
        key, _, value = setting.strip().replace("=", " ", 1).partition(" ")
        key, value = key.lower(), value.strip()
        if key in ("proxycommand", "proxyjump") and value.lower() not in ("none", ""):
            proxy = "ProxyCommand" if key == "proxycommand" else "ProxyJump"
        if key == "bindaddress":
            bind = value
    return SshView(hostname=target, port=port, proxy=proxy, bind=bind)


def split_options(*texts: Any) -> list[str]:
    """Ansible's ssh_args / ssh_common_args / ssh_extra_args (strings) as one argument list."""
    found: list[str] = []
    for text in texts:
        if text:
            found.extend(shlex.split(str(text)))
    return found


def source_address(destination: str, port: int = 22) -> str:
    """The controller's address towards `destination`, as its routing table chooses it. A UDP socket is
    connected, which only asks the kernel for a route: no packet is sent. Raises OSError without a route."""
    family = socket.AF_INET6 if ":" in destination else socket.AF_INET
    with socket.socket(family, socket.SOCK_DGRAM) as sock:
        sock.connect((destination, port or 22))
        return sock.getsockname()[0]


def resolve(name: str, port: int) -> list[str]:
    """Addresses of a host name (DNS or /etc/hosts on the controller); an IP address stands for itself."""
    try:
        return [str(ipaddress.ip_address(name))]
    except ValueError:
        pass
    infos = socket.getaddrinfo(name, port or 22, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def reach(view: SshView, route: Callable[[str, int], str] = source_address,
          lookup: Callable[[str, int], list[str]] = resolve) -> Reach:
    """The controller's source addresses towards the host SSH would connect to, or why they cannot be told."""
    if view.proxy:
        return Reach(problem=f"the connection goes through another host ({view.proxy}), so the address the host "
                             "sees cannot be determined on the controller")
    if view.bind:
        try:
            return Reach([str(ipaddress.ip_address(view.bind))], f"BindAddress {view.bind} of the controller's SSH")
        except ValueError:
            return Reach(problem=f"SSH binds to {view.bind!r} (BindAddress), which is not an address")
    port = view.port or 22
    try:
        destinations = lookup(view.hostname, port)
    except OSError as exc:
        return Reach(problem=f"the controller cannot resolve {view.hostname} ({exc.strerror or exc})")
    sources = []
    for destination in destinations:
        try:
            sources.append(route(destination, port))
        except OSError as exc:
            return Reach(problem=f"the controller has no route to {destination} ({exc.strerror or exc})")
    if not sources:
        return Reach(problem=f"{view.hostname} resolves to no address on the controller")
    shown_destinations = ", ".join(destinations)
    return Reach(list(dict.fromkeys(sources)), f"route to {shown_destinations}")


def explicit(variable: str, value: Any) -> Reach:
    problems = address(variable, value, "the address hosts see the controller's connections come from")
    if problems:
        return Reach(problem=problems[0])
    return Reach([str(value)], variable)


def containment(nets: Sequence[ipaddress.IPv4Network], found: Reach, override: str) -> list[str]:
    """admin_networks must hold the controller's address towards the host, or the baseline locks it out."""
    if found.problem:
        return [f"admin_networks: cannot tell whether it holds the controller's address: {found.problem}; set "
                f"{override} to the address this host sees the controller's SSH connections come from"]
    outside = []
    for source in found.sources:
        parsed = ipaddress.ip_address(source)
        if not any(parsed in net for net in nets):
            outside.append(source)
    if outside:
        listed = ", ".join(str(n) for n in nets)
        return [f"admin_networks ({listed}) does not hold {', '.join(outside)}, the controller's address towards "
                f"this host ({found.how}): the firewall and the staff keys' from= would lock the automation out; "
                f"add the controller's network to admin_networks"]
    return []


def check_host(values: Mapping[str, Any], groups: Mapping[str, Sequence[str]], host: str,
               reach_of: Callable[[], Reach] | None = None, store_address: Any = None) -> list[str]:
    """Every problem of one host's platform values, each line starting with the host's name.

    `reach_of` tells how the controller reaches this host (None: not over the network, e.g. a local connection);
    `store_address` is the backup store's inventory address (its ansible_host, or its name)."""
    problems: list[str] = []
    admin: list[ipaddress.IPv4Network] = []
    for variable, rule in NETWORK_VARIABLES.items():
        if variable not in values:
            if variable == "admin_networks":
                problems.append(f"admin_networks is not set ({rule})")
            continue
        if variable == DEVICE_NETWORKS:
            problems += device_networks(values[variable], groups)
            continue
        nets, found = networks(variable, values[variable])
        problems += found
        if variable == "admin_networks" and not found:
            admin = nets
    for variable, rule in ADDRESS_VARIABLES.items():
        if variable in values:
            problems += address(variable, values[variable], rule)
    for variable in PORT_VARIABLES:
        if variable in values:
            problems += port(variable, values[variable])
    if "ntp_servers" in values:
        problems += addresses("ntp_servers", values["ntp_servers"], "the platform's time sources (AU-02, NW-05)")
    problems += _backup_store(values, groups, host, store_address)
    if admin and reach_of is not None:
        override = DEVICE_OVERRIDE if host in groups.get(DEVICE_GROUP, ()) else OVERRIDE
        problems += containment(admin, reach_of(), override)
    return [f"{host}: {p}" for p in problems]


def _backup_store(values: Mapping[str, Any], groups: Mapping[str, Sequence[str]], host: str,
                  store_address: Any) -> list[str]:
    if not any(host in groups.get(group, ()) for group in BACKUP_USERS):
        return []
    rule = "the off-site backup store (BR-01, BR-02, BR-03)"
    store = values.get("backup_store_host")
    if not isinstance(store, str) or not store:
        return [f"backup_store_host = {shown(store)} does not name an inventory host ({rule})"]
    problems = []
    if store not in groups.get(BACKUP_GROUP, ()):
        problems.append(f"backup_store_host = {shown(store)} is not a host of the group {BACKUP_GROUP} ({rule}): "
                        "the store would never be set up")
    else:
        problems += host_name_or_address(f"ansible_host of {store}", store_address, rule)
    root = values.get("backup_store_root")
    if root is not None and (not isinstance(root, str) or not root.startswith("/")):
        problems.append(f"backup_store_root = {shown(root)} is not an absolute path ({rule})")
    return problems
