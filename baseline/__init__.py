"""The runtime of the security baseline (what production runs): policy floors, control catalog, results, inventory,
secrets, network devices, compliance-check support, report, operations. Development tooling lives in devtools/."""

import os
from pathlib import Path

# The project's checkout, where catalog/, inventory/, roles/, changes/ and results/ are: $BASELINE_ROOT where it
# is set (the execution environment, whose package is installed apart from the checkout, sets it to the project
# directory of an AWX job: docs/awx.md), else the package's parent directory (installed from the checkout, editable,
# as scripts/setup does).
REPO_ROOT = Path(os.environ.get("BASELINE_ROOT") or Path(__file__).parent.parent).resolve()
