"""The pyinfra deploy of roles/pki (playbooks/pyinfra/pki.py) without hosts, with real keys and certificates in a
throw-away CA directory: nothing is written while the run is prepared (so --dry writes nothing); when the run
executes, the controller gets what the role's rules make (CA once, host key and certificate, modes as Ansible's);
a second run keeps everything; a twin gets its certificate from the same CA; a changed subjectAltName, an expired
CA, a key of another size are made anew as the role makes them anew; the host files are installed with the
owner and mode the role's parameters give."""

from __future__ import annotations

import datetime as dt
import stat
import sys
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from test_pyinfra_audit import named_ids, role_tags, run_deploy

from baseline import REPO_ROOT

ROLE = REPO_ROOT / "roles" / "pki"
FAST_BITS = 2048  # the lab's 3072 is used in the first test; smaller keys keep the others quick


def run(monkeypatch, host: str, pki_dir: Path, state: dict[str, Any] | None = None, data: dict[str, Any] | None = None,
        **extra: Any) -> tuple[Any, Any]:
    """One pyinfra run of the pki deploy for `host` with the CA directory `pki_dir` (an inventory value)."""
    run_cache = sys.modules.get("baseline_pyinfra_pki_run")
    if run_cache is not None:
        run_cache.cas.clear()
    return run_deploy("pki", host, monkeypatch, state, data, pki_dir=str(pki_dir), **extra)


def controller_call(recorder) -> dict[str, Any] | None:
    calls = [op for op in recorder.ops if op["op"] == "python.call"]
    assert len(calls) <= 1
    return calls[0] if calls else None


def execute(recorder) -> None:
    """The run executes: the controller operation writes what the prepare made."""
    call = controller_call(recorder)
    if call:
        call["function"](**{k: v for k, v in call.items() if k not in ("op", "name", "function")})


def installed(recorder) -> dict[str, Any]:
    return {item.path: item for op in recorder.ops if op["op"] == "deploy.install" for item in op["items"]}


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def listing(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()} \
        if root.exists() else {}


def test_every_control_id_of_the_role_is_in_the_operation_names(monkeypatch, tmp_path):
    _, recorder = run(monkeypatch, "app1", tmp_path / "pki", pki_key_bits=FAST_BITS)
    assert role_tags(ROLE) == {"IN-01", "CF-01"}
    assert named_ids(recorder.names) == role_tags(ROLE)


def test_a_new_ca_and_certificate_are_written_only_when_the_run_executes(monkeypatch, tmp_path):
    pki = tmp_path / "pki"
    _, recorder = run(monkeypatch, "app1", pki)
    assert not pki.exists(), "the prepare (and so --dry) wrote to the CA directory"
    call = controller_call(recorder)
    assert call and call["name"] == (f"IN-01 | On the controller, in {pki}: the CA key, the CA certificate, "
                                     "the key of app1, the certificate of app1")
    assert "BEGIN" not in repr(call["ca"]) + repr(call["pair"]), "a key would show in the operation's arguments"
    execute(recorder)
    assert (mode(pki / "issued"), mode(pki / "ca.key"), mode(pki / "ca.crt")) == (0o700, 0o600, 0o644)
    assert (mode(pki / "issued/app1-app1.key"), mode(pki / "issued/app1-app1.crt")) == (0o600, 0o644)
    files = installed(recorder)
    assert {path: (item.mode, item.user, item.group) for path, item in files.items()} == {
        "/etc/baseline-pki/ca.crt": ("644", "root", "root"),
        "/etc/baseline-pki/app1.crt": ("644", "root", "root"),
        "/etc/baseline-pki/app1.key": ("0600", "root", "root")}
    assert files["/etc/baseline-pki/ca.crt"].content.encode() == (pki / "ca.crt").read_bytes()
    assert files["/etc/baseline-pki/app1.crt"].content.encode() == (pki / "issued/app1-app1.crt").read_bytes()
    assert files["/etc/baseline-pki/app1.key"].content.encode() == (pki / "issued/app1-app1.key").read_bytes()
    assert (pki / "issued/app1-app1.key").read_text().startswith("-----BEGIN RSA PRIVATE KEY-----")

    ca = x509.load_pem_x509_certificate((pki / "ca.crt").read_bytes())
    cert = x509.load_pem_x509_certificate((pki / "issued/app1-app1.crt").read_bytes())
    assert ca.subject.rfc4514_string() == "CN=Lanxian credit platform baseline CA,O=Lanxian credit platform"
    assert ca.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    assert ca.extensions.get_extension_for_class(x509.BasicConstraints).value.path_length == 0
    assert ca.public_key().key_size == 3072 and cert.public_key().key_size == 3072
    cert.verify_directly_issued_by(ca)
    assert cert.subject == x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "app1")])
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.DNSName) == ["app1"]
    assert [str(a) for a in san.get_values_for_type(x509.IPAddress)] == ["10.231.0.11"]
    assert not cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    usage = cert.extensions.get_extension_for_class(x509.KeyUsage)
    assert usage.critical and usage.value.digital_signature and usage.value.key_encipherment
    assert list(cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value) == [
        ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]
    lifetime = cert.not_valid_after_utc - cert.not_valid_before_utc
    assert lifetime == dt.timedelta(days=825)


def test_a_second_run_keeps_everything_and_an_installed_host_gets_nothing(monkeypatch, tmp_path):
    pki = tmp_path / "pki"
    _, first = run(monkeypatch, "app1", pki, pki_key_bits=FAST_BITS)
    execute(first)
    before = listing(pki)
    host_state = {path: False for path in installed(first)}
    _, second = run(monkeypatch, "app1", pki, host_state, pki_key_bits=FAST_BITS)
    assert controller_call(second) is None
    assert [op["op"] for op in second.ops] == ["files.directory"]
    assert listing(pki) == before


def test_a_twin_gets_its_certificate_from_the_same_ca(monkeypatch, tmp_path):
    pki = tmp_path / "pki"
    _, first = run(monkeypatch, "app1", pki, pki_key_bits=FAST_BITS)
    execute(first)
    ca_bytes = (pki / "ca.crt").read_bytes()
    _, twin = run(monkeypatch, "log1", pki, pki_key_bits=FAST_BITS)
    call = controller_call(twin)
    assert call and "the CA" not in call["name"] and "the certificate of log1" in call["name"]
    execute(twin)
    assert (pki / "ca.crt").read_bytes() == ca_bytes
    ca = x509.load_pem_x509_certificate(ca_bytes)
    x509.load_pem_x509_certificate((pki / "issued/log1-log1.crt").read_bytes()).verify_directly_issued_by(ca)
    assert installed(twin)["/etc/baseline-pki/ca.crt"].content.encode() == ca_bytes


def test_a_changed_subject_alt_name_reissues_with_the_same_key(monkeypatch, tmp_path):
    pki = tmp_path / "pki"
    _, first = run(monkeypatch, "app1", pki, pki_key_bits=FAST_BITS)
    execute(first)
    key = (pki / "issued/app1-app1.key").read_bytes()
    _, again = run(monkeypatch, "app1", pki, pki_key_bits=FAST_BITS,
                   pki_subject_alt_names=["DNS:app1", "DNS:app1.lab", "IP:10.231.0.11"])
    call = controller_call(again)
    assert call and call["name"].endswith(": the certificate of app1")
    execute(again)
    assert (pki / "issued/app1-app1.key").read_bytes() == key
    cert = x509.load_pem_x509_certificate((pki / "issued/app1-app1.crt").read_bytes())
    assert cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value.get_values_for_type(
        x509.DNSName) == ["app1", "app1.lab"]


def test_a_certificate_expiring_within_the_renewal_margin_is_reissued(monkeypatch, tmp_path):
    pki = tmp_path / "pki"
    _, first = run(monkeypatch, "app1", pki, pki_key_bits=FAST_BITS, pki_cert_days=20, pki_renew_days=5)
    execute(first)
    _, again = run(monkeypatch, "app1", pki, pki_key_bits=FAST_BITS)  # 20 days left, renewal margin 30
    call = controller_call(again)
    assert call and call["name"].endswith(": the certificate of app1")


def test_an_expired_ca_is_made_anew_from_its_key_and_every_certificate_follows(monkeypatch, tmp_path):
    pki = tmp_path / "pki"
    module, first = run(monkeypatch, "app1", pki, pki_key_bits=FAST_BITS)
    execute(first)
    ca_key = module._load_key((pki / "ca.key").read_bytes())
    past = dt.datetime.now(dt.UTC) - dt.timedelta(days=10)
    # same key, same subject: the host certificate still verifies against it; only "a new CA means new
    # certificates" reissues it
    subject = module.subject_name("/O=Lanxian credit platform/CN=Lanxian credit platform baseline CA")
    (pki / "ca.crt").write_bytes(module.make_ca(ca_key, subject, 1, past))
    key_before = (pki / "ca.key").read_bytes()
    _, again = run(monkeypatch, "app1", pki, pki_key_bits=FAST_BITS)
    call = controller_call(again)
    assert call and call["name"].endswith(": the CA certificate, the certificate of app1")
    execute(again)
    assert (pki / "ca.key").read_bytes() == key_before
    ca = x509.load_pem_x509_certificate((pki / "ca.crt").read_bytes())
    x509.load_pem_x509_certificate((pki / "issued/app1-app1.crt").read_bytes()).verify_directly_issued_by(ca)


def test_a_key_of_another_size_is_made_anew_with_its_certificate(monkeypatch, tmp_path):
    pki = tmp_path / "pki"
    _, first = run(monkeypatch, "app1", pki, pki_key_bits=FAST_BITS)
    execute(first)
    _, again = run(monkeypatch, "app1", pki, pki_key_bits=FAST_BITS + 1024)
    call = controller_call(again)
    assert call and call["name"].endswith(": the key of app1, the certificate of app1"), "the CA key is kept"


def test_a_database_certificate_with_its_own_key_owner(monkeypatch, tmp_path):
    pki = tmp_path / "pki"
    data = {"pki_cert_name": "postgresql", "pki_key_owner": "postgres", "pki_key_group": "postgres",
            "pki_key_mode": "0600"}
    module, recorder = run(monkeypatch, "app1", pki, data=data, pki_key_bits=FAST_BITS)
    execute(recorder)
    assert (pki / "issued/app1-postgresql.crt").exists()
    files = installed(recorder)
    key = files["/etc/baseline-pki/postgresql.key"]
    assert (key.user, key.group, key.mode) == ("postgres", "postgres", "0600")
    cert = x509.load_pem_x509_certificate(files["/etc/baseline-pki/postgresql.crt"].content.encode())
    assert cert.subject.rfc4514_string() == "CN=app1"
    host_specific = [pattern.format(name="postgresql") for pattern in module.HOST_SPECIFIC]
    assert sorted(host_specific) == ["/etc/baseline-pki/postgresql.crt", "/etc/baseline-pki/postgresql.key"]
    assert "/etc/baseline-pki/ca.crt" not in [p.format(name=n) for p in module.HOST_SPECIFIC for n in ("app1", "x")]


def test_kernel_hosts_get_no_certificate(monkeypatch, tmp_path):
    _, recorder = run(monkeypatch, "kern1", tmp_path / "pki")
    assert recorder.ops == []


@pytest.mark.parametrize(("extra", "message"), [
    ({"pki_renew_days": 825}, "pki_renew_days = 825 must be at least 0 and less than pki_cert_days = 825"),
    ({"pki_ca_subject": "CN=no slashes"}, "pki_ca_subject = 'CN=no slashes' is not of the form"),
    ({"pki_subject_alt_names": ["host.example"]}, "pki_subject_alt_names: 'host.example' is not DNS:"),
])
def test_bad_values_stop_the_run_before_anything_is_written(monkeypatch, tmp_path, capsys, extra, message):
    pki = tmp_path / "pki"
    with pytest.raises(SystemExit) as stop:
        run(monkeypatch, "app1", pki, pki_key_bits=FAST_BITS, **extra)
    assert stop.value.code == 2
    assert message in capsys.readouterr().err
    assert not pki.exists()


def test_an_unreadable_ca_key_is_never_replaced(monkeypatch, tmp_path, capsys):
    pki = tmp_path / "pki"
    (pki / "issued").mkdir(parents=True)
    (pki / "ca.key").write_text("not a key\n")
    with pytest.raises(SystemExit) as stop:
        run(monkeypatch, "app1", pki, pki_key_bits=FAST_BITS)
    assert stop.value.code == 2
    assert f"{pki / 'ca.key'}: not a readable private key" in capsys.readouterr().err
    assert (pki / "ca.key").read_text() == "not a key\n"
