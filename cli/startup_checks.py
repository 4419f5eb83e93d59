"""What stops `mailferry web`, `worker` and `scheduler` before they start (exit code 2, each
reason and its fix on standard error); `mailferry doctor` reports the same checks.

`mailferry run` (the demo's one command) migrates the database itself before starting its
processes, so it never meets the schema refusal.
"""

from __future__ import annotations

import sys

from cryptography import x509
from sqlalchemy.exc import SQLAlchemyError

from mailferry.config import Config
from mailferry.tls import DEVELOPMENT_CA_NAME, CertificatePaths

REFUSED = 2
_CERTIFICATE_FIX = ("serve your own certificate and key (MAILFERRY_TLS_CERT_FILE, MAILFERRY_TLS_KEY_FILE), or run "
                    "behind a reverse proxy that terminates TLS with `mailferry web --proxy`")


def schema_refusal(config: Config) -> str | None:
    """The database's schema is not the one this code expects (or cannot be read)."""
    from mailferry import migrate

    try:
        return migrate.schema_refusal(config.database_url)
    except SQLAlchemyError as error:
        reason = str(getattr(error, "orig", None) or error).splitlines()[0]
        return (f"DATABASE_URL: the database's schema revision cannot be read ({type(error).__name__}: {reason}); "
                "check that the database server runs and that DATABASE_URL names it")


def development_certificate_refusal(config: Config) -> str | None:
    """In production, the certificate Mailferry itself serves (plain `mailferry web`) must not
    be the demo's: the files `mailferry certs` makes, or any certificate its development CA
    issued, which no browser, Outlook or Microsoft's webhooks trust."""
    if config.is_demo:
        return None
    development = CertificatePaths(config.certs_dir)
    if config.tls_cert_file == development.server_cert or config.tls_key_file == development.server_key:
        return (f"MAILFERRY_TLS_CERT_FILE and MAILFERRY_TLS_KEY_FILE are left at the development certificate "
                f"({development.server_cert}): {_CERTIFICATE_FIX}")
    try:
        certificate = x509.load_pem_x509_certificate(config.tls_cert_file.read_bytes())
    except (OSError, ValueError) as error:
        return f"MAILFERRY_TLS_CERT_FILE={str(config.tls_cert_file)!r} cannot be read as a PEM certificate ({error})"
    if certificate.issuer == DEVELOPMENT_CA_NAME:
        return (f"MAILFERRY_TLS_CERT_FILE={str(config.tls_cert_file)!r} was issued by Mailferry's development CA: "
                + _CERTIFICATE_FIX)
    return None


def refuse_to_start(config: Config, *, terminates_tls: bool = False) -> int | None:
    """Print why this process must not start and return its exit code, or None to go on.
    `terminates_tls`: the process serves HTTPS with MAILFERRY_TLS_CERT_FILE itself."""
    refusals = [schema_refusal(config)]
    if terminates_tls:
        refusals.append(development_certificate_refusal(config))
    refusals = [refusal for refusal in refusals if refusal]
    for refusal in refusals:
        print(f"mailferry: not starting: {refusal}", file=sys.stderr)
    return REFUSED if refusals else None
