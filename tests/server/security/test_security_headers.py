"""Security headers on every page the app serves: a CSP without inline script or style,
framing refused (task-pane pages will name Outlook's origins instead), HSTS, nosniff."""

from __future__ import annotations

import pytest

from server import sign_in_sessions

from tests.server.security.routes import ROUTES

GET_ROUTES = [(e, r) for e, r, m in ROUTES if m == "GET"]
#: Pages Outlook frames (issue 6): their frame-ancestors names the Outlook origins. (The
#: sign-in dialog's pages open as windows and refuse framing like the rest.)
TASK_PANE_ENDPOINTS = {"addin.taskpane", "addin.commands"}


def directives(policy: str) -> dict[str, list[str]]:
    parsed = {}
    for part in policy.split(";"):
        words = part.split()
        if words:
            parsed[words[0]] = words[1:]
    return parsed


@pytest.mark.parametrize(("endpoint", "rule"), GET_ROUTES, ids=[r for _, r in GET_ROUTES])
def test_every_page_carries_the_security_headers(endpoint, rule, security_stack, sign_in_client):
    from tests.server.security.expectations import parameters
    from tests.server.security.routes import url_of

    world = security_stack.fresh_world()
    client = security_stack.client(sign_in_client, world.users["owner"])
    response = client.get(url_of(security_stack.app, endpoint, rule, parameters(world)))
    response.get_data()
    response.close()
    csp = directives(response.headers["Content-Security-Policy"])
    for directive in ("script-src", "style-src"):
        assert "'unsafe-inline'" not in csp[directive] and "'unsafe-eval'" not in csp[directive], csp
    assert "'unsafe-inline'" not in csp["default-src"]
    assert csp["object-src"] == ["'none'"] and csp["base-uri"] == ["'none'"]
    if endpoint in TASK_PANE_ENDPOINTS:
        assert "https://outlook.office.com" in csp["frame-ancestors"]
        assert not [source for source in csp["frame-ancestors"] if "*" in source], csp["frame-ancestors"]
    else:
        assert csp["frame-ancestors"] == ["'none'"]
    assert response.headers["Strict-Transport-Security"].startswith("max-age=")
    assert int(response.headers["Strict-Transport-Security"].split("=")[1].split(";")[0]) >= 15552000
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    # A signed-in person's pages (and the add-in API's answers) are never cached.
    if endpoint not in sign_in_sessions.FILE_ENDPOINTS and not endpoint.startswith("health."):
        assert response.headers.get("Cache-Control") == "no-store", (rule, response.headers.get("Cache-Control"))


def test_an_anonymous_page_and_the_static_files_stay_cacheable(security_stack, sign_in_client):
    world = security_stack.fresh_world()
    assert "no-store" not in security_stack.client(sign_in_client, None).get("/").headers.get("Cache-Control", "")
    signed_in = security_stack.client(sign_in_client, world.users["owner"])
    for path in ("/addin/assets/taskpane.js", "/addin/manifest.xml"):
        response = signed_in.get(path)
        assert response.status_code == 200 and "no-store" not in response.headers.get("Cache-Control", ""), path


def test_connections_page_lets_its_form_reach_only_salesforce_login_hosts(security_stack, sign_in_client):
    world = security_stack.fresh_world()
    client = security_stack.client(sign_in_client, world.users["owner"])
    csp = directives(client.get("/connections").headers["Content-Security-Policy"])
    assert csp["form-action"] == ["'self'", security_stack.config.salesforce_login_url,
                                  "https://test.salesforce.com", "https://*.my.salesforce.com"]
    assert csp["frame-ancestors"] == ["'none'"]


def test_session_cookie_is_secure_httponly_and_samesite(security_stack, sign_in_client):
    world = security_stack.fresh_world()
    client = security_stack.client(sign_in_client, world.users["owner"])
    response = client.get("/connections")  # the page's CSRF token is stored in the session
    cookies = [h for h in response.headers.getlist("Set-Cookie") if h.startswith("session=")]
    assert cookies
    attributes = [a.strip().lower() for a in cookies[-1].split(";")]
    assert "secure" in attributes and "httponly" in attributes and "samesite=lax" in attributes
