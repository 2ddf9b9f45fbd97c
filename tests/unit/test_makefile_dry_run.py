"""`make -n` prints what a target would do and runs nothing: no recipe line of `test` names $(MAKE) directly (make
runs such a line even under -n, and it would start the whole suite)."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from baseline import REPO_ROOT


@pytest.mark.parametrize("target", ["test", "test-extended", "test-trixie", "demo"])
def test_make_n_prints_the_recipe_and_starts_nothing(target, tmp_path):
    shutil.copy(REPO_ROOT / "Makefile", tmp_path / "Makefile")
    proc = subprocess.run(["make", "-n", target], cwd=tmp_path, capture_output=True, text=True, timeout=60,
                          check=False)
    assert proc.returncode == 0, proc.stderr
    assert "scripts/setup" in proc.stdout  # the recipe is printed, prerequisites first
    assert sorted(p.name for p in tmp_path.iterdir()) == ["Makefile"], "make -n ran a recipe line"
