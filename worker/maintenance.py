"""Periodic housekeeping: which mailboxes are due, attempt-window expiry, retention purge."""

from __future__ import annotations

from datetime import datetime, timedelta

from redis import Redis
from sqlalchemy import delete, exists, or_, select
from sqlalchemy.orm import Session, selectinload

from mailferry import audit, email_state, subscription_liveness
from mailferry.models import (
    ApiUsageSample, Connection, Mailbox, Message, OmittedDailyCount, Tenant, UnmatchedAddress,
)
from mailferry.settings_catalog import SyncMode
from mailferry.user_context import user_settings
from worker.process import is_due
from worker.runtime import runtime

USAGE_SAMPLES_KEPT = timedelta(days=90)


def due_mailboxes(session: Session, now: datetime, redis: Redis | None = None) -> list[int]:
    """Mailboxes to sync now: runnable (not waiting for a reconnect, not inside a Retry-After
    window, sync on) and either due for polling or holding due work.

    Polling is at the user's Sync Frequency, or hourly (`SAFETY_NET_POLL`) while the mailbox's
    change notifications flow (`subscription_liveness.flowing`, read from `redis`, the
    runtime's by default): notifications start its runs then, polling only catches what they
    missed, and its first miss found brings the Sync Frequency back (SPEC 15)."""
    # Due work counts only while the user's Salesforce is connected: otherwise it waits for
    # the reconnect, and the mailbox is just polled on its schedule.
    salesforce_connected = exists().where(
        Connection.user_id == Mailbox.user_id, Connection.provider == "salesforce",
        Connection.status == "connected",
    )
    has_due_work = exists().where(Message.mailbox_id == Mailbox.id, is_due(now)) & salesforce_connected
    rows = session.execute(
        select(Mailbox, has_due_work.label("has_due_work"))
        .where(Mailbox.status.in_(("active", "throttled")))
        .where(or_(Mailbox.retry_after.is_(None), Mailbox.retry_after <= now))
        .options(selectinload(Mailbox.folders), selectinload(Mailbox.subscriptions))
    ).all()
    due, polled = [], []
    for mailbox, has_work in rows:
        settings = user_settings(session, mailbox.user)
        if not settings.enabled or settings.sync_mode == SyncMode.OFF:
            continue
        poll_every = timedelta(minutes=settings.sync_frequency_minutes)
        # A run that failed (throttled, Graph down) is tried again once its Retry-After or
        # backoff window is over (filtered above), not a whole polling interval later: its
        # mail may not be fetched at all yet.
        failed = mailbox.failure_count > 0
        # A run that started but never finished (its worker was killed, even before it could
        # record anything) is run again now, not a polling interval later.
        unfinished = mailbox.stage == "idle" and mailbox.last_run_at is not None and (
            mailbox.last_success_at is None or mailbox.last_success_at < mailbox.last_run_at)
        if has_work or failed or unfinished or mailbox.last_run_at is None:
            due.append(mailbox.id)
        elif mailbox.last_run_at + poll_every <= now:
            polled.append(mailbox)
    # Only mailboxes due by the Sync Frequency may wait longer: one Redis read for them all.
    slowed = set()
    if any(mailbox.subscriptions for mailbox in polled):
        notified = subscription_liveness.flowing(redis or runtime().redis, polled, now)
        slowed = {m.id for m in polled if m.id in notified
                  and m.last_run_at + subscription_liveness.SAFETY_NET_POLL > now}
    return due + [mailbox.id for mailbox in polled if mailbox.id not in slowed]


def expire_and_purge(session: Session, now: datetime) -> dict:
    """SPEC section 4: an email is attempted for its window (30 days from first seen), then
    leaves the Unresolved tab; history and Unmatched rows are kept for the tenant's
    retention (`Tenant.retention_days`, 30 by default, set on the admin's Defaults page:
    mailferry/data_retention.py), then purged."""
    expired = email_state.expired(session, now)
    purged = unmatched = 0
    for tenant in session.execute(select(Tenant)).scalars():
        cutoff = now - timedelta(days=tenant.retention_days)
        purged += session.execute(
            delete(Message).where(Message.tenant_id == tenant.id, Message.first_seen_at < cutoff)
            .execution_options(synchronize_session=False)
        ).rowcount
        unmatched += session.execute(
            delete(UnmatchedAddress)
            .where(UnmatchedAddress.tenant_id == tenant.id, UnmatchedAddress.last_seen_at < cutoff)
            .execution_options(synchronize_session=False)
        ).rowcount
        session.execute(
            delete(OmittedDailyCount)
            .where(OmittedDailyCount.tenant_id == tenant.id, OmittedDailyCount.day < cutoff.date())
        )
    session.execute(delete(ApiUsageSample).where(ApiUsageSample.sampled_at < now - USAGE_SAMPLES_KEPT))
    audit_purged = audit.purge(session, now)  # a year of the audit log is kept (mailferry/audit.py)
    return {"expired": expired, "purged": purged, "unmatched_purged": unmatched, "audit_purged": audit_purged}


__all__ = ["due_mailboxes", "expire_and_purge"]
