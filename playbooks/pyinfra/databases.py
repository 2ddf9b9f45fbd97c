"""Databases and backups with pyinfra, the counterpart of playbooks/databases.yml (run after the server baseline;
site.py includes both).

    pyinfra inventory/lab/pyinfra_inventory.py playbooks/pyinfra/databases.py [--limit db3,db4] [--dry]
"""

from baseline import pyinfra_deploy as deploy

HOSTS = "postgresql_servers:mariadb_servers:backup_clients:backup_servers:drill_hosts"

deploy.check_preflight()
deploy.include("integrity_snapshot", snapshot_hosts=HOSTS)
deploy.include("postgresql")
deploy.include("mariadb")
deploy.include("backup")
deploy.include("settle", settle_hosts=HOSTS)
deploy.finish()
