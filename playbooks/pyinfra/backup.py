"""pyinfra deploy of the backups (BR-01, BR-02): the backup plays of playbooks/databases.yml in their order —
the clients' and drill hosts' SSH keys (roles/backup_client tasks/keys.yml), the off-site store (roles/backup_store)
and the clients (roles/backup_client: off-site transport, pgBackRest, mariabackup, schedules).

    pyinfra inventory/lab/pyinfra_inventory.py playbooks/pyinfra/backup.py [--limit db4,bak1] [--dry]

The store authorises the keys of the hosts of this run, as the Ansible role authorises the keys its hosts
registered: a key that exists is read with a fact on its host when pyinfra prepares the run; a key that this run
creates is read on its host when the store's operation runs (after every host's key operation). A client or drill
host left out of the run (--limit) has no key read, so the files that would need it stay as they are. Decisions are
taken from facts, so a second run has no operation; secrets (restic password, pgBackRest cipher, mariabackup
password) go into files of mode 600 in root-only directories or to the server on stdin, never on a command line.
"""

from __future__ import annotations

import importlib.util
import shlex
import sys
from io import StringIO
from pathlib import Path
from typing import Any

from pyinfra import host, state
from pyinfra.facts.files import File, FileContents
from pyinfra.facts.server import Command
from pyinfra.operations import apt, files, python, server

from baseline import REPO_ROOT, inventory
from baseline import pyinfra_deploy as deploy

KEYS_PATTERN = "backup_clients:drill_hosts"
STORE_PATTERN = "backup_servers"
CLIENT_PATTERN = "backup_clients"
STORE_HOST_KEY = "/etc/ssh/ssh_host_ed25519_key.pub"
# Loaded under this name (tests), the file defines its functions and deploys nothing.
HELPERS = "baseline_pyinfra_backup_helpers"
CLIENT_FILES = REPO_ROOT / "roles" / "backup_client" / "files"


def _mariadb_helpers() -> Any:
    path = Path(__file__).resolve().parent / "mariadb.py"
    spec = importlib.util.spec_from_file_location("baseline_pyinfra_mariadb_helpers", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


sql = _mariadb_helpers()


def refuse(message: str) -> None:
    print(f"{deploy.name()}: {message}", file=sys.stderr)
    raise SystemExit(deploy.EXIT_REFUSED)


def baseline_name(other: Any) -> str:
    return str(other.data.get("baseline_host") or other.name)


def run_hosts() -> dict[str, Any]:
    """The hosts of this run (after --limit) by their name in the Ansible inventory."""
    return {baseline_name(h): h for h in state.inventory.iter_activated_hosts()}


def inventory_host(name: str) -> Any:
    """The pyinfra host of an Ansible inventory name, in this run or not (None when pyinfra does not know it)."""
    for other in state.inventory:
        if baseline_name(other) == name:
            return other
    return None


def client_key_path(name: str) -> str:
    defaults = deploy._role_file("backup_client", "defaults")
    found = inventory.load(str(deploy.inventory_dir())).vars(name)
    return str(found.get("backup_client_ssh_key", defaults["backup_client_ssh_key"]))


def public_key(other: Any, name: str) -> str | None:
    """The host's backup public key as its .pub file holds it, None when it has none yet (a fact on that host)."""
    found = other.get_fact(FileContents, path=client_key_path(name) + ".pub", _sudo=True)
    if not found:
        return None
    text = "\n".join(found) if isinstance(found, list) else str(found)
    return text.strip() or None


def store_host_key(store: str) -> str:
    """`type key` of the store's SSH host key, read on the store (in this run or not, as Ansible's delegate_to)."""
    other = inventory_host(store)
    if other is None:
        refuse(f"BR-02: the store {store} is not in the pyinfra inventory: its host key cannot be read")
    found = other.get_fact(FileContents, path=STORE_HOST_KEY, _sudo=True)
    text = "\n".join(found) if isinstance(found, list) else str(found or "")
    if not text.split():
        refuse(f"BR-02: the store {store} has no {STORE_HOST_KEY}")
    return " ".join(text.split()[:2])


def missing_packages(names: list[str]) -> list[str]:
    """Packages not installed yet; the index is refreshed first (update_cache), once per host and run."""
    deploy.refresh_package_index()
    return sql.packages_missing(names)


# --- keys (backup_clients:drill_hosts; roles/backup_client/tasks/keys.yml) ----------------------------------------

new_key: dict[str, bool] = {}


def keys() -> None:
    v = deploy.values("backup_client")
    key = v["backup_client_ssh_key"]
    comment = f"baseline-backup@{deploy.name()}"
    info = host.get_fact(File, path=key)
    new_key[deploy.name()] = not info
    if not info:
        parent = key.rsplit("/", 1)[0]
        server.shell(name="BR-02 | SSH key for the off-site store",
                     commands=[f"[ -d {parent} ] || install -d -m 700 {parent}; rm -f {key}.pub; "
                               f"ssh-keygen -q -t ed25519 -N '' -C {shlex.quote(comment)} -f {key} >/dev/null "
                               f"&& chmod 600 {key}"])
        return
    if str(info.get("mode")).lstrip("0") != "600":
        files.file(name="BR-02 | SSH key for the off-site store (owner only)", path=key, mode="600")
    pub = (public_key(host, deploy.name()) or "").split()
    if pub[2:] != [comment]:
        new_key[deploy.name()] = True  # openssh_keypair reports a changed key: the store must be in the run
        server.shell(name="BR-02 | SSH key for the off-site store (comment)",
                     commands=[f"ssh-keygen -q -c -C {shlex.quote(comment)} -f {key} >/dev/null"])


# --- the store (backup_servers; roles/backup_store) -------------------------------------------------------------

def _with_comment(key: str | None, name: str) -> str | None:
    return None if key is None else " ".join([*key.split()[:2], f"baseline-backup@{name}"])


def _authorized_lines(writer: str | None, readers: list[str], sftp: str) -> str:
    """What ansible.posix.authorized_key (exclusive) writes: one `options type key comment` line per key, in order,
    a key given twice kept once at its first place."""
    seen: dict[str, str] = {}
    entries = ([(f'restrict,command="{sftp}"', writer)] if writer else []) + \
        [(f'restrict,command="{sftp} -R"', r) for r in readers]
    for options, key in entries:
        parts = key.split()
        if len(parts) < 2 or parts[1] in seen:
            continue
        seen[parts[1]] = f"{options} {parts[0]} {parts[1]} {' '.join(parts[2:])}\n"
    return "".join(seen.values())


def _write_authorized_keys(clients: list[str], readers: list[str], sftp: str, root: str) -> None:
    """At execution: read the keys this run created on their hosts, then write the exclusive files that differ."""
    current = host
    hosts = run_hosts()
    found: dict[str, str | None] = {}
    for name in {*clients, *readers}:
        other = hosts[name]
        ok, output = other.run_shell_command(f"cat {shlex.quote(client_key_path(name) + '.pub')}", _sudo=True)
        found[name] = output.stdout.strip() if ok else None
    # As for a host left out of the run: a key that cannot be read leaves the files that need it as they are.
    if any(found.get(r) is None for r in readers):
        print(f"{deploy.name()}: BR-02 | authorized_keys left unchanged: a drill host's key could not be read",
              file=sys.stderr)
        return
    for client in clients:
        if found.get(client) is None:
            print(f"{deploy.name()}: BR-02 | authorized_keys of bk-{client} left unchanged: its key could not be read",
                  file=sys.stderr)
            continue
        content = _authorized_lines(found.get(client), [found[r] for r in readers if found.get(r)], sftp)
        path = f"{root}/{client}/.ssh/authorized_keys"
        staged = f"{deploy.STAGE_DIR}/authorized_keys.{client}"
        current.run_shell_command(f"install -d -o root -g root -m 700 {deploy.STAGE_DIR}", _sudo=True)
        if not current.put_file(StringIO(content), staged, _sudo=True):
            raise RuntimeError(f"{path}: the new file could not be staged")
        ok, output = current.run_shell_command(
            f"cmp -s {staged} {path} && [ \"$(stat -c %U:%G:%a {path})\" = bk-{client}:bk-{client}:600 ] "
            f"|| install -o bk-{client} -g bk-{client} -m 600 {staged} {path}; rm -f {staged}", _sudo=True)
        if not ok:
            raise RuntimeError(f"{path}: not installed: {output.stderr}")


def store() -> None:
    v = deploy.values("backup_store")
    clients = list(v["backup_store_clients"])
    readers = list(v["backup_store_readers"])
    sftp = v["backup_store_sftp_server"]
    root = v["backup_store_root"]
    in_run = run_hosts()
    keyless = [n for n in dict.fromkeys(clients + readers) if n not in in_run]
    unchanged = clients if set(readers) & set(keyless) else [c for c in clients if c in keyless]
    # A key whose comment the keys part corrects in this run is authorised with the corrected comment, as Ansible
    # reads the key after openssh_keypair has rewritten it.
    known = {n: _with_comment(public_key(in_run[n], n), n) for n in dict.fromkeys(clients + readers) if n in in_run}

    if missing_packages(v["backup_store_packages"]):
        apt.packages(name="BR-02 | restic, to prove that the repositories cannot be opened here (the keys stay with "
                     "the clients)", packages=v["backup_store_packages"])
    files.directory(name="BR-02 | Root of the store", path=root, present=True, user="root", group="root", mode="755")
    for client in clients:  # password "*": no password at all (locked); shell: the account has none
        server.user(  # noqa: S604
            name=f"BR-02 | One account per client, no password, no login shell, files only through SFTP: bk-{client}",
            user=f"bk-{client}", home=f"{root}/{client}", shell="/usr/sbin/nologin",
            password="*",  # noqa: S106
            system=True, comment=f"Off-site backups of {client}", ensure_home=False, create_home=False)
    for client in clients:
        files.directory(name=f"BR-02 | Client directories (owner only): {client}", path=f"{root}/{client}",
                        present=True, user=f"bk-{client}", group=f"bk-{client}", mode="700")
    todo = [c for c in clients if c not in unchanged]
    for client in todo:
        files.directory(name=f"BR-02 | Authorised keys (client read-write, drill hosts read-only, SFTP only): "
                        f"{client}/.ssh", path=f"{root}/{client}/.ssh", present=True, user=f"bk-{client}",
                        group=f"bk-{client}", mode="700")
    pending = [n for n, key in known.items() if key is None]
    if todo and pending:
        python.call(name="BR-02 | Authorised keys (client read-write, drill hosts read-only, SFTP only), with the keys "
                    f"this run creates on {', '.join(sorted(pending))}: " + ", ".join(todo),
                    function=_write_authorized_keys, clients=todo, readers=[r for r in readers if r in in_run],
                    sftp=sftp, root=root)
    else:
        for client in todo:
            content = _authorized_lines(known.get(client), [known[r] or "" for r in readers if r in known], sftp)
            files.put(name=f"BR-02 | Authorised keys (client read-write, drill hosts read-only, SFTP only): {client}",
                      src=StringIO(content), dest=f"{root}/{client}/.ssh/authorized_keys", user=f"bk-{client}",
                      group=f"bk-{client}", mode="600")
    if keyless:
        print(f"{deploy.name()}: BR-02 | authorized_keys left unchanged for "
              f"{', '.join('bk-' + c for c in unchanged)}: no key was read from {', '.join(keyless)} in this run "
              "(left out with --limit). Include those hosts to update their keys.", file=sys.stderr)


# --- the clients (backup_clients; roles/backup_client) ---------------------------------------------------------

def client_values() -> dict[str, Any]:
    store_name = deploy.host_vars().get("backup_store_host")
    found = inventory.load(str(deploy.inventory_dir())).vars(store_name) if store_name else {}
    v = deploy.values("backup_client", facts={"hostvars": {store_name: found}})
    return v


def put(name: str, content: str, dest: str, *, mode: str, user: str = "root", group: str = "root") -> bool:
    """files.put of rendered content; returns whether the file is to change (a fact of the prepare)."""
    changes = deploy.differs(deploy.Managed(dest, content, mode=mode, user=user, group=group))
    files.put(name=name, src=StringIO(content), dest=dest, user=user, group=group, mode=mode)
    return changes


def offsite(v: dict[str, Any]) -> None:
    me = deploy.name()
    conf = v["backup_client_config_dir"]
    if missing_packages(v["backup_client_packages"]):
        apt.packages(name="BR-02 | Install restic", packages=v["backup_client_packages"])
    files.directory(name="BR-02 | Configuration directory (root only)", path=conf, present=True, user="root",
                    group="root", mode="700")
    store_name = v["backup_store_host"]
    # the store writes a client's authorized_keys only with every drill host's key read in the same run (store())
    readers = list(v.get("groups", {}).get("drill_hosts", []))
    in_run = run_hosts()
    left_out = [r for r in readers if r not in in_run]
    if new_key.get(me) and (store_name not in in_run or left_out):
        why = ("the store is not part of this run" if store_name not in in_run
               else f"the keys of {', '.join(left_out)} were not read in this run")
        limit = ",".join(dict.fromkeys([me, store_name, *readers]))
        refuse(f"backup_client: {me} has a new backup key that the store {store_name} has not authorised ({why}). "
               f"Run again with them included, e.g. --limit '{limit}'.")
    put("BR-02 | Host key of the off-site store", f"{v['backup_client_store_address']} {store_host_key(store_name)}\n",
        f"{conf}/known_hosts", mode="600")
    sql.put_secret("BR-02 | Encryption password of the off-site repository (the store never holds it)",
                   str(v["backup_restic_password"]), f"{conf}/restic.pass")
    for script in v["backup_client_scripts"]:
        files.put(name=f"BR-01 | Backup scripts: {script}", src=str(CLIENT_FILES / script),
                  dest=f"/usr/local/sbin/{script}", user="root", group="root", mode="755")
    env = dict(v, restic_repository=v["backup_client_repository"], config_dir=conf,
               sftp_command=v["backup_client_sftp_command"], keep_daily=v["backup_client_keep_daily"],
               retention_full=v["backup_retention_full_count"], state_dir=v["backup_client_state_dir"],
               fingerprint_dir=v["backup_client_fingerprint_dir"], database=v["database_name"],
               pg_stanza=v["backup_client_pgbackrest_stanza"], pg_repo_path=v["backup_client_pgbackrest_repo_path"],
               mariadb_dir=v["backup_client_mariadb_dir"], file_paths=v["backup_file_paths"])
    put("BR-01 | Backup settings (BR-02)", deploy.render("backup_client", "backup.env.j2", env), f"{conf}/backup.env",
        mode="600")
    restic = shlex.join(["restic", "-r", v["backup_client_repository"], "-o",
                         f"sftp.command={v['backup_client_sftp_command']}", "--password-file", f"{conf}/restic.pass"])
    ready = host.get_fact(Command, command=f"if command -v restic >/dev/null 2>&1 && {restic} cat config "
                                           ">/dev/null 2>&1; then echo yes; else echo no; fi")
    if str(ready).strip() != "yes":
        # checked again when it runs: the store may authorise this host's key only in this run
        server.shell(name="BR-02 | Initialise the encrypted off-site repository",
                     commands=[f"{restic} cat config >/dev/null 2>&1 || {restic} init"])


def postgresql(v: dict[str, Any]) -> None:
    if missing_packages(v["backup_client_postgresql_packages"]):
        apt.packages(name="BR-01 | Install pgBackRest", packages=v["backup_client_postgresql_packages"])
    conf = dict(v, repo_path=v["backup_client_pgbackrest_repo_path"], retention_full=v["backup_retention_full_count"],
                cipher_type=v["backup_client_pgbackrest_cipher_type"], cipher_pass=v["backup_pgbackrest_cipher_pass"],
                compress_type=v["backup_client_pgbackrest_compress_type"],
                process_max=v["backup_client_pgbackrest_process_max"], stanza=v["backup_client_pgbackrest_stanza"],
                pg_data=v["backup_client_postgresql_data"])
    sql.put_secret("BR-02 | pgBackRest settings (encrypted repository, retention from the policy; BR-01)",
                   deploy.render("backup_client", "pgbackrest.conf.j2", conf), "/etc/pgbackrest.conf", mode="640",
                   group="postgres")
    repo = v["backup_client_pgbackrest_repo_path"]
    files.directory(name="BR-01 | Repository directory", path=repo, present=True, user="postgres", group="postgres",
                    mode="750")
    archiving = put("BR-01 | WAL archiving into pgBackRest",
                    deploy.render("backup_client", "60-pgbackrest.conf.j2",
                                  dict(v, stanza=v["backup_client_pgbackrest_stanza"])),
                    v["backup_client_postgresql_archiving_conf"], mode="640", user="postgres", group="postgres")
    if archiving:
        server.shell(name="BR-01 | Apply archiving now (restart postgresql)",
                     commands=[f"systemctl restart {v['backup_client_postgresql_service']}"])
    stanza = v["backup_client_pgbackrest_stanza"]
    if not host.get_fact(File, path=f"{repo}/backup/{stanza}/backup.info"):
        server.shell(name="BR-01 | Create the stanza", commands=[f"pgbackrest --stanza={stanza} stanza-create"],
                     _sudo=True, _sudo_user="postgres")


def mariadb(v: dict[str, Any]) -> None:
    if missing_packages(v["backup_client_mariadb_packages"]):
        apt.packages(name="BR-01 | Install mariabackup", packages=v["backup_client_mariadb_packages"])
    user = v["backup_client_mariadb_user"]
    socket = "/run/mysqld/mysqld.sock"
    stored = sql.stored_accounts(socket)
    labels, statements = sql.password_statements([(user, "localhost", str(v["db_mariabackup_password"]))], stored)
    if statements:
        sql.run_sql(f"BR-01 | Password of the backup account (checked by the server's password policy): "
                    f"{', '.join(labels)}", statements, socket)
    current = sql.stored_grants([(user, "localhost")] if (user, "localhost") in stored else [], socket)
    labels, statements = sql.grant_statements([(user, "localhost", v["backup_client_mariadb_privileges"])], current,
                                              require_ssl=False, stored=stored)
    if statements:
        sql.run_sql(f"BR-01 | Backup account (local socket only, backup privileges only): {', '.join(labels)}",
                    statements, socket)
    sql.put_secret("BR-01 | Credentials file of the backup account",
                   deploy.render("backup_client", "mariabackup.cnf.j2",
                                 dict(v, user=user, password=v["db_mariabackup_password"])),
                   f"{v['backup_client_config_dir']}/mariabackup.cnf")
    files.directory(name="BR-01 | Local backup directory", path=v["backup_client_mariadb_dir"], present=True,
                    user="root", group="root", mode="700")


def schedule(v: dict[str, Any]) -> None:
    unit = (CLIENT_FILES / "baseline-backup@.service").read_text(encoding="utf-8")
    changed = put("BR-01 | Backup service", unit, "/etc/systemd/system/baseline-backup@.service", mode="644")
    for job in v["backup_client_jobs"]:
        timer = deploy.render("backup_client", "baseline-backup.timer.j2",
                              dict(v, job=job["job"], calendar=job["calendar"]))
        changed = put(f"BR-01 | Timers (weekly full, daily incremental, daily files): {job['job']}", timer,
                      f"/etc/systemd/system/baseline-backup@{job['job']}.timer", mode="644") or changed
    if changed:
        server.shell(name="BR-01 | Apply unit changes (systemctl daemon-reload)", commands=["systemctl daemon-reload"])
    for job in v["backup_client_jobs"]:
        sql.running(f"BR-01 | Timers enabled and started: {job['job']}", f"baseline-backup@{job['job']}.timer")
    if v["backup_client_first_backup"]:
        for job in v["backup_client_jobs"]:
            name = job["job"]
            if not (name.endswith("-full") or name == "files"):
                continue
            record = f"{v['backup_client_state_dir']}/{name.removesuffix('-full')}.json"
            if not host.get_fact(File, path=record):
                server.shell(name=f"BR-01 | First full backup of each kind when none is recorded yet: {name}",
                             commands=[f"/usr/local/sbin/baseline-backup {name}"])


def clients() -> None:
    v = client_values()
    offsite(v)
    if v["backup_client_postgresql"]:
        postgresql(v)
    if v["backup_client_mariadb"]:
        mariadb(v)
    schedule(v)


def play_boundary(name: str) -> None:
    """An operation every host of the run shares (same place in this file, so the same operation for pyinfra) and
    that changes nothing: pyinfra orders operations per host only, so without it the store could read the keys
    before a client made its key, or a client initialise its repository before the store authorised it. Ansible
    runs these plays one after the other; this keeps that order."""
    server.shell(name=name, commands=[])


def main() -> None:
    deploy.check_preflight()
    if deploy.targets(KEYS_PATTERN):
        keys()
    play_boundary("BR-02 | Backup keys of every client and drill host made before the store reads them")
    if deploy.targets(STORE_PATTERN):
        store()
    play_boundary("BR-02 | The store ready before the clients use it")
    if deploy.targets(CLIENT_PATTERN):
        clients()
    deploy.finish()


if __name__ != HELPERS:
    main()
