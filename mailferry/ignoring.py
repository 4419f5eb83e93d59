"""A user's ignore choices, as the Sync History, the Ignore List page and the add-in make
them: Ignore Email (SPEC section 2 rule 3) and Ignore Address / Ignore Domain (their
Ignore List, rule 7), with the re-evaluation SPEC section 4 asks for.

Each function changes rows in the caller's session and returns the ids of the mailboxes
whose sync should run; the caller commits, then enqueues those syncs (the web app by job
name), so the worker finds the changes committed.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from mailferry import email_state
from mailferry.addresses import ListEntry, check_list_entry
from mailferry.models import IgnoredEmail, IgnoreEntry, Message
from mailferry.reevaluation import after_entries_added, after_entry_removed

#: Where an entry or choice was made (IgnoreEntry.source, IgnoredEmail.source).
SOURCES = {
    "own_domain": "Added for you: your own domain",
    "history": "Sync History",
    "addin": "Outlook add-in",
    "settings": "Ignore List page",
    "admin": "Added by an admin",
}


@dataclass(frozen=True)
class EntryAdded:
    entry: IgnoreEntry | None  # None when the text was not a valid entry
    created: bool = False  # False: the list already held it
    error: str | None = None
    mailbox_ids: tuple[int, ...] = ()


@dataclass(frozen=True)
class EntriesAdded:
    """One `EntryAdded` per text given, in order, and the mailboxes to sync."""

    results: tuple[EntryAdded, ...] = ()
    mailbox_ids: tuple[int, ...] = ()


#: Values one IN (...) names when looking up existing entries.
_LOOKUP_CHUNK = 500


def add_entry(session: Session, user_id: int, tenant_id: int, text: str, source: str, now: datetime,
              kind: str | None = None, commit: Callable[[], None] | None = None) -> EntryAdded:
    """Put an address or a domain on the user's Ignore List (validated), then re-evaluate:
    their Unresolved emails are due at once and the Unmatched rows it covers leave.
    `kind` ("address" or "domain"), when given, is what the text must be (Ignore Address
    never adds a whole domain by mistake, nor Ignore Domain a single address). `commit`:
    as in `add_entries`."""
    added = add_entries(session, user_id, tenant_id, [(text, kind)], source, now, commit)
    return replace(added.results[0], mailbox_ids=added.mailbox_ids)


def add_entries(session: Session, user_id: int, tenant_id: int, texts: Sequence[tuple[str, str | None]],
                source: str, now: datetime, commit: Callable[[], None] | None = None,
                reader: Session | None = None) -> EntriesAdded:
    """`add_entry` for many (text, kind) pairs at once: each is validated on its own (a bad
    one is reported, the others are added), the new ones are inserted together, and the
    user's emails are re-evaluated once for all of them (`reevaluation.after_entries_added`).

    Without `commit` the caller commits. With it, the entries are committed first and the
    re-evaluation runs in short batches, each committed (a crash in between leaves the
    entries saved and the rows to the worker's next re-match); `reader`, a read-only
    session, then does its reads without any write lock."""
    checks = [(text, kind, check_list_entry(text)) for text, kind in texts]
    wanted = {check.entry.value for _, kind, check in checks
              if check.entry is not None and kind in (None, check.entry.kind)}
    rows = _existing(session, user_id, sorted(wanted))
    results: list[EntryAdded] = []
    new: list[ListEntry] = []
    for text, kind, check in checks:
        if check.entry is None:
            results.append(EntryAdded(None, error=check.error))
        elif kind is not None and check.entry.kind != kind:
            results.append(EntryAdded(None, error=f"“{text.strip()[:60]}” is not "
                                                  f"{'an address' if kind == 'address' else 'a domain'}"))
        elif check.entry.value in rows:
            results.append(EntryAdded(rows[check.entry.value]))
        else:
            row = rows[check.entry.value] = IgnoreEntry(
                tenant_id=tenant_id, user_id=user_id, kind=check.entry.kind, value=check.entry.value,
                source=source, created_at=now, created_by_user_id=user_id)
            session.add(row)
            new.append(check.entry)
            results.append(EntryAdded(row, True))
    if not new:
        return EntriesAdded(tuple(results))
    session.flush()
    mailboxes = after_entries_added(session, user_id, new, now, commit, reader)
    return EntriesAdded(tuple(results), tuple(mailboxes))


def _existing(session: Session, user_id: int, values: list[str]) -> dict[str, IgnoreEntry]:
    found: dict[str, IgnoreEntry] = {}
    for start in range(0, len(values), _LOOKUP_CHUNK):
        found.update((row.value, row) for row in session.execute(
            select(IgnoreEntry).where(IgnoreEntry.user_id == user_id,
                                      IgnoreEntry.value.in_(values[start:start + _LOOKUP_CHUNK]))).scalars())
    return found


def remove_entry(session: Session, user_id: int, entry_id: int, now: datetime,
                 commit: Callable[[], None] | None = None) -> tuple[int, ...] | None:
    """Take an entry off the user's Ignore List and bring back the skipped emails it kept
    out; None when the user has no such entry (another user's id included). With
    `commit`, as in `add_entries`: the removal is committed, then the rows in batches."""
    row = session.execute(
        select(IgnoreEntry).where(IgnoreEntry.id == entry_id, IgnoreEntry.user_id == user_id)
    ).scalar_one_or_none()
    if row is None:
        return None
    entry = ListEntry(row.kind, row.value)
    session.delete(row)
    session.flush()
    return tuple(after_entry_removed(session, user_id, entry, now, commit))


def ignore_emails(session: Session, user_id: int, message_ids: list[int], source: str,
                  now: datetime) -> tuple[list[Message], tuple[int, ...]]:
    """Ignore Email for the user's messages among `message_ids` (others' ids are skipped).

    The choice is stored by Internet Message-ID, then the row is marked `ignored` at once,
    which is what rule 3 decides, so it leaves its tab now, and carries a pending
    operation, so the worker decides it again: a Task recorded before is removed, and the
    rules above rule 3 (Prevent Operations, Global Exclusion List) still have their say.
    Returns the rows changed and the mailboxes to sync.
    """
    if not message_ids:
        return [], ()
    rows = session.execute(
        select(Message).where(Message.user_id == user_id, Message.id.in_(message_ids),
                              Message.status.in_(email_state.IGNORABLE))
    ).scalars().all()
    chosen = set(session.execute(
        select(IgnoredEmail.internet_message_id).where(
            IgnoredEmail.user_id == user_id,
            IgnoredEmail.internet_message_id.in_([row.internet_message_id for row in rows]),
        )
    ).scalars()) if rows else set()
    choices = []
    for row in rows:
        if row.internet_message_id not in chosen:
            choices.append({"user_id": user_id, "internet_message_id": row.internet_message_id, "source": source,
                            "created_at": now})
            chosen.add(row.internet_message_id)
        email_state.chosen_ignore(row)
    if choices:  # one executemany, not a statement per choice
        session.execute(insert(IgnoredEmail), choices)
    session.flush()
    return list(rows), tuple(sorted({row.mailbox_id for row in rows}))
