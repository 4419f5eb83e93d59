"""Connections to Microsoft 365 and Salesforce, with their tokens sealed at rest."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    CheckConstraint,
    ForeignKey,
    Index,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from mailferry.db import Base, UTCDateTime, utcnow
from mailferry.models.columns import NAME_LENGTH, one_of

PROVIDERS = ("microsoft", "salesforce")
CONNECTION_KINDS = ("delegated", "app_only")
CONNECTION_STATUSES = ("connected", "needs_reconnect", "disconnected")


class Connection(Base):
    """A user's delegated access to Microsoft or Salesforce, or a tenant's app-only access.

    `sealed_secrets` holds the tokens (OAuth refresh/access tokens, the MSAL token cache)
    as ciphertext made by `mailferry.crypto.SecretBox.seal`; nothing secret is stored in
    any other column. When a connection breaks, `status_detail` holds the exact fix to show
    the user and the admin (SPEC section 6).

    A delegated connection belongs to a user (one per user and provider). An app-only
    connection has no user (one per tenant and provider); the CHECK ties the two together.
    """

    __tablename__ = "connections"
    __table_args__ = (
        UniqueConstraint("user_id", "provider"),
        CheckConstraint(
            "(kind = 'app_only' AND user_id IS NULL)"
            " OR (kind = 'delegated' AND user_id IS NOT NULL)",
            name="owner_matches_kind",
        ),
        Index(
            "uq_connections_app_only_tenant_provider",
            "tenant_id",
            "provider",
            unique=True,
            postgresql_where=text("user_id IS NULL"),
            sqlite_where=text("user_id IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    provider: Mapped[str] = mapped_column(one_of("provider", *PROVIDERS))
    kind: Mapped[str] = mapped_column(one_of("kind", *CONNECTION_KINDS), default="delegated")
    status: Mapped[str] = mapped_column(
        one_of("status", *CONNECTION_STATUSES), default="connected"
    )
    status_detail: Mapped[str | None] = mapped_column(Text)

    # Non-secret facts about the account, shown to the user and used to build URLs.
    account_label: Mapped[str | None] = mapped_column(String(NAME_LENGTH))
    external_user_id: Mapped[str | None] = mapped_column(
        String(255), comment="Salesforce user id or Entra object id of the account"
    )
    external_org_id: Mapped[str | None] = mapped_column(
        String(255), comment="Salesforce org id or Entra tenant id"
    )
    instance_url: Mapped[str | None] = mapped_column(String(255))
    login_host: Mapped[str | None] = mapped_column(String(255))
    scopes: Mapped[str | None] = mapped_column(Text)

    sealed_secrets: Mapped[bytes | None] = mapped_column(
        LargeBinary, comment="ciphertext of the tokens (SecretBox.seal); never plaintext"
    )
    connected_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
