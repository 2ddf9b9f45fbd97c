"""pyinfra counterpart of playbooks/restore_drill.yml (BR-03, 第十三条(三)): the integrity state before the run, the
drill host made ready (roles/restore_drill tasks/setup.yml), the latest off-site backup of every PostgreSQL and
MariaDB source restored there, started and compared table by table with the fingerprint taken at backup time
(python -m baseline.drill compare on the controller, as the role runs it), then the accounts and integrity state
after the drill host's packages (settle).

    pyinfra inventory/lab/pyinfra_inventory.py playbooks/pyinfra/restore_drill.py [--limit drill2] [--dry]

Results: results/restore-drill/<time>/*.json and results/restore-drill-<time>.jsonl, as with Ansible, and each
verdict kept on the drill host (restore_drill_records_dir/<source>-<engine>/<time>.json). A drill
always restores (it is a change, as in the role); --dry lists the drills and runs none. Any difference fails the
run. The keys that open the backups go into files of mode 600 in a root-only directory, never on a command line.
"""

from __future__ import annotations

import importlib.util
import json
import shlex
import subprocess
import sys
from datetime import UTC, datetime
from io import StringIO
from pathlib import Path
from typing import Any

from pyinfra import host, state
from pyinfra.facts.files import FileContents
from pyinfra.operations import apt, files, python

from baseline import REPO_ROOT
from baseline import pyinfra_deploy as deploy

ROLE = "restore_drill"
PATTERN = "drill_hosts"
STORE_HOST_KEY = "/etc/ssh/ssh_host_ed25519_key.pub"
# Loaded under this name (tests), the file defines its functions and deploys nothing.
HELPERS = "baseline_pyinfra_restore_drill_helpers"
ROLE_FILES = REPO_ROOT / "roles" / ROLE / "files"
# One stamp per run, as the role's set_fact once per host and play.
STAMP = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")


def _mariadb_helpers() -> Any:
    path = Path(__file__).resolve().parent / "mariadb.py"
    spec = importlib.util.spec_from_file_location("baseline_pyinfra_mariadb_helpers", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


helpers = _mariadb_helpers()


def refuse(message: str) -> None:
    print(f"{deploy.name()}: {message}", file=sys.stderr)
    raise SystemExit(deploy.EXIT_REFUSED)


def store_host_key(store: str) -> str:
    """`type key` of the store's SSH host key, read on the store (the role's slurp delegated to it)."""
    for other in state.inventory:
        if str(other.data.get("baseline_host") or other.name) == store:
            found = other.get_fact(FileContents, path=STORE_HOST_KEY, _sudo=True)
            text = "\n".join(found) if isinstance(found, list) else str(found or "")
            if not text.split():
                refuse(f"BR-03: the store {store} has no {STORE_HOST_KEY}")
            return " ".join(text.split()[:2])
    refuse(f"BR-03: the store {store} is not in the pyinfra inventory: its host key cannot be read")
    return ""


def drill_values() -> dict[str, Any]:
    store = deploy.host_vars().get("backup_store_host")
    from baseline import inventory

    found = inventory.load(str(deploy.inventory_dir())).vars(store) if store else {}
    return deploy.values(ROLE, facts={"hostvars": {store: found}, "role_path": str(REPO_ROOT / "roles" / ROLE),
                                       "playbook_dir": str(REPO_ROOT / "playbooks")})


def setup(v: dict[str, Any]) -> None:
    deploy.refresh_package_index()
    if helpers.packages_missing(v["restore_drill_packages"]):
        apt.packages(name="BR-03 | Database servers and backup tools of the drill host",
                     packages=v["restore_drill_packages"])
    conf = v["restore_drill_config_dir"]
    files.directory(name="BR-03 | Drill configuration directory (root only)", path=conf, present=True, user="root",
                    group="root", mode="700")
    files.directory(name="BR-03 | Verdicts of the drills kept on the drill host (root only; the daily inspection reads "
                    "them)", path=v["restore_drill_records_dir"], present=True, user="root", group="root", mode="700")
    for item in v["restore_drill_secret_files"]:
        helpers.put_secret(f"BR-03 | Keys that open the backups (kept on the drill host only for the drill): "
                           f"{item['file']}", str(item["value"]), f"{conf}/{item['file']}")
    files.put(name="BR-03 | Pin the store's host key",
              src=StringIO(f"{v['restore_drill_store_address']} {store_host_key(v['backup_store_host'])}\n"),
              dest=f"{conf}/known_hosts", user="root", group="root", mode="600")
    env = dict(v, drill_root=v["restore_drill_root"], store_address=v["restore_drill_store_address"],
               store_root=v["backup_store_root"], ssh_key=v["restore_drill_ssh_key"], config_dir=conf,
               database=v["database_name"], pg_version=v["restore_drill_postgresql_version"])
    files.put(name="BR-03 | Drill settings", src=StringIO(deploy.render(ROLE, "drill.env.j2", env)),
              dest=f"{conf}/drill.env", user="root", group="root", mode="600")
    for script in v["restore_drill_scripts"]:
        source = Path(script) if "/" in script else ROLE_FILES / script
        files.put(name=f"BR-03 | Drill and fingerprint scripts: {source.name}", src=str(source.resolve()),
                  dest=f"/usr/local/sbin/{source.name}", user="root", group="root", mode="755")


def keep_verdict(verdict: Path, records_dir: str, engine: str, source: str) -> None:
    """The drill's verdict (JSON) kept on the drill host as the role keeps it, where the daily inspection reads it:
    RECORDS_DIR/<source>-<engine>/<time>.json, root's alone. The content goes on standard input."""
    directory = f"{records_dir}/{source}-{engine}"
    command = (f"install -d -o root -g root -m 0700 {shlex.quote(directory)} && umask 077 && "
               f"cat > {shlex.quote(f'{directory}/{STAMP}.json')}")
    ok, output = host.run_shell_command(command, _sudo=True, _stdin=verdict.read_text(encoding="utf-8"))
    if not ok:
        raise RuntimeError(f"the verdict of the drill of {source} ({engine}) could not be kept in {directory}: "
                           f"{output.stderr[-500:]}")


def run_drill(engine: str, source: str, results_dir: str, records_dir: str) -> None:
    """On the drill host: restore and fingerprint (baseline-restore-drill); on the controller: both fingerprints
    fetched, compared, and the result recorded (JSON and the BR-03 record), the verdict kept on the drill host too.
    A difference fails the operation."""
    ok, output = host.run_shell_command(f"/usr/local/sbin/baseline-restore-drill {engine} {source}", _sudo=True)
    if not ok:
        raise RuntimeError(f"restore drill of {source} ({engine}) failed: {output.stderr[-2000:]}")
    outcome = json.loads(output.stdout.strip().splitlines()[-1])
    directory = Path(results_dir) / "restore-drill" / STAMP
    directory.mkdir(parents=True, exist_ok=True)
    for kind in ("source", "restored"):
        # read through sudo, not fetched with pyinfra's get_file: its temporary copy gets `chmod +r`, which the
        # hardened umask of sudo (0027) keeps from the connecting account, and the fetch left an empty file
        remote = f"{outcome['work']}/{kind}.json"
        ok, read = host.run_shell_command(f"cat {shlex.quote(remote)}", _sudo=True)
        if not ok or not read.stdout.strip():
            raise RuntimeError(f"{remote} could not be read: {read.stderr[-500:]}")
        (directory / f"{source}-{engine}-{kind}.json").write_text(read.stdout + "\n", encoding="utf-8")
    compare = subprocess.run(
        [sys.executable, "-m", "baseline.drill", "compare", f"--asset={source}", f"--engine={engine}",
         f"--backup={outcome['label']}", f"--source={directory}/{source}-{engine}-source.json",
         f"--restored={directory}/{source}-{engine}-restored.json", f"--json-out={directory}/{source}-{engine}.json",
         f"--results-file={results_dir}/restore-drill-{STAMP}.jsonl", f"--seconds={outcome['seconds']}"],
        cwd=REPO_ROOT, capture_output=True, text=True, check=False)
    verdict = directory / f"{source}-{engine}.json"
    if verdict.is_file():  # a failed comparison is kept too, then fails the operation
        keep_verdict(verdict, records_dir, engine, source)
    for line in compare.stdout.splitlines():
        print(f"{deploy.name()}: BR-03 | Drill outcome: {line}")
    if compare.returncode != 0:
        raise RuntimeError(f"restore drill of {source} ({engine}): {compare.stderr.strip() or compare.stdout.strip()}")


def drills(v: dict[str, Any]) -> None:
    results = str(Path(v["restore_drill_results_dir"]).resolve())
    for engine, sources in (("postgresql", v["restore_drill_postgresql_sources"]),
                            ("mariadb", v["restore_drill_mariadb_sources"])):
        for source in sources:
            python.call(name=f"BR-03 | Restore the latest {engine} backup of {source} on the drill host, compare row "
                        "counts and table checksums, record the result", function=run_drill, engine=engine,
                        source=source, results_dir=results, records_dir=v["restore_drill_records_dir"])


def main() -> None:
    deploy.check_preflight()
    deploy.include("integrity_snapshot", snapshot_hosts=PATTERN)
    if deploy.targets(PATTERN):
        values = drill_values()
        setup(values)
        drills(values)
    deploy.include("settle", settle_hosts=PATTERN)
    deploy.finish()


if __name__ != HELPERS:
    main()
