"""The off-site store (BR-02): it holds the database backups, and cannot read them."""

import re

import pytest

from baseline import compliance

testinfra_hosts = compliance.hosts_in("backup_servers")


@pytest.mark.control("BR-02")
@pytest.mark.method("probe")
def test_backups_on_the_store_cannot_be_read_without_the_key(host, policy, evidence):
    root = policy["backup_store_root"]
    listed = host.run(f"sudo ls -1 {root}")
    clients = listed.stdout.split() if listed.rc == 0 else []
    tried = {}
    for client in clients:
        repo = f"{root}/{client}/restic"
        opened = host.run(f"sudo env RESTIC_PASSWORD=not-the-key restic -r {repo} --no-lock snapshots")
        # Table names are in every database backup; in plain text they would show up in the files. grep's exit
        # status decides: 1 = nothing found; 0 = found; 2 = it could not read the repository (a failure).
        plain = host.run(f"sudo grep -rlE 'enterprise_credit|CREATE TABLE' {repo}")
        tried[client] = {"restic with another key": (opened.stderr.strip() or opened.stdout.strip()),
                         "plain-text matches": plain.stdout.split(),
                         "grep": {0: "found", 1: "nothing found"}.get(plain.rc, f"error {plain.rc}: {plain.stderr.strip()}")}
    evidence.record(command=f"ls {root}; restic snapshots with a wrong key; grep -r table names in the repositories",
                    observed={"clients": clients, "tried": tried, "ls_error": listed.stderr.strip()},
                    expected={"tried": {c: {"restic with another key": "… wrong password …", "plain-text matches": [],
                                            "grep": "nothing found"} for c in clients or ["<client>"]}})
    assert clients, f"no client repositories under {root}"
    for client, seen in tried.items():
        assert "wrong password" in seen["restic with another key"], client
        assert seen["grep"] == "nothing found" and seen["plain-text matches"] == [], (client, seen["grep"])


@pytest.mark.control("BR-02")
@pytest.mark.method("state")
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
