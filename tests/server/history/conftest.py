"""Sync History test data: committed rows (the app reads them through its own sessions)
for a user, a colleague in the same tenant and a user of another tenant; removed after
each test with their tenants (deletes cascade). Real Redis: the sync queue (`sync_queue`,
tests/web_fixtures.py) is emptied around each test so enqueued jobs can be read by name."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import timedelta

import pytest
from sqlalchemy import delete
from sqlalchemy.orm import Session

from mailferry.db import utcnow
from mailferry.models import Connection, MessageRecord, Tenant, UnmatchedAddress
from tests.db import factories
from tests.server.history.helpers import INSTANCE
_numbers = itertools.count(1)


@dataclass
class World:
    session: Session
    user: object
    mailbox: object
    colleague: object
    colleague_mailbox: object
    stranger: object
    stranger_mailbox: object

    def message(self, mailbox=None, **values):
        values.setdefault("status", "unresolved")
        values.setdefault("participants", [])
        return factories.message(self.session, mailbox or self.mailbox, **values)

    def unmatched(self, user=None, **values):
        user = user or self.user
        n = next(_numbers)
        values.setdefault("address", f"person{n}@unmatched{n}.example")
        row = UnmatchedAddress(tenant_id=user.tenant_id, user_id=user.id, **values)
        self.session.add(row)
        self.session.flush()
        return row

    def record(self, message, **values):
        row = MessageRecord(message_id=message.id, **values)
        self.session.add(row)
        self.session.flush()
        return row

    def commit(self):
        self.session.commit()


@pytest.fixture
def history_world(engine):
    session = Session(engine, expire_on_commit=False)
    tenant = factories.tenant(session)
    user = factories.user(session, tenant, display_name="Rep One")
    colleague = factories.user(session, tenant)
    other_tenant = factories.tenant(session)
    stranger = factories.user(session, other_tenant)
    session.add(Connection(tenant_id=tenant.id, user_id=user.id, provider="salesforce", kind="delegated",
                           instance_url=INSTANCE))
    built = World(session, user, factories.mailbox(session, user), colleague,
                  factories.mailbox(session, colleague), stranger, factories.mailbox(session, stranger))
    session.commit()
    yield built
    session.rollback()
    session.execute(delete(Tenant).where(Tenant.id.in_([tenant.id, other_tenant.id])))
    session.commit()
    session.close()


@pytest.fixture
def history_client(app, sign_in_client, history_world):
    test_client = app.test_client()
    # Over https, CSRF protection also wants a same-origin Referer, as browsers send.
    test_client.environ_base["HTTP_REFERER"] = "https://localhost/history"
    sign_in_client(test_client, history_world.user)
    return test_client


def ago(minutes: int):
    return utcnow() - timedelta(minutes=minutes)
