"""Shared Python code of the security baseline: policy floors, control catalog, results, inventory, lab."""

from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
