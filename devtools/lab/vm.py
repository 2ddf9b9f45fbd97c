"""The VM host kind: a Debian kernel under QEMU (software emulation), for controls a container cannot show
(auditd in the kernel, `kernel.*` sysctls). Its disk is made afresh from the cached VM image at every `up`."""

from __future__ import annotations

import shutil
from pathlib import Path

from devtools.lab import config
from devtools.lab.hosts import configure_root, host_dir, started_with_key
from devtools.lab.system import delete_link, mount_overlay, pid_alive, read_pid, run, stop_process, unmount

DISK_SIZE = "4G"
MEMORY_MB = 1536
# Scheduling priority of the emulator (nice value, for its threads and for its autogroup, the scheduler's group of
# one session): under software emulation the VM needs about 30 times a container's CPU for the same work, and with
# an equal share one SSH login to it took 25 to 40 s while the containers were being hardened (6 to 7 s at -10).
# It is idle between commands, so the containers lose little.
NICE = -10


def marker(name: str) -> str:
    return f"-name {name}"


def tap_name(name: str) -> str:
    return f"vt-{name}"[:15]


def is_running(name: str) -> bool:
    return pid_alive(read_pid(host_dir(name) / "pid"), marker(name))


def start(host: config.LabHost, image: Path, public_key: str) -> list[str]:
    hdir = host_dir(host.name)
    if is_running(host.name):
        if started_with_key(host.name, public_key):
            return (hdir / "ssh_host_ed25519_key.pub").read_text().split(" ", 2)[:2]
        stop(host.name)  # booted by another checkout, with another automation key: boot it afresh
    cleanup(host.name)
    merged = hdir / "root"
    mount_overlay(image / "root", hdir / "upper", hdir / "work", merged)
    try:
        host_key = configure_root(merged, host, public_key, "eth0")
        shutil.copy(merged / "etc/ssh/ssh_host_ed25519_key.pub", hdir / "ssh_host_ed25519_key.pub")
        disk = hdir / "disk.raw"
        run(["truncate", "-s", DISK_SIZE, str(disk)])
        run(["mkfs.ext4", "-q", "-F", "-L", "root", "-d", str(merged), str(disk)])
    finally:
        unmount(merged)
    shutil.rmtree(hdir / "upper", ignore_errors=True)
    shutil.rmtree(hdir / "work", ignore_errors=True)
    tap = tap_name(host.name)
    run(["ip", "tuntap", "add", "dev", tap, "mode", "tap"])
    run(["ip", "link", "set", tap, "master", config.BRIDGE, "up"])
    mac = f"52:54:00:e7:00:{host.octet:02x}"
    run(["nice", "-n", str(NICE),
         "qemu-system-x86_64", "-name", host.name, "-machine", "q35,accel=tcg", "-cpu", "max", "-smp", "2",
         "-m", str(MEMORY_MB), "-kernel", str(image / "vmlinuz"), "-initrd", str(image / "initrd.img"),
         "-append", "root=/dev/vda rw console=ttyS0 net.ifnames=0 quiet",
         "-drive", f"file={disk},format=raw,if=virtio",
         "-netdev", f"tap,id=n0,ifname={tap},script=no,downscript=no",
         "-device", f"virtio-net-pci,netdev=n0,mac={mac}",
         "-display", "none", "-monitor", "none", "-serial", f"file:{hdir / 'console.log'}",
         "-daemonize", "-pidfile", str(hdir / "pid")])
    raise_autogroup_priority(read_pid(hdir / "pid"))
    (hdir / "automation_key.pub").write_text(public_key.strip() + "\n")
    return host_key


def raise_autogroup_priority(pid: int) -> None:
    """The daemonized emulator runs in a session of its own, so with autogroup scheduling its nice value counts only
    against its own threads: the group gets the same nice value (kernels without autogroup have no such file)."""
    if pid <= 0:
        return
    try:
        Path(f"/proc/{pid}/autogroup").write_text(f"{NICE}\n")
    except OSError:
        pass


def stop(name: str) -> None:
    stop_process(read_pid(host_dir(name) / "pid"), marker(name), timeout=5)
    cleanup(name)


def cleanup(name: str) -> None:
    hdir = host_dir(name)
    unmount(hdir / "root")
    delete_link(tap_name(name))
    shutil.rmtree(hdir, ignore_errors=True)
