"""When a user's Ignore List changes, the emails it touches are decided again (SPEC section 4).

- Adding an address or domain re-evaluates the user's Unresolved rows at once, and drops
  the Unmatched Contacts/Leads rows it now covers: they leave both lists. An email the
  entry leaves nobody to look up is decided here and then (skipped, rule 7); the others
  are made due for the worker, which needs Salesforce to decide them.
- Removing an entry re-evaluates the emails of the attempt window that were skipped
  because nobody was left to look up.

Only rows are marked here; the caller enqueues the mailbox sync that decides them (the web
app by job name, the worker directly).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from mailferry.addresses import EntryList, ListEntry
from mailferry.decision import Outcome, decide
from mailferry.message_facts import facts_of
from mailferry.models import Mailbox, Message, UnmatchedAddress, User
from mailferry.user_context import decision_context


def after_entry_added(session: Session, user_id: int, entry: ListEntry, now: datetime) -> list[int]:
    """Make the user's Unresolved emails due now and remove the Unmatched rows the entry
    covers; returns the mailbox ids to sync."""
    covered = EntryList([entry])
    unmatched = session.execute(select(UnmatchedAddress).where(UnmatchedAddress.user_id == user_id)).scalars().all()
    gone = [row.id for row in unmatched if covered.matches(row.address)]
    if gone:
        session.execute(delete(UnmatchedAddress).where(UnmatchedAddress.id.in_(gone)))
    user = session.get(User, user_id)
    context = decision_context(session, user)
    for row in session.execute(
        select(Message).where(Message.user_id == user_id, Message.status == "unresolved")
    ).scalars():
        decision = decide(facts_of(row), context)
        if decision.outcome == Outcome.SKIPPED:
            row.status, row.reason, row.error_code, row.error_message = "skipped", decision.reason.value, None, None
            row.next_attempt_at = None
        else:
            row.next_attempt_at = now
    return _mailboxes(session, user_id)


def after_entry_removed(session: Session, user_id: int, entry: ListEntry, now: datetime) -> list[int]:
    """Decide again the skipped emails still inside their window that involve the entry;
    returns the mailbox ids to sync."""
    skipped = session.execute(
        select(Message).where(
            Message.user_id == user_id, Message.status == "skipped", Message.expires_at > now,
        )
    ).scalars().all()
    covered = EntryList([entry])
    for row in skipped:
        if any(covered.matches(p.get("address") or "") for p in row.participants or []):
            # Operation create: it never reached Salesforce, so nothing exists to update.
            row.pending_operation = "create"
    return _mailboxes(session, user_id)


def _mailboxes(session: Session, user_id: int) -> list[int]:
    return list(session.execute(select(Mailbox.id).where(Mailbox.user_id == user_id)).scalars())
