"""roles/pki on the controller alone (tasks_from: issue): the project CA and a host certificate made with
community.crypto in a temporary pki_dir, on localhost with a local connection; no host is contacted.

The files are read with the `cryptography` library: a self-signed CA limited to signing certificates, a host
certificate that verifies against it with the SANs given. A second run changes nothing; a CA and a certificate made
before with the openssl command lines the role used to run are kept; new SANs or a certificate that expires within
pki_renew_days give a new host certificate under the same CA; --check on an empty pki_dir does not fail and writes
nothing. Small RSA keys (pki_key_bits 2048) keep the runs short.
"""

from __future__ import annotations

import datetime
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID

from baseline import REPO_ROOT

ANSIBLE_PLAYBOOK = str(Path(sys.executable).parent / "ansible-playbook")
CA_SUBJECT = "/O=Lanxian credit platform/CN=Lanxian credit platform baseline CA"
SANS = ["DNS:localhost", "IP:127.0.0.1"]
HOST_CERT = "issued/localhost-localhost.crt"
HOST_KEY = "issued/localhost-localhost.key"
PLAYBOOK = """\
- name: Issue the project CA and a certificate on the controller only
  hosts: localhost
  gather_facts: false
  become: false
  tasks:
    - name: Controller side of roles/pki
      ansible.builtin.include_role:
        name: pki
        tasks_from: issue
"""


@pytest.fixture
def work(tmp_path: Path) -> Path:
    (tmp_path / "play.yml").write_text(PLAYBOOK, encoding="utf-8")
    inventory = {"all": {"hosts": {"localhost": {"ansible_connection": "local",
                                                 "ansible_python_interpreter": sys.executable}}}}
    (tmp_path / "hosts.yml").write_text(json.dumps(inventory), encoding="utf-8")
    return tmp_path


def play(work: Path, pki_dir: Path, *args: str, sans: list[str] = SANS, **values) -> subprocess.CompletedProcess:
    extra = {"pki_dir": str(pki_dir), "pki_key_bits": 2048, "pki_subject_alt_names": sans, **values}
    env = {**os.environ, "ANSIBLE_CONFIG": str(REPO_ROOT / "ansible.cfg"), "ANSIBLE_NOCOLOR": "1",
           "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    return subprocess.run([ANSIBLE_PLAYBOOK, "-i", str(work / "hosts.yml"), str(work / "play.yml"),
                           "-e", json.dumps(extra), *args],
                          cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=300, check=False)


def recap(proc: subprocess.CompletedProcess) -> dict[str, int]:
    """The PLAY RECAP counters of localhost; the run must have succeeded."""
    assert proc.returncode == 0, proc.stdout + proc.stderr
    match = re.search(r"^localhost\s+:\s+(.*)$", proc.stdout, re.MULTILINE)
    assert match, proc.stdout
    return {key: int(value) for key, value in re.findall(r"(\w+)=(\d+)", match.group(1))}


def cert(path: Path) -> x509.Certificate:
    return x509.load_pem_x509_certificate(path.read_bytes())


def run(*argv: str) -> None:
    subprocess.run(argv, capture_output=True, check=True)


def openssl_made(pki_dir: Path, *, days: int = 825) -> None:
    """The CA and a host certificate as the role made them before, with its openssl command lines."""
    (pki_dir / "issued").mkdir(parents=True, mode=0o700)
    pki_dir.chmod(0o700)
    run("openssl", "req", "-x509", "-newkey", "rsa:2048", "-noenc", "-keyout", str(pki_dir / "ca.key"),
        "-out", str(pki_dir / "ca.crt"), "-days", "3650", "-subj", CA_SUBJECT,
        "-addext", "basicConstraints=critical,CA:TRUE,pathlen:0", "-addext", "keyUsage=critical,keyCertSign,cRLSign")
    (pki_dir / "ca.key").chmod(0o600)
    run("openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", str(pki_dir / HOST_KEY))
    run("openssl", "req", "-x509", "-new", "-key", str(pki_dir / HOST_KEY), "-CA", str(pki_dir / "ca.crt"),
        "-CAkey", str(pki_dir / "ca.key"), "-days", str(days), "-subj", "/CN=localhost",
        "-addext", f"subjectAltName={','.join(SANS)}", "-addext", "basicConstraints=critical,CA:FALSE",
        "-addext", "keyUsage=critical,digitalSignature,keyEncipherment",
        "-addext", "extendedKeyUsage=serverAuth,clientAuth", "-out", str(pki_dir / HOST_CERT))
    (pki_dir / HOST_KEY).chmod(0o600)


def assert_ca(ca: x509.Certificate) -> None:
    assert ca.subject == ca.issuer
    assert ca.subject.rfc4514_string() == "CN=Lanxian credit platform baseline CA,O=Lanxian credit platform"
    ca.verify_directly_issued_by(ca)
    constraints = ca.extensions.get_extension_for_class(x509.BasicConstraints)
    assert constraints.critical and constraints.value.ca and constraints.value.path_length == 0
    usage = ca.extensions.get_extension_for_class(x509.KeyUsage)
    assert usage.critical and usage.value.key_cert_sign and usage.value.crl_sign
    assert not (usage.value.digital_signature or usage.value.key_encipherment)


def assert_host(host: x509.Certificate, ca: x509.Certificate, sans: list[str]) -> None:
    host.verify_directly_issued_by(ca)
    assert host.issuer == ca.subject
    assert host.subject.rfc4514_string() == "CN=localhost"
    names = host.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    shown = [f"DNS:{n.value}" if isinstance(n, x509.DNSName) else f"IP:{n.value}" for n in names]
    assert shown == sans
    constraints = host.extensions.get_extension_for_class(x509.BasicConstraints)
    assert constraints.critical and not constraints.value.ca
    usage = host.extensions.get_extension_for_class(x509.KeyUsage)
    assert usage.critical and usage.value.digital_signature and usage.value.key_encipherment
    assert not usage.value.key_cert_sign
    assert list(host.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value) == [
        ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]


def test_issues_a_ca_and_a_host_certificate_once_and_reissues_the_host_certificate_for_new_sans(work, tmp_path):
    pki_dir = tmp_path / "pki"
    first = recap(play(work, pki_dir))
    assert first["failed"] == 0 and first["changed"] > 0
    ca, host = cert(pki_dir / "ca.crt"), cert(pki_dir / HOST_CERT)
    assert_ca(ca)
    assert_host(host, ca, SANS)
    assert (ca.not_valid_after_utc - ca.not_valid_before_utc) == datetime.timedelta(days=3650)
    assert (host.not_valid_after_utc - host.not_valid_before_utc) == datetime.timedelta(days=825)
    assert ca.public_key().key_size == host.public_key().key_size == 2048
    assert (pki_dir / "ca.key").stat().st_mode & 0o777 == 0o600
    assert (pki_dir / HOST_KEY).stat().st_mode & 0o777 == 0o600
    assert (pki_dir / "issued").stat().st_mode & 0o777 == 0o700
    before = {name: (pki_dir / name).read_bytes() for name in ("ca.key", "ca.crt", HOST_KEY, HOST_CERT)}

    assert recap(play(work, pki_dir))["changed"] == 0
    assert recap(play(work, pki_dir, "--check"))["changed"] == 0
    assert {name: (pki_dir / name).read_bytes() for name in before} == before

    sans = [*SANS, "DNS:log.example.internal"]
    assert recap(play(work, pki_dir, sans=sans))["changed"] == 1
    assert (pki_dir / "ca.crt").read_bytes() == before["ca.crt"]
    assert (pki_dir / "ca.key").read_bytes() == before["ca.key"]
    assert (pki_dir / HOST_KEY).read_bytes() == before[HOST_KEY]
    assert_host(cert(pki_dir / HOST_CERT), ca, sans)


def test_keeps_a_ca_and_a_certificate_made_with_the_openssl_command_line_and_renews_before_expiry(work, tmp_path):
    pki_dir = tmp_path / "pki"
    openssl_made(pki_dir)
    before = {name: (pki_dir / name).read_bytes() for name in ("ca.key", "ca.crt", HOST_KEY, HOST_CERT)}
    assert recap(play(work, pki_dir))["changed"] == 0
    assert {name: (pki_dir / name).read_bytes() for name in before} == before

    # the certificate (825 days) expires within a margin of 900 days: reissued by the same CA, same key
    assert recap(play(work, pki_dir, pki_cert_days=1000, pki_renew_days=900))["changed"] == 1
    ca, host = cert(pki_dir / "ca.crt"), cert(pki_dir / HOST_CERT)
    assert (pki_dir / "ca.crt").read_bytes() == before["ca.crt"]
    assert (pki_dir / HOST_KEY).read_bytes() == before[HOST_KEY]
    assert host.serial_number != cert_serial(before[HOST_CERT])
    assert (host.not_valid_after_utc - host.not_valid_before_utc) == datetime.timedelta(days=1000)
    assert_ca(ca)
    assert_host(host, ca, SANS)


def cert_serial(pem: bytes) -> int:
    return x509.load_pem_x509_certificate(pem).serial_number


def test_check_mode_on_an_empty_pki_dir_reports_the_changes_and_writes_nothing(work, tmp_path):
    pki_dir = tmp_path / "pki"
    counts = recap(play(work, pki_dir, "--check"))
    assert counts["failed"] == 0 and counts["changed"] > 0
    assert not pki_dir.exists()


def test_a_renewal_margin_not_below_the_lifetime_is_refused(work, tmp_path):
    proc = play(work, tmp_path / "pki", pki_cert_days=30, pki_renew_days=30)
    assert proc.returncode == 2
    assert "pki_renew_days = 30 must be at least 0 and less than pki_cert_days = 30" in proc.stdout
    assert not (tmp_path / "pki").exists()
