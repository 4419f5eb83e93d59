"""Re-matching Unresolved `no_match` emails by the org's change feed (SPEC 4 and 15).

An email nobody in Salesforce matched waits, with no timer (`mailferry.backoff.next_rematch`),
until one of its addresses can match: once per interval (`REMATCH_INTERVAL`) each tenant
holding such emails asks its org, in one Composite call, which Contacts and open Leads were
written since the last ask (`worker.salesforce.change_feed`). The changed records carry
their addresses, so the emails they may now match are found here, without a lookup; those
(and only those) are made due and their mailboxes' syncs queued. The mailbox run then
re-matches them the normal way (a fresh lookup, the write, the record) under the mailbox
lock, with the Task upserted on its key: exactly once, whoever got there first. "Retry now"
still makes the rows asked due at once (`email_state.due_now`), whatever the feed says.

The high-water mark (the newest SystemModstamp seen) is kept per tenant and org in a row of
the tenant's settings table (`tenant_settings`, key `salesforce_change_feed`; not a setting
the catalogue knows, like the alert rows of `mailferry.alert_settings`). Each ask starts
`OVERLAP` before it, because a record may be stamped before a transaction that commits after
the previous ask (reference wave2.md 8.2: poll with >= and an overlap, de-duplicate); records
already seen with the same stamp are skipped. It never starts before the oldest waiting
email's last attempt (minus the overlap): what changed earlier, that lookup already saw.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import and_, func, select
from sqlalchemy.orm import Session

from mailferry import decision as rules
from mailferry import email_state
from mailferry.addresses import comparison_key
from mailferry.connection_state import CONNECTED
from mailferry.job_queue import enqueue_sync
from mailferry.message_facts import facts_of
from mailferry.models import Connection, Message, Tenant, TenantSetting, User
from mailferry.provider_errors import ProviderError
from mailferry.salesforce_integration import PROVIDER, integration_of, usable
from mailferry.user_context import decision_context
from worker.salesforce.change_feed import Change

log = logging.getLogger(__name__)
FEED_KEY = "salesforce_change_feed"
#: How far before the mark each ask starts: commit lag, the one-minute match cache
#: (worker/salesforce/crm.py) and a little clock skew between us and the org.
OVERLAP = timedelta(minutes=5)
#: Records remembered (id → stamp) to skip the overlap's repeats; past this, a repeat costs
#: at most a lookup in the mailbox run.
SEEN_KEPT = 2000


@dataclass
class FeedMark:
    org_id: str | None
    mark: str | None = None  # the newest SystemModstamp seen, as Salesforce wrote it
    seen: dict[str, str] = field(default_factory=dict)  # record id → SystemModstamp, near the mark

    def as_json(self) -> dict:
        return {"org_id": self.org_id, "mark": self.mark, "seen": self.seen}


def waiting_for_match(tenant_id: int):
    """The tenant's emails a Contact or Lead created or changed could resolve."""
    return and_(Message.tenant_id == tenant_id, Message.status == email_state.UNRESOLVED,
                Message.reason == "no_match", Message.pending_operation.is_(None))


def tenants_waiting(session: Session) -> list[int]:
    return list(session.execute(
        select(Message.tenant_id).where(Message.status == email_state.UNRESOLVED, Message.reason == "no_match")
        .distinct()).scalars())


def rematch_tenant(rt, tenant_id: int, now: datetime) -> dict:
    """One ask of the tenant's org; the emails its answer may resolve are made due and their
    mailboxes queued. Returns counts (or why nothing was asked)."""
    from worker.salesforce.crm import open_crm

    with rt.sessions() as session:
        tenant = session.get(Tenant, tenant_id)
        oldest = session.execute(select(func.min(Message.last_attempt_at))
                                 .where(waiting_for_match(tenant_id))).scalar_one_or_none()
        if tenant is None or oldest is None:
            return {"tenant": tenant_id, "skipped": "no email waits for a match"}
        connection = feed_connection(session, tenant)
        if connection is None:
            return {"tenant": tenant_id, "skipped": "no working Salesforce connection"}
        stored = read_mark(session, tenant_id)
        session.commit()  # no transaction is open during the calls (worker/process.py)
        try:
            crm = open_crm(rt, session, tenant, connection, now)
            if stored.org_id != crm.sf.org_id:  # another org (or the first ask): its own mark
                stored = FeedMark(crm.sf.org_id)
            since = start_of_ask(stored, oldest)
            changes = crm.changes_since(since)
        except ProviderError as error:
            # Not this feed's to handle: the mailbox runs show a connection's or the budget's
            # trouble on their emails. The mark stays; the next interval asks again.
            log.warning("change feed of tenant %s: %r", tenant_id, error)
            session.rollback()
            return {"tenant": tenant_id, "error": error.kind.value, "code": error.code}
        new = [change for change in changes if stored.seen.get(change.person.id) != change.stamp]
        hits = rows_hit(session, tenant_id, {comparison_key(change.person.email) for change in new})
        if hits:
            email_state.due_now(session, and_(waiting_for_match(tenant_id), Message.id.in_(list(hits))), now)
        write_mark(session, tenant_id, advanced(stored, changes))
        session.commit()
    mailboxes = sorted(set(hits.values()))
    queued = sum(enqueue_sync(rt.redis, mailbox_id) for mailbox_id in mailboxes)
    log.info("change feed of tenant %s: %d records changed, %d new; %d emails to re-match in %d mailboxes",
             tenant_id, len(changes), len(new), len(hits), len(mailboxes))
    return {"tenant": tenant_id, "changed": len(changes), "new": len(new), "emails": len(hits),
            "mailboxes": len(mailboxes), "queued": queued}


def feed_connection(session: Session, tenant: Tenant) -> Connection | None:
    """Whose Salesforce the tenant's org is asked through: the tenant's integration user when
    connected (it usually sees every record), else a connected user's own connection, an
    admin's first. A record the asking user cannot see is missed by the feed (the rows stay
    for Retry now); one the email's user cannot see costs that mailbox one lookup."""
    integration = integration_of(session, tenant.id)
    if usable(integration):
        return integration
    return session.execute(
        select(Connection).join(User, User.id == Connection.user_id)
        .where(Connection.tenant_id == tenant.id, Connection.provider == PROVIDER, Connection.status == CONNECTED,
               Connection.sealed_secrets.is_not(None))
        .order_by((User.role == "admin").desc(), Connection.id).limit(1)
    ).scalar_one_or_none()


def rows_hit(session: Session, tenant_id: int, keys: set[str]) -> dict[int, int]:
    """{row id: mailbox id} of the waiting emails with a candidate among `keys` (address
    keys), decided here as the process stage decides them (own addresses, Ignore List and
    smart addresses are never candidates)."""
    if not keys:
        return {}
    by_user: dict[int, list[Message]] = defaultdict(list)
    for row in session.execute(select(Message).where(waiting_for_match(tenant_id))).scalars():
        if any(comparison_key(p.get("address")) in keys for p in row.participants or []):
            by_user[row.user_id].append(row)
    hits = {}
    for user_id, rows in by_user.items():
        context = decision_context(session, session.get(User, user_id))
        for row in rows:
            if any(comparison_key(a) in keys for a in rules.decide(facts_of(row), context).candidates):
                hits[row.id] = row.mailbox_id
    return hits


def start_of_ask(stored: FeedMark, oldest_attempt: datetime) -> datetime:
    start = oldest_attempt
    if stored.mark is not None:
        start = max(start, datetime.fromisoformat(stored.mark))
    return start - OVERLAP


def advanced(stored: FeedMark, changes: list[Change]) -> FeedMark:
    """The mark after an ask: the newest stamp seen, and the records stamped inside the next
    ask's overlap (the newest SEEN_KEPT)."""
    stamps = [change.stamp for change in changes if change.stamp]
    mark = max([stored.mark, *stamps] if stored.mark else stamps, default=None)
    if mark is None:
        return FeedMark(stored.org_id)
    keep_from = datetime.fromisoformat(mark) - OVERLAP
    seen = {**stored.seen, **{change.person.id: change.stamp for change in changes}}
    near = sorted(((stamp, record_id) for record_id, stamp in seen.items()
                   if datetime.fromisoformat(stamp) >= keep_from), reverse=True)[:SEEN_KEPT]
    return FeedMark(stored.org_id, mark, {record_id: stamp for stamp, record_id in near})


def read_mark(session: Session, tenant_id: int) -> FeedMark:
    value = session.execute(select(TenantSetting.value).where(
        TenantSetting.tenant_id == tenant_id, TenantSetting.key == FEED_KEY)).scalar_one_or_none()
    if not isinstance(value, dict):
        return FeedMark(None)
    return FeedMark(value.get("org_id"), value.get("mark"), dict(value.get("seen") or {}))


def write_mark(session: Session, tenant_id: int, mark: FeedMark) -> None:
    row = session.execute(select(TenantSetting).where(
        TenantSetting.tenant_id == tenant_id, TenantSetting.key == FEED_KEY)).scalar_one_or_none()
    if row is None:
        session.add(TenantSetting(tenant_id=tenant_id, key=FEED_KEY, value=mark.as_json()))
    else:
        row.value = mark.as_json()
