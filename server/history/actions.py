"""What the Sync History's buttons do: Save (every selected Ignore Email, Ignore Address and
Ignore Domain at once) and Retry now. The rules and re-evaluation are the core's
(`mailferry.ignoring`); this module reads the form, commits, and enqueues the work by job
name (the server never imports the worker)."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Iterable

import redis
from rq import Queue
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from mailferry import ignoring
from mailferry.db import utcnow
from mailferry.job_queue import SYNC_QUEUE, enqueue_once, enqueue_sync
from mailferry.models import Message
from server.extensions import redis_client

log = logging.getLogger(__name__)
#: Most boxes one Save applies (a page holds 50 rows; a tampered form gets no more).
MAX_SELECTED = 1000
RETRY_JOB = "worker.jobs.retry_now"


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
            yield "success", ("Added to your Ignore List: " + ", ".join(self.added)
                              + ". Their emails are checked again now and leave the Unresolved tab.")
        if self.already:
            yield "info", "Already on your Ignore List: " + ", ".join(self.already) + "."
        for error in self.errors:
            yield "error", f"Not added: {error}."
        if not (self.emails or self.added or self.already or self.errors):
            yield "warning", "Nothing was selected: tick Ignore Email, Ignore Address or Ignore Domain, then Save."
        if not self.queued:
            yield "warning", "The sync service did not answer; your changes are saved and apply at its next run."


def _distinct(values: list[str]) -> list[str]:
    seen, kept = set(), []
    for value in values[:MAX_SELECTED]:
        value = value.strip()
        if value and value not in seen:
            seen.add(value)
            kept.append(value)
    return kept


def save_selection(session: Session, account, form) -> SaveResult:
    result = SaveResult()
    now = utcnow()
    mailboxes: set[int] = set()
    message_ids = [int(v) for v in _distinct(form.getlist("ignore_email")) if v.isdigit()]
    rows, changed = ignoring.ignore_emails(session, account.id, message_ids, "history", now)
    result.emails = len(rows)
    mailboxes.update(changed)
    for kind, field_name in (("address", "ignore_address"), ("domain", "ignore_domain")):
        for value in _distinct(form.getlist(field_name)):
            added = ignoring.add_entry(session, account.id, account.tenant_id, value, "history", now,
                                       kind=kind)
            if added.error:
                result.errors.append(added.error)
            elif added.created:
                result.added.append(added.entry.value)
                mailboxes.update(added.mailbox_ids)
            else:
                result.already.append(added.entry.value)
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
    """Queue `worker.jobs.retry_now` for the user's Unresolved emails (or the one given);
    returns how many emails it will retry (0: none of theirs, nothing queued)."""
    query = select(func.count()).select_from(Message).where(
        Message.user_id == user_id, Message.status == "unresolved"
    )
    if message_id is not None:
        query = query.where(Message.id == message_id)
    count = session.execute(query).scalar_one()
    if not count:
        return 0
    connection = redis_client()
    if message_id is None:
        enqueue_once(connection, SYNC_QUEUE, RETRY_JOB, user_id, None, job_id=f"retry-now-user-{user_id}")
    else:
        Queue(SYNC_QUEUE, connection=connection).enqueue(RETRY_JOB, user_id, [message_id])
    return count
