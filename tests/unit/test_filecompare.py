"""The file comparison of the engine parity test (devtools/lab/filecompare.py), on local files: a host's name that
occurs by chance inside a certificate does not make two equal files differ, a configuration naming each host's own
certificate matches, and a changed byte, owner or mode, or a file on one side only, is a difference."""

from __future__ import annotations

import hashlib
import subprocess
from pathlib import Path

import pytest

from devtools.lab import filecompare

# PEM text in which "db2" occurs inside the base64 data: the same CA certificate on both hosts.
PEM = ("-----BEGIN CERTIFICATE-----\nMIIDdb2gAwIBAgIUQ8xRk0aV3yJ5hTQy7Jm9d5b2lXcwDQYJKoZIhvcNAQELBQAw\n"
       "-----END CERTIFICATE-----\n")


def listing(root: Path, host: str) -> dict[str, filecompare.FileState]:
    text = subprocess.run(["sh", "-c", filecompare.listing_command([str(root)], host, sudo="")],
                          capture_output=True, text=True, check=True).stdout
    return {path.removeprefix(str(root)): state for path, state in filecompare.read_listing(text, host).items()}


def host_files(root: Path, host: str) -> Path:
    (root / "pki").mkdir(parents=True)
    (root / "pki" / "ca.crt").write_text(PEM)
    (root / "rsyslog.conf").write_text(f'StreamDriver.CertFile="/etc/baseline-pki/{host}.crt"\n')
    (root / "motd").write_text("Authorised use only.\n")
    for path in root.rglob("*"):
        path.chmod(0o755 if path.is_dir() else 0o644)
    return root


def test_equal_files_match_although_a_name_occurs_inside_a_certificate(tmp_path):
    db2, db4 = host_files(tmp_path / "original", "db2"), host_files(tmp_path / "twin", "db4")
    mine, theirs = listing(db4, "db4"), listing(db2, "db2")
    assert set(mine) == {"/pki/ca.crt", "/rsyslog.conf", "/motd"}
    assert theirs["/pki/ca.crt"].named != mine["/pki/ca.crt"].named  # the name written as @HOST@ on db2's side only
    assert filecompare.differences(mine, theirs) == {}


@pytest.mark.parametrize("change", ["byte", "mode", "one side only"])
def test_a_changed_byte_or_mode_or_a_missing_file_is_a_difference(tmp_path, change):
    db2, db4 = host_files(tmp_path / "original", "db2"), host_files(tmp_path / "twin", "db4")
    if change == "byte":
        (db4 / "pki" / "ca.crt").write_text(PEM.replace("MIID", "MIIE"))
    elif change == "mode":
        (db4 / "motd").chmod(0o600)
    else:
        (db4 / "motd").unlink()
    differ = filecompare.differences(listing(db4, "db4"), listing(db2, "db2"))
    assert set(differ) == {"/motd" if change != "byte" else "/pki/ca.crt"}


def test_a_name_that_cannot_be_written_into_sed_is_refused():
    for name in ("a/b", "a'b", 'a"b', "a\\b", "", "a*"):
        with pytest.raises(ValueError, match="sed"):
            filecompare.listing_command(["/etc"], name)


def test_a_dot_in_a_name_matches_only_a_dot(tmp_path):
    (tmp_path / "conf").write_text("db2.lab db2xlab\n")
    [state] = listing(tmp_path, "db2.lab").values()
    assert state.named == hashlib.sha256(b"@HOST@ db2xlab\n").hexdigest()
