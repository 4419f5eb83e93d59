"""The email state machine: the one module that changes an email row's state.

An email row (`Message`) is in one status, and may carry a pending operation: work the
worker still has to do for it in Salesforce. The status is what the Sync History shows; the
operation and the next attempt are what the worker's process stage picks up (`is_due` in
worker/process.py). Every change of `status`, `reason`, `pending_operation`, `attempts` and
`next_attempt_at` happens here, through a named transition, so that the table below is the
whole story (tests/test_architecture.py checks that nothing else assigns them):

| transition      | from                       | to                         | operation            | attempts / next attempt            |
|-----------------|----------------------------|----------------------------|----------------------|------------------------------------|
| `seen`          | (new message in a folder)  | pending                    | create               | 0 / none: due at once              |
| `changed`       | any                        | (unchanged)                | update, unless create | none: due at once                 |
| `removed`       | any (deleted: Graph has it no more, or in Deleted Items) | (unchanged) | delete, unless create | none: due at once |
| `moved`         | any (seen in another synced folder, or left its folders while Graph still has it outside Deleted Items) | (unchanged) | a pending delete cancelled: not a delete | — |
| `decided`       | pending, any               | ignored, excluded, skipped | none                 | +1 / none                          |
| `unmatched`     | pending, unresolved        | unresolved `no_match`      | none                 | +1 / none: a change feed hit      |
| `synced`        | pending, unresolved, any   | synced                     | none                 | +1 / none                          |
| `write_failed`  | pending, unresolved, any   | unresolved `system_error`  | kept (a delete stays a delete) | +1 / backoff, or Retry-After |
| `chosen_ignore` | pending, unresolved, excluded, skipped, synced | ignored `ignore_email` | update or create (decided again) | none: due at once |
| `forgotten`     | pending                    | (row deleted: not stored)  | —                    | —                                  |
| `forgotten`     | any other                  | (unchanged)                | none                 | —                                  |
| `omitted`       | any                        | (row deleted; counted per tenant and day) | —    | —                                  |
| `gone`          | any, delete done           | (row deleted)              | —                    | —                                  |
| `due_now`       | unresolved                 | (unchanged)                | (unchanged)          | next attempt now (Retry now, a rule change) |
| `skipped_by_rule` | unresolved               | skipped (a new Ignore List entry) | none          | +1 / none                          |
| `reconsidered`  | skipped                    | (unchanged)                | create (decided again) | —                                |
| `expired`       | pending, unresolved, past its window | expired          | none                 | none; body cleared                 |
| `expired`       | skipped, past its window, nothing pending | (unchanged) | none                | body cleared                       |

Which transition applies is decided elsewhere: the rules of SPEC section 2
(`mailferry.decision`), the fetch stage (seen, changed, removed, moved), the process stage
(decided … write_failed), the user (chosen_ignore, due_now), a settings change
(`mailferry.reevaluation`) and the 30-day window (`worker.maintenance`). The bulk
transitions take a `where` clause and run as one UPDATE.

Bodies (`body_text`, sealed at rest: worker/fetch.py seals, worker/process.py opens) are kept
only while a write may still need them (SPEC 13): `synced` and `decided` (but for skipped)
drop them, `forgotten` drops one fetched again for an email whose final outcome stays, and
`expired` drops what is left at the end of the window. An Unresolved email
keeps its body for its retries.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from mailferry.allowances import Allocation
from mailferry.backoff import next_rematch, next_system_error_attempt
from mailferry.models import Message, MessageRecord, OmittedDailyCount

PENDING, SYNCED, UNRESOLVED, EXCLUDED, SKIPPED, IGNORED, EXPIRED = (
    "pending", "synced", "unresolved", "excluded", "skipped", "ignored", "expired")
CREATE, UPDATE, DELETE = "create", "update", "delete"
#: Statuses an Ignore Email choice changes: the email is still to be decided, or its
#: outcome (including a Task in Salesforce) must be taken back.
IGNORABLE = (PENDING, UNRESOLVED, EXCLUDED, SKIPPED, SYNCED)


# --- what the fetch stage sees ----------------------------------------------------------------


def seen(**columns) -> Message:
    """A message seen for the first time: a pending row, to be created."""
    return Message(**columns, status=PENDING, pending_operation=CREATE, attempts=0)


def changed(row: Message) -> None:
    """A change that matters (categories, participants): decided again at once, not at a
    failed write's retry time. A row still to be created stays a create."""
    if row.pending_operation != CREATE:
        row.pending_operation = UPDATE
    row.next_attempt_at = None


def removed(row: Message) -> None:
    """The message was deleted (Graph no longer has it, or it is in Deleted Items): its Task
    goes (unless it was never written)."""
    if row.pending_operation != CREATE:
        row.pending_operation = DELETE
    row.next_attempt_at = None


def moved(row: Message) -> None:
    """Moved, not deleted (SPEC section 1: a delete is a message removed from the mailbox):
    seen again in another synced folder in the same run, or gone from its synced folders
    while Graph still has it in a folder other than Deleted Items. Its Task stays; with
    immutable ids a move back may come with no notification (a Graph known issue), so
    deleting the Task on the way out would lose it. A row still to be created stays a create."""
    if row.pending_operation == DELETE:
        row.pending_operation = None


# --- what the process stage decides or Salesforce answers ---------------------------------------


def decided(row: Message, status: str, reason: str, now: datetime) -> None:
    """An outcome without a Salesforce write: ignored, excluded, skipped.

    A skipped email keeps its body: removing an Ignore List entry brings it back inside its
    window (SPEC section 4), and it may then be recorded. Expiry and purge clear it."""
    _attempted(row, status, reason, now)
    row.next_attempt_at = None
    if status != SKIPPED:
        row.body_text = None


def unmatched(row: Message, now: datetime) -> None:
    """No Contact or Lead matched: retried by the re-match sweep until it expires."""
    _attempted(row, UNRESOLVED, "no_match", now)
    row.next_attempt_at = next_rematch(now)


def synced(session: Session, row: Message, task_id: str, key: str, allocation: Allocation, now: datetime) -> None:
    """Its Task is written; the matched records (SPEC section 3) say on whom."""
    _attempted(row, SYNCED, None, now)
    row.next_attempt_at = None
    row.synced_at = now
    row.salesforce_task_id = task_id
    row.task_key = key
    row.body_text = None
    _replace_records(session, row, allocation)


def write_failed(row: Message, code: str, message: str, now: datetime, retry_after: float | None) -> None:
    """The Salesforce write failed: Unresolved `system_error`, retried with backoff. The
    operation stays: a failed delete must stay a delete."""
    row.status = UNRESOLVED
    row.reason = "system_error"
    row.error_code = (code or "UNKNOWN")[:200]
    row.error_message = (message or "")[:2000]
    row.attempts += 1
    row.last_attempt_at = now
    row.next_attempt_at = next_system_error_attempt(row.attempts, now, retry_after)


def task_removed(row: Message) -> None:
    """Its Task was deleted from Salesforce (DoNotSync, Ignore Email after a sync)."""
    row.salesforce_task_id = None
    row.synced_at = None
    row.records.clear()


def task_known(row: Message, task_id: str, key: str) -> None:
    """Salesforce holds a Task for the row, whose state another writer changed meanwhile
    (worker/process.py): it learns the Task and keeps its state."""
    row.salesforce_task_id, row.task_key = task_id, key


def forgotten(session: Session, row: Message) -> None:
    """Not stored at all (dropped, not designated): remove a row that never had an outcome;
    a row that already had one keeps it and just loses the pending operation."""
    if row.status == PENDING:
        session.delete(row)
    else:
        row.pending_operation = None
        if row.status in (SYNCED, EXCLUDED, IGNORED):  # its final outcome stays: a body fetched again goes
            row.body_text = None


def omitted(session: Session, row: Message, now: datetime) -> None:
    """Global Exclusion List: only an anonymous count per tenant and day survives."""
    day = now.date()
    counter = session.execute(
        select(OmittedDailyCount).where(OmittedDailyCount.tenant_id == row.tenant_id, OmittedDailyCount.day == day)
    ).scalar_one_or_none()
    if counter is None:
        session.add(OmittedDailyCount(tenant_id=row.tenant_id, day=day, count=1))
        session.flush()
    else:
        counter.count += 1
    session.delete(row)


def gone(session: Session, row: Message) -> None:
    """The message was deleted and its Task with it: nothing is left to show."""
    session.delete(row)


# --- what people ask for ------------------------------------------------------------------------


def chosen_ignore(row: Message) -> None:
    """Ignore Email: `ignored` at once (rule 3 decides so), with an operation pending so
    the worker decides it again: a Task recorded before is removed, and the rules above
    rule 3 (Prevent Operations, Global Exclusion List) still have their say. A pending
    delete stays a delete (the email left the mailbox)."""
    row.status = IGNORED
    row.reason = "ignore_email"
    row.pending_operation = row.pending_operation or (UPDATE if row.salesforce_task_id else CREATE)
    row.next_attempt_at = None


def due_now(session: Session, where, now: datetime) -> int:
    """Unresolved rows matching `where` are attempted at the next run ("Retry now", a rule
    change that may resolve them); returns how many."""
    return _bulk(session, where, Message.status == UNRESOLVED, next_attempt_at=now)


def skipped_by_rule(session: Session, where, reason: str, now: datetime) -> int:
    """Unresolved rows a new rule leaves nobody to look up for (an Ignore List entry):
    skipped now, without waiting for the worker."""
    return _bulk(session, where, Message.status == UNRESOLVED, status=SKIPPED, reason=reason, error_code=None,
                 error_message=None, next_attempt_at=None, attempts=Message.attempts + 1, last_attempt_at=now)


def reconsidered(session: Session, where) -> int:
    """Skipped rows a removed rule may now let through: decided again (as a create)."""
    return _bulk(session, where, Message.status == SKIPPED, pending_operation=CREATE)


# --- what time does ------------------------------------------------------------------------------


def expired(session: Session, now: datetime) -> int:
    """SPEC section 4: attempted for its window (30 days from first seen), then it leaves
    the Unresolved tab; its body is no longer needed. Neither is a skipped email's past its
    window (a removed Ignore List entry brings back only those inside it) with nothing left
    to do: SPEC 13 keeps bodies only until the final write or the expiry."""
    _bulk(session, Message.expires_at <= now, Message.status == SKIPPED, Message.pending_operation.is_(None),
          Message.body_text.is_not(None), body_text=None)
    return _bulk(session, Message.expires_at <= now, Message.status.in_((UNRESOLVED, PENDING)),
                 status=EXPIRED, pending_operation=None, next_attempt_at=None, body_text=None)


# --- helpers --------------------------------------------------------------------------------------


def _attempted(row: Message, status: str, reason: str | None, now: datetime) -> None:
    row.status = status
    row.reason = reason
    row.pending_operation = None
    row.error_code = row.error_message = None
    row.attempts += 1
    row.last_attempt_at = now


def _bulk(session: Session, *where, **values) -> int:
    return session.execute(
        update(Message).where(*where).values(**values).execution_options(synchronize_session=False)
    ).rowcount


def _replace_records(session: Session, row: Message, allocation: Allocation) -> None:
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


def _record(record, recorded: bool, reason: str | None, position: int) -> MessageRecord:
    return MessageRecord(sobject_type=record.sobject, record_id=record.record_id, name=record.name,
                         address=record.address, recorded=recorded, reason=reason, position=position)
