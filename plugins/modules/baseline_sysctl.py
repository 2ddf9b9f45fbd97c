#!/usr/bin/python
"""One sysctl file of the baseline and its live values, in one call (IP-03, RI-01).

The file gets one `key=value` line per setting, in the order given, as ansible.posix.sysctl leaves a new file after
setting the keys one after the other (the pyinfra deploy writes the same bytes: playbooks/pyinfra/hardening.py,
`sysctl_file`). With `set_live` each key whose running value differs is then set, in the same order, and read back.
One call instead of a loop of ansible.posix.sysctl (one module run per key) is what keeps a re-apply short."""

from __future__ import annotations

import os
import tempfile
from typing import Any

from ansible.module_utils.basic import AnsibleModule

DOCUMENTATION = r"""
module: baseline_sysctl
short_description: Write a sysctl.d file of key=value lines and set the running values that differ
description:
  - Writes C(path) (root, mode 0644) with one C(key=value) line per item of C(settings), in their order; values are
    written as ansible.posix.sysctl writes them (booleans and yes/no/on/off/true/false as 1/0, text stripped).
  - With C(set_live=true), reads each key's running value (C(/proc/sys)) and sets those that differ with
    C(sysctl -w), in order (switching forwarding resets per-interface values that later keys then set), then reads
    them back and fails naming the key the kernel did not take.
  - Check mode and diff mode say what would change without writing.
options:
  path: {type: path, required: true}
  settings: {type: dict, required: true}
  set_live: {type: bool, default: true}
"""

RETURN = r"""
file_changed: {description: whether the file's content differs (or, in check mode, would), type: bool}
live_set: {description: the keys whose running value was (or, in check mode, would be) set, type: list}
"""

TRUE_WORDS = {"1", "true", "yes", "on", "y", "t"}
FALSE_WORDS = {"0", "false", "no", "off", "n", "f"}


def sysctl_text(value) -> str:
    """A value as ansible.posix.sysctl writes it."""
    if isinstance(value, bool):
        return "1" if value else "0"
    word = str(value).strip()
    if word.lower() in TRUE_WORDS:
        return "1"
    if word.lower() in FALSE_WORDS:
        return "0"
    return word


def file_text(settings: dict) -> str:
    return "".join(f"{key}={sysctl_text(value)}\n" for key, value in settings.items())


def proc_path(key: str) -> str:
    return "/proc/sys/" + key.replace(".", "/")


def running(key: str) -> str | None:
    """The running value with its whitespace folded (the kernel separates fields with tabs), None if unreadable."""
    try:
        with open(proc_path(key), encoding="utf-8") as handle:
            return " ".join(handle.read().split())
    except OSError:
        return None


def write_file(module: AnsibleModule, path: str, text: str) -> None:
    directory = os.path.dirname(path) or "."
    fd, scratch = tempfile.mkstemp(dir=directory, prefix=".baseline-sysctl-")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.chmod(scratch, 0o644)
        if os.geteuid() == 0:
            os.chown(scratch, 0, 0)
        os.replace(scratch, path)
    except OSError as err:
        if os.path.exists(scratch):
            os.unlink(scratch)
        module.fail_json(msg=f"cannot write {path}: {err}")


def main() -> None:
    module = AnsibleModule(
        argument_spec={"path": {"type": "path", "required": True},
                       "settings": {"type": "dict", "required": True},
                       "set_live": {"type": "bool", "default": True}},
        supports_check_mode=True)
    path, settings = module.params["path"], module.params["settings"]
    wanted = file_text(settings)
    try:
        with open(path, encoding="utf-8") as handle:
            before = handle.read()
    except FileNotFoundError:
        before = None
    except OSError as err:
        module.fail_json(msg=f"cannot read {path}: {err}")
    file_changed = before != wanted
    if file_changed and not module.check_mode:
        write_file(module, path, wanted)

    live_set, live_before, live_after = [], [], []
    if module.params["set_live"]:
        for key, setting in settings.items():
            value = " ".join(sysctl_text(setting).split())
            now = running(key)
            if now == value:
                continue
            live_set.append(key)
            live_before.append(f"{key} = {now if now is not None else '(unreadable)'}\n")
            live_after.append(f"{key} = {value}\n")
            if module.check_mode:
                continue
            rc, _, stderr = module.run_command(["sysctl", "-q", "-w", f"{key}={value}"])
            if rc != 0 or running(key) != value:
                module.fail_json(msg=f"sysctl {key}={value} was not taken (running value {running(key)!r}): "
                                     f"{stderr.strip() or 'no error printed'}", live_set=live_set)

    result: dict[str, Any] = {"changed": file_changed or bool(live_set), "file_changed": file_changed,
                              "live_set": live_set}
    if module._diff:
        diffs = []
        if file_changed:
            diffs.append({"before": before or "", "after": wanted, "before_header": path, "after_header": path})
        if live_set:
            diffs.append({"before": "".join(live_before), "after": "".join(live_after),
                          "before_header": "running values", "after_header": "running values"})
        result["diff"] = diffs
    module.exit_json(**result)


if __name__ == "__main__":
    main()
