"""Lab secrets: the automation account's SSH key, a random vault password, and random policy-compliant
values for every secret variable of baseline/secret-variables.txt, made by the runtime's generator
(baseline.secrets). Values persist in .lab/ (never committed) and reach Ansible only vault-encrypted, inside the
generated inventory."""

from __future__ import annotations

import json
from typing import Any

import yaml

from baseline.secrets import generate, generate_values, secret_variable_names
from devtools.lab import config
from devtools.lab.outputs import key_path
from devtools.lab.system import run

VAULT_PASSWORD_FILE = config.SECRETS_DIR / "vault-password"
VALUES_FILE = config.SECRETS_DIR / "secrets.json"


def ensure_ssh_key() -> str:
    path = key_path()
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "automation@baseline-lab", "-f", str(path)])
    return path.with_suffix(".pub").read_text().strip()


def ensure_vault_password() -> str:
    config.SECRETS_DIR.mkdir(parents=True, exist_ok=True, mode=0o700)
    if not VAULT_PASSWORD_FILE.exists():
        VAULT_PASSWORD_FILE.write_text(generate(length=32, name="the lab's vault password") + "\n")
        VAULT_PASSWORD_FILE.chmod(0o600)
    return VAULT_PASSWORD_FILE.read_text().strip()


def _shared_group_vars() -> dict[str, Any]:
    """inventory/group_vars/all/*.yml merged (plain values only: roster, policy, platform)."""
    merged: dict[str, Any] = {}
    for path in sorted((config.INVENTORY_DIR.parent / "group_vars" / "all").glob("*.yml")):
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        if isinstance(data, dict):
            merged.update(data)
    return merged


def ensure_values() -> dict[str, Any]:
    """Every lab secret, generated once and kept in .lab/secrets.json: the names of baseline/secret-variables.txt,
    servers' and network devices' (per-device-account passwords follow the roster: new accounts get a value)."""
    stored: dict[str, Any] = json.loads(VALUES_FILE.read_text()) if VALUES_FILE.exists() else {}
    fresh = generate_values(_shared_group_vars())
    for name, value in fresh.items():
        if isinstance(value, dict):
            previous = stored.get(name)
            kept = previous if isinstance(previous, dict) else {}
            stored[name] = {key: kept.get(key, new) for key, new in value.items()}
        else:
            stored.setdefault(name, value)
    VALUES_FILE.write_text(json.dumps(stored, indent=1, sort_keys=True))
    VALUES_FILE.chmod(0o600)
    return {name: stored[name] for name in secret_variable_names()}


def vault_yaml(values: dict[str, Any], password: str, indent: int = 4) -> str:
    """YAML lines `name: !vault |` with each string encrypted by ansible-vault (dicts: each leaf)."""
    from ansible.parsing.vault import VaultLib, VaultSecret

    vault = VaultLib([("default", VaultSecret(password.encode()))])
    pad = " " * indent
    out = []
    for name, value in sorted(values.items()):
        if isinstance(value, dict):
            out.append(f"{pad}{name}:\n" + vault_yaml(value, password, indent + 2))
            continue
        blob = vault.encrypt(str(value).encode()).decode()
        out.append(f"{pad}{name}: !vault |\n" + "".join(f"{pad}  {line}\n" for line in blob.splitlines()))
    return "".join(out)


STAFF_KEY_DIR = config.SECRETS_DIR / "staff"


def staff_key_path(username: str):
    return STAFF_KEY_DIR / username / "id_ed25519"


def ensure_staff_keys() -> dict[str, list[str]]:
    """One SSH key pair per person of the roster (inventory/group_vars/all/staff.yml), kept in .lab/staff/.

    The roster stays the single source of who exists; the lab only supplies the keys it leaves empty, through
    the inventory variable `staff_ssh_keys` (username -> public keys)."""
    import yaml

    roster = yaml.safe_load((config.REPO_ROOT_INVENTORY / "group_vars/all/staff.yml").read_text(encoding="utf-8"))
    keys: dict[str, list[str]] = {}
    for person in roster.get("staff", []):
        name = person["username"]
        path = staff_key_path(name)
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", f"{name}@baseline-lab", "-f", str(path)])
        keys[name] = [path.with_suffix(".pub").read_text().strip()]
    return keys
