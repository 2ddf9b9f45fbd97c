"""The parsers behind the server-hardening checks (compliance_tests/linux: kernel modules, sysctl files, sshd_config
read alone, SSH forwarding, password hashes), shown on plain text and on the roles' own rendered templates: a
module left out, a distribution file that sorts after the baseline's, a main sshd_config that says something else
than the drop-in all fail."""

from __future__ import annotations

import sys

import yaml

from baseline import REPO_ROOT, templates

sys.path.insert(0, str(REPO_ROOT / "compliance_tests" / "linux"))
import linuxcheck as lc  # noqa: E402
import netprobe  # noqa: E402

LINUX_VARS = REPO_ROOT / "inventory" / "group_vars" / "all" / "linux.yml"
HOST = {"inventory_hostname": "app1", "ansible_host": "10.231.0.11", "host_kind": "container",
        "group_names": ["app_servers", "linux_servers"]}


def shared_values() -> dict:
    values = {}
    for path in sorted((REPO_ROOT / "inventory" / "group_vars" / "all").glob("*.yml")):
        values.update(yaml.safe_load(path.read_text(encoding="utf-8")) or {})
    return {**values, **HOST}


def render(role: str, name: str, **extra) -> str:
    values = templates.role_values(role, {**shared_values(), **extra})
    return templates.render_with_ansible(templates.template_path(role, name), values)


# --- kernel modules ---------------------------------------------------------------------------------------------------

def test_modprobe_rules_read_install_and_blacklist_with_dash_and_underscore_alike():
    rules = lc.modprobe_rules("# install dccp /bin/false\ninstall usb-storage /bin/false\nblacklist usb_storage\n"
                              "install sctp /sbin/modprobe --ignore-install sctp\ninstall sctp /bin/false\n")
    assert rules["usb_storage"] == {"install": "/bin/false", "blacklist": True}
    assert rules["sctp"]["install"] == "/sbin/modprobe --ignore-install sctp"  # the first install rule counts
    assert "dccp" not in rules


def test_a_module_without_its_install_or_blacklist_rule_is_not_blocked():
    rules = lc.modprobe_rules("install dccp /bin/false\nblacklist sctp\ninstall rds /bin/false\nblacklist rds\n")
    missing = lc.modules_not_blocked(rules, ["dccp", "sctp", "rds", "tipc"])
    assert set(missing) == {"dccp", "sctp", "tipc"}
    assert "no blacklist" in missing["dccp"] and "not /bin/false" in missing["sctp"]


def test_the_rendered_modprobe_file_blocks_every_module_of_the_inventory_and_a_removed_line_shows():
    modules = yaml.safe_load(LINUX_VARS.read_text(encoding="utf-8"))["hardening_blocked_kernel_modules"]
    text = render("hardening", "modprobe-blocked.conf.j2")
    assert len(modules) >= 12
    assert lc.modules_not_blocked(lc.modprobe_rules(text), modules) == {}
    drifted = "\n".join(line for line in text.splitlines() if line != "install usb-storage /bin/false")
    assert set(lc.modules_not_blocked(lc.modprobe_rules(drifted), modules)) == {"usb-storage"}


def test_modprobe_dry_run_blocked_only_when_it_would_run_false():
    assert lc.modprobe_dry_run_blocked("install /bin/false \n")
    assert not lc.modprobe_dry_run_blocked("insmod /lib/modules/6.1.0-28-amd64/kernel/net/dccp/dccp.ko \n")
    assert not lc.modprobe_dry_run_blocked("modprobe: FATAL: Module dccp not found in directory /lib/modules/x\n")
    assert lc.loaded_modules("usb_storage 81920 0 - Live 0x0\nsctp 1 0 - Live 0x0\n") == {"usb_storage", "sctp"}


# --- sysctl files -------------------------------------------------------------------------------------------------------

def test_sysctl_effective_follows_systemd_sysctl_order():
    files = {"/usr/lib/sysctl.d/99-protect-links.conf": "fs.protected_fifos = 1\n",
             "/etc/sysctl.d/50-baseline-kernel.conf": "fs.protected_fifos = 2\nkernel/sysrq=0\n",
             "/usr/lib/sysctl.d/50-pid-max.conf": "kernel.pid_max = 4194304\n",
             "/etc/sysctl.d/50-pid-max.conf": "; hidden: same name in /etc\n-kernel.sysrq = 1\n"}
    effective = lc.sysctl_effective(files)
    assert effective["fs.protected_fifos"] == ("1", "/usr/lib/sysctl.d/99-protect-links.conf")
    assert effective["kernel.sysrq"] == ("1", "/etc/sysctl.d/50-pid-max.conf")  # sorts after 50-baseline-…
    assert "kernel.pid_max" not in effective  # /etc/sysctl.d/50-pid-max.conf hides the /usr/lib one


def test_the_roles_sysctl_files_come_after_the_distributions_and_sysctl_conf():
    tasks = (REPO_ROOT / "roles" / "hardening" / "tasks" / "sysctl.yml").read_text(encoding="utf-8")
    files = [t["baseline_sysctl"]["path"] for t in yaml.safe_load(tasks) if "baseline_sysctl" in t]
    assert len(files) == 2
    for path in files:
        name = path.rsplit("/", 1)[-1]
        assert name > "99-protect-links.conf" and name > "99-sysctl.conf", name
        contents = {"/usr/lib/sysctl.d/99-protect-links.conf": "fs.protected_fifos = 1\n",
                    "/etc/sysctl.d/99-sysctl.conf": "fs.protected_fifos = 0\n", path: "fs.protected_fifos = 2\n"}
        assert lc.sysctl_effective(contents)["fs.protected_fifos"] == ("2", path)


def test_sysctl_output_and_differences():
    found = lc.sysctl_output("net.ipv4.ip_forward = 0\nnet.ipv4.conf.all.rp_filter = 2\nkernel.x = 1\t2\n")
    assert found["kernel.x"] == "1 2"
    wrong = lc.sysctl_differences({"net.ipv4.ip_forward": 0, "net.ipv4.conf.all.rp_filter": 1, "net.absent": 1}, found)
    assert set(wrong) == {"net.ipv4.conf.all.rp_filter", "net.absent"}


# --- sshd_config read alone -----------------------------------------------------------------------------------------------

AGREE = ("x11forwarding", "allowtcpforwarding", "maxsessions", "maxauthtries", "compression", "loglevel", "ciphers",
         "macs", "kexalgorithms", "permittunnel", "gatewayports", "clientalivecountmax")


def test_sshd_config_directives_first_value_outside_match():
    order, first = lc.sshd_config_directives("# x\nInclude /etc/ssh/sshd_config.d/*.conf\nX11Forwarding=yes\n"
                                             "x11forwarding no\nMatch Group a\n  MaxSessions 2\nMaxSessions 3\n")
    assert order[0] == "include"
    assert first == {"include": "/etc/ssh/sshd_config.d/*.conf", "x11forwarding": "yes"}


def test_the_main_sshd_config_includes_the_drop_in_first_and_says_what_it_says():
    main = render("accounts", "sshd-baseline.conf.j2", accounts_sshd_main_file=True)
    dropin = render("accounts", "sshd-baseline.conf.j2")
    order, in_main = lc.sshd_config_directives(main)
    _, in_dropin = lc.sshd_config_directives(dropin)
    assert order[0] == "include" and in_main["include"] == "/etc/ssh/sshd_config.d/*.conf"
    assert "include" not in in_dropin
    effective = {k: v.lower() for k, v in in_dropin.items()}  # sshd -T: the drop-in's value, read first
    assert lc.sshd_disagreements(in_main, effective, AGREE) == {}
    assert lc.sshd_disagreements(in_main, {**effective, "allowtcpforwarding": "yes"}, AGREE) == {
        "allowtcpforwarding": "file 'no', sshd -T 'yes'"}


def test_the_ssh_template_takes_its_algorithms_and_limits_from_the_inventory():
    values = yaml.safe_load(LINUX_VARS.read_text(encoding="utf-8"))
    _, settings = lc.sshd_config_directives(render("accounts", "sshd-baseline.conf.j2"))
    assert settings["ciphers"].split(",") == values["accounts_ssh_ciphers"]
    assert settings["macs"].split(",") == values["accounts_ssh_macs"]
    assert all("-etm@" in mac for mac in values["accounts_ssh_macs"])
    assert settings["kexalgorithms"].split(",") == values["accounts_ssh_kex"]
    assert settings["maxsessions"] == str(values["accounts_ssh_max_sessions"])
    assert int(settings["maxauthtries"]) <= 3
    for keyword in ("allowtcpforwarding", "x11forwarding", "permittunnel", "gatewayports", "compression"):
        assert settings[keyword] == "no", keyword
    older = render("accounts", "sshd-baseline.conf.j2",  # a host whose OpenSSH knows no ML-KEM (ssh -Q kex)
                   accounts_ssh_kex_known=[k for k in values["accounts_ssh_kex"] if not k.startswith("mlkem")])
    assert lc.sshd_config_directives(older)[1]["kexalgorithms"].split(",") == values["accounts_ssh_kex"][1:]
    lower = render("accounts", "sshd-baseline.conf.j2", login_max_failures=2)
    assert lc.sshd_config_directives(lower)[1]["maxauthtries"] == "2"  # never above the policy's failures


# --- SSH forwarding and password hashes ---------------------------------------------------------------------------------

def test_forwarding_outcome_tells_a_refusal_from_a_forward_and_from_no_session():
    refused = netprobe.forwarding_outcome(255, "", "channel 0: open failed: administratively prohibited: open failed\n"
                                                   "stdio forwarding failed\n")
    assert refused.startswith("refused")
    assert netprobe.forwarding_outcome(0, "SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3\r\n", "").startswith("forwarded")
    assert netprobe.forwarding_outcome(255, "", "channel 0: open failed: connect failed: Connection refused\n"
                                       ).startswith("forwarded")
    assert netprobe.forwarding_outcome(255, "", "ssh: connect to host 10.231.0.11 port 22: No route to host\n"
                                       ).startswith("error")
    assert netprobe.forwarding_outcome(124, "", "").startswith("error")


def test_shadow_hash_scheme():
    assert lc.shadow_hash_scheme("alice:$y$j9T$abc$def:19000:1:90:7:::") == "yescrypt"
    assert lc.shadow_hash_scheme("bob:$6$salt$hash:19000:1:90:7:::") == "sha512"
    assert lc.shadow_hash_scheme("root:*:19000:0:99999:7:::") == "locked"
    assert lc.shadow_hash_scheme("lp::19000:0:99999:7:::") == "empty"


def test_the_pam_and_login_defs_cost_come_from_one_variable():
    values = yaml.safe_load(LINUX_VARS.read_text(encoding="utf-8"))
    rules = lc.pam_module(render("accounts", "common-password.j2"), "password", "pam_unix.so")
    assert [lc.pam_arg(r.args, "rounds") for r in rules] == [str(values["accounts_yescrypt_cost_factor"])]
    assert "yescrypt" in rules[0].args
    pwquality = lc.conf_values(render("accounts", "pwquality.conf.j2"))
    assert pwquality["minclass"] == "2" and pwquality["lcredit"] == "-1" and pwquality["ocredit"] == "-1"
