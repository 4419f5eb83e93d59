"""An app registration's certificate credential for tests: a self-signed certificate and its
private key in one PEM file (what MICROSOFT_CLIENT_CERTIFICATE_FILE names), and the manifest
entry that registers it in the Microsoft sandbox."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from sandbox.microsoft.client_assertions import key_credential


def write_client_certificate(path: Path, name: str = "Mailferry app-only") -> Path:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = dt.datetime.now(dt.timezone.utc)
    certificate = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject)
                   .public_key(key.public_key()).serial_number(x509.random_serial_number())
                   .not_valid_before(now - dt.timedelta(days=1)).not_valid_after(now + dt.timedelta(days=365))
                   .sign(key, hashes.SHA256()))
    path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM) + key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    return path


def registration(client_id: str, certificate_file: Path, **more) -> dict:
    """`POST /_sandbox/apps` for an app whose credential is the certificate in the file."""
    return {"client_id": client_id, "client_secret": "unused-secret-of-a-certificate-app",
            "key_credentials": [key_credential(certificate_file.read_bytes(), "6f0d0c4e-0000-4000-8000-00000000c0de")],
            **more}
