"""A local certificate authority and a server certificate for Asterisk's TLS listener (WSS) and
DTLS-SRTP, for the sandbox, the demo and the tests. Production uses a real certificate instead
(docs/softphone.md): browsers must trust the WSS listener's certificate, or they refuse the socket.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

__all__ = ["LocalCertificates", "make_local_certificates"]


@dataclass(frozen=True)
class LocalCertificates:
    ca_file: Path  # the local CA's certificate: what a browser or client trusts
    cert_file: Path  # the server's certificate (PEM), signed by the CA
    key_file: Path  # its private key (PEM, owner-only)


def _name(cn: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "tongdai local"),
            x509.NameAttribute(NameOID.COMMON_NAME, cn),
        ]
    )


def _san(names: list[str]) -> list[x509.GeneralName]:
    out: list[x509.GeneralName] = []
    for n in names:
        try:
            out.append(x509.IPAddress(ipaddress.ip_address(n)))
        except ValueError:
            out.append(x509.DNSName(n))
    return out


def make_local_certificates(out_dir: Path, names: list[str], *, days: int = 825) -> LocalCertificates:
    """A new CA (``ca.pem``) and a server certificate for ``names`` (DNS names or IP addresses:
    ``server.pem``, ``server.key``) in ``out_dir``. The CA's key is not kept: it signs once."""
    if not names:
        raise ValueError("a certificate needs at least one name (a host name or an IP address)")
    now = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = (
        x509.CertificateBuilder()
        .subject_name(_name("tongdai local CA"))
        .issuer_name(_name("tongdai local CA"))
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + dt.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False), True)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(names[0]))
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + dt.timedelta(days=days))
        .add_extension(x509.SubjectAlternativeName(_san(names)), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    out_dir.mkdir(parents=True, exist_ok=True)
    certs = LocalCertificates(out_dir / "ca.pem", out_dir / "server.pem", out_dir / "server.key")
    certs.ca_file.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    certs.cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    fmt = serialization.PrivateFormat.TraditionalOpenSSL
    pem = key.private_bytes(serialization.Encoding.PEM, fmt, serialization.NoEncryption())
    fd = os.open(certs.key_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(pem)
    return certs
