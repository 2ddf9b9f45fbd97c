"""Benchmark of backups and restores on the lab: generate a data set of a stated size in PostgreSQL (db1) and
MariaDB (db2), run a full backup, add a slice of rows and run an incremental one, then the restore drill on
drill1. Prints one line per figure: data size, backup and restore times, local, off-site and fetched sizes.

Takes the lab lock, boots db1, db2, bak1 and drill1, applies playbooks/databases.yml, and tears the lab down at
the end. Rows are 1 kB each (an id, a time stamp and md5-derived text, which compresses about 2:1).
"""

import argparse
import fcntl
import json
import os
import subprocess
import sys
import time
from pathlib import Path

from baseline import REPO_ROOT as ROOT
from devtools.lab import config

SSH = ["ssh", "-F", str(config.INVENTORY_DIR / "ssh_config")]
HOSTS = {"postgresql": "db1", "mariadb": "db2"}
ROW_BYTES = 1024
# 1 kB rows: 31 md5 digests of distinct numbers, i.e. deterministic, half-compressible text (hex digits).
# The SQL is built from constants only.
PG_ROWS = ("INSERT INTO bench_rows SELECT n, now(), concat("  # noqa: S608
           + ", ".join(f"md5((n * 31 + {k})::text)" for k in range(31)) + ") FROM generate_series({first}, {last}) AS n")
MARIA_ROWS = ("INSERT INTO bench_rows SELECT seq, NOW(), CONCAT("  # noqa: S608
              + ", ".join(f"MD5(seq * 31 + {k})" for k in range(31)) + ") FROM seq_{first}_to_{last}")


def sh(host: str, command: str, timeout: float = 7200) -> str:
    proc = subprocess.run([*SSH, host, command], capture_output=True, text=True, timeout=timeout, check=False)
    if proc.returncode != 0:
        sys.exit(f"{host}: {command}\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}")
    return proc.stdout.strip()


def timed(host: str, command: str) -> float:
    start = time.monotonic()
    sh(host, command)
    return time.monotonic() - start


def sql(engine: str, statement: str) -> str:
    if engine == "postgresql":
        return sh(HOSTS[engine], f"sudo -u postgres psql -XAt -v ON_ERROR_STOP=1 -d credit -c \"{statement}\"")
    return sh(HOSTS[engine], f"sudo mariadb --batch --skip-column-names credit -e \"{statement}\"")


def load(engine: str, first: int, last: int, batch: int = 200_000) -> None:
    template = PG_ROWS if engine == "postgresql" else MARIA_ROWS
    for start in range(first, last + 1, batch):
        sql(engine, template.format(first=start, last=min(last, start + batch - 1)))


def data_bytes(engine: str) -> int:
    if engine == "postgresql":
        return int(sql(engine, "SELECT pg_database_size('credit')"))
    return du(HOSTS[engine], "/var/lib/mysql/credit")  # information_schema sizes lag until ANALYZE


def du(host: str, path: str) -> int:
    return int(sh(host, f"sudo du -sb {path}").split()[0])


def mib(value: float) -> str:
    return f"{value / 1048576:.0f} MiB"


def run(args: argparse.Namespace) -> None:
    lab = str(ROOT / "scripts/lab")
    env = {**os.environ, "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg")}
    subprocess.run([lab, "up", "--no-devices", "--hosts", "db1,db2,bak1,drill1"], check=True, capture_output=True)
    bin_dir = Path(sys.executable).parent
    proc = subprocess.run([str(bin_dir / "ansible-playbook"), "playbooks/databases.yml"], cwd=ROOT, env=env,
                          capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        sys.exit("playbooks/databases.yml failed:\n" + proc.stdout[-3000:])
    rows = args.size_mb * 1048576 // ROW_BYTES
    extra = max(1, rows * args.incremental_percent // 100)
    print(f"data set: {args.size_mb} MiB requested = {rows} rows of {ROW_BYTES} bytes per engine; "
          f"incremental adds {extra} rows ({args.incremental_percent} %)")
    for engine in args.engines:
        host = HOSTS[engine]
        sql(engine, "CREATE TABLE bench_rows (id bigint primary key, at timestamp, payload "
                    + ("text)" if engine == "postgresql" else "TEXT) ENGINE=InnoDB"))
        start = time.monotonic()
        load(engine, 1, rows)
        print(f"{engine}: generated in {time.monotonic() - start:.1f} s; database size {mib(data_bytes(engine))}")
        full = timed(host, f"sudo systemctl start baseline-backup@{engine}-full")
        state = json.loads(sh(host, f"sudo cat /var/lib/baseline-backup/{engine}.json"))
        local = du(host, "/var/lib/pgbackrest" if engine == "postgresql" else "/var/backups/baseline/mariadb")
        offsite = du("bak1", f"/srv/backup/{host}")
        print(f"{engine}: full backup {full:.1f} s (incl. checksums, fingerprint, off-site copy); "
              f"backup {mib(state['last_full']['bytes'])}, local copy {mib(local)}, off-site {mib(offsite)}")
        load(engine, rows + 1, rows + extra)
        incr = timed(host, f"sudo systemctl start baseline-backup@{engine}-incr")
        state = json.loads(sh(host, f"sudo cat /var/lib/baseline-backup/{engine}.json"))
        offsite_after = du("bak1", f"/srv/backup/{host}")
        print(f"{engine}: incremental backup {incr:.1f} s; backup {mib(state['last_incremental']['bytes'])}, "
              f"off-site grew by {mib(offsite_after - offsite)}")
    start = time.monotonic()
    sources = {f"restore_drill_{engine}_sources": [HOSTS[engine]] if engine in args.engines else []
               for engine in HOSTS}
    proc = subprocess.run([str(bin_dir / "ansible-playbook"), "playbooks/restore_drill.yml", "-e", json.dumps(sources)],
                          cwd=ROOT, env=env, capture_output=True, text=True, check=False)
    drill_total = time.monotonic() - start
    if proc.returncode != 0:
        sys.exit("restore drill failed:\n" + proc.stdout[-3000:])
    latest = sorted((ROOT / "results" / "restore-drill").iterdir())[-1]
    for engine in args.engines:
        outcome = json.loads((latest / f"{HOSTS[engine]}-{engine}.json").read_text())
        print(f"{engine}: restore (fetch off-site, restore, start, fingerprint) {outcome['seconds']:.0f} s; "
              f"{outcome['rows_restored']}/{outcome['rows_source']} rows, {outcome['rows_lost']} lost, "
              f"{'checksums equal' if outcome['passed'] else 'DIFFERENCES'}")
    print(f"restore drill playbook, all engines: {drill_total:.1f} s")


def main() -> int:
    parser = argparse.ArgumentParser(prog="scripts/bench-backup", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size-mb", type=int, default=1024,
                        help="size of the generated data set per engine, MiB of 1 kB rows (default 1024 = 1 GiB)")
    parser.add_argument("--incremental-percent", type=int, default=5,
                        help="rows added between the full and the incremental backup, percent of the data set")
    parser.add_argument("--engines", default="postgresql,mariadb", type=lambda v: v.split(","),
                        help="comma-separated engines to measure (postgresql, mariadb)")
    args = parser.parse_args()
    config.LOCK_FILE.parent.mkdir(parents=True, exist_ok=True)
    with open(config.LOCK_FILE, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        os.environ["BASELINE_LAB_LOCK_HELD"] = "1"
        try:
            run(args)
        finally:
            subprocess.run([str(ROOT / "scripts/lab"), "down"], capture_output=True, check=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
