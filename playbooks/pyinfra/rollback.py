"""pyinfra: rollback of a recorded change on servers (CM-01), the counterpart of playbooks/rollback.yml: the files an
Ansible or pyinfra change replaced go back from the copies that run kept on each host (baseline/pyinfra_rollback.py).

    pyinfra inventory/lab/pyinfra_inventory.py playbooks/pyinfra/rollback.py --data change_id=CHG-... \
        [--limit app1] [--dry] [--data rollback_force=true]
"""

from baseline import pyinfra_deploy as deploy
from baseline import pyinfra_rollback

pyinfra_rollback.run()
deploy.finish()
