"""Action plugin: check a host's platform values (networks, the controller's address towards the host, log
server, time sources, signature mirror, backup store) on the controller only.

It never opens a connection to the host. The rules live in baseline/platform.py; this file hands over Ansible's
merged variables and how Ansible would connect (the connection plugin's options, unconnected).
"""

from __future__ import annotations

from ansible.plugins.action import ActionBase

try:
    from baseline import platform
    from baseline.inventory import _plain as plain
except ImportError as exc:
    raise ImportError(f"{exc}: run Ansible from the project's virtualenv (scripts/setup installs baseline there)") from exc

VARIABLES = (*platform.NETWORK_VARIABLES, *platform.ADDRESS_VARIABLES, *platform.PORT_VARIABLES, "ntp_servers",
             "backup_store_host", "backup_store_root", platform.OVERRIDE, platform.DEVICE_OVERRIDE)
NOT_OVER_THE_NETWORK = ("local", "ansible.builtin.local")


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _requires_connection = False

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        task_vars = task_vars or {}
        host = task_vars.get("inventory_hostname", "")
        groups = {name: list(members) for name, members in (task_vars.get("groups") or {}).items()}
        values, problems = {}, []
        for name in VARIABLES:
            if name in task_vars:
                try:
                    values[name] = plain(self._templar.template(task_vars[name]))
                except Exception as exc:  # noqa: BLE001 - the message names the variable; Ansible's says why
                    problems.append(f"{host}: {name} cannot be evaluated: {exc}")
        problems += platform.check_host(values, groups, host, self._reach_of(task_vars, values, host, groups),
                                        self._store_address(task_vars, values))
        result["changed"] = False
        if problems:
            result["failed"] = True
            result["msg"] = "Platform values refused before any host is contacted:\n" + "\n".join(problems)
        else:
            result["msg"] = "platform values pass: networks, controller address, log server, time, backup store"
        return result

    def _store_address(self, task_vars, values):
        store = values.get("backup_store_host")
        hostvars = task_vars.get("hostvars") or {}
        if not isinstance(store, str) or store not in hostvars:
            return store
        return plain(self._templar.template(hostvars[store].get("ansible_host", store)))

    def _option(self, name):
        try:
            return self._connection.get_option(name)
        except Exception:  # noqa: BLE001 - an option the plugin does not have
            return None

    def _reach_of(self, task_vars, values, host, groups):
        """How the controller reaches this host, as a function (called only when admin_networks is valid)."""
        if host in groups.get(platform.DEVICE_GROUP, []):
            if platform.DEVICE_OVERRIDE in values:
                return lambda: platform.explicit(platform.DEVICE_OVERRIDE, values[platform.DEVICE_OVERRIDE])
            target = str(plain(self._templar.template(task_vars.get("ansible_host", host))))
            return lambda: platform.reach(platform.SshView(hostname=target, port=22))
        if platform.OVERRIDE in values:
            return lambda: platform.explicit(platform.OVERRIDE, values[platform.OVERRIDE])
        transport = getattr(self._connection, "transport", None) or str(
            plain(self._templar.template(task_vars.get("ansible_connection", "ssh"))))
        if transport in NOT_OVER_THE_NETWORK:
            return None
        target = self._option("host") or plain(self._templar.template(task_vars.get("ansible_host", host)))
        port = platform.whole_number(self._option("port") or plain(self._templar.template(
            task_vars.get("ansible_port", 22))))
        if transport.split(".")[-1] == "ssh":
            options = platform.split_options(self._option("ssh_args"), self._option("ssh_common_args"),
                                             self._option("ssh_extra_args"))
        else:
            options = platform.split_options(*(plain(self._templar.template(task_vars[name]))
                                               for name in ("ansible_ssh_common_args", "ansible_ssh_extra_args")
                                               if name in task_vars))
            if self._option("proxy_command"):
                options += ["-o", "ProxyCommand=" + str(self._option("proxy_command"))]
        return lambda: platform.reach(platform.ssh_view(str(target), port, options))
