"""/healthz says the web process is alive (and nothing else); every response carries the security headers."""

from __future__ import annotations

from server import create_app
from server.security import CONTENT_SECURITY_POLICY
from tests.https_server import start_https


def test_healthz_is_ok_over_verified_https(app, certs, client_session):
    server, url = start_https(app, certs)
    try:
        response = client_session.get(f"{url}/healthz", timeout=5)
    finally:
        server.shutdown()
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_healthz_says_alive_while_redis_and_the_database_are_unreachable(make_config, tmp_path):
    """Liveness only: an outage of either is /readyz's to report (tests/server/test_readyz.py),
    not a reason to restart every web process."""
    app = create_app(make_config(REDIS_URL=f"unix://{tmp_path}/nobody.sock",
                                 DATABASE_URL="postgresql://mailferry@127.0.0.1:1/mailferry"))
    response = app.test_client().get("/healthz")
    assert response.status_code == 200
    assert response.json == {"status": "ok"}


def test_every_response_carries_the_security_headers(app):
    for path in ("/healthz", "/no-such-page"):
        headers = app.test_client().get(path).headers
        assert headers["Content-Security-Policy"] == CONTENT_SECURITY_POLICY
        assert "'unsafe-inline'" not in headers["Content-Security-Policy"]
        assert headers["Strict-Transport-Security"].startswith("max-age=31536000")
        assert headers["X-Content-Type-Options"] == "nosniff"
        assert headers["Referrer-Policy"] == "strict-origin-when-cross-origin"


def test_session_cookie_settings_are_secure(app):
    assert app.config["SESSION_COOKIE_SECURE"] is True
    assert app.config["SESSION_COOKIE_HTTPONLY"] is True
    assert app.config["SESSION_COOKIE_SAMESITE"] == "Lax"
