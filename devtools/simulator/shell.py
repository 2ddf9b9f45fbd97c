"""One CLI session on a simulated device: prompts, views, paging, dialogues and the vendors' error messages.

The session reads characters and echoes every keystroke as it arrives (as real devices do: scrapli waits for the
echo of a command before it sends Enter), and answers the way the vendor's CLI does, so that netmiko's stock drivers
(`huawei`, `huawei_vrpv8`, `hp_comware`, `cisco_ios`) and scrapli's (`huawei_vrp`, `hp_comware`, `cisco_iosxe`)
work against it unchanged. Passwords typed into a dialogue (Cisco `enable`) are not echoed.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass

from devtools.simulator import helping
from devtools.simulator.device import Device
from devtools.simulator.model import CommandError, Config, Node

PAGE_LINES = 24


@dataclass(frozen=True)
class Platform:
    """What differs between models and software releases of one vendor: identity, configuration header, save dialogue."""

    flavour: str  # the grammar's flavour this platform runs (vrp5, vrpv8, comware7, ios)
    version: str  # display version / show version
    software: str = ""  # VRP: the `!Software Version` line heading the configuration
    save: str = ""  # VRP save dialogue: "continue" (V200R0xx, V8) or "file" (V100R00x: Are you sure…, file name, overwrite)


PLATFORMS = {
    "vrp5": Platform("vrp5", "Huawei Versatile Routing Platform Software\n"
                     "VRP (R) software, Version 5.170 (S5700 V200R019C10SPC800)\n"
                     "Copyright (C) 2000-2020 HUAWEI TECH Co., Ltd.\n"
                     "HUAWEI S5720-52X-SI-AC Routing Switch uptime is 0 week, 3 days", "V200R019C10SPC800", "continue"),
    "vrp5-v100": Platform("vrp5", "Huawei Versatile Routing Platform Software\n"
                          "VRP (R) software, Version 5.70 (S3700 V100R006C05)\n"
                          "Copyright (C) 2000-2012 HUAWEI TECH CO., LTD\n"
                          "Quidway S3700-28TP-SI-AC Routing Switch uptime is 0 week, 3 days", "V100R006C05", "file"),
    "vrpv8": Platform("vrpv8", "Huawei Versatile Routing Platform Software\n"
                      "VRP (R) software, Version 8.191 (CE6881 V300R020C10SPC200)\n"
                      "Copyright (C) 2012-2021 Huawei Technologies Co., Ltd.\n"
                      "HUAWEI CE6881-48S6CQ uptime is 0 day, 3 hours", "V300R020C10SPC200", "continue"),
    "comware7": Platform("comware7", "H3C Comware Software, Version 7.1.070, Release 6615\n"
                         "Copyright (c) 2004-2021 New H3C Technologies Co., Ltd. All rights reserved.\n"
                         "H3C S6520X-30QC-EI uptime is 0 weeks, 3 days, 2 hours, 5 minutes"),
    "ios": Platform("ios", "Cisco IOS Software, C2960X Software (C2960X-UNIVERSALK9-M), Version 15.2(7)E8, RELEASE "
                    "SOFTWARE (fc1)\nTechnical Support: http://www.cisco.com/techsupport\n"
                    "ROM: Bootstrap program is C2960X boot loader"),
}
OLD_VRP_STARTUP = "flash:/vrpcfg.zip"


def _expand(toks: list[str], command: str) -> bool:
    """Whether `toks` is `command` typed with the abbreviations the CLIs accept (`dis cur`, `sh run`, `conf t`)."""
    words = command.split()
    return len(toks) == len(words) and all(w.startswith(t) and t for t, w in zip(toks, words, strict=True))


class Session:
    def __init__(self, device: Device, username: str, write: Callable[[str], None], close: Callable[[], None],
                 platform: str | None = None):
        self.device = device
        self.platform = PLATFORMS[platform or device.flavour]
        if self.platform.flavour != device.flavour:
            raise ValueError(f"{device.name}: platform {platform} runs {self.platform.flavour}, not {device.flavour}")
        self.vendor = device.vendor
        self.username = username
        self._write = write
        self._close = close
        account = device.accounts().get(username)
        self.level = account.level if account else 1
        self.privileged = self.level >= 15 if self.vendor == "cisco" else True
        self.path: list[Node] | None = None  # None: user view / exec mode
        self.candidate: Config | None = None  # VRPv8: configuration being edited until `commit`
        self.paging = True
        self.buffer = ""
        self.last_cr = False
        self.pending: Callable[[str], None] | None = None  # answer expected by a dialogue
        self.pager: list[str] = []
        self.started = time.time()
        self.vty = next(i for i in range(len(device.sessions) + 1) if i not in {x.vty for x in device.sessions})
        device.sessions.append(self)
        self.filter: tuple[str, re.Pattern[str]] | None = None  # `| include …` of the command being answered
        self.typed = ""  # the command as typed, before its keywords were written out
        self.address = device.source_address  # where the client comes from, as the device sees it
        self.protocol = "SSH"  # or TEL
        self.log: Callable[..., None] = lambda event, **fields: None  # syslog of the device (the server sets it)
        self.changed_in_config = False  # IOS logs one CONFIG_I on leaving configuration mode after a change
        self.closed = False

    # --- output ------------------------------------------------------------------------------------------------------
    def write(self, text: str) -> None:
        self._write(text.replace("\r\n", "\n").replace("\n", "\r\n"))

    def prompt(self) -> str:
        host = self.device.hostname
        if self.vendor == "cisco":
            if self.path is None:
                return f"{host}{'#' if self.privileged else '>'}"
            node = self.path[-1]
            view = self.device.grammar.views[node.view or "config"]
            return f"{host[:20]}({view.prompt(host, node.text)})#"
        if self.path is None:
            return f"<{host}>"
        node = self.path[-1]
        view = self.device.grammar.views[node.view or "system"]
        inner = view.prompt(host, node.text)
        if self.device.flavour == "vrpv8":
            inner = ("*" if self._uncommitted() else "~") + inner
        return f"[{inner}]"

    def banner(self) -> None:
        if self.vendor == "huawei":
            self.write("\nInfo: The max number of VTY users is 10, and the number\n"
                       "      of current VTY users on line is 1.\n"
                       f"      The current login time is {time.strftime('%Y-%m-%d %H:%M:%S')}.\n")
        elif self.vendor == "h3c":
            self.write("\n" + "*" * 78 + "\n* Copyright (c) 2004-2021 New H3C Technologies Co., Ltd. All rights reserved.*\n"
                       "* Without the owner's prior written consent,                                 *\n"
                       "* no decompiling or reverse-engineering shall be allowed.                    *\n" + "*" * 78 + "\n\n")
        else:
            self.write("\n")
        self.write(self.prompt())

    def output(self, text: str) -> None:
        """Command output, filtered by `| include`/`| begin`/`| exclude`, paged unless paging was turned off."""
        if self.filter and text:
            text = helping.apply_filter(text, self.filter)
        lines = text.rstrip("\n").split("\n") if text else []
        if not self.paging or len(lines) <= PAGE_LINES:
            if lines:
                self.write("\n".join(lines) + "\n")
            return
        self.write("\n".join(lines[:PAGE_LINES]) + "\n")
        self.pager = lines[PAGE_LINES:]
        self._more()

    def _more(self) -> None:
        self.write("  ---- More ----" if self.vendor != "cisco" else " --More-- ")

    def _page_key(self, char: str) -> None:
        self.write("\x1b[16D                \x1b[16D" if self.vendor != "cisco" else "\b" * 9 + " " * 9 + "\b" * 9)
        if char in ("q", "Q", "\x03"):
            self.pager = []
        else:
            count = 1 if char in ("\r", "\n") else PAGE_LINES
            chunk, self.pager = self.pager[:count], self.pager[count:]
            self.write("\n".join(chunk) + "\n")
        if self.pager:
            self._more()
        else:
            self.write(self.prompt())

    # --- input -------------------------------------------------------------------------------------------------------
    def feed(self, data: str) -> None:
        echo: list[str] = []  # keystrokes echoed as they arrive, written in one go before anything else is printed

        def flush() -> None:
            if echo:
                self._write("".join(echo))
                echo.clear()

        for char in data:
            if self.closed:
                return
            if self.pager:
                flush()
                if not (char == "\n" and self.last_cr):
                    self._page_key(char)
                self.last_cr = char == "\r"
                continue
            if char in ("\r", "\n"):
                if char == "\n" and self.last_cr:
                    self.last_cr = False
                    continue
                self.last_cr = char == "\r"
                line, self.buffer = self.buffer, ""
                flush()
                self._line(line)
            elif char == "\x1a":  # Ctrl+Z
                self.buffer = ""
                flush()
                self.write("\n")
                if self._uncommitted():  # VRPv8 asks, as for `return`
                    self._ask_commit()
                    continue
                self._leave_config()
                self.write(self.prompt())
            elif char == "?" and not self.pending:
                echo.append(char)
                flush()
                self._help()
            elif char in ("\x08", "\x7f"):
                if self.buffer and not self._secret_input():
                    echo.append("\b \b")
                self.buffer = self.buffer[:-1]
            else:
                self.last_cr = False
                self.buffer += char
                if char.isprintable() and not self._secret_input():
                    echo.append(char)
        flush()

    def _secret_input(self) -> bool:
        return self.pending is not None and self.pending.__name__ == "_enable_password"

    def _line(self, line: str) -> None:
        self.write("\n")  # the line itself was echoed key by key
        if self.pending:
            handler, self.pending = self.pending, None
            handler(line.strip())
        else:
            self.command(line.strip())
        if not self.closed and not self.pending and not self.pager:
            self.write(self.prompt())

    def _help(self) -> None:
        """`?`: the words that may come next at this position, then the prompt and the input typed so far again."""
        words = helping.candidates(self._rules(), self.buffer, self.device.grammar.negation)
        self.write("\n")
        if words:
            self.write("".join(f"  {w}\n" for w in words) + "\n")
        else:
            toks = self.buffer.split()
            self._error(CommandError("unrecognized", max(0, len(toks) - 1)), self.buffer)
        self.write(self.prompt() + self.buffer)

    def _rules(self, exec_level: bool = False) -> list:
        """What may be typed here: the session's own commands, then the rules of the current view and those around it."""
        if self.path is None or exec_level:
            return helping.session_rules(self.vendor, "user")
        rules = helping.session_rules(self.vendor, "system")
        for node in reversed(self.path):
            rules += self.device.grammar.views[node.view or self.device.grammar.root].rules
        return rules

    def _expanded(self, line: str, exec_level: bool = False) -> str | None:
        """`line` with its keywords written out; None (after the device's error) when one is ambiguous."""
        try:
            return " ".join(helping.expand(self._rules(exec_level), line.split(), self.device.grammar.negation))
        except CommandError as exc:
            self._error(exc, line)
            return None

    # --- commands ------------------------------------------------------------------------------------------------------
    def command(self, line: str) -> None:
        toks = line.split()
        if not toks:
            return
        split = helping.split_filter(line)
        if split is None:  # `| frobnicate …`, or an expression the device cannot compile
            where = toks.index("|") + 1 if "|" in toks else len(toks) - 1
            self._error(CommandError("wrong" if self.vendor != "cisco" else "unrecognized", where), line)
            return
        line, self.filter = split
        expanded = self._expanded(line)
        if expanded is None:
            self.filter = None
            return
        self.typed, line = line, expanded
        toks = line.split()
        try:
            if self.vendor == "cisco":
                self._cisco(line, toks)
            else:
                self._vrp(line, toks)
        finally:
            self.filter = None
            self.typed = ""

    def _error(self, exc: CommandError, line: str) -> None:
        if self.typed and len(self.typed.split()) == len(line.split()):
            line = self.typed  # the caret goes under what was typed, abbreviations and all
        toks = line.split()
        column = len(self.prompt()) + (len(" ".join(toks[: exc.position])) + (1 if exc.position else 0))
        if self.vendor == "cisco":
            if exc.kind == "ambiguous":
                self.write(f'% Ambiguous command:  "{line.strip()}"\n')
            elif exc.kind == "duplicate":
                self.write("% Duplicate sequence number\n")
            elif exc.kind == "incomplete":
                self.write("% Incomplete command.\n\n")
            else:
                self.write(" " * column + "^\n% Invalid input detected at '^' marker.\n\n")
            return
        word = {"incomplete": "Incomplete", "wrong": "Wrong parameter", "ambiguous": "Ambiguous"}.get(exc.kind,
                                                                                                     "Unrecognized")
        marker = "Error: " if self.vendor == "huawei" else " % "
        suffix = " command found at '^' position." if word != "Wrong parameter" else " found at '^' position."
        self.write(" " * column + "^\n" + marker + word + suffix + "\n")

    def _running_view(self) -> Config:
        return self.candidate if self.candidate is not None else self.device.running

    def _uncommitted(self) -> bool:
        return self.candidate is not None and self.candidate.render() != self.device.running.render()

    def _config_line(self, line: str) -> None:
        config = self._running_view()
        assert self.path is not None
        try:
            with self.device.lock:
                self.path = config.execute(self.path, line)
        except CommandError as exc:
            self._error(exc, line)
            return
        if self.candidate is None:
            self.device.note_change(self.username)
        if self.vendor == "cisco":
            self.changed_in_config = True
        else:
            self.log("command", command=self.typed or line)

    def _leave_config(self) -> None:
        if self.path is None:
            return
        if self.changed_in_config:
            self.log("command", command="")
            self.changed_in_config = False
        self.path = None
        self.candidate = None
        self.device.persist()

    # --- Huawei VRP and H3C Comware ----------------------------------------------------------------------------------------
    def _vrp(self, line: str, toks: list[str]) -> None:
        huawei = self.vendor == "huawei"
        if self._display(toks):
            return
        if self.path is None:
            if _expand(toks, "system-view"):
                self.path = [self.device.running.root]
                if self.device.flavour == "vrpv8":
                    self.candidate = self.device.running.copy()
                    self.path = [self.candidate.root]
                self.write("Enter system view, return user view with Ctrl+Z.\n" if huawei
                           else "System View: return to User View with Ctrl+Z.\n")
            elif _expand(toks, "screen-length 0 temporary") or _expand(toks, "screen-length disable"):
                self.paging = False
                if huawei:
                    self.write("Info: The configuration takes effect on the current user terminal interface only.\n")
            elif toks[0] in ("quit", "logout"):
                self._quit()
            elif toks == ["return"]:
                pass
            elif toks[0] == "save":
                self._save(toks)
            else:
                self._error(CommandError("unrecognized", 0), line)
            return
        if toks in (["quit"], ["return"]):
            if toks == ["quit"] and len(self.path) > 1:
                self.path = self.path[:-1]
            elif self._uncommitted():
                self._ask_commit()
            else:
                self._leave_config()
            return
        if self.device.flavour == "vrpv8" and toks[0] == "commit":
            self._commit()
            return
        if toks[0] == "save" and self.vendor == "h3c":
            self._save(toks)
            return
        self._config_line(line)

    def _display(self, toks: list[str]) -> bool:
        if _expand(toks, "display current-configuration") or _expand(toks, "display this") and self.path is None:
            self.output(self._current_configuration())
        elif _expand(toks, "display this"):
            assert self.path is not None
            config = self._running_view()
            node = self.path[-1]
            text = "\n".join(" " * d + n.text for d, n in config.lines(node)) if node.text else config.render()
            self.output(("#\n" + node.text + "\n" + "\n".join(" " + ln for ln in text.split("\n")) + "\n#\nreturn")
                        if node.text else text)
        elif _expand(toks, "display saved-configuration"):
            self.output(self._headed(self.device.saved))
        elif _expand(toks, "display configuration candidate") and self.candidate is not None:
            self.output(self.candidate.render())
        elif _expand(toks, "display version"):
            self.output(self.platform.version)
        elif _expand(toks, "display users"):
            self.output(self._users())
        elif _expand(toks, "display interface brief"):
            self.output(self._interfaces())
        else:
            return False
        return True

    def _current_configuration(self) -> str:
        return self._headed(self.device.running.render(), current=True)

    def _headed(self, text: str, current: bool = False) -> str:
        """A configuration as printed: VRP heads it with the platform's software, VRPv8's running configuration also
        with the last change and save."""
        if self.vendor != "huawei" or not text:
            return text
        header = [f"!Software Version {self.platform.software}"]
        if self.device.flavour == "vrpv8" and current:
            for what, (when, user) in (("updated", self.device.changed), ("saved", self.device.saved_by)):
                if when:
                    header.append(f"!Last configuration was {what} at {when} by {user}")
        body = text.split("\n", 1)[1] if text.startswith("!Software Version") else text
        return "\n".join(header) + "\n" + body

    def _users(self) -> str:
        """display users / show users: one row per open session, this one marked."""
        rows = []
        for other in sorted(self.device.sessions, key=lambda x: x.vty):
            mark = "+" if other is self else " "
            idle = "00:00:00"
            if self.vendor == "huawei":
                rows.append(f"{mark} {129 + other.vty:<4}VTY {other.vty:<4} {idle}  {other.protocol:<7}{other.address:<19} pass"
                            f"           no\n  Username : {other.username}")
            elif self.vendor == "h3c":
                started = time.strftime("%b %d %H:%M:%S", time.gmtime(other.started))
                rows.append(f"{mark} {10 + other.vty:<5}VTY {other.vty:<4}{idle}   {started}   {1000 + other.vty:<7} "
                            f"{other.protocol}")
            else:
                mark = "*" if other is self else " "
                rows.append(f"{mark} {2 + other.vty:>2} vty {other.vty:<5} {other.username:<10} idle"
                            f"                 {idle} {other.address}")
        if self.vendor == "huawei":
            return "  User-Intf    Delay    Type   Network Address     AuthenStatus    AuthorcmdFlag\n" + "\n".join(rows)
        if self.vendor == "h3c":
            details = "\n".join(f"VTY {o.vty}   :\n        User name: {o.username}\n        Location: {o.address}"
                                for o in sorted(self.device.sessions, key=lambda x: x.vty))
            return ("  Idx  Line    Idle       Time              Pid     Type\n" + "\n".join(rows)
                    + "\n\nFollowing are more details.\n" + details + "\n +    : Current operation user.")
        return ("    Line       User       Host(s)              Idle       Location\n" + "\n".join(rows)
                + "\n\n  Interface    User               Mode         Idle     Peer Address")

    def _interfaces(self) -> str:
        """display interface brief / show ip interface brief, from the interfaces of the running configuration."""
        found = []
        for node in self.device.running.root.children:
            if node.text.startswith("interface "):
                children = [c.text for c in node.children]
                address = next((c.split()[2] for c in children if c.startswith("ip address ")), "unassigned")
                description = next((c.split(None, 1)[1] for c in children if c.startswith("description ")), "")
                found.append((node.text.split(None, 1)[1], "shutdown" in children, address, description))
        if self.vendor == "huawei":
            rows = [f"{name:<28}{'*down' if down else 'up':<6}{'down' if down else 'up':<10}0%     0%          0"
                    "          0" for name, down, _, _ in found]
            return ("PHY: Physical\n*down: administratively down\n(l): loopback\n(s): spoofing\n"
                    "InUti/OutUti: input utility/output utility\n"
                    "Interface                   PHY   Protocol  InUti OutUti   inErrors  outErrors\n" + "\n".join(rows))
        if self.vendor == "h3c":
            rows = [f"{name.replace('GigabitEthernet', 'GE'):<21}{'ADM' if down else 'UP':<5}"
                    f"{'auto' if down else '1G(a)':<8}{'A' if down else 'F(a)':<7}A    1    {description}"
                    for name, down, _, description in found]
            return ("Brief information on interfaces in bridge mode:\nLink: ADM - administratively down; Stby - standby\n"
                    "Speed: (a) - auto\nDuplex: (a)/A - auto; H - half; F - full\nType: A - access; T - trunk; "
                    "H - hybrid\nInterface            Link Speed   Duplex Type PVID Description\n" + "\n".join(rows))
        rows = [f"{name:<23}{address:<16}YES {'manual' if address != 'unassigned' else 'unset':<7}"
                f"{'administratively down' if down else 'up':<22}{'down' if down else 'up'}"
                for name, down, address, _ in found]
        return "Interface              IP-Address      OK? Method Status                Protocol\n" + "\n".join(rows)

    def _commit(self) -> None:
        assert self.candidate is not None and self.path is not None
        with self.device.lock:
            self.device.running = self.candidate.copy()
        self.device.note_change(self.username)
        depth_texts = [n.text for n in self.path[1:]]
        self.candidate = self.device.running.copy()
        path = [self.candidate.root]
        for text in depth_texts:
            node = next((c for c in path[-1].children if c.text == text), None)
            if node is None:
                break
            path.append(node)
        self.path = path
        self.device.persist()

    def _ask_commit(self) -> None:
        self.write("Warning: Uncommitted configurations found. Are you sure to commit them before exiting? "
                   "[Y(yes)/N(no)/C(cancel)]:")
        self.pending = self._uncommitted_answer

    def _uncommitted_answer(self, answer: str) -> None:
        choice = answer[:1].lower()
        if choice == "y":
            self._commit()
            self._leave_config()
        elif choice == "n":
            self._leave_config()
        elif choice != "c":  # anything but yes, no or cancel: the question again
            self._ask_commit()

    def _save(self, toks: list[str]) -> None:
        if toks[1:] == ["force"]:
            self.device.save(self.username)
            self.write("Validating file. Please wait...\nSaved the current configuration to mainboard device successfully.\n"
                       if self.vendor == "h3c" else "Info: Save the configuration successfully.\n")
            return
        if self.vendor == "huawei" and self.platform.save == "file":
            self.write("Warning: The current configuration will be written to the device.\nAre you sure to continue?[Y/N]:")
            self.pending = self._old_save_answer
        elif self.vendor == "huawei":
            self.write("Warning: The current configuration will be written to the device. Continue? [Y/N]:")
            self.pending = self._save_answer
        else:
            self.write("The current configuration will be written to the device. Are you sure? [Y/N]:")
            self.pending = self._h3c_save_answer

    def _save_answer(self, answer: str) -> None:
        if answer[:1].lower() != "y":
            self.write("Info: The configuration was not saved.\n" if self.vendor == "huawei" else "")
            return
        self.device.save(self.username)
        self.write("Now saving the current configuration to the slot 0.\nInfo: Save the configuration successfully.\n")

    def _old_save_answer(self, answer: str) -> None:
        """VRP V100R00x: after `Are you sure to continue?`, the file name (Enter keeps the startup file), then whether
        to overwrite it."""
        if answer[:1].lower() != "y":
            self.write("Info: The configuration was not saved.\n")
            return
        self.write(f"Info: Please input the file name(*.cfg,*.zip)[{OLD_VRP_STARTUP}]:")
        self.pending = self._old_save_file

    def _old_save_file(self, answer: str) -> None:
        name = answer or OLD_VRP_STARTUP
        if name.rsplit("/", 1)[-1] != OLD_VRP_STARTUP.rsplit("/", 1)[-1]:
            if not name.endswith((".cfg", ".zip")):
                self.write("Error: The file name is invalid.\n")
                return
            self.write("Now saving the current configuration to the slot 0.\nSave the configuration successfully.\n")
            return  # another file than the startup configuration: display saved-configuration is unchanged
        self.write(f"{OLD_VRP_STARTUP} exists, overwrite?[Y/N]:")
        self.pending = self._old_save_overwrite

    def _old_save_overwrite(self, answer: str) -> None:
        if answer[:1].lower() != "y":
            self.write("Info: The configuration was not saved.\n")
            return
        self.device.save(self.username)
        self.write("Now saving the current configuration to the slot 0.\nSave the configuration successfully.\n")

    def _h3c_save_answer(self, answer: str) -> None:
        if answer[:1].lower() != "y":
            return
        self.write("Please input the file name(*.cfg)[flash:/startup.cfg]\n(To leave the existing filename unchanged, "
                   "press the enter key):")
        self.pending = self._h3c_save_file

    def _h3c_save_file(self, answer: str) -> None:
        self.write("flash:/startup.cfg exists, overwrite? [Y/N]:")
        self.pending = self._h3c_save_overwrite

    def _h3c_save_overwrite(self, answer: str) -> None:
        if answer[:1].lower() == "y":
            self.device.save(self.username)
            self.write("Validating file. Please wait...\nSaved the current configuration to mainboard device successfully.\n")

    def _quit(self) -> None:
        self.device.persist()
        self.closed = True
        self.end()
        self._close()

    def end(self) -> None:
        """The session is over (quit, or the client went away): no longer listed by display users."""
        if self in self.device.sessions:
            self.device.sessions.remove(self)

    # --- Cisco IOS ---------------------------------------------------------------------------------------------------------
    def _cisco(self, line: str, toks: list[str]) -> None:
        if self.path is not None:
            if toks[0] == "do" and len(toks) > 1:
                command = self._expanded(" ".join(toks[1:]), exec_level=True)
                if command is not None:
                    self._cisco_exec(command, command.split())
            elif toks == ["end"]:
                self._leave_config()
            elif toks == ["exit"]:
                if len(self.path) > 1:
                    self.path = self.path[:-1]
                else:
                    self._leave_config()
            else:
                self._config_line(line)
            return
        self._cisco_exec(line, toks)

    def _cisco_exec(self, line: str, toks: list[str]) -> None:
        if _expand(toks, "show running-config") and self.privileged:
            self.output(self.device.running.render())
        elif _expand(toks, "show startup-config") and self.privileged:
            self.output(self.device.saved)
        elif _expand(toks, "show version"):
            self.output(self.platform.version)
        elif _expand(toks, "show users"):
            self.output(self._users())
        elif _expand(toks, "show ip interface brief"):
            self.output(self._interfaces())
        elif _expand(toks, "terminal length 0"):
            self.paging = False
        elif toks[:2] == ["terminal", "width"] or _expand(toks[:2], "terminal width"):
            pass
        elif _expand(toks, "enable"):
            if not self.privileged:
                self.write("Password: ")
                self.pending = self._enable_password
        elif _expand(toks, "disable"):
            self.privileged = False
        elif _expand(toks, "configure terminal") and self.privileged:
            self.path = [self.device.running.root]
            self.write("Enter configuration commands, one per line.  End with CNTL/Z.\n")
        elif (_expand(toks, "write memory") or toks == ["write"] or _expand(toks, "write")) and self.privileged:
            self.device.save(self.username)
            self.write("Building configuration...\n[OK]\n")
        elif _expand(toks, "copy running-config startup-config") and self.privileged:
            self.write("Destination filename [startup-config]? ")
            self.pending = self._copy_answer
        elif toks[0] in ("exit", "logout", "quit"):
            self._quit()
        else:
            self._error(CommandError("unrecognized", 0), line)

    def _enable_password(self, answer: str) -> None:
        stored = self.device.enable_secret()
        if stored and self.device.grammar.verify(answer, stored):
            self.privileged = True
        else:
            self.write("% Bad secrets\n\n")

    def _copy_answer(self, answer: str) -> None:
        self.device.save(self.username)
        self.write("Building configuration...\n[OK]\n")
