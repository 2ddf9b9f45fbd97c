"""Change records (CM-01, 第二十二条) of pyinfra runs: one record per run, with the fields the Ansible callback
(plugins/callback/baseline_changes.py) writes, in the same hash-chained archive (baseline/operations/changes.py,
engine `pyinfra`).

    from baseline import pyinfra_records
    pyinfra_records.start()          # in every deploy, before its first operation (once per host; repeats are free)

The first call of a run takes the reason: `--data change_reason='...'` (pyinfra has no -e), else
$BASELINE_CHANGE_REASON, else, on the built-in lab's inventory, the lab default. Without one the run stops there,
exit 2, while pyinfra is still preparing: no operation has run on any host. The call registers a state callback
handler (pyinfra.api.state.BaseStateCallback) and an exit handler that writes the record when the run ends:

- `mode` is `check` for `--dry` (the operations pyinfra would run are the planned changes), else `apply`;
- `hosts`/`assets`: every host the run prepared, by its name in the Ansible inventory (`baseline_host`), with the
  asset kinds of its inventory groups; `changes`: each operation that changed a host (`action` names what it ran:
  shell, python.call, files.upload, ...); `problems`: failed operations (ignored ones too) with their stderr, and
  hosts that could not be connected; `stats` per host: ok, changed, failed, unreachable, skipped;
- `result`: `unreachable` or `failed` when a host was, else `interrupted` when the run ended before its operations
  finished (an error while preparing, a declined confirmation, Ctrl-C), else `succeeded`.

Secret values of the hosts' inventories (baseline/secret-variables.txt, `vault_*`, `*_password`) and pyinfra's
own passwords are replaced by ******** everywhere in the record.
"""

from __future__ import annotations

import atexit
import os
import sys
import threading
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from baseline import REPO_ROOT, inventory
from baseline.operations import changes, rollback
from baseline.secrets import secret_variable_names

REASON_DATA = "change_reason"  # --data change_reason='...'
REASON_OPTION = f"--data {REASON_DATA}='...'"
EXIT_REFUSED = 2
SECRET_SUFFIXES = ("_password", "_pass", "_secret", "_passphrase")
PYINFRA_SECRETS = ("ssh_password", "ssh_key_password", "_sudo_password", "_su_password", "_doas_password")

_lock = threading.Lock()
_runs: dict[int, Run] = {}


def _pyinfra() -> tuple[Any, Any]:
    """The run's real State and the current Host (not pyinfra's context proxies, whose identity never changes)."""
    from pyinfra.context import ctx_host, ctx_state

    return ctx_state.get(), ctx_host.get()


def start() -> changes.Change:
    """The change record of this pyinfra run (made by the first call; later calls add the current host). Stops the
    run with exit 2, naming how to give a reason, when the run has none outside the built-in lab."""
    state, host = _pyinfra()
    key = id(state)
    with _lock:
        run = _runs.get(key)
        if run is None:
            run = Run(state, cli_options())
            _runs[key] = run
    run.add_host(host)
    return run.change


KEEP_ROOT = "/var/lib/baseline/changes"  # as plugins/modules/baseline_keep.py: playbooks/rollback.yml reads both


def keep_directory() -> tuple[str, str]:
    """(change id, directory on the current host) under which this run keeps the files it replaces, for
    playbooks/rollback.yml: the record's change id, below `baseline_keep_root` (the host's pyinfra data, else its
    Ansible inventory value, as the Ansible runs read it), else KEEP_ROOT."""
    change = start()
    _, host = _pyinfra()
    given = host.data.get("baseline_keep_root")
    if not given:
        try:
            given = inventory.load(str(ansible_inventory(host))).vars(baseline_name(host)).get("baseline_keep_root")
        except Exception:  # noqa: BLE001 - an unreadable inventory: the default place (the deploy names the cause)
            given = None
    root = str(given or KEEP_ROOT).rstrip("/")
    return change.id, f"{root}/{change.id}"


def kept(operation: str, directory: str, files: Iterable[Mapping[str, Any]]) -> None:
    """Files the operation named `operation` keeps on the current host before it replaces them (path, existed,
    SHA-256 before and after, owner, group, mode; no content). The record lists them under `kept` once the
    operation has succeeded."""
    state, host = _pyinfra()
    with _lock:
        run = _runs.get(id(state))
    if run is not None:
        run.add_host(host)
        run.pending_kept.setdefault((host, operation), []).append((directory, [dict(f) for f in files]))


def cli_options() -> dict[str, Any]:
    """The pyinfra command line's options (dry, limit, deploy files, inventory) when run by the pyinfra CLI: its
    own parser reads sys.argv again (deploy files run in greenlets, which do not see the CLI's click context)."""
    import pyinfra

    if not getattr(pyinfra, "is_cli", False):
        return {}
    try:
        from pyinfra_cli.cli import cli

        context = cli.make_context("pyinfra", list(sys.argv[1:]), resilient_parsing=True)
    except Exception:  # noqa: BLE001 - an unreadable command line: the record says less, the run goes on
        return {}
    return dict(context.params)


def baseline_name(host: Any) -> str:
    """The host's name in the Ansible inventory (as baseline.pyinfra_deploy.name: `baseline_host`, else pyinfra's)."""
    return str(host.data.get("baseline_host") or host.name)


def ansible_inventory(host: Any) -> Path:
    given = host.data.get("baseline_inventory")
    return Path(str(given)) if given else inventory.inventory_path()


def sources(pyinfra_inventory: str, hosts: Iterable[Any]) -> list[str]:
    """What the run was given as its inventory: the pyinfra inventory file, else (a connector such as @local or
    @chroot) the Ansible inventories the hosts' values come from."""
    if pyinfra_inventory and not pyinfra_inventory.startswith("@") and Path(pyinfra_inventory).exists():
        return [str(Path(pyinfra_inventory).resolve())]
    return sorted({str(ansible_inventory(h).resolve()) for h in hosts})


def _strings(value: Any) -> Iterable[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, Mapping):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, (list, tuple, set)):
        for item in value:
            yield from _strings(item)


def secret_values(values: Mapping[str, Any]) -> set[str]:
    """The secret values among a host's inventory values."""
    names = set(secret_variable_names())
    return {text for name, value in values.items()
            if name in names or name.startswith("vault_") or name.endswith(SECRET_SUFFIXES)
            for text in _strings(value) if text}


def missing_reason(where: list[str]) -> str:
    return (f"CM-01: this pyinfra run has no change reason. Every change to inventory {', '.join(where) or '(none)'} "
            f"is recorded with why it is made (第二十二条(一)): give {REASON_OPTION} or set {changes.REASON_ENV}. "
            "No operation was run on any host.")


def command_action(commands: Iterable[Any]) -> str:
    """What an executed operation ran, by pyinfra command type: shell, python.call, files.upload, files.download."""
    names = {"StringCommand": "shell", "FunctionCommand": "python.call", "FileUploadCommand": "files.upload",
             "FileDownloadCommand": "files.download", "MaskString": "shell"}
    found = [names.get(type(c).__name__, type(c).__name__) for c in commands]
    return ", ".join(dict.fromkeys(found)) or "pyinfra operation"


class Run:
    """One pyinfra run's change record: opened by the first `start()`, finished when the process exits."""

    def __init__(self, state: Any, options: Mapping[str, Any]):
        from pyinfra.api.state import BaseStateCallback

        self.state = state
        self.dry = bool(options.get("dry"))
        hosts = list(state.inventory)
        self.sources = sources(str(options.get("inventory") or ""), hosts)
        given = next((str(h.data.get(REASON_DATA)).strip() for h in hosts if str(h.data.get(REASON_DATA) or "").strip()),
                     "")
        deploys = [os.path.relpath(Path(p).resolve(), REPO_ROOT) if str(Path(p).resolve()).startswith(str(REPO_ROOT))
                   else str(Path(p).resolve()) for p in options.get("operations") or ()]
        # playbooks/pyinfra/rollback.py records itself as the rollback of its change (as the Ansible callback does)
        undoes = rollback.rollback_of(
            {rollback.CHANGE_VARIABLE: next((h.data.get(rollback.CHANGE_VARIABLE) for h in hosts
                                             if h.data.get(rollback.CHANGE_VARIABLE)), "")}, deploys)
        text, source = changes.reason({changes.REASON_VARIABLE: given}, self.sources)
        source = f"--data {REASON_DATA}" if given else source
        if undoes:
            text, source = ((f"rollback of {undoes}: {text}", source) if given or source == changes.REASON_ENV
                            else (f"rollback of {undoes}", "rollback"))
        try:
            self.change = changes.Change("pyinfra", tool="pyinfra" + (" --dry" if self.dry else ""),
                                         inventory=self.sources, reason=text or None, reason_option=REASON_OPTION,
                                         check=self.dry, limit=",".join(options.get("limit") or ()), at_exit=False)
        except changes.ReasonMissing:
            print(missing_reason(self.sources), file=sys.stderr, flush=True)
            raise SystemExit(EXIT_REFUSED) from None
        if text:
            self.change.record["reason_source"] = source
        if undoes:
            self.change.record["rollback_of"] = undoes
        self.change.record["playbooks"] = deploys
        self.change.record["diff_mode"] = bool(getattr(state.config, "DIFF", False))
        self.names: dict[Any, str] = {}
        self.order: list[tuple[Any, str]] = []  # (host, op hash) in the order the operations ended
        # (host, operation name) -> [(directory, files)]: what an operation keeps before it replaces files (kept())
        self.pending_kept: dict[tuple[Any, str], list[tuple[str, list[dict[str, Any]]]]] = {}
        self._pid = os.getpid()
        for failed in list(getattr(state, "failed_hosts", ()) or ()):  # could not be connected
            self.add_host(failed)
            self.change.problem(self.names[failed], "connect", "unreachable", "pyinfra could not connect to the host")
            self.change.host(self.names[failed], unreachable=1)
        run = self

        class Handler(BaseStateCallback):
            @staticmethod
            def operation_host_success(state: Any, host: Any, op_hash: str, retry_count: int = 0) -> None:
                run.order.append((host, op_hash))

            @staticmethod
            def operation_host_error(state: Any, host: Any, op_hash: str, retry_count: int = 0,
                                     max_retries: int = 0) -> None:
                run.order.append((host, op_hash))

            @staticmethod
            def host_connect_error(state: Any, host: Any, error: Any) -> None:
                run.add_host(host)
                run.change.problem(run.names[host], "connect", "unreachable", str(error))
                run.change.host(run.names[host], unreachable=1)

        self.handler = Handler()
        state.add_callback_handler(self.handler)
        atexit.register(self.finish)

    def add_host(self, host: Any) -> None:
        if host in self.names:
            return
        name = baseline_name(host)
        self.names[host] = name
        kinds: list[str] = []
        try:
            inv = inventory.load(str(ansible_inventory(host)))
            groups = [g for g, members in inv.groups().items() if name in members]
            kinds = changes.asset_kinds(groups)
            self.change.add_secrets(secret_values(inv.vars(name)))
        except Exception as exc:  # noqa: BLE001 - the record goes on without the kinds; the deploy names the cause
            self.change.problem(name, "read the host's inventory values", "warning", f"{type(exc).__name__}: {exc}")
        self.change.add_secrets(str(host.data.get(key)) for key in PYINFRA_SECRETS if host.data.get(key))
        self.change.host(name, kinds)

    # --- the end of the run -------------------------------------------------------------------------------------

    def _op_name(self, op_hash: str) -> str:
        names = sorted(self.state.get_op_meta(op_hash).names)
        return ", ".join(names) or op_hash

    def _executed(self) -> None:
        """Changes, failures and counts from the operations that ran (complete ones)."""
        seen = {(h, o) for h, o in self.order}
        pending = [(h, o) for h in self.names for o in getattr(h, "op_hash_order", ()) if (h, o) not in seen]
        for host, op_hash in [*self.order, *pending]:
            data = self.state.ops.get(host, {}).get(op_hash)
            if data is None or not data.operation_meta.is_complete():
                continue
            meta = data.operation_meta
            name, task = self.names[host], self._op_name(op_hash)
            commands = meta._commands or []
            if meta.did_succeed():
                self._kept(host, name, op_hash)
                changed = bool(commands)
                if changed:
                    self.change.changed(name, task, command_action(commands), commands=len(commands))
                self.change.host(name, ok=1, changed=int(changed))
                continue
            ignored = bool(data.global_arguments.get("_ignore_errors"))
            if commands:
                self.change.changed(name, task, command_action(commands), failed=True, commands=len(commands))
            stderr = "\n".join(meta.stderr_lines[-20:]) if meta._combined_output is not None else ""
            self.change.problem(name, task, "ignored failure" if ignored else "failed",
                                stderr or "the operation failed (see the run's output)")
            self.change.host(name, ok=int(ignored), failed=int(not ignored))

    def _kept(self, host: Any, name: str, op_hash: str) -> None:
        """The files a succeeded operation kept, into the record's `kept` (as the Ansible callback writes it)."""
        for operation in sorted(self.state.get_op_meta(op_hash).names):
            for directory, files in self.pending_kept.get((host, operation), []):
                held = self.change.record.setdefault("kept", {}).setdefault(name, {"dir": directory, "files": []})
                known = {item["path"] for item in held["files"]}
                held["files"] += [item for item in files if item.get("path") not in known]

    def _planned(self) -> None:
        """--dry: every operation pyinfra prepared that would change the host is a planned change."""
        from pyinfra.context import ctx_host, ctx_state

        for host, name in self.names.items():
            for op_hash in getattr(host, "op_hash_order", ()):
                data = self.state.ops.get(host, {}).get(op_hash)
                if data is None:
                    continue
                meta = data.operation_meta
                will = meta._maybe_is_change
                if will is None:  # -y: pyinfra did not look for changes while preparing; ask the operation now
                    try:
                        with ctx_state.use(self.state), ctx_host.use(host):
                            will = meta.will_change
                    except Exception:  # noqa: BLE001 - cannot tell: counted as planned, said so
                        will = True
                if will:
                    self.change.changed(name, self._op_name(op_hash), "pyinfra operation")
                self.change.host(name, ok=1, changed=int(bool(will)))

    def result(self) -> str:
        from pyinfra.api.state import StateStage

        stats = self.change.stats
        if any(s.get("unreachable") for s in stats.values()):
            return "unreachable"
        if any(s.get("failed") for s in stats.values()):
            return "failed"
        stage = getattr(self.state, "current_stage", None)
        if self.dry:
            return "succeeded" if stage is not None and stage >= StateStage.Prepare else "interrupted"
        return "succeeded" if stage is not None and stage >= StateStage.Disconnect else "interrupted"

    def finish(self) -> dict[str, Any] | None:
        """Write the record (once, in the process that started it). Never raises: a problem is one warning."""
        if os.getpid() != self._pid or self.change.written is not None:
            return self.change.written
        try:
            if self.dry:
                self._planned()
            else:
                self._executed()
            outcome = self.result()
            if outcome == "interrupted" and not self.dry and not self.order:
                self.change.problem("", "run", "interrupted", "the run ended before any operation ran (an error or a "
                                    "refusal while preparing, a declined confirmation, an interruption)")
            record = self.change.finish(outcome)
            print(f"change record {record['id']} ({'planned' if self.dry else outcome}) in {changes.archive().path}",
                  file=sys.stderr, flush=True)
            return record
        except Exception as exc:  # noqa: BLE001 - the run's own outcome stands; the archive misses this run
            print(f"warning: CM-01 change record: {type(exc).__name__}: {exc}; this pyinfra run is not recorded in the "
                  "change archive", file=sys.stderr, flush=True)
            return None
