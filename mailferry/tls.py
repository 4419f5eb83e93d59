"""The development certificate authority and the HTTPS client settings that trust it.

`ensure_certificates` makes a local CA and a localhost certificate signed by it (reused while
valid); `https_session` returns a `requests.Session` that trusts exactly that CA, even when
the environment sets `REQUESTS_CA_BUNDLE` (which `requests` would otherwise prefer over
`session.verify`).
"""

from __future__ import annotations

import datetime as dt
import ipaddress
from dataclasses import dataclass
from pathlib import Path

import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

CA_VALIDITY = dt.timedelta(days=730)
# Browsers refuse server certificates valid for longer than 398 days.
LEAF_VALIDITY = dt.timedelta(days=397)
# Certificates this close to expiry are replaced rather than reused.
RENEW_BEFORE = dt.timedelta(days=30)
LOCAL_NAMES = ("localhost",)
LOCAL_ADDRESSES = ("127.0.0.1", "::1")
#: How every development CA names itself, so the issuer of each certificate it signed: what
#: production's refusal of development certificates recognises (cli/startup_checks.py).
DEVELOPMENT_CA_NAME = x509.Name([
    x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Mailferry development"),
    x509.NameAttribute(NameOID.COMMON_NAME, "Mailferry development CA"),
])


@dataclass(frozen=True)
class CertificatePaths:
    """Where the CA and the localhost certificate live in one certificates folder."""

    folder: Path

    @property
    def ca_cert(self) -> Path:
        return self.folder / "ca.pem"

    @property
    def ca_key(self) -> Path:
        return self.folder / "ca-key.pem"

    @property
    def server_cert(self) -> Path:
        return self.folder / "localhost.pem"

    @property
    def server_key(self) -> Path:
        return self.folder / "localhost-key.pem"


def ensure_certificates(folder: Path, now: dt.datetime | None = None) -> tuple[CertificatePaths, bool]:
    """Make the CA and the localhost certificate unless valid ones exist.

    Returns the paths and whether anything was (re)created.
    """
    now = now or dt.datetime.now(dt.timezone.utc)
    paths = CertificatePaths(Path(folder))
    paths.folder.mkdir(parents=True, exist_ok=True)
    if _still_valid(paths, now):
        return paths, False
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_cert = _make_ca(ca_key, now)
    server_key = ec.generate_private_key(ec.SECP256R1())
    server_cert = _make_server_cert(server_key, ca_key, ca_cert, now)
    _write_key(paths.ca_key, ca_key)
    paths.ca_cert.write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    _write_key(paths.server_key, server_key)
    paths.server_cert.write_bytes(server_cert.public_bytes(serialization.Encoding.PEM))
    return paths, True


def https_session(ca_file: Path | str | None) -> requests.Session:
    """A `requests.Session` that verifies servers against `ca_file` only (None: the public
    CAs of `certifi`).

    `trust_env` is off because `requests` replaces `session.verify` with `REQUESTS_CA_BUNDLE`
    or `CURL_CA_BUNDLE` from the environment when it is on; verification stays on.
    """
    session = requests.Session()
    session.trust_env = False
    session.verify = str(ca_file) if ca_file else True
    return session


def trust_instructions(paths: CertificatePaths) -> str:
    """How a person makes their browser and OS trust the development CA."""
    ca = paths.ca_cert
    return "\n".join(
        [
            f"Development CA: {ca}",
            "To open https://localhost pages without warnings (needed to sideload the add-in):",
            f"  Debian/Ubuntu: sudo cp {ca} /usr/local/share/ca-certificates/mailferry-dev-ca.crt"
            " && sudo update-ca-certificates",
            f"  macOS: sudo security add-trusted-cert -d -r trustRoot"
            f" -k /Library/Keychains/System.keychain {ca}",
            f"  Windows: certutil -addstore -f Root {ca}",
            "  Firefox: Settings > Privacy & Security > Certificates > View Certificates >"
            " Authorities > Import",
        ]
    )


def _still_valid(paths: CertificatePaths, now: dt.datetime) -> bool:
    files = (paths.ca_cert, paths.ca_key, paths.server_cert, paths.server_key)
    if not all(f.exists() for f in files):
        return False
    try:
        ca = x509.load_pem_x509_certificate(paths.ca_cert.read_bytes())
        leaf = x509.load_pem_x509_certificate(paths.server_cert.read_bytes())
        ca.public_key().verify(leaf.signature, leaf.tbs_certificate_bytes, ec.ECDSA(leaf.signature_hash_algorithm))
    except Exception:  # unreadable or not signed by this CA: make new ones
        return False
    return all(cert.not_valid_after_utc - RENEW_BEFORE > now for cert in (ca, leaf))


def _make_ca(key: ec.EllipticCurvePrivateKey, now: dt.datetime) -> x509.Certificate:
    return (
        x509.CertificateBuilder()
        .subject_name(DEVELOPMENT_CA_NAME)
        .issuer_name(DEVELOPMENT_CA_NAME)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + CA_VALIDITY)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True, content_commitment=False, key_encipherment=False,
                data_encipherment=False, key_agreement=False, key_cert_sign=True,
                crl_sign=True, encipher_only=False, decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )


def _make_server_cert(
    key: ec.EllipticCurvePrivateKey,
    ca_key: ec.EllipticCurvePrivateKey,
    ca_cert: x509.Certificate,
    now: dt.datetime,
) -> x509.Certificate:
    alt_names: list[x509.GeneralName] = [x509.DNSName(n) for n in LOCAL_NAMES]
    alt_names += [x509.IPAddress(ipaddress.ip_address(a)) for a in LOCAL_ADDRESSES]
    return (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + LEAF_VALIDITY)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.SubjectAlternativeName(alt_names), critical=False)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )


def _write_key(path: Path, key: ec.EllipticCurvePrivateKey) -> None:
    path.touch(mode=0o600, exist_ok=True)
    path.chmod(0o600)
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
