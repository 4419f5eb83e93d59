"""Settings storage: tenant defaults (lockable by an admin) and each user's own values.

Storage only. Which keys exist (sync_mode, crm_category, donotsync_category,
prevent_create/update/delete, time_zone, folders, sync_frequency_minutes, enabled, ...),
their defaults and their validation live in the settings catalogue of the core package.
A user's effective value is: the tenant value if locked, else the user's value, else the
tenant default, else the catalogue default.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from mailferry.db import Base, JsonDocument, UTCDateTime, utcnow

KEY_LENGTH = 64


class TenantSetting(Base):
    """A tenant's default for one setting, optionally locked so users cannot change it."""

    __tablename__ = "tenant_settings"
    __table_args__ = (UniqueConstraint("tenant_id", "key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(KEY_LENGTH))
    value: Mapped[Any] = mapped_column(JsonDocument)
    locked: Mapped[bool] = mapped_column(Boolean, default=False)
    locked_by_user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL")
    )
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class UserSetting(Base):
    """A user's own value for one setting (ignored while the tenant locks that key)."""

    __tablename__ = "user_settings"
    __table_args__ = (UniqueConstraint("user_id", "key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(KEY_LENGTH))
    value: Mapped[Any] = mapped_column(JsonDocument)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
