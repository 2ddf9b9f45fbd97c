"""Role README variable tables, generated from meta/argument_specs.yml and defaults/main.yml (scripts/role-docs)."""

from __future__ import annotations

from pathlib import Path

import yaml

BEGIN = "<!-- BEGIN VARIABLES (scripts/role-docs) -->"
END = "<!-- END VARIABLES -->"


def _cell(value: object) -> str:
    text = value if isinstance(value, str) else yaml.safe_dump(value, default_flow_style=True, width=10_000).strip()
    text = text.removesuffix("\n...").strip()
    return "`" + text.replace("|", "\\|") + "`" if text != "" else ""


def variables_table(role: Path) -> str:
    specs = yaml.safe_load((role / "meta/argument_specs.yml").read_text(encoding="utf-8"))["argument_specs"]
    defaults_file = role / "defaults/main.yml"
    defaults = yaml.safe_load(defaults_file.read_text(encoding="utf-8")) if defaults_file.exists() else {}
    rows = ["| Variable | Type | Default | Description |", "|---|---|---|---|"]
    for name, option in specs["main"].get("options", {}).items():
        kind = option.get("type", "str")
        if option.get("elements"):
            kind += f" of {option['elements']}"
        default = _cell(defaults[name]) if name in (defaults or {}) else "*(required)*"
        description = " ".join(option.get("description", [])) if isinstance(option.get("description"), list) \
            else str(option.get("description", ""))
        rows.append(f"| `{name}` | {kind} | {default} | {description} |")
    return "\n".join(rows)


def render_readme(role: Path, current: str) -> str:
    """`current` with the text between the markers replaced by the table; markers appended when missing."""
    block = f"{BEGIN}\n{variables_table(role)}\n{END}"
    if BEGIN in current and END in current:
        head, rest = current.split(BEGIN, 1)
        return head + block + rest.split(END, 1)[1]
    return current.rstrip("\n") + "\n\n## Variables\n\n" + block + "\n"
