"""/healthz reports database and Redis reachability; every response carries the security headers."""

from __future__ import annotations

from server import create_app
from server.security import CONTENT_SECURITY_POLICY
from tests.https_server import start_https


def test_healthz_is_ok_over_verified_https_when_database_and_redis_answer(app, certs, client_session):
    server, url = start_https(app, certs)
    try:
        response = client_session.get(f"{url}/healthz", timeout=5)
    finally:
        server.shutdown()
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "checks": {"database": "ok", "redis": "ok"}}


def test_healthz_is_503_and_names_redis_when_redis_is_unreachable(make_config, tmp_path):
    app = create_app(make_config(REDIS_URL=f"unix://{tmp_path}/nobody.sock"))
    response = app.test_client().get("/healthz")
    assert response.status_code == 503
    assert response.json["checks"]["database"] == "ok"
    assert response.json["checks"]["redis"].startswith("unreachable: ")


def test_healthz_is_503_and_names_the_database_when_it_is_unreachable(make_config):
    # Nothing listens on port 1: the connection is refused at once.
    app = create_app(make_config(DATABASE_URL="postgresql://mailferry@127.0.0.1:1/mailferry"))
    response = app.test_client().get("/healthz")
    assert response.status_code == 503
    assert response.json["checks"]["database"].startswith("unreachable: ")
    assert response.json["checks"]["redis"] == "ok"


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
