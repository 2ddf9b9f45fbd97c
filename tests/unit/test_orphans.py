"""Orphan accounts (baseline/operations/orphans.py, `baseline orphans`): parsing of what servers, databases and
devices print (getent passwd/group/shadow, sshd -T, psql, mariadb, running configurations), the comparison with the
roster (departed staff, case), the accounts the inventory makes, the results records and how the report judges
them, and bad input."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
from datetime import date
from pathlib import Path

import pytest
import yaml

from baseline import REPO_ROOT
from baseline import catalog as catalog_mod
from baseline.operations import orphans as o
from baseline.report import build
from baseline.report import verdicts as v
from baseline.report.assets import Asset
from baseline.results import CheckResult, read_results

TODAY = 20_424  # 2025-12-02 as days since 1970-01-01

ACCOUNTS_DB = """\
root:x:0:0:root:/root:/bin/bash
daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin
bin:x:2:2:bin:/bin:/usr/sbin/nologin
sync:x:4:65534:sync:/bin:/bin/sync
_apt:x:42:65534::/nonexistent:/usr/sbin/nologin
nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin
systemd-network:x:998:998:systemd Network Management:/:/usr/sbin/nologin
sshd:x:100:65534::/run/sshd:/usr/sbin/nologin
postgres:x:104:110:PostgreSQL administrator,,,:/var/lib/postgresql:/bin/bash
bk-app1:x:997:997:Off-site backups of app1:/srv/backup/app1:/usr/sbin/nologin
automation:x:1000:1000::/home/automation:/bin/bash
zhangwei:x:1001:1001:张伟 (system_admin):/home/zhangwei:/bin/bash
liqiang:x:1002:1002:李强 (security_admin):/home/liqiang:/bin/bash
sunhao:x:1007:1007:孙浩 (system_admin):/home/sunhao:/usr/sbin/nologin
intruder:x:1008:1008::/home/intruder:/bin/bash
ZhangWei:x:1009:1009::/home/ZhangWei:/bin/bash
helper:x:500:500::/home/helper:/bin/bash
oldtemp:x:1010:1010::/home/oldtemp:/bin/bash
keyonly:x:1011:1011::/home/keyonly:/usr/sbin/nologin
"""
GROUP = """\
root:x:0:
sudo:x:27:helper
users:x:100:
sysadmins:x:1100:zhangwei
secadmins:x:1101:liqiang
automation:x:1000:
helper:x:500:
"""
# getent shadow as root prints it (hashes shortened): the reduction on the host keeps only the lock state.
SHADOW = """\
root:*:20000:0:99999:7:::
daemon:*:20000:0:99999:7:::
nobody:*:20000:0:99999:7:::
postgres:*:20000:0:99999:7:::
bk-app1:*:20000:0:99999:7:::
automation:!:20000:0:99999:7:::
zhangwei:$y$j9T$abcdefgh$Q0mB4k2Ju6hBq1hYdX0x0S3Zc.1r1x2y3z4w5v6u7t8:20400:1:90:7:::
liqiang:$y$j9T$ijklmnop$R1nC5l3Kv7iCr2iZeY1y1T4Ad.2s2y3z4w5v6u7t8s9:20400:1:90:7:::
sunhao:!$y$j9T$qrstuvwx$S2oD6m4Lw8jDs3jAfZ2z2U5Be.3t3y3z4w5v6u7t8s9:20300:1:90:7::1:
intruder:!:20420:0:99999:7:::
ZhangWei:!:20420:0:99999:7:::
helper:!:20420:0:99999:7:::
oldtemp::20000:0:99999:7::20000:
keyonly:!:20420:0:99999:7:::
"""
SSHD_T = """\
port 22
permitrootlogin no
pubkeyauthentication yes
authorizedkeysfile .ssh/authorized_keys .ssh/authorized_keys2
passwordauthentication yes
"""
STAFF = [
    {"username": "zhangwei", "name": "张伟", "role": "system_admin", "status": "active", "ssh_keys": []},
    {"username": "liqiang", "name": "李强", "role": "security_admin", "status": "active", "ssh_keys": []},
    {"username": "chenjing", "name": "陈静", "role": "dba", "status": "active", "ssh_keys": []},
    {"username": "liuyang", "name": "刘洋", "role": "network_admin", "status": "active", "ssh_keys": []},
    {"username": "wangfang", "name": "王芳", "role": "audit_admin", "status": "active", "ssh_keys": []},
    {"username": "sunhao", "name": "孙浩", "role": "system_admin", "status": "departed", "ssh_keys": []},
]
ROSTER = o.Roster.from_staff(STAFF)


def committed_values() -> dict:
    """The variables every host gets from inventory/group_vars/all (the committed platform values and roster)."""
    values: dict = {}
    for path in sorted((REPO_ROOT / "inventory" / "group_vars" / "all").glob("*.yml")):
        values.update(yaml.safe_load(path.read_text(encoding="utf-8")) or {})
    return values


# --- roster matching ------------------------------------------------------------------------------------------------


def test_roster_active_staff_and_known_accounts_are_not_orphans():
    assert ROSTER.judge("zhangwei") is None
    assert ROSTER.judge("automation", {"automation"}) is None
    assert ROSTER.judge("intruder", {"automation"}) == "not in the roster"


def test_departed_staff_are_named_whatever_the_case_and_the_date_is_given_when_the_roster_has_one():
    assert ROSTER.judge("sunhao") == "departed staff (left on a date the roster does not record) still active"
    assert ROSTER.judge("SunHao").startswith("departed staff (left ") and "the roster writes sunhao" in ROSTER.judge("SunHao")
    dated = o.Roster.from_staff([{"username": "sunhao", "status": "departed", "left": "2025-03-01"}])
    assert dated.judge("sunhao") == "departed staff (left 2025-03-01) still active"


def test_a_name_that_differs_from_a_known_one_only_in_case_is_not_that_account():
    why = ROSTER.judge("ZhangWei", {"automation"})
    assert why == "not in the roster (the roster or inventory has zhangwei: the names differ in case)"
    assert ROSTER.judge("Automation", {"automation"}).startswith("not in the roster (the roster or inventory has automation")


# --- servers ------------------------------------------------------------------------------------------------------


def test_getent_passwd_and_group_are_parsed():
    entries = {e.name: e for e in o.parse_passwd(ACCOUNTS_DB + "broken line\n")}
    assert entries["intruder"] == o.PasswdEntry("intruder", 1008, 1008, "/home/intruder", "/bin/bash")
    assert len(entries) == ACCOUNTS_DB.count("\n")
    names, members = o.parse_group(GROUP)
    assert names[27] == "sudo" and members["sudo"] == {"helper"} and members["users"] == set()


def test_shadow_is_read_for_its_lock_state_and_expiry_only():
    states = o.parse_shadow(SHADOW)
    assert states["zhangwei"] == o.ShadowState("set", None)
    assert states["sunhao"] == o.ShadowState("locked", 1) and states["sunhao"].expired(TODAY)
    assert states["root"].lock == "locked" and states["intruder"].lock == "locked"
    assert states["oldtemp"] == o.ShadowState("empty", 20000) and states["oldtemp"].expired(TODAY)
    assert "$y$" not in repr(states), "no part of a hash is kept"


def test_the_shadow_reduction_run_on_a_host_prints_no_hash(tmp_path):
    fake = tmp_path / "bin"
    fake.mkdir()
    (fake / "getent").write_text(f"#!/bin/sh\ncat <<'EOF'\n{SHADOW}EOF\n", encoding="utf-8")
    (fake / "getent").chmod(0o755)
    argv = shlex.split(o.SHADOW_STATE)
    assert argv[:4] == ["sudo", "-n", "sh", "-c"], "read as root, without a password prompt"
    proc = subprocess.run(["sh", "-c", argv[4]], capture_output=True, text=True, check=True,
                          env={**os.environ, "PATH": f"{fake}:{os.environ['PATH']}"})
    assert "$y$" not in proc.stdout and "zhangwei:x:20400:1:90:7:::" in proc.stdout
    assert o.parse_shadow(proc.stdout) == o.parse_shadow(SHADOW), "the same states as the full lines give"
    (fake / "getent").write_text("#!/bin/sh\nexit 2\n", encoding="utf-8")
    failed = subprocess.run(["sh", "-c", argv[4]], capture_output=True, text=True, check=False,
                            env={**os.environ, "PATH": f"{fake}:{os.environ['PATH']}"})
    assert failed.returncode == 2, "a getent that fails is not read as an empty shadow file"


def test_key_file_paths_follow_sshd_and_the_key_count_command_reads_them(tmp_path):
    entry = o.PasswdEntry("intruder", 1008, 1008, str(tmp_path / "intruder"), "/bin/bash")
    assert o.authorized_keys_patterns(SSHD_T) == [".ssh/authorized_keys", ".ssh/authorized_keys2"]
    assert o.authorized_keys_patterns("port 22\n") == [".ssh/authorized_keys", ".ssh/authorized_keys2"]
    assert o.key_paths(["/etc/ssh/keys/%u", "%h/.ssh/k_%U", ".ssh/authorized_keys"], entry) == [
        "/etc/ssh/keys/intruder", f"{entry.home}/.ssh/k_1008", f"{entry.home}/.ssh/authorized_keys"]
    ssh = tmp_path / "intruder" / ".ssh"
    ssh.mkdir(parents=True)
    (ssh / "authorized_keys").write_text("# a comment\n\nssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIG9 x@y\n"
                                         "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIH0 z@y\n", encoding="utf-8")
    (ssh / "authorized_keys2").write_text("# only a comment\n", encoding="utf-8")
    command = o.key_files_command({"intruder": o.key_paths(o.authorized_keys_patterns(SSHD_T), entry),
                                   "o'brien": [str(tmp_path / "missing")]})
    argv = shlex.split(command)
    assert argv[:4] == ["sudo", "-n", "sh", "-c"]
    out = subprocess.run(["sh", "-c", argv[4]], capture_output=True, text=True, check=True).stdout
    assert o.parse_key_files(out) == {"intruder": [(str(ssh / "authorized_keys"), 2), (str(ssh / "authorized_keys2"), 0)]}
    assert o.key_files_command({}) == "true"


def _server(keys: dict | None = None) -> tuple[list[o.Finding], int]:
    return o.server_findings("app1", o.parse_passwd(ACCOUNTS_DB), o.parse_shadow(SHADOW), GROUP, keys or {}, roster=ROSTER,
                             known={"automation", "nobody"}, today=TODAY, admin_groups=["sudo", "sysadmins"])


def test_server_orphans_are_accounts_that_can_log_in_and_the_roster_does_not_know():
    found, checked = _server({"keyonly": [("/home/keyonly/.ssh/authorized_keys", 1)],
                              "bk-app1": [("/srv/backup/app1/.ssh/authorized_keys", 2)]})
    by_name = {f.account: f for f in found}
    assert sorted(by_name) == ["ZhangWei", "helper", "intruder", "keyonly"]
    assert by_name["intruder"] == o.Finding(
        "app1", "server", "intruder", "not in the roster",
        "getent passwd: uid 1008; shell /bin/bash; password locked (getent shadow)")
    assert "groups sudo" in by_name["helper"].where, "UID below 1000 but an administrator: a person"
    assert "1 key(s) in /home/keyonly/.ssh/authorized_keys" in by_name["keyonly"].where
    assert by_name["ZhangWei"].why.startswith("not in the roster (the roster or inventory has zhangwei")
    # automation, zhangwei, liqiang, intruder, ZhangWei, helper, keyonly; not: system accounts (postgres has a
    # shell, bk-app1 has keys: both below 1000), nobody, the expired oldtemp, the locked and expired sunhao
    assert checked == 7


def test_departed_staff_still_able_to_log_in_is_found_and_locked_departed_staff_is_not():
    assert "sunhao" not in {f.account for f in _server()[0]}
    open_shadow = SHADOW.replace("sunhao:!$y$", "sunhao:$y$").replace(":7::1:", ":7:::")
    found, _ = o.server_findings("app1", o.parse_passwd(ACCOUNTS_DB), o.parse_shadow(open_shadow), GROUP, {}, roster=ROSTER,
                                 known={"automation"}, today=TODAY)
    (sunhao,) = [f for f in found if f.account == "sunhao"]
    assert sunhao.why == "departed staff (left on a date the roster does not record) still active"
    assert "password set (getent shadow)" in sunhao.where and "shell /usr/sbin/nologin" in sunhao.where


def test_the_known_server_accounts_come_from_the_inventory_and_the_accounts_role():
    values = committed_values()
    assert o.known_accounts("server", values) == {values["automation_user"], "nobody"}
    assert o.known_accounts("server", {**values, "automation_user": "ops-bot"}) == {"ops-bot", "nobody"}
    assert o.known_accounts("server", {**values, "accounts_exceptions": ["svc-app"]}) == {values["automation_user"], "svc-app"}
    assert {"sudo", "sysadmins", "secadmins", "auditors", "dbadmins", "netadmins", "operators"} <= set(o.admin_groups(values))


SHADOW_REDUCED = "\n".join(
    ":".join([f[0], "" if f[1] == "" else "!" if f[1][0] in "!*" else "x", *f[2:]])
    for f in (line.split(":") for line in SHADOW.splitlines())) + "\n"


class Host:
    """A server's answers to the commands the survey sends, as a Debian 12 host prints them."""

    def __init__(self) -> None:
        self.sent: list[str] = []

    def __call__(self, command: str) -> str:
        self.sent.append(command)
        answers = {"date -u +%s": f"{TODAY * 86400 + 3600}\n", "getent passwd": ACCOUNTS_DB, "getent group": GROUP,
                   "cat /etc/login.defs": "UID_MIN\t\t\t 1000\nUID_MAX\t\t\t60000\n",
                   o.SHADOW_STATE: SHADOW_REDUCED, "sudo -n sshd -T": SSHD_T}
        if command in answers:
            return answers[command]
        if command.startswith("sudo -n sh -c ") and "authorized_keys" in command:
            return "keyonly\t/home/keyonly/.ssh/authorized_keys\t1\n"
        raise AssertionError(f"unexpected command {command!r}")


def test_a_server_survey_reads_as_the_automation_account_with_sudo_and_finds_the_orphans():
    host = Host()
    found, accounts, checked = o.survey_server("app1", committed_values(), ROSTER, host)
    assert sorted(f.account for f in found) == ["ZhangWei", "helper", "intruder", "keyonly"]
    assert accounts == ACCOUNTS_DB.count("\n") and checked == 7
    assert all(c.startswith("sudo -n ") for c in host.sent if "shadow" in c or "sshd" in c or "authorized" in c)
    assert "/home/intruder/.ssh/authorized_keys" in host.sent[-1], "key files of the people's accounts are read"
    assert "/srv/backup/app1" not in host.sent[-1], "system accounts are not looked at"


def test_an_unreachable_host_is_unreadable_with_ssh_s_reason(tmp_path):
    config = tmp_path / "ssh_config"
    config.write_text("Host ghost\n  HostName 127.0.0.1\n  Port 1\n  StrictHostKeyChecking no\n"
                      f"  UserKnownHostsFile {tmp_path}/known_hosts\n", encoding="utf-8")
    (item,) = o._host("ghost", ["server"], {"host_kind": "container"}, ROSTER, config)
    assert item.error.startswith("unreachable over SSH: ") and "refused" in item.error
    assert o._host("ghost", ["server", "postgresql"], {}, ROSTER, config)[1].error.startswith("unreachable over SSH")


# --- databases ------------------------------------------------------------------------------------------------------

PSQL = """\
chenjing|t|f|
credit_app|t|f|
credit_auditor|t|f|
credit_query|t|f|
postgres|t|t|
reporting|t|f|2026-01-01 00:00:00+00
sunhao|t|f|
"""
MARIADB = """\
\tlocalhost\tN\tN
chenjing\t10.231.0.0/255.255.255.0\tN\tN
credit_app\t10.231.0.0/255.255.255.0\tN\tN
credit_auditor\t10.231.0.0/255.255.255.0\tN\tN
credit_query\t10.231.0.0/255.255.255.0\tN\tN
mariabackup\tlocalhost\tN\tN
mariadb.sys\tlocalhost\tN\tY
mysql\tlocalhost\tN\tN
root\t%\tN\tN
root\tlocalhost\tN\tN
sunhao\t10.231.0.0/255.255.255.0\tN\tY
wangfang\t10.231.0.0/255.255.255.0\tN\tN
dba_role\t\tY\tN
"""


def test_postgresql_login_roles_outside_the_inventory_and_roster_are_orphans():
    roles = o.parse_psql_roles(PSQL)
    assert roles[4] == {"name": "postgres", "login": True, "superuser": True, "valid_until": ""}
    known = o.known_accounts("postgresql", committed_values())
    assert {"credit_app", "credit_query", "credit_auditor", "chenjing", "postgres"} <= known
    found, checked = o.postgresql_findings("db1", roles, ROSTER, known, "psql as postgres: pg_roles")
    assert checked == 7
    assert [(f.account, f.why) for f in found] == [
        ("reporting", "not in the roster"),
        ("sunhao", "departed staff (left on a date the roster does not record) still active")]
    assert found[0].where == "psql as postgres: pg_roles: rolcanlogin, valid until 2026-01-01 00:00:00+00"


def test_mariadb_users_outside_the_inventory_and_roster_are_orphans_and_the_engine_s_own_are_not():
    users = o.parse_mariadb_users(MARIADB)
    known = o.known_accounts("mariadb", committed_values())
    assert "mariabackup" in known, "the backup account of roles/backup_client"
    found, checked = o.mariadb_findings("db2", users, ROSTER, known, "mariadb as root: mysql.user")
    assert [f.account for f in found] == ["(anonymous)@localhost", "root@%"]
    assert checked == 10, "the locked mariadb.sys and sunhao and the role are not accounts that can log in"
    assert "wangfang" not in {f.account for f in found}, "an active person of the roster is not an orphan"


# --- network devices ------------------------------------------------------------------------------------------------

HUAWEI = """\
!Software Version V200R019C10SPC500
#
sysname sw-acc-01
#
aaa
 authentication-scheme default
 local-aaa-user wrong-password retry-interval 5 retry-time 5 block-time 30
 local-aaa-user password policy administrator
  password history record number 5
 local-user automation password irreversible-cipher $1c$abc$def$
 local-user automation privilege level 15
 local-user automation service-type ssh
 local-user liuyang password irreversible-cipher $1c$ghi$jkl$
 local-user liuyang privilege level 15
 local-user admin password irreversible-cipher $1c$mno$pqr$
 local-user admin service-type telnet ssh http
#
return
"""
COMWARE = """\
#
 version 7.1.070, Release 3208P15
#
 sysname sw-acc-02
#
 password-control enable
#
line vty 0 63
 authentication-mode scheme
 idle-timeout 5 0
#
 ssh server enable
#
local-user automation class manage
 password hash $h$6$abc
 service-type ssh
 authorization-attribute user-role network-admin
#
local-user SunHao class manage
 password hash $h$6$def
 service-type ssh
#
local-user guest class network
 service-type lan-access
#
return
"""
CISCO = """\
Building configuration...

Current configuration : 2211 bytes
!
hostname rt-border-02
!
username automation privilege 15 common-criteria-policy BASELINE-PW secret 9 $9$abc
username wangfang privilege 1 common-criteria-policy BASELINE-PW secret 9 $9$def
username backdoor privilege 15 password 7 02050D480809
!
ip ssh pubkey-chain
  username liuyang
   key-hash ssh-rsa 8FB4F858DD7E5AFB372780EC653DB371
!
end
"""


def test_device_local_users_are_read_from_the_running_configuration_of_each_vendor():
    assert o.device_users("huawei", HUAWEI) == ["automation", "liuyang", "admin"]
    assert o.device_users("h3c", COMWARE) == ["automation", "SunHao", "guest"]
    assert o.device_users("cisco", CISCO) == ["automation", "wangfang", "backdoor"], "not the SSH key chain's names"


def test_device_orphans_are_the_users_the_device_baseline_does_not_make():
    values = committed_values()
    known = o.known_accounts("network", values)
    assert known == {"automation", "liuyang", "wangfang"}, "netdev_login_user and the roles of netdev_account_roles"
    where = "display current-configuration: local-user {name}"
    assert [(f.account, f.why, f.where) for f in o.device_findings("sw-acc-01", o.device_users("huawei", HUAWEI),
                                                                    ROSTER, known, where)] == [
        ("admin", "not in the roster", "display current-configuration: local-user admin")]
    found = o.device_findings("sw-acc-02", o.device_users("h3c", COMWARE), ROSTER, known, where)
    assert [(f.account, f.why.split(";")[0]) for f in found] == [
        ("SunHao", "departed staff (left on a date the roster does not record) still active"),
        ("guest", "not in the roster")]
    assert [f.account for f in o.device_findings("rt-border-02", o.device_users("cisco", CISCO), ROSTER, known,
                                                 "show running-config: username {name}")] == ["backdoor"]


# --- results and the report -----------------------------------------------------------------------------------------


def _records(tmp_path: Path, surveys: list[o.AssetSurvey]) -> list[CheckResult]:
    path = tmp_path / f"orphans-{len(list(tmp_path.iterdir()))}.jsonl"
    o.write_results(surveys, path, run_id="run-1")
    return list(read_results([path]))


def test_results_one_ac02_record_per_asset_fail_pass_and_not_verified(tmp_path):
    finding = o.Finding("app1", "server", "intruder", "not in the roster", "getent passwd: uid 1008; shell /bin/bash")
    surveys = [o.AssetSurvey("app1", "server", accounts=30, checked=8, findings=[finding], host_kind="container",
                             commands=["getent passwd"]),
               o.AssetSurvey("db1", "postgresql", accounts=6, checked=6, commands=["psql"]),
               o.AssetSurvey("sw-acc-01", "network", error="connection refused: nothing accepts SSH connections at "
                             "127.0.0.1:22102", host_kind="simulator", vendor="huawei_vrp")]
    bad, good, unread = _records(tmp_path, surveys)
    for record in (bad, good, unread):
        assert record.control_ids == ["AC-02"] and record.check == o.CHECK and record.method == "state"
        assert record.run_id == "run-1"
    assert (bad.asset, bad.asset_kind, bad.outcome) == ("app1", "linux", "fail")
    assert "intruder" in bad.reason
    assert bad.evidence[0].command == finding.where
    assert bad.evidence[0].observed == {"account": "intruder", "why": "not in the roster"}
    assert (good.asset_kind, good.outcome) == ("postgresql", "pass")
    assert good.evidence[0].observed == {"accounts_read": 6, "accounts_that_can_log_in": 6, "orphans": 0}
    assert (unread.asset_kind, unread.outcome, unread.vendor) == ("network", "not_verifiable", "huawei_vrp")
    assert "connection refused" in unread.reason


def test_an_orphan_makes_the_ac02_cell_not_met_and_none_makes_it_met(tmp_path):
    control = catalog_mod.load().controls["AC-02"]
    finding = o.Finding("app1", "server", "intruder", "not in the roster", "getent passwd")
    (bad,) = _records(tmp_path, [o.AssetSurvey("app1", "server", checked=3, findings=[finding])])
    cell = v.cell_verdict(control, 3, [(bad.outcome, bad.reason)])
    assert (cell.verdict, cell.failing) == (v.NOT_MET, True)
    (good,) = _records(tmp_path, [o.AssetSurvey("app2", "server", checked=3)])
    assert v.cell_verdict(control, 3, [(good.outcome, good.reason)]).verdict == v.MET
    # beside other AC-02 checks that passed, the cell still fails (部分符合, failing), never 符合
    mixed = v.cell_verdict(control, 3, [(bad.outcome, bad.reason), ("pass", ""), ("pass", "")])
    assert mixed.failing and mixed.verdict == v.PARTIAL
    # the report itself, from the records: app1's AC-02 row cell is not met and names the orphan
    catalog = catalog_mod.load()
    assets = [Asset("app1", "linux", 3), Asset("app2", "linux", 3)]
    rows = build.evaluate(catalog, assets, [bad, good], [], as_of=date(2026, 12, 2))
    (row,) = [r for r in rows if r.control.id == "AC-02"]
    cells = {c.asset.name: c for c in row.cells}
    assert (cells["app1"].verdict, cells["app2"].verdict) == (v.NOT_MET, v.MET)
    assert cells["app1"].checks[0].evidence[0].observed["account"] == "intruder"


# --- bad input ------------------------------------------------------------------------------------------------------


def test_bad_input_exits_2_naming_the_argument(tmp_path, capsys):
    assert o.main(["--inventory", str(tmp_path / "nowhere")]) == 2
    assert f"--inventory {tmp_path / 'nowhere'} does not exist" in capsys.readouterr().err
    empty = tmp_path / "empty.yml"
    empty.write_text("all: {}\n", encoding="utf-8")
    assert o.main(["--inventory", str(empty)]) == 2
    assert "lists no hosts" in capsys.readouterr().err
    inv = tmp_path / "inv"
    (inv / "group_vars" / "all").mkdir(parents=True)
    (inv / "hosts.yml").write_text("linux_servers:\n  hosts:\n    app9: {ansible_host: 127.0.0.1}\n", encoding="utf-8")
    (inv / "group_vars" / "all" / "staff.yml").write_text(json.dumps({"staff": [{"username": "x"}]}), encoding="utf-8")
    assert o.main(["--inventory", str(inv), "--limit", "nosuch"]) == 2
    assert "--limit nosuch: no such host, device or group" in capsys.readouterr().err
    assert o.main(["--inventory", str(inv)]) == 2
    err = capsys.readouterr().err
    assert "app9: the staff roster cannot be compared with" in err and "field name: missing" in err
    with pytest.raises(SystemExit) as exit_:
        o.main(["--no-such-option"])
    assert exit_.value.code == 2
