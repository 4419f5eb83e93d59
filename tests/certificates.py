"""Server certificates other than the development one, for tests of what production serves
and reaches: `issue_certificate` writes one into a folder laid out as `CertificatePaths`."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from mailferry.tls import CertificatePaths

OWN_CA_NAME = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Example Corp Issuing CA")])


def issue_certificate(folder: Path, names: tuple[str, ...], issuer: CertificatePaths | None = None) -> CertificatePaths:
    """A certificate for the DNS `names` in `folder` (its server_cert and server_key), signed
    by `issuer`'s CA (e.g. the test CA, a development CA) or, when None, by a CA of the
    test's own (an organisation's CA; written as the folder's ca_cert)."""
    paths = CertificatePaths(Path(folder))
    paths.folder.mkdir(parents=True, exist_ok=True)
    now = dt.datetime.now(dt.timezone.utc)
    if issuer is None:
        ca_key = ec.generate_private_key(ec.SECP256R1())
        ca_cert = _builder(OWN_CA_NAME, OWN_CA_NAME, ca_key, now).add_extension(
            x509.BasicConstraints(ca=True, path_length=0), critical=True).sign(ca_key, hashes.SHA256())
    else:
        ca_key = serialization.load_pem_private_key(issuer.ca_key.read_bytes(), password=None)
        ca_cert = x509.load_pem_x509_certificate(issuer.ca_cert.read_bytes())
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])])
    leaf = (_builder(subject, ca_cert.subject, key, now)
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(n) for n in names]), critical=False)
            .sign(ca_key, hashes.SHA256()))
    paths.ca_cert.write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    paths.server_cert.write_bytes(leaf.public_bytes(serialization.Encoding.PEM))
    paths.server_key.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                   serialization.NoEncryption()))
    return paths


def _builder(subject: x509.Name, issuer: x509.Name, key, now: dt.datetime) -> x509.CertificateBuilder:
    return (x509.CertificateBuilder().subject_name(subject).issuer_name(issuer).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + dt.timedelta(days=30)))
