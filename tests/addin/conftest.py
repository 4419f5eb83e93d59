"""The add-in API against the Microsoft sandbox: the app trusts the sandbox's Entra (its
JWKS, over HTTPS), tokens come from real msal flows through the sandbox's sign-in page, and
the users, messages and records are committed rows in the test database (removed after each
test with their tenants)."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from sqlalchemy import delete
from sqlalchemy.orm import Session

from mailferry.models import Connection, Tenant
from tests.addin.api_calls import API_SCOPE, INSTANCE
from tests.db import factories
from tests.sandbox.microsoft.tenant import ALICE, TENANT, sign_in


@dataclass
class AddinWorld:
    session: Session
    alice: object
    alice_mailbox: object
    stranger: object
    stranger_mailbox: object

    def message(self, mailbox=None, **values):
        values.setdefault("status", "unresolved")
        values.setdefault("participants", [])
        return factories.message(self.session, mailbox or self.alice_mailbox, **values)


@pytest.fixture
def addin_world(engine):
    """Alice of the sandbox tenant is a Mailferry user (Bob is not); a user of another tenant."""
    session = Session(engine, expire_on_commit=False)
    tenant = factories.tenant(session, tid=TENANT, primary_domain="contoso-test.com")
    alice = factories.user(session, tenant, oid=ALICE.oid, upn=ALICE.upn, email=ALICE.upn,
                           display_name=ALICE.display_name)
    other = factories.tenant(session)
    stranger = factories.user(session, other)
    session.add(Connection(tenant_id=tenant.id, user_id=alice.id, provider="salesforce", kind="delegated",
                           instance_url=INSTANCE))
    world = AddinWorld(session, alice, factories.mailbox(session, alice), stranger,
                       factories.mailbox(session, stranger))
    session.commit()
    yield world
    session.rollback()
    session.execute(delete(Tenant).where(Tenant.id.in_([tenant.id, other.id])))
    session.commit()
    session.close()


@pytest.fixture
def addin_app(make_config, microsoft_url, certs):
    from server import create_app

    return create_app(make_config(MAILFERRY_SANDBOX_MICROSOFT_PORT=microsoft_url.rsplit(":", 1)[1],
                                  MAILFERRY_CERTS_DIR=str(certs.folder)))


@pytest.fixture
def api_token(microsoft_url, client_session):
    """An access token for Mailferry's API scope, as Nested App Authentication obtains one."""
    def token(upn: str = ALICE.upn) -> str:
        _, result = sign_in(microsoft_url, client_session, upn, scopes=(API_SCOPE,))
        return result["access_token"]

    return token


@pytest.fixture
def addin_api(addin_app):
    """Call the API with a bearer token: api(token).get("/addin/api/me")."""
    def with_token(token: str | None):
        client = addin_app.test_client()
        if token is not None:
            client.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {token}"
        return client

    return with_token
