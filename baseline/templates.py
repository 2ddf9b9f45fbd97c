"""One rendering of the roles' templates for Ansible and pyinfra alike.

Templates are plain Jinja2. Ansible's template module renders with trim_blocks on; pyinfra's files.template and
`get_template` take Jinja2 options as `jinja_env_kwargs`, so both are handed RENDER_OPTIONS and produce the same
bytes (tests/unit/test_templates.py proves it per template). Values are the role's defaults under the host's
inventory variables, with Jinja expressions in them resolved by Ansible's own rules.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from baseline import REPO_ROOT

RENDER_OPTIONS: dict[str, Any] = {"trim_blocks": True, "lstrip_blocks": False}


def template_path(role: str, name: str) -> Path:
    return REPO_ROOT / "roles" / role / "templates" / name


def role_values(role: str, host_vars: dict[str, Any]) -> dict[str, Any]:
    """The role's defaults under `host_vars` (inventory wins), expressions such as "{{ password_min_length }}"
    resolved. A value whose expression cannot be resolved outside a play (facts, registered results) is left out."""
    defaults_file = REPO_ROOT / "roles" / role / "defaults" / "main.yml"
    defaults = yaml.safe_load(defaults_file.read_text(encoding="utf-8")) or {} if defaults_file.exists() else {}
    return resolve({**defaults, **host_vars})


def resolve(merged: dict[str, Any]) -> dict[str, Any]:
    """`merged` with every Jinja expression resolved by Ansible's templating over `merged` itself (nested
    variables included). A value that cannot be resolved outside a play (facts, registered results) is left out."""
    from ansible.parsing.dataloader import DataLoader
    from ansible.template import Templar

    from baseline.inventory import _plain
    from baseline.secrets import secret_variable_names

    secret = set(secret_variable_names())
    # a secret is data, never a template: a password holding "{%" stays as it is (and is never rendered)
    trusted = {key: value if key in secret or key.startswith("vault_") else _trusted(value)
               for key, value in merged.items()}
    templar = Templar(loader=DataLoader(), variables=trusted)
    resolved = {}
    for key, value in trusted.items():
        try:
            resolved[key] = _plain(templar.template(value))
        except Exception:  # noqa: BLE001, S112 - facts and registered values exist only inside a play
            continue
    return resolved


def _trusted(value: Any) -> Any:
    """Plain strings (read with yaml.safe_load, e.g. a role's defaults) marked as templates, as Ansible marks the
    variables it loads itself: ansible-core renders only trusted text. Ansible's own (tagged) values stay as they
    are."""
    from ansible.template import trust_as_template

    if type(value) is str:
        return trust_as_template(value) if "{{" in value or "{%" in value else value
    if isinstance(value, dict):
        return {k: _trusted(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_trusted(v) for v in value]
    return value


def render(path: Path, values: dict[str, Any]) -> str:
    """Render as pyinfra does (its own template loader), with the options Ansible uses."""
    from pyinfra.api.util import get_template

    return get_template(str(path), dict(RENDER_OPTIONS)).render(values)


def render_with_ansible(path: Path, values: dict[str, Any]) -> str:
    """Render as Ansible's template action does (same overrides, same trailing-newline handling)."""
    from ansible.parsing.dataloader import DataLoader
    from ansible.template import Templar, trust_as_template

    templar = Templar(loader=DataLoader(), variables=values)
    overrides = {**RENDER_OPTIONS, "newline_sequence": "\n"}
    source = trust_as_template(path.read_text(encoding="utf-8"))
    return templar.template(source, escape_backslashes=False, overrides=overrides)
