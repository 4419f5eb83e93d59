"""Fixtures every test may use: the development certificates and an HTTPS client trusting them."""

from __future__ import annotations

from pathlib import Path

import pytest

from mailferry.tls import CertificatePaths, ensure_certificates, https_session


@pytest.fixture(scope="session")
def certs(tmp_path_factory) -> CertificatePaths:
    paths, _ = ensure_certificates(Path(tmp_path_factory.mktemp("certs")))
    return paths


@pytest.fixture
def client_session(certs):
    """A `requests.Session` verifying against the test CA only (verification on)."""
    with https_session(certs.ca_cert) as session:
        yield session
