"""The real stack the browser tests drive: both sandboxes and the web app, each over HTTPS
with the test certificate, on a database and Redis of their own.

Kept apart from the fixtures so the pieces (config, database cleaning, SPKI pin) read alone.
"""

from __future__ import annotations

import base64
import hashlib
import os
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from sqlalchemy import delete

from mailferry.config import Config
from tests.config_fixtures import build_config
from mailferry.db import make_engine
from mailferry.tls import CertificatePaths

PROJECT_ROOT = Path(__file__).resolve().parents[2]
AXE_SCRIPT = PROJECT_ROOT / "node_modules" / "axe-core" / "axe.min.js"
#: Debian's Chromium; `make test CHROMIUM=/path/to/chromium` (the Makefile passes it on) for another build.
CHROMIUM = Path(os.environ.get("CHROMIUM") or "/usr/bin/chromium")
#: How long a browser step may wait (sign-in crosses three servers; CI has two shared cores).
TIMEOUT_MS = 30_000


def web_config(data_dir: Path, database_url: str, redis_url: str, certs: CertificatePaths,
               web_port: int, microsoft_url: str, salesforce_url: str) -> Config:
    """The web app's configuration: the demo environment pointed at the test sandboxes, its
    base URL the real https://localhost:<port> it is served on (redirect URIs depend on it)."""
    return build_config(data_dir, MAILFERRY_CERTS_DIR=str(certs.folder), DATABASE_URL=database_url,
                        REDIS_URL=redis_url, MAILFERRY_PORT=str(web_port),
                        MAILFERRY_SANDBOX_MICROSOFT_PORT=microsoft_url.rsplit(":", 1)[1],
                        MAILFERRY_SANDBOX_SALESFORCE_PORT=salesforce_url.rsplit(":", 1)[1])


def spki_hash(certificate_file: Path) -> str:
    """base64(SHA-256(SubjectPublicKeyInfo)) of a PEM certificate: the form Chromium's
    `--ignore-certificate-errors-spki-list` takes."""
    certificate = x509.load_pem_x509_certificate(certificate_file.read_bytes())
    spki = certificate.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return base64.b64encode(hashlib.sha256(spki).digest()).decode()


def clear_database(database_url: str) -> None:
    """Delete every row (children first): each browser test starts from an empty app."""
    import mailferry.models  # noqa: F401  (registers every table)
    from mailferry.db import Base

    engine = make_engine(database_url)
    try:
        with engine.begin() as connection:
            for table in reversed(Base.metadata.sorted_tables):
                connection.execute(delete(table))
    finally:
        engine.dispose()


def history_row(page, subject: str):
    """The Sync History row of the email with this subject."""
    return page.get_by_test_id("history-row").filter(has=page.locator("td.subject", has_text=subject))
