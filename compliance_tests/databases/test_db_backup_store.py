"""The off-site store (BR-02): it holds the database backups, and cannot read them."""

import re

import pytest

from baseline import compliance

testinfra_hosts = compliance.hosts_in("backup_servers")


@pytest.mark.control("BR-02")
def test_backups_on_the_store_cannot_be_read_without_the_key(host, policy, evidence):
    root = policy["backup_store_root"]
    clients = host.run(f"sudo ls -1 {root}").stdout.split()
    tried = {}
    for client in clients:
        repo = f"{root}/{client}/restic"
        opened = host.run(f"sudo env RESTIC_PASSWORD=not-the-key restic -r {repo} --no-lock snapshots")
        # Table names are in every database backup; in plain text they would show up in the files.
        plain = host.run(f"sudo grep -rlE 'enterprise_credit|CREATE TABLE' {repo} | head -n 3")
        tried[client] = {"restic with another key": opened.stderr.strip()[-200:] or opened.stdout[-200:],
                         "plain-text matches": plain.stdout.split()}
    evidence.record(command="restic snapshots with a wrong key; grep -r table names in the repositories",
                    observed=tried, expected="wrong password for every repository; no plain-text matches")
    assert clients, f"no client repositories under {root}"
    for client, seen in tried.items():
        assert "wrong password" in seen["restic with another key"], client
        assert seen["plain-text matches"] == [], client


@pytest.mark.control("BR-02")
def test_client_accounts_can_only_use_sftp(host, policy, evidence):
    root = policy["backup_store_root"]
    keys = host.run(f"sudo sh -c 'cat {root}/*/.ssh/authorized_keys'").stdout.splitlines()
    shells = dict(line.split(":")[0::6] for line in host.run("getent passwd").stdout.splitlines()
                  if line.startswith("bk-"))
    evidence.record(command=f"cat {root}/*/.ssh/authorized_keys; getent passwd bk-*",
                    observed={"options": [k.split(" ssh-")[0] for k in keys], "shells": shells},
                    expected={"options": 'restrict,command="internal-sftp" (drill hosts: "… -R") on every key',
                              "shells": "no login shell"})
    forced = re.compile(r'restrict,command="(internal-sftp|/\S+/sftp-server)( -R)?" ssh-')
    assert keys and all(forced.match(k) for k in keys)
    assert shells and all(shell.endswith(("/nologin", "/false")) for shell in shells.values())
