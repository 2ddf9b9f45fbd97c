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
REPO_PORT = 8780
AUTOMATION_USER = "automation"
SUITE = "bookworm"

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
    extra_vars: dict = field(default_factory=dict, hash=False, compare=False)

    @property
    def address(self) -> str:
        return f"{SUBNET_PREFIX}.{self.octet}"


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

# Every host the lab can run: the standard ones, the twins and all scale hosts.
KNOWN_HOSTS = ALL_HOSTS + TWIN_HOSTS + scale_hosts(SCALE_MAX)


def host_by_name(name: str) -> LabHost:
    for host in KNOWN_HOSTS:
        if host.name == name:
            return host
    raise KeyError(f"no lab host named {name!r}; lab hosts: {', '.join(h.name for h in ALL_HOSTS + TWIN_HOSTS)}, "
                   f"scale01 ... scale{SCALE_MAX:02d}")


def read_package_list(name: str) -> list[str]:
    lines = (PACKAGE_DIR / name).read_text(encoding="utf-8").splitlines()
    return [line.split("#")[0].strip() for line in lines if line.split("#")[0].strip()]
