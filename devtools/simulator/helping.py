"""What engineers type besides commands: `?` help at any position, and `| include`/`| begin`/`| exclude` filters.

`?` lists the words that may come next (`display ?`), or the words a partly typed one can complete to
(`display cur?`), from the current view's grammar and the session's own commands; `<cr>` when the command may end
there. The filters apply a regular expression to the lines of `display`/`show` output as the devices do.
"""

from __future__ import annotations

import re

from devtools.simulator.grammar import Element, Rule, _token_ok
from devtools.simulator.model import CommandError

# commands the session itself handles (not configuration lines), per vendor and level
SESSION_COMMANDS = {
    ("huawei", "user"): ["display current-configuration", "display saved-configuration", "display version",
                         "display this", "display users", "display interface brief",
                         "system-view", "save [force]", "screen-length 0 temporary", "quit", "return"],
    ("huawei", "system"): ["display current-configuration", "display saved-configuration", "display version",
                           "display this", "display configuration candidate", "quit", "return", "commit"],
    ("h3c", "user"): ["display current-configuration", "display saved-configuration", "display version",
                      "display this", "display users", "display interface brief",
                      "system-view", "save [force]", "screen-length disable", "quit", "return"],
    ("h3c", "system"): ["display current-configuration", "display saved-configuration", "display version",
                        "display this", "save [force]", "quit", "return"],
    ("cisco", "user"): ["show running-config", "show startup-config", "show version", "show users",
                        "show ip interface brief", "terminal length <0-512>",
                        "terminal width <0-512>", "enable", "disable", "configure terminal", "write [memory]",
                        "copy running-config startup-config", "exit", "logout"],
    ("cisco", "system"): ["do <text>", "end", "exit"],
}
FILTERS = ("include", "exclude", "begin")


def _describe(elem: Element) -> list[str]:
    kind = elem[0]
    if kind == "lit":
        return sorted(elem[1])
    if kind == "int":
        return [f"INTEGER<{elem[1]}-{elem[2]}>"]
    return {"ip": ["IP_ADDR<X.X.X.X>"], "word": ["WORD"], "secret": ["STRING"], "text": ["TEXT"]}.get(kind, [kind.upper()])


def _next(elems: list[Element], toks: list[str], i: int, out: set[str]) -> None:
    """Add to `out` what may follow toks[:i] once toks[:i] is matched by `elems`."""
    if not elems:
        if i == len(toks):
            out.add("<cr>")
        return
    head, rest = elems[0], elems[1:]
    if head[0] == "opt":
        _next(head[1] + rest, toks, i, out)
        _next(rest, toks, i, out)
        return
    if i == len(toks):
        out.update(_describe(head))
        return
    if head[0] == "text":
        out.update(["TEXT", "<cr>"])
        return
    if _token_ok(head, toks[i]):
        _next(rest, toks, i + 1, out)


def candidates(rules: list[Rule], typed: str, negation: str) -> list[str]:
    """Help for `typed` (the input before `?`): next words after a space, completions of a partly typed word."""
    toks = typed.split()
    partial = "" if not typed or typed[-1].isspace() else toks.pop()
    if toks and toks[0] == negation:
        toks = toks[1:]
    found: set[str] = set()
    for rule in rules:
        _next(rule.elems, toks, 0, found)
    if not toks and not partial:
        found.add(negation)
    if partial:
        found = {w for w in found if w.startswith(partial)} | ({negation} if negation.startswith(partial) and not toks
                                                               else set())
    return sorted(found, key=lambda w: (w == "<cr>", w))


def _heads(elems: list[Element], toks: list[str], i: int, out: list[Element]) -> None:
    """Add to `out` the elements that may stand at position len(toks) once toks[i:] is matched by `elems`."""
    if not elems:
        return
    head, rest = elems[0], elems[1:]
    if head[0] == "opt":
        _heads(head[1] + rest, toks, i, out)
        _heads(rest, toks, i, out)
    elif i == len(toks) or head[0] == "text":
        out.append(head)
    elif _token_ok(head, toks[i]):
        _heads(rest, toks, i + 1, out)


def expand(rules: list[Rule], toks: list[str], negation: str) -> list[str]:
    """The command with its abbreviated keywords written out (`dis cur` -> `display current-configuration`), as the
    CLIs read it. A token that begins more than one keyword possible at its place is ambiguous: CommandError
    "ambiguous" at its position. A token that could be a value (a name, a number, a password) is kept as typed;
    expansion stops at the first token that is neither, and the command is then refused where it goes wrong."""
    negated = bool(toks) and toks[0] == negation
    done = toks[:1] if negated else []
    body = toks[1:] if negated else toks
    for index, tok in enumerate(body):
        heads: list[Element] = []
        for rule in rules:
            _heads(rule.elems, done[1:] if negated else done, 0, heads)
        words = {w for h in heads if h[0] == "lit" for w in h[1]}
        if index == 0 and not negated:
            words.add(negation)
        if tok in words or any(h[0] != "lit" and _token_ok(h, tok) for h in heads):
            done.append(tok)
            continue
        found = sorted(w for w in words if w.startswith(tok))
        if len(found) > 1:
            raise CommandError("ambiguous", len(done))
        if not found:
            return done + body[index:]
        done.append(found[0])
        if found[0] == negation and index == 0:
            negated = True
    return done


def session_rules(vendor: str, level: str) -> list[Rule]:
    return [Rule(syntax) for syntax in SESSION_COMMANDS[(vendor, level)]]


PIPE = re.compile(r"^(?P<command>.*?)\s+\|\s+(?P<filter>\S+)\s+(?P<pattern>.+)$")


def split_filter(line: str) -> tuple[str, tuple[str, re.Pattern[str]] | None] | None:
    """(`command`, (filter, regex)) for `display … | include …`; (line, None) without a filter; None when the filter
    word or the expression is not one the device knows."""
    m = PIPE.match(line.strip())
    if not m or not m.group("command").split()[0:1] or not re.match(r"^(dis|sh|do)", m.group("command").strip()):
        return line, None
    word = m.group("filter")
    names = [f for f in FILTERS if f.startswith(word)]
    if len(names) != 1:
        return None
    try:
        return m.group("command"), (names[0], re.compile(m.group("pattern").strip()))
    except re.error:
        return None


def apply_filter(text: str, how: tuple[str, re.Pattern[str]]) -> str:
    kind, regex = how
    lines = text.rstrip("\n").split("\n")
    if kind == "include":
        kept = [ln for ln in lines if regex.search(ln)]
    elif kind == "exclude":
        kept = [ln for ln in lines if not regex.search(ln)]
    else:
        start = next((i for i, ln in enumerate(lines) if regex.search(ln)), len(lines))
        kept = lines[start:]
    return "\n".join(kept) + ("\n" if kept else "")
