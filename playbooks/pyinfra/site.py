"""The whole baseline with pyinfra, the counterpart of playbooks/site.yml: servers, then databases and backups, the
management host, then network devices. The pre-flight checks every host before any operation runs.

    pyinfra inventory/lab/pyinfra_inventory.py playbooks/pyinfra/site.py [--limit app2] [--dry]
"""

from baseline import pyinfra_deploy as deploy

deploy.check_preflight()
deploy.include("linux")
deploy.include("databases")
deploy.include("management")
deploy.include("network")
