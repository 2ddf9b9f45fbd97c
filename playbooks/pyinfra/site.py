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

# The run's access changes stand: the on-host rollback's copies go (lockout_guard disarm), as at the end of every
# deploy pyinfra is given; the parts above leave them to this call.
deploy.finish()
