"""Every state-changing route refuses a request without the session's CSRF token (400),
except the few that prove themselves otherwise (listed, with the reason)."""

from __future__ import annotations

import pytest

from tests.server.security.routes import ROUTES

STATE_CHANGING = {"POST", "PUT", "PATCH", "DELETE"}
#: Routes called by other servers, or with a bearer token instead of a session: no cookie
#: authenticates them, so there is nothing for a cross-site request to ride on.
BEARER = "the add-in API: only a bearer token from the pane's memory authenticates it (cookies are ignored)"
EXEMPT = {
    "addin_api.status": BEARER,
    "addin_api.ignore": BEARER,
    "addin_api.sync_now": BEARER,
    "addin_api.ignore_email": BEARER,
    "addin_api.retry": BEARER,
    "graph_webhooks.notifications": "Graph proves itself with the subscription's clientState",
    "graph_webhooks.lifecycle": "Graph proves itself with the subscription's clientState",
    "auth.microsoft_callback": "Entra's cross-site form_post; the flow's state and the binding cookie protect it",
}
CHANGING_ROUTES = [(e, r, m) for e, r, m in ROUTES if m in STATE_CHANGING and e not in EXEMPT]


@pytest.mark.parametrize(("endpoint", "rule", "method"), CHANGING_ROUTES,
                         ids=[f"{m} {r}" for _, r, m in CHANGING_ROUTES])
def test_state_changing_route_needs_the_csrf_token(endpoint, rule, method, security_stack, sign_in_client):
    from tests.server.security.expectations import form, parameters
    from tests.server.security.routes import url_of

    world = security_stack.fresh_world()
    url = url_of(security_stack.app, endpoint, rule, parameters(world))
    client = security_stack.client(sign_in_client, world.users["owner"])
    client.get("/connections")  # the session now has a CSRF secret
    for data in (form(world), {**form(world), "csrf_token": "forged"}):
        response = client.open(url, method=method, data=data)
        assert response.status_code == 400, (url, response.status_code)
        assert "CSRF token" in response.get_data(as_text=True)  # not some other 400


def test_the_exempt_list_names_only_existing_state_changing_routes():
    changing = {e for e, _, m in ROUTES if m in STATE_CHANGING}
    assert set(EXEMPT) <= changing


def test_a_state_changing_request_from_another_origin_is_refused_even_with_the_token(security_stack, sign_in_client):
    """Origin, when the browser sends it, must be this host: a valid token and Referer do not
    make up for a request another site made (or an opaque `null` origin)."""
    from tests.server.security.expectations import form, parameters
    from tests.server.security.flows import csrf_token
    from tests.server.security.routes import url_of

    world = security_stack.fresh_world()
    client = security_stack.client(sign_in_client, world.users["owner"])
    token = csrf_token(client)
    for endpoint, rule, method in CHANGING_ROUTES:
        url = url_of(security_stack.app, endpoint, rule, parameters(world))
        for origin in ("https://evil.example", "null", "http://localhost"):
            response = client.open(url, method=method, data={**form(world), "csrf_token": token},
                                   headers={"Origin": origin})
            assert response.status_code == 400, (url, origin, response.status_code)
            assert "Origin header names another site" in response.get_data(as_text=True), (url, origin)


def test_our_own_origin_passes_the_csrf_check(security_stack, sign_in_client):
    world = security_stack.fresh_world()
    client = security_stack.client(sign_in_client, world.users["owner"])
    from tests.server.security.flows import csrf_token

    out = client.post("/auth/sign-out", data={"csrf_token": csrf_token(client)}, headers={"Origin": "https://localhost"})
    assert out.status_code == 302 and out.location == "/"
