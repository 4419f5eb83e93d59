"""Writing an email's outcome to its Sync History row (SPEC sections 2 and 4).

Each function takes the row and what was decided or what happened in Salesforce, and sets
exactly the columns the history tabs and the retry schedule read. Outcomes that SPEC says
are "not stored" delete the row; the rest keep it, with the body cleared as soon as no
write can need it any more.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from mailferry.addresses import domain_of
from mailferry.allowances import Allocation
from mailferry.models import Message, MessageRecord, OmittedDailyCount, UnmatchedAddress
from mailferry.backoff import next_rematch, next_system_error_attempt


def forget(session: Session, row: Message) -> None:
    """Not stored at all (dropped, not designated): remove a row that never had an outcome;
    a row that already had one keeps it and just loses the pending operation."""
    if row.status == "pending":
        session.delete(row)
    else:
        row.pending_operation = None


def omit(session: Session, row: Message, now: datetime) -> None:
    """Global Exclusion List: only an anonymous count per tenant and day survives."""
    _count_omitted(session, row.tenant_id, now)
    session.delete(row)


def settle(row: Message, status: str, reason: str, now: datetime) -> None:
    """An outcome without a Salesforce write: ignored, excluded, skipped.

    A skipped email keeps its body: removing an Ignore List entry brings it back inside its
    window (SPEC section 4), and it may then be recorded. Expiry and purge clear it."""
    row.status = status
    row.reason = reason
    row.pending_operation = None
    row.error_code = row.error_message = None
    row.next_attempt_at = None
    row.last_attempt_at = now
    row.attempts += 1
    if status != "skipped":
        row.body_text = None


def task_removed(row: Message) -> None:
    """Its Task was deleted from Salesforce (DoNotSync, Ignore Email after a sync)."""
    row.salesforce_task_id = None
    row.synced_at = None
    row.records.clear()


def unresolved_no_match(row: Message, now: datetime) -> None:
    """No Contact or Lead matched: retried by the re-match sweep until it expires."""
    row.status = "unresolved"
    row.reason = "no_match"
    row.pending_operation = None
    row.error_code = row.error_message = None
    row.attempts += 1
    row.last_attempt_at = now
    row.next_attempt_at = next_rematch(now)


def synced(session: Session, row: Message, task_id: str, key: str, allocation: Allocation, now: datetime) -> None:
    row.status = "synced"
    row.reason = None
    row.pending_operation = None
    row.error_code = row.error_message = None
    row.attempts += 1
    row.last_attempt_at = now
    row.next_attempt_at = None
    row.synced_at = now
    row.salesforce_task_id = task_id
    row.task_key = key
    row.body_text = None
    replace_records(session, row, allocation)


def write_failed(row: Message, code: str, message: str, now: datetime, retry_after: float | None) -> None:
    """The Salesforce write failed: Unresolved `system_error`, retried with backoff."""
    row.status = "unresolved"
    row.reason = "system_error"
    row.error_code = (code or "UNKNOWN")[:200]
    row.error_message = (message or "")[:2000]
    row.attempts += 1
    row.last_attempt_at = now
    row.next_attempt_at = next_system_error_attempt(row.attempts, now, retry_after)


def replace_records(session: Session, row: Message, allocation: Allocation) -> None:
    """The matched records of SPEC section 3: recorded ones first, then the others with
    their reason, in participant order."""
    row.records.clear()
    session.flush()
    position = 0
    for record in allocation.recorded:
        row.records.append(_record(record, True, None, position))
        position += 1
    for left in allocation.not_recorded:
        row.records.append(_record(left.record, False, left.reason.value, position))
        position += 1
    if allocation.what is not None:
        what = allocation.what
        row.records.append(MessageRecord(sobject_type=what.sobject, record_id=what.record_id,
                                         address=what.address, recorded=True, position=position))
        position += 1
    for hint, reason in allocation.what_not_set:
        row.records.append(MessageRecord(sobject_type=hint.sobject, record_id=hint.record_id,
                                         address=hint.address, recorded=False, reason=reason.value,
                                         position=position))
        position += 1


def note_unmatched(session: Session, row: Message, addresses: tuple[str, ...], names: dict[str, str],
                   first_attempt: bool, now: datetime) -> None:
    """Unmatched Contacts/Leads: one row per address and user, counting each email once."""
    if not addresses:
        return
    existing = {
        u.address: u
        for u in session.execute(
            select(UnmatchedAddress).where(
                UnmatchedAddress.user_id == row.user_id, UnmatchedAddress.address.in_(addresses)
            )
        ).scalars()
    }
    for address in addresses:
        entry = existing.get(address)
        if entry is None:
            entry = UnmatchedAddress(
                tenant_id=row.tenant_id, user_id=row.user_id, address=address,
                display_name=names.get(address) or None, domain=domain_of(address) or "",
                emails_count=0, first_seen_at=now,
            )
            session.add(entry)
            first_attempt = True
        if first_attempt:
            entry.emails_count += 1
        entry.last_subject = row.subject[:1000] if row.subject else None
        entry.last_seen_at = now
        if names.get(address) and not entry.display_name:
            entry.display_name = names[address]


def forget_unmatched(session: Session, user_id: int, addresses: tuple[str, ...]) -> None:
    """Addresses that matched now (a Contact or Lead was created) leave Unmatched Contacts/Leads."""
    if addresses:
        session.execute(
            delete(UnmatchedAddress).where(UnmatchedAddress.user_id == user_id, UnmatchedAddress.address.in_(addresses))
        )


def _record(record, recorded: bool, reason: str | None, position: int) -> MessageRecord:
    return MessageRecord(sobject_type=record.sobject, record_id=record.record_id, name=record.name,
                         address=record.address, recorded=recorded, reason=reason, position=position)


def _count_omitted(session: Session, tenant_id: int, now: datetime) -> None:
    day = now.date()
    counter = session.execute(
        select(OmittedDailyCount).where(OmittedDailyCount.tenant_id == tenant_id, OmittedDailyCount.day == day)
    ).scalar_one_or_none()
    if counter is None:
        session.add(OmittedDailyCount(tenant_id=tenant_id, day=day, count=1))
        session.flush()
    else:
        counter.count += 1
