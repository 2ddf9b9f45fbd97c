"""Callback plugin: every ansible-playbook run appends one change record (CM-01, 第二十二条) to the change archive.

The record says who ran it and why, when, on which inventory and hosts, each changed task per host with its diff
where Ansible gives one (run with --diff to have them), failures and unreachable hosts, and the result. Check-mode
runs are recorded as planned changes. Secrets never reach the archive: a no_log task is recorded by name only, and
every vault value of the run's variables is replaced by ******** wherever it appears. Records are append-only and
hash-chained (baseline/operations/chain.py); `scripts/changes list | show ID | verify` reads them.

A run on an inventory other than the built-in lab's must give its reason (-e change_reason=... or
BASELINE_CHANGE_REASON): without one the run is refused when the first play starts, before any host is contacted,
with ansible-playbook's status 2. Apart from that refusal, nothing this plugin does can fail or stop a run: its
own errors are caught and reported once as a warning.
"""

from __future__ import annotations

import atexit
import functools
import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from ansible import context
from ansible.plugins.callback import CallbackBase

if TYPE_CHECKING:
    from baseline.operations.changes import Redactor

CONTROLS = ("CM-01",)  # the control this plugin applies on every run (baseline catalog trace CM-01)

DOCUMENTATION = """
    name: baseline_changes
    type: aggregate
    short_description: append a hash-chained change record (CM-01) for every playbook run
    description:
      - One record per ansible-playbook run in changes/changes.jsonl (or $BASELINE_CHANGES_DIR); see docs/operations.md.
      - Refuses a run without a change reason (-e change_reason=... or $BASELINE_CHANGE_REASON) unless the inventory
        is the built-in lab's.
    requirements:
      - enabled in ansible.cfg (callbacks_enabled)
"""

try:
    from baseline.operations import changes as _changes
    from baseline.operations import rollback as _rollback
except ImportError:  # Ansible outside the project's virtualenv (scripts/setup installs the package there)
    # the plugin then records nothing: __init__ marks it broken, and a broken plugin never reaches the module
    _changes = None  # type: ignore[assignment]
    _rollback = None  # type: ignore[assignment]

# The run's change id, for the tasks that keep the files a change replaces (plugins/modules/baseline_keep.py reads it
# through lookup('env', ...)): set before the first task, inherited by every worker process of the run.
CHANGE_ID_ENV = "BASELINE_CHANGE_ID"

SKIP_VARIABLES = {"hostvars", "vars", "groups", "group_names", "inventory_hostname", "omit", "playbook_dir",
                  "ansible_play_hosts", "ansible_play_hosts_all", "ansible_play_batch", "environment"}


def _guarded(method):
    """Run a callback method; an error of this plugin becomes one warning and the plugin stops recording."""

    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        if self._broken:
            return None
        try:
            return method(self, *args, **kwargs)
        except Exception as exc:  # the plugin must never make a run fail
            self._fail(f"{method.__name__}: {type(exc).__name__}: {exc}")
            return None

    return wrapper


@functools.lru_cache(maxsize=512)
def _encrypted_file(path: str) -> bool:
    """A whole-file vault (its values carry no vault tag of their own, only the file they came from)."""
    try:
        with open(path, "rb") as fh:
            return fh.read(14) == b"$ANSIBLE_VAULT"
    except OSError:
        return False


def _from_encrypted_file(value) -> bool:
    try:
        from ansible._internal._datatag._tags import Origin
    except ImportError:
        return False
    origin = Origin.get_tag(value)
    return bool(origin is not None and origin.path and _encrypted_file(str(origin.path)))


def _secrets(value, found: set, depth: int = 0) -> None:
    """Collect the plaintext of every vault value (inline !vault or from a vaulted file) under `value`."""
    if depth > 20:
        return
    try:
        from ansible.parsing.vault import EncryptedString, VaultHelper
    except ImportError:  # older Ansible: AnsibleVaultEncryptedUnicode
        EncryptedString, VaultHelper = None, None
    if EncryptedString is not None and type(value) is EncryptedString:
        try:
            found.add(str(value._decrypt()) if hasattr(value, "_decrypt") else str(value))
        except Exception:  # noqa: S110 - cannot be decrypted here, so it cannot be written either
            pass
        return
    if hasattr(value, "vault") and hasattr(value, "data"):  # AnsibleVaultEncryptedUnicode (ansible-core < 2.19)
        try:
            found.add(str(value.data))
        except Exception:  # noqa: S110
            pass
        return
    if isinstance(value, str):
        if (VaultHelper is not None and VaultHelper.get_ciphertext(value, with_tags=False)) or _from_encrypted_file(value):
            found.add(str(value))
        return
    if isinstance(value, Mapping):
        for key, item in value.items():
            if depth == 0 and key in SKIP_VARIABLES:
                continue
            _secrets(item, found, depth + 1)
    elif isinstance(value, (list, tuple, set)):
        for item in value:
            _secrets(item, found, depth + 1)


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "baseline_changes"
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._broken = False
        self._warned = False
        self._started = False
        self._written = False
        self._pid = os.getpid()
        self._record: dict = {}
        self._changes: list[dict] = []
        self._problems: list[dict] = []
        self._hosts: dict[str, list[str]] = {}
        self._kept: dict[str, dict] = {}  # host -> {"dir": ..., "files": {path: entry}} (baseline_keep results)
        self._secret_hosts: set[str] = set()
        self._redact: Redactor  # made when the run starts (_play_start), before any method uses it
        self._stats_seen = 0
        self._inventory = None
        self._play = None
        if _changes is None:
            self._fail("the baseline package cannot be imported; change records are not written")

    # --- plumbing ---------------------------------------------------------------------------------------------

    def _fail(self, why: str) -> None:
        self._broken = True
        if not self._warned:
            self._warned = True
            self._display.warning(f"CM-01 change record: {why}. The run goes on; this run is not recorded in the change "
                                  "archive.")

    def _collect_secrets(self, variable_manager, play, hosts) -> None:
        found: set = set()
        _secrets(variable_manager.extra_vars, found)
        fresh = [host for host in hosts if host.name not in self._secret_hosts]
        # every host once (inventory values); each play once more for its own vars and vars_files
        for host in fresh or list(hosts)[:1]:
            self._secret_hosts.add(host.name)
            _secrets(variable_manager.get_vars(play=play, host=host), found)
        self._redact.add(found)

    # --- events -----------------------------------------------------------------------------------------------

    @_guarded
    def v2_playbook_on_start(self, playbook):
        path = str(Path(playbook._file_name).resolve()) if getattr(playbook, "_file_name", None) else ""
        self._record.setdefault("playbooks", [])
        if path:
            self._record["playbooks"].append(os.path.relpath(path, _changes.REPO_ROOT) if path.startswith(
                str(_changes.REPO_ROOT) + os.sep) else path)

    def v2_playbook_on_play_start(self, play):
        if self._broken:
            return
        try:
            variable_manager = play.get_variable_manager()
            inventory = variable_manager._inventory
            sources = [str(s) for s in (getattr(inventory, "_sources", None) or context.CLIARGS.get("inventory") or ())]
            if not self._started:
                text, source = _changes.reason(variable_manager.extra_vars, sources)
                undoes = _rollback.rollback_of(variable_manager.extra_vars, self._record.get("playbooks", []))
                if undoes:  # playbooks/rollback.yml records itself as the rollback of its change
                    self._record["rollback_of"] = undoes
                    text, source = ((f"rollback of {undoes}: {text}", source) if source.startswith(("-e", "BASELINE"))
                                    else (f"rollback of {undoes}", "rollback"))
                if not text:
                    refusal = _changes.missing_reason(sources)
                else:
                    refusal = ""
            else:
                refusal = ""
        except Exception as exc:
            self._fail(f"play start: {type(exc).__name__}: {exc}")
            return
        if refusal:  # the deliberate refusal: before any host is contacted, nothing recorded
            self._display.error(refusal)
            sys.stdout.flush()
            raise SystemExit(2)
        self._play_start(play, variable_manager, inventory, sources=sources, reason=(text, source) if not self._started else None)

    @_guarded
    def _play_start(self, play, variable_manager, inventory, *, sources, reason):
        from baseline.operations.changes import Redactor

        if not self._started:
            self._started = True
            self._inventory = inventory
            text, source = reason
            self._redact = Redactor()
            check = bool(context.CLIARGS.get("check"))
            self._record.update({
                "schema": _changes.SCHEMA, "id": _changes.new_change_id(), "engine": "ansible",
                "tool": "ansible-playbook",
                "operator": _changes.operator(extra_vars=variable_manager.extra_vars), "account": _account(),
                "controller": _changes.controller(),
                "reason": text, "reason_source": source, "inventory": sources, "lab": _changes.is_lab(sources),
                "mode": "check" if check else "apply", "diff_mode": bool(context.CLIARGS.get("diff")),
                "limit": context.CLIARGS.get("subset") or "", "tags": sorted(t for t in context.CLIARGS.get("tags", ())
                                                                              if t != "all"),
                "start": _changes.now_iso(),
            })
            os.environ[CHANGE_ID_ENV] = self._record["id"]
            atexit.register(self._at_exit)
        self._play = play
        hosts = inventory.get_hosts(play.hosts) if play.hosts else []
        for host in hosts:
            self._hosts.setdefault(host.name, _changes.asset_kinds(g.name for g in host.get_groups()))
        self._collect_secrets(variable_manager, play, hosts)

    def _entry(self, result, failed: bool = False) -> dict | None:
        data = result.result if hasattr(result, "result") else result._result
        task = result.task if hasattr(result, "task") else result._task
        host = result.host if hasattr(result, "host") else result._host
        if not data.get("changed"):
            return None
        redact = self._redact
        check_mode = task.check_mode if isinstance(getattr(task, "check_mode", None), bool) else None
        planned = check_mode if check_mode is not None else bool(context.CLIARGS.get("check"))
        entry = {"host": host.get_name(), "task": _changes.clip(redact(task.get_name()), 300),
                 "action": str(task.action), "planned": planned}
        if failed:
            entry["failed"] = True
        self._hosts.setdefault(host.get_name(), _changes.asset_kinds(g.name for g in host.get_groups()))
        if task.no_log is True or data.get("_ansible_no_log") or "censored" in data:
            entry["redacted"] = "no_log: the task's result and diff are not recorded"
            return entry
        diffs = []
        items = []
        loop_results = data.get("results") if isinstance(data.get("results"), list) else None
        for part in loop_results if loop_results is not None else [data]:
            if not isinstance(part, Mapping) or (loop_results is not None and not part.get("changed")):
                continue
            if part.get("_ansible_no_log") or "censored" in part:
                items.append("(no_log item: not recorded)")
                continue
            if loop_results is not None:
                label = part.get("_ansible_item_label", part.get("item"))
                items.append(_changes.clip(redact(label if isinstance(label, str) else repr(label)), 200))
            diff = part.get("diff")
            for d in diff if isinstance(diff, list) else [diff] if isinstance(diff, Mapping) else []:
                if isinstance(d, Mapping):
                    diffs.append({k: redact(v) for k, v in d.items()
                                  if k in ("before", "after", "before_header", "after_header", "prepared")})
        if items:
            entry["items"] = items
        if diffs:
            entry["diff"] = diffs
        return entry

    @_guarded
    def v2_runner_on_ok(self, result, **kwargs):
        if not self._started:
            return
        data = result.result if hasattr(result, "result") else result._result
        if isinstance(data.get("ansible_facts"), Mapping):  # include_vars of a vaulted file, set_fact of a vault value
            found: set = set()
            _secrets(data["ansible_facts"], found, 1)
            self._redact.add(found)
        task = result.task if hasattr(result, "task") else result._task
        if str(task.action).rsplit(".", 1)[-1] == "include_vars" and self._play is not None:
            # its result is censored when the file is vaulted: read the host's variables again instead
            host = result.host if hasattr(result, "host") else result._host
            found = set()
            _secrets(self._play.get_variable_manager().get_vars(play=self._play, host=host), found)
            self._redact.add(found)
        self._keep(result)
        if entry := self._entry(result):
            self._changes.append(entry)

    def _keep(self, result) -> None:
        """The files a baseline_keep task kept (or sealed, or a rollback restored): paths and hashes, no content."""
        data = result.result if hasattr(result, "result") else result._result
        kept = data.get("baseline_kept")
        if not isinstance(kept, list) or not kept:
            return
        host = result.host if hasattr(result, "host") else result._host
        held = self._kept.setdefault(host.get_name(), {"dir": "", "files": {}})
        held["dir"] = str(data.get("baseline_keep_dir") or held["dir"])
        for item in kept:
            if isinstance(item, Mapping) and isinstance(item.get("path"), str):
                held["files"].setdefault(item["path"], {}).update(
                    {k: v for k, v in item.items() if isinstance(v, (str, bool, int))})

    @_guarded
    def v2_runner_on_failed(self, result, ignore_errors=False, **kwargs):
        if not self._started:
            return
        self._keep(result)
        if entry := self._entry(result, failed=True):
            self._changes.append(entry)
        self._problem(result, "ignored failure" if ignore_errors else "failed")

    @_guarded
    def v2_runner_on_unreachable(self, result, **kwargs):
        if self._started:
            self._problem(result, "unreachable")

    def _problem(self, result, what: str) -> None:
        data = result.result if hasattr(result, "result") else result._result
        task = result.task if hasattr(result, "task") else result._task
        host = result.host if hasattr(result, "host") else result._host
        no_log = task.no_log is True or data.get("_ansible_no_log") or "censored" in data
        msg = "(no_log: not recorded)" if no_log else _changes.clip(self._redact(str(data.get("msg", ""))), 1000)
        self._problems.append({"host": host.get_name(), "task": _changes.clip(self._redact(task.get_name()), 300),
                               "what": what, "msg": msg})

    @_guarded
    def v2_playbook_on_stats(self, stats):
        if not self._started:
            return
        self._stats_seen += 1
        summary = self._record.setdefault("stats", {})
        for host in sorted(stats.processed):
            counts = stats.summarize(host)  # Ansible calls failed tasks `failures`
            before = summary.get(host, {})
            now = {"ok": counts.get("ok", 0), "changed": counts.get("changed", 0), "failed": counts.get("failures", 0),
                   "unreachable": counts.get("unreachable", 0), "skipped": counts.get("skipped", 0),
                   "rescued": counts.get("rescued", 0), "ignored": counts.get("ignored", 0)}
            summary[host] = {k: max(v, before.get(k, 0)) for k, v in now.items()}  # stats add up over the playbooks
            self._hosts.setdefault(host, [])
        playbooks = context.CLIARGS.get("args") or ()
        if self._stats_seen >= max(1, len(playbooks)):
            self._write(None)

    def _at_exit(self) -> None:
        if os.getpid() != self._pid or self._written or self._broken or not self._started:
            return
        try:
            self._write("interrupted")  # the run ended before its last playbook's summary (error, Ctrl-C, a break)
        except Exception as exc:  # noqa: BLE001
            self._fail(f"at exit: {type(exc).__name__}: {exc}")

    def _write(self, forced: str | None) -> None:
        if self._written:
            return
        self._written = True
        stats = self._record.get("stats", {})
        if any(s.get("unreachable") for s in stats.values()):
            result = "unreachable"
        elif any(s.get("failed") for s in stats.values()):
            result = "failed"  # also when a failed playbook ended the run before the next one
        else:
            result = forced or "succeeded"
        record = {**self._record, "end": _changes.now_iso(), "result": result, "hosts": sorted(self._hosts),
                  "assets": {h: k for h, k in sorted(self._hosts.items()) if k},
                  "changes": self._changes, "problems": self._problems}
        if self._kept:
            record["kept"] = {host: {"dir": held["dir"], "files": [held["files"][path] for path in sorted(held["files"])]}
                              for host, held in sorted(self._kept.items())}
        _changes.append(record, warn=self._display.warning)  # also the syslog copy ($BASELINE_CHANGES_SYSLOG)


def _account() -> str:
    import getpass

    try:
        return getpass.getuser()
    except Exception:  # noqa: BLE001
        return str(os.getuid())

