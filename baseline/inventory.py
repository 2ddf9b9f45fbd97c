"""Read an Ansible inventory the way Ansible does (same merge rules, vault decrypted) for Python code:
compliance tests, pyinfra deploys, `scripts/netdev`, `scripts/report`.

    inv = load("inventory/lab")
    inv.hosts("postgresql_servers")      -> ["db1"]
    inv.vars("db1")["password_min_length"] -> 10
"""

from __future__ import annotations

import os
import re
import subprocess
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from baseline import REPO_ROOT

DEFAULT_INVENTORY = REPO_ROOT / "inventory" / "lab"
VAULT_PASSWORD_SCRIPT = REPO_ROOT / "scripts" / "vault-password"


LOGIN_WAIT_S = 10.0  # seconds a client waits for one SSH login when the host sets no ansible_timeout


def login_wait(values: Any) -> float:
    """Seconds to wait for a host's SSH login: its ansible_timeout (Ansible's connection timeout, set per host for a
    slow link or an emulated machine) when the inventory sets a positive number, else LOGIN_WAIT_S."""
    try:
        wait = float(values.get("ansible_timeout", LOGIN_WAIT_S))
    except (AttributeError, TypeError, ValueError):
        return LOGIN_WAIT_S
    return wait if wait > 0 else LOGIN_WAIT_S


def inventory_path() -> Path:
    """The inventory in use: $BASELINE_INVENTORY, else the built-in lab."""
    return Path(os.environ.get("BASELINE_INVENTORY", DEFAULT_INVENTORY))


def vault_password() -> str | None:
    proc = subprocess.run([str(VAULT_PASSWORD_SCRIPT)], capture_output=True, text=True, check=False)
    return proc.stdout.strip() or None if proc.returncode == 0 else None


@dataclass
class Inventory:
    path: Path
    _manager: Any
    _variables: Any

    def hosts(self, pattern: str = "all") -> list[str]:
        """The hosts of an Ansible host pattern, as Ansible resolves it; a group or host the inventory does not
        have matches nothing, as in Ansible, but without its "Could not match supplied host pattern" warning (an
        inventory of a few hosts, such as the pyinfra twins', lacks groups the deploys name)."""
        known = pattern_without_unknown_names(pattern, set(self._manager.groups) | set(self._manager.hosts))
        return [] if known is None else [h.name for h in self._manager.get_hosts(known)]

    def groups(self) -> dict[str, list[str]]:
        return {name: [h.name for h in group.get_hosts()] for name, group in self._manager.groups.items()}

    def vars(self, host: str) -> dict[str, Any]:
        """Host variables after Ansible's precedence rules, plain Python values, vault values decrypted."""
        raw = self._variables.get_vars(host=self._manager.get_host(host), include_hostvars=False)
        return _plain(raw)


PLAIN_NAME = re.compile(r"[A-Za-z0-9_.-]+")


def pattern_without_unknown_names(pattern: str, names: set[str]) -> str | None:
    """An Ansible host pattern without the plain group or host names that are not in `names`, with the same hosts:
    an unknown name adds nothing ("a:x"), excludes nothing ("a:!x") and leaves nothing in an intersection ("a:&x":
    None); a pattern whose every host-adding term is unknown matches nothing (None). Wildcards, regular expressions
    and ranges stay as they are."""
    terms = [t for t in re.split(r"[:,]", pattern) if t]
    if not all(PLAIN_NAME.fullmatch(t.lstrip("!&")) for t in terms):
        return pattern
    kept = []
    for term in terms:
        name = term.lstrip("!&")
        if name in names or name == "all":
            kept.append(term)
        elif term.startswith("&"):
            return None
    if not any(not t.startswith(("!", "&")) for t in kept) and any(not t.startswith(("!", "&")) for t in terms):
        return None
    return ":".join(kept) if kept else "all"


def _plain(value: Any) -> Any:
    """Ansible's tagged and encrypted values as plain Python values (vault values decrypted)."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, bool) or value is None:
        return value
    for plain in (int, float):
        if isinstance(value, plain):
            return plain(value)
    return str(value)  # str subclasses, and EncryptedString, which decrypts on str()


@lru_cache(maxsize=8)
def load(path: str | os.PathLike | None = None) -> Inventory:
    from ansible.inventory.manager import InventoryManager
    from ansible.parsing.dataloader import DataLoader
    from ansible.parsing.vault import VaultSecret, VaultSecretsContext
    from ansible.vars.manager import VariableManager

    source = Path(path) if path else inventory_path()
    loader = DataLoader()
    secret = vault_password()
    if secret:
        secrets = [("default", VaultSecret(secret.encode()))]
        loader.set_vault_secrets(secrets)
        context = VaultSecretsContext.current(optional=True)
        if context is None:  # initialised once per process, as ansible's CLI does
            VaultSecretsContext.initialize(VaultSecretsContext(secrets))
        else:  # another inventory (another vault password) in the same process: try the newest first
            context.secrets = [*secrets, *context.secrets]
    manager = InventoryManager(loader=loader, sources=[str(source)])
    variables = VariableManager(loader=loader, inventory=manager)
    return Inventory(path=source, _manager=manager, _variables=variables)
