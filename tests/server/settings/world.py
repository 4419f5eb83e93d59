"""Committed test data the web app can read with its own connections: tenants made here
are deleted (with everything of theirs, by cascade) when the test ends."""

from __future__ import annotations

import pytest
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from mailferry.models import Tenant
from tests.db import factories


class World:
    def __init__(self, engine):
        self.session = Session(engine, expire_on_commit=False)
        self.tenant_ids: list[int] = []

    def tenant(self, **values) -> Tenant:
        row = factories.tenant(self.session, **values)
        self.tenant_ids.append(row.id)
        return row

    def user(self, tenant, **values):
        return factories.user(self.session, tenant, **values)

    def admin(self, tenant, **values):
        return factories.user(self.session, tenant, role="admin", **values)

    def add(self, *rows):
        self.session.add_all(rows)
        self.session.flush()
        return rows[0] if len(rows) == 1 else rows

    def read(self, statement) -> list[tuple]:
        """Plain rows of a query (select columns, not entities), ending the transaction at
        once: on SQLite every transaction takes the write lock (BEGIN IMMEDIATE), which
        would stall the app's next request."""
        try:
            return [tuple(row) for row in self.session.execute(statement)]
        finally:
            self.session.rollback()

    def own_settings(self, user) -> dict:
        from mailferry.models import UserSetting

        return dict(self.read(select(UserSetting.key, UserSetting.value).where(UserSetting.user_id == user.id)))

    def commit(self) -> None:
        self.session.commit()

    def close(self) -> None:
        self.session.rollback()
        if self.tenant_ids:
            self.session.execute(delete(Tenant).where(Tenant.id.in_(self.tenant_ids)))
            self.session.commit()
        self.session.close()


@pytest.fixture
def tenant_world(engine):
    made = World(engine)
    yield made
    made.close()


@pytest.fixture
def web_client(app):
    return app.test_client()
