"""Cached images of the lab: the base root file system (mmdebstrap), the offline apt repository, the VM image.

Each lives in CACHE_DIR under a name carrying the hash of its inputs, so it is rebuilt only when its package
list changes, and is built in a temporary directory renamed into place at the end, so a killed build never
leaves a half-made image that looks finished.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import yaml

from baseline import REPO_ROOT
from devtools.lab import config
from devtools.lab.system import LabError, mount_overlay, run, unmount

MIRROR = os.environ.get("BASELINE_DEBIAN_MIRROR", "http://deb.debian.org/debian")
SECURITY_MIRROR = os.environ.get("BASELINE_DEBIAN_SECURITY_MIRROR", "http://deb.debian.org/debian-security")


def sources(release: str) -> list[str]:
    """Where a release's packages come from when an image or repository is built."""
    return [f"deb {MIRROR} {release} main", f"deb {MIRROR} {release}-updates main",
            f"deb {SECURITY_MIRROR} {release}-security main"]


def lab_sources_list(release: str) -> str:
    """A lab host's only package source: the controller's offline repository of its release."""
    return f"deb [trusted=yes] http://{config.CONTROLLER_ADDRESS}:{config.REPO_PORTS[release]}/ ./\n"


SUDOERS_AUTOMATION = (
    "# The automation account is the documented exception to individual accounts (AC-02): key-only login,\n"
    "# restricted to the admin network in authorized_keys, used by Ansible, pyinfra and testinfra.\n"
    f"{config.AUTOMATION_USER} ALL=(ALL:ALL) NOPASSWD: ALL\n"
)


@dataclass(frozen=True)
class Built:
    path: Path
    seconds: float  # 0.0 when taken from the cache


def _digest(*parts: object) -> str:
    return hashlib.sha256(repr(parts).encode()).hexdigest()[:12]


def _customize_hooks(release: str) -> list[str]:
    user = config.AUTOMATION_USER
    return [
        f'chroot "$1" useradd --create-home --shell /bin/bash --comment "automation account (key-only)" {user}',
        f'chroot "$1" usermod --password "*" {user}',
        f"printf '%s' '{SUDOERS_AUTOMATION}' > \"$1/etc/sudoers.d/10-automation\"",
        'chmod 0440 "$1/etc/sudoers.d/10-automation"',
        'chroot "$1" visudo -c -q',
        'rm -f "$1"/etc/ssh/ssh_host_*',
        'chroot "$1" systemctl enable systemd-networkd',
        f"printf '%s' '{lab_sources_list(release)}' > \"$1/etc/apt/sources.list\"",
        'rm -f "$1"/etc/apt/sources.list.d/*',
        ': > "$1/etc/machine-id"',
        # A lab host is thrown away, never recovered after a power loss: dpkg need not fsync every file it unpacks
        # (the setting of Debian's own container images).
        'printf "force-unsafe-io\\n" > "$1/etc/dpkg/dpkg.cfg.d/lab-unsafe-io"',
    ]


def _mmdebstrap(target: Path, packages: list[str], release: str) -> None:
    cmd = ["mmdebstrap", "--variant=minbase", "--include=" + ",".join(packages)]
    for hook in _customize_hooks(release):
        cmd += ["--customize-hook", hook]
    cmd += [release, str(target), *sources(release)]
    run(cmd)


def _name(kind: str, release: str) -> str:
    """Cache name prefix of an image kind: the default release's images keep their plain names (base-KEY), the
    others carry the release in front (trixie-base-KEY), so that pruning one release's old images never touches
    another's."""
    return kind if release == config.DEFAULT_RELEASE else f"{release}-{kind}"


def _prune(prefix: str, keep: Path) -> None:
    for old in config.CACHE_DIR.glob(prefix + "-*"):
        if old != keep and old.is_dir():
            shutil.rmtree(old, ignore_errors=True)


def base_image(release: str = config.DEFAULT_RELEASE) -> Built:
    """The root file system every container host of the release boots from (lower layer of its overlay)."""
    packages = config.read_package_list("base-packages.txt", release)
    key = _digest(packages, sources(release), _customize_hooks(release))
    final = config.CACHE_DIR / f"{_name('base', release)}-{key}"
    if (final / "root" / "usr").is_dir():
        return Built(final / "root", 0.0)
    start = time.monotonic()
    tmp = config.CACHE_DIR / f"tmp-{_name('base', release)}-{key}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    _mmdebstrap(tmp / "root", packages, release)
    tmp.rename(final)
    _prune(_name("base", release), final)
    return Built(final / "root", round(time.monotonic() - start, 1))


def offline_repo(base: Path, release: str = config.DEFAULT_RELEASE) -> Built:
    """Debian packages the roles install, with dependencies not already in the base image, as a flat repository.
    A later release's repository also holds every package of its base image: a host of the default release
    upgrades in place from it (apt full-upgrade), as a real server upgrades from its mirror."""
    packages = config.read_package_list("repo-packages.txt", release)
    whole = release != config.DEFAULT_RELEASE
    key = _digest(packages, sources(release), str(base), *(["whole"] if whole else []))
    final = config.CACHE_DIR / f"{_name('repo', release)}-{key}"
    if (final / "Packages").is_file():
        return Built(final, 0.0)
    start = time.monotonic()
    work = config.CACHE_DIR / f"tmp-{_name('repo', release)}-{key}"
    merged = work / "merged"
    unmount(merged / "proc")
    unmount(merged)
    shutil.rmtree(work, ignore_errors=True)
    mount_overlay(base, work / "upper", work / "work", merged)
    try:
        shutil.copy("/etc/resolv.conf", merged / "etc/resolv.conf")
        (merged / "etc/apt/build.list").write_text("\n".join(sources(release)) + "\n")
        apt_opts = ["-o", "Dir::Etc::SourceList=/etc/apt/build.list", "-o", "Dir::Etc::SourceParts=-",
                    "-o", "APT::Sandbox::User=root", "-q"]
        run(["chroot", str(merged), "apt-get", *apt_opts, "update"])
        installed = run(["chroot", str(merged), "dpkg-query", "-W", "-f", "${Package}\\n"]).stdout.split() if whole else []
        run(["chroot", str(merged), "apt-get", *apt_opts, "install", "--download-only", "--yes",
             *(["--reinstall"] if whole else []), *packages, *installed],
            env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"})
        debs = sorted((merged / "var/cache/apt/archives").glob("*.deb"))
        if not debs:
            raise LabError("the offline repository came out empty")
        out = work / "repo"
        out.mkdir()
        for deb in debs:
            shutil.copy2(deb, out / deb.name)
        index = run(["apt-ftparchive", "packages", "."], cwd=out).stdout
        (out / "Packages").write_text(index)
        (out / "Release").write_text(run(["apt-ftparchive", "release", "."], cwd=out).stdout)
    finally:
        unmount(merged)
    shutil.rmtree(final, ignore_errors=True)
    (work / "repo").rename(final)
    shutil.rmtree(work, ignore_errors=True)
    _prune(_name("repo", release), final)
    return Built(final, round(time.monotonic() - start, 1))


# The packages the baseline installs on the VM host kind (its kernel-level part), named by the roles' own lists.
# The VM image carries them: unpacked at native speed once when the image is built instead of under software
# emulation (about 30 times slower) on every fresh VM. The roles' install tasks then find them present; the
# containers show those tasks installing on a fresh host.
VM_ROLE_PACKAGES = (("audit", "audit_auditd_packages"), ("audit", "audit_time_packages"),
                    ("hardening", "hardening_accounting_packages"))


def vm_role_packages() -> list[str]:
    found: list[str] = []
    for role, name in VM_ROLE_PACKAGES:
        values = yaml.safe_load((REPO_ROOT / "roles" / role / "vars" / "main.yml").read_text(encoding="utf-8"))
        found += [p for p in values[name] if p not in found]
    return found


def vm_image(release: str = config.DEFAULT_RELEASE) -> Built:
    """Root file system, kernel and initrd for the VM host kind (kernel-level controls)."""
    packages = [*config.read_package_list("base-packages.txt", release), "linux-image-amd64", "initramfs-tools",
                "e2fsprogs", *vm_role_packages()]
    key = _digest(packages, sources(release), _customize_hooks(release), "vm")
    final = config.CACHE_DIR / f"{_name('vm', release)}-{key}"
    if (final / "vmlinuz").is_file():
        return Built(final, 0.0)
    start = time.monotonic()
    tmp = config.CACHE_DIR / f"tmp-{_name('vm', release)}-{key}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    _mmdebstrap(tmp / "root", packages, release)
    kernels = sorted((tmp / "root/boot").glob("vmlinuz-*"))
    initrds = sorted((tmp / "root/boot").glob("initrd.img-*"))
    if not kernels or not initrds:
        raise LabError("the VM image has no kernel or initrd in /boot")
    shutil.copy2(kernels[-1], tmp / "vmlinuz")
    shutil.copy2(initrds[-1], tmp / "initrd.img")
    tmp.rename(final)
    _prune(_name("vm", release), final)
    return Built(final, round(time.monotonic() - start, 1))


def build_all(releases: list[str], vm_releases: set[str]) -> tuple[dict[str, Built], dict[str, Built], dict[str, Built]]:
    """Each release's base image and offline repository (one after the other: the repository is resolved on the
    base image), and the VM image of each release in `vm_releases`. A VM image is a bootstrap of its own, about as
    long as base image and repository together: it builds beside them (one VM image at a time). An error of either
    side is raised once both have ended, so that no build is left half-way in the cache's temporary directories."""
    bases: dict[str, Built] = {}
    repos: dict[str, Built] = {}
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="vm-image") as pool:
        vm_builds = {release: pool.submit(vm_image, release) for release in releases if release in vm_releases}
        try:
            for release in releases:
                bases[release] = base_image(release)
                repos[release] = offline_repo(bases[release].path, release)
        except BaseException:
            for build in vm_builds.values():
                build.cancel()  # those not begun; the one building ends first (the `with` waits for it)
            raise
        vm_images = {release: build.result() for release, build in vm_builds.items()}
    return bases, repos, vm_images
