"""Every role template renders the same bytes under Ansible and pyinfra (STYLE: plain Jinja2 templates).

Values: the shared inventory values, a lab host's identity, the role's defaults. A template whose task passes
its own variables (loop items, per-database settings) cannot be rendered from those alone and is skipped here
with that reason; the lab tests exercise it."""

from pathlib import Path

import pytest
import yaml

from baseline import REPO_ROOT, templates

TEMPLATES = sorted(REPO_ROOT.glob("roles/*/templates/*.j2"))
HOST = {"inventory_hostname": "app1", "inventory_hostname_short": "app1", "ansible_host": "10.231.0.11",
        "host_kind": "container", "group_names": ["app_servers", "linux_servers"]}


def shared_values() -> dict:
    values = {}
    for path in sorted((REPO_ROOT / "inventory/group_vars/all").glob("*.yml")):
        values.update(yaml.safe_load(path.read_text(encoding="utf-8")) or {})
    return {**values, **HOST}


def renderable(path: Path) -> bool:
    import jinja2

    values = templates.role_values(path.parent.parent.name, shared_values())
    try:
        templates.render(path, values)
    except jinja2.UndefinedError:
        return False
    return True


def test_there_are_templates():
    assert len(TEMPLATES) >= 10


@pytest.mark.parametrize("path", TEMPLATES, ids=lambda p: str(p.relative_to(REPO_ROOT / "roles")))
def test_template_renders_the_same_bytes_under_ansible_and_pyinfra(path):
    if not renderable(path):
        pytest.skip("the template's task passes its own variables (loop item or per-service settings)")
    values = templates.role_values(path.parent.parent.name, shared_values())
    assert templates.render(path, values) == templates.render_with_ansible(path, values)


def test_the_comparison_catches_an_engine_difference(tmp_path):
    """A template ending in a value that itself ends with a newline renders differently when the two engines
    treat trailing newlines differently; the comparison must see that."""
    path = tmp_path / "x.j2"
    path.write_text("{{ text }}\n")
    values = {"text": "line\n"}
    assert templates.render(path, values) != templates.render_with_ansible(path, values)


def test_resolve_renders_nested_variables_but_keeps_secrets_as_data():
    """Inventory values naming other variables are resolved as Ansible resolves them; a secret variable is data,
    never a template, even when it holds Jinja's delimiters."""
    secret = "Ab1{%x{{y"  # noqa: S105 - a throw-away value holding the delimiters
    resolved = templates.resolve({"platform_name": "X", "banner": "{{ platform_name }}: authorised only",
                                  "nested": [{"to": "{{ platform_name }}"}], "backup_restic_password": secret})
    assert resolved["banner"] == "X: authorised only"
    assert resolved["nested"] == [{"to": "X"}]
    assert resolved["backup_restic_password"] == secret
