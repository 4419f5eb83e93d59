"""What the Sync History's buttons do: Save (every selected Ignore Email, Ignore Address and
Ignore Domain at once) and Retry now. The rules and re-evaluation are the core's
(`mailferry.ignoring`, `mailferry.email_state`); this module reads the form, commits, and
enqueues the mailbox syncs by job name (the server never imports the worker)."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Iterable

import redis
from sqlalchemy import and_, select
from sqlalchemy.orm import Session

from mailferry import email_state, ignoring
from mailferry.db import utcnow
from mailferry.job_queue import enqueue_sync
from mailferry.models import Message
from server.extensions import read_db, redis_client
from server.request_limits import ids_from

log = logging.getLogger(__name__)
#: Values and errors a Save's notices name one by one: the notices travel in the session
#: cookie, which browsers drop beyond 4 KB (a Save of 1,000 values would sign nobody out,
#: but its notices would vanish).
SHOWN_VALUES = 10


@dataclass
class SaveResult:
    emails: int = 0
    added: list[str] = field(default_factory=list)
    already: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    queued: bool = True

    def messages(self) -> Iterable[tuple[str, str]]:
        if self.emails:
            yield "success", f"Ignored {self.emails} email{'s' if self.emails != 1 else ''}: never synced."
        if self.added:
            yield "success", ("Added to your Ignore List: " + _listed(self.added)
                              + ". Their emails are checked again now and leave the Unresolved tab.")
        if self.already:
            yield "info", "Already on your Ignore List: " + _listed(self.already) + "."
        for error in self.errors[:SHOWN_VALUES]:
            yield "error", f"Not added: {error}."
        if len(self.errors) > SHOWN_VALUES:
            yield "error", f"{len(self.errors) - SHOWN_VALUES:,} more were not added for the same kinds of reasons."
        if not (self.emails or self.added or self.already or self.errors):
            yield "warning", "Nothing was selected: tick Ignore Email, Ignore Address or Ignore Domain, then Save."
        if not self.queued:
            yield "warning", "The sync service did not answer; your changes are saved and apply at its next run."


def _listed(values: list[str]) -> str:
    shown = ", ".join(values[:SHOWN_VALUES])
    return shown if len(values) <= SHOWN_VALUES else f"{shown} and {len(values) - SHOWN_VALUES:,} more"


def _distinct(values: list[str]) -> list[str]:
    seen, kept = set(), []
    for value in values:
        value = value.strip()
        if value and value not in seen:
            seen.add(value)
            kept.append(value)
    return kept


def save_selection(session: Session, account, form) -> SaveResult:
    """Apply the selection. Ids are parsed first (a malformed one is a 400, nothing done);
    the Ignore Email choices are committed, then the new entries, each in a short write
    transaction; then the user's emails are re-evaluated once for all the entries: read
    through the read-only session, decided, and changed in short batches."""
    result = SaveResult()
    now = utcnow()
    mailboxes: set[int] = set()
    message_ids = ids_from(_distinct(form.getlist("ignore_email")), "ignore_email", Message.id)
    rows, changed = ignoring.ignore_emails(session, account.id, message_ids, "history", now)
    result.emails = len(rows)
    mailboxes.update(changed)
    session.commit()  # its own short write transaction
    texts = [(value, kind) for kind, field_name in (("address", "ignore_address"), ("domain", "ignore_domain"))
             for value in _distinct(form.getlist(field_name))]
    added = ignoring.add_entries(session, account.id, account.tenant_id, texts, "history", now,
                                 commit=session.commit, reader=read_db())
    for entry in added.results:
        if entry.error:
            result.errors.append(entry.error)
        elif entry.created:
            result.added.append(entry.entry.value)
        else:
            result.already.append(entry.entry.value)
    mailboxes.update(added.mailbox_ids)
    session.commit()
    result.queued = enqueue_syncs(mailboxes)
    return result


def enqueue_syncs(mailbox_ids: Iterable[int]) -> bool:
    """Queue a sync of each mailbox; False when Redis did not answer (the scheduler finds
    the due rows on its own within a minute, so nothing is lost)."""
    try:
        for mailbox_id in sorted(mailbox_ids):
            enqueue_sync(redis_client(), mailbox_id)
        return True
    except redis.RedisError as error:
        log.warning("could not queue syncs: %s", error)
        return False


def retry_now(session: Session, user_id: int, message_id: int | None) -> int:
    """"Retry now": the user's Unresolved emails (or the one given) are due at once and
    their mailboxes' syncs queued; returns how many emails (0: none of theirs, nothing
    queued)."""
    theirs = [Message.user_id == user_id] + ([Message.id == message_id] if message_id is not None else [])
    mailboxes = set(session.execute(
        select(Message.mailbox_id).where(*theirs, Message.status == email_state.UNRESOLVED).distinct()).scalars())
    count = email_state.due_now(session, and_(*theirs), utcnow())
    session.commit()
    if count:
        enqueue_syncs(mailboxes)
    return count
