"""When a user's Ignore List changes, the emails it touches are decided again (SPEC section 4).

- Adding addresses or domains re-evaluates the user's Unresolved rows at once, and drops
  the Unmatched Contacts/Leads rows they now cover: they leave both lists. An email the
  entries leave nobody to look up is decided here and then (skipped, rule 7); the others
  are made due for the worker, which needs Salesforce to decide them.
- Removing an entry re-evaluates the emails of the attempt window that were skipped
  because nobody was left to look up.

Done in bulk, whatever the number of entries: the rows are read once (only the columns the
decision needs), decided once against the whole new list, and changed by id in batches of
`BATCH` with set-based UPDATE and DELETE statements. Given `commit`, the caller's session is
committed after the read and after each batch, so on SQLite no write transaction is held
while Python decides, nor for longer than one batch. Each UPDATE re-checks the status it
expects (the transitions of `mailferry.email_state` do), so a row the worker changed in
between is left as the worker made it.

Only rows are marked here; the caller enqueues the mailbox sync that decides them (the web
app by job name, the worker directly).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime

from sqlalchemy import and_, delete, select
from sqlalchemy.orm import Session

from mailferry import email_state
from mailferry.addresses import EntryList, ListEntry
from mailferry.decision import Outcome, decide
from mailferry.message_facts import facts_of
from mailferry.models import Mailbox, Message, UnmatchedAddress, User
from mailferry.user_context import decision_context

#: Rows one UPDATE or DELETE names (bounded statements, short transactions).
BATCH = 500
Commit = Callable[[], None] | None


def after_entry_added(session: Session, user_id: int, entry: ListEntry, now: datetime,
                      commit: Commit = None) -> list[int]:
    """`after_entries_added` for one entry."""
    return after_entries_added(session, user_id, [entry], now, commit)


def after_entries_added(session: Session, user_id: int, entries: Sequence[ListEntry], now: datetime,
                        commit: Commit = None, reader: Session | None = None) -> list[int]:
    """Decide the user's Unresolved emails again under their Ignore List (which already holds
    `entries`): skipped now when nobody is left to look up, else due now. Remove the
    Unmatched rows `entries` cover. Returns the mailbox ids to sync.

    `reader`, with `commit`: a read-only session for the reads, which then take no write
    lock at all (the entries are committed first, so its snapshot sees them)."""
    source = session
    if commit is not None and reader is not None:
        commit()  # the entries, so that the reader's next snapshot sees them
        reader.rollback()
        source = reader
    covered = EntryList(entries)
    unmatched = source.execute(
        select(UnmatchedAddress.id, UnmatchedAddress.address).where(UnmatchedAddress.user_id == user_id)).all()
    gone = [row.id for row in unmatched if covered.matches(row.address)]
    context = decision_context(source, source.get(User, user_id))
    unresolved = source.execute(
        select(Message.id, Message.pending_operation, Message.salesforce_task_id, Message.direction,
               Message.participants, Message.categories, Message.internet_message_id)
        .where(Message.user_id == user_id, Message.status == "unresolved")).all()
    mailboxes = _mailboxes(source, user_id)
    _end_read(reader.rollback if source is reader else commit)

    skipped: dict[str, list[int]] = defaultdict(list)  # reason → ids
    due: list[int] = []
    for row in unresolved:
        decision = decide(facts_of(row), context)
        if decision.outcome == Outcome.SKIPPED:
            skipped[decision.reason.value].append(row.id)
        else:
            due.append(row.id)

    for ids in _batches(gone):
        session.execute(delete(UnmatchedAddress).where(UnmatchedAddress.id.in_(ids)))
        _end_batch(session, commit)
    for reason, reason_ids in skipped.items():
        for ids in _batches(reason_ids):
            email_state.skipped_by_rule(session, _theirs(user_id, ids), reason, now)
            _end_batch(session, commit)
    for ids in _batches(due):
        email_state.due_now(session, _theirs(user_id, ids), now)
        _end_batch(session, commit)
    return mailboxes


def after_entry_removed(session: Session, user_id: int, entry: ListEntry, now: datetime,
                        commit: Commit = None) -> list[int]:
    """Decide again the skipped emails still inside their window that involve the entry;
    returns the mailbox ids to sync."""
    skipped = session.execute(
        select(Message.id, Message.participants).where(
            Message.user_id == user_id, Message.status == "skipped", Message.expires_at > now,
        )
    ).all()
    mailboxes = _mailboxes(session, user_id)
    _end_read(commit)
    covered = EntryList([entry])
    involved = [row.id for row in skipped
                if any(covered.matches(p.get("address") or "") for p in row.participants or [])]
    for ids in _batches(involved):
        email_state.reconsidered(session, _theirs(user_id, ids))
        _end_batch(session, commit)
    return mailboxes


def _theirs(user_id: int, ids: list[int]):
    return and_(Message.id.in_(ids), Message.user_id == user_id)


def _mailboxes(session: Session, user_id: int) -> list[int]:
    return list(session.execute(select(Mailbox.id).where(Mailbox.user_id == user_id)).scalars())


def _batches(ids: list[int]) -> Iterable[list[int]]:
    for start in range(0, len(ids), BATCH):
        yield ids[start:start + BATCH]


def _end_read(commit: Commit) -> None:
    # Ends the transaction of the read (and commits the caller's earlier changes, e.g. the
    # new entries), so none is open while the rows are decided.
    if commit is not None:
        commit()


def _end_batch(session: Session, commit: Commit) -> None:
    if commit is not None:
        commit()
    else:
        session.flush()
