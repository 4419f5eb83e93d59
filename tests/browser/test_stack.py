"""The browser reaches the app over HTTPS with certificate checks on."""

from __future__ import annotations


def test_the_app_answers_over_verified_https(page, web):
    response = page.goto("/healthz")
    assert response.status == 200
    assert response.security_details()["protocol"].startswith("TLS")
    assert page.url == f"{web.url}/healthz"


def test_a_server_with_another_key_is_refused(page, tmp_path):
    """The SPKI pin trusts our key only: certificate checks are really on."""
    import pytest
    from playwright.sync_api import Error

    from mailferry.tls import ensure_certificates
    from tests.https_server import start_https

    other, _ = ensure_certificates(tmp_path / "other-certs")
    server, url = start_https(lambda environ, start: start("200 OK", []) or [b"hi"], other)
    try:
        with pytest.raises(Error, match="ERR_CERT"):
            page.goto(f"{url}/")
    finally:
        server.shutdown()
