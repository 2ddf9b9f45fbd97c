"""The Linux server baseline with pyinfra, the counterpart of playbooks/linux.yml: the same parts on the same hosts in
the same order, from the same templates and inventory values (baseline/pyinfra_deploy.py).

    pyinfra inventory/lab/pyinfra_inventory.py playbooks/pyinfra/linux.py [--limit app2] [--dry]
"""

from baseline import pyinfra_deploy as deploy

deploy.check_preflight()
deploy.include("integrity_snapshot", snapshot_hosts="linux_servers")
deploy.include("pki")
if deploy.targets("linux_servers"):
    deploy.refresh_package_index()
deploy.include("logserver")
for part in ("accounts", "audit", "hardening", "antimalware"):
    deploy.include(part)
deploy.finish()
deploy.include("log_permissions")
deploy.include("integrity_approve")
