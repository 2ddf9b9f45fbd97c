"""What differs between the vendors, in one place: CLI commands, config syntax helpers, hier_config platform."""

from __future__ import annotations

import re
from dataclasses import dataclass

from hier_config import Platform

# netmiko device_type -> vendor key
DEVICE_TYPES = {
    "huawei": "huawei",
    "huawei_vrpv8": "huawei",
    "hp_comware": "h3c",
    "cisco_ios": "cisco",
}


@dataclass(frozen=True)
class Vendor:
    key: str  # huawei | h3c | cisco: template directory network_configs/<key>/
    result_name: str  # vendor field of the results format
    platform: Platform  # hier_config platform
    negation: str  # "undo" | "no"
    exit_word: str  # leaves a section
    show_running: str
    show_saved: str
    # (pattern, replacement) turning a line with secrets into its comparable form: value hidden, input and
    # printed forms made equal (`password simple X` as typed, `password hash $h$...` as printed)
    secret_masks: tuple[tuple[str, str], ...]
    # lines the baseline owns: present on the device but absent from the rendered baseline -> removed.
    # (control ID, parent line regex or "" for top level, line regex whose group 1 is what the negation names)
    owned: tuple[tuple[str, str, str], ...]
    # a VTY range's section header; groups 1 and 2 are its first and last line (`user-interface vty 16 20`)
    vty: str = r"^line vty (\d+)(?: (\d+))?$"

    def mask(self, line: str) -> str:
        for pattern, replacement in self.secret_masks:
            line = re.sub(pattern, replacement, line)
        return line

    def has_secret(self, line: str) -> bool:
        return self.mask(line) != line


VENDORS = {
    "huawei": Vendor(
        key="huawei", result_name="huawei_vrp", platform=Platform.HUAWEI_VRP, negation="undo", exit_word="quit",
        show_running="display current-configuration", show_saved="display saved-configuration",
        secret_masks=(
            (r"^(local-user \S+ password) (?:irreversible-cipher|cipher) \S+$", r"\1 <secret>"),
            (r"^(snmp-agent usm-user v3 \S+ (?:authentication|privacy)-mode \S+)(?: cipher)? \S+$", r"\1 <secret>"),
        ),
        owned=(
            ("NW-06", "", r"^(snmp-agent community (?:read|write) (?:cipher )?\S+)"),
            ("NW-06", "", r"^(snmp-agent usm-user v3 \S+)"),
            ("NW-06", "", r"^(snmp-agent group v3 \S+)"),
            ("NW-03", "", r"^(telnet server enable)$"),
            ("NW-03", "", r"^(http (?:secure-)?server enable)$"),
            ("NW-03", "", r"^(ftp server enable)$"),
            ("NW-01", "^aaa$", r"^(local-user \S+)"),
        ),
        vty=r"^user-interface vty (\d+)(?: (\d+))?$",
    ),
    "h3c": Vendor(
        key="h3c", result_name="h3c_comware", platform=Platform.HP_COMWARE5, negation="undo", exit_word="quit",
        show_running="display current-configuration", show_saved="display saved-configuration",
        secret_masks=(
            (r"^password (?:simple|hash|cipher) \S+$", "password <secret>"),
            (r"^(snmp-agent usm-user v3 \S+ \S+) (?:simple |cipher )?authentication-mode (\S+) \S+ privacy-mode (\S+) \S+$",
             r"\1 authentication-mode \2 <secret> privacy-mode \3 <secret>"),
        ),
        owned=(
            ("NW-06", "", r"^(snmp-agent community (?:read|write) (?:simple |cipher )?\S+)"),
            ("NW-06", "", r"^(snmp-agent usm-user v3 \S+)"),
            ("NW-06", "", r"^(snmp-agent group v3 \S+)"),
            ("NW-03", "", r"^(telnet server enable)$"),
            ("NW-03", "", r"^(ip https? enable)$"),
            ("NW-03", "", r"^(ftp server enable)$"),
            ("NW-01", "", r"^(local-user \S+ class manage)$"),
            ("NW-03", "^local-user ", r"^(service-type .*)$"),
            ("NW-04", "^local-user ", r"^(authorization-attribute user-role \S+)$"),
        ),
    ),
    "cisco": Vendor(
        key="cisco", result_name="cisco_ios", platform=Platform.CISCO_IOS, negation="no", exit_word="exit",
        show_running="show running-config", show_saved="show startup-config",
        secret_masks=(
            (r"^(username \S+(?: privilege \d+)?(?: common-criteria-policy \S+)? secret)(?: \d)? \S+$", r"\1 <secret>"),
            (r"^(enable secret)(?: \d)? \S+$", r"\1 <secret>"),
            (r"^(snmp-server user \S+ \S+ v3 auth \S+) \S+ (priv \S+(?: \d+)?) \S+$", r"\1 <secret> \2 <secret>"),
        ),
        owned=(
            ("NW-06", "", r"^(snmp-server community \S+)"),
            ("NW-06", "", r"^(snmp-server user \S+ \S+ v3)"),
            ("NW-01", "", r"^(username \S+)"),
            ("NW-03", "", r"^(ip http (?:secure-)?server)$"),
            ("NW-03", "", r"^(ftp-server enable)$"),
            ("NW-06", "", r"^(service (?:pad|tcp-small-servers|udp-small-servers))$"),
        ),
    ),
}


def vendor_for(device_type: str) -> Vendor:
    try:
        return VENDORS[DEVICE_TYPES[device_type]]
    except KeyError:
        raise ValueError(f"netmiko_device_type {device_type!r} is not one of {', '.join(DEVICE_TYPES)}") from None


DECORATION = re.compile(r"^(#|!|return$|end$|Building configuration|Current configuration|version |\s*version \d)")


SEPARATOR = re.compile(r"^[#!]\s*$")  # a block separator at column 0 (` !` inside a Cisco section is not)


def config_body(text: str) -> str:
    """A configuration printout without the vendor's decoration (separators, headers, `return`/`end`).

    Comware 7 prints global commands indented by one space, in blocks between `#` lines (also after `line vty`
    sections): a block whose first line is indented is a block of globals, and is moved one column left, so that
    ` ssh server enable` after `line vty 0 63` is read as the global it is, not as part of the vty section."""
    lines = []
    shift = False  # inside a block of globals printed one column right
    at_block_start = True
    for raw in text.replace("\r", "").splitlines():
        if not raw.strip() or SEPARATOR.match(raw):
            at_block_start = True
            continue
        if DECORATION.match(raw.strip()) or DECORATION.match(raw):
            continue
        indented = raw.startswith(" ")
        if at_block_start:
            shift = indented
        elif not indented:
            shift = False  # a section begins at column 0 inside the block
        at_block_start = False
        lines.append((raw[1:] if shift and indented else raw).rstrip())
    return "\n".join(lines) + "\n"
