"""Who uses Mailferry: tenants (a Microsoft 365 organisation paired with one Salesforce
org), their users, and each user's own addresses (never match candidates)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship, validates

from mailferry.db import Base, UTCDateTime, utcnow
from mailferry.models.columns import ADDRESS_LENGTH, NAME_LENGTH, normalise_address, one_of

USER_ROLES = ("admin", "user")
#: Why a user is an admin (SPEC section 14): the Entra app role `Mailferry.Admin` in their
#: token, a grant by another admin or `mailferry admin grant`, or the demo's first user.
ADMIN_SOURCES = ("app_role", "granted", "first_user")
#: How a user came to exist: their own Microsoft sign-in, or membership of the Entra group
#: an admin named for app-only access (kept in step with the group).
PROVISIONED_BY = ("sign_in", "group")
ADDRESS_KINDS = ("primary", "alias")


class Tenant(Base):
    """One Microsoft 365 organisation (Entra tenant) and the facts of its Salesforce org.

    The Salesforce facts are learned by the setup check and cached here because the
    recording rules depend on them (SPEC section 3): NULL means "not checked yet".
    """

    __tablename__ = "tenants"

    id: Mapped[int] = mapped_column(primary_key=True)
    tid: Mapped[str] = mapped_column(String(64), unique=True, comment="Entra tenant id")
    name: Mapped[str] = mapped_column(String(NAME_LENGTH), default="")
    primary_domain: Mapped[str | None] = mapped_column(String(255))

    # Smart addresses (SPEC section 2 rule 5, section 3 rule 4).
    do_not_record_address: Mapped[str | None] = mapped_column(String(ADDRESS_LENGTH))
    smart_address_domain: Mapped[str | None] = mapped_column(String(255))

    # Admin policy.
    api_budget_percent: Mapped[int] = mapped_column(Integer, default=20)
    retention_days: Mapped[int] = mapped_column(Integer, default=30)
    backfill_days: Mapped[int] = mapped_column(Integer, default=30)
    attempt_window_days: Mapped[int] = mapped_column(Integer, default=30)
    app_only_enabled: Mapped[bool] = mapped_column(Boolean, default=False)
    # App-only onboarding (SPEC section 14): the Entra group whose members are provisioned
    # and synced without signing in, and when its membership was last read.
    app_only_group_id: Mapped[str | None] = mapped_column(String(64), comment="Entra group object id")
    app_only_group_name: Mapped[str | None] = mapped_column(String(NAME_LENGTH))
    app_only_members_synced_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    # The only Salesforce org this tenant's users may connect (MAILFERRY_SALESFORCE_ORG_IDS
    # or the admin page); NULL: not pinned.
    salesforce_pinned_org_id: Mapped[str | None] = mapped_column(String(18))

    # The paired Salesforce org, as last checked.
    salesforce_org_id: Mapped[str | None] = mapped_column(String(18))
    salesforce_instance_url: Mapped[str | None] = mapped_column(String(255))
    salesforce_has_shared_activities: Mapped[bool | None] = mapped_column(Boolean)
    salesforce_external_id_field_ok: Mapped[bool | None] = mapped_column(Boolean)
    salesforce_checked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    users: Mapped[list[User]] = relationship(back_populates="tenant", passive_deletes=True)

    @validates("do_not_record_address", "smart_address_domain", "primary_domain")
    def _normalise(self, _key: str, value: str | None) -> str | None:
        return normalise_address(value) or None


class User(Base):
    """A person whose mailbox is synced, known by their Entra object id within the tenant."""

    __tablename__ = "users"
    __table_args__ = (UniqueConstraint("tenant_id", "oid"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    oid: Mapped[str] = mapped_column(String(64), comment="Entra object id")
    upn: Mapped[str] = mapped_column(String(ADDRESS_LENGTH))
    email: Mapped[str | None] = mapped_column(String(ADDRESS_LENGTH))
    display_name: Mapped[str] = mapped_column(String(NAME_LENGTH), default="")
    role: Mapped[str] = mapped_column(one_of("user_role", *USER_ROLES), default="user")
    admin_source: Mapped[str | None] = mapped_column(one_of("admin_source", *ADMIN_SOURCES))
    provisioned_by: Mapped[str] = mapped_column(one_of("provisioned_by", *PROVISIONED_BY), default="sign_in")
    # The Salesforce user an admin mapped this user to, for app-only members recorded
    # through the tenant's Salesforce integration connection (they never connect their own).
    salesforce_user_id: Mapped[str | None] = mapped_column(String(18))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_sign_in_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    tenant: Mapped[Tenant] = relationship(back_populates="users")
    addresses: Mapped[list[UserAddress]] = relationship(
        back_populates="user", cascade="all, delete-orphan", passive_deletes=True
    )

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"


class UserAddress(Base):
    """One of a user's own addresses (primary or alias), lower-cased.

    Own addresses are removed from the candidates of every email (SPEC section 2) and tell
    incoming from outgoing mail in folders other than Sent Items.
    """

    __tablename__ = "user_addresses"
    __table_args__ = (
        UniqueConstraint("user_id", "address"),
        # "Whose address is this?" across the tenant (mail between two synced users).
        Index("ix_user_addresses_address", "address"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    address: Mapped[str] = mapped_column(String(ADDRESS_LENGTH))
    kind: Mapped[str] = mapped_column(one_of("address_kind", *ADDRESS_KINDS), default="alias")

    user: Mapped[User] = relationship(back_populates="addresses")

    @validates("address")
    def _normalise(self, _key: str, value: str) -> str:
        return normalise_address(value)
