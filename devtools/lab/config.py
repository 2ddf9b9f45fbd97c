"""What the lab consists of and where its files live."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from baseline import REPO_ROOT

SUBNET_PREFIX = "10.231.0"
PREFIX_LEN = 24
BRIDGE = "cblab0"
CONTROLLER_ADDRESS = f"{SUBNET_PREFIX}.1"
AUTOMATION_USER = "automation"
# Debian releases the lab boots, by the codename apt knows: the version number Ansible's facts report, and the port
# the controller serves the release's offline repository on. Each release has its own base image, repository and VM
# image in the cache.
RELEASES = {"bookworm": "12", "trixie": "13"}
DEFAULT_RELEASE = "bookworm"
REPO_PORTS = {"bookworm": 8780, "trixie": 8781}
REPO_PORT = REPO_PORTS[DEFAULT_RELEASE]

# Cache shared by every checkout on this machine (base image, offline repository, VM image); rebuilt only when
# the package lists change. State of running hosts; both survive a killed run so `up` can clean up after it.
CACHE_DIR = Path(os.environ.get("BASELINE_LAB_CACHE", "/var/cache/baseline-lab"))
STATE_DIR = Path(os.environ.get("BASELINE_LAB_STATE", "/var/lib/baseline-lab"))
LOCK_FILE = Path("/run/baseline-lab.lock")
# Per-checkout secrets: SSH key of the automation account, vault password (never committed).
SECRETS_DIR = REPO_ROOT / ".lab"
INVENTORY_DIR = REPO_ROOT / "inventory" / "lab"
REPO_ROOT_INVENTORY = REPO_ROOT / "inventory"
PACKAGE_DIR = Path(__file__).resolve().parent


@dataclass(frozen=True)
class LabHost:
    name: str
    octet: int
    groups: tuple[str, ...]
    kind: str = "container"  # container or vm
    release: str = DEFAULT_RELEASE  # a key of RELEASES
    extra_vars: dict = field(default_factory=dict, hash=False, compare=False)

    @property
    def address(self) -> str:
        return f"{SUBNET_PREFIX}.{self.octet}"

    @property
    def connect_timeout(self) -> int:
        """Seconds a client waits for this host's SSH login (ansible_timeout, ssh ConnectTimeout, pyinfra's
        ssh_connect_timeout, the inspection's reachability probe)."""
        return VM_CONNECT_TIMEOUT_S if self.kind == "vm" else CONNECT_TIMEOUT_S


CONNECT_TIMEOUT_S = 10
# A VM host runs under software emulation (~30 times slower): one login (sshd's re-exec, key exchange, PAM session)
# takes about 5 s when the machine is idle and 15 to 20 s when the containers keep both cores busy.
VM_CONNECT_TIMEOUT_S = 60


CONTAINER_HOSTS: tuple[LabHost, ...] = (
    LabHost("app1", 11, ("app_servers", "backup_clients")),
    LabHost("db1", 12, ("postgresql_servers", "backup_clients")),
    LabHost("db2", 13, ("mariadb_servers", "backup_clients")),
    LabHost("log1", 14, ("log_servers", "backup_clients")),
    LabHost("bak1", 15, ("backup_servers",)),
    LabHost("drill1", 16, ("drill_hosts",)),
    # management host: runs the daily inspection and the scheduled verification on systemd timers (roles/management)
    LabHost("mgmt1", 21, ("management_hosts",)),
)
VM_HOSTS: tuple[LabHost, ...] = (LabHost("kern1", 20, ("kernel_hosts",), kind="vm"),)
ALL_HOSTS = CONTAINER_HOSTS + VM_HOSTS

# Extra app-class container hosts for the scale benchmark (`scripts/lab up --scale N`, devtools/bench/scale.py):
# scale01 ... scale24 at .101 ... .124, in app1's groups except backup_clients (that would need the backup store).
SCALE_MAX = 24
SCALE_FIRST_OCTET = 101
SCALE_GROUPS: tuple[str, ...] = tuple(
    g for h in CONTAINER_HOSTS if h.name == "app1" for g in h.groups if g != "backup_clients")


def scale_hosts(count: int) -> tuple[LabHost, ...]:
    """The first `count` scale hosts (0 ... SCALE_MAX)."""
    if isinstance(count, bool) or not isinstance(count, int) or not 0 <= count <= SCALE_MAX:
        raise ValueError(f"scale host count must be a whole number from 0 to {SCALE_MAX}, not {count!r}")
    return tuple(LabHost(f"scale{i:02d}", SCALE_FIRST_OCTET + i - 1, SCALE_GROUPS) for i in range(1, count + 1))


# Twins of app1, db1 and db2 for the pyinfra engine (`scripts/lab up --twins`): the same classes and groups (not
# backup clients: the store is Ansible's), applied by the pyinfra deploys while Ansible applies the originals. They
# have their own Ansible-format inventory (inventory/lab-twins), which Ansible's default inventory (inventory/lab)
# does not include: a lab run of Ansible never touches them unless given `-i inventory/lab-twins`.
TWIN_HOSTS: tuple[LabHost, ...] = (
    LabHost("app2", 17, ("app_servers",)),
    LabHost("db3", 18, ("postgresql_servers",)),
    LabHost("db4", 19, ("mariadb_servers",)),
)
TWIN_OF = {"app2": "app1", "db3": "db1", "db4": "db2"}
TWIN_INVENTORY_DIR = REPO_ROOT / "inventory" / "lab-twins"

# Debian 13 hosts beside the Debian 12 ones (`scripts/lab up --trixie`): one of each server class, in the groups of
# app1, db1 and db2 (backup clients of bak1 like them), and a drill host of their own: a restore drill needs the
# database servers of the backup's release (PostgreSQL 17, MariaDB 11.8), so drill13 restores the Debian 13
# database servers and drill1 the Debian 12 ones (restore_drill_*_sources per drill host, outputs.py). They are in
# the default inventory: a lab run of Ansible or pyinfra applies them like the others.
TRIXIE_HOSTS: tuple[LabHost, ...] = (
    LabHost("app13", 31, ("app_servers", "backup_clients"), release="trixie"),
    LabHost("pg13", 32, ("postgresql_servers", "backup_clients"), release="trixie"),
    LabHost("maria13", 33, ("mariadb_servers", "backup_clients"), release="trixie"),
    LabHost("drill13", 35, ("drill_hosts",), release="trixie"),
)
# With --vm as well: the VM kind on Debian 13 (its kernel-level controls: auditd, kernel.* sysctls, modules).
TRIXIE_VM_HOSTS: tuple[LabHost, ...] = (LabHost("kern13", 36, ("kernel_hosts",), kind="vm", release="trixie"),)
# Booted with them as Debian 12 and upgraded in place to 13 by tests/lab/test_trixie.py (apt full-upgrade from the
# trixie repository), the path existing servers take.
UPGRADE_HOSTS: tuple[LabHost, ...] = (LabHost("upg1", 34, ("app_servers", "backup_clients")),)
# The groups of the database servers a drill host restores (roles/restore_drill, restore_drill_<engine>_sources).
DRILL_SOURCE_GROUPS = {"postgresql": "postgresql_servers", "mariadb": "mariadb_servers"}

# Every host the lab can run: the standard ones, the twins, the Debian 13 hosts and all scale hosts.
KNOWN_HOSTS = ALL_HOSTS + TWIN_HOSTS + TRIXIE_HOSTS + TRIXIE_VM_HOSTS + UPGRADE_HOSTS + scale_hosts(SCALE_MAX)


def host_by_name(name: str) -> LabHost:
    for host in KNOWN_HOSTS:
        if host.name == name:
            return host
    raise KeyError(f"no lab host named {name!r}; lab hosts: "
                   f"{', '.join(h.name for h in ALL_HOSTS + TWIN_HOSTS + TRIXIE_HOSTS + TRIXIE_VM_HOSTS + UPGRADE_HOSTS)}, "
                   f"scale01 ... scale{SCALE_MAX:02d}")


def read_package_list(name: str, release: str = DEFAULT_RELEASE) -> list[str]:
    """The packages of a list for one release: a line `name @release` belongs to that release alone."""
    if release not in RELEASES:
        raise ValueError(f"no lab release {release!r}; releases: {', '.join(RELEASES)}")
    packages = []
    for line in (PACKAGE_DIR / name).read_text(encoding="utf-8").splitlines():
        package, _, only = line.split("#")[0].strip().partition("@")
        if package.strip() and only.strip() in ("", release):
            packages.append(package.strip())
    return packages
