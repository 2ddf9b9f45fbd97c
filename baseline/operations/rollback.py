"""Rollback of an Ansible or pyinfra change on servers (CM-01, 第二十二条): what `playbooks/rollback.yml` restores.

    python -m baseline.operations.rollback plan CHANGE_ID [--limit HOSTS] [--reload-map JSON]

prints, as JSON, per host the files the change kept (paths, existence and SHA-256 before and after, no content),
the access paths among them (restored under the lockout guard) and the reload commands their paths call for. It
refuses (exit 2, one line per problem) when the change archive's hash chain does not verify, when the change is
not in it, was only planned (check mode), or kept no file. The copies themselves, and whether the current files
are still the ones the change left, are checked on each host (plugins/modules/baseline_keep.py)."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterable, Mapping
from typing import Any

from baseline.operations import changes

EXIT_REFUSED = 2
PLAYBOOK = "playbooks/rollback.yml"
PYINFRA_DEPLOY = "playbooks/pyinfra/rollback.py"  # the same rollback with pyinfra (baseline/pyinfra_rollback.py)
CHANGE_VARIABLE = "change_id"  # -e change_id=CHG-...
# Paths whose change can cut access: restored under roles/lockout_guard (arm, confirm) as the roles change them.
ACCESS_PREFIXES = ("/etc/ssh/", "/etc/pam.d/", "/etc/sudoers", "/etc/security/", "/etc/nftables",
                   "/etc/login.defs")
ACCESS_NAMES = ("authorized_keys",)


class Refused(ValueError):
    """The rollback cannot be planned; the message names why."""


def access(path: str) -> bool:
    return path.startswith(ACCESS_PREFIXES) or path.rsplit("/", 1)[-1] in ACCESS_NAMES


def reloads(paths: Iterable[str], reload_map: Mapping[str, Any]) -> list[str]:
    """The reload commands of `paths`, by the longest prefix of `reload_map` (prefix -> command) each starts
    with, in the map's order, once each."""
    prefixes = sorted(reload_map, key=len, reverse=True)
    wanted = set()
    for path in paths:
        match = next((prefix for prefix in prefixes if path.startswith(prefix)), None)
        if match is not None and str(reload_map[match] or "").strip():
            wanted.add(str(reload_map[match]).strip())
    return [cmd for cmd in dict.fromkeys(str(v).strip() for v in reload_map.values()) if cmd in wanted]


def plan(change_id: str, records: list[dict[str, Any]], problems: Iterable[str], *,
         reload_map: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Per host (inventory name): files (the record's entries), access (paths to guard), reload (commands)."""
    change_id = (change_id or "").strip()
    if not change_id:
        raise Refused(f"give the change to roll back: -e {CHANGE_VARIABLE}=CHG-... (`baseline changes list` names them)")
    broken = list(problems)
    if broken:
        raise Refused("the change archive's hash chain does not verify, so its records cannot be trusted to say what "
                      "to restore: " + "; ".join(broken))
    found = [r for r in records if r.get("id") == change_id]
    if not found:
        raise Refused(f"no change {change_id} in the change archive")
    record = found[-1]
    if record.get("mode") == "check":
        raise Refused(f"{change_id} was a check-mode run (planned changes only): it changed nothing to roll back")
    kept = record.get("kept") or {}
    if not kept:
        raise Refused(f"{change_id} kept no file on any host (it changed none the run keeps copies of, or ran before "
                      "changes kept them): nothing to restore")
    hosts: dict[str, Any] = {}
    for host, held in sorted(kept.items()):
        files = [dict(item) for item in held.get("files", []) if isinstance(item, Mapping) and item.get("path")]
        paths = [str(item["path"]) for item in files]
        hosts[host] = {"dir": held.get("dir", ""), "files": files, "access": [p for p in paths if access(p)],
                       "reload": reloads(paths, reload_map or {})}
    return {"change_id": change_id, "engine": record.get("engine", "ansible"), "reason": record.get("reason", ""),
            "hosts": hosts}


def rollback_of(extra_vars: Mapping[str, Any], playbooks: Iterable[str]) -> str:
    """The change a run of playbooks/rollback.yml (or of the pyinfra deploy playbooks/pyinfra/rollback.py, whose
    `--data` values come as `extra_vars`) rolls back ("" for any other run)."""
    if not any(str(p).replace("\\", "/").endswith((PLAYBOOK, PYINFRA_DEPLOY)) for p in playbooks):
        return ""
    return str(extra_vars.get(CHANGE_VARIABLE) or "").strip()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m baseline.operations.rollback", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--dir", default=None, help=f"change archive directory (default: ${changes.DIR_ENV}, else changes/)")
    sub = p.add_subparsers(dest="command", required=True)
    s = sub.add_parser("plan", help="what a rollback of the change restores, per host, as JSON")
    s.add_argument("change_id")
    s.add_argument("--reload-map", default="{}", help="JSON object: path prefix -> reload command")
    args = p.parse_args(argv)
    try:
        reload_map = json.loads(args.reload_map)
        if not isinstance(reload_map, dict):
            raise ValueError("not a JSON object")
    except ValueError as exc:
        print(f"CM-01 rollback refused: --reload-map: {exc}", file=sys.stderr)
        return EXIT_REFUSED
    checked = changes.archive(args.dir).verify()
    try:
        found = plan(args.change_id, checked.records, [str(problem) for problem in checked.problems],
                     reload_map=reload_map)
    except Refused as exc:
        print(f"CM-01 rollback refused, nothing was restored: {exc}", file=sys.stderr)
        return EXIT_REFUSED
    print(json.dumps(found, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
