"""Container hosts: an overlay over the base image per host, configured, then booted with systemd-nspawn."""

from __future__ import annotations

import os
import secrets
import shutil
import socket
import subprocess
import time
from pathlib import Path

from devtools.lab import config
from devtools.lab.system import (
    LabError,
    cgroup_pids,
    delete_link,
    enter_cgroup,
    mount_overlay,
    pid_alive,
    read_pid,
    remove_cgroup,
    run,
    stop_process,
    unmount,
)


def host_dir(name: str) -> Path:
    return config.STATE_DIR / "hosts" / name


def nspawn_marker(name: str) -> str:
    return f"--machine={name}"


def is_running(name: str) -> bool:
    return pid_alive(read_pid(host_dir(name) / "pid"), nspawn_marker(name))


def _etc_hosts() -> str:
    """Every host the lab can run, scale hosts included: the log server files a client's records under the
    name its address resolves to."""
    lines = ["127.0.0.1\tlocalhost", "::1\tlocalhost ip6-localhost ip6-loopback"]
    lines += [f"{h.address}\t{h.name}" for h in config.KNOWN_HOSTS]
    lines.append(f"{config.CONTROLLER_ADDRESS}\tcontroller")
    return "\n".join(lines) + "\n"


INOTIFY_INSTANCES = Path("/proc/sys/fs/inotify/max_user_instances")
INOTIFY_PER_HOST = 32  # a booted container's systemd and its services hold a few dozen inotify instances at most


def ensure_inotify_instances(host_count: int, path: Path = INOTIFY_INSTANCES) -> int | None:
    """Raise the machine's inotify instance limit (all containers share root's) so `host_count` containers can
    boot; the default 128 stops systemd in about the 20th ("Failed to create control group inotify object: Too
    many open files"). Never lowers it; returns the new limit when raised, None otherwise."""
    wanted = INOTIFY_PER_HOST * host_count
    current = int(path.read_text().strip())
    if current >= wanted:
        return None
    path.write_text(f"{wanted}\n")
    return wanted


def network_unit(host: config.LabHost, match: str) -> str:
    return (f"[Match]\nName={match}\n\n[Network]\nAddress={host.address}/{config.PREFIX_LEN}\n"
            "LinkLocalAddressing=no\nIPv6AcceptRA=no\n")


def authorized_keys_line(public_key: str) -> str:
    net = f"{config.SUBNET_PREFIX}.0/{config.PREFIX_LEN}"
    return f'from="{net}" {public_key.strip()}\n'


def _owner(root: Path, user: str) -> tuple[int, int]:
    for line in (root / "etc/passwd").read_text().splitlines():
        fields = line.split(":")
        if fields[0] == user:
            return int(fields[2]), int(fields[3])
    raise LabError(f"user {user} missing from the image at {root}")


def configure_root(root: Path, host: config.LabHost, public_key: str, match: str) -> list[str]:
    """Write a host's identity into its root file system; return its SSH host public key (type, base64)."""
    (root / "etc/hostname").write_text(host.name + "\n")
    (root / "etc/hosts").write_text(_etc_hosts())
    (root / "etc/machine-id").write_text(secrets.token_hex(16) + "\n")
    (root / "etc/systemd/network").mkdir(parents=True, exist_ok=True)
    (root / "etc/systemd/network/10-lab.network").write_text(network_unit(host, match))
    for old in (root / "etc/ssh").glob("ssh_host_*"):
        old.unlink()
    for kind in ("ed25519", "ecdsa"):
        run(["ssh-keygen", "-q", "-t", kind, "-N", "", "-C", f"root@{host.name}", "-f",
             str(root / f"etc/ssh/ssh_host_{kind}_key")])
    ssh_dir = root / "home" / config.AUTOMATION_USER / ".ssh"
    ssh_dir.mkdir(mode=0o700, exist_ok=True)
    (ssh_dir / "authorized_keys").write_text(authorized_keys_line(public_key))
    uid, gid = _owner(root, config.AUTOMATION_USER)
    for path in (ssh_dir, ssh_dir / "authorized_keys"):
        os.chown(path, uid, gid)
    (ssh_dir / "authorized_keys").chmod(0o600)
    return (root / "etc/ssh/ssh_host_ed25519_key.pub").read_text().split(" ", 2)[:2]


def start(host: config.LabHost, base: Path, public_key: str) -> list[str]:
    """Prepare and boot one container host; return its SSH host key (type, base64)."""
    hdir = host_dir(host.name)
    if is_running(host.name):
        if started_with_key(host.name, public_key):
            return (hdir / "root/etc/ssh/ssh_host_ed25519_key.pub").read_text().split(" ", 2)[:2]
        stop(host.name)  # booted by another checkout, with another automation key: boot it afresh
    cleanup(host.name)
    hdir.mkdir(parents=True, exist_ok=True)
    root = hdir / "root"
    mount_overlay(base, hdir / "upper", hdir / "work", root)
    host_key = configure_root(root, host, public_key, "host0")
    _boot(host.name, root)
    (hdir / "automation_key.pub").write_text(public_key.strip() + "\n")
    return host_key


def _boot(name: str, root: Path) -> None:
    hdir = host_dir(name)
    log = open(hdir / "console.log", "ab")  # noqa: SIM115 - handed to the child process
    cmd = ["systemd-nspawn", "--boot", f"--directory={root}", nspawn_marker(name), "--register=no",
           "--keep-unit", f"--network-bridge={config.BRIDGE}", "--console=read-only", "--quiet"]
    # the child enters the host's own cgroup before exec; the lab CLI starts hosts from one thread
    proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                            start_new_session=True, preexec_fn=lambda: enter_cgroup(name))  # noqa: PLW1509
    log.close()
    (hdir / "pid").write_text(str(proc.pid))


def reboot(host: config.LabHost, base: Path, timeout: float = 90.0) -> None:
    """Reboot a running container host keeping its disk, as `systemctl reboot` reboots a server: an orderly
    shutdown (systemd-nspawn ends on the container's reboot and nothing boots it again here), then a boot of the same
    files. Used after an in-place release upgrade, whose new libraries only a restart brings into every service."""
    hdir = host_dir(host.name)
    if host.kind != "container" or not is_running(host.name):
        raise LabError(f"{host.name} is not a running container host")
    stop_process(read_pid(hdir / "pid"), nspawn_marker(host.name), timeout=timeout)
    for pid in cgroup_pids(host.name):
        try:
            os.kill(pid, 9)
        except ProcessLookupError:
            pass
    root = hdir / "root"
    unmount(root)
    deadline = time.monotonic() + 5
    while cgroup_pids(host.name) and time.monotonic() < deadline:
        time.sleep(0.1)
    remove_cgroup(host.name)
    delete_link(f"vb-{host.name}"[:15])
    mount_overlay(base, hdir / "upper", hdir / "work", root)
    _boot(host.name, root)


def started_with_key(name: str, public_key: str) -> bool:
    """Whether the running host was booted with this checkout's automation key."""
    try:
        return (host_dir(name) / "automation_key.pub").read_text().strip() == public_key.strip()
    except OSError:
        return False


def stop(name: str) -> None:
    hdir = host_dir(name)
    stop_process(read_pid(hdir / "pid"), nspawn_marker(name))
    # anything still in the host's own cgroup is a leftover of this host (e.g. after nspawn was killed)
    for pid in cgroup_pids(name):
        try:
            os.kill(pid, 9)
        except ProcessLookupError:
            pass
    cleanup(name)


def cleanup(name: str) -> None:
    """Remove what a stopped or killed host leaves: mount, cgroup, veth, state."""
    hdir = host_dir(name)
    if is_running(name):
        raise LabError(f"{name} is still running; stop it first")
    unmount(hdir / "root")
    deadline = time.monotonic() + 5
    while cgroup_pids(name) and time.monotonic() < deadline:
        time.sleep(0.1)
    remove_cgroup(name)
    delete_link(f"vb-{name}"[:15])
    shutil.rmtree(hdir, ignore_errors=True)


def wait_for_port(address: str, port: int, deadline: float) -> bool:
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((address, port), timeout=0.5) as sock:
                if sock.recv(4).startswith(b"SSH"):
                    return True
        except OSError:
            time.sleep(0.1)
    return False
