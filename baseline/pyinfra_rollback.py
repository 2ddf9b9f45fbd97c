"""pyinfra: rollback of a recorded change on servers (CM-01, 第二十二条), as playbooks/rollback.yml for Ansible:
put back the files an Ansible or pyinfra change replaced or removed, from the copies that run kept on each host, and
record the rollback as a change of its own.

    pyinfra INVENTORY playbooks/pyinfra/rollback.py --data change_id=CHG-... [--limit HOSTS] [--dry]
        [--data rollback_force=true]

While pyinfra prepares, before any operation runs on any host: the change archive's hash chain verifies and names
the files the change kept (baseline.operations.rollback.plan, once per run); on each host of the change the copies
match the record's SHA-256 before the change and every current file still has the SHA-256 the change left (the keep
program's `check`, plugins/modules/baseline_keep.py, read as a fact). A refusal stops the run with exit 2: nothing is
restored anywhere. Then, per host with files to restore: the integrity snapshot (IP-05), the access files (sshd, PAM,
sudoers, staff keys, nftables) under the lockout guard (armed before, a fresh SSH login with sudo after, else put
back), the files restored with the current ones kept under the rollback's own change id (a rollback can be rolled
back), the reloads their paths call for (playbooks/vars/rollback.yml, shared with Ansible), then the settle part
(AC-01, IP-02, the integrity approval). --dry says what would be restored. The record says "rollback of CHG-...".
"""

from __future__ import annotations

import base64
import gzip
import json
import shlex
import sys
from typing import Any

import yaml

from baseline import REPO_ROOT, pyinfra_records
from baseline import pyinfra_deploy as deploy
from baseline.operations import changes, rollback

CONTROL = "CM-01"
RELOAD_FILE = REPO_ROOT / "playbooks" / "vars" / "rollback.yml"
AIDE_CONFIG = "/etc/aide/baseline.conf"  # the server baseline is on the host
FORCE_DATA = "rollback_force"  # --data rollback_force=true: put back a file changed since the change
_plans: dict[str, dict[str, Any]] = {}
_told: set[str] = set()


def reload_map() -> dict[str, str]:
    """Path prefix -> reload command, as playbooks/rollback.yml reads it."""
    return dict(yaml.safe_load(RELOAD_FILE.read_text(encoding="utf-8"))["rollback_reload"])


def refuse(why: str) -> None:
    print(f"CM-01 rollback refused, nothing was restored: {why}", file=sys.stderr, flush=True)
    raise SystemExit(rollback.EXIT_REFUSED)


def plan(change_id: str) -> dict[str, Any]:
    """The rollback's plan from the change archive (once per run); refused: exit 2 while pyinfra prepares."""
    if change_id not in _plans:
        checked = changes.archive().verify()
        try:
            _plans[change_id] = rollback.plan(change_id, checked.records, [str(p) for p in checked.problems],
                                              reload_map=reload_map())
        except rollback.Refused as exc:
            refuse(str(exc))
    return _plans[change_id]


def keep_program(*args: str) -> str:
    """A command that runs the keep program with `args`. A fact has no standard input: the program travels in the
    command, compressed (about 7 kB)."""
    packed = base64.b64encode(gzip.compress(deploy.KEEP_SOURCE.read_bytes(), mtime=0)).decode()
    return f"echo {packed} | base64 -d | gunzip | python3 - {shlex.join(args)}"


def run() -> None:
    """The rollback for the current host (the deploy file's only call)."""
    from pyinfra.facts.files import File
    from pyinfra.facts.server import Command
    from pyinfra.operations import server

    host = deploy._host()
    deploy.use_shared_upload_temp_dir()
    pyinfra_records.start()  # the run's record: "rollback of CHG-..." (a run without a reason outside the lab stops)
    change_id = str(host.data.get(rollback.CHANGE_VARIABLE) or "").strip()
    if not change_id:
        refuse(f"give the change to roll back: --data {rollback.CHANGE_VARIABLE}=CHG-... "
               "(`baseline changes list` names them)")
    found = plan(change_id)
    me = deploy.name()
    if change_id not in _told:
        _told.add(change_id)
        from pyinfra import state

        running = {pyinfra_records.baseline_name(h) for h in state.inventory.iter_activated_hosts()}
        left = sorted(set(found["hosts"]) - running)
        if left:
            print(f"{', '.join(left)}: kept files of {change_id} there, but not in this run (not in the inventory, or "
                  "left out by --limit); nothing is restored on them", flush=True)
    mine = found["hosts"].get(me) or {}
    entries = [dict(item) for item in mine.get("files", [])]
    if not entries:
        return
    new_change, keep_dir = pyinfra_records.keep_directory()
    root = keep_dir.rsplit("/", 1)[0]
    force = ["force"] if deploy.as_bool(host.data.get(FORCE_DATA)) else []
    said = str(host.get_fact(Command, command=keep_program("check", root, change_id, json.dumps(entries), *force))
               or "").strip()
    try:
        checked = json.loads(said.splitlines()[-1])
    except (ValueError, IndexError):
        refuse(f"{me}: the copies of {change_id} could not be checked on the host ({said[-300:] or 'no answer'})")
    if checked["problems"]:
        refuse(f"{me}: " + "; ".join(checked["problems"]))
    paths = list(checked["restore"])
    dry = "--dry" in sys.argv
    reloads = list(mine.get("reload", []))
    then = f"; then {'; '.join(reloads)}" if reloads and paths else ""
    print(f"{me}: {'would restore' if dry else 'restores'} "
          f"{', '.join(paths) or f'nothing (every file is as it was before {change_id})'}{then}", flush=True)
    if not paths:
        return
    # the integrity snapshot and the settle part where the server baseline is (as settle.py decides)
    baseline_here = bool(host.get_fact(File, path=AIDE_CONFIG))
    if baseline_here:
        deploy.include("integrity_snapshot", snapshot_hosts=me)
    change = f"rollback of {change_id}"
    guarded = [p for p in mine.get("access", []) if p in paths]
    if guarded:
        deploy.arm(CONTROL, change, guarded, reloads)
    operation = f"{CONTROL} | Put the files back as they were before {change_id} (the replaced ones are kept), " \
                "reload what reads them"
    by_path = {str(item["path"]): item for item in entries}
    # the record's entries: each file as it is now, and as the rollback leaves it (as it was before the change)
    pyinfra_records.kept(operation, keep_dir, [
        deploy.kept_entry(p, existed_after=bool(by_path[p].get("existed_before")),
                          sha256_after=str(by_path[p].get("sha256_before") or "")) for p in paths])
    restore_access = (f"{deploy.ROLLBACK_PROGRAM} restore {deploy.GUARD_ID} --run {deploy.RUN_MARK} >/dev/null; "
                      if guarded else "")
    script = [f"stop() {{ echo \"$1\" >&2; {restore_access}exit 1; }}",
              # the program comes on standard input (python3 -): it keeps the current files, then puts them back
              f"python3 - restore {shlex.join([root, change_id, new_change, str(deploy.keep_changes())])} "
              f"{shlex.quote(json.dumps([by_path[p] for p in paths]))} {' '.join(force)} >/dev/null "
              f"|| stop {shlex.quote(f'the rollback of {change_id} failed')}"]
    script += [f"{cmd} || stop {shlex.quote(f'{cmd} failed after the files were put back')}" for cmd in reloads]
    server.shell(name=operation, commands=["\n".join(script)], _stdin=deploy.KEEP_SOURCE.read_text(encoding="utf-8"))
    if guarded:
        deploy.confirm(CONTROL, change)
    if baseline_here:
        deploy.include("settle", settle_hosts=me)
