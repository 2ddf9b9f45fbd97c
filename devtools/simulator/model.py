"""A device configuration as the simulated CLI keeps it: a tree of lines, each matched to a grammar rule.

`Config.execute(path, line)` applies one command typed in a view; `Config.render()` prints the configuration the
way the vendor does (`display current-configuration`, `show running-config`); `Config.load_text()` rebuilds a
configuration from such a printout (saved configuration, state on disk, a real device's configuration) or from a
seed file typed line by line.

A section's lines are kept in the order the device prints them. A loaded printout keeps its own order, its
separator lines (`#`, `!`, ` #` inside a BGP section) and, as opaque text, every line the grammar does not model
(VLANs, OSPF, BGP, port security...), so that it is printed back byte for byte. A command typed later is placed
beside the lines of its own kind (the grammar's order), never moving the lines around it.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable
from dataclasses import dataclass, field

from devtools.simulator.grammar import Grammar, Rule, View


class CommandError(Exception):
    """A command the device refuses; `position` is the index of the token the caret points at."""

    def __init__(self, kind: str, position: int):
        self.kind = kind  # "unrecognized" | "incomplete" | "wrong" | "duplicate" (IOS ACL sequence number in use)
        self.position = position
        super().__init__(kind)


class LoadError(ValueError):
    """A configuration file the simulator cannot load, naming the file, the line and the problem."""

    def __init__(self, source: str, number: int, line: str, problem: str):
        self.source, self.number, self.line, self.problem = source, number, line, problem
        super().__init__(f"{source} line {number}: {problem}: {line.strip()!r}")


@dataclass
class Node:
    text: str
    order: int = 0
    view: str | None = None  # set on sections: the view their children belong to
    children: list[Node] = field(default_factory=list)
    opaque: bool = False  # a line of a loaded configuration the grammar does not model, kept as it was printed
    section: bool = False  # an opaque line printed at column 0 by Comware (a section, not an indented global)
    before: list[str] | None = None  # separator lines printed before this one as loaded; None: the vendor's rule


HEADER = re.compile(r"^(Building configuration|Current configuration|version \S+|!Software Version|!Last configuration"
                    r"|! Last configuration|! NVRAM config)")
COMWARE_LATE = ((100, ("info-center", "snmp-agent", "ssh server", "ntp-service", "password-control")),
                (200, ("local-user ",)), (300, ("ip http", "ip https", "ftp server")))
SEPARATOR = re.compile(r"^\s*[#!]\s*$")


def _feature(node: Node) -> str:
    """The feature a global command belongs to: its first word after any negation (`undo ip http enable`: ip)."""
    words = node.text.split()
    return words[1] if words[0] in ("undo", "no") and len(words) > 1 else words[0]


def _logging_run(previous: Node | None, node: Node) -> bool:
    """IOS prints its global `logging` lines (`logging trap`, `logging origin-id`, `logging host`) as one block."""
    return previous is not None and not previous.children and not node.children and \
        previous.text.startswith("logging ") and node.text.startswith("logging ")


def _natural(text: str) -> list:
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", text)]


class Config:
    def __init__(self, grammar: Grammar):
        self.grammar = grammar
        self.root = Node("", view=grammar.root)

    def copy(self) -> Config:
        other = Config(self.grammar)
        other.root = copy.deepcopy(self.root)
        return other

    # --- reading ---------------------------------------------------------------------------------------------
    def value(self, prefix: str, default: str = "") -> str:
        """The rest of the first top-level line starting with `prefix` (hostname, sysname)."""
        for node in self.root.children:
            if node.text.startswith(prefix + " "):
                return node.text[len(prefix) + 1:]
        return default

    def lines(self, node: Node | None = None, depth: int = 0) -> list[tuple[int, Node]]:
        node = node or self.root
        out = []
        for child in self._sorted(node):
            out.append((depth, child))
            out.extend(self.lines(child, depth + 1))
        return out

    def _sorted(self, node: Node) -> list[Node]:
        view = self.grammar.views[node.view] if node.view else None
        if view and view.numbered:
            return sorted(node.children, key=lambda n: _natural(n.text))
        return list(node.children)  # the printing order: loaded order, typed lines placed by _position

    def _key(self, view: View, node: Node) -> tuple:
        """Where a modeled line goes among its siblings: the grammar's order, then the text (numbers as numbers).
        VRP prints `local-user` lines user by user: all of one account's lines, then the next account's."""
        if view.name == "aaa" and self.grammar.vendor == "huawei" and node.text.startswith("local-user "):
            first = min(r.order for r in view.rules if r.syntax.startswith("local-user "))
            return (first, _natural(node.text.split()[1]), node.order, [])
        if view.name == "system" and self.grammar.vendor == "h3c":
            # Comware prints these globals after the `line` sections, then the accounts, then the web servers
            words = node.text.removeprefix("undo ")
            late = next((rank for rank, prefixes in COMWARE_LATE if words.startswith(prefixes)), 0)
            return (node.order + late, _natural(node.text), 0, [])
        return (node.order, _natural(node.text), 0, [])

    def _position(self, parent: Node, view: View, new: Node) -> int:
        """The index a typed line takes: after the last line of its kind that sorts before it (or before the first
        one of its kind), else after the line of the grammar's order that sorts closest before it."""
        key = self._key(view, new)
        modeled = [(i, self._key(view, c)) for i, c in enumerate(parent.children) if not c.opaque]
        same = [(i, k) for i, k in modeled if k[0] == key[0]]
        pool = same or modeled
        lower = [(k, i) for i, k in pool if k <= key]
        if lower:
            return max(lower)[1] + 1
        if same:
            return min(i for i, _ in same)
        return modeled[0][0] if modeled else len(parent.children)

    def _remove(self, parent: Node, keep: Callable[[Node], bool]) -> None:
        """Drop the children `keep` refuses; a dropped line's separators pass to the next line of its block."""
        out: list[Node] = []
        carry: list[str] | None = None
        for child in parent.children:
            if not keep(child):
                if child.before:
                    carry = child.before
                continue
            if carry is not None and child.before == []:
                child.before = carry
            carry = None
            out.append(child)
        parent.children = out

    # --- changing ----------------------------------------------------------------------------------------------
    def execute(self, path: list[Node], line: str) -> list[Node]:
        """Apply `line` typed in the view of path[-1]; return the new path (views entered or left).

        As on the devices, a command that the current view does not know is tried in the enclosing views.
        """
        toks = line.split()
        negate = bool(toks) and toks[0] == self.grammar.negation
        body = toks[1:] if negate else toks
        best_error: CommandError | None = None
        for depth in range(len(path) - 1, -1, -1):
            node = path[depth]
            if node.opaque:
                continue  # a section the grammar does not model takes no typed commands
            view = self.grammar.views[node.view or self.grammar.root]
            try:
                _, entered = self._apply(node, view, body, negate)
            except CommandError as exc:
                shifted = CommandError(exc.kind, exc.position + (1 if negate else 0))
                if best_error is None or shifted.position > best_error.position:
                    best_error = shifted
                continue
            new_path = path[: depth + 1]
            return new_path + [entered] if entered is not None else new_path
        raise best_error or CommandError("unrecognized", 0)

    def _find_rule(self, view: View, toks: list[str], prefix_ok: bool) -> tuple[Rule, tuple[int, ...]]:
        best, best_reach = None, -1
        for rule in view.rules:
            full, reach, secret_at = rule.match(toks)
            if full:
                return rule, secret_at
            if prefix_ok and reach == len(toks) and toks:
                return rule, ()
            if reach > best_reach:
                best, best_reach = rule, reach
        if best is not None and best_reach == len(toks) and toks:
            raise CommandError("incomplete", len(toks))
        if best is not None and 0 < best_reach < len(toks) and re.fullmatch(r"\d[\d.]*", toks[best_reach]):
            raise CommandError("wrong", best_reach)  # a value where one is expected, but out of range or malformed
        raise CommandError("unrecognized", max(best_reach, 0))

    def _apply(self, node: Node, view: View, toks: list[str], negate: bool, *,
               printed: bool = False) -> tuple[Node | None, Node | None]:
        """Apply one command in `node`'s view: (the line written or None, the section entered or None).

        `printed`: the line comes from a printout (saved or real configuration), already in the form the device
        prints and stores (secrets as cipher text): it is kept as it is and appended in the printout's order."""
        if not toks:
            raise CommandError("incomplete", 0)
        if negate:
            return self._negate(node, view, toks, printed=printed), None
        rule, secret_at = self._find_rule(view, toks, prefix_ok=False)
        toks = list(toks)
        if not printed:
            for index in secret_at:
                if not self.grammar.is_cipher(toks[index]):
                    kind = "password" if "password" in toks or "secret" in toks or view.name == "luser" else "key"
                    toks[index] = self.grammar.cipher(toks[index], kind)
            if rule.canon:
                toks = rule.canon(toks)
        if rule.numbered:
            explicit = bool(toks) and toks[0].isdigit()
            toks = self._number(node, view, toks)
            if view.numbered == "seq" and explicit and any(
                    c.text.split()[:1] == toks[:1] and c.text != " ".join(toks) for c in node.children):
                raise CommandError("duplicate", 0)  # IOS refuses to reuse an ACL entry's sequence number
        text = " ".join(toks)
        negation_text = f"{self.grammar.negation} {text}"
        self._remove(node, lambda c: c.text != negation_text)
        if rule.default_on:
            return None, None  # back to the default: the device prints nothing
        existing = next((c for c in node.children if c.text == text), None)
        if existing is None:
            if rule.numbered:
                key: tuple[str, ...] | None = (toks[0],) if view.numbered == "seq" else tuple(toks[:2])
            else:
                key = rule.key_of(toks)

            def same_setting(child: Node) -> bool:
                if key is None or child.opaque:
                    return False
                if rule.numbered:
                    return tuple(child.text.split()[: len(key)]) == key
                return child.order == rule.order and rule.key_of(child.text.split()) == key

            existing = next((c for c in node.children if same_setting(c)), None)
            if existing is not None:
                existing.text = text
            else:
                existing = Node(text, rule.order)
                if printed:
                    node.children.append(existing)
                else:
                    node.children.insert(self._position(node, view, existing), existing)
        if rule.enter:
            existing.view = rule.enter if isinstance(rule.enter, str) else rule.enter(toks)
            return existing, existing
        return existing, None

    def _number(self, node: Node, view: View, toks: list[str]) -> list[str]:
        head = 1 if view.numbered == "rule" else 0
        if len(toks) > head and toks[head].isdigit():
            return toks
        used = [int(c.text.split()[head]) for c in node.children if len(c.text.split()) > head
                and c.text.split()[head].isdigit()]
        number = (max(used) // view.step + 1) * view.step if used else view.first
        return toks[:head] + [str(number)] + toks[head:]

    def _negate(self, node: Node, view: View, toks: list[str], *, printed: bool = False) -> Node | None:
        rule, _ = self._find_rule(view, toks, prefix_ok=True)
        if printed and not rule.default_on:
            # a negation the simulator would not print (`undo shutdown`, `no ip address`): the device printed it,
            # so it is kept as the device's own text
            raise CommandError("unrecognized", 0)
        if rule.canon and rule.enter and not printed:
            try:
                toks = rule.canon(list(toks))
            except (StopIteration, IndexError):
                pass
        text = " ".join(toks)

        def matches(child: Node) -> bool:
            words = child.text.split()
            if words[: len(toks)] == toks:
                return True
            if view.numbered == "seq" and words[:1] and words[0].isdigit():
                return words[1: 1 + len(toks)] == toks
            return False

        self._remove(node, lambda c: not matches(c))
        negation = f"{self.grammar.negation} {text}"
        if rule.default_on:
            found = next((c for c in node.children if c.text == negation), None)
            if found is None:
                found = Node(negation, rule.order)
                if printed:
                    node.children.append(found)
                else:
                    node.children.insert(self._position(node, view, found), found)
            return found
        return None

    # --- text -------------------------------------------------------------------------------------------------
    def load_text(self, text: str, source: str = "configuration", *, typed: bool | None = None) -> None:
        """Build the configuration from a printout (`typed` False: a saved or real configuration, state on disk)
        or from a seed whose lines are typed one by one (`typed`: secrets in clear, short forms). Unless told, a text
        with separator lines (`#`, `!`) is a printout, one without them a seed.

        A printout keeps its order, its separators and the lines the grammar does not model (opaque, in their
        section). Comware's globals, printed one column right in blocks of their own, are read as globals. A line
        the grammar knows but cannot accept (a value out of range, an incomplete command), an indentation that skips
        a level or a line indented under a command without sub-commands raises LoadError naming `source` and the line.
        """
        if typed is None:
            typed = not any(SEPARATOR.match(line) for line in text.splitlines())
        stack: list[tuple[int, Node]] = [(-1, self.root)]
        pending: list[str] = []
        loaded = False  # the printout's header (software version, byte count) comes before any configuration line
        shift = False  # inside a Comware block of globals printed one column right
        at_block_start = True
        for number, raw in enumerate(text.replace("\r", "").splitlines(), 1):
            line = raw.rstrip()
            stripped = line.strip()
            if not stripped:
                continue
            if not loaded and HEADER.match(stripped):
                pending = []  # separators around the header are the header's, printed with it
                continue
            if SEPARATOR.match(line):
                if line == stripped:
                    at_block_start = True
                pending.append(line)
                continue
            if line == stripped and stripped in ("return", "end"):
                continue
            if stripped.startswith("!") and line == stripped:
                continue  # a comment of the printout's header (`! Last configuration change ...`)
            depth = len(line) - len(line.lstrip(" "))
            if self.grammar.vendor == "h3c":
                if at_block_start:
                    shift = depth > 0
                elif depth == 0:
                    shift = False
                if shift and depth > 0:
                    depth -= 1
            at_block_start = False
            while stack[-1][0] >= depth:
                stack.pop()
            parent_depth, parent = stack[-1]
            if depth > parent_depth + 1:
                raise LoadError(source, number, raw, f"indented {depth - parent_depth - 1} level(s) deeper than the "
                                                     f"line it belongs to")
            if parent is not self.root and not parent.opaque and parent.view is None:
                raise LoadError(source, number, raw, f"indented under {parent.text!r}, which takes no sub-commands")
            node = self._load_line(parent, stripped, source, number, raw, typed=typed)
            if node is None:
                pending = []
                loaded = True
                continue
            if not typed:
                node.before = pending
                if self.grammar.vendor == "h3c" and depth == 0 and node.opaque and not shift:
                    node.section = True
            pending = []
            loaded = True
            stack.append((depth, node))
        self.root.before = pending if not typed else None

    def _load_line(self, parent: Node, stripped: str, source: str, number: int, raw: str, *,
                   typed: bool) -> Node | None:
        if parent.opaque:
            node = Node(stripped, -1, opaque=True)
            parent.children.append(node)
            return node
        toks = stripped.split()
        negate = toks[0] == self.grammar.negation
        view = self.grammar.views[parent.view or self.grammar.root]
        if typed:
            try:
                written, entered = self._apply(parent, view, toks[1:] if negate else toks, negate)
            except CommandError as exc:
                raise LoadError(source, number, raw, f"{exc.kind} command at word {exc.position + 1}") from None
            return entered
        try:
            written, _ = self._apply(parent, view, toks[1:] if negate else toks, negate, printed=True)
        except CommandError as exc:
            if exc.kind != "unrecognized" or negate and len(toks) < 2:
                raise LoadError(source, number, raw, {"wrong": "a value the command does not accept",
                                                      "incomplete": "an incomplete command",
                                                      "duplicate": "a sequence number used twice"}.get(
                    exc.kind, f"{exc.kind} command") + f" (word {exc.position + 1 + negate})") from None
            written = None
        if written is None:  # not modeled, or a default the simulator would not print: kept as the device's text
            written = Node(stripped, -1, opaque=True)
            parent.children.append(written)
        return written

    def render(self, keep_sequence: bool = False) -> str:
        """The vendor's printout; `keep_sequence` keeps Cisco ACL sequence numbers (state files)."""
        if self.grammar.vendor == "cisco":
            return self._render_cisco(keep_sequence)
        return self._render_vrp()

    def _walk(self) -> list[tuple[int, Node, Node]]:
        """(depth, node, parent) in printing order."""
        out: list[tuple[int, Node, Node]] = []

        def visit(parent: Node, depth: int) -> None:
            for child in self._sorted(parent):
                out.append((depth, child, parent))
                visit(child, depth + 1)
        visit(self.root, 0)
        return out

    def _global(self, node: Node) -> bool:
        """A Comware global command (printed one column right), not a section."""
        return not (node.view or node.section or node.children)

    def _render_vrp(self) -> str:
        comware = self.grammar.vendor == "h3c"
        out = []
        if self.grammar.vendor == "huawei":
            out.append("!Software Version V200R019C10SPC800")
        else:
            out += ["#", " version 7.1.070, Release 6615"]
        previous: Node | None = None
        for depth, node, _ in self._walk():
            if node.before is not None:
                out += node.before
            elif depth == 0 and (previous is None or not self._global(node) or not self._global(previous)
                                 or _feature(node) != _feature(previous)):
                out.append("#")  # one block per section, and per feature of the globals (all `snmp-agent` lines)
            if depth == 0:
                previous = node
            pad = " " * (depth + (1 if comware and depth == 0 and self._global(node) else 0))
            out.append(pad + node.text)
        out += self.root.before if self.root.before is not None else ["#"]
        out.append("return")
        return "\n".join(out) + "\n"

    def _render_cisco(self, keep_sequence: bool) -> str:
        body = ["!", "version 15.2"]
        previous: Node | None = None
        for depth, node, parent in self._walk():
            if node.before is not None:
                body += node.before
            elif depth == 0 and (node.children or previous is None or node.order != previous.order) \
                    and body[-1] != "!" and not _logging_run(previous, node):
                body.append("!")
            if depth == 0:
                previous = node
            text = node.text
            sequenced = parent.view is not None and self.grammar.views[parent.view].numbered == "seq"
            if sequenced and not keep_sequence and text.split()[0].isdigit():
                text = " ".join(text.split()[1:])
            if sequenced and not keep_sequence and text.startswith("deny "):
                text = "deny   " + text[len("deny "):]  # IOS pads `deny` to the width of `permit` in ACL entries
            body.append(" " * depth + text)
        body += self.root.before if self.root.before is not None else ["!"]
        body.append("end")
        text = "\n".join(body) + "\n"
        return f"Building configuration...\n\nCurrent configuration : {len(text)} bytes\n" + text
