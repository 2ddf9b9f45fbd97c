"""Lab secrets: the automation account's SSH key, a random vault password, and random policy-compliant
values for every secret variable the roles need (listed in secret-variables.txt). Values persist in .lab/
(never committed) and reach Ansible only vault-encrypted, inside the generated inventory."""

from __future__ import annotations

import json
import secrets
import string

from baseline.lab import config
from baseline.lab.outputs import key_path
from baseline.lab.system import run

VAULT_PASSWORD_FILE = config.SECRETS_DIR / "vault-password"
VALUES_FILE = config.SECRETS_DIR / "secrets.json"
SPECIALS = "!#%+,-.:=@^_~"


def ensure_ssh_key() -> str:
    path = key_path()
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "automation@baseline-lab", "-f", str(path)])
    return path.with_suffix(".pub").read_text().strip()


def ensure_vault_password() -> str:
    config.SECRETS_DIR.mkdir(parents=True, exist_ok=True, mode=0o700)
    if not VAULT_PASSWORD_FILE.exists():
        VAULT_PASSWORD_FILE.write_text(secrets.token_urlsafe(32) + "\n")
        VAULT_PASSWORD_FILE.chmod(0o600)
    return VAULT_PASSWORD_FILE.read_text().strip()


def random_password(length: int = 20) -> str:
    """Letters, digits and at least two special characters: passes the policy (第十六条(一)) with room to spare."""
    alphabet = string.ascii_letters + string.digits + SPECIALS
    while True:
        value = "".join(secrets.choice(alphabet) for _ in range(length))
        if (sum(c in SPECIALS for c in value) >= 2 and any(c.isalpha() for c in value)
                and any(c.isdigit() for c in value) and value[0].isalnum()):
            return value


def secret_variable_names() -> list[str]:
    return config.read_package_list("secret-variables.txt")


def ensure_values() -> dict[str, str]:
    values: dict[str, str] = {}
    if VALUES_FILE.exists():
        values = json.loads(VALUES_FILE.read_text())
    for name in secret_variable_names():
        values.setdefault(name, random_password())
    VALUES_FILE.write_text(json.dumps(values, indent=1, sort_keys=True))
    VALUES_FILE.chmod(0o600)
    return {name: values[name] for name in secret_variable_names()}


def vault_yaml(values: dict[str, str], password: str) -> str:
    """YAML lines `name: !vault |` with each value encrypted by ansible-vault."""
    from ansible.parsing.vault import VaultLib, VaultSecret

    vault = VaultLib([("default", VaultSecret(password.encode()))])
    out = []
    for name, value in sorted(values.items()):
        blob = vault.encrypt(value.encode()).decode()
        out.append(f"    {name}: !vault |\n" + "".join(f"      {line}\n" for line in blob.splitlines()))
    return "".join(out)
