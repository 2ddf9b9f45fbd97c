"""The runtime of the security baseline (what production runs): policy floors, control catalog, results, inventory,
secrets, network devices, compliance-check support, report, operations. Development tooling lives in devtools/."""

from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
