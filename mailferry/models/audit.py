"""The audit log of admin actions (SPEC section 14): who changed what in a tenant, when, and
the value before and after."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from mailferry.db import BigId, Base, JsonDocument, UTCDateTime, utcnow
from mailferry.models.columns import ADDRESS_LENGTH, NAME_LENGTH

ACTION_LENGTH = 64
SUBJECT_LENGTH = 512


class AuditEntry(Base):
    """One admin action, written in the same transaction as the change it describes.

    The actor is kept twice: `actor_user_id` links to the user while they exist (SET NULL
    when they are offboarded) and `actor_name`/`actor_upn` are copies taken at the time,
    so an entry still says who acted after that person is gone. An operator at the shell
    has no user: `actor_user_id` is NULL and `actor_name` says "mailferry ... (shell)".
    `subject` names the object changed (a user's UPN, "global exclusion list", a setting
    key); `before` and `after` are JSON documents (NULL when there was nothing).
    """

    __tablename__ = "audit_entries"
    __table_args__ = (
        # The Audit log page: a tenant's entries, newest first.
        Index("ix_audit_entries_tenant_at", "tenant_id", "at"),
        # The yearly purge across tenants.
        Index("ix_audit_entries_at", "at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    actor_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    actor_name: Mapped[str] = mapped_column(String(NAME_LENGTH), default="")
    actor_upn: Mapped[str | None] = mapped_column(String(ADDRESS_LENGTH))
    action: Mapped[str] = mapped_column(String(ACTION_LENGTH))
    subject: Mapped[str] = mapped_column(String(SUBJECT_LENGTH), default="")
    before: Mapped[Any] = mapped_column(JsonDocument, nullable=True)
    after: Mapped[Any] = mapped_column(JsonDocument, nullable=True)
