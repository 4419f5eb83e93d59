"""The development certificates: reused while valid, and trusted by our clients with
verification on, whatever REQUESTS_CA_BUNDLE says."""

from __future__ import annotations

import datetime as dt

import pytest
import requests
from cryptography import x509
from flask import Flask

from mailferry.tls import LEAF_VALIDITY, ensure_certificates, https_session
from tests.https_server import start_https


@pytest.fixture(scope="module")
def hello_server(certs):
    app = Flask("hello")
    app.add_url_rule("/", "hello", lambda: "hello")
    server, url = start_https(app, certs)
    yield url
    server.shutdown()


def test_certificates_are_reused_while_valid(tmp_path):
    paths, created = ensure_certificates(tmp_path)
    original = paths.server_cert.read_bytes()
    assert created
    assert ensure_certificates(tmp_path) == (paths, False)
    assert paths.server_cert.read_bytes() == original
    assert paths.ca_key.stat().st_mode & 0o077 == 0


def test_certificates_near_expiry_are_replaced(tmp_path):
    long_ago = dt.datetime.now(dt.timezone.utc) - LEAF_VALIDITY + dt.timedelta(days=10)
    paths, _ = ensure_certificates(tmp_path, now=long_ago)
    _, created = ensure_certificates(tmp_path)
    assert created
    leaf = x509.load_pem_x509_certificate(paths.server_cert.read_bytes())
    assert leaf.not_valid_after_utc > dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=300)


def test_server_certificate_names_localhost_and_loopback(certs):
    leaf = x509.load_pem_x509_certificate(certs.server_cert.read_bytes())
    names = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert names.get_values_for_type(x509.DNSName) == ["localhost"]
    assert {str(a) for a in names.get_values_for_type(x509.IPAddress)} == {"127.0.0.1", "::1"}


def test_our_client_verifies_the_chain_even_when_the_environment_names_another_bundle(
    certs, hello_server, monkeypatch
):
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", "/etc/ssl/certs/ca-certificates.crt")
    monkeypatch.setenv("CURL_CA_BUNDLE", "/etc/ssl/certs/ca-certificates.crt")
    with https_session(certs.ca_cert) as session:
        assert session.get(hello_server, timeout=5).text == "hello"


def test_verification_stays_on(tmp_path, hello_server):
    other_ca, _ = ensure_certificates(tmp_path / "other")
    with https_session(other_ca.ca_cert) as session:
        with pytest.raises(requests.exceptions.SSLError):
            session.get(hello_server, timeout=5)
