"""pyinfra deploy of roles/pki (IN-01, CF-01): the project CA on the controller and this host's certificate and key,
issued and kept by the same rules as the Ansible role (roles/pki/README.md), from the SAME CA directory (pki_dir),
so a host set up by pyinfra trusts, and is trusted by, the hosts Ansible set up.

    pyinfra inventory/lab/pyinfra_inventory.py playbooks/pyinfra/pki.py [--limit HOST] [--dry]

Another certificate of a host (a database server's, as the database roles include pki with their own name and key
owner) comes from including this file with the role's parameters as data:

    local.include("playbooks/pyinfra/pki.py", data={"pki_cert_name": "postgresql", "pki_key_owner": "postgres",
                                                   "pki_key_group": "postgres", "pki_key_mode": "0600"})

Controller side (what roles/pki/tasks/issue.yml does, with the controller's `cryptography` library as
community.crypto uses it): everything is decided while pyinfra prepares the run; a CA, key or certificate that is
to be made is made in memory then, and written to pki_dir only when the run executes (an operation on the host's
list, "on the controller"), never by `--dry`. What is kept:
- ca.key: always once it exists (a new one only when missing);
- ca.crt: while it is readable, a CA, made from ca.key and valid now; when it is made anew, every certificate
  issued in the run is made anew too;
- issued/HOST-NAME.key: while it is an RSA key of pki_key_bits;
- issued/HOST-NAME.crt: while its subject, subjectAltName, basicConstraints, keyUsage and extendedKeyUsage are the
  requested ones, it belongs to the key, is signed by the CA and is still valid pki_renew_days from now.
Host side (tasks/install.yml): ca.crt, NAME.crt and NAME.key in pki_remote_dir where they differ.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
import re
import sys
import types
from pathlib import Path
from typing import Any

from pyinfra import host
from pyinfra.operations import files, python

from baseline import REPO_ROOT
from baseline import pyinfra_deploy as deploy

ROLE = "pki"
HOSTS = "linux_servers:!kernel_hosts"
# Files on a host that are its own (its certificate and private key): a twin's differ by nature, and the engines'
# parity test leaves them out. NAME is each certificate the host is issued (pki_cert_name: the inventory name, and
# the database servers' postgresql / mariadb); ca.crt is the same on every host and is compared.
HOST_SPECIFIC = ("/etc/baseline-pki/{name}.crt", "/etc/baseline-pki/{name}.key")
# Role parameters a including deploy may pass as data (the database roles' include of pki host_cert).
PARAMETERS = ("pki_cert_name", "pki_key_owner", "pki_key_group", "pki_key_mode")
NAME_ATTRIBUTES = {"C": "COUNTRY_NAME", "ST": "STATE_OR_PROVINCE_NAME", "L": "LOCALITY_NAME",
                   "O": "ORGANIZATION_NAME", "OU": "ORGANIZATIONAL_UNIT_NAME", "CN": "COMMON_NAME",
                   "emailAddress": "EMAIL_ADDRESS"}

# One CA per run for every host, though pyinfra executes this file once per host: kept beside the modules.
_RUN: Any = sys.modules.setdefault("baseline_pyinfra_pki_run", types.ModuleType("baseline_pyinfra_pki_run"))
if not hasattr(_RUN, "cas"):
    _RUN.cas = {}


def role_values(role: str, prefix: str, facts: dict[str, Any] | None = None) -> dict[str, Any]:
    """The role's values for this host (deploy.values: defaults < inventory < vars, Jinja resolved, secrets left
    as data); `prefix` names the role's own variables."""
    del prefix
    return deploy.values(role, facts=facts)

class PkiError(Exception):
    """A file of pki_dir that cannot be used (the run stops before anything changes)."""


class Pair:
    """A key and its certificate as PEM text, and whether each is to be written (made in this run)."""

    def __init__(self, key_pem: bytes, cert_pem: bytes, new_key: bool, new_cert: bool) -> None:
        self.key_pem, self.cert_pem, self.new_key, self.new_cert = key_pem, cert_pem, new_key, new_cert

    def __repr__(self) -> str:  # the key never shows
        return f"Pair(new_key={self.new_key}, new_cert={self.new_cert})"


def _crypto() -> Any:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    return types.SimpleNamespace(x509=x509, hashes=hashes, serialization=serialization, rsa=rsa,
                                 ExtendedKeyUsageOID=ExtendedKeyUsageOID, NameOID=NameOID)


def whole(values: dict[str, Any], key: str) -> int:
    try:
        return int(str(values[key]).strip())
    except (KeyError, ValueError):
        raise PkiError(f"{key} = {values.get(key)!r} is not a whole number") from None


def subject_name(text: str) -> Any:
    """/O=.../CN=... (pki_ca_subject) as an ordered X.509 name."""
    c = _crypto()
    pairs = re.findall(r"/([^/=]+)=([^/]*)", text)
    if not pairs:
        raise PkiError(f"pki_ca_subject = {text!r} is not of the form /KEY=value/KEY=value")
    attributes = []
    for key, value in pairs:
        if key not in NAME_ATTRIBUTES:
            raise PkiError(f"pki_ca_subject: {key!r} is not a known name attribute ({', '.join(NAME_ATTRIBUTES)})")
        attributes.append(c.x509.NameAttribute(getattr(c.NameOID, NAME_ATTRIBUTES[key]), value))
    return c.x509.Name(attributes)


def alt_names(entries: list[str]) -> list[Any]:
    """pki_subject_alt_names (DNS:..., IP:..., email:..., URI:...) as X.509 general names."""
    c = _crypto()
    names: list[Any] = []
    for entry in entries:
        kind, _, value = str(entry).partition(":")
        if kind == "DNS":
            names.append(c.x509.DNSName(value))
        elif kind == "IP":
            names.append(c.x509.IPAddress(ipaddress.ip_address(value)))
        elif kind == "email":
            names.append(c.x509.RFC822Name(value))
        elif kind == "URI":
            names.append(c.x509.UniformResourceIdentifier(value))
        else:
            raise PkiError(f"pki_subject_alt_names: {entry!r} is not DNS:, IP:, email: or URI:")
    return names


def _read(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as err:
        raise PkiError(f"{path}: cannot be read ({err.strerror})") from None


def _new_key(bits: int) -> tuple[Any, bytes]:
    c = _crypto()
    key = c.rsa.generate_private_key(public_exponent=65537, key_size=bits)
    # PKCS#1, unencrypted: what community.crypto's openssl_privatekey writes for an RSA key
    pem = key.private_bytes(c.serialization.Encoding.PEM, c.serialization.PrivateFormat.TraditionalOpenSSL,
                            c.serialization.NoEncryption())
    return key, pem


def _load_key(pem: bytes | None) -> Any:
    if pem is None:
        return None
    c = _crypto()
    try:
        return c.serialization.load_pem_private_key(pem, password=None)
    except (ValueError, TypeError):
        return None


def _load_cert(pem: bytes | None) -> Any:
    if pem is None:
        return None
    try:
        return _crypto().x509.load_pem_x509_certificate(pem)
    except ValueError:
        return None


def _same_public_key(a: Any, b: Any) -> bool:
    c = _crypto()
    form = (c.serialization.Encoding.DER, c.serialization.PublicFormat.SubjectPublicKeyInfo)
    return bool(a.public_bytes(*form) == b.public_bytes(*form))


def _extension(cert: Any, kind: Any) -> Any:
    try:
        return cert.extensions.get_extension_for_class(kind)
    except _crypto().x509.ExtensionNotFound:
        return None


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def ca_kept(cert: Any, key: Any, now: dt.datetime) -> bool:
    """ca.crt is kept while it is a CA, made from ca.key and valid now."""
    if cert is None or key is None:
        return False
    constraints = _extension(cert, _crypto().x509.BasicConstraints)
    return bool(constraints is not None and constraints.value.ca
                and _same_public_key(cert.public_key(), key.public_key())
                and cert.not_valid_before_utc <= now <= cert.not_valid_after_utc)


def make_ca(key: Any, subject: Any, days: int, now: dt.datetime) -> bytes:
    c = _crypto()
    x509 = c.x509
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now)
            .not_valid_after(now + dt.timedelta(days=days))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=False, content_commitment=False, key_encipherment=False,
                                         data_encipherment=False, key_agreement=False, key_cert_sign=True,
                                         crl_sign=True, encipher_only=False, decipher_only=False), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .sign(key, c.hashes.SHA256()))
    return cert.public_bytes(c.serialization.Encoding.PEM)


def project_ca(values: dict[str, Any]) -> tuple[Any, Pair]:
    """The CA key and certificate of pki_dir, or the ones this run makes (once per run for all hosts)."""
    directory = Path(values["pki_dir"]).resolve()
    if str(directory) in _RUN.cas:
        return _RUN.cas[str(directory)]
    now = _now()
    key_pem = _read(directory / "ca.key")
    new_key = key_pem is None
    if new_key:
        key, key_pem = _new_key(whole(values, "pki_key_bits"))
    else:
        key = _load_key(key_pem)
        if key is None:
            raise PkiError(f"{directory / 'ca.key'}: not a readable private key; the CA key is never replaced "
                           "(move it aside by hand to start a new CA)")
    cert_pem = _read(directory / "ca.crt")
    new_cert = not ca_kept(_load_cert(cert_pem), key, now)
    if new_cert:
        cert_pem = make_ca(key, subject_name(str(values["pki_ca_subject"])), whole(values, "pki_ca_days"), now)
    assert key_pem is not None and cert_pem is not None
    _RUN.cas[str(directory)] = (key, Pair(key_pem, cert_pem, new_key, new_cert))
    return _RUN.cas[str(directory)]


def requested_extensions(names: list[Any]) -> list[tuple[Any, bool]]:
    x509 = _crypto().x509
    eku = _crypto().ExtendedKeyUsageOID
    return [(x509.SubjectAlternativeName(names), False),
            (x509.BasicConstraints(ca=False, path_length=None), True),
            (x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=True,
                           data_encipherment=False, key_agreement=False, key_cert_sign=False, crl_sign=False,
                           encipher_only=False, decipher_only=False), True),
            (x509.ExtendedKeyUsage([eku.SERVER_AUTH, eku.CLIENT_AUTH]), False)]


def cert_kept(cert: Any, key: Any, ca_cert: Any, *, common_name: str, names: list[Any], renew_days: int,
              now: dt.datetime) -> bool:
    """A host certificate is kept while it matches the request, its key and the CA, and is valid renew_days on."""
    c = _crypto()
    if cert is None or key is None:
        return False
    wanted_subject = c.x509.Name([c.x509.NameAttribute(c.NameOID.COMMON_NAME, common_name)])
    if cert.subject != wanted_subject or not _same_public_key(cert.public_key(), key.public_key()):
        return False
    for value, critical in requested_extensions(names):
        found = _extension(cert, type(value))
        if found is None or found.critical != critical:
            return False
        if isinstance(value, c.x509.SubjectAlternativeName):
            if sorted(map(repr, found.value)) != sorted(map(repr, value)):
                return False
        elif found.value != value:
            return False
    if cert.issuer != ca_cert.subject:
        return False
    from cryptography.exceptions import InvalidSignature

    try:
        cert.verify_directly_issued_by(ca_cert)
    except (ValueError, TypeError, InvalidSignature):
        return False
    renewal = now + dt.timedelta(days=renew_days)
    return bool(cert.not_valid_before_utc <= renewal <= cert.not_valid_after_utc)


def make_cert(key: Any, ca_key: Any, ca_cert: Any, *, common_name: str, names: list[Any], days: int,
              now: dt.datetime) -> bytes:
    c = _crypto()
    x509 = c.x509
    builder = (x509.CertificateBuilder()
               .subject_name(x509.Name([x509.NameAttribute(c.NameOID.COMMON_NAME, common_name)]))
               .issuer_name(ca_cert.subject).public_key(key.public_key())
               .serial_number(x509.random_serial_number()).not_valid_before(now)
               .not_valid_after(now + dt.timedelta(days=days)))
    for value, critical in requested_extensions(names):
        builder = builder.add_extension(value, critical=critical)
    builder = (builder.add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
               .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
                              critical=False))
    return builder.sign(ca_key, c.hashes.SHA256()).public_bytes(c.serialization.Encoding.PEM)


def host_pair(values: dict[str, Any], ca_key: Any, ca: Pair) -> Pair:
    """This host's key and certificate of pki_dir/issued, or the ones this run makes."""
    bits = whole(values, "pki_key_bits")
    cert_days, renew_days = whole(values, "pki_cert_days"), whole(values, "pki_renew_days")
    if not 0 <= renew_days < cert_days:
        raise PkiError(f"pki_renew_days = {renew_days} must be at least 0 and less than pki_cert_days = {cert_days}: "
                       "otherwise every run would reissue every certificate")
    me = str(values["inventory_hostname"])
    stem = Path(values["pki_dir"]).resolve() / "issued" / f"{me}-{values['pki_cert_name']}"
    now = _now()
    key_pem = _read(stem.with_suffix(".key"))
    key = _load_key(key_pem)
    c = _crypto()
    new_key = not (isinstance(key, c.rsa.RSAPrivateKey) and key.key_size == bits)
    if new_key:
        key, key_pem = _new_key(bits)
    names = alt_names(list(values["pki_subject_alt_names"]))
    ca_cert = c.x509.load_pem_x509_certificate(ca.cert_pem)
    cert_pem = _read(stem.with_suffix(".crt"))
    new_cert = (ca.new_cert or new_key
                or not cert_kept(_load_cert(cert_pem), key, ca_cert, common_name=me, names=names,
                                 renew_days=renew_days, now=now))
    if new_cert:
        cert_pem = make_cert(key, ca_key, ca_cert, common_name=me, names=names, days=cert_days, now=now)
    assert key_pem is not None and cert_pem is not None
    return Pair(key_pem, cert_pem, new_key, new_cert)


def _write(path: Path, content: bytes, mode: int) -> None:
    """Write atomically, with its mode from the start (a key is never readable by others, not even briefly)."""
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    try:
        with os.fdopen(descriptor, "wb") as out:
            out.write(content)
        os.chmod(temporary, mode)
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def store(directory: str, stem_name: str, ca: Pair, pair: Pair) -> None:
    """On the controller, at execution: what this run made (CA once, then this host's key and certificate)."""
    root = Path(directory)
    (root / "issued").mkdir(mode=0o700, parents=True, exist_ok=True)
    os.chmod(root / "issued", 0o700)
    if ca.new_key and _read(root / "ca.key") != ca.key_pem:
        if (root / "ca.key").exists():
            raise PkiError(f"{root / 'ca.key'} appeared during the run; it is never replaced")
        _write(root / "ca.key", ca.key_pem, 0o600)
    if ca.new_cert and _read(root / "ca.crt") != ca.cert_pem:
        _write(root / "ca.crt", ca.cert_pem, 0o644)
    if pair.new_key:
        _write(root / "issued" / f"{stem_name}.key", pair.key_pem, 0o600)
    if pair.new_cert:
        _write(root / "issued" / f"{stem_name}.crt", pair.cert_pem, 0o644)


def controller_dir_ready(directory: Path) -> bool:
    """pki_dir/issued is there with mode 0700 (else this run makes or fixes it, as Ansible's file task does)."""
    issued = directory / "issued"
    return issued.is_dir() and (issued.stat().st_mode & 0o777) == 0o700


def main() -> None:
    if not deploy.targets(HOSTS):
        return
    given = {key: host.data.get(key) for key in PARAMETERS if host.data.get(key) is not None}
    # pki_dir defaults to "{{ playbook_dir }}/../.lab/pki": the playbooks' directory, as for Ansible
    v = role_values(ROLE, "pki_", facts={"playbook_dir": str(REPO_ROOT / "playbooks"), **given})
    try:
        ca_key, ca = project_ca(v)
        pair = host_pair(v, ca_key, ca)
    except PkiError as err:
        print(f"{deploy.name()}: pki: {err}", file=sys.stderr)
        raise SystemExit(deploy.EXIT_REFUSED) from None
    directory = Path(v["pki_dir"]).resolve()
    name = str(v["pki_cert_name"])
    stem_name = f"{v['inventory_hostname']}-{name}"
    made = [what for what, new in (("the CA key", ca.new_key), ("the CA certificate", ca.new_cert),
                                   (f"the key of {name}", pair.new_key), (f"the certificate of {name}", pair.new_cert))
            if new]
    if made or not controller_dir_ready(directory):
        python.call(name=f"IN-01 | On the controller, in {directory}: {', '.join(made) or 'the CA directory'}",
                    function=store, directory=str(directory), stem_name=stem_name, ca=ca, pair=pair)
    remote = str(v["pki_remote_dir"]).rstrip("/")
    if not deploy.planned_before(remote, ("directory", "root", "root", "755")):  # included twice on database hosts
        files.directory(name="IN-01 | Directory for certificates on the host", path=remote, present=True,
                        user="root", group="root", mode="755")
    key = deploy.Managed(f"{remote}/{name}.key", pair.key_pem.decode(), mode=str(v["pki_key_mode"]),
                         user=str(v["pki_key_owner"]), group=str(v["pki_key_group"]), secret=True)
    deploy.install("IN-01", f"the CA certificate and the certificate and key of {name} (CF-01)", [
        deploy.Managed(f"{remote}/ca.crt", ca.cert_pem.decode()),
        deploy.Managed(f"{remote}/{name}.crt", pair.cert_pem.decode()),
        key])


deploy.check_preflight()
main()
deploy.finish()
