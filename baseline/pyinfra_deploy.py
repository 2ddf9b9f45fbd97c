"""What every pyinfra deploy of the baseline shares (playbooks/pyinfra/*.py): the host's values as Ansible
resolves them, the pre-flight, and files installed the way the roles install them (rendered from the roles'
templates, validated before they replace anything, and — for changes that can cut access — guarded by the same
on-host rollback as roles/lockout_guard, confirmed by a fresh SSH login with sudo).

    from baseline import pyinfra_deploy as deploy
    v = deploy.values("accounts")                       # role defaults < inventory < role vars, resolved
    deploy.install("IA-05", "sshd configuration", [deploy.Managed("/etc/ssh/sshd_config.d/50-baseline.conf",
                   deploy.render("accounts", "sshd-baseline.conf.j2", v), mode="600",
                   validate="/usr/sbin/sshd -t -f {path}")], then=["systemctl reload ssh"], guard=True)
    deploy.finish()                                     # last line of a deploy: the guard's copies go

Decisions are taken when pyinfra prepares the run, from the host's state then (file hashes, modes, owners): a
file that already holds the wanted bytes, owner and mode gets no operation at all, so a second run changes nothing
and `--dry` lists exactly the operations the real run makes.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import shlex
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from io import StringIO
from pathlib import Path
from typing import Any

import yaml

from baseline import REPO_ROOT, inventory, platform, policy, preflight, templates

ROLES = REPO_ROOT / "roles"
# What differs between the Debian releases the baseline supports, one file per release (playbooks/release.yml).
RELEASE_VARS = REPO_ROOT / "playbooks" / "group_vars"
DEPLOYS = REPO_ROOT / "playbooks" / "pyinfra"
ROLLBACK_PROGRAM = "/usr/local/sbin/baseline-rollback"
ROLLBACK_SOURCE = ROLES / "lockout_guard" / "files" / "baseline-rollback"
# Keeps the files a change replaces under its change id (CM-01, playbooks/rollback.yml); sent on standard input.
KEEP_SOURCE = REPO_ROOT / "plugins" / "modules" / "baseline_keep.py"
GUARD_ID = "access"
# Staged copies wait here, outside the directories the integrity database watches (IP-05), until validated.
STAGE_DIR = "/var/lib/baseline-pyinfra/stage"
# One mark per pyinfra run, as lockout_guard_run is one per Ansible run: a rollback puts back the state before it.
RUN_MARK = datetime.now(UTC).strftime("%Y%m%dT%H%M%S.%fZ")
EXIT_REFUSED = 2



def _import_ansible_quietly() -> None:
    """Ansible, when first imported, probes socket.getaddrinfo with a subclass of int; under pyinfra's gevent the
    probe's expected OSError is printed by gevent's hub as if something had failed. Import it with that report
    muted (the values and the pre-flight use Ansible's templating and inventory)."""
    hub = None
    try:
        import gevent

        hub = gevent.get_hub()
        saved, hub.exception_stream = hub.exception_stream, None
    except Exception:  # noqa: BLE001 - without gevent there is nothing to mute
        hub = None
    try:
        import ansible.module_utils._internal._datatag  # noqa: F401
    finally:
        if hub is not None:
            hub.exception_stream = saved


_import_ansible_quietly()
_checked: set[str] = set()
_armed: set[str] = set()
_depth: dict[str, int] = {}
_refreshed: set[str] = set()
_staging: set[str] = set()
_planned: dict[str, dict[str, tuple]] = {}
_rollback_installed: set[str] = set()
_at_finish: dict[str, list[Callable[[], None]]] = {}


# --- values -----------------------------------------------------------------------------------------------------

def _host() -> Any:
    from pyinfra import host

    return host


def name() -> str:
    """The host's name in the Ansible inventory: the pyinfra inventory's `baseline_host` data, else pyinfra's name
    (they differ only for a host reached another way, e.g. `@chroot/...` with `--data baseline_host=app1`; the
    controller, `@local`, is Ansible's localhost)."""
    host = _host()
    given = host.data.get("baseline_host")
    if given:
        return str(given)
    return "localhost" if host.name == "@local" else host.name


def targets(pattern: str) -> bool:
    """Whether this host is one of the Ansible host pattern's (e.g. "linux_servers:!kernel_hosts")."""
    return name() in inventory.load(str(inventory_dir())).hosts(pattern)


def inventory_dir() -> Path:
    """The Ansible inventory the host's values come from: the pyinfra inventory's `baseline_inventory` data for the
    host, else $BASELINE_INVENTORY, else the lab's."""
    given = _host().data.get("baseline_inventory")
    return Path(given) if given else inventory.inventory_path()


def host_vars() -> dict[str, Any]:
    """The host's inventory variables (Ansible's precedence, vault values decrypted) and the names Ansible gives
    every play: inventory_hostname, groups, group_names."""
    me = name()
    inv = inventory.load(str(inventory_dir()))
    groups = inv.groups()
    found = inv.vars(me)
    found.update({"inventory_hostname": me, "inventory_hostname_short": me.split(".")[0], "groups": groups,
                  "group_names": sorted(g for g, members in groups.items()
                                        if me in members and g not in ("all", "ungrouped"))})
    return found


def supported_releases() -> list[str]:
    """Debian major versions with a release file (playbooks/group_vars/debian_<N>.yml)."""
    return sorted(p.stem.removeprefix("debian_") for p in RELEASE_VARS.glob("debian_*.yml"))


def host_release() -> tuple[str, str] | None:
    """The host's distribution and major version ("Debian", "13") as the host reports them; None for the controller
    or outside a pyinfra run."""
    from pyinfra.context import ctx_host

    if not ctx_host.isset() or _host().name == "@local":
        return None
    from pyinfra.facts.server import LinuxDistribution

    found = _host().get_fact(LinuxDistribution)
    return str(found.get("name")), str(found.get("major"))


def release_values(release: tuple[str, str] | None = None) -> dict[str, Any]:
    """What the baseline does differently on the host's Debian release: the release file Ansible reads for the
    host's group debian_<N> (playbooks/release.yml); {} for the controller or a release without a file (the
    pre-flight refuses the latter)."""
    release = release if release is not None else host_release()
    if release is None or release[0] != "Debian":
        return {}
    path = RELEASE_VARS / f"debian_{release[1]}.yml"
    return (yaml.safe_load(path.read_text(encoding="utf-8")) or {}) if path.exists() else {}


def release_problem(release: tuple[str, str] | None) -> str | None:
    """Why the host's release cannot be applied (None: supported or not a server)."""
    if release is None:
        return None
    if release[0] != "Debian" or release[1] not in supported_releases():
        return (f"{name()} runs {release[0]} {release[1]}; the baseline supports Debian "
                f"{' and '.join(supported_releases())} (playbooks/group_vars/debian_<N>.yml). Nothing was changed.")
    return None


def _role_file(role: str, kind: str) -> dict[str, Any]:
    path = ROLES / role / kind / "main.yml"
    if not path.exists():
        return {}
    return yaml.safe_load(path.read_text(encoding="utf-8")) or {}


def values(*roles: str, facts: dict[str, Any] | None = None) -> dict[str, Any]:
    """Values for the roles' templates and data, merged as Ansible merges them for a play of these roles: the host's
    release file (`debian_release`, which the roles' defaults read), every role's defaults, then the inventory
    (and `facts`, named as Ansible names them), then every role's vars; Jinja expressions in them resolved by
    Ansible's own templating. Policy values come back converted ("12" -> 12)."""
    merged: dict[str, Any] = dict(release_values())
    for role in roles:
        merged.update(_role_file(role, "defaults"))
    merged.update(host_vars())
    merged.update(facts or {})
    for role in roles:
        merged.update(_role_file(role, "vars"))
    resolved = templates.resolve(merged)
    resolved.update(policy.converted({k: v for k, v in resolved.items() if k in policy.FLOORS_BY_NAME}))
    return resolved


def render(role: str, name: str, data: dict[str, Any]) -> str:
    """The role's template `name` rendered with `data`, byte for byte what Ansible's template module writes."""
    return templates.render(templates.template_path(role, name), data)


def include(part: str, **data: Any) -> None:
    """Run the deploy file playbooks/pyinfra/PART.py here, for this host; `data` is seen as host data inside it
    (e.g. include("integrity_snapshot", snapshot_hosts="linux_servers")). As pyinfra's local.include, but the
    operations keep their own names (the control ID first, as Ansible's task names), and the included file's
    finish() leaves the guard's copies to the deploy that included it."""
    from pyinfra_cli.util import exec_file

    host = _host()
    _depth[host.name] = _depth.get(host.name, 0) + 1
    try:
        with host.deploy("", None, data or None, in_deploy=False):
            exec_file(str(DEPLOYS / f"{part}.py"))
    finally:
        _depth[host.name] -= 1


def packages_arriving() -> bool:
    """Whether an operation this run has prepared so far for the host installs packages (which may bring services
    or system accounts the baseline must correct: mariadb-server brings rsync, postgresql the postgres account),
    decided from the commands the operations will run."""
    from pyinfra import state
    from pyinfra.context import ctx_host

    me = ctx_host.get()
    for data in state.ops.get(me, {}).values():
        try:
            if not data.operation_meta.will_change:
                continue
            if any("apt-get" in text and " install " in text for text in map(str, data.command_generator())):
                return True
        except RuntimeError:  # an operation whose condition needs an earlier result: it may install
            return True
    return False


def refresh_package_index() -> None:
    """IP-04: refresh the package index from the platform's repository, once per host and run, while pyinfra
    prepares (also with --dry, as Ansible refreshes it in check mode): every later package decision reads the
    fresh index. The index is not configuration: nothing is reported as changed."""
    from pyinfra.facts.server import Command

    me = name()
    if me in _refreshed:
        return
    _refreshed.add(me)
    output = _host().get_fact(Command, command="apt-get update -qq >/dev/null 2>&1 && echo refreshed || echo failed")
    if str(output).strip() != "refreshed":
        print(f"{me}: IP-04: the package index could not be refreshed from the platform's repository "
              "(apt-get update failed)", file=sys.stderr)
        raise SystemExit(1)


# --- pre-flight ---------------------------------------------------------------------------------------------------

def _reach() -> platform.Reach:
    data = _host().data
    target = str(data.get("ssh_hostname") or _host().name)
    port = platform.whole_number(data.get("ssh_port") or 22)
    return platform.reach(platform.ssh_view(target, port, []))


UPLOAD_TEMP_DIR = "/tmp"


def use_shared_upload_temp_dir() -> None:
    """Uploads go to /tmp unless the user chose a temporary directory. An upload is written to a temporary file by
    the login account and then moved into place with sudo; pam_tmpdir (RI-01) gives sudo sessions root's own TMPDIR
    (/tmp/user/0, mode 0700), which pyinfra would otherwise pick and the login account cannot write. /tmp is sticky;
    keys and hashes never pass through it (see put_secret)."""
    from pyinfra import config

    if not config.TEMP_DIR:
        config.TEMP_DIR = UPLOAD_TEMP_DIR


def check_preflight() -> None:
    """The pre-flight for this host, once per run (every deploy calls it; the first call checks). Problems are
    printed and the run stops with exit 2 while pyinfra is still preparing: no operation has run on any host."""
    from baseline import pyinfra_records

    use_shared_upload_temp_dir()
    pyinfra_records.start()  # the run's change record (CM-01); a run without a reason outside the lab stops here
    me = name()
    if me in _checked:
        return
    found = host_vars()
    groups = found["groups"]
    store = found.get("backup_store_host")
    store_address = None
    if isinstance(store, str) and store in groups.get("all", []):
        store_address = inventory.load(str(inventory_dir())).vars(store).get("ansible_host", store)
    reach = _reach if _host().data.get("ssh_hostname") else None  # not over SSH (@chroot, @local): no route
    problems = preflight.problems(found, groups, me, reach, store_address)
    if not problems and me in groups.get("linux_servers", []):  # the checks that need no connection come first
        problems = [p for p in [release_problem(host_release())] if p]
    if problems:
        print("Pre-flight refused the run before any host is changed:\n" + "\n".join(problems), file=sys.stderr)
        raise SystemExit(EXIT_REFUSED)
    _checked.add(me)


# --- files ----------------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Managed:
    """A file the baseline manages: its path, wanted bytes, owner, group, mode (octal text) and, optionally, a
    command that must accept the staged copy ({path} stands for it) before it replaces the installed one."""
    path: str
    content: str
    mode: str = "644"
    user: str = "root"
    group: str = "root"
    validate: str | None = None
    secret: bool = False  # a key or a password hash: staged through stdin, never through an upload's temporary file

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.content.encode()).hexdigest()

    @property
    def staged(self) -> str:
        return f"{STAGE_DIR}/{self.path.strip('/').replace('/', '__')}"


def planned_before(path: str, signature: tuple) -> bool:
    """Whether an earlier operation of this run already brings `path` to the same state (`signature`: kind and
    wanted attributes); else the path is noted as planned now. Two parts that manage one path (the state directory,
    the CA certificate of two certificates) then make one operation, and --dry predicts exactly what runs."""
    try:
        me = _host().name
    except AttributeError:  # outside a pyinfra run (no host in context): nothing planned before
        return False
    seen = _planned.setdefault(me, {})
    if seen.get(path) == signature:
        return True
    seen[path] = signature
    return False


def directory(operation: str, path: str, *, user: str = "root", group: str = "root", mode: str = "755") -> None:
    """files.directory, once per path and run."""
    from pyinfra.operations import files

    if planned_before(path, ("directory", user, group, mode)):
        return
    files.directory(name=operation, path=path, user=user, group=group, mode=mode, present=True)


def differs(item: Managed) -> bool:
    """True when the host's file is missing or differs in bytes, owner, group or mode (facts of the prepare)."""
    from pyinfra.facts.files import File, Sha256File

    host = _host()
    info = host.get_fact(File, path=item.path)
    if not info:
        return True
    if host.get_fact(Sha256File, path=item.path) != item.sha256:
        return True
    # pyinfra gives the mode as the octal digits read as a number (0640 -> 640)
    return (str(info.get("mode")).lstrip("0") != item.mode.lstrip("0") or info.get("user") != item.user
            or info.get("group") != item.group)


def install(control: str, change: str, items: list[Managed], *, then: list[str] | tuple[str, ...] = (),
            guard: bool = False) -> bool:
    """Install the files of one change where they differ: stage each, validate it, install all, run `then`.
    A validation or a `then` command that fails puts the previous files back before the operation fails.
    With `guard` (changes that can cut access), the on-host rollback is armed first and a fresh SSH login with
    sudo must confirm the change, else the files go back. Returns whether anything is to change."""
    from pyinfra.operations import files, server

    from baseline import pyinfra_records

    wanted = [item for item in items if differs(item)
              and not planned_before(item.path, ("file", item.sha256, item.user, item.group, item.mode))]
    if not wanted:
        return False
    staging_directory(control)
    if guard:
        arm(control, change, [i.path for i in items], then)
    for item in wanted:
        if item.secret:
            put_secret(f"{control} | Stage {item.path}", item.content, item.staged)
        else:
            files.put(name=f"{control} | Stage {item.path}", src=StringIO(item.content), dest=item.staged,
                      user="root", group="root", mode="600")
    operation = f"{control} | Install {change} (validated first; the previous files return on failure)"
    change_id, keep_dir = pyinfra_records.keep_directory()
    pyinfra_records.kept(operation, keep_dir, [_kept_entry(item) for item in wanted])
    keep_root = keep_dir.rsplit("/", 1)[0]
    script = ["set -e", f"backup={STAGE_DIR}/previous.$$", "mkdir -p \"$backup\"",
              # CM-01: the program comes on standard input; it keeps the files replaced below for a rollback
              f"keep={STAGE_DIR}/baseline-keep.$$.py", "cat > \"$keep\"",
              f"python3 \"$keep\" keep {shlex.quote(keep_root)} {shlex.quote(change_id)} {keep_changes()} "
              + " ".join(shlex.quote(item.path) for item in wanted) + " >/dev/null || { rm -f \"$keep\"; "
              + f"echo {shlex.quote('the files this change replaces could not be kept for a rollback')} >&2; exit 1; }}",
              "rm -f \"$keep\""]
    for n, item in enumerate(wanted):
        if item.validate:
            script.append(f"{item.validate.format(path=shlex.quote(item.staged))} >&2 || "
                          f"{{ echo {shlex.quote(f'{item.path}: the new file was refused by its validation')} >&2; "
                          "exit 1; }")
        script.append(f"if [ -e {shlex.quote(item.path)} ]; then cp -a {shlex.quote(item.path)} \"$backup/{n}\"; fi")
    restore = []
    for n, item in enumerate(wanted):
        restore.append(f"if [ -e \"$backup/{n}\" ]; then cp -a \"$backup/{n}\" {shlex.quote(item.path)}; "
                       f"else rm -f {shlex.quote(item.path)}; fi")
    script.append("restore() { " + "; ".join(restore) + "; }")
    for item in wanted:
        script.append(f"install -D -o {item.user} -g {item.group} -m {item.mode} {shlex.quote(item.staged)} "
                      f"{shlex.quote(item.path)} || {{ restore; exit 1; }}")
    for cmd in then:
        script.append(f"{cmd} || {{ echo {shlex.quote(f'{cmd} failed: previous files restored')} >&2; restore; "
                      f"{' ; '.join(then)} ; exit 1; }}")
    script.append("rm -rf \"$backup\"")
    script += [f"rm -f {shlex.quote(item.staged)}" for item in wanted if item.secret]  # no second copy of a key
    server.shell(name=operation, commands=["\n".join(script)], _stdin=KEEP_SOURCE.read_text(encoding="utf-8"))
    if guard:
        confirm(control, change)
    return True


def _kept_entry(item: Managed) -> dict[str, Any]:
    """What the change record holds of a file the install keeps (facts of the prepare; hashes, no content)."""
    return kept_entry(item.path, existed_after=True, sha256_after=item.sha256)


def kept_entry(path: str, *, existed_after: bool, sha256_after: str) -> dict[str, Any]:
    """The change record's entry of a file a run replaces on the current host: its state now from the prepare's
    facts (existence, SHA-256, owner, group, mode; no content) and the state the run leaves."""
    from pyinfra.facts.files import File, Sha256File

    host = _host()
    info = host.get_fact(File, path=path)
    found: dict[str, Any] = {"path": path, "existed_before": bool(info), "sha256_before": "", "owner": "",
                             "group": "", "mode": "", "existed_after": existed_after, "sha256_after": sha256_after}
    if info:
        found.update(sha256_before=str(host.get_fact(Sha256File, path=path) or ""), owner=str(info.get("user", "")),
                     group=str(info.get("group", "")), mode=str(info.get("mode", "")).zfill(4))
    return found


def keep_changes() -> int:
    """How many changes' copies each host keeps (`baseline_keep_changes`, default 20), as the Ansible runs read it."""
    return policy.whole_number(host_vars().get("baseline_keep_changes", 20)) or 20


TRUE_WORDS = {"1", "true", "yes", "on", "y", "t"}


def as_bool(value: Any) -> bool:
    """Ansible's `bool` filter."""
    if isinstance(value, bool):
        return value
    return str(value).strip().lower() in TRUE_WORDS


def put_secret(operation: str, content: str, dest: str, *, mode: str = "600", user: str = "root",
               group: str = "root") -> None:
    """Write a file holding a secret: its bytes go on the operation's standard input (base64, so they arrive
    unchanged) into a file created with umask 077 beside `dest`, which then replaces `dest`. An upload
    (files.put) would pass through a temporary file of the login account first; a command line would show in
    `ps`. The caller decides whether the file differs (differs() of a Managed with the same content)."""
    from pyinfra.operations import server

    command, stdin = secret_command(content, dest, mode=mode, user=user, group=group)
    server.shell(name=operation, commands=[command], _stdin=stdin)


def secret_command(content: str, dest: str, *, mode: str = "600", user: str = "root",
                   group: str = "root") -> tuple[str, str]:
    """(command, standard input) of put_secret: the command holds no secret, the input is the content in base64."""
    new = shlex.quote(f"{dest}.baseline-new")
    return (f"umask 077 && base64 -d > {new} && chown {user}:{group} {new} && chmod {mode} {new} && "
            f"mv -f {new} {shlex.quote(dest)}", base64.b64encode(content.encode()).decode() + "\n")


def staging_directory(control: str) -> None:
    """The root-only directory staged copies wait in: one operation per host and run (a second one would be
    predicted by --dry and then found made)."""
    from pyinfra.operations import files

    if name() in _staging:
        return
    _staging.add(name())
    files.directory(name=f"{control} | Staging directory", path=STAGE_DIR, user="root", group="root", mode="700",
                    present=True)


def arm(control: str, change: str, paths: list[str], then: list[str] | tuple[str, ...] = ()) -> None:
    """Before a change that can cut access (lockout_guard arm): the on-host rollback keeps the files at `paths`
    (or the fact that they do not exist) and starts its countdown; `then` runs after it puts them back."""
    from pyinfra.operations import server

    _install_rollback_program(control)
    argv = [ROLLBACK_PROGRAM, "arm", GUARD_ID, str(_rollback_seconds()), *paths,
            *[f"--then={cmd}" for cmd in then], "--run", RUN_MARK]
    server.shell(name=f"{control} | Lockout safety: arm the rollback before the change: {change}",
                 commands=[shlex.join(argv) + " >/dev/null"])
    _armed.add(_host().name)


def confirm(control: str, change: str) -> None:
    """After an armed change (lockout_guard confirm): a new SSH login with sudo stops the countdown and the copies
    are held to the end of the run; if the login fails, the rollback restores at once and the host stops."""
    from pyinfra.operations import python

    python.call(name=f"{control} | Lockout safety: a new SSH login with sudo after the change: {change}",
                function=_confirm_step, change=change)


def _confirm_step(state: Any, host: Any, change: str) -> bool:
    """The confirmation as pyinfra calls it (its `state, host` form: the result is the operation's status): a stop
    is the operation's failure with the reason in red, not a Python traceback."""
    from pyinfra.context import ctx_host

    with ctx_host.use(host):
        try:
            _confirm_or_restore(change)
        except LockoutRestored as stop:
            host.log_styled(str(stop), fg="red", log_func=logging.getLogger("pyinfra").error)
            return False
    return True


class LockoutRestored(RuntimeError):
    """A change cut access: the rollback put the previous files back and the run stops for the host."""


def _rollback_seconds() -> int:
    found = host_vars().get("accounts_lockout_rollback_seconds", 60)
    seconds = policy.whole_number(found)
    if seconds is None or seconds < 30:
        print(f"accounts_lockout_rollback_seconds = {found!r} is below 30: the rollback would fire before a new "
              "SSH login could confirm the change", file=sys.stderr)
        raise SystemExit(EXIT_REFUSED)
    return seconds


def _install_rollback_program(control: str) -> None:
    from pyinfra.operations import files

    if name() in _rollback_installed:
        return
    _rollback_installed.add(name())
    files.put(name=f"{control} | Lockout safety: on-host rollback program", src=str(ROLLBACK_SOURCE),
              dest=ROLLBACK_PROGRAM, user="root", group="root", mode="755")


def fresh_login() -> subprocess.CompletedProcess:
    """A new SSH connection (no shared master) of the automation account that runs `sudo -n true`."""
    data = _host().data
    argv = ["ssh", "-o", "BatchMode=yes", "-o", "ControlMaster=no", "-o", "ControlPath=none",
            "-o", "ConnectTimeout=15", "-p", str(data.get("ssh_port") or 22)]
    if data.get("ssh_key"):
        argv += ["-i", str(data.get("ssh_key")), "-o", "IdentitiesOnly=yes"]
    if data.get("ssh_known_hosts_file"):
        argv += ["-o", f"UserKnownHostsFile={data.get('ssh_known_hosts_file')}"]
    if data.get("ssh_strict_host_key_checking"):
        argv += ["-o", f"StrictHostKeyChecking={data.get('ssh_strict_host_key_checking')}"]
    target = str(data.get("ssh_hostname") or _host().name)
    if data.get("ssh_user"):
        target = f"{data.get('ssh_user')}@{target}"
    return subprocess.run([*argv, target, "sudo -n true"], capture_output=True, text=True, timeout=60,
                          check=False, stdin=subprocess.DEVNULL)


def _confirm_or_restore(change: str) -> None:
    host = _host()
    login = fresh_login()
    if login.returncode == 0:
        confirmed = host.run_shell_command(f"{ROLLBACK_PROGRAM} confirm {GUARD_ID} --run {RUN_MARK}", _sudo=True)
        ok = confirmed[0] if isinstance(confirmed, tuple) else bool(confirmed)
        if ok:
            return
        cause = "the rollback fired before the login could confirm the change"
    else:
        cause = (f"a new SSH login with sudo failed after the change (exit {login.returncode}: "
                 f"{login.stderr.strip()[-300:]})")
    host.run_shell_command(f"{ROLLBACK_PROGRAM} restore {GUARD_ID} --run {RUN_MARK}", _sudo=True)
    raise LockoutRestored(f"{host.name}: {change}: {cause}; the previous access configuration is restored "
                       f"and the run stops for this host")


def at_finish(callback: Callable[[], None]) -> None:
    """Have `callback` called, for this host, by the finish() of the deploy pyinfra was given, once every part of
    the run is prepared (e.g. integrity_snapshot.py: the run stands, its snapshot goes)."""
    found = _at_finish.setdefault(name(), [])
    if callback not in found:
        found.append(callback)


def finish() -> None:
    """The last call of every deploy file. In the deploy pyinfra was given (not in a part it includes): what the
    parts asked for with at_finish(), then, where the run armed the rollback, its changes stand and the copies go."""
    from pyinfra.operations import server

    host = _host()
    if _depth.get(host.name, 0) > 0:
        return
    for callback in _at_finish.pop(host.name, []):
        callback()
    if host.name not in _armed:
        return
    _armed.discard(host.name)
    server.shell(name="Lockout safety | the run's access changes stand - the rollback's copies go",
                 commands=[f"{ROLLBACK_PROGRAM} disarm {GUARD_ID} --run {RUN_MARK} >/dev/null"])
