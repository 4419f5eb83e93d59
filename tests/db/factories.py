"""Minimal valid rows for database tests; each helper adds and flushes, returning the row."""

from __future__ import annotations

import itertools
from datetime import timedelta

from sqlalchemy.orm import Session

from mailferry.db import utcnow
from mailferry.models import Mailbox, Message, Tenant, User

_numbers = itertools.count(1)


def tenant(session: Session, **values) -> Tenant:
    n = next(_numbers)
    values = {"tid": f"tid-{n}", "name": f"Tenant {n}", "primary_domain": f"t{n}.example", **values}
    row = Tenant(**values)
    session.add(row)
    session.flush()
    return row


def user(session: Session, tenant_row: Tenant | None = None, **values) -> User:
    tenant_row = tenant_row or tenant(session)
    n = next(_numbers)
    values.setdefault("upn", f"user{n}@{tenant_row.primary_domain}")
    values.setdefault("oid", f"oid-{n}")
    row = User(tenant_id=tenant_row.id, **values)
    session.add(row)
    session.flush()
    return row


def mailbox(session: Session, user_row: User | None = None, **values) -> Mailbox:
    user_row = user_row or user(session)
    row = Mailbox(tenant_id=user_row.tenant_id, user_id=user_row.id, address=user_row.upn, **values)
    session.add(row)
    session.flush()
    return row


def message(session: Session, mailbox_row: Mailbox | None = None, **values) -> Message:
    mailbox_row = mailbox_row or mailbox(session)
    n = next(_numbers)
    values.setdefault("graph_id", f"AAMk-{n}")
    values.setdefault("internet_message_id", f"<{n}@mail.example>")
    values.setdefault("direction", "incoming")
    values.setdefault("subject", f"Subject {n}")
    values.setdefault("sent_at", utcnow() - timedelta(minutes=n))
    row = Message(
        tenant_id=mailbox_row.tenant_id,
        user_id=mailbox_row.user_id,
        mailbox_id=mailbox_row.id,
        **values,
    )
    session.add(row)
    session.flush()
    return row
