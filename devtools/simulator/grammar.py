"""Command grammars of the simulated device CLIs.

A rule is written in the vendors' own documentation notation and compiled to a small matcher:

    literal words      idle-timeout
    <int> / <lo-hi>    a whole number (in range)
    <ip>               an IPv4 address
    <word>             any one token
    <secret>           one token holding a password or key; stored as cipher text, never in clear
    <text>             the rest of the line (one or more tokens), last element only
    {a|b|c}            one of the literal words
    [ ... ]            optional part

Each view lists its rules in the order the device prints them; the simulator sorts a section's lines by that
order, so `display current-configuration` is canonical and a restore gives back the same bytes.
"""

from __future__ import annotations

import base64
import hashlib
import ipaddress
import re
import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

Element = tuple  # ("lit", frozenset) | ("int", lo, hi) | ("ip",) | ("word",) | ("secret",) | ("text",) | ("opt", [...])


def _parse(syntax: str) -> list[Element]:
    tokens = re.findall(r"\[|\]|\{[^}]*\}|<[^>]*>|[^\s\[\]]+", syntax)
    stack: list[list[Element]] = [[]]
    for tok in tokens:
        if tok == "[":
            stack.append([])
        elif tok == "]":
            inner = stack.pop()
            stack[-1].append(("opt", inner))
        elif tok.startswith("{"):
            stack[-1].append(("lit", frozenset(tok[1:-1].split("|"))))
        elif tok.startswith("<"):
            name = tok[1:-1]
            if re.fullmatch(r"\d+-\d+", name):
                lo, hi = name.split("-")
                stack[-1].append(("int", int(lo), int(hi)))
            elif name == "int":
                stack[-1].append(("int", 0, 2**32))
            else:
                stack[-1].append((name,))
        else:
            stack[-1].append(("lit", frozenset([tok])))
    if len(stack) != 1:
        raise ValueError(f"unbalanced brackets in {syntax!r}")
    return stack[0]


def _token_ok(elem: Element, tok: str) -> bool:
    kind = elem[0]
    if kind == "lit":
        return tok in elem[1]
    if kind == "int":
        return tok.isdigit() and elem[1] <= int(tok) <= elem[2]
    if kind == "ip":
        try:
            ipaddress.IPv4Address(tok)
        except ValueError:
            return False
        return True
    return True  # word, secret


def _match(elems: list[Element], toks: list[str], i: int, reach: list[int],
           secret_at: tuple[int, ...] = ()) -> Iterator[tuple[int, tuple[int, ...]]]:
    """Yield (end, secret positions) for every way `elems` matches toks[i:]; reach[0] = furthest token accepted."""
    if not elems:
        yield i, secret_at
        return
    head, rest = elems[0], elems[1:]
    kind = head[0]
    if kind == "opt":
        yield from _match(head[1] + rest, toks, i, reach, secret_at)
        yield from _match(rest, toks, i, reach, secret_at)
        return
    if kind == "text":
        if i < len(toks):
            reach[0] = max(reach[0], len(toks))
            yield len(toks), secret_at
        return
    if i < len(toks) and _token_ok(head, toks[i]):
        reach[0] = max(reach[0], i + 1)
        found = secret_at + (i,) if kind == "secret" else secret_at
        yield from _match(rest, toks, i + 1, reach, found)


@dataclass
class Rule:
    syntax: str
    enter: str | Callable[[list[str]], str] | None = None  # view entered by this command (a section)
    key: int | tuple[int, ...] | None = None  # tokens that identify the setting: a new value replaces the old
    default_on: bool = False  # a feature on by default: its negation is kept as a line of the configuration
    canon: Callable[[list[str]], list[str]] | None = None  # rewrite to the form the device prints
    numbered: bool = False  # ACL entries: numbered automatically when typed without a number
    order: int = 0
    elems: list[Element] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.elems = _parse(self.syntax)

    def match(self, toks: list[str]) -> tuple[bool, int, tuple[int, ...]]:
        """(full match, tokens accepted, positions of secrets)."""
        reach = [0]
        for end, secret_at in _match(self.elems, toks, 0, reach):
            if end == len(toks):
                return True, len(toks), secret_at
        return False, reach[0], ()

    def key_of(self, toks: list[str]) -> tuple[str, ...] | None:
        if self.key is None:
            return None
        if isinstance(self.key, int):
            return tuple(toks[: self.key])
        return tuple(toks[i] for i in self.key if i < len(toks))


@dataclass
class View:
    name: str
    rules: list[Rule]
    prompt: Callable[[str, str], str]  # (hostname, section text) -> prompt inside brackets / parentheses
    numbered: str = ""  # "rule": lines `rule N ...` numbered in steps; "seq": Cisco ACL sequence numbers
    step: int = 5
    first: int = 5

    def __post_init__(self) -> None:
        for index, rule in enumerate(self.rules):
            rule.order = index


@dataclass
class Grammar:
    vendor: str
    views: dict[str, View]
    root: str
    negation: str  # "undo" or "no"
    cipher_prefix: str
    key_prefix: str

    def cipher(self, plain: str, kind: str = "password") -> str:
        """Store a secret the way the device does: salted one-way digest, vendor-looking prefix."""
        salt = secrets.token_hex(4)
        digest = hashlib.sha256((salt + plain).encode()).hexdigest()[:32]
        prefix = self.cipher_prefix if kind == "password" else self.key_prefix
        return f"{prefix}{salt}${digest}"

    def is_cipher(self, value: str) -> bool:
        return value.startswith((self.cipher_prefix, self.key_prefix))

    @staticmethod
    def verify(plain: str, stored: str) -> bool:
        """Whether `plain` is the password `stored` holds: the simulator's own digests, and IOS's types 7, 8 and 9
        (type 5, MD5-crypt, is kept but never matches)."""
        if IOS_TYPE9.fullmatch(stored) or IOS_TYPE8.fullmatch(stored):
            return secrets.compare_digest(ios_hash(plain, stored[:2], stored[3:17]), stored)
        if IOS_TYPE7.fullmatch(stored):
            return ios_type7_decode(stored) == plain
        if IOS_TYPE5.fullmatch(stored):
            return False  # MD5-crypt: kept as loaded, not computed here
        try:
            body = stored.rsplit("$", 2)
            salt, digest = body[-2][-8:], body[-1]
        except IndexError:
            return False
        return hashlib.sha256((salt + plain).encode()).hexdigest()[:32] == digest


# --- IOS password types: 7 (reversible, `password 7`), 8 (PBKDF2-SHA256) and 9 (scrypt) as IOS writes them ------------
IOS_ALPHABET = "./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_TO_IOS = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/", IOS_ALPHABET)
IOS_TYPE9 = re.compile(r"\$9\$[./0-9A-Za-z]{14}\$[./0-9A-Za-z]{43}")
IOS_TYPE8 = re.compile(r"\$8\$[./0-9A-Za-z]{14}\$[./0-9A-Za-z]{43}")
IOS_TYPE5 = re.compile(r"\$1\$[./0-9A-Za-z]{1,8}\$[./0-9A-Za-z]{22}")
IOS_TYPE7 = re.compile(r"(0\d|1[0-5])(?:[0-9A-F]{2})+")
_TYPE7_KEY = "dsfd;kfoA,.iyewrkldJKDHSUBsgvca69834ncxv9873254k;fg87"


def ios_hash(plain: str, kind: str = "$9", salt: str = "") -> str:
    """`$9$salt$hash` (scrypt N=16384 r=1 p=1) or `$8$salt$hash` (PBKDF2-SHA256, 20000 rounds), salt of 14 characters."""
    salt = salt or "".join(secrets.choice(IOS_ALPHABET) for _ in range(14))
    if kind == "$9":
        raw = hashlib.scrypt(plain.encode(), salt=salt.encode(), n=16384, r=1, p=1, dklen=32)
    else:
        raw = hashlib.pbkdf2_hmac("sha256", plain.encode(), salt.encode(), 20000)
    return f"{kind}${salt}${base64.b64encode(raw).decode().rstrip('=').translate(_TO_IOS)}"


def ios_type7(plain: str, seed: int | None = None) -> str:
    start = secrets.randbelow(16) if seed is None else seed
    return f"{start:02d}" + "".join(f"{ord(c) ^ ord(_TYPE7_KEY[(start + i) % len(_TYPE7_KEY)]):02X}"
                                    for i, c in enumerate(plain))


def ios_type7_decode(text: str) -> str:
    start = int(text[:2])
    pairs = [int(text[i:i + 2], 16) for i in range(2, len(text), 2)]
    return "".join(chr(b ^ ord(_TYPE7_KEY[(start + i) % len(_TYPE7_KEY)])) for i, b in enumerate(pairs))


def _acl_number(toks: list[str]) -> list[str]:
    number = next(t for t in toks if t.isdigit())
    return ["acl", "number", number]


def _h3c_acl(toks: list[str]) -> list[str]:
    number = next(t for t in toks if t.isdigit())
    kind = "basic" if int(number) < 3000 else "advanced"
    return ["acl", kind, number]


def _h3c_user(toks: list[str]) -> list[str]:
    return ["local-user", toks[1], "class", toks[3] if len(toks) > 3 else "manage"]


def _huawei_password(toks: list[str]) -> list[str]:
    return toks[:3] + ["irreversible-cipher", toks[-1]]


def _huawei_usm(toks: list[str]) -> list[str]:
    return toks[:6] + ["cipher", toks[-1]]


def _h3c_password(toks: list[str]) -> list[str]:
    return ["password", "hash", toks[-1]]


def _h3c_usm(toks: list[str]) -> list[str]:
    rest = [t for t in toks[5:] if t not in ("simple", "cipher")]
    return toks[:5] + ["cipher"] + rest


def _cisco_secret(toks: list[str]) -> list[str]:
    """IOS keeps each password in its own format: `secret X` (or `secret 0 X`) becomes `secret 9 $9$…` (scrypt),
    `password X` becomes `password 7 <type 7>` (as with `service password-encryption`); a value typed with its type
    (`secret 5 $1$…`, `secret 8 $8$…`, `secret 9 $9$…`, `password 7 0822…`) is kept as given."""
    for index, tok in enumerate(toks):
        if tok not in ("secret", "password"):
            continue
        rest = toks[index + 1:]
        kind = rest[0] if len(rest) > 1 else "0"
        value = rest[-1]
        if kind == "0":
            kind, value = ("9", ios_hash(value)) if tok == "secret" else ("7", ios_type7(value))
        return toks[:index] + [tok, kind, value]
    return toks


def _range(prefix: str) -> Callable[[str, str], str]:
    def prompt(host: str, text: str) -> str:
        nums = [t for t in text.split() if t.isdigit()]
        return f"{host}-{prefix}{'-'.join(nums)}"
    return prompt


def _acl_prompt(style: str) -> Callable[[str, str], str]:
    def prompt(host: str, text: str) -> str:
        number = text.rsplit(maxsplit=1)[-1]
        kind = "basic" if int(number) < 3000 else ("adv" if style == "huawei" else "advanced")
        return f"{host}-acl-{kind}-{number}" if style == "huawei" else f"{host}-acl-ipv4-{kind}-{number}"
    return prompt


def _named(suffix: str) -> Callable[[str, str], str]:
    return lambda host, text: f"{host}-{suffix}"


def _iface(host: str, text: str) -> str:
    return f"{host}-{text.rsplit(maxsplit=1)[-1]}"


def _huawei() -> Grammar:
    system = [
        Rule("sysname <word>", key=1),
        Rule("clock timezone <text>", key=2),
        Rule("user-password min-len <8-32>", key=2),
        Rule("user-password complexity-check", key=2),
        Rule("info-center enable", default_on=True),
        Rule("info-center source <text>", key=3),
        Rule("info-center loghost <ip> [<text>]", key=3),
        Rule("info-center timestamp {log|trap|debugging} <text>", key=3),
        Rule("ntp-service enable", default_on=True),
        Rule("ntp-service unicast-server <ip> [<text>]", key=3),
        Rule("telnet server enable"),
        Rule("telnet server port <int>", key=3),
        Rule("stelnet server enable"),
        Rule("ssh authentication-type default password", key=2),
        Rule("ssh server port <int>", key=3),
        Rule("ssh user <word> {authentication-type|service-type} <word>", key=(0, 1, 2, 3)),
        Rule("http server enable"),
        Rule("http secure-server enable"),
        Rule("ftp server enable"),
        Rule("ftp secure-server enable"),
        Rule("snmp-agent"),
        Rule("snmp-agent local-engineid <word>", key=2),
        Rule("snmp-agent sys-info version {v1|v2c|v3|all} [{v2c|v3}] [v3]", key=3),
        Rule("snmp-agent community {read|write} [cipher] <secret> [<text>]"),
        Rule("snmp-agent group v3 <word> {authentication|privacy|noauthentication} [<text>]", key=4),
        Rule("snmp-agent usm-user v3 <word> group <word>", key=(0, 1, 2, 3, 4)),
        Rule("snmp-agent usm-user v3 <word> authentication-mode {md5|sha|sha2-256} [cipher] <secret>", key=(0, 1, 2, 3, 4),
             canon=_huawei_usm),
        Rule("snmp-agent usm-user v3 <word> privacy-mode {des56|aes128|aes256} [cipher] <secret>", key=(0, 1, 2, 3, 4),
             canon=_huawei_usm),
        Rule("snmp-agent target-host <text>"),
        Rule("aaa", enter="aaa"),
        Rule("acl number <2000-3999>", enter="acl", canon=_acl_number),
        Rule("acl <2000-3999>", enter="acl", canon=_acl_number),
        Rule("interface <word>", enter="interface"),
        Rule("user-interface con <0-0>", enter="ui"),
        Rule("user-interface vty <0-20> [<0-20>]", enter="ui"),  # 16-20: the VTYs VRP keeps for network management
    ]
    aaa = [
        Rule("authentication-scheme <word>", enter="aaa-scheme"),
        Rule("authorization-scheme <word>", enter="aaa-scheme"),
        Rule("accounting-scheme <word>", enter="aaa-scheme"),
        Rule("domain <word>", enter="aaa-scheme"),
        Rule("local-aaa-user wrong-password retry-interval <5-65535> retry-time <3-65535> block-time <5-65535>", key=2),
        Rule("local-aaa-user password policy administrator", enter="aaa-lupp"),
        Rule("user-password min-len <8-32>", key=2),
        Rule("user-password complexity-check", key=2),
        Rule("local-user <word> password {irreversible-cipher|cipher} <secret>", key=3, canon=_huawei_password),
        Rule("local-user <word> privilege level <0-15>", key=3),
        Rule("local-user <word> service-type <text>", key=3),
        Rule("local-user <word> state {active|block}", key=3),
    ]
    scheme = [Rule("authentication-mode <text>", key=1), Rule("authorization-mode <text>", key=1),
              Rule("accounting-mode <text>", key=1), Rule("authentication-scheme <word>", key=1)]
    lupp = [Rule("password history record number <0-12>", key=3), Rule("password expire <0-999>", key=2),
            Rule("password alert before-expire <1-999>", key=3)]
    ui = [
        Rule("authentication-mode {aaa|password|none}", key=1),
        Rule("user privilege level <0-15>", key=2),
        Rule("idle-timeout <0-35791> [<0-59>]", key=1),
        Rule("protocol inbound {ssh|telnet|all}", key=2),
        Rule("acl <2000-3999> {inbound|outbound}", key=(0, 2)),
        Rule("screen-length <0-512>", key=1),
        Rule("history-command max-size <0-256>", key=2),
        Rule("shell", default_on=True),
    ]
    acl = [Rule("description <text>", key=1),
           Rule("rule [<0-4294967294>] {permit|deny} [<text>]", numbered=True)]
    interface = [
        Rule("description <text>", key=1),
        Rule("port link-type {access|trunk|hybrid}", key=2),
        Rule("port default vlan <1-4094>", key=3),
        Rule("ip address <ip> <ip>", key=2),
        Rule("traffic-filter {inbound|outbound} acl <2000-3999>", key=2),
        Rule("shutdown", default_on=False),
    ]
    views = {
        "system": View("system", system, lambda host, text: host),
        "aaa": View("aaa", aaa, _named("aaa")),
        "aaa-scheme": View("aaa-scheme", scheme,
                           lambda host, text: f"{host}-aaa-{text.split()[0].split('-')[0]}-{text.split()[-1]}"),
        "aaa-lupp": View("aaa-lupp", lupp, _named("aaa-lupp-admin")),
        "ui": View("ui", ui, lambda host, text: f"{host}-ui-{'vty' if 'vty' in text else 'console'}"
                   + "-".join(t for t in text.split() if t.isdigit())),
        "acl": View("acl", acl, _acl_prompt("huawei"), numbered="rule", step=5, first=5),
        "interface": View("interface", interface, _iface),
    }
    return Grammar("huawei", views, "system", "undo", "$1c$", "%^%#")


def _h3c() -> Grammar:
    system = [
        Rule("sysname <word>", key=1),
        Rule("clock timezone <text>", key=2),
        Rule("clock protocol {ntp|none}", key=2),
        Rule("password-control enable", key=1),
        Rule("password-control length <4-32>", key=1),
        Rule("password-control composition type-number <1-4> [type-length <1-63>]", key=2),
        Rule("password-control complexity {same-character|user-name} check", key=3),
        Rule("password-control login-attempt <2-10> [exceed {lock|unlock|lock-time} [<1-360>]]", key=1),
        Rule("password-control history <2-15>", key=1),
        Rule("password-control aging <1-365>", key=1),
        Rule("info-center enable", default_on=True),
        Rule("info-center loghost <ip> [<text>]", key=3),
        Rule("info-center timestamp {loghost|boot|date} <text>", key=3),
        Rule("ntp-service enable"),
        Rule("ntp-service unicast-server <ip> [<text>]", key=3),
        Rule("telnet server enable"),
        Rule("ssh server enable"),
        Rule("ssh server acl <2000-2999>", key=3),
        Rule("ip http enable", default_on=True),
        Rule("ip https enable"),
        Rule("ftp server enable"),
        Rule("snmp-agent"),
        Rule("snmp-agent sys-info version {v1|v2c|v3|all} [{v2c|v3}] [v3]", key=3),
        Rule("snmp-agent community {read|write} [{simple|cipher}] <secret> [<text>]"),
        Rule("snmp-agent group v3 <word> {authentication|privacy} [<text>]", key=4),
        Rule("snmp-agent usm-user v3 <word> <word> [{simple|cipher}] authentication-mode {md5|sha|sha256} <secret> "
             "privacy-mode {des56|aes128|aes256} <secret>", key=4, canon=_h3c_usm),
        Rule("local-user <word> [class {manage|network}]", enter="luser", canon=_h3c_user),
        Rule("acl number <2000-3999>", enter="acl", canon=_h3c_acl),
        Rule("acl {basic|advanced} <2000-3999>", enter="acl", canon=_h3c_acl),
        Rule("interface <word>", enter="interface"),
        Rule("line vty <0-63> <0-63>", enter="line"),
        Rule("line aux <0-0>", enter="line"),
    ]
    luser = [
        Rule("password [{hash|cipher|simple}] <secret>", key=1, canon=_h3c_password),
        Rule("service-type <text>", key=1),
        Rule("authorization-attribute user-role <word>"),
        Rule("state {active|block}", key=1),
    ]
    line = [
        Rule("authentication-mode {scheme|password|none}", key=1),
        Rule("user-role <word>"),
        Rule("protocol inbound {ssh|telnet|all}", key=2),
        Rule("idle-timeout <0-35791> [<0-59>]", key=1),
        Rule("screen-length <0-512>", key=1),
    ]
    acl = [Rule("description <text>", key=1),
           Rule("rule [<0-65534>] {permit|deny} [<text>]", numbered=True)]
    interface = [
        Rule("description <text>", key=1),
        Rule("port link-type {access|trunk|hybrid}", key=2),
        Rule("ip address <ip> <ip>", key=2),
        Rule("packet-filter <2000-3999> {inbound|outbound}", key=(0, 2)),
        Rule("shutdown"),
    ]
    views = {
        "system": View("system", system, lambda host, text: host),
        "luser": View("luser", luser, lambda host, text: f"{host}-luser-{text.split()[-1]}-{text.split()[1]}"),
        "line": View("line", line, lambda host, text: f"{host}-line-{text.split()[1]}"
                     + "-".join(t for t in text.split() if t.isdigit())),
        "acl": View("acl", acl, _acl_prompt("h3c"), numbered="rule", step=5, first=0),
        "interface": View("interface", interface, _iface),
    }
    return Grammar("h3c", views, "system", "undo", "$h$6$", "$c$3$")


def _cisco() -> Grammar:
    config = [
        Rule("hostname <word>", key=1),
        Rule("service timestamps {log|debug} <text>", key=3),
        Rule("service password-encryption"),
        Rule("service pad", default_on=True),
        Rule("service tcp-small-servers"),
        Rule("service udp-small-servers"),
        Rule("security passwords min-length <1-64>", key=3),
        Rule("aaa new-model"),
        Rule("aaa common-criteria policy <word>", enter="cc"),
        Rule("aaa authentication login <word> <text>", key=4),
        Rule("aaa authorization exec <word> <text>", key=4),
        Rule("aaa local authentication attempts max-fail <1-65535>", key=5),
        Rule("login block-for <1-65535> attempts <1-65535> within <1-65535>", key=1),
        Rule("login on-failure log"),
        Rule("login on-success log"),
        Rule("enable secret [<0-9>] <word>", key=2, canon=_cisco_secret),
        Rule("username <word> [privilege <0-15>] [common-criteria-policy <word>] {secret|password} [<0-9>] <word>", key=2,
             canon=_cisco_secret),
        Rule("ip domain name <word>", key=3),
        Rule("ip ssh version {1|2}", key=3),
        Rule("ip ssh time-out <1-120>", key=3),
        Rule("ip ssh authentication-retries <0-5>", key=3),
        Rule("ip http server", default_on=True),
        Rule("ip http secure-server", default_on=True),
        Rule("ip ftp username <word>", key=3),
        Rule("ftp-server enable"),
        Rule("ip bootp server", default_on=True),
        Rule("ip source-route", default_on=True),
        Rule("cdp run", default_on=True),
        Rule("ip access-list standard <word>", enter="std-nacl"),
        Rule("ip access-list extended <word>", enter="ext-nacl"),
        Rule("logging buffered <text>", key=2),
        Rule("logging trap <word>", key=2),
        # what IOS puts in front of each syslog message's time stamp (the sender's name on the log server); IOS
        # prints it between `logging trap` and `logging host`. `string <id>` is not modeled (kept when loaded).
        Rule("logging origin-id {hostname|ip|ipv6}", key=2),
        Rule("logging host <ip> [<text>]", key=3),
        Rule("ntp server <ip> [<text>]", key=3),
        Rule("snmp-server community <word> [<text>]"),  # IOS prints communities as they were typed
        Rule("snmp-server group <word> v3 {auth|priv|noauth} [<text>]", key=(0, 1, 2, 3)),
        Rule("snmp-server user <word> <word> v3 auth {sha|md5} <secret> priv {aes|des|3des} [{128|192|256}] <secret>", key=3),
        Rule("snmp-server host <text>"),
        Rule("interface <word>", enter="if"),
        Rule("line con <0-0>", enter="line"),
        Rule("line vty <0-15> [<0-15>]", enter="line"),
    ]
    cc = [Rule("min-length <1-127>", key=1), Rule("max-length <1-127>", key=1), Rule("upper-case <0-64>", key=1),
          Rule("lower-case <0-64>", key=1), Rule("numeric-count <0-64>", key=1), Rule("special-case <0-64>", key=1),
          Rule("char-change <0-64>", key=1), Rule("lifetime <text>", key=1)]
    line = [
        Rule("exec-timeout <0-35791> [<0-2147483>]", key=1),
        Rule("privilege level <0-15>", key=2),
        Rule("password [<0-7>] <word>", key=1, canon=_cisco_secret),
        Rule("login [{local|authentication}] [<word>]", key=1),
        Rule("transport input {ssh|telnet|all|none} [{ssh|telnet}]", key=2),
        Rule("access-class <word> {in|out}", key=(0, 2)),
    ]
    std = [Rule("[<1-2147483647>] {permit|deny} <text>", numbered=True), Rule("[<1-2147483647>] remark <text>", numbered=True)]
    interface = [
        Rule("description <text>", key=1),
        Rule("switchport mode {access|trunk}", key=2),
        Rule("ip address <ip> <ip>", key=2),
        Rule("ip access-group <word> {in|out}", key=(0, 1, 3)),
        Rule("shutdown"),
    ]
    views = {
        "config": View("config", config, lambda host, text: "config"),
        "cc": View("cc", cc, lambda host, text: "config-cc-policy"),
        "line": View("line", line, lambda host, text: "config-line"),
        "std-nacl": View("std-nacl", std, lambda host, text: "config-std-nacl", numbered="seq", step=10, first=10),
        "ext-nacl": View("ext-nacl", list(std), lambda host, text: "config-ext-nacl", numbered="seq", step=10, first=10),
        "if": View("if", interface, lambda host, text: "config-if"),
    }
    return Grammar("cisco", views, "config", "no", "$9$", "$k$")


GRAMMARS: dict[str, Callable[[], Grammar]] = {"huawei": _huawei, "h3c": _h3c, "cisco": _cisco}


def grammar(vendor: str) -> Grammar:
    return GRAMMARS[vendor]()
