"""Role README variable tables, generated from meta/argument_specs.yml and defaults/main.yml (scripts/role-docs).

`scripts/role-docs` writes (or with --check, compares) the variable table of each role README. The table sits
between the markers `<!-- BEGIN VARIABLES -->` and `<!-- END VARIABLES -->`; defaults come from
defaults/main.yml. Exit status 1 with --check when a README differs from what the specs say.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import yaml

from baseline import REPO_ROOT as ROOT

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


def main() -> int:
    parser = argparse.ArgumentParser(prog="scripts/role-docs", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="only compare; exit 1 when a README is out of date")
    parser.add_argument("roles", nargs="*", help="role names (default: every role with meta/argument_specs.yml)")
    args = parser.parse_args()
    names = args.roles or sorted(p.parent.parent.name for p in ROOT.glob("roles/*/meta/argument_specs.yml"))
    stale = []
    for name in names:
        readme = ROOT / "roles" / name / "README.md"
        current = readme.read_text(encoding="utf-8")
        wanted = render_readme(ROOT / "roles" / name, current)
        if wanted != current:
            stale.append(name)
            if not args.check:
                readme.write_text(wanted, encoding="utf-8")
    if stale:
        print(("out of date: " if args.check else "updated: ") + ", ".join(stale))
    return 1 if stale and args.check else 0


if __name__ == "__main__":
    sys.exit(main())
