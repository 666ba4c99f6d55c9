"""Throw-away X.509 material: a local CA with server and client certificates whose SANs match."""

from __future__ import annotations

import datetime
import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from dsxbus import hostnames


@dataclass(frozen=True)
class Pem:
    certificate: bytes
    key: bytes


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _builder(subject: str, issuer: x509.Name, public_key: ec.EllipticCurvePublicKey) -> x509.CertificateBuilder:
    now = datetime.datetime.now(datetime.UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(_name(subject))
        .issuer_name(issuer)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=7))
    )


def _pem(cert: x509.Certificate, key: ec.EllipticCurvePrivateKey) -> Pem:
    return Pem(
        cert.public_bytes(serialization.Encoding.PEM),
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()),
    )


class LocalCa:
    """A CA that lives for one local federation or one test; nothing it signs is meant to last."""

    def __init__(self, common_name: str = "dsx-bus local CA") -> None:
        self._key = ec.generate_private_key(ec.SECP256R1())
        self._cert = (
            _builder(common_name, _name(common_name), self._key.public_key())
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .sign(self._key, hashes.SHA256())
        )
        self.pem = _pem(self._cert, self._key)

    def server(self, common_name: str, sans: Iterable[str]) -> Pem:
        names: list[x509.GeneralName] = []
        for san in sans:
            if hostnames.is_ip_literal(san):
                names.append(x509.IPAddress(ipaddress.ip_address(san.strip("[]"))))
            else:
                names.append(x509.DNSName(san))
        return self._issue(common_name, names, ExtendedKeyUsageOID.SERVER_AUTH)

    def client(self, common_name: str) -> Pem:
        return self._issue(common_name, [], ExtendedKeyUsageOID.CLIENT_AUTH)

    def _issue(self, common_name: str, sans: list[x509.GeneralName], usage: x509.ObjectIdentifier) -> Pem:
        key = ec.generate_private_key(ec.SECP256R1())
        builder = _builder(common_name, self._cert.subject, key.public_key()).add_extension(
            x509.ExtendedKeyUsage([usage]), critical=False
        )
        if sans:
            builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
        return _pem(builder.sign(self._key, hashes.SHA256()), key)


def write_tls_dir(directory: Path, ca: LocalCa, server: Pem) -> Path:
    """ca.crt, tls.crt, tls.key: the layout of a kubernetes.io/tls Secret mounted as a volume."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "ca.crt").write_bytes(ca.pem.certificate)
    (directory / "tls.crt").write_bytes(server.certificate)
    key = directory / "tls.key"
    key.write_bytes(server.key)
    key.chmod(0o600)
    return directory
