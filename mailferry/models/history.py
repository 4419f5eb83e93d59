"""What happened to every email: the Sync History rows, their matched records, the
unmatched addresses, the user's Ignore Email choices and the anonymous omitted counts."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    event,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship, validates

from mailferry.db import BigId, Base, JsonDocument, UTCDateTime, utcnow
from mailferry.models.columns import (
    ADDRESS_LENGTH,
    NAME_LENGTH,
    SORT_KEY_LENGTH,
    clamp,
    normalise_address,
    one_of,
)

MESSAGE_STATUSES = (
    "pending",  # stored, not decided or not written yet
    "synced",  # recorded in Salesforce (Synced tab)
    "unresolved",  # no match, or the Salesforce write failed (Unresolved tab)
    "excluded",  # a rule excluded it (Excluded tab)
    "skipped",  # no candidate address left (task pane only)
    "ignored",  # the user chose Ignore Email (task pane only)
    "expired",  # its attempt window ended unresolved
)
DIRECTIONS = ("incoming", "outgoing")
OPERATIONS = ("create", "update", "delete")
SOBJECT_TYPES = ("Contact", "Lead", "Account", "Opportunity", "Case")

#: RFC 5322 caps a header line at 998 characters; Message-IDs are no longer in practice.
MESSAGE_ID_LENGTH = 998
#: How much of a subject is searchable, and how much text one row's search holds:
#: enough for any real search, bounded so a hostile email cannot bloat the index.
SEARCH_SUBJECT_LENGTH = 1000
SEARCH_TEXT_LENGTH = 10000


def _search_text(*parts: str | None) -> str:
    text = "\n".join(part.strip().lower() for part in parts if part and part.strip())
    return text[:SEARCH_TEXT_LENGTH]


class Message(Base):
    """One email of one mailbox and its outcome: a row of the Sync History.

    The same email in Inbox and Sent Items (mail to oneself) is one row: messages are
    unique per mailbox and Internet Message-ID. `graph_id` changes when Outlook moves a
    message between folders, so it is looked up but not unique.

    `subject` keeps the full text; `subject_sort` (lower-cased, cut short) is what the
    table sorts on, and `search_text` (lower-cased subject, addresses and names) is what
    the search index covers. Both are derived on every flush, never set by hand.
    `body_text` is held only until the email is recorded, then cleared.
    """

    __tablename__ = "messages"
    __table_args__ = (
        UniqueConstraint("mailbox_id", "internet_message_id"),
        # Sync History: one user's tab (status), sorted by a column; `id` breaks ties so
        # paging is stable. Each serves the tab's count as well (leading user, status).
        Index("ix_messages_history_sent_at", "user_id", "status", "sent_at", "id"),
        Index("ix_messages_history_subject", "user_id", "status", "subject_sort", "id"),
        Index("ix_messages_history_from", "user_id", "status", "from_address", "id"),
        Index("ix_messages_history_first_seen", "user_id", "status", "first_seen_at", "id"),
        Index("ix_messages_history_next_attempt", "user_id", "status", "next_attempt_at", "id"),
        Index("ix_messages_history_expires", "user_id", "status", "expires_at", "id"),
        # Few distinct values, but a tab of 8,000 rows sorted in memory costs 30-90 ms on
        # SQLite (`mailferry bench history`); walking these indexes costs a few (0002).
        Index("ix_messages_history_direction", "user_id", "status", "direction", "id"),
        Index("ix_messages_history_reason", "user_id", "status", "reason", "id"),
        Index("ix_messages_history_attempts", "user_id", "status", "attempts", "id"),
        # The task pane: "what happened to the email I have open?"
        Index("ix_messages_user_internet_message_id", "user_id", "internet_message_id"),
        # Worker: due retries and re-match sweeps; delta "removed" events; expiry; purge.
        Index("ix_messages_status_next_attempt", "status", "next_attempt_at"),
        Index("ix_messages_mailbox_graph_id", "mailbox_id", "graph_id"),
        Index("ix_messages_expires_at", "expires_at"),
        Index("ix_messages_tenant_first_seen", "tenant_id", "first_seen_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    mailbox_id: Mapped[int] = mapped_column(ForeignKey("mailboxes.id", ondelete="CASCADE"))

    # The email, as Graph described it.
    graph_id: Mapped[str] = mapped_column(String(512))
    internet_message_id: Mapped[str] = mapped_column(String(MESSAGE_ID_LENGTH))
    conversation_id: Mapped[str | None] = mapped_column(String(512))
    folder: Mapped[str | None] = mapped_column(
        String(64), comment="well-known name of the folder it was seen in"
    )
    direction: Mapped[str] = mapped_column(one_of("direction", *DIRECTIONS))
    subject: Mapped[str] = mapped_column(Text, default="")
    subject_sort: Mapped[str] = mapped_column(String(SORT_KEY_LENGTH), default="")
    from_address: Mapped[str | None] = mapped_column(String(ADDRESS_LENGTH))
    from_name: Mapped[str | None] = mapped_column(String(NAME_LENGTH))
    to_cc: Mapped[str] = mapped_column(Text, default="", comment="To and Cc as displayed")
    participants: Mapped[list[dict[str, Any]]] = mapped_column(
        JsonDocument, default=list, comment="[{address, name, role: from|to|cc|bcc}]"
    )
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    categories: Mapped[list[str]] = mapped_column(JsonDocument, default=list)
    body_text: Mapped[str | None] = mapped_column(Text)

    # The outcome.
    status: Mapped[str] = mapped_column(one_of("status", *MESSAGE_STATUSES), default="pending")
    reason: Mapped[str | None] = mapped_column(String(64))
    error_code: Mapped[str | None] = mapped_column(Text)
    error_message: Mapped[str | None] = mapped_column(Text)
    pending_operation: Mapped[str | None] = mapped_column(one_of("pending_operation", *OPERATIONS))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    first_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime | None] = mapped_column(
        UTCDateTime, comment="end of the attempt window (first seen + window)"
    )
    synced_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    salesforce_task_id: Mapped[str | None] = mapped_column(String(18))
    task_key: Mapped[str | None] = mapped_column(
        String(255), unique=True, comment="the Task's Mailferry_Key__c"
    )

    search_text: Mapped[str] = mapped_column(Text, default="")
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    records: Mapped[list[MessageRecord]] = relationship(
        back_populates="message",
        cascade="all, delete-orphan",
        passive_deletes=True,
        order_by="MessageRecord.position",
    )

    @validates("from_address")
    def _normalise_address(self, _key: str, value: str | None) -> str | None:
        return clamp(normalise_address(value), ADDRESS_LENGTH)

    @validates("from_name")
    def _clamp_name(self, _key: str, value: str | None) -> str | None:
        return clamp(value, NAME_LENGTH)

    @validates("internet_message_id")
    def _clamp_message_id(self, _key: str, value: str) -> str:
        return clamp(value, MESSAGE_ID_LENGTH)

    def refresh_derived_columns(self) -> None:
        """Recompute `subject_sort` and `search_text` from the columns they summarise."""
        subject = self.subject or ""
        self.subject_sort = " ".join(subject.lower().split())[:SORT_KEY_LENGTH]
        parts = [subject[:SEARCH_SUBJECT_LENGTH], self.from_address, self.from_name]
        for participant in self.participants or []:
            parts.append(participant.get("address"))
            parts.append(participant.get("name"))
        self.search_text = _search_text(*parts)


@event.listens_for(Message, "before_insert")
@event.listens_for(Message, "before_update")
def _derive_message_columns(_mapper, _connection, message: Message) -> None:
    message.refresh_derived_columns()


class MessageRecord(Base):
    """A Salesforce record matched to a message, recorded on its Task or not, and why not.

    `position` is the order of SPEC section 3 (participant order, oldest first), which is
    also the order the Synced tab shows them in.
    """

    __tablename__ = "message_records"
    __table_args__ = (UniqueConstraint("message_id", "record_id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    message_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("messages.id", ondelete="CASCADE")
    )
    sobject_type: Mapped[str] = mapped_column(one_of("sobject_type", *SOBJECT_TYPES))
    record_id: Mapped[str] = mapped_column(String(18))
    name: Mapped[str | None] = mapped_column(String(NAME_LENGTH))
    address: Mapped[str | None] = mapped_column(String(ADDRESS_LENGTH))
    recorded: Mapped[bool] = mapped_column(Boolean)
    reason: Mapped[str | None] = mapped_column(
        String(64), comment="why not recorded, e.g. mixed_leads_and_contacts, contact_limit"
    )
    position: Mapped[int] = mapped_column(Integer, default=0)

    message: Mapped[Message] = relationship(back_populates="records")

    @validates("address")
    def _normalise_address(self, _key: str, value: str | None) -> str | None:
        return clamp(normalise_address(value), ADDRESS_LENGTH)

    @validates("name")
    def _clamp_name(self, _key: str, value: str | None) -> str | None:
        return clamp(value, NAME_LENGTH)


class UnmatchedAddress(Base):
    """A candidate address of the user's email that matched no Contact or Lead.

    One row per user and address (the Unmatched Contacts/Leads tab), counting the emails it
    appeared in. Like messages it carries a derived `search_text` for the search index.
    """

    __tablename__ = "unmatched_addresses"
    __table_args__ = (
        # Also the index for sorting by address.
        UniqueConstraint("user_id", "address"),
        Index("ix_unmatched_addresses_display_name", "user_id", "display_name_sort", "id"),
        Index("ix_unmatched_addresses_domain", "user_id", "domain", "id"),
        Index("ix_unmatched_addresses_emails_count", "user_id", "emails_count", "id"),
        Index("ix_unmatched_addresses_first_seen", "user_id", "first_seen_at", "id"),
        Index("ix_unmatched_addresses_last_seen", "user_id", "last_seen_at", "id"),
        Index("ix_unmatched_addresses_tenant_last_seen", "tenant_id", "last_seen_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    address: Mapped[str] = mapped_column(String(ADDRESS_LENGTH))
    display_name: Mapped[str | None] = mapped_column(Text)
    display_name_sort: Mapped[str] = mapped_column(String(SORT_KEY_LENGTH), default="")
    domain: Mapped[str] = mapped_column(String(255), default="")
    emails_count: Mapped[int] = mapped_column(Integer, default=0)
    last_subject: Mapped[str | None] = mapped_column(Text)
    first_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    search_text: Mapped[str] = mapped_column(Text, default="")

    @validates("address")
    def _normalise_address(self, _key: str, value: str) -> str:
        return clamp(normalise_address(value), ADDRESS_LENGTH)

    @validates("domain")
    def _normalise_domain(self, _key: str, value: str) -> str:
        return clamp(normalise_address(value), 255)

    def refresh_derived_columns(self) -> None:
        """Recompute the domain (if unset), the name sort key and `search_text`."""
        if not self.domain and self.address and "@" in self.address:
            self.domain = self.address.rsplit("@", 1)[1][:255]
        name = self.display_name or ""
        self.display_name_sort = " ".join(name.lower().split())[:SORT_KEY_LENGTH]
        self.search_text = _search_text(
            self.address, name, (self.last_subject or "")[:SEARCH_SUBJECT_LENGTH]
        )


@event.listens_for(UnmatchedAddress, "before_insert")
@event.listens_for(UnmatchedAddress, "before_update")
def _derive_unmatched_columns(_mapper, _connection, row: UnmatchedAddress) -> None:
    row.refresh_derived_columns()


class IgnoredEmail(Base):
    """The user chose Ignore Email for this message (SPEC section 2 rule 3).

    Keyed by Internet Message-ID, not by a message row: the add-in can ignore an email
    before the worker has seen it, and the choice must hold when it does.
    """

    __tablename__ = "ignored_emails"
    __table_args__ = (UniqueConstraint("user_id", "internet_message_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    internet_message_id: Mapped[str] = mapped_column(String(MESSAGE_ID_LENGTH))
    source: Mapped[str] = mapped_column(String(32), comment="addin, history, ...")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    @validates("internet_message_id")
    def _clamp_message_id(self, _key: str, value: str) -> str:
        return clamp(value, MESSAGE_ID_LENGTH)


class OmittedDailyCount(Base):
    """How many emails the Global Exclusion List omitted in a tenant on one (UTC) day.

    Deliberately anonymous (SPEC section 2 rule 2): no user, address or subject.
    """

    __tablename__ = "omitted_daily_counts"
    __table_args__ = (UniqueConstraint("tenant_id", "day"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    day: Mapped[date] = mapped_column(Date)
    count: Mapped[int] = mapped_column(Integer, default=0)
