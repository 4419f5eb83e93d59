"""Salesforce org pinning per tenant (SPEC 14), for real: Connect Salesforce through the
sandbox's login page to its org, refused after the OAuth exchange when the tenant is pinned
to another org (MAILFERRY_SALESFORCE_ORG_IDS or the admin page): the tokens are revoked at
Salesforce and never stored, and the Connections page says why. The admin page sets, clears
and offers the org the tenant's users connected; a config pin is shown read-only."""

from __future__ import annotations

import html

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from mailferry.models import Connection, Tenant, User
from tests.config_fixtures import build_config, sandbox_ports
from tests.server.security.flows import (allow_salesforce, csrf_token, demo_user, salesforce_user_id,
                                         sign_in_with_microsoft)

FOREIGN_ORG = "00D000000000042"


@pytest.fixture
def app_for(cleared_security_stack, redis_url, certs, sandbox_settings):
    """`app_for(**variables)`: the security stack's app with these settings (a fresh app)."""
    from server import create_app

    stack = cleared_security_stack

    def make(**variables: str):
        return create_app(build_config(stack.config.data_dir, MAILFERRY_CERTS_DIR=str(certs.folder),
                                       DATABASE_URL=stack.database_url, REDIS_URL=redis_url,
                                       **sandbox_ports(sandbox_settings), **variables))

    return make


def _signed_in(app, stack, http):
    client = app.test_client()
    client.environ_base["wsgi.url_scheme"] = "https"
    client.environ_base["HTTP_REFERER"] = "https://localhost/"
    person = demo_user(http, stack.config.sandbox_microsoft_url)
    assert sign_in_with_microsoft(client, http, person["id"]).status_code == 302
    return client, person


def _connect(client, stack, http, person):
    """Connect Salesforce as the person's sandbox Salesforce user; returns the Connections page."""
    started = client.post("/connections/salesforce/connect",
                          data={"csrf_token": csrf_token(client), "login_host": "configured"})
    user_id = salesforce_user_id(http, stack.config.sandbox_salesforce_url, person["salesforceUsername"])
    callback = allow_salesforce(http, started.location, user_id)
    back = client.get(callback.removeprefix(stack.config.base_url))
    assert back.status_code == 302 and back.location == "/connections"
    return html.unescape(client.get("/connections").get_data(as_text=True))


def _salesforce_connections(stack) -> list[Connection]:
    with Session(stack.engine) as session:
        return list(session.execute(select(Connection).where(Connection.provider == "salesforce")).scalars())


def _revocations(http, stack) -> int:
    stats = http.get(f"{stack.config.sandbox_salesforce_url}/_sandbox/stats").json()
    return stats["calls"].get("POST /services/oauth2/revoke", 0)


def test_connecting_another_org_than_the_configured_pin_is_refused_revoked_and_not_stored(
        cleared_security_stack, app_for, client_session):
    stack = cleared_security_stack
    client, person = _signed_in(app_for(MAILFERRY_SALESFORCE_ORG_IDS=FOREIGN_ORG), stack, client_session)
    before = _revocations(client_session, stack)
    page = _connect(client, stack, client_session, person)
    assert f"Mailferry here records only to org {FOREIGN_ORG}" in page and "MAILFERRY_SALESFORCE_ORG_IDS" in page
    assert "Salesforce connected as" not in page
    assert _salesforce_connections(stack) == []
    assert _revocations(client_session, stack) == before + 1


def test_the_admins_pin_refuses_other_orgs_and_the_right_org_connects(cleared_security_stack, app_for,
                                                                        client_session):
    stack = cleared_security_stack
    app = app_for()
    client, person = _signed_in(app, stack, client_session)  # the demo's first user: an admin
    saved = client.post("/admin/salesforce-org", data={"csrf_token": csrf_token(client, "/admin/salesforce-org"),
                                                        "org_id": FOREIGN_ORG + "AAA"}, follow_redirects=True)
    assert f"may now connect only org {FOREIGN_ORG}" in saved.get_data(as_text=True)
    page = _connect(client, stack, client_session, person)
    assert "the Salesforce org setting of Mailferry's admin pages" in page
    assert _salesforce_connections(stack) == []

    cleared = client.post("/admin/salesforce-org", data={"csrf_token": csrf_token(client, "/admin/salesforce-org"),
                                                          "org_id": ""}, follow_redirects=True)
    assert "may connect any org" in cleared.get_data(as_text=True)
    assert "Salesforce connected as" in _connect(client, stack, client_session, person)
    (connection,) = _salesforce_connections(stack)
    org = connection.external_org_id[:15]
    offered = client.get("/admin/salesforce-org").get_data(as_text=True)
    assert f'data-org-id="{org}"' in offered and 'data-testid="pin-connected-org"' in offered
    client.post("/admin/salesforce-org", data={"csrf_token": csrf_token(client, "/admin/salesforce-org"),
                                               "org_id": org})
    with Session(stack.engine) as session:
        assert session.execute(select(Tenant.salesforce_pinned_org_id)).scalar_one() == org
    assert "Salesforce connected as" in _connect(client, stack, client_session, person)  # 18 vs 15: the same org


def test_a_config_pin_is_shown_read_only_and_cannot_be_changed_on_the_page(cleared_security_stack, app_for,
                                                                           client_session):
    stack = cleared_security_stack
    client, _ = _signed_in(app_for(MAILFERRY_SALESFORCE_ORG_IDS=FOREIGN_ORG), stack, client_session)
    page = client.get("/admin/salesforce-org").get_data(as_text=True)
    assert 'data-source="config"' in page and 'data-testid="org-pin-form"' not in page
    client.post("/admin/salesforce-org", data={"csrf_token": csrf_token(client, "/admin/salesforce-org"),
                                               "org_id": "00D000000000001"})
    with Session(stack.engine) as session:
        assert session.execute(select(Tenant.salesforce_pinned_org_id)).scalar_one() is None


def test_a_malformed_org_id_is_refused_with_the_reason(cleared_security_stack, app_for, client_session):
    client, _ = _signed_in(app_for(), cleared_security_stack, client_session)
    answer = client.post("/admin/salesforce-org", data={"csrf_token": csrf_token(client, "/admin/salesforce-org"),
                                                         "org_id": "001000000000001"})
    assert answer.status_code == 422 and "starts with 00D" in answer.get_data(as_text=True)


def test_a_user_cannot_change_the_pin(cleared_security_stack, app_for, client_session):
    stack = cleared_security_stack
    app = app_for()
    _signed_in(app, stack, client_session)  # the admin
    client = app.test_client()
    client.environ_base["wsgi.url_scheme"] = "https"
    client.environ_base["HTTP_REFERER"] = "https://localhost/"
    rep = demo_user(client_session, stack.config.sandbox_microsoft_url, 1)
    assert sign_in_with_microsoft(client, client_session, rep["id"]).status_code == 302
    with Session(stack.engine) as session:
        assert session.execute(select(User.role).where(User.oid == rep["id"])).scalar_one() == "user"
    answer = client.post("/admin/salesforce-org", data={"csrf_token": csrf_token(client), "org_id": FOREIGN_ORG})
    assert answer.status_code == 403
