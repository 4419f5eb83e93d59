"""What the admin's Sync Health page shows about a tenant, and what its alerts are judged on
(SPEC section 14). Read-only; core code, no Flask.

- each user's connection state, the fix and the mailbox's last error: the users overview's
  (`admin_overview.users_overview`, whose sync status comes from `sync_job_status`, the text
  My Settings shows), with the mailbox's own run state beside it;
- mailboxes stuck (a stage older than `mailbox_state.STALE_AFTER` that no live run holds) or
  backing off (throttled or waiting after failures);
- queue depth per RQ queue; webhook health (live subscriptions against one per synced folder
  of each syncing mailbox, and the last genuine notification, `subscription_liveness`);
- the day's mail (UTC, by first seen) and its error codes, most frequent first;
- the tenant's recent failed jobs (`failed_jobs`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import redis
from rq import Queue
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from mailferry import failed_jobs, subscription_liveness
from mailferry.admin_overview import UserOverview, users_overview
from mailferry.job_queue import QUEUES, mailbox_lock_key
from mailferry.mailbox_state import STALE_AFTER
from mailferry.models import Mailbox, MailboxFolder, Message, Subscription, Tenant

#: Sync statuses (`sync_job_status`) that mean the user's mail is not being synced until
#: someone reconnects: what the "disconnected" alert watches.
DISCONNECTED_CODES = frozenset({"needs_reconnect"})
BACKING_OFF_CODES = frozenset({"throttled", "backing_off"})
TOP_ERROR_CODES = 10
# Jobs whose first argument is a mailbox id: their failures belong to that mailbox's tenant.
MAILBOX_JOBS = frozenset({"worker.jobs.sync_mailbox"})


@dataclass(frozen=True)
class MailboxHealth:
    user: UserOverview
    mailbox_id: int | None
    last_error: str | None
    stage: str | None
    stage_started_at: datetime | None
    failure_count: int
    stuck: bool
    # When the user's mail last synced (or, never synced, when the mailbox was added): how
    # long a disconnected mailbox has been without sync.
    synced_since: datetime | None

    @property
    def disconnected(self) -> bool:
        return self.user.sync.code in DISCONNECTED_CODES

    @property
    def backing_off(self) -> bool:
        return self.user.sync.code in BACKING_OFF_CODES


@dataclass(frozen=True)
class WebhookHealth:
    expected: int  # one subscription per synced folder of each mailbox that syncs
    alive: int  # subscriptions not yet expired
    last_notified_at: datetime | None


@dataclass(frozen=True)
class DayErrors:
    day: datetime
    mail: int
    with_errors: int
    top_codes: tuple[tuple[str, int], ...]

    @property
    def percent(self) -> float:
        return 100 * self.with_errors / self.mail if self.mail else 0.0


@dataclass(frozen=True)
class TenantFailure:
    failure: failed_jobs.FailedJob
    mailbox_user: str | None  # the mailbox's user, for a mailbox job; None for a shared job


@dataclass(frozen=True)
class SyncHealth:
    mailboxes: tuple[MailboxHealth, ...]
    queue_depth: dict[str, int] | None  # None: Redis did not answer
    webhooks: WebhookHealth
    day: DayErrors
    failures: tuple[TenantFailure, ...] | None  # None: Redis did not answer

    @property
    def stuck(self) -> tuple[MailboxHealth, ...]:
        return tuple(m for m in self.mailboxes if m.stuck)

    @property
    def backing_off(self) -> tuple[MailboxHealth, ...]:
        return tuple(m for m in self.mailboxes if m.backing_off)

    @property
    def disconnected(self) -> tuple[MailboxHealth, ...]:
        return tuple(m for m in self.mailboxes if m.disconnected)


def mailbox_health(session: Session, connection: redis.Redis, tenant: Tenant, now: datetime) -> list[MailboxHealth]:
    rows = {row.user_id: row for row in session.execute(
        select(Mailbox.id, Mailbox.user_id, Mailbox.last_error, Mailbox.stage, Mailbox.stage_started_at,
               Mailbox.failure_count, Mailbox.last_success_at, Mailbox.created_at)
        .where(Mailbox.tenant_id == tenant.id))}
    health = []
    for user in users_overview(session, tenant, now):
        row = rows.get(user.user_id)
        if row is None:
            health.append(MailboxHealth(user, None, None, None, None, 0, False, None))
            continue
        old_stage = row.stage != "idle" and (row.stage_started_at is None or row.stage_started_at < now - STALE_AFTER)
        health.append(MailboxHealth(
            user, row.id, row.last_error, row.stage, row.stage_started_at, row.failure_count,
            stuck=old_stage and not _held(connection, row.id), synced_since=row.last_success_at or row.created_at))
    return health


def _held(connection: redis.Redis, mailbox_id: int) -> bool:
    """A live run holds (and renews) the mailbox lock: an old stage under it is busy, not stuck.
    Redis away: say held, rather than call every busy mailbox stuck."""
    try:
        return bool(connection.exists(mailbox_lock_key(mailbox_id)))
    except redis.RedisError:
        return True


def day_errors(session: Session, tenant_id: int, now: datetime) -> DayErrors:
    midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
    today = (Message.tenant_id == tenant_id, Message.first_seen_at >= midnight)  # ix_messages_tenant_first_seen
    mail = session.scalar(select(func.count()).select_from(Message).where(*today)) or 0
    codes = session.execute(
        select(Message.error_code, func.count().label("n")).where(*today, Message.error_code.is_not(None))
        .group_by(Message.error_code).order_by(func.count().desc(), Message.error_code)).all()
    return DayErrors(midnight, mail, sum(n for _, n in codes),
                     tuple((code, n) for code, n in codes[:TOP_ERROR_CODES]))


def webhook_health(session: Session, connection: redis.Redis, tenant_id: int, now: datetime) -> WebhookHealth:
    syncing = (Mailbox.tenant_id == tenant_id, Mailbox.status.in_(("active", "throttled")))
    expected = session.scalar(select(func.count()).select_from(MailboxFolder)
                              .join(Mailbox, Mailbox.id == MailboxFolder.mailbox_id).where(*syncing)) or 0
    subscriptions = session.execute(
        select(Subscription.id, Subscription.expires_at).join(Mailbox, Mailbox.id == Subscription.mailbox_id)
        .where(Mailbox.tenant_id == tenant_id)).all()
    heard = []
    try:
        heard = [at for at in subscription_liveness.last_heard_of(connection, [s.id for s in subscriptions]).values()
                 if at]
    except redis.RedisError:
        pass  # a hint only: the page shows "not recorded"
    return WebhookHealth(expected, sum(1 for s in subscriptions if s.expires_at > now), max(heard, default=None))


def queue_depth(connection: redis.Redis) -> dict[str, int] | None:
    try:
        return {name: Queue(name, connection=connection).count for name in QUEUES}
    except redis.RedisError:
        return None


def tenant_failures(connection: redis.Redis, mailboxes: list[MailboxHealth],
                    now: datetime) -> tuple[TenantFailure, ...] | None:
    """The week's failed jobs this tenant may read: its mailboxes' jobs, and the shared
    periodic jobs (whose exception text the page leaves out: it may name other tenants)."""
    users = {m.mailbox_id: m.user.name for m in mailboxes if m.mailbox_id is not None}
    try:
        failures = failed_jobs.recent(connection, QUEUES, now)
    except redis.RedisError:
        return None
    mine = []
    for failure in failures:
        if failure.function in MAILBOX_JOBS:
            if failure.args and failure.args[0] in users:
                mine.append(TenantFailure(failure, users[failure.args[0]]))
        elif failure.function.startswith("worker.jobs."):
            mine.append(TenantFailure(failure, None))
    return tuple(mine)


def sync_health(session: Session, connection: redis.Redis, tenant: Tenant, now: datetime) -> SyncHealth:
    mailboxes = mailbox_health(session, connection, tenant, now)
    return SyncHealth(tuple(mailboxes), queue_depth(connection), webhook_health(session, connection, tenant.id, now),
                      day_errors(session, tenant.id, now), tenant_failures(connection, mailboxes, now))


def disconnected_longer_than(mailboxes: list[MailboxHealth] | tuple[MailboxHealth, ...], now: datetime,
                             threshold: timedelta) -> list[MailboxHealth]:
    """Disconnected mailboxes whose mail has not synced for longer than `threshold`."""
    return [m for m in mailboxes if m.disconnected and m.synced_since is not None
            and now - m.synced_since > threshold]
