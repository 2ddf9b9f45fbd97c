"""pyinfra deploy of roles/audit tasks/log_permissions.yml (AU-03): log files under /var/log readable by root and
adm only. Part of the audit deploy, and run again at the end of the server baseline as playbooks/linux.yml does
(roles after audit install packages and start services that create logs readable by everyone).

    pyinfra inventory/lab/pyinfra_inventory.py playbooks/pyinfra/log_permissions.py [--limit HOST] [--dry]

The files are found when pyinfra prepares the run; the operation exists only when some are readable by others.
"""

from __future__ import annotations

from pyinfra import host
from pyinfra.facts.server import Command
from pyinfra.operations import server

from baseline import pyinfra_deploy as deploy

HOSTS = "linux_servers:!kernel_hosts"
FIND = "find /var/log -xdev -type f -perm /o+rwx"


def main() -> None:
    if not deploy.targets(HOSTS):
        return
    found = host.get_fact(Command, command=f"{FIND} -printf '%p\\n' 2>/dev/null || true")
    if not str(found or "").strip():
        return
    server.shell(name="AU-03 | Log directory and files readable by root and adm only",
                 commands=[f"{FIND} -exec chmod o-rwx {{}} +"])


# Run by audit.py in its course (run_name PART_OF_AUDIT): there only the operation, no pre-flight or finish of its own.
PART_OF_AUDIT = "log_permissions_in_audit"
if __name__ != PART_OF_AUDIT:
    deploy.check_preflight()
    main()
    deploy.finish()
