"""Evidence preservation (IR-02, 第三十三条): `baseline incident collect HOST` and `baseline incident custody verify`.

    baseline incident collect app1 --incident INC-20261202T081500Z-1a2b3c
    baseline incident custody verify

`collect` reads, never changes: over one SSH connection (ControlMaster, the compliance suites' ssh_config and
automation account, `sudo -n`) it runs a fixed list of read-only commands on an inventory server, volatile evidence
first (time, processes, sockets, logins, kernel modules, mounts), then persistent evidence (sshd and sudo journal,
auth and audit logs, packages and their verification, SHA-256 of key binaries, crontabs, timers, the firewall
ruleset, the latest AIDE report), and streams each command's output into a file on the controller. Nothing is
written on the host but one scratch directory (`mktemp -d /tmp/baseline-evidence.XXXXXXXX`, the commands' working
and temporary directory), removed at the end, on Ctrl-C and on SIGTERM too.

The archive `<DIR>/<incident or host>-<UTC time>.tar.gz` (DIR: --out, else $BASELINE_EVIDENCE_DIR, else evidence/)
holds the captured files, `custody.json` (who, when, from where, the host's identity, every command with its exit
status and times) and `MANIFEST.sha256` (sha256sum format, every other file). It is written under a temporary name
and renamed when complete. Its SHA-256 and the manifest's go into an append-only hash chain beside it
(`custody.jsonl`, baseline/operations/chain.py); `custody verify` names an edited or removed custody record and an
archive whose hash or manifest no longer matches.

Never captured: /etc/shadow and /etc/gshadow (no command reads them), private keys (only the hosts' public keys are
fingerprinted), and the inventory's vault values, which are replaced by ******** in every captured file before it is
hashed.
"""

from __future__ import annotations

import argparse
import getpass
import hashlib
import json
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tarfile
import tempfile
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import IO, Any, Protocol

from baseline import REPO_ROOT
from baseline.operations.chain import Archive
from baseline.operations.changes import parse_moment
from baseline.results import Evidence, ResultWriter

CONTROLS = ("IR-02",)  # a collection is the control at work (baseline/trace.py)
SCHEMA = "baseline.evidence/1"
CUSTODY_SCHEMA = "baseline.custody/1"
DIR_ENV = "BASELINE_EVIDENCE_DIR"
DEFAULT_DIR = REPO_ROOT / "evidence"
CUSTODY_NAME = "custody"
MANIFEST = "MANIFEST.sha256"
CUSTODY_FILE = "custody.json"
SCRATCH_PREFIX = "baseline-evidence."
LOG_DAYS_DEFAULT = 7
REDACTED = b"********"
SAFE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,80}$")
# Binaries whose replacement would hide an intruder (login, privilege, remote access, the tools used to look).
KEY_BINARIES = ("/usr/bin/sudo", "/usr/sbin/sshd", "/bin/login", "/usr/bin/passwd", "/bin/su", "/usr/bin/su",
                "/usr/bin/ssh", "/bin/bash", "/bin/sh", "/usr/bin/dpkg", "/usr/bin/apt", "/usr/sbin/nft",
                "/bin/ps", "/usr/bin/ps", "/usr/bin/ss", "/usr/bin/who", "/usr/bin/w", "/usr/bin/last", "/bin/ls",
                "/usr/bin/find", "/usr/bin/top", "/usr/bin/crontab", "/usr/sbin/cron", "/usr/bin/aide",
                "/lib/systemd/systemd", "/usr/lib/openssh/sftp-server", "/usr/sbin/useradd", "/usr/sbin/usermod")
EXCLUDED = [
    "/etc/shadow, /etc/gshadow and their backups: no command reads them (their changes show in the AIDE report "
    "as hashes only)",
    "private keys: SSH host keys are fingerprinted from their .pub files; no key file is read",
    "vault values of the inventory: replaced by ******** in every captured file before it is hashed",
    "file contents outside the listed logs, crontabs and reports: binaries are recorded by SHA-256 only",
]
ABSENT = 127  # an optional item's command exits 127 when the tool or file is not on the host


class EvidenceError(Exception):
    """Bad input or an unusable host: the message names the argument or the variable."""


# --- what is collected ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Item:
    name: str  # file name inside the archive, e.g. volatile/02-processes.txt
    command: str  # shell text run on the host
    phase: str  # volatile, persistent, identity
    root: bool = True  # run through `sudo -n`; False: as the automation account (it sees $SSH_CONNECTION)
    optional: bool = False  # exit 127: the tool or file is not on this host (recorded as absent, no failure)
    accepted: tuple[int, ...] = (0,)  # exit statuses that mean the evidence was captured

    @property
    def label(self) -> str:
        return self.name.rsplit(".", 1)[0]


def _present(tool: str) -> str:
    return f"command -v {tool} >/dev/null 2>&1 || exit {ABSENT}; "


def default_items(days: int = LOG_DAYS_DEFAULT) -> list[Item]:
    """The read-only commands, volatile evidence first (order of volatility), then persistent, then identity."""
    since = f"-{days}d"
    binaries = " ".join(KEY_BINARIES)
    return [
        Item("volatile/01-time.txt", "date -u +%Y-%m-%dT%H:%M:%S.%NZ; uptime; cat /proc/uptime", "volatile"),
        Item("volatile/02-processes.txt", "ps auxww", "volatile"),
        Item("volatile/03-sockets.txt", "ss -tunap", "volatile"),
        Item("volatile/04-logged-in.txt", "who -a; echo; w", "volatile"),
        Item("volatile/05-last.txt", _present("last") + "last -F -w -n 50", "volatile", optional=True),
        Item("volatile/06-lastb.txt", _present("lastb") + "[ -e /var/log/btmp ] || exit 127; lastb -F -w -n 50",
             "volatile", optional=True),
        Item("volatile/07-kernel-modules.txt", "[ -r /proc/modules ] || exit 127; cat /proc/modules", "volatile",
             optional=True),
        Item("volatile/08-mounts.txt", "cat /proc/self/mountinfo; echo; df -P", "volatile"),
        Item("persistent/01-journal-sshd-sudo.txt",
             _present("journalctl") + f"journalctl --no-pager -o short-iso-precise --since {since} "
             "-t sshd -t sshd-session -t sudo -t su -t login", "persistent", optional=True, accepted=(0, 1)),
        Item("persistent/02-auth-log.txt",
             "found=; for f in /var/log/auth.log /var/log/secure; do [ -f \"$f\" ] || continue; found=1; "
             "echo \"== $f\"; tail -n 50000 -- \"$f\"; done; [ -n \"$found\" ] || exit 127",
             "persistent", optional=True),
        Item("persistent/03-audit-log.txt",
             "[ -f /var/log/audit/audit.log ] || exit 127; tail -c 50000000 /var/log/audit/audit.log",
             "persistent", optional=True),
        Item("persistent/04-packages.txt", "dpkg -l", "persistent"),
        Item("persistent/05-package-verification.txt",
             "if command -v debsums >/dev/null 2>&1; then echo '== debsums -s'; debsums -s 2>&1; "
             "else echo '== dpkg --verify (debsums not installed)'; dpkg --verify; fi",
             "persistent", accepted=(0, 1, 2)),
        Item("persistent/06-key-binaries.sha256",
             f"for f in {binaries}; do [ -f \"$f\" ] && [ ! -L \"$f\" ] && sha256sum -- \"$f\"; done; true",
             "persistent"),
        Item("persistent/07-crontabs.txt",
             "for f in /etc/crontab /etc/cron.d/* /var/spool/cron/crontabs/*; do [ -f \"$f\" ] || continue; "
             "echo \"== $f\"; stat -c '%A %U %G %s %y' -- \"$f\"; cat -- \"$f\"; done; "
             "ls -la /etc/cron.hourly /etc/cron.daily /etc/cron.weekly /etc/cron.monthly 2>/dev/null; true",
             "persistent"),
        Item("persistent/08-systemd-timers.txt", _present("systemctl") + "[ -d /run/systemd/system ] || exit 127; "
             "systemctl list-timers --all --no-pager",
             "persistent", optional=True),
        Item("persistent/09-nft-ruleset.txt", _present("nft") + "nft list ruleset", "persistent", optional=True),
        Item("persistent/10-aide.txt",
             "found=; for d in /var/log/aide; do [ -d \"$d\" ] || continue; found=1; ls -la \"$d\"; "
             "latest=$(ls -1t \"$d\" | head -n 1); [ -n \"$latest\" ] && { echo \"== $d/$latest\"; "
             "cat -- \"$d/$latest\"; }; done; "
             "for db in /var/lib/aide/*.db; do [ -f \"$db\" ] && { found=1; stat -c '%n %s %y' -- \"$db\"; "
             "sha256sum -- \"$db\"; }; done; "
             "if command -v journalctl >/dev/null 2>&1; then echo '== journal baseline-aide'; "
             f"journalctl --no-pager -o short-iso-precise --since {since} -t baseline-aide && found=1; fi; "
             "[ -n \"$found\" ] || exit 127", "persistent", optional=True),
        Item("identity/host.txt",
             "echo \"hostname=$(hostname)\"; echo \"machine_id=$(cat /etc/machine-id 2>/dev/null)\"; "
             "echo \"ssh_connection=$SSH_CONNECTION\"; "
             "for f in /etc/ssh/ssh_host_*_key.pub; do [ -f \"$f\" ] && ssh-keygen -l -E sha256 -f \"$f\" | "
             "sed 's/^/host_key=/'; done; true", "identity", root=False),
    ]


# --- transports: one SSH connection, or the same commands through `sh -c` here ----------------------------------


class Transport(Protocol):
    where: str

    def start(self, command: str, out: IO[bytes], *, root: bool) -> subprocess.Popen[bytes]: ...

    def close(self) -> None: ...


class SSHTransport:
    """Every command over one SSH connection to the host (ControlMaster through baseline.compliance's
    SharedConnections: the operator's ssh_config with a control socket), root commands through `sudo -n`."""

    def __init__(self, host: str, ssh_config: Path) -> None:
        from baseline.compliance import SharedConnections

        if not ssh_config.is_file():
            raise EvidenceError(f"SSH client config {ssh_config} does not exist (BASELINE_SSH_CONFIG, else the "
                                "ssh_config beside the inventory)")
        self.host = host
        self.where = f"{host} over SSH ({ssh_config})"
        self.shared = SharedConnections(ssh_config)

    def start(self, command: str, out: IO[bytes], *, root: bool) -> subprocess.Popen[bytes]:
        remote = f"sudo -n /bin/sh -c {shlex.quote(command)}" if root else f"/bin/sh -c {shlex.quote(command)}"
        return subprocess.Popen(["ssh", "-F", str(self.shared.config), "-T", "-o", "BatchMode=yes", self.host, remote],
                                stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.PIPE, start_new_session=True)

    def close(self) -> None:
        self.shared.close()


class LocalTransport:
    """The same commands through `sh -c` on this machine, as the user running it (tests; no sudo)."""

    where = "this machine (local transport)"

    def start(self, command: str, out: IO[bytes], *, root: bool) -> subprocess.Popen[bytes]:
        return subprocess.Popen(["/bin/sh", "-c", command], stdin=subprocess.DEVNULL, stdout=out,
                                stderr=subprocess.PIPE, start_new_session=True)

    def close(self) -> None:
        pass


# --- records ----------------------------------------------------------------------------------------------------


@dataclass
class Captured:
    name: str
    phase: str
    command: str
    as_root: bool
    start: str
    end: str
    exit_status: int | None
    status: str  # captured, absent, failed
    bytes: int = 0
    sha256: str = ""
    redacted: int = 0  # vault values replaced
    stderr: str = ""


@dataclass
class Collection:
    """What one `collect` did; `archive` is empty until the archive is complete."""

    id: str
    host: str
    incident: str
    started: str
    items: list[Captured] = field(default_factory=list)
    scratch: str = ""
    scratch_removed: bool = False
    problems: list[str] = field(default_factory=list)
    archive: Path | None = None
    archive_sha256: str = ""
    manifest_sha256: str = ""
    custody_record: dict[str, Any] = field(default_factory=dict)

    @property
    def complete(self) -> bool:
        return self.archive is not None and not self.problems


def now_iso(precise: bool = False) -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds" if precise else "seconds")


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def tool_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return f"baseline {version('baseline')}"
    except PackageNotFoundError:
        return "baseline (not installed as a package)"


def evidence_dir(given: str | os.PathLike | None = None) -> Path:
    return Path(given or os.environ.get(DIR_ENV) or DEFAULT_DIR)


def custody_archive(directory: str | os.PathLike | None = None) -> Archive:
    return Archive(evidence_dir(directory), CUSTODY_NAME)


def redact(path: Path, secrets: Sequence[bytes]) -> int:
    """Replace every secret in the file with ********; returns the number of replacements."""
    if not secrets:
        return 0
    data = path.read_bytes()
    count = 0
    for secret in secrets:
        found = data.count(secret)
        if found:
            count += found
            data = data.replace(secret, REDACTED)
    if count:
        path.write_bytes(data)
    return count


def secret_values(values: dict[str, Any]) -> list[bytes]:
    """The vault values among a host's inventory variables (baseline/secret-variables.txt) and the staff's initial
    passwords derived from the vault seed, longest first."""
    from baseline.secrets import secret_variable_names

    found: set[bytes] = set()
    for name in secret_variable_names():
        value = values.get(name)
        items = value.values() if isinstance(value, dict) else [value]
        for item in items:
            text = str(item or "")
            if len(text) >= 4:
                found.add(text.encode("utf-8"))
                found.update(line.strip().encode("utf-8") for line in text.splitlines() if len(line.strip()) >= 8)
    seed = str(values.get("accounts_initial_password_seed") or "")
    if seed:  # each person's initial password is derived from the vault seed (baseline/accounts.py)
        from baseline.accounts import initial_password

        for person in values.get("staff") or []:
            if isinstance(person, dict) and person.get("username"):
                found.add(initial_password(seed, str(person["username"])).encode("utf-8"))
    return sorted(found, key=len, reverse=True)


def manifest_text(root: Path, names: Iterable[str]) -> str:
    """sha256sum format: `<hex>  <name>` for each file, sorted by name."""
    return "".join(f"{sha256_file(root / name)}  {name}\n" for name in sorted(names))


def parse_identity(text: str) -> dict[str, Any]:
    """hostname, machine_id, ssh_connection, controller_address and host_keys from the identity item."""
    found: dict[str, Any] = {"hostname": "", "machine_id": "", "ssh_connection": "", "host_keys": []}
    for line in text.splitlines():
        key, sep, value = line.partition("=")
        if not sep:
            continue
        if key == "host_key":
            found["host_keys"].append(value.strip())
        elif key in found:
            found[key] = value.strip()
    parts = found["ssh_connection"].split()
    found["controller_address"] = parts[0] if len(parts) == 4 else ""
    return found


# --- checking the inputs ----------------------------------------------------------------------------------------


def check_host(host: str, inventory_path: str | os.PathLike | None) -> dict[str, Any]:
    """The inventory variables of `host`; EvidenceError when it is not a server of the inventory."""
    from baseline import inventory

    if not host or host.startswith("-") or not SAFE_ID.match(host):
        raise EvidenceError(f"HOST {host!r} is not an inventory host name")
    source = Path(inventory_path) if inventory_path else inventory.inventory_path()
    if not source.exists():
        raise EvidenceError(f"--inventory {source} does not exist (default: $BASELINE_INVENTORY, else inventory/lab)")
    try:
        inv = inventory.load(str(source))
        known = set(inv.hosts("all"))
        groups = inv.groups()
    except Exception as exc:  # noqa: BLE001 - the inventory library's errors are of many kinds
        raise EvidenceError(f"--inventory {source} cannot be read: {exc}") from exc
    if host not in known:
        raise EvidenceError(f"HOST {host}: no such host in inventory {source}")
    if host in groups.get("network_devices", ()):
        raise EvidenceError(f"HOST {host} is a network device: evidence collection covers Linux servers only "
                            "(a device's configuration is kept by `baseline netdev backup`)")
    if host not in groups.get("linux_servers", ()):
        raise EvidenceError(f"HOST {host} is not in the inventory's linux_servers group ({source}): evidence "
                            "collection covers Linux servers only")
    try:
        return inv.vars(host)
    except Exception as exc:  # noqa: BLE001 - a vault that cannot be opened, of many kinds
        raise EvidenceError(f"the variables of {host} in {source} cannot be read ({type(exc).__name__}): its vault "
                            "values are needed to keep them out of the evidence; give the vault password "
                            "(BASELINE_VAULT_PASSWORD)") from None


def ssh_config_for(inventory_path: str | os.PathLike | None) -> Path:
    """$BASELINE_SSH_CONFIG, else the ssh_config beside the inventory given (else beside the default one)."""
    from baseline.compliance import ssh_config_path

    if os.environ.get("BASELINE_SSH_CONFIG") or not inventory_path:
        return ssh_config_path()
    source = Path(inventory_path)
    return (source if source.is_dir() else source.parent) / "ssh_config"


def check_incident(incident: str | None) -> str:
    if not incident:
        return ""
    if not SAFE_ID.match(incident):
        raise EvidenceError(f"--incident {incident!r}: an incident id is letters, digits, '.', '_' and '-' "
                            "(as `baseline incident list` prints them, e.g. INC-20261202T081500Z-1a2b3c)")
    return incident


# --- collecting -------------------------------------------------------------------------------------------------


class Interrupted(Exception):
    """SIGTERM during a collection (Ctrl-C arrives as KeyboardInterrupt)."""


@contextmanager
def _terminate_as_interrupt() -> Iterator[None]:
    def handler(signum: int, frame: FrameType | None) -> None:
        raise Interrupted(f"signal {signum}")

    try:
        previous = signal.signal(signal.SIGTERM, handler)
    except ValueError:  # not the main thread: leave the signal alone
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _wait(proc: subprocess.Popen[bytes], timeout: float) -> tuple[int | None, bytes]:
    try:
        _, err = proc.communicate(timeout=timeout)
        return proc.returncode, err or b""
    except subprocess.TimeoutExpired:
        _stop(proc)
        return None, f"timed out after {timeout:g} s".encode()
    except BaseException:
        _stop(proc)
        raise


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def _run_text(transport: Transport, command: str, *, root: bool, timeout: float = 60) -> tuple[int | None, str, str]:
    with tempfile.TemporaryFile() as out:
        rc, err = _wait(transport.start(command, out, root=root), timeout)
        out.seek(0)
        return rc, out.read().decode("utf-8", "replace"), err.decode("utf-8", "replace")


def _scratch_pattern(root: str) -> re.Pattern[str]:
    return re.compile("^" + re.escape(root.rstrip("/") + "/" + SCRATCH_PREFIX) + r"[A-Za-z0-9]{8,}$")


def make_scratch(transport: Transport, root: str = "/tmp") -> str:
    rc, out, err = _run_text(transport, f"umask 077; mktemp -d {shlex.quote(root.rstrip('/') + '/' + SCRATCH_PREFIX)}"
                             "XXXXXXXX", root=True)
    path = out.strip()
    if rc != 0 or not _scratch_pattern(root).match(path):
        detail = err.strip() or out.strip() or f"exit {rc}"
        raise EvidenceError(f"the scratch directory could not be made on {transport.where}: {detail}"
                            + (" (the automation account needs sudo -n)" if "sudo" in detail else ""))
    return path


def remove_scratch(transport: Transport, path: str, root: str = "/tmp") -> bool:
    """Remove the scratch directory (only a path of the pattern mktemp made); True when it is gone."""
    if not _scratch_pattern(root).match(path):
        return False
    quoted = shlex.quote(path)
    rc, _, _ = _run_text(transport, f"rm -rf -- {quoted} && [ ! -e {quoted} ]", root=True, timeout=60)
    return rc == 0


def _capture(transport: Transport, item: Item, scratch: str, target: Path, *, timeout: float,
             secrets: Sequence[bytes]) -> Captured:
    wrapped = (f"LC_ALL=C; export LC_ALL; TMPDIR={shlex.quote(scratch)}; export TMPDIR; cd {shlex.quote(scratch)} || "
               f"exit 125; {item.command}") if item.root else f"LC_ALL=C; export LC_ALL; {item.command}"
    target.parent.mkdir(parents=True, exist_ok=True)
    start = now_iso(precise=True)
    with open(target, "wb") as out:
        rc, err = _wait(transport.start(wrapped, out, root=item.root), timeout)
    end = now_iso(precise=True)
    if rc is not None and item.optional and rc == ABSENT:
        status = "absent"
    elif rc is not None and rc in item.accepted:
        status = "captured"
    else:
        status = "failed"
    replaced = redact(target, secrets)
    stderr = err.decode("utf-8", "replace")
    for secret in secrets:
        stderr = stderr.replace(secret.decode("utf-8", "replace"), REDACTED.decode())
    return Captured(name=item.name, phase=item.phase, command=item.command, as_root=item.root, start=start, end=end,
                    exit_status=rc, status=status, bytes=target.stat().st_size, sha256=sha256_file(target),
                    redacted=replaced, stderr=stderr[-2000:])


def archive_name(host: str, incident: str, moment: datetime) -> str:
    return f"{incident or host}-{moment.strftime('%Y%m%dT%H%M%SZ')}"


def _add(tar: tarfile.TarFile, path: Path, arcname: str, mtime: float) -> None:
    info = tarfile.TarInfo(arcname)
    info.size = path.stat().st_size
    info.mtime = int(mtime)
    info.mode = 0o640
    with open(path, "rb") as fh:
        tar.addfile(info, fh)


def write_archive(staging: Path, names: list[str], final: Path, mtime: float) -> Path:
    """tar.gz of `names` under `staging` (top directory: final's stem), written to a hidden temporary name in the
    same directory and renamed to `final` when complete (never over an existing archive). Returns the path."""
    top = final.name.removesuffix(".tar.gz")
    partial = final.with_name(f".{final.name}.partial-{uuid.uuid4().hex[:6]}")
    try:
        with open(partial, "wb") as raw:
            with tarfile.open(fileobj=raw, mode="w:gz", format=tarfile.PAX_FORMAT) as tar:
                for name in names:
                    _add(tar, staging / name, f"{top}/{name}", mtime)
            raw.flush()
            os.fsync(raw.fileno())
        os.chmod(partial, 0o440)
        target = final
        while True:
            try:
                os.link(partial, target)  # no clobber: an archive of the same second keeps its name
                break
            except FileExistsError:
                target = final.with_name(f"{top}-{uuid.uuid4().hex[:4]}.tar.gz")
        return target
    finally:
        partial.unlink(missing_ok=True)


def new_collection(host: str, incident: str = "") -> Collection:
    started = datetime.now(UTC)
    return Collection(id="EVD-" + started.strftime("%Y%m%dT%H%M%SZ") + "-" + uuid.uuid4().hex[:6], host=host,
                      incident=incident, started=started.isoformat(timespec="seconds"))


def collect(host: str, *, out_dir: Path, incident: str = "", transport: Transport,
            items: Sequence[Item] | None = None, secrets: Sequence[bytes] = (), scratch_root: str = "/tmp",
            timeout: float = 900, operator: str | None = None, progress: Callable[[str], None] | None = None,
            days: int = LOG_DAYS_DEFAULT, collection: Collection | None = None) -> Collection:
    """Collect the items from `host` into an archive under `out_dir` and record it in the custody chain there.
    KeyboardInterrupt and Interrupted (SIGTERM) propagate after the scratch directory, the staging directory and
    any partial archive are removed; the custody chain is only appended to once the archive is complete.
    `collection` (from new_collection) shows how far it got when an exception ends it."""
    from baseline.operations.changes import operator as operator_of

    say = progress or (lambda text: None)
    collection = collection or new_collection(host, incident)
    started = datetime.fromisoformat(collection.started)
    out_dir.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{collection.id}.", dir=out_dir))
    chosen = list(items if items is not None else default_items(days))
    try:
        collection.scratch = make_scratch(transport, scratch_root)
        say(f"scratch directory {collection.scratch} on {host}")
        try:
            for item in chosen:
                captured = _capture(transport, item, collection.scratch, staging / item.name, timeout=timeout, secrets=secrets)
                collection.items.append(captured)
                say(f"  {captured.name:40} {captured.status:8} exit {captured.exit_status}  {captured.bytes} bytes")
                if captured.status == "failed":
                    collection.problems.append(f"{captured.name}: `{item.command[:80]}` exit {captured.exit_status}"
                                               + (f": {captured.stderr.strip()[-300:]}" if captured.stderr.strip() else ""))
        finally:
            collection.scratch_removed = remove_scratch(transport, collection.scratch, scratch_root)
            say(f"scratch directory {collection.scratch} on {host} "
                + ("removed" if collection.scratch_removed else "NOT removed"))
        if not collection.scratch_removed:
            collection.problems.append(f"the scratch directory {collection.scratch} on {host} could not be removed")
        identity_item = next((c for c in collection.items if c.phase == "identity" and c.status == "captured"), None)
        identity = parse_identity((staging / identity_item.name).read_text("utf-8", "replace")) if identity_item else {}
        ended = now_iso()
        who = operator or operator_of()
        custody: dict[str, Any] = {
            "schema": SCHEMA, "id": collection.id, "incident": incident, "host": host,
            "who": {"operator": who, "account": getpass.getuser()},
            "when": {"started": collection.started, "ended": ended},
            "from": {"controller": socket.gethostname(), "address_seen_by_host": identity.get("controller_address", ""),
                     "ssh_connection": identity.get("ssh_connection", ""), "transport": transport.where},
            "host_identity": {"inventory_name": host, "hostname": identity.get("hostname", ""),
                              "machine_id": identity.get("machine_id", ""),
                              "ssh_host_keys": identity.get("host_keys", [])},
            "tool": tool_version(),
            "scratch": {"path": collection.scratch, "removed": collection.scratch_removed},
            "items": [asdict(c) for c in collection.items],
            "excluded": EXCLUDED,
            "problems": collection.problems,
            "note": "the archive's own SHA-256 is recorded in the custody chain (custody.jsonl), not here",
        }
        (staging / CUSTODY_FILE).write_text(json.dumps(custody, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
        redact(staging / CUSTODY_FILE, secrets)  # a vault value in an error message or a command line
        names = [c.name for c in collection.items] + [CUSTODY_FILE]
        manifest = manifest_text(staging, names)
        (staging / MANIFEST).write_text(manifest, encoding="utf-8")
        final = out_dir / f"{archive_name(host, incident, started)}.tar.gz"
        path = write_archive(staging, [*names, MANIFEST], final, started.timestamp())
        collection.archive = path
        collection.archive_sha256 = sha256_file(path)
        collection.manifest_sha256 = hashlib.sha256(manifest.encode("utf-8")).hexdigest()
        record = {"schema": CUSTODY_SCHEMA, "id": collection.id, "archive": path.name,
                  "archive_sha256": collection.archive_sha256, "manifest_sha256": collection.manifest_sha256,
                  "host": host, "hostname": identity.get("hostname", ""), "machine_id": identity.get("machine_id", ""),
                  "operator": who, "time": ended, "incident": incident,
                  "items": len(collection.items), "problems": collection.problems}
        collection.custody_record = custody_archive(out_dir).append(record)
        return collection
    finally:
        shutil.rmtree(staging, ignore_errors=True)


# --- verifying --------------------------------------------------------------------------------------------------


def verify_archive(path: Path) -> tuple[list[str], str]:
    """(problems, SHA-256 of its MANIFEST.sha256) of one archive: every file the manifest lists is there with its
    hash, and no file is there that the manifest does not list."""
    problems: list[str] = []
    try:
        with tarfile.open(path, "r:gz") as tar:
            members = {m.name: m for m in tar.getmembers() if m.isfile()}
            manifests = [name for name in members if name.rsplit("/", 1)[-1] == MANIFEST]
            if len(manifests) != 1:
                return [f"{path.name}: {len(manifests)} {MANIFEST} files (one expected)"], ""
            top = manifests[0].rsplit("/", 1)[0] + "/" if "/" in manifests[0] else ""
            extracted = tar.extractfile(manifests[0])
            manifest = extracted.read() if extracted else b""
            listed: dict[str, str] = {}
            for number, line in enumerate(manifest.decode("utf-8", "replace").splitlines(), 1):
                digest, sep, name = line.partition("  ")
                if not sep or not re.fullmatch(r"[0-9a-f]{64}", digest):
                    problems.append(f"{path.name}: {MANIFEST} line {number} is not in sha256sum format")
                    continue
                listed[name] = digest
            for name, digest in sorted(listed.items()):
                member = members.get(top + name)
                handle = tar.extractfile(member) if member else None
                if handle is None:
                    problems.append(f"{path.name}: {name} is listed in {MANIFEST} but missing")
                    continue
                h = hashlib.sha256()
                while block := handle.read(1 << 20):
                    h.update(block)
                if h.hexdigest() != digest:
                    problems.append(f"{path.name}: {name} does not match its SHA-256 in {MANIFEST}")
            for name in sorted(members):
                short = name[len(top):] if name.startswith(top) else name
                if short != MANIFEST and short not in listed:
                    problems.append(f"{path.name}: {short} is not listed in {MANIFEST}")
    except (OSError, tarfile.TarError, EOFError) as exc:
        return [f"{path.name}: cannot be read as a tar.gz archive: {exc}"], ""
    return problems, hashlib.sha256(manifest).hexdigest()


@dataclass
class CustodyCheck:
    path: Path
    records: list[dict[str, Any]]
    problems: list[str]  # chain problems and archive problems, each naming the record
    by_record: dict[str, list[str]]  # custody record id -> its archive's problems


def verify_custody(directory: str | os.PathLike | None = None) -> CustodyCheck:
    """The custody chain (removed, reordered, edited records) and, for every record, its archive: present, the
    SHA-256 the chain holds, the manifest's SHA-256 the chain holds, and the manifest verifies."""
    store = custody_archive(directory)
    checked = store.verify()
    problems = [f"custody chain: {p}" for p in checked.problems]
    by_record: dict[str, list[str]] = {}
    for record in checked.records:
        name = f"{record.get('id', '?')}, seq {record.get('seq')}"
        own: list[str] = []
        archive_name_ = str(record.get("archive") or "")
        path = store.directory / archive_name_
        if not archive_name_ or "/" in archive_name_ or archive_name_.startswith("."):
            own.append(f"{name}: names no archive of {store.directory}")
        elif not path.is_file():
            own.append(f"{name}: archive {path} is missing")
        elif sha256_file(path) != record.get("archive_sha256"):
            own.append(f"{name}: archive {path.name} no longer has the SHA-256 the custody chain holds "
                       f"({str(record.get('archive_sha256'))[:16]}…): it was changed or replaced")
        else:
            found, manifest_hash = verify_archive(path)
            own += [f"{name}: {p}" for p in found]
            if manifest_hash and manifest_hash != record.get("manifest_sha256"):
                own.append(f"{name}: {path.name}'s {MANIFEST} is not the one the custody chain holds")
        by_record[str(record.get("id", "?"))] = own
        problems += own
    return CustodyCheck(store.path, checked.records, problems, by_record)


def in_window(record: dict[str, Any], since: datetime) -> bool:
    """Collected at or after `since` (a record without a readable time counts as in the window, to be checked)."""
    moment = parse_moment(record.get("time"))
    return moment is None or moment >= since


# --- results ----------------------------------------------------------------------------------------------------

EXPECTED = ("the collection completed (every command ran with an accepted exit status, the scratch directory was "
            "removed), the archive's MANIFEST.sha256 verifies and its SHA-256 is in an intact custody chain")


def collection_result(writer: ResultWriter, collection: Collection, command: str) -> str:
    """The IR-02 record of one collection on the host: pass when complete and the manifest verifies."""
    problems = list(collection.problems)
    if collection.archive is not None:
        found, _ = verify_archive(collection.archive)
        problems += found
    outcome = "pass" if collection.archive is not None and not problems else "fail"
    counts = {s: sum(1 for c in collection.items if c.status == s) for s in ("captured", "absent", "failed")}
    if outcome == "pass":
        reason = (f"evidence of {collection.host} preserved in {collection.archive}: {len(collection.items)} item(s) "
                  f"({counts['captured']} captured, {counts['absent']} not present on the host), manifest verified, "
                  f"SHA-256 {collection.archive_sha256}, custody seq {collection.custody_record.get('seq')}")
    else:
        reason = f"evidence collection from {collection.host} failed: " + "; ".join(problems or ["no archive written"])
    writer.record(asset=collection.host, asset_kind="linux", control_ids=["IR-02"],
                  check=f"evidence_collection[{collection.id}]", outcome=outcome, method="record", reason=reason,
                  evidence=[Evidence(command=command,
                                     observed={"archive": str(collection.archive or ""),
                                               "archive_sha256": collection.archive_sha256,
                                               "manifest_sha256": collection.manifest_sha256,
                                               "items": len(collection.items), "counts": counts,
                                               "incident": collection.incident, "problems": problems},
                                     expected=EXPECTED)])
    return outcome


def custody_results(writer: ResultWriter, check: CustodyCheck, since: datetime, *, hosts: Iterable[str] = (),
                    incidents_in_window: Sequence[str] = ()) -> int:
    """IR-02 records from the custody chain, one `evidence_custody` per host (named by the chain or given in
    `hosts`), and each collection of the window again as `evidence_collection[ID]` (so that a pass `collect` wrote
    does not stand beside a later failure).

    fail: the chain is broken, or an archive of the host is missing, changed, or its manifest does not verify, or a
          collection of the window did not complete.
    pass: intact, and evidence was collected from the host in the window, every archive verifying.
    not_verifiable: intact, no collection from the host in the window, but incidents were graded in the window
          (IR-01 register): whether one concerned this host is the responders' judgement, not the records'.
    not_applicable: intact, no incident graded and no collection from the host in the window: there was nothing
          to preserve. Returns the number of `evidence_custody` records written."""
    chain_broken = [p for p in check.problems if p.startswith("custody chain:")]
    span = f"since {since.isoformat(timespec='seconds')}"
    names = sorted({str(r.get("host")) for r in check.records if r.get("host")} | set(hosts))
    command = f"baseline incident custody verify ({check.path})"
    for host in names:
        mine = [r for r in check.records if r.get("host") == host]
        recent = [r for r in mine if in_window(r, since)]
        own = [p for r in mine for p in check.by_record.get(str(r.get("id", "?")), [])]
        unfinished = [f"{r.get('id')}: collection problems: {'; '.join(r.get('problems') or [])}" for r in recent
                      if r.get("problems")]
        for record in recent:
            mine_problems = check.by_record.get(str(record.get("id", "?")), []) + chain_broken + (
                [f"collection problems: {'; '.join(record.get('problems') or [])}"] if record.get("problems") else [])
            writer.record(asset=host, asset_kind="linux", control_ids=["IR-02"],
                          check=f"evidence_collection[{record.get('id')}]",
                          outcome="fail" if mine_problems else "pass", method="record",
                          reason=("; ".join(mine_problems) if mine_problems else
                                  f"archive {record.get('archive')} (SHA-256 {record.get('archive_sha256')}, "
                                  f"{record.get('items')} item(s)) verifies against the custody chain"),
                          evidence=[Evidence(command=command, observed={"record": record, "problems": mine_problems},
                                             expected=EXPECTED)])
        failures = chain_broken + own + unfinished
        if failures:
            outcome, reason = "fail", "evidence custody: " + "; ".join(failures)
        elif recent:
            outcome, reason = "pass", (f"{len(recent)} collection(s) from {host} {span} "
                                       f"({', '.join(str(r.get('archive')) for r in recent)}); every archive of the "
                                       f"host matches its SHA-256 and manifest in an intact custody chain of "
                                       f"{len(check.records)} record(s)")
        elif incidents_in_window:
            outcome, reason = "not_verifiable", (
                f"incident(s) graded {span} ({', '.join(incidents_in_window)}) but no evidence collected from {host} "
                "in the window: whether an incident concerned this host is the responders' judgement (第三十三条 研判), "
                "which the records cannot show")
        else:
            outcome, reason = "not_applicable", (
                f"not applicable: no incident graded and no evidence collected from {host} {span}: nothing to "
                f"preserve; the custody chain of {len(check.records)} record(s) and its archives verify")
        writer.record(asset=host, asset_kind="linux", control_ids=["IR-02"], check="evidence_custody",
                      outcome=outcome, method="record", reason=reason,
                      evidence=[Evidence(command=command,
                                         observed={"records": len(check.records), "records_for_host": len(mine),
                                                   "records_in_window": len(recent), "window_since":
                                                   since.isoformat(timespec="seconds"),
                                                   "incidents_in_window": list(incidents_in_window),
                                                   "problems": failures},
                                         expected=EXPECTED)])
    return len(names)


# --- command line -----------------------------------------------------------------------------------------------


def add_commands(sub: Any) -> None:
    """`collect` and `custody` subcommands of `baseline incident`."""
    c = sub.add_parser("collect", help="IR-02: preserve evidence of a Linux server (read-only) into an archive with a "
                                       "manifest and a chain-of-custody record")
    c.add_argument("host", metavar="HOST", help="inventory name of a Linux server (devices are refused)")
    c.add_argument("--inventory", help="inventory (default: $BASELINE_INVENTORY, else inventory/lab)")
    c.add_argument("--out", metavar="DIR", help=f"archive and custody chain directory (default: ${DIR_ENV}, else "
                                                "evidence/)")
    c.add_argument("--incident", metavar="ID", help="the incident the evidence belongs to (INC-… of `incident list`)")
    c.add_argument("--days", type=int, default=LOG_DAYS_DEFAULT, metavar="N",
                   help=f"journal of the last N days (default {LOG_DAYS_DEFAULT})")
    c.add_argument("--results-file", help="IR-02 result file (default: results/<run id>.jsonl)")
    c.add_argument("--run-id", help="run id of the IR-02 result (default: $BASELINE_RUN_ID, else a new one)")
    cu = sub.add_parser("custody", help="IR-02: the chain of custody of the evidence archives")
    cs = cu.add_subparsers(dest="custody_command", required=True)
    v = cs.add_parser("verify", help="check the custody chain and every archive's SHA-256 and manifest; exit 1 on a "
                                     "problem")
    v.add_argument("--dir", dest="evidence_dir", metavar="DIR",
                   help=f"evidence directory (default: ${DIR_ENV}, else evidence/)")
    cs.add_parser("list", help="every collection, a line each").add_argument(
        "--dir", dest="evidence_dir", metavar="DIR", help=f"evidence directory (default: ${DIR_ENV}, else evidence/)")


def _secrets_of(values: dict[str, Any]) -> list[bytes]:
    try:
        return secret_values(values)
    except OSError:
        return []


def run_collect(args: argparse.Namespace, argv: Sequence[str], *, transport: Transport | None = None,
                scratch_root: str = "/tmp") -> int:
    """`baseline incident collect`; `transport` (default: SSH to the host) and `scratch_root` are for tests."""
    from baseline.operations.incidents import results_writer

    prog = "baseline incident collect"
    try:
        incident = check_incident(args.incident)
        if args.days is None or args.days < 1:
            raise EvidenceError(f"--days {args.days}: give a whole number of days, 1 or more")
        values = check_host(args.host, args.inventory)
        out_dir = evidence_dir(args.out)
        if out_dir.exists() and not out_dir.is_dir():
            raise EvidenceError(f"--out {out_dir} is not a directory")
        link = transport or SSHTransport(args.host, ssh_config_for(args.inventory))
    except EvidenceError as exc:
        print(f"{prog}: {exc}", file=sys.stderr)
        return 2
    command = "baseline incident " + " ".join(argv)
    collection = new_collection(args.host, incident)
    started = time.monotonic()
    try:
        with _terminate_as_interrupt():
            collect(args.host, out_dir=out_dir, incident=incident, transport=link, secrets=_secrets_of(values),
                    progress=lambda text: print(text, file=sys.stderr), days=args.days, collection=collection,
                    scratch_root=scratch_root)
    except (KeyboardInterrupt, Interrupted) as exc:
        print(f"{prog}: interrupted ({str(exc) or 'Ctrl-C'}) after {len(collection.items)} item(s): "
              f"{interrupted_state(collection)}", file=sys.stderr)
        return 130
    except EvidenceError as exc:
        print(f"{prog}: {exc}", file=sys.stderr)
        _write_failure(args, args.host, str(exc), command, results_writer)
        return 1
    except OSError as exc:
        print(f"{prog}: {exc}; no archive was recorded in the custody chain", file=sys.stderr)
        _write_failure(args, args.host, str(exc), command, results_writer)
        return 1
    finally:
        link.close()
    try:
        outcome = collection_result(results_writer(args.results_file, args.run_id), collection, command)
    except OSError as exc:
        print(f"{prog}: the archive is kept, but its IR-02 result could not be written: {exc}", file=sys.stderr)
        return 1
    seconds = time.monotonic() - started
    print(f"archive   {collection.archive}\nsha256    {collection.archive_sha256}\n"
          f"manifest  {collection.manifest_sha256}\nitems     {len(collection.items)} "
          f"({sum(1 for c in collection.items if c.status == 'absent')} not present on the host)\n"
          f"custody   {custody_archive(out_dir).path} seq {collection.custody_record.get('seq')}\n"
          f"IR-02     {outcome} ({seconds:.1f} s)")
    for problem in collection.problems:
        print(f"  problem: {problem}", file=sys.stderr)
    return 0 if outcome == "pass" else 1


def interrupted_state(collection: Collection) -> str:
    """What an interrupted collection left, in words."""
    if not collection.scratch:
        host = f"no scratch directory was made on {collection.host}"
    elif collection.scratch_removed:
        host = f"the scratch directory {collection.scratch} on {collection.host} was removed"
    else:
        host = (f"the scratch directory {collection.scratch} on {collection.host} may be left: remove it with "
                f"`sudo rm -rf {collection.scratch}` on the host")
    if collection.custody_record:
        kept = (f"the archive {collection.archive} was complete and is recorded in the custody chain "
                f"(seq {collection.custody_record.get('seq')})")
    else:
        kept = ("no archive was written (the partial file and the staging files on this machine were deleted) and "
                "nothing was added to the custody chain; run the collection again")
    return f"{host}; {kept}"


def _write_failure(args: argparse.Namespace, host: str, what: str, command: str,
                   writer_of: Callable[[str | None, str | None], ResultWriter]) -> None:
    try:
        writer_of(args.results_file, args.run_id).record(
            asset=host, asset_kind="linux", control_ids=["IR-02"], check="evidence_collection[failed]", outcome="fail",
            method="record", reason=f"evidence collection from {host} failed: {what}",
            evidence=[Evidence(command=command, observed={"error": what}, expected=EXPECTED)])
    except OSError:
        pass


def run_custody(args: argparse.Namespace) -> int:
    if args.custody_command == "list":
        for r in custody_archive(args.evidence_dir).read():
            print(f"{r.get('id')}  {r.get('time')}  {str(r.get('host')):10}  {r.get('incident') or '-':28}  "
                  f"{r.get('items')} item(s)  {r.get('archive')}")
        return 0
    check = verify_custody(args.evidence_dir)
    for problem in check.problems:
        print(f"  {problem}")
    print(f"custody chain {check.path}: {len(check.records)} record(s), "
          + (f"{len(check.problems)} problem(s)" if check.problems else "intact, every archive verifies"))
    return 1 if check.problems else 0
