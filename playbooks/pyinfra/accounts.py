"""pyinfra deploy of the authentication baseline (IA-02, IA-03, IA-04, IA-05): the same templates and the same
inventory values as roles/accounts, rendered to the same bytes (baseline/templates.py).

    pyinfra inventory/lab/pyinfra_inventory.py playbooks/pyinfra/accounts.py [--limit app1] [--dry]

Policy values are checked against the floors before any host is touched. The sshd drop-in is validated with
`sshd -t` before it replaces the installed one; Ansible's role adds the real-login PAM test and the roster.
"""

from io import StringIO

from pyinfra import host
from pyinfra.operations import files, server

from baseline import inventory, policy, templates

ROLE = "accounts"
SSHD_DROPIN = "/etc/ssh/sshd_config.d/50-baseline.conf"
# Staged outside the directories the integrity database watches (IP-05): a staged copy is not a configuration.
STAGED = "/var/lib/baseline-pyinfra/50-baseline.conf.staged"

values = templates.role_values(ROLE, inventory.load().vars(host.name))
values.update(policy.validate(values, where=host.name))  # numbers written as text become numbers


def rendered(name: str) -> StringIO:
    return StringIO(templates.render(templates.template_path(ROLE, name), values))


for item in values["accounts_pam_files"]:
    files.put(name=f"IA-02 | {item['dest']}", src=rendered(item["src"]), dest=item["dest"],
              user="root", group="root", mode="644")

files.put(name="IA-04 | Shell idle timeout and umask", src=rendered("tmout.sh.j2"),
          dest="/etc/profile.d/50-baseline.sh", user="root", group="root", mode="644")
files.put(name="IA-05 | Login banner", src=rendered("issue.net.j2"), dest="/etc/issue.net",
          user="root", group="root", mode="644")

files.directory(name="IA-05 | Staging directory", path=STAGED.rsplit("/", 1)[0], user="root", group="root", mode="700")
staged = files.put(name="IA-05 | Stage the sshd drop-in", src=rendered("sshd-baseline.conf.j2"),
                   dest=STAGED, user="root", group="root", mode="600")
server.shell(
    name="IA-05 | Install the sshd drop-in after sshd -t accepts it (when it differs), then reload",
    commands=[f"cmp -s {STAGED} {SSHD_DROPIN} || ( /usr/sbin/sshd -t -f {STAGED} && cp {STAGED} {SSHD_DROPIN} "
              f"&& chmod 600 {SSHD_DROPIN} && /usr/sbin/sshd -t && systemctl reload ssh )"],
    _if=staged.did_change,
)
