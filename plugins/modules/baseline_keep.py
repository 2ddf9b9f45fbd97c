#!/usr/bin/python
"""Copies of the files a change replaces or removes, kept on the host itself (CM-01 rollback, 第二十二条).

Under <root>/<CHANGE-ID>/ (root-only, default /var/lib/baseline/changes) a run keeps, before it replaces or removes
a file, its bytes, owner, group and mode, or the fact that it did not exist; `manifest.json` there lists them with
their SHA-256 before and, once sealed, after the change. `playbooks/rollback.yml` puts them back. The pyinfra
deploys write the same layout (baseline/pyinfra_deploy.py runs this file as a program: `keep` below)."""

from __future__ import annotations

import grp
import hashlib
import json
import os
import pwd
import shutil
import stat
import sys
import tempfile
from typing import Any

DOCUMENTATION = r"""
module: baseline_keep
short_description: Keep the files a change replaces, and put them back (CM-01 rollback)
description:
  - C(state=keep), before a change, copies every path of C(paths) not yet kept for C(change_id) into
    C(root)/C(change_id)/ with its owner, group and mode (or notes that it does not exist), then drops the oldest
    change directories beyond C(keep_changes). It changes no configuration (never reported as changed).
  - C(state=seal), after the change, notes the SHA-256 of every kept path as it is now.
  - C(state=check) (a rollback's pre-flight) compares the copies of C(from_change) with the record's C(entries) and
    the current files with the record's after-hashes; any difference fails naming the file (C(force) lets a file
    changed since pass).
  - C(state=restore) checks as C(state=check), keeps the current files under C(change_id) (the rollback's own
    change), then puts back every file of C(entries) as it was before C(from_change). Check mode says what it would
    restore.
options:
  state: {type: str, required: true, choices: [keep, seal, check, restore]}
  change_id: {type: str, default: ""}
  from_change: {type: str, default: ""}
  paths: {type: list, elements: str, default: []}
  entries: {type: list, elements: dict, default: []}
  root: {type: path, default: /var/lib/baseline/changes}
  keep_changes: {type: int, default: 20}
  force: {type: bool, default: false}
  snapshot:
    description: With C(state=keep), read C(paths) (default the module's WATCH list) as watched paths, directories
      included; C(state=seal) without C(paths) then drops the copies of the files the run left as they were.
    type: bool
    default: false
"""

RETURN = r"""
baseline_kept: {description: the kept files of C(change_id) named by this call, with hashes (no content), type: list}
baseline_keep_dir: {description: the change's directory on the host, type: str}
restore: {description: the paths restored (or, in check mode, that would be), type: list}
"""

MANIFEST = "manifest.json"
PREFIX = "CHG-"
# What a run keeps at its start (state=keep with snapshot=true, from the integrity snapshot every changing playbook
# opens with): the configuration the roles write. Directories are read four levels deep; at the end of the run
# (seal) the copies of files the run did not change are dropped and files it created are noted. Not here: the
# account databases (passwd, shadow, group: accounts are changed by their tools, not by files), host keys.
WATCH = ("/etc/ssh/sshd_config", "/etc/ssh/sshd_config.d", "/etc/pam.d", "/etc/security", "/etc/sudoers",
         "/etc/sudoers.d", "/etc/login.defs", "/etc/profile.d", "/etc/issue", "/etc/issue.net", "/etc/motd",
         "/etc/sysctl.d", "/etc/modprobe.d", "/etc/nftables.conf", "/etc/audit", "/etc/rsyslog.conf", "/etc/rsyslog.d",
         "/etc/logrotate.d", "/etc/cron.d", "/etc/crontab", "/etc/chrony", "/etc/clamav", "/etc/aide",
         "/etc/systemd/journald.conf.d", "/etc/systemd/coredump.conf.d", "/etc/systemd/system", "/etc/tmpfiles.d",
         "/etc/apt/apt.conf.d", "/etc/aliases", "/etc/mysql/mariadb.conf.d", "/etc/postgresql", "/etc/pgbackrest.conf",
         "/usr/local/sbin")
WATCH_DEPTH = 4  # /etc/postgresql/<version>/main/conf.d/*.conf is four levels down
WATCH_MAX_BYTES = 4 << 20  # a larger file under a watched directory is not configuration: not kept


def sha256(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _name(table: Any, number: int) -> str:
    try:
        return str(table(number)[0])
    except KeyError:
        return str(number)


def state_of(path: str) -> dict[str, Any]:
    """What a path is now: absent, a regular file (sha256, owner, group, mode) or a symbolic link (its target)."""
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        return {"exists": False}
    found: dict[str, Any] = {"exists": True, "uid": info.st_uid, "gid": info.st_gid,
                             "owner": _name(pwd.getpwuid, info.st_uid), "group": _name(grp.getgrgid, info.st_gid),
                             "mode": f"{stat.S_IMODE(info.st_mode):04o}"}
    if stat.S_ISLNK(info.st_mode):
        found.update(kind="link", target=os.readlink(path), sha256="link:" + hashlib.sha256(
            os.readlink(path).encode()).hexdigest())
    elif stat.S_ISREG(info.st_mode):
        found.update(kind="file", sha256=sha256(path))
    else:
        found.update(kind="other", sha256="")
    return found


def directory(root: str, change_id: str) -> str:
    if not change_id.startswith(PREFIX) or "/" in change_id or change_id in (".", ".."):
        raise ValueError(f"change id {change_id!r} is not a change id (CHG-...)")
    return os.path.join(root, change_id)


def read_manifest(where: str) -> dict[str, Any]:
    path = os.path.join(where, MANIFEST)
    if not os.path.exists(path):
        return {"files": {}}
    with open(path, encoding="utf-8") as fh:
        return json.load(fh)


def write_manifest(where: str, manifest: dict[str, Any]) -> None:
    fd, tmp = tempfile.mkstemp(dir=where, prefix=".manifest.")
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump(manifest, fh, indent=1, sort_keys=True)
        fh.write("\n")
    os.replace(tmp, os.path.join(where, MANIFEST))


def entry(path: str, kept: dict[str, Any]) -> dict[str, Any]:
    """What the change record holds of a kept file: path, its state before and after, hashes only."""
    before, after = kept.get("before", {}), kept.get("after")
    found = {"path": path, "existed_before": before.get("exists", False), "sha256_before": before.get("sha256", ""),
             "owner": before.get("owner", ""), "group": before.get("group", ""), "mode": before.get("mode", "")}
    if after is not None:
        found.update(existed_after=after.get("exists", False), sha256_after=after.get("sha256", ""))
    return found


def prune(root: str, current: str, keep_changes: int, spare: tuple[str, ...] = ()) -> list[str]:
    """Drop the oldest change directories beyond `keep_changes` (change ids sort by time); never `current`, nor
    those of `spare` (the change a rollback is putting back)."""
    names = sorted(n for n in os.listdir(root) if n.startswith(PREFIX) and os.path.isdir(os.path.join(root, n)))
    dropped = []
    for old in names[:max(0, len(names) - max(1, keep_changes))]:
        if old != current and old not in spare:
            shutil.rmtree(os.path.join(root, old), ignore_errors=True)
            dropped.append(old)
    return dropped


def watched(paths: list[str], depth: int = WATCH_DEPTH) -> list[str]:
    """The files and links under `paths`: a directory is read `depth` levels deep; a path that does not exist is
    itself (a file the run may create); larger files than WATCH_MAX_BYTES are left out."""
    found: list[str] = []
    for given in paths:
        top = os.path.normpath(given)
        if not os.path.isdir(top) or os.path.islink(top):
            found.append(top)
            continue
        for base, dirs, names in os.walk(top):
            level = base[len(top):].count(os.sep)
            if level >= depth - 1:
                dirs[:] = []
            for name in sorted(names + [d for d in dirs if os.path.islink(os.path.join(base, d))]):
                path = os.path.join(base, name)
                info = os.lstat(path)
                if stat.S_ISLNK(info.st_mode) or (stat.S_ISREG(info.st_mode) and info.st_size <= WATCH_MAX_BYTES):
                    found.append(path)
    return sorted(dict.fromkeys(found))


def keep(root: str, change_id: str, paths: list[str], keep_changes: int = 20, *,
         snapshot: bool = False, spare: tuple[str, ...] = ()) -> tuple[dict[str, Any], list[str]]:
    """Keep every path of `paths` not yet kept for `change_id`; the first state of a run is the one kept. With
    `snapshot`, `paths` are watched: directories are read (watched()), and seal() drops what the run left as it was."""
    os.makedirs(root, mode=0o700, exist_ok=True)
    os.chmod(root, 0o700)
    where = directory(root, change_id)
    fresh = not os.path.isdir(where)
    for made in (where, os.path.join(where, "files")):
        os.makedirs(made, mode=0o700, exist_ok=True)
        os.chmod(made, 0o700)
    manifest = read_manifest(where)
    manifest["change_id"] = change_id
    files = manifest.setdefault("files", {})
    if snapshot:
        manifest["watch"] = sorted(set(manifest.get("watch", [])) | {os.path.normpath(p) for p in paths})
    for path in watched(paths) if snapshot else [os.path.normpath(given) for given in paths]:
        if not os.path.isabs(path):
            raise ValueError(f"{path}: not an absolute path")
        if path in files:
            continue
        before = state_of(path)
        if before.get("kind") == "other":  # a directory, a socket: not a file a task writes; never stops a run
            manifest.setdefault("not_kept", [])
            if path not in manifest["not_kept"]:
                manifest["not_kept"].append(path)
            continue
        kept: dict[str, Any] = {"before": before}
        if snapshot:
            kept["snapshot"] = True
        if before.get("kind") == "file":
            copy = os.path.join("files", str(manifest.get("copies", len(files))))
            manifest["copies"] = int(manifest.get("copies", len(files))) + 1
            fd = os.open(os.path.join(where, copy), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "wb") as out, open(path, "rb") as src:
                shutil.copyfileobj(src, out)
            if sha256(os.path.join(where, copy)) != before["sha256"]:
                raise ValueError(f"{path}: changed while it was being kept; run again")
            kept["copy"] = copy
        files[path] = kept
    write_manifest(where, manifest)
    dropped = prune(root, change_id, keep_changes, spare) if fresh else []
    return manifest, dropped


SAME = ("exists", "sha256", "uid", "gid", "mode")


def seal(root: str, change_id: str, paths: list[str] | None = None, *, final: bool = False) -> dict[str, Any]:
    """Note the state after the change of the kept paths (all of them when `paths` is None). The `final` seal, at
    the end of the run, also notes the files created under the watched directories and drops the copies of watched
    files the run left as they were (a run that changed none of them leaves no directory)."""
    where = directory(root, change_id)
    if not os.path.isdir(where):
        return {"files": {}}
    manifest = read_manifest(where)
    files = manifest.setdefault("files", {})
    if final:
        for path in watched(manifest.get("watch", [])):
            if path not in files and state_of(path).get("kind") in ("file", "link"):
                files[path] = {"before": {"exists": False}, "snapshot": True}
    for path, kept in list(files.items()):
        if paths is not None and path not in paths:
            continue
        after = state_of(path)
        if final and kept.get("snapshot") and all(after.get(k) == kept["before"].get(k) for k in SAME):
            if kept.get("copy"):
                os.unlink(os.path.join(where, kept["copy"]))
            del files[path]
            continue
        kept["after"] = {k: after.get(k) for k in ("exists", "sha256", "owner", "group", "mode")}
    if final and not files:
        shutil.rmtree(where, ignore_errors=True)
    else:
        write_manifest(where, manifest)
    return manifest


def check(root: str, from_change: str, entries: list[dict[str, Any]], force: bool = False) -> tuple[list[str], list[str]]:
    """(problems, paths to restore) of a rollback of `from_change` to the record's `entries`."""
    problems: list[str] = []
    restore: list[str] = []
    where = directory(root, from_change)
    if not os.path.isdir(where):
        return [f"{where}: no copies of {from_change} on this host (removed, or dropped as older than the last "
                "changes kept)"], []
    try:
        manifest = read_manifest(where)
    except (OSError, ValueError) as exc:
        return [f"{where}/{MANIFEST}: cannot be read ({exc})"], []
    files = manifest.get("files", {})
    for item in entries:
        path = str(item.get("path", ""))
        kept = files.get(path)
        if kept is None:
            problems.append(f"{path}: not among the copies kept in {where}")
            continue
        before = kept.get("before", {})
        if bool(before.get("exists")) != bool(item.get("existed_before")) or (
                before.get("exists") and before.get("sha256") != item.get("sha256_before")):
            problems.append(f"{path}: the copy's manifest in {where} does not match the change record (tampered with)")
            continue
        if before.get("kind") == "file":
            copy = os.path.join(where, str(kept.get("copy", "")))
            if not os.path.isfile(copy) or sha256(copy) != item.get("sha256_before"):
                problems.append(f"{path}: the kept copy {copy} is missing or its SHA-256 differs from the change "
                                "record's (tampered with)")
                continue
        now = state_of(path)
        if "sha256_after" in item and not force:
            expected = bool(item.get("existed_after"))
            if now.get("exists", False) != expected or (expected and now.get("sha256") != item.get("sha256_after")):
                problems.append(f"{path}: changed since {from_change} (its SHA-256 is no longer the one the change "
                                "left); nothing was restored. Look at it, then run again with -e rollback_force=true "
                                "(pyinfra: --data rollback_force=true) to put it back anyway")
                continue
        if now.get("exists", False) != bool(before.get("exists")) or (before.get("exists") and any(
                now.get(k) != before.get(k) for k in ("sha256", "uid", "gid", "mode"))):
            restore.append(path)
    return problems, restore


def _put_back(path: str, where: str, kept: dict[str, Any]) -> None:
    before = kept["before"]
    if not before.get("exists"):
        if os.path.lexists(path):
            os.unlink(path)
        return
    parent = os.path.dirname(path)
    os.makedirs(parent, exist_ok=True)
    tmp = os.path.join(parent, f".{os.path.basename(path)}.baseline-rollback")
    if os.path.lexists(tmp):
        os.unlink(tmp)
    if before.get("kind") == "link":
        os.symlink(before["target"], tmp)
        os.lchown(tmp, before["uid"], before["gid"])
    else:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as out, open(os.path.join(where, kept["copy"]), "rb") as src:
            shutil.copyfileobj(src, out)
        os.chown(tmp, before["uid"], before["gid"])
        os.chmod(tmp, int(before["mode"], 8))
    os.replace(tmp, path)
    if state_of(path).get("sha256") != before.get("sha256"):
        raise ValueError(f"{path}: restored, but its SHA-256 differs from the kept copy's")


def restore(root: str, from_change: str, change_id: str, paths: list[str],
            keep_changes: int = 20) -> dict[str, Any] | None:
    """Keep the current files under `change_id` (when given), then put `paths` back as they were before
    `from_change`. Returns the rollback's own manifest (None without a change id)."""
    where = directory(root, from_change)
    files = read_manifest(where)["files"]
    # the change rolled back is spared by the pruning of the oldest copies, however old it is
    manifest = keep(root, change_id, paths, keep_changes, spare=(from_change,))[0] if change_id else None
    for path in paths:
        _put_back(path, where, files[path])
    return seal(root, change_id, paths) if change_id else manifest


def run_module() -> None:
    from ansible.module_utils.basic import AnsibleModule

    module = AnsibleModule(argument_spec={
        "state": {"type": "str", "required": True, "choices": ["keep", "seal", "check", "restore"]},
        "change_id": {"type": "str", "default": ""},
        "from_change": {"type": "str", "default": ""},
        "paths": {"type": "list", "elements": "str", "default": []},
        "entries": {"type": "list", "elements": "dict", "default": []},
        "root": {"type": "path", "default": "/var/lib/baseline/changes"},
        "keep_changes": {"type": "int", "default": 20},
        "force": {"type": "bool", "default": False},
        "snapshot": {"type": "bool", "default": False},
    }, supports_check_mode=True)
    p = module.params
    state, root, change_id = p["state"], p["root"], (p["change_id"] or "").strip()
    try:
        if state in ("keep", "seal"):
            if not change_id:  # the run is not recorded (callback off): nothing to keep the copies under
                module.exit_json(changed=False, skipped_reason="no change id (the change record is off): nothing kept")
            if module.check_mode:
                module.exit_json(changed=False, msg=f"would keep {len(p['paths'])} file(s) under "
                                                    f"{directory(root, change_id)}")
            if state == "keep" and p["snapshot"]:  # the record names only what the run changes (seal)
                manifest, dropped = keep(root, change_id, p["paths"] or list(WATCH), p["keep_changes"], snapshot=True)
                module.exit_json(changed=False, baseline_keep_dir=directory(root, change_id), dropped=dropped,
                                 msg=f"{len(manifest.get('files', {}))} file(s) kept until the run ends")
            if state == "keep":
                manifest, dropped = keep(root, change_id, p["paths"], p["keep_changes"])
            else:
                manifest, dropped = seal(root, change_id, p["paths"] or None, final=p["snapshot"]), []
            named = [os.path.normpath(path) for path in p["paths"]] or list(manifest.get("files", {}))
            files = manifest.get("files", {})
            module.exit_json(changed=False, baseline_keep_dir=directory(root, change_id), dropped=dropped,
                             baseline_kept=[entry(path, files[path]) for path in named if path in files])
        from_change = (p["from_change"] or "").strip()
        if not from_change:
            module.fail_json(msg="from_change: the change to roll back is not given")
        problems, paths = check(root, from_change, p["entries"], p["force"])
        if problems:
            module.fail_json(msg=f"CM-01 rollback of {from_change} refused, nothing was restored: " + "; ".join(problems),
                             problems=problems)
        if state == "check" or module.check_mode or not paths:
            module.exit_json(changed=bool(paths) and state == "restore", restore=paths,
                             msg=(f"would restore {', '.join(paths)}" if paths else "every file is as it was before "
                                  f"{from_change}: nothing to restore"))
        restored = restore(root, from_change, change_id, paths, p["keep_changes"])
        kept = (restored or {}).get("files", {})
        module.exit_json(changed=True, restore=paths, msg=f"restored {', '.join(paths)}",
                         baseline_keep_dir=directory(root, change_id) if change_id else "",
                         baseline_kept=[entry(path, kept[path]) for path in paths if path in kept])
    except (OSError, ValueError, KeyError) as exc:
        module.fail_json(msg=f"CM-01 {state}: {type(exc).__name__}: {exc}")


def cli(argv: list[str]) -> int:
    """The pyinfra deploys run this file as a program (baseline/pyinfra_deploy.py, baseline/pyinfra_rollback.py):

    - `keep ROOT CHANGE_ID KEEP_CHANGES PATH...`: keep, print the manifest's entries as JSON;
    - `seal ROOT CHANGE_ID PATH...`: note the state after;
    - `check ROOT FROM_CHANGE ENTRIES_JSON [force]`: print {"problems": [...], "restore": [...]} (always exit 0);
    - `restore ROOT FROM_CHANGE CHANGE_ID KEEP_CHANGES ENTRIES_JSON [force]`: check again, then keep the current
      files under CHANGE_ID and put the files back; print the rollback's kept entries. Refused: the problems on
      standard error, exit 2, nothing restored."""
    action, root, change_id, *rest = argv
    if action == "check":
        try:
            problems, paths = check(root, change_id, json.loads(rest[0]), rest[1:] == ["force"])
        except (OSError, ValueError, KeyError, IndexError) as exc:
            problems, paths = [f"the copies could not be checked ({type(exc).__name__}: {exc})"], []
        print(json.dumps({"problems": problems, "restore": paths}))
        return 0
    if action == "restore":
        new_change, keep_changes, entries, *force = rest
        problems, paths = check(root, change_id, json.loads(entries), force == ["force"])
        if problems:
            print(f"CM-01 rollback of {change_id} refused, nothing was restored: " + "; ".join(problems),
                  file=sys.stderr)
            return 2
        restored = restore(root, change_id, new_change, paths, int(keep_changes)) or {}
        kept = restored.get("files", {})
        print(json.dumps([entry(path, kept[path]) for path in paths if path in kept]))
        return 0
    if action == "keep":
        manifest, _ = keep(root, change_id, rest[1:], int(rest[0]))
    else:
        manifest = seal(root, change_id, rest or None, final=not rest)
    print(json.dumps([entry(path, kept) for path, kept in manifest.get("files", {}).items()]))
    return 0


if __name__ == "__main__":
    if len(sys.argv) > 3 and sys.argv[1] in ("keep", "seal", "check", "restore"):
        sys.exit(cli(sys.argv[1:]))
    run_module()
