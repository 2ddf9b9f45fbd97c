"""Every role has defaults, argument specs and a README whose variable table matches the specs."""

import subprocess

from baseline import REPO_ROOT


def test_every_role_has_defaults_specs_and_readme():
    roles = sorted(p for p in (REPO_ROOT / "roles").iterdir() if p.is_dir())
    assert roles
    for role in roles:
        for part in ("defaults/main.yml", "meta/argument_specs.yml", "README.md", "tasks/main.yml"):
            assert (role / part).is_file(), f"{role.name} has no {part}"


def test_role_readmes_match_their_argument_specs():
    proc = subprocess.run([str(REPO_ROOT / "scripts/role-docs"), "--check"], capture_output=True, text=True, check=False)
    assert proc.returncode == 0, f"README variable tables drifted from meta/argument_specs.yml: {proc.stdout}"
