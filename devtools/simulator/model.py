"""A device configuration as the simulated CLI keeps it: a tree of lines, each matched to a grammar rule.

`Config.execute(path, line)` applies one command typed in a view; `Config.render()` prints the configuration the
way the vendor does (`display current-configuration`, `show running-config`); `Config.load_text()` rebuilds a
configuration from such a printout (saved configuration, state on disk, seed files).
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass, field

from devtools.simulator.grammar import Grammar, Rule, View


class CommandError(Exception):
    """A command the device refuses; `position` is the index of the token the caret points at."""

    def __init__(self, kind: str, position: int):
        self.kind = kind  # "unrecognized" | "incomplete" | "wrong" | "duplicate" (IOS ACL sequence number in use)
        self.position = position
        super().__init__(kind)


@dataclass
class Node:
    text: str
    order: int = 0
    view: str | None = None  # set on sections: the view their children belong to
    children: list[Node] = field(default_factory=list)


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
        if view and view.name == "aaa" and self.grammar.vendor == "huawei":
            # VRP prints `local-user` lines user by user: all of one account's lines, then the next account's
            users = [n.order for n in node.children if n.text.startswith("local-user ")]
            first = min(users, default=0)
            return sorted(node.children, key=lambda n: (first, _natural(n.text.split()[1]), n.order, "")
                          if n.text.startswith("local-user ") else (n.order, [], 0, _natural(n.text)))
        return sorted(node.children, key=lambda n: (n.order, _natural(n.text)))

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
            view = self.grammar.views[node.view or self.grammar.root]
            try:
                entered = self._apply(node, view, body, negate)
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

    def _apply(self, node: Node, view: View, toks: list[str], negate: bool) -> Node | None:
        if not toks:
            raise CommandError("incomplete", 0)
        if negate:
            self._negate(node, view, toks)
            return None
        rule, secret_at = self._find_rule(view, toks, prefix_ok=False)
        toks = list(toks)
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
        node.children = [c for c in node.children if c.text != negation_text]
        if rule.default_on:
            return None  # back to the default: the device prints nothing
        existing = next((c for c in node.children if c.text == text), None)
        if existing is None:
            if rule.numbered:
                key: tuple[str, ...] | None = (toks[0],) if view.numbered == "seq" else tuple(toks[:2])
            else:
                key = rule.key_of(toks)

            def same_setting(child: Node) -> bool:
                if key is None:
                    return False
                if rule.numbered:
                    return tuple(child.text.split()[: len(key)]) == key
                return child.order == rule.order and rule.key_of(child.text.split()) == key

            existing = next((c for c in node.children if same_setting(c)), None)
            if existing is not None:
                existing.text = text
            else:
                existing = Node(text, rule.order)
                node.children.append(existing)
        if rule.enter:
            existing.view = rule.enter if isinstance(rule.enter, str) else rule.enter(toks)
            return existing
        return None

    def _number(self, node: Node, view: View, toks: list[str]) -> list[str]:
        head = 1 if view.numbered == "rule" else 0
        if len(toks) > head and toks[head].isdigit():
            return toks
        used = [int(c.text.split()[head]) for c in node.children if len(c.text.split()) > head
                and c.text.split()[head].isdigit()]
        number = (max(used) // view.step + 1) * view.step if used else view.first
        return toks[:head] + [str(number)] + toks[head:]

    def _negate(self, node: Node, view: View, toks: list[str]) -> None:
        rule, _ = self._find_rule(view, toks, prefix_ok=True)
        if rule.canon and rule.enter:
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

        node.children = [c for c in node.children if not matches(c)]
        negation = f"{self.grammar.negation} {text}"
        if rule.default_on and not any(c.text == negation for c in node.children):
            node.children.append(Node(negation, rule.order))

    # --- text -------------------------------------------------------------------------------------------------
    def load_text(self, text: str) -> None:
        """Apply a configuration printout or an indented seed file (one space per level), skipping decoration."""
        path = [self.root]
        for raw in text.splitlines():
            stripped = raw.strip()
            if not stripped or stripped.startswith(("#", "!")) or stripped in ("return", "end"):
                continue
            if re.match(r"^(Building configuration|Current configuration|version )", stripped):
                continue
            depth = len(raw) - len(raw.lstrip(" "))
            path = path[: depth + 1]
            path = self.execute(path, stripped)

    def render(self, keep_sequence: bool = False) -> str:
        """The vendor's printout; `keep_sequence` keeps Cisco ACL sequence numbers (state files)."""
        if self.grammar.vendor == "cisco":
            return self._render_cisco(keep_sequence)
        return self._render_vrp()

    def _render_vrp(self) -> str:
        out = []
        if self.grammar.vendor == "huawei":
            out.append("!Software Version V200R019C10SPC800")
        else:
            out.append(" version 7.1.070, Release 6615")
        previous_order = None
        for depth, node in self.lines():
            if depth == 0 and (node.children or node.order != previous_order or node.view):
                out.append("#")
            if depth == 0:
                previous_order = node.order
            out.append(" " * depth + node.text)
        out.append("#")
        out.append("return")
        return "\n".join(out) + "\n"

    def _render_cisco(self, keep_sequence: bool) -> str:
        body = ["!", "version 15.2"]
        previous_order = None
        for depth, node in self.lines():
            if depth == 0 and (node.children or node.order != previous_order) and body[-1] != "!":
                body.append("!")
            if depth == 0:
                previous_order = node.order
            text = node.text
            if depth > 0 and not keep_sequence and text.split()[0].isdigit():
                text = " ".join(text.split()[1:])
            body.append(" " * depth + text)
        body += ["!", "end"]
        text = "\n".join(body) + "\n"
        return f"Building configuration...\n\nCurrent configuration : {len(text)} bytes\n" + text
