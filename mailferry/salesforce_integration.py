"""The tenant's Salesforce integration connection (SPEC section 14, app-only onboarding): an
admin connects Salesforce once as an integration user, and members who never sign in have
their mail recorded through it, each Task owned by the Salesforce user they are mapped to
(`User.salesforce_user_id`: matched by email automatically, or set by an admin).

It is a `Connection` of kind `app_only` with no user, one per tenant and provider (the
schema's partial unique index), its tokens sealed like any connection's.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from mailferry import connection_state
from mailferry.db import utcnow
from mailferry.models import Connection, Tenant, User

PROVIDER = "salesforce"


def integration_of(session: Session, tenant_id: int) -> Connection | None:
    return session.execute(
        select(Connection).where(Connection.tenant_id == tenant_id, Connection.user_id.is_(None),
                                 Connection.provider == PROVIDER)
    ).scalar_one_or_none()


def save_integration(session: Session, tenant: Tenant, sealed_secrets: bytes, **facts) -> Connection:
    """Store (or replace) the tenant's integration connection, connected now."""
    connection = integration_of(session, tenant.id)
    if connection is None:
        connection = Connection(tenant_id=tenant.id, user_id=None, provider=PROVIDER, kind="app_only")
        session.add(connection)
    connection_state.connected(connection, sealed_secrets, utcnow())
    for name, value in facts.items():
        setattr(connection, name, value)
    session.flush()
    return connection


def usable(connection: Connection | None) -> bool:
    return connection is not None and connection.status == connection_state.CONNECTED \
        and bool(connection.sealed_secrets)


def salesforce_route(session: Session, user: User) -> tuple[Connection, str | None] | None:
    """Which connection records `user`'s mail and who owns the Tasks: their own working
    connection (its Salesforce user), else the tenant's integration for a user mapped to a
    Salesforce user (that user); None while neither is possible."""
    own = session.execute(
        select(Connection).where(Connection.user_id == user.id, Connection.provider == PROVIDER)
    ).scalar_one_or_none()
    if usable(own):
        return own, None
    if user.salesforce_user_id:
        integration = integration_of(session, user.tenant_id)
        if usable(integration):
            return integration, user.salesforce_user_id
    return None
