"""Mailbox sync state: one mailbox per user, a delta cursor per folder, and the Graph
change-notification subscriptions that wake the pipeline up."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from mailferry.db import Base, UTCDateTime, utcnow
from mailferry.models.columns import ADDRESS_LENGTH, NAME_LENGTH, one_of

MAILBOX_STATUSES = ("active", "needs_reconnect", "throttled", "disabled")


class Mailbox(Base):
    """The sync state of one user's mailbox, owned by the mailbox state machine.

    `stage` says what the pipeline is doing now (e.g. idle, backfill, fetching,
    processing) and `stage_started_at` since when, so stale-job recovery can tell a stuck
    stage from a busy one. `failure_count` and `retry_after` drive back-off (and honour
    Graph's Retry-After); `status` is what the user sees ("throttled until ...").
    """

    __tablename__ = "mailboxes"
    __table_args__ = (
        # The scheduler's question: which mailboxes are due?
        Index("ix_mailboxes_status_retry_after", "status", "retry_after"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), unique=True
    )
    address: Mapped[str] = mapped_column(String(ADDRESS_LENGTH))
    status: Mapped[str] = mapped_column(one_of("status", *MAILBOX_STATUSES), default="active")
    status_detail: Mapped[str | None] = mapped_column(Text)
    stage: Mapped[str] = mapped_column(String(32), default="idle")
    stage_started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    failure_count: Mapped[int] = mapped_column(Integer, default=0)
    retry_after: Mapped[datetime | None] = mapped_column(UTCDateTime)
    backfill_completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_run_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_success_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    user: Mapped["User"] = relationship()  # noqa: F821  (mailferry.models.tenancy)
    folders: Mapped[list[MailboxFolder]] = relationship(
        back_populates="mailbox", cascade="all, delete-orphan", passive_deletes=True
    )
    subscriptions: Mapped[list[Subscription]] = relationship(
        back_populates="mailbox", cascade="all, delete-orphan", passive_deletes=True
    )


class MailboxFolder(Base):
    """A synced folder and its Graph delta cursor.

    `delta_link` is the opaque URL Graph returned last; NULL means start over (first sync,
    or after Graph answered 410 SyncStateNotFound).
    """

    __tablename__ = "mailbox_folders"
    __table_args__ = (UniqueConstraint("mailbox_id", "graph_folder_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    mailbox_id: Mapped[int] = mapped_column(ForeignKey("mailboxes.id", ondelete="CASCADE"))
    graph_folder_id: Mapped[str] = mapped_column(String(255))
    well_known_name: Mapped[str | None] = mapped_column(
        String(64), comment="inbox, sentitems, ... (NULL for folders an admin added)"
    )
    display_name: Mapped[str] = mapped_column(String(NAME_LENGTH), default="")
    delta_link: Mapped[str | None] = mapped_column(Text)
    last_synced_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    mailbox: Mapped[Mailbox] = relationship(back_populates="folders")


class Subscription(Base):
    """A Graph change-notification subscription on one of a mailbox's folders.

    Graph echoes `clientState` in every notification; the webhook compares it to prove
    the call is genuine, so it is a secret and stored sealed like tokens.
    """

    __tablename__ = "subscriptions"
    __table_args__ = (
        # Renewal job: subscriptions about to expire.
        Index("ix_subscriptions_expires_at", "expires_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    mailbox_id: Mapped[int] = mapped_column(ForeignKey("mailboxes.id", ondelete="CASCADE"))
    graph_subscription_id: Mapped[str] = mapped_column(String(255), unique=True)
    resource: Mapped[str] = mapped_column(String(512))
    sealed_client_state: Mapped[bytes] = mapped_column(LargeBinary)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    mailbox: Mapped[Mailbox] = relationship(back_populates="subscriptions")
