"""The fetch stage: Graph delta pages per folder → stored messages with work to do.

A message seen for the first time becomes a `pending` row (operation create). A message
seen again with a change that matters (categories, participants) gets operation update; one
removed from its folder gets operation delete only once Graph confirms it is gone: deleted,
or in Deleted Items. One that Graph still has in another folder was moved, and keeps its
Task: with immutable ids a message moved out and back may raise no notification for the
move back (a Graph known issue), and deleting its Task on the way out would lose it. Rows
are unique per mailbox and Internet Message-ID, so a page fetched twice (a crash, an expired
cursor's resync) changes nothing.

A backfill asks delta for the mail received since the window's start; Graph returns at most
5,000 messages for a delta with `$filter` (reference §1.7). A first round that brings that
many is completed from the folder's message list (`_fill_window`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Callable

from sqlalchemy import select
from sqlalchemy.orm import Session

from mailferry import email_state
from mailferry.db import utcnow
from mailferry import message_facts as facts
from mailferry.message_facts import stored
from mailferry.models import Mailbox, MailboxFolder, Message
from mailferry.provider_errors import ProviderError
from worker import failures, subscriptions
from worker.failures import Response, Stage
from worker.microsoft.graph import FILTERED_DELTA_LIMIT, DeltaPage, DeltaRequest
from worker.microsoft.messages import GraphMessage
from worker.runtime import runtime

log = logging.getLogger(__name__)
# Large pages keep a backfill to a few calls per thousand emails (Graph caps pages at 1,000).
PAGE_SIZE = 500
SENT_FOLDER = "sentitems"
WELL_KNOWN_FOLDERS = ("inbox", "sentitems", "deleteditems", "archive", "junkemail")
# A cursor that expires again right after a resync means something else is wrong.
MAX_RESYNCS_PER_RUN = 1


@dataclass
class FetchCounts:
    rounds: int = 0  # delta rounds: one $batch call each
    created: int = 0
    updated: int = 0
    removed: int = 0
    resyncs: int = 0
    listed: int = 0  # messages read from a folder's list where a filtered delta stopped short
    kept: int = 0  # removed from a folder, but Graph still has them elsewhere: not deletes


def ensure_folders(session: Session, mailbox: Mailbox, graph, user_ref: str, wanted: tuple[str, ...]) -> list[MailboxFolder]:
    """The mailbox's synced folders. Graph accepts a well-known name (`inbox`, `sentitems`)
    wherever it takes a folder id, so those cost no lookup; other folders are resolved once."""
    known = {f.well_known_name: f for f in mailbox.folders if f.well_known_name}
    # Graph first, rows after: no call is made with a write transaction open.
    resolved = {name: {"id": name, "displayName": name} if name in WELL_KNOWN_FOLDERS else graph.folder(user_ref, name)
                for name in wanted if name not in known}
    for name, folder in resolved.items():
        row = MailboxFolder(mailbox_id=mailbox.id, graph_folder_id=folder["id"], well_known_name=name,
                            display_name=folder.get("displayName", name))
        session.add(row)
        mailbox.folders.append(row)
        known[name] = row
    session.flush()
    return [known[name] for name in wanted]


def fetch_folders(
    session: Session,
    mailbox: Mailbox,
    folders: list[MailboxFolder],
    graph,
    user_ref: str,
    own_addresses: frozenset[str],
    now: datetime,
    backfill_days: int,
    window_days: int,
    checkpoint: Callable[[], None],
    counts: FetchCounts,
) -> dict[int, datetime]:
    """Follow every folder's delta from its stored cursor to a new deltaLink, all folders'
    next pages in one `$batch` per round, storing every page.

    While the mailbox's notifications flow, only the folders something was announced for
    are fetched (`worker.subscriptions.to_fetch`). `checkpoint` commits after each round, so
    a crash resumes from the last stored links. Returns, per folder row id, the newest `lastModifiedDateTime` among the messages the
    delta returned (folders with none are left out): what its subscription should have
    announced (`worker.subscriptions.recover_silent`).
    """
    folders = subscriptions.to_fetch(runtime().redis, mailbox, folders, now)
    since = now - timedelta(days=backfill_days)
    links = {folder.id: folder.delta_link for folder in folders}
    resyncs = {folder.id: 0 for folder in folders}
    # Messages each folder's first (date-filtered) round has brought, while one is going.
    first_round = {folder.id: 0 for folder in folders if folder.delta_link is None}
    short: list[MailboxFolder] = []
    open_folders = list(folders)
    newest: dict[int, datetime] = {}
    while open_folders:
        wanted = [DeltaRequest(f.graph_folder_id, links[f.id], None if links[f.id] else since) for f in open_folders]
        # A folder's last_synced_at is when its final round was asked: changes (and subscriptions)
        # after it are in its next delta, which `to_fetch` compares notifications with.
        asked = utcnow()
        answers = graph.delta_many(user_ref, wanted, page_size=PAGE_SIZE)
        counts.rounds += 1
        elsewhere = _still_in_mailbox(session, mailbox, graph, user_ref, answers)
        still_open = []
        for folder, answer in zip(open_folders, answers):
            if isinstance(answer, ProviderError):
                resync = failures.response(answer, Stage.FETCH) == Response.RESYNC_FOLDER
                if not resync or resyncs[folder.id] >= MAX_RESYNCS_PER_RUN:
                    raise answer
                # The cursor expired: start over. Stored rows are unique per message, so the
                # messages Graph sends again are recognised, not duplicated.
                resyncs[folder.id] += 1
                counts.resyncs += 1
                links[folder.id] = folder.delta_link = None
                first_round[folder.id] = 0
                still_open.append(folder)
                continue
            store_page(session, mailbox, folder, answer, own_addresses, now, window_days, counts, elsewhere)
            if folder.id in first_round:
                first_round[folder.id] += len(answer.messages)
            stamps = [m.modified_at for m in answer.messages if m.modified_at is not None]
            if folder.id in newest:
                stamps.append(newest[folder.id])
            if stamps:
                newest[folder.id] = max(stamps)
            if answer.next_link:
                links[folder.id] = folder.delta_link = answer.next_link
                still_open.append(folder)
            else:
                folder.delta_link = answer.delta_link
                folder.last_synced_at = asked
                if first_round.pop(folder.id, 0) >= FILTERED_DELTA_LIMIT:
                    short.append(folder)
        checkpoint()
        open_folders = still_open
    for folder in short:
        _fill_window(session, mailbox, folder, graph, user_ref, since, own_addresses, now, window_days,
                     checkpoint, counts)
    return newest


def _fill_window(session, mailbox, folder, graph, user_ref, since, own_addresses, now, window_days,
                 checkpoint, counts: FetchCounts) -> None:
    """A filtered delta round stops at 5,000 messages and never sends the rest (its later
    rounds carry only changes): read the folder's mail of the window from its list, 1,000 a
    call, and store what the round left out (what it brought is recognised, not doubled).
    Changes to those messages come through the folder's delta from now on."""
    log.info("mailbox %s: folder %s: the backfill's delta stopped at %s messages; reading the rest "
             "from the folder's list", mailbox.id, folder.well_known_name, FILTERED_DELTA_LIMIT)
    for page in graph.messages_received_since(user_ref, folder.graph_folder_id, since):
        created = counts.created
        store_page(session, mailbox, folder, page, own_addresses, now, window_days, counts)
        counts.listed += counts.created - created
        checkpoint()


def _still_in_mailbox(session, mailbox, graph, user_ref, answers) -> frozenset[str]:
    """Of the messages a round reports removed that we hold, those Graph still has in a
    folder other than Deleted Items: moved, not deleted. One `$batch` for up to 19 of them,
    asked only when a round reports removals of stored messages (rare: no cost otherwise)."""
    removed = {m for answer in answers if isinstance(answer, DeltaPage) for m in answer.removed_ids}
    if not removed:
        return frozenset()
    held = session.execute(
        select(Message.graph_id).where(Message.mailbox_id == mailbox.id, Message.graph_id.in_(removed))
    ).scalars().all()
    if not held:
        return frozenset()
    deleted_items, where = graph.locate(user_ref, sorted(set(held)))
    return frozenset(m for m, folder in where.items() if folder and folder != deleted_items)


def store_page(session, mailbox, folder, page, own_addresses, now, window_days, counts: FetchCounts,
               elsewhere: frozenset[str] = frozenset()) -> None:
    messages = [m for m in page.messages if not m.is_draft]
    keys = [message_key(m) for m in messages]
    existing = _rows_by_key(session, mailbox.id, keys)
    for message, key in zip(messages, keys):
        row = existing.get(key)
        if row is None:
            row = _new_row(mailbox, folder, message, key, own_addresses, now, window_days)
            session.add(row)
            existing[key] = row
            counts.created += 1
        elif _apply_change(row, folder, message):
            counts.updated += 1
    if page.removed_ids:
        removed = session.execute(
            select(Message).where(Message.mailbox_id == mailbox.id, Message.graph_id.in_(page.removed_ids))
        ).scalars().all()
        for row in removed:
            if row.graph_id in elsewhere:
                email_state.moved(row)
                counts.kept += 1
            else:
                email_state.removed(row)
                counts.removed += 1
    session.flush()


def message_key(message) -> str:
    """The Internet Message-ID, or a stable stand-in for the rare message without one."""
    return (message.internet_message_id or "").strip() or f"<graph-{message.id}@mailferry.invalid>"


def participants_of(message: GraphMessage) -> list[dict]:
    def people(group):
        return [(p.address, p.name) for p in group]

    sender = message.originator
    return stored(facts.participants_of(sender and (sender.address, sender.name), people(message.to),
                                        people(message.cc), people(message.bcc)))


def direction_of(folder: MailboxFolder, message: GraphMessage, own_addresses: frozenset[str]) -> str:
    """Sent Items is outgoing and the Inbox incoming whoever sent it (a delegate, an alias);
    elsewhere, the sender tells."""
    if folder.well_known_name == SENT_FOLDER:
        return "outgoing"
    if folder.well_known_name == "inbox":
        return "incoming"
    sender = message.originator.address if message.originator else None
    return facts.direction_of(sender, own_addresses).value


def _rows_by_key(session: Session, mailbox_id: int, keys: list[str]) -> dict[str, Message]:
    if not keys:
        return {}
    rows = session.execute(
        select(Message).where(Message.mailbox_id == mailbox_id, Message.internet_message_id.in_(set(keys)))
    ).scalars()
    return {row.internet_message_id: row for row in rows}


def _new_row(mailbox, folder, message, key, own_addresses, now, window_days) -> Message:
    participants = participants_of(message)
    sender = message.originator
    return email_state.seen(
        tenant_id=mailbox.tenant_id,
        user_id=mailbox.user_id,
        mailbox_id=mailbox.id,
        graph_id=message.id,
        internet_message_id=key,
        conversation_id=message.conversation_id,
        folder=folder.well_known_name,
        direction=direction_of(folder, message, own_addresses),
        subject=message.subject or "",
        from_address=sender.address if sender else None,
        from_name=sender.name if sender else None,
        to_cc=_to_cc(participants),
        participants=participants,
        sent_at=message.sent_at or message.received_at,
        categories=list(message.categories),
        body_text=_sealed_body(message.body_text),
        first_seen_at=now,
        expires_at=now + timedelta(days=window_days),
    )


def _apply_change(row: Message, folder: MailboxFolder, message) -> bool:
    """Take in a message seen again; True when the change matters for its outcome."""
    row.graph_id = message.id
    row.folder = folder.well_known_name
    email_state.moved(row)
    participants = participants_of(message)
    categories = list(message.categories)
    if participants == row.participants and sorted(categories) == sorted(row.categories or []):
        return False
    row.participants = participants
    row.categories = categories
    row.to_cc = _to_cc(participants)
    if message.body_text is not None:
        row.body_text = _sealed_body(message.body_text)
    email_state.changed(row)
    return True


def _sealed_body(text: str | None) -> str | None:
    """Bodies are sealed at rest like tokens (SPEC 13), with the process's key
    (worker/process.py opens them for the Task; email_state drops them at the final write)."""
    return None if text is None else runtime().box.seal_text(text)


def _to_cc(participants: list[dict]) -> str:
    shown = [p["address"] for p in participants if p["role"] in ("to", "cc") and p["address"]]
    return ", ".join(shown)[:4000]
