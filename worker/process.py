"""The process stage: decide → match → allowances → write → record, a batch at a time.

The work of one mailbox run is every row with a pending operation, plus every Unresolved
row whose next attempt is due. Each batch costs one lookup for all of its candidate
addresses and one Composite write for all of its Tasks, which is what keeps Mailferry at a
handful of Salesforce calls per thousand emails.
"""

from __future__ import annotations

import logging
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Iterator, Protocol

from sqlalchemy import and_, inspect, or_, select
from sqlalchemy.orm import Session

from mailferry import decision as rules
from mailferry import email_state, metrics
from mailferry.allowances import MatchedRecord, apply_allowances, task_fields, task_key
from mailferry.decision import Decision, DecisionContext, Outcome
from mailferry.logging_setup import log_context
from mailferry.message_facts import facts_of
from mailferry.models import Message, User
from mailferry.unmatched import forget_unmatched, note_unmatched
from mailferry.provider_errors import ProviderError
from worker import failures
from worker.failures import Response, Stage
from mailferry.user_context import ignored_message_ids
from worker.runtime import runtime
from worker.sealed import open_body

log = logging.getLogger(__name__)
BATCH_SIZE = 500
#: What a row the process stage deletes (instead of giving it a status) counts as.
DELETED_AS = {Outcome.DROPPED: "dropped", Outcome.NOT_DESIGNATED: "dropped", Outcome.OMITTED: "omitted",
              Outcome.REMOVE_TASK: "removed"}


class Crm(Protocol):
    """What the process stage needs from Salesforce (worker/salesforce/crm.py provides it)."""

    shared_activities: bool
    owner_id: str

    def find_people(self, addresses: list[str], fresh: bool = False) -> dict[str, list]: ...

    def write_tasks(self, writes: list) -> list: ...

    def delete_tasks(self, task_ids: list[str]) -> list: ...


@dataclass
class ProcessCounts:
    decided: int = 0
    synced: int = 0
    unresolved: int = 0
    excluded: int = 0
    other: int = 0
    waiting: int = 0  # needed Salesforce, which is not connected or paused
    changed_meanwhile: int = 0  # changed by another writer during the calls: taken again next run
    by_status: dict[str, int] = field(default_factory=dict)


def is_due(now: datetime):
    """A row has work now: a pending operation, or an Unresolved row whose next attempt is
    due. A failed write keeps its operation (a failed delete must stay a delete) and waits
    for its next attempt like any Unresolved row, so an outage is retried with backoff."""
    return or_(
        and_(Message.pending_operation.is_not(None),
             or_(Message.next_attempt_at.is_(None), Message.next_attempt_at <= now)),
        and_(Message.status == "unresolved", Message.next_attempt_at <= now),
    )


def due_filter(mailbox_id: int, now: datetime):
    return and_(Message.mailbox_id == mailbox_id, is_due(now))


def process_mailbox(session: Session, mailbox_id: int, user: User, context: DecisionContext,
                    crm: Crm | None, now: datetime, checkpoint, counts: ProcessCounts) -> None:
    """Every due row of the mailbox, once, in batches (committed by `checkpoint`)."""
    last_id = 0
    while True:
        batch = session.execute(
            select(Message).where(due_filter(mailbox_id, now), Message.id > last_id)
            .order_by(Message.id).limit(BATCH_SIZE)
        ).scalars().all()
        if not batch:
            return
        last_id = batch[-1].id
        process_batch(session, batch, user, context, crm, now, counts)
        checkpoint()


def process_batch(session: Session, batch: list[Message], user: User, context: DecisionContext,
                  crm: Crm | None, now: datetime, counts: ProcessCounts) -> None:
    """Decide the batch, make its Salesforce calls, record the outcomes.

    The calls are made with no database transaction open: on SQLite a transaction holds the
    file's only write lock, and a Salesforce call may last a minute (mailferry/db.py). What
    the rows said when decided is kept, and a row another writer changed meanwhile (the user
    ignored it, a settings change re-evaluated it, expiry) keeps that change: only what
    Salesforce now holds (its Task id) is written to it, and it is taken again next run.
    """
    ignored = ignored_message_ids(session, user.id, [row.internet_message_id for row in batch])
    decisions = {
        row.id: rules.decide(facts_of(row), replace(context, ignore_email_chosen=row.internet_message_id in ignored))
        for row in batch
    }
    counts.decided += len(batch)
    needing_crm = [row for row in batch if _needs_crm(row, decisions[row.id])]
    if crm is None:
        # Salesforce is not connected: what needs it stays due, and the connection shows why.
        counts.waiting += len(needing_crm)
        _record_all(session, [r for r in batch if r not in needing_crm], decisions, {}, now, counts)
        return
    seen = {row.id: _raceable_state(row) for row in batch}
    session.commit()  # the batch's reads end here: no transaction is open during the calls
    withdrawn: dict[int, bool] = {}
    failure = None
    results: dict[int, tuple] = {}
    try:
        people = _look_up(crm, [r for r in needing_crm if decisions[r.id].outcome == Outcome.NEEDS_LOOKUP],
                          decisions, context)
        withdrawn = _withdraw(crm, [row for row in batch if _withdraws(row, decisions[row.id])])
        writes = [row for row in batch if decisions[row.id].outcome == Outcome.TO_RECORD]
        results = _write(crm, user, writes, decisions, people, context.settings.time_zone) if writes else {}
    except ProviderError as error:
        if failures.response(error, Stage.SALESFORCE) == Response.RECONNECT_SALESFORCE:
            raise  # `worker.jobs` marks the connection; the rows stay due
        failure = error
    changed = _changed_meanwhile(session, batch, seen)
    for row in batch:
        if row.id in changed:
            _keep_salesforce_facts(row, withdrawn.get(row.id), results.get(row.id))
        elif withdrawn.get(row.id):
            email_state.task_removed(row)
    counts.changed_meanwhile += len(changed)
    settled = [row for row in batch if row.id not in changed]
    if failure is not None:
        # An outage, the API budget or a setup problem stopped the whole batch's Salesforce
        # work: every email that needed it is Unresolved `system_error`, retried with backoff.
        failed = [row for row in settled if row in needing_crm]
        for row in failed:
            with _recording(session, row):
                email_state.write_failed(row, failure.code or failure.kind.value, failure.message, now,
                                         failure.retry_after)
        counts.unresolved += len(failed)
        _record_all(session, [r for r in settled if r not in needing_crm], decisions, {}, now, counts)
        return
    # A Task that could not be deleted keeps its row due, to try again.
    not_withdrawn = [row for row in settled if withdrawn.get(row.id) is False]
    counts.waiting += len(not_withdrawn)
    _record_all(session, [r for r in settled if r not in not_withdrawn], decisions, results, now, counts)


#: The columns other writers set to ask for (or settle) work on a row: what the process
#: stage compares before recording an outcome.
RACEABLE = (Message.status, Message.pending_operation, Message.next_attempt_at, Message.salesforce_task_id)


def _raceable_state(row: Message) -> tuple:
    return tuple(getattr(row, column.key) for column in RACEABLE)


def _changed_meanwhile(session: Session, batch: list[Message], seen: dict[int, tuple]) -> set[int]:
    """Rows whose state differs from `seen` (or that are gone), read in the write transaction
    that records the batch; on PostgreSQL locked until it commits, so nothing slips in."""
    now_there = {
        found.id: tuple(found[1:])
        for found in session.execute(select(Message.id, *RACEABLE).where(Message.id.in_(list(seen))).with_for_update())
    }
    return {row_id for row_id, state in seen.items() if now_there.get(row_id) != state}


def _keep_salesforce_facts(row: Message, withdrawn: bool | None, written) -> None:
    """A row changed meanwhile keeps its new state; it only learns what Salesforce now holds."""
    if withdrawn:
        email_state.task_removed(row)
    if written is not None and written[0].ok:
        email_state.task_known(row, written[0].task_id, written[0].key)


def _record_all(session, rows, decisions, results, now, counts) -> None:
    for row in rows:
        with _recording(session, row, decisions[row.id].outcome):
            _record_outcome(session, row, decisions[row.id], results.get(row.id), now, counts)


@contextmanager
def _recording(session: Session, row: Message, outcome: Outcome | None = None) -> Iterator[None]:
    """Record one row's outcome inside: its lines carry the row's id, and the outcome it got is
    counted (`mailferry.metrics`) and logged. Every transition that gives an email an outcome
    adds an attempt (mailferry/email_state.py), so an unchanged count means none was given (a
    row left due, or one that keeps its earlier outcome); a row deleted had its outcome decided."""
    attempts = row.attempts
    with log_context(message_id=row.id):
        yield
        state = inspect(row)
        if row in session.deleted or state.deleted or state.was_deleted:
            counted, reason = DELETED_AS.get(outcome), None
        else:
            counted, reason = (row.status, row.reason) if row.attempts != attempts else (None, None)
        if counted is not None:
            metrics.email_outcome(counted, reason)
            log.debug("email %s%s", counted, f" ({reason})" if reason else "",
                      extra={"outcome": counted, "reason": reason})


def _needs_crm(row: Message, decision: Decision) -> bool:
    return decision.outcome == Outcome.NEEDS_LOOKUP or _withdraws(row, decision)


def _withdraws(row: Message, decision: Decision) -> bool:
    if not row.salesforce_task_id:
        return False
    return decision.outcome == Outcome.REMOVE_TASK or decision.withdraw_task


def _look_up(crm: Crm, rows: list[Message], decisions: dict[int, Decision],
             context: DecisionContext) -> dict[int, dict[str, list]]:
    """One lookup for every candidate of the batch (retries bypass the match cache, so a
    Contact created since is found); rules 8 and 9 for each row. Returns the people found
    per row and address, for the write."""
    found: dict[str, list] = {}
    for fresh in (False, True):
        addresses = sorted({a for row in rows if _is_retry(row) == fresh for a in decisions[row.id].candidates})
        if addresses:
            found.update(crm.find_people(addresses, fresh=fresh))
    people = {}
    for row in rows:
        matched = [a for a in decisions[row.id].candidates if found.get(a)]
        decisions[row.id] = rules.resolve_after_lookup(decisions[row.id], matched, context.settings.sync_mode)
        people[row.id] = {a: found[a] for a in matched}
    return people


def _is_retry(row: Message) -> bool:
    return row.status == "unresolved"


def _withdraw(crm: Crm, rows: list[Message]) -> dict[int, bool]:
    """Delete the Tasks of these rows; returns, per row id, whether its Task is gone."""
    if not rows:
        return {}
    results = crm.delete_tasks([row.salesforce_task_id for row in rows])
    return {row.id: result.ok for row, result in zip(rows, results)}


def _write(crm: Crm, user: User, rows: list[Message], decisions: dict[int, Decision],
           people: dict[int, dict[str, list]], time_zone: str) -> dict[int, object]:
    from worker.salesforce.crm import TaskWrite

    writes, allocations = [], {}
    for row in rows:
        decision = decisions[row.id]
        records = [
            MatchedRecord(person.sobject_type, person.id, person.name, address, person.created_date,
                          decision.role_of(address), position)
            for position, address in enumerate(decision.candidates)
            for person in people[row.id].get(address, ())
        ]
        allocation = apply_allowances(records, row.direction, crm.shared_activities, decision.related_to)
        allocations[row.id] = allocation
        fields = task_fields(subject=row.subject, participants=decision.participants, message_date=row.sent_at,
                             body=open_body(runtime(), row.body_text), time_zone=time_zone, owner_id=crm.owner_id,
                             allocation=allocation)
        key = task_key(user.tenant.tid, user.oid, row.internet_message_id)
        writes.append(TaskWrite(key=key, fields=fields, relation_ids=allocation.relation_ids,
                                existing_task_id=row.salesforce_task_id))
    results = crm.write_tasks(writes)
    return {row.id: (result, allocations[row.id]) for row, result in zip(rows, results)}


def _record_outcome(session, row, decision: Decision, written, now, counts: ProcessCounts) -> None:
    outcome = decision.outcome
    first_attempt = row.attempts == 0
    if outcome in (Outcome.DROPPED, Outcome.NOT_DESIGNATED):
        email_state.forgotten(session, row)
        counts.other += 1
    elif outcome == Outcome.OMITTED:
        email_state.omitted(session, row, now)
        counts.other += 1
    elif outcome == Outcome.REMOVE_TASK:
        email_state.gone(session, row)
        counts.other += 1
    elif outcome in (Outcome.IGNORED, Outcome.SKIPPED, Outcome.EXCLUDED):
        status = {Outcome.IGNORED: "ignored", Outcome.SKIPPED: "skipped", Outcome.EXCLUDED: "excluded"}[outcome]
        email_state.decided(row, status, decision.reason.value, now)
        if decision.reason == rules.Reason.NO_MATCH:
            note_unmatched(session, row, decision.unmatched, decision.names(), first_attempt, now)
        counts.excluded += outcome == Outcome.EXCLUDED
        counts.other += outcome != Outcome.EXCLUDED
    elif outcome == Outcome.UNRESOLVED:
        email_state.unmatched(row, now)
        note_unmatched(session, row, decision.unmatched, decision.names(), first_attempt, now)
        counts.unresolved += 1
    elif outcome == Outcome.TO_RECORD:
        result, allocation = written
        if result.ok:
            email_state.synced(session, row, result.task_id, result.key, allocation, now)
            forget_unmatched(session, row.user_id, decision.matched)
            counts.synced += 1
        else:
            email_state.write_failed(row, result.error_code, result.error_message, now, None)
            counts.unresolved += 1
        note_unmatched(session, row, decision.unmatched, decision.names(), first_attempt, now)
    # NEEDS_LOOKUP left here means Salesforce was not available: the row stays due.

