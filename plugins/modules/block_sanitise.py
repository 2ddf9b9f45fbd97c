#!/usr/bin/python
"""Media sanitisation (RI-02, 第三十八条) on the host that holds the device: inspect a block device and refuse one
in use, or overwrite it and read it back. The controller writes the certificate record (baseline/sanitise.py)."""

from __future__ import annotations

import hashlib
import os
import socket
import stat
import subprocess
import time
from typing import Any

from ansible.module_utils.basic import AnsibleModule

DOCUMENTATION = r"""
module: block_sanitise
short_description: Inspect a block device for sanitisation, or overwrite it and verify by reading back (RI-02)
description:
  - C(state=inspect) reads sysfs, /proc/self/mountinfo and /proc/swaps and returns the device's facts and every
    rule it breaks (C(refusals)); it changes nothing.
  - C(state=wiped) refuses as C(inspect) does, then overwrites the whole device (opened exclusively), flushes it,
    drops the page cache and reads every byte back. In check mode it says what it would do and writes nothing.
options:
  device:
    description: Path of the block device, e.g. /dev/sdb or /dev/loop3.
    type: path
    required: true
  confirm:
    description: The device's serial number or its kernel name (or the path given), typed by the operator.
    type: str
    required: true
  method:
    description: zero (overwrite with zeros), random (random data, verified by its SHA-256), secure_discard
      (blkdiscard --secure, then the zero passes, verified as zeros).
    type: str
    choices: [zero, random, secure_discard]
    default: zero
  passes:
    description: Number of overwrite passes (1 to 7). Verification reads back the last one.
    type: int
    default: 1
  state:
    description: inspect or wiped.
    type: str
    choices: [inspect, wiped]
    default: inspect
"""

RETURN = r"""
device:
  description: facts of the device (path, name, kind, size_bytes, serial, model, rotational, discard, backing_file, ...)
  type: dict
  returned: always
refusals:
  description: every rule the device or the confirmation breaks, one message each
  type: list
  returned: always
wipe:
  description: what was written and what was read back
  type: dict
  returned: state=wiped outside check mode
"""

CHUNK = 1024 * 1024
MAX_PASSES = 7


def _read(path: str) -> str:
    try:
        with open(path, encoding="utf-8", errors="replace") as fh:
            return fh.read().strip()
    except OSError:
        return ""


def _sys(devno: str) -> str:
    """The sysfs directory of a block device by its major:minor."""
    return os.path.realpath(f"/sys/dev/block/{devno}")


def _devno(sysdir: str) -> str:
    return _read(os.path.join(sysdir, "dev"))


def _name(sysdir: str) -> str:
    return os.path.basename(sysdir)


def _is_partition(sysdir: str) -> bool:
    return os.path.exists(os.path.join(sysdir, "partition"))


def _children(sysdir: str) -> list[str]:
    """Partitions of a disk (sysfs directories below it that are partitions)."""
    try:
        entries = sorted(os.listdir(sysdir))
    except OSError:
        return []
    return [os.path.join(sysdir, e) for e in entries if _is_partition(os.path.join(sysdir, e))]


def _holders(sysdir: str) -> list[str]:
    try:
        return [_sys(_devno(os.path.realpath(os.path.join(sysdir, "holders", h))))
                for h in sorted(os.listdir(os.path.join(sysdir, "holders")))]
    except OSError:
        return []


def _slaves(sysdir: str) -> list[str]:
    try:
        return [os.path.realpath(os.path.join(sysdir, "slaves", s)) for s in sorted(os.listdir(os.path.join(sysdir, "slaves")))]
    except OSError:
        return []


def _disks_under(sysdir: str, seen: set[str] | None = None) -> set[str]:
    """The whole disks a block device lives on: its parent disk for a partition, the disks of its members for dm/md."""
    seen = seen if seen is not None else set()
    if sysdir in seen:
        return set()
    seen.add(sysdir)
    if _is_partition(sysdir):
        return _disks_under(os.path.dirname(sysdir), seen)
    members = _slaves(sysdir)
    if not members:
        return {sysdir}
    disks: set[str] = set()
    for member in members:
        disks |= _disks_under(member, seen)
    return disks


def _holder_kind(sysdir: str) -> str:
    name = _name(sysdir)
    if name.startswith("md"):
        return f"md array {name}"
    uuid = _read(os.path.join(sysdir, "dm", "uuid"))
    dm_name = _read(os.path.join(sysdir, "dm", "name")) or name
    if uuid.startswith("LVM-"):
        return f"LVM logical volume {dm_name} ({name}): the device is an LVM physical volume in use"
    if uuid.startswith("CRYPT-"):
        return f"dm-crypt mapping {dm_name} ({name})"
    return f"device-mapper mapping {dm_name} ({name})"


def _mounts() -> list[tuple[str, str, str]]:
    """(major:minor, mount point, source) of every mount this host's mount namespace sees."""
    found = []
    for line in _read("/proc/self/mountinfo").splitlines():
        fields = line.split()
        if " - " not in line or len(fields) < 5:
            continue
        source = line.split(" - ", 1)[1].split()
        found.append((fields[2], fields[4].replace("\\040", " "), source[1] if len(source) > 1 else ""))
    return found


def _rdev(path: str) -> str:
    try:
        st = os.stat(path)
    except OSError:
        return ""
    return f"{os.major(st.st_rdev)}:{os.minor(st.st_rdev)}" if stat.S_ISBLK(st.st_mode) else ""


def _system_disks(mounts: list[tuple[str, str, str]]) -> dict[str, list[str]]:
    """The disks holding / and /boot (sysfs directory -> the mount points found on it)."""
    disks: dict[str, list[str]] = {}
    for devno, point, source in mounts:
        if point not in ("/", "/boot", "/boot/efi"):
            continue
        for number in {devno, _rdev(source)} - {""}:
            sysdir = _sys(number)
            if not os.path.isdir(sysdir) or not _devno(sysdir):
                continue
            for disk in _disks_under(sysdir):
                disks.setdefault(disk, [])
                if point not in disks[disk]:
                    disks[disk].append(point)
    return disks


def inspect(device: str, confirm: str) -> dict[str, Any]:
    """Facts of the device and every rule it breaks; reads only."""
    facts: dict[str, Any] = {"path": device, "host": socket.gethostname()}
    refusals: list[str] = []
    if not os.path.exists(device):
        refusals.append(f"sanitise_device = {device}: no such path; name a block device such as /dev/sdb")
        return {"device": facts, "refusals": refusals}
    resolved = os.path.realpath(device)
    facts["resolved"] = resolved
    st = os.stat(resolved)
    if not stat.S_ISBLK(st.st_mode):
        kind = "a directory" if stat.S_ISDIR(st.st_mode) else "a regular file" if stat.S_ISREG(st.st_mode) else \
            "a character device" if stat.S_ISCHR(st.st_mode) else "not a device"
        refusals.append(f"sanitise_device = {device} is {kind}, not a block device: only a block device is wiped")
        return {"device": facts, "refusals": refusals}
    devno = f"{os.major(st.st_rdev)}:{os.minor(st.st_rdev)}"
    sysdir = _sys(devno)
    name = _name(sysdir)
    disk = os.path.dirname(sysdir) if _is_partition(sysdir) else sysdir
    queue = os.path.join(disk, "queue")
    facts.update({
        "name": name, "devno": devno,
        "kind": "partition" if _is_partition(sysdir) else "loop" if name.startswith("loop") else
        "dm" if name.startswith("dm-") else "md" if name.startswith("md") else "disk",
        "size_bytes": int(_read(os.path.join(sysdir, "size")) or 0) * 512,
        "serial": _read(os.path.join(disk, "device", "serial")) or _read(os.path.join(disk, "serial"))
        or _read(os.path.join(disk, "device", "wwid")),
        "model": " ".join(filter(None, (_read(os.path.join(disk, "device", "vendor")),
                                        _read(os.path.join(disk, "device", "model"))))),
        "rotational": _read(os.path.join(queue, "rotational")) == "1",
        "discard": int(_read(os.path.join(queue, "discard_max_bytes")) or 0) > 0,
        "read_only": _read(os.path.join(sysdir, "ro")) == "1",
        "backing_file": _read(os.path.join(sysdir, "loop", "backing_file")),
    })
    # everything the device carries: itself, its partitions, and whatever is built on them (dm, md, LVM)
    related = [sysdir, *_children(sysdir)]
    devnos = {_devno(d): _name(d) for d in related}
    holders: list[str] = []
    for d in related:
        for holder in _holders(d):
            holders.append(f"{_name(d)} is held by {_holder_kind(holder)}")
            devnos[_devno(holder)] = _name(holder)
    facts["partitions"] = [_name(d) for d in related[1:]]
    facts["holders"] = holders
    if facts["size_bytes"] == 0:
        refusals.append(f"sanitise_device = {device} ({name}) has no media (size 0): there is nothing to wipe")
    if facts["read_only"]:
        refusals.append(f"sanitise_device = {device} ({name}) is read-only: it cannot be overwritten")
    mounts = _mounts()
    for number, point, source in mounts:
        hit = devnos.get(number) or (devnos.get(_rdev(source)) if source.startswith("/dev/") else None)
        if hit:
            refusals.append(f"sanitise_device = {device}: {hit} is mounted on {point}; a mounted device or a device "
                            "holding a mounted partition is never wiped (unmount it first)")
    for line in _read("/proc/swaps").splitlines()[1:]:
        swap = line.split()[0] if line.split() else ""
        hit = devnos.get(_rdev(swap.replace("\\040", " ")))
        if hit:
            refusals.append(f"sanitise_device = {device}: {hit} is an active swap area ({swap}); a device in use as "
                            "swap is never wiped (swapoff it first)")
    refusals.extend(f"sanitise_device = {device}: {h}; a device under an md array, an LVM volume or a "
                    "device-mapper mapping in use is never wiped (stop or remove that first)" for h in holders)
    system = _system_disks(mounts)
    for target_disk in _disks_under(sysdir):
        if target_disk in system:
            where = "is" if target_disk == sysdir else f"is on {_name(target_disk)},"
            refusals.append(f"sanitise_device = {device}: {name} {where} the disk holding "
                            f"{' and '.join(system[target_disk])}; the system disk is never wiped")
    accepted = {v for v in (facts["serial"], name, device, resolved) if v}
    if confirm not in accepted:
        shown = f"its serial ({facts['serial']}) nor its name ({name}, {resolved})" if facts["serial"] else \
            f"its name ({name}, {resolved}); the device reports no serial"
        refusals.append(f"sanitise_confirm = {confirm!r} does not match the device: it matches neither {shown}. "
                        "Type the serial or the name of the device to be erased")
    return {"device": facts, "refusals": refusals}


def _drop_cache(fd: int) -> None:
    os.fsync(fd)
    os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)


def overwrite(path: str, size: int, method: str, passes: int) -> dict[str, Any]:
    """Write every byte `passes` times; the last pass's pattern is what verify() expects."""
    written = 0
    last_sha = ""
    zero = bytes(CHUNK)
    fd = os.open(path, os.O_WRONLY | os.O_EXCL)  # exclusive: the kernel refuses while anything holds the device
    try:
        for _ in range(passes):
            os.lseek(fd, 0, os.SEEK_SET)
            digest = hashlib.sha256()
            left = size
            while left > 0:
                n = min(CHUNK, left)
                block = os.urandom(n) if method == "random" else zero[:n]
                view = memoryview(block)
                while view:
                    done = os.write(fd, view)
                    view = view[done:]
                digest.update(block)
                left -= n
                written += n
            _drop_cache(fd)
            last_sha = digest.hexdigest()
    finally:
        os.close(fd)
    return {"bytes_written": written, "expected_sha256": last_sha}


def verify(path: str, size: int, method: str, expected_sha256: str) -> dict[str, Any]:
    """Read every byte back from the device (page cache dropped first): zeros for zero and secure_discard, the SHA-256
    of the last random pass for random."""
    fd = os.open(path, os.O_RDONLY)
    digest = hashlib.sha256()
    nonzero = 0
    first = None
    read = 0
    try:
        _drop_cache(fd)
        while read < size:
            block = os.read(fd, min(CHUNK, size - read))
            if not block:
                break
            digest.update(block)
            if method != "random" and block.count(0) != len(block):
                nonzero += len(block) - block.count(0)
                if first is None:
                    first = read + next(i for i, b in enumerate(block) if b)
            read += len(block)
    finally:
        os.close(fd)
    sha = digest.hexdigest()
    if method == "random":
        ok, expected = read == size and sha == expected_sha256, f"SHA-256 {expected_sha256} of the last random pass"
    else:
        ok, expected = read == size and nonzero == 0, "every byte zero"
    return {"ok": ok, "bytes_read": read, "size_bytes": size, "nonzero_bytes": nonzero, "first_nonzero_offset": first,
            "sha256": sha, "expected": expected}


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "device": {"type": "path", "required": True},
            "confirm": {"type": "str", "required": True},
            "method": {"type": "str", "choices": ["zero", "random", "secure_discard"], "default": "zero"},
            "passes": {"type": "int", "default": 1},
            "state": {"type": "str", "choices": ["inspect", "wiped"], "default": "inspect"},
        },
        supports_check_mode=True,
    )
    p = module.params
    found = inspect(p["device"], p["confirm"])
    if not 1 <= p["passes"] <= MAX_PASSES:
        found["refusals"].append(f"sanitise_passes = {p['passes']} is not a whole number from 1 to {MAX_PASSES}")
    dev = found["device"]
    if p["method"] == "secure_discard" and dev.get("size_bytes") and not dev.get("discard"):
        found["refusals"].append(f"sanitise_method = secure_discard: {dev.get('name')} does not support discard "
                                 "(queue/discard_max_bytes is 0); use zero or random")
    if p["state"] == "inspect":
        module.exit_json(changed=False, **found)
    if found["refusals"]:  # the device changed since the inspection: still nothing is written
        module.fail_json(msg="refused, nothing was written: " + " | ".join(found["refusals"]), **found)
    if module.check_mode:
        module.exit_json(changed=True, msg=f"would wipe {dev['resolved']} ({dev['size_bytes']} bytes)", **found)
    path, size = dev["resolved"], dev["size_bytes"]
    started = time.monotonic()
    steps = []
    if p["method"] == "secure_discard":
        proc = subprocess.run(["blkdiscard", "--secure", path], capture_output=True, text=True, check=False)
        steps.append(f"blkdiscard --secure {path}: exit {proc.returncode} {proc.stderr.strip()}".strip())
        if proc.returncode != 0:
            module.fail_json(msg=f"blkdiscard --secure {path} failed (exit {proc.returncode}): {proc.stderr.strip()}; "
                             "the device does not support secure discard, use sanitise_method zero or random",
                             wipe={"steps": steps}, **found)
    try:
        written = overwrite(path, size, p["method"], p["passes"])
    except OSError as exc:
        module.fail_json(msg=f"writing {path} failed after starting: {exc}; the device is NOT sanitised",
                         wipe={"steps": steps}, **found)
    pattern = "random data" if p["method"] == "random" else "zeros"
    steps.append(f"{p['passes']} pass(es) of {pattern} over {size} bytes in {CHUNK} byte blocks (O_EXCL, fsync after "
                 "each pass)")
    check = verify(path, size, p["method"], written["expected_sha256"])
    steps.append(f"read back {check['bytes_read']} bytes after fsync and posix_fadvise(DONTNEED) of the page cache, "
                 f"expected {check['expected']}")
    module.exit_json(changed=True, wipe={**written, "verification": check, "steps": steps, "method": p["method"],
                                         "passes": p["passes"], "seconds": round(time.monotonic() - started, 3)},
                     **found)


if __name__ == "__main__":
    main()
