"""The local certificate authority and the server certificate it signs, kept in ``<data folder>/tls``.

The CA is made once and never replaced (phones that trust it keep working); its key is owner-only (0600). The
server certificate is issued again on every run, for the names and addresses given, and lives at most 825 days
(Apple's limit for certificates a device trusts). ``cryptography`` is imported inside the functions, so importing
CozyGen never pays for it; serving the CA certificate needs only the standard library.
"""

from __future__ import annotations

import datetime
import ipaddress
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import CozyGenError

FOLDER = "tls"
CA_DAYS = 3650
LEAF_DAYS = 825  # iOS refuses a server certificate valid for longer
CLOCK_SKEW = datetime.timedelta(hours=1)  # valid a little before now: a phone's clock may run behind


@dataclass(frozen=True)
class TlsFiles:
    """Where the certificates of one data folder live."""

    folder: Path

    @classmethod
    def of(cls, data_dir: Path) -> TlsFiles:
        return cls(Path(data_dir) / FOLDER)

    @property
    def ca_key(self) -> Path:
        return self.folder / "ca.key"

    @property
    def ca_cert(self) -> Path:
        return self.folder / "ca.crt"

    @property
    def server_key(self) -> Path:
        return self.folder / "server.key"

    @property
    def server_cert(self) -> Path:
        return self.folder / "server.crt"


@dataclass(frozen=True)
class Issued:
    """What a run made: whether the CA is new, and the names the server certificate covers."""

    ca_created: bool
    names: tuple[str, ...]
    addresses: tuple[str, ...]
    not_after: datetime.datetime


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.timezone.utc)


def _write_private(path: Path, data: bytes, *, replace: bool) -> None:
    """Write a file only its owner can read; ``replace=False`` refuses to touch an existing one."""
    if replace:
        temporary = path.with_name(path.name + ".tmp")
        temporary.unlink(missing_ok=True)
        _write_private(temporary, data, replace=False)
        os.replace(temporary, path)
        return
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(data)


def _write_public(path: Path, data: bytes) -> None:
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_bytes(data)
    os.chmod(temporary, 0o644)
    os.replace(temporary, path)


def _new_key() -> Any:
    from cryptography.hazmat.primitives.asymmetric import ec

    return ec.generate_private_key(ec.SECP256R1())  # P-256: what every phone and browser accepts


def _key_pem(key: Any) -> bytes:
    from cryptography.hazmat.primitives import serialization

    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _cert_pem(cert: Any) -> bytes:
    from cryptography.hazmat.primitives import serialization

    return cert.public_bytes(serialization.Encoding.PEM)


def _create_ca(files: TlsFiles, label: str, now: datetime.datetime) -> tuple[Any, Any]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.x509.oid import NameOID

    key = _new_key()
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "CozyGen"),
            x509.NameAttribute(NameOID.COMMON_NAME, f"CozyGen local CA ({label}, {now:%Y-%m-%d})"[:64]),
        ]
    )
    public = key.public_key()
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(public)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - CLOCK_SKEW)
        .not_valid_after(now + datetime.timedelta(days=CA_DAYS))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                key_cert_sign=True,
                crl_sign=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                encipher_only=False,
                decipher_only=False,
            ),  # fmt: skip
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
        .sign(key, hashes.SHA256())
    )
    files.folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    _write_private(files.ca_key, _key_pem(key), replace=False)  # never over an existing CA key
    _write_public(files.ca_cert, _cert_pem(cert))
    return key, cert


def load_or_create_ca(files: TlsFiles, label: str, now: datetime.datetime | None = None) -> tuple[Any, Any, bool]:
    """The CA's key and certificate, made on the first call; ``True`` when made now."""
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    if files.ca_key.exists():
        if not files.ca_cert.exists():
            raise CozyGenError(
                f"{files.ca_key} exists but {files.ca_cert} is missing; restore it, or move the key away to make "
                "a new authority (phones must then trust the new one)"
            )
        os.chmod(files.ca_key, 0o600)
        key = serialization.load_pem_private_key(files.ca_key.read_bytes(), password=None)
        return key, x509.load_pem_x509_certificate(files.ca_cert.read_bytes()), False
    key, cert = _create_ca(files, label, now or _now())
    return key, cert, True


def _san(names: Iterable[str], addresses: Iterable[str]) -> tuple[list[str], list[str], Any]:
    from cryptography import x509

    dns = list(dict.fromkeys(n.strip().lower().rstrip(".") for n in names if n.strip()))
    ips = list(dict.fromkeys(str(ipaddress.ip_address(a.strip().strip("[]"))) for a in addresses if a.strip()))
    if not dns and not ips:
        raise CozyGenError("a server certificate needs at least one host name or address")
    entries = [x509.DNSName(n) for n in dns] + [x509.IPAddress(ipaddress.ip_address(a)) for a in ips]
    return dns, ips, x509.SubjectAlternativeName(entries)


def issue_server(
    files: TlsFiles,
    names: Iterable[str],
    addresses: Iterable[str],
    *,
    label: str,
    now: datetime.datetime | None = None,
) -> Issued:
    """Make (or reuse) the CA, then a new server key and certificate for these names and addresses."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    now = now or _now()
    dns, ips, san = _san(names, addresses)
    ca_key, ca_cert, ca_created = load_or_create_ca(files, label, now)
    key = _new_key()
    not_before = now - CLOCK_SKEW
    not_after = min(not_before + datetime.timedelta(days=LEAF_DAYS), ca_cert.not_valid_after_utc)
    ca_ski = ca_cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, (dns or ips)[0][:64])]))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                key_cert_sign=False,
                crl_sign=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                encipher_only=False,
                decipher_only=False,
            ),  # fmt: skip
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(san, critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_ski), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    _write_private(files.server_key, _key_pem(key), replace=True)
    _write_public(files.server_cert, _cert_pem(cert) + _cert_pem(ca_cert))  # the chain: leaf, then the CA
    return Issued(ca_created, tuple(dns), tuple(ips), not_after)


def ca_der(files: TlsFiles) -> bytes | None:
    """The CA certificate in DER (what phones install from a ``.crt``), or None when there is no CA yet."""
    import ssl

    try:
        pem = files.ca_cert.read_text(encoding="ascii")
    except FileNotFoundError:
        return None
    return ssl.PEM_cert_to_DER_cert(pem)


def server_names(files: TlsFiles) -> tuple[list[str], list[str]]:
    """The host names and addresses the current server certificate covers (empty when there is none)."""
    from cryptography import x509

    try:
        cert = x509.load_pem_x509_certificate(files.server_cert.read_bytes())
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except (FileNotFoundError, ValueError, x509.ExtensionNotFound):  # none yet, or one made elsewhere
        return [], []
    return san.get_values_for_type(x509.DNSName), [str(a) for a in san.get_values_for_type(x509.IPAddress)]


def spki_sha256(cert_pem: bytes) -> str:
    """The base64 SHA-256 of a certificate's public key (Chromium's ``--ignore-certificate-errors-spki-list``)."""
    import base64
    import hashlib

    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    public = x509.load_pem_x509_certificate(cert_pem).public_key()
    spki = public.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return base64.b64encode(hashlib.sha256(spki).digest()).decode()
