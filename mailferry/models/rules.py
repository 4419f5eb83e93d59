"""Ignore lists: each user's Ignore List and each tenant's Global Exclusion List."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column, validates

from mailferry.db import Base, UTCDateTime, utcnow
from mailferry.models.columns import ADDRESS_LENGTH, normalise_address, one_of

ENTRY_KINDS = ("address", "domain")


class IgnoreEntry(Base):
    """An address or a domain (matching its subdomains too) on an ignore list.

    `user_id` NULL means the tenant's Global Exclusion List (rule 2: omitted, only
    counted); otherwise the user's Ignore List (rule 7: not a candidate). `source` says
    where it was added (own_domain, history, addin, settings, admin) so the Ignore List
    page can show it. Each list holds a value once; the two partial unique indexes say so
    because a plain unique constraint would let any number of NULL-user rows repeat.
    """

    __tablename__ = "ignore_entries"
    __table_args__ = (
        UniqueConstraint("user_id", "value"),
        Index(
            "uq_ignore_entries_tenant_list_value",
            "tenant_id",
            "value",
            unique=True,
            postgresql_where=text("user_id IS NULL"),
            sqlite_where=text("user_id IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(one_of("kind", *ENTRY_KINDS))
    value: Mapped[str] = mapped_column(String(ADDRESS_LENGTH))
    source: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_by_user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL")
    )

    @property
    def is_global(self) -> bool:
        return self.user_id is None

    @validates("value")
    def _normalise(self, _key: str, value: str) -> str:
        return normalise_address(value)
