"""pyinfra deploy of roles/accounts (IA-01..IA-06, AC-01..AC-04, RI-01): the same tasks in the same order, from
the same values (role defaults < inventory < role vars) and templates, on the hosts of the Ansible play
(linux_servers:!kernel_hosts in playbooks/linux.yml).

    pyinfra inventory/lab/pyinfra_inventory.py playbooks/pyinfra/accounts.py [--limit HOST] [--dry]

Every decision is taken while pyinfra prepares, from facts of the host (accounts, password states without the
hashes, groups, files and their hashes), so `--dry` lists what the run does and a second run has no operation.
Changes that can cut access (staff keys, sudoers, PAM, sshd) are guarded by the on-host rollback as the role's
lockout_guard arm/confirm calls guard them; the PAM files are tested with a real login (pamtester) before the new
SSH login confirms them. Initial passwords: the role's derivation (baseline.accounts.initial_password) hashed by
Ansible's own password_hash with the role's derived salt, so both engines write the same shadow entry; the hash
reaches the host in a root-only file read by `chpasswd -e`, never on a command line.
"""

from __future__ import annotations

import base64
import fnmatch
import json
import re
import shlex
import sys
from datetime import UTC, datetime
from io import StringIO
from typing import Any

from pyinfra import host
from pyinfra.facts.deb import DebPackages
from pyinfra.facts.files import Directory, File, Sha1File
from pyinfra.facts.server import Command
from pyinfra.operations import apt, files, server

from baseline import accounts as roster
from baseline import pyinfra_deploy as deploy
from baseline.accounts import initial_password_hash

ROLE = "accounts"
PATTERN = "linux_servers:!kernel_hosts"  # playbooks/linux.yml, play "Server baseline"
SUDOERS_ROLES = "/etc/sudoers.d/50-baseline-roles"
SSHD_DIR = "/etc/ssh/sshd_config.d"
MISSING = "__baseline_missing__"


# --- facts (read-only, as the role's getent/stat/slurp/find tasks) ---------------------------------------------

def command_fact(command: str) -> str:
    found = host.get_fact(Command, command=command)
    return "" if found is None else str(found)


def file_text(path: str) -> str | None:
    """The file's exact text (None when it does not exist)."""
    q = shlex.quote(path)
    found = command_fact(f"if [ -e {q} ]; then printf 'B64:'; base64 -w0 {q}; else echo {MISSING}; fi")
    if not found.startswith("B64:"):
        return None
    return base64.b64decode(found[4:]).decode()


def getent(database: str) -> dict[str, list[str]]:
    """`getent DATABASE` as Ansible's getent module gives it: key -> the other fields."""
    found: dict[str, list[str]] = {}
    for line in command_fact(f"getent {database}").splitlines():
        fields = line.split(":")
        if fields and fields[0] and fields[0] not in found:
            found[fields[0]] = fields[1:]
    return found


def shadow_states() -> dict[str, dict[str, str]]:
    """Per account: the password's state (E empty, ! locked, * no password, H a hash), min, max, warn and expiry
    days - never the hash itself."""
    script = ("getent shadow | awk -F: '{ c = substr($2, 1, 1); s = ($2 == \"\") ? \"E\" : "
              "((c == \"!\" || c == \"*\") ? c : \"H\"); print $1 \":\" s \":\" $4 \":\" $5 \":\" $6 \":\" $8 }'")
    found = {}
    for line in command_fact(script).splitlines():
        name, state, low, high, warn, expire = (line.split(":") + [""] * 6)[:6]
        found[name] = {"state": state, "min": low, "max": high, "warn": warn, "expire": expire}
    return found


def existing(paths: list[str]) -> list[str]:
    if not paths:
        return []
    listed = " ".join(shlex.quote(p) for p in paths)
    return command_fact(f"for p in {listed}; do [ -e \"$p\" ] && echo \"$p\"; done; true").splitlines()


# --- what Ansible's modules do, as functions of the host's state ------------------------------------------------

def lineinfile(text: str | None, regexp: str, line: str) -> str:
    """ansible.builtin.lineinfile with regexp and line (create: the file may be missing): the last matching line
    is replaced, else the line is appended at the end."""
    lines = (text or "").splitlines(keepends=True)
    pattern = re.compile(regexp)
    index = -1
    for n, current in enumerate(lines):
        if pattern.search(current):
            index = n
    if index >= 0:
        lines[index] = line + "\n"
    else:
        if lines and not lines[-1].endswith(("\n", "\r")):
            lines[-1] += "\n"
        lines.append(line + "\n")
    return "".join(lines)


def login_defs_lines(text: str | None, items: list[dict[str, Any]]) -> str:
    for item in items:
        text = lineinfile(text, rf"^#?\s*{item['key']}\s", f"{item['key']}\t{item['value']}")
    return text or ""


def authorized_keys(person: dict[str, Any], extra_keys: dict[str, list[str]], networks: list[str]) -> str:
    """The staff keys file of the role's task (every key usable from the admin networks only)."""
    keys = list(person.get("ssh_keys") or []) + list((extra_keys or {}).get(person["username"], []))
    return "".join(f'from="{",".join(networks)}" {key}\n' for key in keys)


def accounts_report(unknown: list[str], exceptions: list[str], unmanaged: str, open_accounts: list[str]) -> str:
    """accounts-report.json as the role writes it (to_nice_json: indent 4, sorted keys)."""
    report = {"unknown": unknown, "exceptions": exceptions, "unmanaged": unmanaged,
              "open_left_in_place": open_accounts if unmanaged == "report" else []}
    return json.dumps(report, indent=4, sort_keys=True, separators=(",", ": ")) + "\n"


def staff_groups(person: dict[str, Any], v: dict[str, Any]) -> list[str]:
    spec = v["accounts_roles"][person["role"]]
    second = [v["accounts_second_factor_group"]] if spec["second_factor"] and int(v["protection_level"]) >= 3 else []
    return [spec["group"], *second]


def memberships(name: str, groups_db: dict[str, list[str]]) -> set[str]:
    return {g for g, fields in groups_db.items() if name in (fields[2].split(",") if len(fields) > 2 else [])}


def system_shell_changes(passwd: dict[str, list[str]], v: dict[str, Any]) -> list[str]:
    """AC-01: system accounts (UID below 1000) with a login shell, exceptions aside (tasks/system_shells.yml)."""
    return [a["name"] for a in roster.local_accounts(passwd) if a["uid"] < 1000
            and a["name"] not in v["accounts_system_shell_exceptions"] and a["shell"] not in v["accounts_nologin_shells"]]


# --- operations -----------------------------------------------------------------------------------------------

def shell(name: str, *commands: str) -> None:
    server.shell(name=name, commands=list(commands))


def refuse(control: str, message: str) -> None:
    """The role's assert/fail for this host: the host stops at this point of the run (listed by --dry)."""
    shell(f"{control} | Stop here - {message}", f"echo {shlex.quote(f'{control} on {deploy.name()}: {message}')} >&2; exit 1")


arm = deploy.arm
confirm = deploy.confirm


def restore_and_fail(message: str) -> str:
    """Shell text: the rollback puts the run's guarded files back at once, the operation fails with `message`."""
    restore = shlex.join([deploy.ROLLBACK_PROGRAM, "restore", deploy.GUARD_ID, "--run", deploy.RUN_MARK])
    return f"{{ echo {shlex.quote(message)} >&2; {restore} >&2; exit 1; }}"


_planned: dict[str, tuple[str, str, str]] = {}  # path -> owner, group, mode this run gives it (for AC-04 below)


def put(name: str, path: str, content: str, *, mode: str = "644", user: str = "root", group: str = "root") -> None:
    """A plain file (no validation), only where its bytes, owner or mode differ."""
    item = deploy.Managed(path, content, mode=mode, user=user, group=group)
    _planned[path] = (user, group, mode)
    if deploy.differs(item):
        files.put(name=name, src=StringIO(content), dest=path, user=user, group=group, mode=mode)


def edit(name: str, path: str, before: str | None, after: str) -> None:
    """A file changed in place (lineinfile): the new text, owner and mode kept (root's 0644 when it is new)."""
    if before == after:
        return
    info = host.get_fact(File, path=path) or {}
    put(name, path, after, mode=str(info.get("mode") or "644"), user=info.get("user") or "root",
        group=info.get("group") or "root")


def quarantine_script(paths: list[str], stamp: str, quarantine: str) -> list[str]:
    """Copy each file to QUARANTINE/STAMP/<its directory>/ (new directories 0700, files 0400, root's)."""
    lines = []
    for path in paths:
        directory = f"{quarantine}/{stamp}{path.rsplit('/', 1)[0]}"
        parts = directory.strip("/").split("/")
        for n in range(1, len(parts) + 1):
            level = "/" + "/".join(parts[:n])
            if level.startswith(quarantine + "/") or level == quarantine:
                lines.append(f"[ -d {shlex.quote(level)} ] || install -d -o root -g root -m 0700 {shlex.quote(level)}")
            else:
                lines.append(f"mkdir -p {shlex.quote(level)}")
        dest = f"{directory}/{path.rsplit('/', 1)[1]}"
        lines.append(f"cp {shlex.quote(path)} {shlex.quote(dest)} && chown root:root {shlex.quote(dest)} "
                     f"&& chmod 0400 {shlex.quote(dest)}")
    return lines


def record_script(record: str, entries: list[dict[str, Any]]) -> list[str]:
    """Append each entry (one JSON object a line, as the role's lineinfile with to_json) to the record."""
    q = shlex.quote(record)
    lines = [f"touch {q}", f"chown root:root {q}", f"chmod 0640 {q}"]
    for entry in entries:
        line = shlex.quote(json.dumps(entry))
        lines.append(f"grep -qxF {line} {q} || printf '%s\\n' {line} >> {q}")
    return lines


# --- the role, task file by task file ---------------------------------------------------------------------------

def staff(v: dict[str, Any], facts: dict[str, Any]) -> None:
    """tasks/staff.yml (with system_shells.yml, sudoers.yml, unmanaged_accounts.yml at their places)."""
    passwd, shadow, groups_db = facts["passwd"], facts["shadow"], facts["groups"]
    local = roster.local_accounts(passwd)
    uid_range = roster.login_uid_range(facts["login_defs"] or "")
    unknown = roster.unknown_accounts(local, v["staff"], v["accounts_exceptions"], uid_range[0], uid_range[1])
    uid0 = [a["name"] for a in local if a["uid"] == 0]
    uids = [a["uid"] for a in local]
    if uid0 != ["root"] or len(uids) != len(set(uids)):
        refuse("IA-01", f"UID 0 held by {uid0}, or a UID is shared: fix by hand, the role will not guess who is who.")
    for name in sorted(n for n, s in shadow.items() if s["state"] == "E"):
        shell(f"IA-01 | Lock accounts with an empty password: {name}", f"usermod -L {shlex.quote(name)}")
    system_shells(v, passwd)

    wanted_groups = list(dict.fromkeys([r["group"] for r in v["accounts_roles"].values()]
                                       + [v["accounts_second_factor_group"]]))
    for group in wanted_groups:
        if group not in groups_db:
            shell(f"AC-03 | Groups of the administrator roles: {group}", f"groupadd {shlex.quote(group)}")
    seed = str(v.get("accounts_initial_password_seed") or "")
    if not seed and int(v["protection_level"]) >= 3:
        refuse("AC-02", "accounts_initial_password_seed is empty: set it in the vault (roles/accounts/README.md).")

    active, departed = v["accounts_active"], v["accounts_departed"]
    for person in active:
        staff_account(person, v, seed, facts)
    for person in active:
        user = person["username"]
        files.directory(name=f"AC-02 | SSH directory of active staff: {user}", path=f"/home/{user}/.ssh",
                        user=user, group=user, mode="700", present=True)
    keys = [deploy.Managed(f"/home/{p['username']}/.ssh/authorized_keys",
                           authorized_keys(p, v.get("staff_ssh_keys") or {}, v["admin_networks"]),
                           mode="600", user=p["username"], group=p["username"]) for p in active]
    changing = [item for item in keys if deploy.differs(item)]
    if changing:
        change = "staff keys (authorized_keys)"
        arm("AC-02", change, [item.path for item in changing])
        deploy.install("AC-02", "exactly the roster's keys for active staff, usable from the admin networks only",
                       changing)
        confirm("AC-02", change)
    for person in departed:
        user = person["username"]
        if user not in passwd:
            continue
        fields = passwd[user]
        state = shadow.get(user, {})
        argv = ["usermod"]
        if memberships(user, groups_db):
            argv += ["-G", ""]
        if fields[5] != v["accounts_nologin_shell"]:
            argv += ["-s", v["accounts_nologin_shell"]]
        if state.get("expire", "") != "0":
            argv += ["-e", "1970-01-01"]
        if state.get("state") != "!":
            argv += ["-L"]
        if len(argv) > 1:
            shell(f"AC-02 | Departed staff are locked and expired on every host: {user}", shlex.join([*argv, user]))
    homes = existing([f"/home/{p['username']}" for p in departed])
    for home in homes:
        shell(f"RI-01 | Wipe the homes of departed staff (keys go with them): {home}",
              shlex.join(["find", home, "-type", "f", "-exec", "shred", "--zero", "--remove", "{}", "+"]))
    for home in homes:
        shell(f"RI-01 | Remove the emptied homes of departed staff: {home}", f"rm -rf {shlex.quote(home)}")
    deploy.directory("AC-02 | State directory of the baseline", v["accounts_state_dir"], mode="750")
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    sudoers(v, stamp)
    open_accounts = unmanaged_accounts(v, facts, local, unknown, stamp)
    put("AC-02 | Record the accounts outside the roster (exceptions listed apart)",
        f"{v['accounts_state_dir']}/accounts-report.json",
        accounts_report(unknown, v["accounts_exceptions"], v["accounts_unmanaged"], open_accounts), mode="640")
    if unknown:
        print(f"AC-02: accounts outside the roster on {deploy.name()}: {', '.join(unknown)}", file=sys.stderr)


def system_shells(v: dict[str, Any], passwd: dict[str, list[str]] | None = None) -> None:
    """tasks/system_shells.yml (also what playbooks/settle.yml runs after the database packages)."""
    known = passwd if passwd is not None else getent("passwd")
    for name in system_shell_changes(known, v):
        shell(f"AC-01 | System accounts have no login shell: {name}",
              shlex.join(["usermod", "-s", v["accounts_nologin_shell"], name]))
    if passwd is None and deploy.packages_arriving():
        # packages this run installs before this point may add system accounts the prepare could not see
        # (postgresql: postgres with /bin/bash): the same rule, applied when the operation runs
        exceptions = " ".join(v["accounts_system_shell_exceptions"])
        nologin = " ".join(v["accounts_nologin_shells"])
        shell("AC-01 | System accounts the packages of this run added have no login shell",
              "getent passwd | awk -F: '$3 < 1000 {print $1 \":\" $7}' | while IFS=: read -r name login; do "
              f"case ' {exceptions} ' in *\" $name \"*) continue;; esac; "
              f"case ' {nologin} ' in *\" $login \"*) continue;; esac; "
              f"usermod -s {shlex.quote(v['accounts_nologin_shell'])} \"$name\"; done")


def staff_account(person: dict[str, Any], v: dict[str, Any], seed: str, facts: dict[str, Any]) -> None:
    """ansible.builtin.user of an active person: created with the derived initial password (update_password:
    on_create), else brought to the roster's groups, comment, shell, no expiry and an unlocked password."""
    passwd, shadow, groups_db = facts["passwd"], facts["shadow"], facts["groups"]
    user = person["username"]
    groups = staff_groups(person, v)
    comment = f"{person['name']} ({person['role']})"
    ageing = {"-m": str(v["password_min_age_days"]), "-M": str(v["password_max_age_days"]),
              "-W": str(v["password_warn_age_days"])}
    name = f"AC-02 | Individual accounts for active staff, in their role's group: {user}"
    if user not in passwd:
        if not seed:
            refuse("AC-02", f"accounts_initial_password_seed is empty: no initial password for {user}.")
            return
        argv = ["useradd"]
        if person.get("uid") is not None:
            argv += ["-u", str(person["uid"])]
        if user in groups_db:
            argv += ["-N"]
        argv += ["-G", ",".join(groups), "-c", comment, "-s", v["accounts_shell"], "-e", "", "-m", user]
        hashed = f"{deploy.STAGE_DIR}/initial.{user}"
        deploy.staging_directory("AC-02")
        deploy.put_secret(f"AC-02 | Initial password hash of {user} (root-only file, read by chpasswd -e)",
                          f"{user}:{initial_password_hash(seed, user)}\n", hashed)
        chage = ["chage", *[x for pair in ageing.items() for x in pair], user]
        shell(name, f"{shlex.join(argv)} && chpasswd -e < {shlex.quote(hashed)}; rc=$?; rm -f {shlex.quote(hashed)}; "
                    f"[ $rc -eq 0 ] && {shlex.join(chage)}")
        return
    fields, state = passwd[user], shadow.get(user, {})
    argv = ["usermod"]
    if person.get("uid") is not None and fields[1] != str(person["uid"]):
        argv += ["-u", str(person["uid"])]
    if memberships(user, groups_db) != set(groups):
        argv += ["-G", ",".join(groups)]
    if fields[3] != comment:
        argv += ["-c", comment]
    if fields[5] != v["accounts_shell"]:
        argv += ["-s", v["accounts_shell"]]
    if state.get("expire", "") not in ("", "-1"):
        argv += ["-e", ""]
    if state.get("state") == "!":
        argv += ["-U"]
    commands = [shlex.join([*argv, user])] if len(argv) > 1 else []
    current = {"-m": state.get("min", ""), "-M": state.get("max", ""), "-W": state.get("warn", "")}
    differing = [x for flag, value in ageing.items() if current[flag] != value for x in (flag, value)]
    if differing:
        commands.append(shlex.join(["chage", *differing, user]))
    if commands:
        shell(name, " && ".join(commands))


def sudoers(v: dict[str, Any], stamp: str) -> None:
    """tasks/sudoers.yml: drop-in directory, sudo log rotation, the roles' rules (visudo -cf), no stray drop-ins."""
    files.directory(name="AC-03 | Sudoers drop-in directory readable by root only", path="/etc/sudoers.d",
                    user="root", group="root", mode="750", present=True)
    files.directory(name="AC-03 | Directory of logrotate's configuration", path="/etc/logrotate.d", user="root",
                    group="root", mode="755", present=True)
    put("AC-03 | The sudo log is rotated and kept for the retention period", "/etc/logrotate.d/baseline-sudo",
        deploy.render(ROLE, "logrotate-sudo.j2", v))
    rules = deploy.Managed(SUDOERS_ROLES, deploy.render(ROLE, "sudoers-roles.j2", v), mode="440",
                           validate="/usr/sbin/visudo -cf {path}")
    keep = ["50-baseline-roles", *v["accounts_sudoers_keep"]]
    names = command_fact("find /etc/sudoers.d -mindepth 1 -maxdepth 1 ! -type d -printf '%f\\n' 2>/dev/null; true")
    stray = sorted(f"/etc/sudoers.d/{n}" for n in names.splitlines()
                   if n and not any(fnmatch.fnmatchcase(n, pattern) for pattern in keep))
    mode = v["accounts_unmanaged"]
    if mode == "fail" and stray:
        refuse("AC-03", f"sudoers drop-ins the baseline does not manage: {', '.join(stray)}. Remove them, name them "
                        "in accounts_sudoers_keep, or set accounts_unmanaged to remove.")
        return
    if mode == "report" and stray:
        print(f"AC-03: sudoers drop-ins outside the baseline on {deploy.name()}, left in place: {', '.join(stray)}",
              file=sys.stderr)
    remove = stray if mode == "remove" else []
    changes = deploy.differs(rules)
    if not (changes or remove):
        return
    change = "sudo configuration"
    arm("AC-03", change, [SUDOERS_ROLES, *remove])
    deploy.install("AC-03", "sudo rights by role, separated duties, every rule with the person's password", [rules])
    if remove:
        quarantine = v["accounts_quarantine_dir"]
        sums = {path: host.get_fact(Sha1File, path=path) or "" for path in remove}
        entries = [{"time": stamp, "host": deploy.name(), "control": "AC-03", "action": "removed sudoers drop-in",
                    "path": path, "sha1": sums[path],
                    "kept_at": f"{quarantine}/{stamp}{path.rsplit('/', 1)[0]}/{path.rsplit('/', 1)[1]}"}
                   for path in remove]
        script = [*quarantine_script(remove, stamp, quarantine),
                  f"rm -f {' '.join(shlex.quote(p) for p in remove)}",
                  f"/usr/sbin/visudo -c >/dev/null || {restore_and_fail('the sudo change failed (visudo -c)')}",
                  *record_script(v["accounts_unmanaged_record"], entries)]
        shell(f"AC-03 | Keep each stray drop-in in the quarantine directory, remove it, check and record: "
              f"{', '.join(remove)}", "set -e\n" + "\n".join(script))
        print(f"AC-03: removed from /etc/sudoers.d on {deploy.name()} (not managed by the baseline): "
              f"{', '.join(remove)}; kept in {quarantine}/{stamp}, recorded in {v['accounts_unmanaged_record']}.",
              file=sys.stderr)
    confirm("AC-03", change)


def unmanaged_accounts(v: dict[str, Any], facts: dict[str, Any], local: list[dict[str, Any]], unknown: list[str],
                       stamp: str) -> list[str]:
    """tasks/unmanaged_accounts.yml; returns the accounts outside the roster that can log in."""
    outside = [a for a in local if a["name"] in unknown]
    keyfiles = existing([f"{a['home']}/.ssh/{name}" for a in outside for name in ("authorized_keys", "authorized_keys2")])
    owners = [a["name"] for a in outside for name in ("authorized_keys", "authorized_keys2")
              if f"{a['home']}/.ssh/{name}" in keyfiles]
    open_accounts = sorted(set([a["name"] for a in outside if a["shell"] not in v["accounts_nologin_shells"]] + owners))
    mode = v["accounts_unmanaged"]
    if mode == "fail" and open_accounts:
        refuse("AC-02", f"accounts outside the roster that can log in (login shell or authorized_keys): "
                        f"{', '.join(open_accounts)}. Add them to the roster or to accounts_exceptions, lock them, "
                        "or set accounts_unmanaged to remove.")
        return open_accounts
    if mode == "report" and open_accounts:
        print(f"AC-02: accounts outside the roster on {deploy.name()} that can log in, left as they are: "
              f"{', '.join(open_accounts)}", file=sys.stderr)
    if mode != "remove" or not open_accounts:
        return open_accounts
    shadow = facts["shadow"]
    for name in open_accounts:
        account = next(a for a in local if a["name"] == name)
        argv = ["usermod"]
        if account["shell"] != v["accounts_nologin_shell"]:
            argv += ["-s", v["accounts_nologin_shell"]]
        if shadow.get(name, {}).get("state") != "!":
            argv += ["-L"]
        if len(argv) > 1:
            shell(f"AC-02 | No login shell and a locked password: {name}", shlex.join([*argv, name]))
    quarantine = v["accounts_quarantine_dir"]
    entries = [{"time": stamp, "host": deploy.name(), "control": "AC-02",
                "action": "locked account outside the roster", "account": a["name"], "uid": a["uid"],
                "shell_was": a["shell"], "keys_moved": [k for k in keyfiles if k.startswith(f"{a['home']}/.ssh/")],
                "kept_at": f"{quarantine}/{stamp}"} for a in local if a["name"] in open_accounts]
    script = [*quarantine_script(keyfiles, stamp, quarantine)]
    if keyfiles:
        script.append(f"rm -f {' '.join(shlex.quote(k) for k in keyfiles)}")
    script += record_script(v["accounts_unmanaged_record"], entries)
    shell(f"AC-02 | Keep their key files in the quarantine directory, take them away, record the accounts locked: "
          f"{', '.join(open_accounts)}", "set -e\n" + "\n".join(script))
    print(f"AC-02: locked on {deploy.name()} (outside the roster, could log in): {', '.join(open_accounts)}",
          file=sys.stderr)
    return open_accounts


def pam_check_script(v: dict[str, Any]) -> str:
    """tasks/pam_check.yml: a temporary account with a random password made on the host (never leaves it, given
    on stdin only) authenticates through sshd's PAM stack, a wrong password is refused, the account goes."""
    user = shlex.quote(v["accounts_pam_check_user"])
    return "\n".join([
        f"user={user}",
        "secret=\"$(tr -dc 'A-Za-z0-9' </dev/urandom | head -c 16)a#\"",
        "hash=\"$(printf '%s' \"$secret\" | openssl passwd -6 -stdin)\"",
        "ok=yes",
        f"useradd -s {shlex.quote(v['accounts_nologin_shell'])} -M \"$user\" "
        "&& printf '%s:%s\\n' \"$user\" \"$hash\" | chpasswd -e || ok='the test account could not be made'",
        "if [ \"$ok\" = yes ]; then printf '%s\\n' \"$secret\" | pamtester sshd \"$user\" authenticate acct_mgmt "
        ">/dev/null 2>&1 || ok='the right password was refused (pamtester sshd)'; fi",
        "if [ \"$ok\" = yes ]; then printf '%s\\n' \"wrong-$secret\" | pamtester sshd \"$user\" authenticate "
        ">/dev/null 2>&1 && ok='a wrong password was accepted (pamtester sshd)'; fi",
        "userdel -r \"$user\" >/dev/null 2>&1 || userdel \"$user\" >/dev/null 2>&1",
        "rm -f \"/var/run/faillock/$user\"",
        "unset secret hash",
        f"[ \"$ok\" = yes ] || {restore_and_fail('the PAM test failed')}",
    ])


def pam(v: dict[str, Any], facts: dict[str, Any], login_defs: str | None) -> str | None:
    """tasks/pam.yml; returns login.defs as this run leaves it."""
    installed = host.get_fact(DebPackages) or {}
    if any(name not in installed for name in v["accounts_pam_packages"]):
        # the index is refreshed while the run is prepared (not here: pyinfra's cache_time reads a stamp Ansible's
        # runs never write, and would count a refresh as a change on every host Ansible set up)
        deploy.refresh_package_index()
    apt.packages(name="IA-02 | Password quality, dictionary and PAM test tools", packages=v["accounts_pam_packages"],
                 present=True)
    files.directory(name="IA-02 | Drop-in directory of pwquality", path="/etc/security/pwquality.conf.d",
                    user="root", group="root", mode="755", present=True)
    aged = login_defs_lines(login_defs, v["accounts_login_defs_ageing"])
    edit("IA-03 | Password ageing for new accounts (login.defs)", "/etc/login.defs", login_defs, aged)
    hashing = login_defs_lines(aged, v["accounts_login_defs_hashing"])
    edit("IA-02 | New passwords hashed with yescrypt at the baseline's cost (login.defs)", "/etc/login.defs", aged,
         hashing)
    # the role reads root's entry from staff.yml's getent (skipped with accounts_manage_staff off: no usable password)
    root = facts["shadow"].get("root", {"state": "!"}) if v["accounts_manage_staff"] else {"state": "!"}
    if root["state"] not in ("!", "*") and root["max"] != str(v["password_max_age_days"]):
        shell("IA-03 | root's password ages like everyone's when root has a usable password",
              shlex.join(["chage", "-M", str(v["password_max_age_days"]), "root"]))
    items = [deploy.Managed(item["dest"], deploy.render(ROLE, item["src"], v)) for item in v["accounts_pam_files"]]
    changing = [item for item in items if deploy.differs(item)]
    if changing:
        change = "PAM files"
        arm("IA-02", change, [item.path for item in changing])
        deploy.install("IA-02", "pwquality, faillock and PAM stack files", changing)
        shell("IA-02 | Test PAM with a real login (pamtester sshd: the right password passes, a wrong one fails)",
              pam_check_script(v))
        confirm("IA-02", change)
    return hashing


def ssh(v: dict[str, Any], facts: dict[str, Any]) -> None:
    """tasks/ssh.yml."""
    tries, sessions = int(v["accounts_ssh_max_auth_tries"]), int(v["accounts_ssh_max_sessions"])
    if not (1 <= tries <= 3 and 4 <= sessions <= 10 and int(v["accounts_ssh_client_alive_count_max"]) >= 1):
        refuse("IA-05", f"accounts_ssh_max_auth_tries = {tries} (wanted 1..3), accounts_ssh_max_sessions = "
                        f"{sessions} (wanted 4..10), accounts_ssh_client_alive_count_max = "
                        f"{v['accounts_ssh_client_alive_count_max']} (wanted at least 1)")
        return
    banner = deploy.render(ROLE, "issue.net.j2", v)
    for path in v["accounts_banner_files"]:
        put(f"IA-05 | Login banners (SSH, console, message of the day): {path}", path, banner)
    pam_sshd = facts["pam_sshd"]
    edit("IA-06 | Second-factor prompt in sshd's PAM stack uses the password (key + password on level 3)",
         "/etc/pam.d/sshd", pam_sshd, lineinfile(pam_sshd, "^@include common-auth", "@include common-auth"))
    known = command_fact("ssh -Q kex").split()
    if not [name for name in v["accounts_ssh_kex"] if name in known]:
        refuse("IA-05", f"accounts_ssh_kex = {', '.join(v['accounts_ssh_kex'])}: none of these key exchanges is known "
                        f"to the host's OpenSSH (ssh -Q kex: {', '.join(known)}); sshd would refuse them")
        return
    items = [deploy.Managed(item["dest"], deploy.render(ROLE, "sshd-baseline.conf.j2",
                                                        {**v, "accounts_sshd_main_file": item["main"],
                                                         "accounts_ssh_kex_known": known}),
                            mode="600", validate="/usr/sbin/sshd -t -f {path}") for item in v["accounts_sshd_files"]]
    for item in items:
        _planned[item.path] = ("root", "root", "600")
    names = command_fact(f"find {SSHD_DIR} -mindepth 1 -maxdepth 1 -type f -name '*.conf' ! -name '.*' "
                         "! -name 50-baseline.conf -printf '%p\\n' 2>/dev/null; true")
    stray = sorted(n for n in names.splitlines() if n)
    changing = [item for item in items if deploy.differs(item)]
    if not (changing or stray):
        return
    change = "sshd configuration"
    arm("IA-05", change, [item.path for item in items] + stray, then=["systemctl reload ssh"])
    deploy.install("IA-05", "the sshd drop-in, then the main file that includes it (each validated with sshd -t)",
                   changing)
    removal = [f"rm -f {' '.join(shlex.quote(p) for p in stray)}"] if stray else []
    shell("AC-01 | Remove sshd drop-ins the baseline does not manage; IA-05 | the complete sshd configuration is "
          "valid, sshd reloads", *removal,
          f"/usr/sbin/sshd -t && ({v['accounts_sshd_reload']}\n) || "
          f"{restore_and_fail('the sshd change failed (sshd -t, reload)')}")
    confirm("IA-05", change)


def session(v: dict[str, Any], login_defs: str | None) -> None:
    """tasks/session.yml."""
    put("IA-04 | Shell idle timeout and umask for login shells", "/etc/profile.d/50-baseline.sh",
        deploy.render(ROLE, "tmout.sh.j2", v))
    edit("AC-04 | Default umask and private homes for new accounts (login.defs)", "/etc/login.defs", login_defs,
         login_defs_lines(login_defs, v["accounts_login_defs_session"]))


def sensitive_files(v: dict[str, Any], facts: dict[str, Any]) -> None:
    """tasks/files.yml."""
    for item in v["accounts_sensitive_files"]:
        path, mode = item["path"], str(item["mode"]).lstrip("0") or "0"
        info = host.get_fact(File, path=path)
        planned = _planned.get(path)
        if planned:
            now = planned
        elif info:
            now = (info.get("user"), info.get("group"), str(info.get("mode")).lstrip("0"))
        else:
            now = None
        if now != (item["owner"], item["group"], mode):
            shell(f"AC-04 | Owner and mode of sensitive files: {path}",
                  f"chown {shlex.quote(item['owner'] + ':' + item['group'])} {shlex.quote(path)} && "
                  f"chmod {shlex.quote(str(item['mode']))} {shlex.quote(path)}")
    active = v["accounts_active"]
    for person in active:
        home = f"/home/{person['username']}"
        info = host.get_fact(Directory, path=home)
        if not info or str(info.get("mode")) != "750":
            shell(f"AC-04 | Homes of active staff are private to them: {home}", f"chmod 0750 {shlex.quote(home)}")
    allow = "\n".join(v["accounts_cron_allow"]) + "\n"
    for path in v["accounts_cron_allow_files"]:
        put(f"AC-04 | cron and at restricted to an allow-list: {path}", path, allow, mode="640")
    for path in v["accounts_cron_deny_files"]:
        files.file(name=f"AC-04 | No deny-lists of cron and at beside the allow-lists: {path}", path=path,
                   present=False)
    homes = " ".join(shlex.quote(f"/home/{p['username']}") for p in active)
    names = " -o ".join(f"-name {shlex.quote(n)}" for n in v["accounts_startup_files"])
    if homes and names:
        found = command_fact(f"for h in {homes}; do [ -d \"$h\" ] && find \"$h\" -mindepth 1 -maxdepth 1 -type f "
                             f"\\( {names} \\) -perm /022 -printf '%p\\n'; done; true")
        for path in sorted(p for p in found.splitlines() if p):
            shell(f"AC-04 | Shell start-up files of staff writable by their owner only: {path}",
                  f"chmod go-w {shlex.quote(path)}")
    # lineinfile with create, owner, group and mode: the mode is set even when the line is already there
    put("AC-01 | root's mail goes to the operations team (/etc/aliases)", "/etc/aliases",
        lineinfile(facts["aliases"], "^root:", f"root: {v['accounts_root_mail_alias']}"))


def _trusted(value: Any) -> Any:
    from ansible.template import trust_as_template

    if isinstance(value, dict):
        return {k: _trusted(x) for k, x in value.items()}
    if isinstance(value, list):
        return [_trusted(x) for x in value]
    if type(value) is str and ("{{" in value or "{%" in value):
        return trust_as_template(value)
    return value


def resolved(found: dict[str, Any]) -> dict[str, Any]:
    """`found` with the Jinja expressions of the role's files resolved as Ansible resolves them. deploy.values
    leaves them as text under ansible-core 2.19 (strings read with yaml.safe_load are not trusted as templates),
    so they are marked trusted here, as Ansible trusts a role's own files, and templated over the whole set."""
    from ansible.parsing.dataloader import DataLoader
    from ansible.template import Templar

    from baseline.inventory import _plain

    trusted = {k: _trusted(x) for k, x in found.items()}
    templar = Templar(loader=DataLoader(), variables=trusted)
    done = {}
    for key, value in trusted.items():
        try:
            done[key] = _plain(templar.template(value))
        except Exception:  # noqa: BLE001, S112 - facts and registered values exist only inside a play
            continue
    return done


def gather() -> dict[str, Any]:
    return {"passwd": getent("passwd"), "shadow": shadow_states(), "groups": getent("group"),
            "login_defs": file_text("/etc/login.defs"), "pam_sshd": file_text("/etc/pam.d/sshd"),
            "aliases": file_text("/etc/aliases")}


def main() -> None:
    deploy.check_preflight()
    _planned.clear()
    if not deploy.targets(PATTERN):
        return
    v = resolved(deploy.values(ROLE, "lockout_guard"))
    if host.data.get("accounts_tasks") == "system_shells":  # playbooks/pyinfra/settle.py: AC-01 only
        system_shells(v)
        return
    facts = gather()
    login_defs = facts["login_defs"]
    if v["accounts_manage_staff"]:
        staff(v, facts)
    if v["accounts_manage_pam"]:
        login_defs = pam(v, facts, login_defs)
    if v["accounts_manage_ssh"]:
        ssh(v, facts)
    if v["accounts_manage_session"]:
        session(v, login_defs)
    if v["accounts_manage_files"]:
        sensitive_files(v, facts)
    deploy.finish()


main()
