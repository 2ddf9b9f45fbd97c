"""`scripts/lab`: the built-in lab of real Debian hosts (systemd-nspawn containers of Debian 12, optionally Debian 13
ones beside them, one optional QEMU VM) on a private bridge, plus the network-device simulator. See docs/lab.md."""

from __future__ import annotations

import argparse
import fcntl
import json
import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

from baseline import REPO_ROOT
from devtools.lab import config, hosts, image, outputs, secrets, vm, wheelhouse
from devtools.lab.system import (
    LabError,
    cgroup_groups,
    cgroup_pids,
    delete_link,
    is_mounted,
    pid_alive,
    read_pid,
    remove_cgroup,
    stop_process,
    unmount,
)


def repo_server_pid(release: str) -> Path:
    """Pid file of the release's repository server (the default release's keeps its former name)."""
    suffix = "" if release == config.DEFAULT_RELEASE else f"-{release}"
    return config.STATE_DIR / f"repo-server{suffix}.pid"


DEVSIM = REPO_ROOT / "scripts" / "devsim"
SSH_READY_TIMEOUT = {"container": 60.0, "vm": 300.0}
SCALE_READY_SLACK = 5.0  # seconds more to SSH-ready per scale host booted


def log(message: str) -> None:
    print(f"lab: {message}", flush=True)


@contextmanager
def lab_lock():
    """One lab user at a time. A process that already holds the lock sets BASELINE_LAB_LOCK_HELD=1."""
    if os.environ.get("BASELINE_LAB_LOCK_HELD") == "1":
        yield
        return
    config.LOCK_FILE.parent.mkdir(parents=True, exist_ok=True)
    with open(config.LOCK_FILE, "w") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            log(f"waiting for another lab user ({config.LOCK_FILE})")
            fcntl.flock(fh, fcntl.LOCK_EX)
        yield


def _known_host_dirs() -> list[str]:
    base = config.STATE_DIR / "hosts"
    return sorted(p.name for p in base.iterdir()) if base.is_dir() else []


def _running(name: str) -> bool:
    host = _lookup(name)
    return vm.is_running(name) if host and host.kind == "vm" else hosts.is_running(name)


def _lookup(name: str) -> config.LabHost | None:
    try:
        return config.host_by_name(name)
    except KeyError:
        return None


def _stop_host(name: str) -> None:
    host = _lookup(name)
    (vm.stop if host is not None and host.kind == "vm" else hosts.stop)(name)


def recover_leftovers() -> list[str]:
    """Clean what a killed run left behind: mounts, cgroups, links and state of hosts whose process is gone."""
    cleaned = []
    for name in _known_host_dirs():
        if _running(name):
            continue
        host = _lookup(name)
        (vm.cleanup if host and host.kind == "vm" else hosts.cleanup)(name)
        cleaned.append(name)
    with open("/proc/self/mounts", encoding="utf-8") as fh:
        stale = [line.split()[1] for line in fh if line.split()[1].startswith(str(config.CACHE_DIR) + "/tmp-")]
    for target in sorted(stale, key=len, reverse=True):
        unmount(Path(target))
    return cleaned


def start_repo_server(repo: Path, release: str = config.DEFAULT_RELEASE) -> None:
    pid_file = repo_server_pid(release)
    pid = read_pid(pid_file)
    marker = f"--directory {repo}"
    if pid_alive(pid, marker):
        return
    stop_process(pid, "http.server")
    log_file = open(pid_file.with_suffix(".log"), "wb")  # noqa: SIM115 - handed to the child process
    proc = subprocess.Popen([sys.executable, "-m", "http.server", str(config.REPO_PORTS[release]), "--bind",
                             config.CONTROLLER_ADDRESS, "--directory", str(repo)],
                            stdin=subprocess.DEVNULL, stdout=log_file, stderr=subprocess.STDOUT, start_new_session=True)
    log_file.close()
    pid_file.write_text(str(proc.pid))


def stop_repo_server() -> None:
    """Stop every release's repository server."""
    for release in config.RELEASES:
        pid_file = repo_server_pid(release)
        stop_process(read_pid(pid_file), "http.server")
        pid_file.unlink(missing_ok=True)


def ssh(name: str, *command: str, timeout: float = 30) -> subprocess.CompletedProcess:
    return subprocess.run(["ssh", *outputs.ssh_options(), name, *command], capture_output=True, text=True,
                          timeout=timeout, check=False)


def wait_ready(host: config.LabHost, deadline: float) -> float:
    """Seconds until the host answers SSH as the automation account with working sudo."""
    start = time.monotonic()
    if not hosts.wait_for_port(host.address, 22, deadline):
        raise LabError(f"{host.name} ({host.address}) did not open SSH in time; see "
                       f"{hosts.host_dir(host.name) / 'console.log'}")
    while time.monotonic() < deadline:
        proc = ssh(host.name, "sudo", "-n", "true", timeout=20)
        if proc.returncode == 0:
            return round(time.monotonic() - start, 2)
        time.sleep(0.3)
    raise LabError(f"{host.name}: SSH login or sudo failed: {proc.stderr.strip()}")


def selected_hosts(args: argparse.Namespace) -> list[config.LabHost]:
    scale = list(config.scale_hosts(getattr(args, "scale", 0) or 0))
    if getattr(args, "trixie", False):
        vms = config.TRIXIE_VM_HOSTS if getattr(args, "vm", False) else ()
        scale = list(config.TRIXIE_HOSTS + vms + config.UPGRADE_HOSTS) + scale
    if getattr(args, "twins", False):
        scale = list(config.TWIN_HOSTS) + scale
    if args.hosts:
        named = [config.host_by_name(n) for n in args.hosts.split(",")]
        return named + [h for h in scale if h not in named]
    chosen = list(config.CONTAINER_HOSTS)
    if args.vm:
        chosen += list(config.VM_HOSTS)
    return chosen + scale


def scale_count(text: str) -> int:
    """argparse type of `--scale`: a whole number from 0 to config.SCALE_MAX."""
    try:
        count = int(text)
        config.scale_hosts(count)
    except ValueError:
        raise argparse.ArgumentTypeError(f"--scale takes a whole number from 0 to {config.SCALE_MAX}, not {text!r}") from None
    return count


def cmd_up(args: argparse.Namespace) -> dict:
    figures: dict = {}
    with lab_lock():
        t0 = time.monotonic()
        cleaned = recover_leftovers()
        if cleaned:
            log(f"cleaned leftovers of a previous run: {', '.join(cleaned)}")
        chosen = selected_hosts(args)
        public_key = secrets.ensure_ssh_key()
        vault_password = secrets.ensure_vault_password()
        # each release in use gets its base image, offline repository and (for a VM host) VM image
        releases = sorted({config.DEFAULT_RELEASE} | {h.release for h in chosen},
                          key=list(config.RELEASES).index)
        t_images = time.monotonic()
        bases, repos, vm_images = image.build_all(releases, {h.release for h in chosen if h.kind == "vm"})
        figures["images_ready_s"] = round(time.monotonic() - t_images, 1)
        for release in releases:
            suffix = "" if release == config.DEFAULT_RELEASE else f"_{release}"
            figures[f"base_image_build_s{suffix}"] = bases[release].seconds
            figures[f"repo_build_s{suffix}"] = repos[release].seconds
            if release in vm_images:
                figures[f"vm_image_build_s{suffix}"] = vm_images[release].seconds
            log(f"{release} images ready (base {bases[release].seconds}s, repository {repos[release].seconds}s"
                + (f", VM {vm_images[release].seconds}s)" if release in vm_images else ")"))
        if wheelhouse.needed(chosen):
            wheels = wheelhouse.build()
            figures["wheelhouse_build_s"] = wheels.seconds
            log(f"management host's wheelhouse ready ({wheels.seconds}s): {wheels.path}")
        from devtools.lab.system import ensure_bridge
        ensure_bridge(config.BRIDGE, config.CONTROLLER_ADDRESS, config.PREFIX_LEN)
        config.STATE_DIR.mkdir(parents=True, exist_ok=True)
        for release in releases:
            start_repo_server(repos[release].path, release)
        raised = None
        if any(h not in config.ALL_HOSTS for h in chosen):  # the standard lab boots within the default limit
            raised = hosts.ensure_inotify_instances(
                len({h.name for h in chosen if h.kind == "container"} | set(_known_host_dirs())))
        if raised:
            log(f"fs.inotify.max_user_instances raised to {raised} for the container hosts")
        t_boot = time.monotonic()
        host_keys = {}
        for host in chosen:
            if host.kind == "vm":
                host_keys[host.name] = vm.start(host, vm_images[host.release].path, public_key)
            else:
                host_keys[host.name] = hosts.start(host, bases[host.release].path, public_key)
        all_running = [h for h in config.KNOWN_HOSTS if h.name in host_keys or _running(h.name)]
        for host in all_running:
            if host.name not in host_keys:
                pub = hosts.host_dir(host.name) / ("ssh_host_ed25519_key.pub" if host.kind == "vm"
                                                   else "root/etc/ssh/ssh_host_ed25519_key.pub")
                host_keys[host.name] = pub.read_text().split(" ", 2)[:2]
        outputs.write_all(all_running, host_keys,
                          secrets.vault_yaml(secrets.ensure_values(), vault_password),
                          {"staff_ssh_keys": secrets.ensure_staff_keys()})
        # scale hosts boot all at once beside the others: each adds to the time every host may take
        slack = SCALE_READY_SLACK * sum(1 for h in chosen if h not in config.ALL_HOSTS)
        with ThreadPoolExecutor(max_workers=len(chosen)) as pool:
            ready = dict(zip([h.name for h in chosen],
                             pool.map(lambda h: wait_ready(h, time.monotonic() + SSH_READY_TIMEOUT[h.kind] + slack),
                                      chosen),
                             strict=True))
        figures["ssh_ready_s"] = round(time.monotonic() - t_boot, 2)
        figures["per_host_ready_s"] = ready
        if DEVSIM.exists() and not args.no_devices:
            if subprocess.run([str(DEVSIM), "start"], check=False).returncode != 0:
                raise LabError("the servers are up, but the simulated network devices did not start (the simulator's "
                               "log is above; a port in use: another simulator, e.g. of another checkout, still "
                               "serves the devices' ports)")
        figures["up_total_s"] = round(time.monotonic() - t0, 2)
    log(f"{len(chosen)} hosts SSH-ready in {figures['ssh_ready_s']}s: "
        + ", ".join(f"{h.name} {h.address}" for h in chosen))
    log(f"inventory: {config.INVENTORY_DIR / 'hosts.yml'}; ssh: scripts/lab ssh HOST")
    return figures


def cmd_down(_args: argparse.Namespace) -> dict:
    with lab_lock():
        t0 = time.monotonic()
        if DEVSIM.exists():
            subprocess.run([str(DEVSIM), "stop"], check=False)
        names = _known_host_dirs()
        with ThreadPoolExecutor(max_workers=max(1, len(names))) as pool:
            list(pool.map(_stop_host, names))
        stop_repo_server()
        recover_leftovers()
        # cgroups of hosts the lab keeps no state of (their state directory went first): empty ones go; one that
        # still holds processes is not this lab's to kill, and is named
        busy = []
        for group in cgroup_groups():
            if cgroup_pids(group):
                busy.append(group)
            else:
                remove_cgroup(group)
        delete_link(config.BRIDGE)
        outputs.remove_all()
        seconds = round(time.monotonic() - t0, 2)
    if busy:
        log(f"down: {len(names)} hosts stopped in {seconds}s; still there: the cgroups of {', '.join(busy)} under "
            "/sys/fs/cgroup/baseline-lab, with processes this lab has no state of (another checkout's lab?)")
    else:
        log(f"down: {len(names)} hosts stopped in {seconds}s; no mount, link, cgroup or process of the lab remains")
    return {"down_s": seconds, "hosts": names, "busy_cgroups": busy}


def cmd_reboot(args: argparse.Namespace) -> dict:
    """Reboot running container hosts keeping their disks (an orderly shutdown, then a boot of the same files)."""
    known = {h.name: h for h in config.KNOWN_HOSTS}
    unknown = [name for name in args.hosts if name not in known]
    if unknown:
        raise LabError(f"unknown lab host(s): {', '.join(unknown)}")
    figures = {}
    with lab_lock():
        for name in args.hosts:
            host = known[name]
            t0 = time.monotonic()
            hosts.reboot(host, image.base_image(host.release).path)
            wait_ready(host, time.monotonic() + SSH_READY_TIMEOUT[host.kind])
            figures[name] = round(time.monotonic() - t0, 2)
            log(f"{name} rebooted, SSH-ready in {figures[name]}s")
    return figures


def cmd_status(_args: argparse.Namespace) -> dict:
    rows = {}
    extra_running = [h for h in config.KNOWN_HOSTS if h not in config.ALL_HOSTS and _running(h.name)]
    for host in list(config.ALL_HOSTS) + extra_running:
        running = _running(host.name)
        rows[host.name] = {"address": host.address, "kind": host.kind, "release": host.release, "running": running,
                           "mounted": is_mounted(hosts.host_dir(host.name) / "root")}
        print(f"{host.name:8} {host.kind:9} Debian {config.RELEASES[host.release]:3} {host.address:13} "
              f"{'running' if running else 'stopped'}")
    return rows


def cmd_ssh(args: argparse.Namespace) -> None:
    os.execvp("ssh", ["ssh", *outputs.ssh_options(), args.host, *args.command])  # noqa: S606 - replaces this process


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="scripts/lab", description=__doc__)
    parser.add_argument("--json", action="store_true", help="print figures as JSON on the last line")
    sub = parser.add_subparsers(dest="action", required=True)
    up = sub.add_parser("up", help="build/reuse images, boot the hosts, write the inventories, start the device simulator")
    up.add_argument("--vm", action="store_true", help="also boot the VM host kern1 (kernel-level controls; slow: TCG)")
    up.add_argument("--hosts", help="comma-separated subset of hosts to boot (default: all container hosts)")
    up.add_argument("--no-devices", action="store_true", help="do not start the network-device simulator")
    up.add_argument("--scale", type=scale_count, default=0, metavar="N",
                    help=f"also boot N extra app-class container hosts scale01... (.{config.SCALE_FIRST_OCTET}...; "
                         f"0-{config.SCALE_MAX}, default 0; see docs/lab.md)")
    up.add_argument("--twins", action="store_true",
                    help="also boot app2, db3 and db4, the twins the pyinfra deploys apply (inventory/lab-twins)")
    up.add_argument("--trixie", action="store_true",
                    help="also boot the Debian 13 hosts " + ", ".join(h.name for h in config.TRIXIE_HOSTS)
                         + " and the Debian 12 host " + ", ".join(h.name for h in config.UPGRADE_HOSTS)
                         + " that tests/lab/test_trixie.py upgrades in place (default inventory); with --vm also the "
                         "Debian 13 VM " + ", ".join(h.name for h in config.TRIXIE_VM_HOSTS))
    sub.add_parser("down", help="stop everything the lab started and remove mounts, links, cgroups and state")
    reboot = sub.add_parser("reboot", help="reboot running container hosts keeping their disks (as after a release "
                                           "upgrade)")
    reboot.add_argument("hosts", nargs="+", metavar="HOST")
    sub.add_parser("status", help="show which lab hosts run")
    sh = sub.add_parser("ssh", help="open an SSH session (or run a command) on a lab host as the automation account")
    sh.add_argument("host")
    sh.add_argument("command", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)
    if os.geteuid() != 0 and args.action in ("up", "down", "reboot"):
        parser.error("the lab needs root (systemd-nspawn, mounts, bridges)")
    try:
        result = {"up": cmd_up, "down": cmd_down, "reboot": cmd_reboot, "status": cmd_status,
                  "ssh": cmd_ssh}[args.action](args)
    except LabError as exc:
        print(f"lab: error: {exc}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
