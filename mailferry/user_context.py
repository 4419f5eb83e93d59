"""Everything the decision of SPEC section 2 needs to know about one user, read from the
database in a few queries. The worker decides with it; the web app and the add-in use the
same context to show the live status of an email the worker has not seen yet."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from mailferry.addresses import EntryList, ListEntry
from mailferry.decision import DecisionContext
from mailferry.models import IgnoreEntry, IgnoredEmail, TenantSetting, User, UserAddress, UserSetting
from mailferry.settings_catalog import EffectiveSettings, effective_settings


def user_settings(session: Session, user: User) -> EffectiveSettings:
    """The settings that apply to `user`: tenant defaults, locks, then the user's own."""
    tenant_rows = session.execute(
        select(TenantSetting).where(TenantSetting.tenant_id == user.tenant_id)
    ).scalars().all()
    user_rows = session.execute(select(UserSetting).where(UserSetting.user_id == user.id)).scalars().all()
    return effective_settings(
        tenant_values={row.key: row.value for row in tenant_rows},
        locks=[row.key for row in tenant_rows if row.locked],
        user_values={row.key: row.value for row in user_rows},
    )


def own_addresses(session: Session, user: User) -> frozenset[str]:
    rows = session.execute(select(UserAddress.address).where(UserAddress.user_id == user.id)).scalars()
    return frozenset(a.lower() for a in [*rows, user.upn, user.email] if a)


def decision_context(session: Session, user: User) -> DecisionContext:
    """The DecisionContext for `user`, without a per-email Ignore Email choice (see
    `ignored_message_ids`)."""
    tenant = user.tenant
    entries = session.execute(
        select(IgnoreEntry).where(
            IgnoreEntry.tenant_id == user.tenant_id,
            (IgnoreEntry.user_id == user.id) | IgnoreEntry.user_id.is_(None),
        )
    ).scalars().all()
    return DecisionContext(
        settings=user_settings(session, user),
        own_addresses=own_addresses(session, user),
        global_exclusions=EntryList(ListEntry(e.kind, e.value) for e in entries if e.user_id is None),
        do_not_record_address=(tenant.do_not_record_address or "").lower() or None,
        smart_domain=tenant.smart_address_domain,
        ignore_list=EntryList(ListEntry(e.kind, e.value) for e in entries if e.user_id is not None),
    )


def ignored_message_ids(session: Session, user_id: int, internet_message_ids: list[str]) -> set[str]:
    """Which of these emails the user chose Ignore Email for."""
    if not internet_message_ids:
        return set()
    return set(
        session.execute(
            select(IgnoredEmail.internet_message_id).where(
                IgnoredEmail.user_id == user_id,
                IgnoredEmail.internet_message_id.in_(internet_message_ids),
            )
        ).scalars()
    )
