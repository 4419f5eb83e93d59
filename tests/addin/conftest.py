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
from sandbox.microsoft.apps import DEMO_CLIENT_ID
from tests.db import factories
from tests.sandbox.microsoft.conftest import ALICE, BOB, TENANT, sign_in  # noqa: F401
from tests.sandbox.conftest import microsoft_app, sandbox_settings  # noqa: F401  (fixtures)
from tests.sandbox.microsoft.conftest import ms, sandbox_state  # noqa: F401  (fixtures)
from tests.server.conftest import make_config, migrated_database_url  # noqa: F401  (fixtures)
from tests.server.conftest import sign_in_session
from tests.server.history.conftest import sync_queue  # noqa: F401  (fixture)

API_SCOPE = f"api://localhost:3000/{DEMO_CLIENT_ID}/access_as_user"
INSTANCE = "https://acme.my.salesforce.example"


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
def addin_app(make_config, ms, certs):
    from server import create_app

    return create_app(make_config(MAILFERRY_SANDBOX_MICROSOFT_PORT=ms.rsplit(":", 1)[1],
                                  MAILFERRY_CERTS_DIR=str(certs.folder)))


@pytest.fixture
def api_token(ms, client_session):
    """An access token for Mailferry's API scope, as Nested App Authentication obtains one."""
    def token(upn: str = ALICE.upn) -> str:
        _, result = sign_in(ms, client_session, upn, scopes=(API_SCOPE,))
        return result["access_token"]

    return token


@pytest.fixture
def api(addin_app):
    """Call the API with a bearer token: api(token).get("/addin/api/me")."""
    def with_token(token: str | None):
        client = addin_app.test_client()
        if token is not None:
            client.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {token}"
        return client

    return with_token


@pytest.fixture
def sign_in_cookie():
    """A browser session signed in on the web (Flask-Login's session cookie)."""
    return sign_in_session
