"""The fetch stage: Graph delta pages per folder → stored messages with work to do.

A message seen for the first time becomes a `pending` row (operation create). A message
seen again with a change that matters (categories, participants) gets operation update; one
removed from its folder gets operation delete, unless it reappears in another synced folder
in the same run (a move is not a delete). Rows are unique per mailbox and Internet
Message-ID, so a page fetched twice (a crash, an expired cursor's resync) changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Callable

from sqlalchemy import select
from sqlalchemy.orm import Session

from mailferry.models import Mailbox, MailboxFolder, Message
from mailferry.provider_errors import ErrorKind, ProviderError
from worker.microsoft.messages import GraphMessage

PAGE_SIZE = 100
SENT_FOLDER = "sentitems"
# A cursor that expires again right after a resync means something else is wrong.
MAX_RESYNCS_PER_RUN = 1


@dataclass
class FetchCounts:
    pages: int = 0
    created: int = 0
    updated: int = 0
    removed: int = 0
    resyncs: int = 0


def ensure_folders(session: Session, mailbox: Mailbox, graph, user_ref: str, wanted: tuple[str, ...]) -> list[MailboxFolder]:
    """The mailbox's synced folders, resolving well-known names to Graph ids once."""
    known = {f.well_known_name: f for f in mailbox.folders if f.well_known_name}
    for name in wanted:
        if name not in known:
            folder = graph.folder(user_ref, name)
            row = MailboxFolder(
                mailbox_id=mailbox.id,
                graph_folder_id=folder["id"],
                well_known_name=name,
                display_name=folder.get("displayName", name),
            )
            session.add(row)
            mailbox.folders.append(row)
            known[name] = row
    session.flush()
    return [known[name] for name in wanted]


def fetch_folder(
    session: Session,
    mailbox: Mailbox,
    folder: MailboxFolder,
    graph,
    user_ref: str,
    own_addresses: frozenset[str],
    now: datetime,
    backfill_days: int,
    window_days: int,
    checkpoint: Callable[[], None],
    counts: FetchCounts,
) -> None:
    """Follow the folder's delta from its stored cursor to a new deltaLink, storing every page.

    `checkpoint` commits after each page, so a crash resumes from the last stored link.
    """
    link = folder.delta_link
    resyncs = 0
    while True:
        since = None if link else now - timedelta(days=backfill_days)
        try:
            page = graph.delta(user_ref, folder.graph_folder_id, link, received_since=since, page_size=PAGE_SIZE)
        except ProviderError as error:
            if error.kind != ErrorKind.CURSOR or resyncs >= MAX_RESYNCS_PER_RUN:
                raise
            # The cursor expired: start over. Stored rows are unique per message, so the
            # messages Graph sends again are recognised, not duplicated.
            resyncs += 1
            counts.resyncs += 1
            link = folder.delta_link = None
            checkpoint()
            continue
        counts.pages += 1
        store_page(session, mailbox, folder, page, own_addresses, now, window_days, counts)
        if page.next_link:
            link = folder.delta_link = page.next_link
        else:
            folder.delta_link = page.delta_link
            folder.last_synced_at = now
            checkpoint()
            return
        checkpoint()


def store_page(session, mailbox, folder, page, own_addresses, now, window_days, counts: FetchCounts) -> None:
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
            if row.pending_operation != "create":
                row.pending_operation = "delete"
            counts.removed += 1
    session.flush()


def message_key(message) -> str:
    """The Internet Message-ID, or a stable stand-in for the rare message without one."""
    return (message.internet_message_id or "").strip() or f"<graph-{message.id}@mailferry.invalid>"


def participants_of(message: GraphMessage) -> list[dict]:
    people = []
    if message.originator is not None:
        people.append({"role": "from", "address": message.originator.address, "name": message.originator.name})
    for role, group in (("to", message.to), ("cc", message.cc), ("bcc", message.bcc)):
        people += [{"role": role, "address": p.address, "name": p.name} for p in group]
    return people


def direction_of(folder: MailboxFolder, message: GraphMessage, own_addresses: frozenset[str]) -> str:
    if folder.well_known_name == SENT_FOLDER:
        return "outgoing"
    if folder.well_known_name == "inbox":
        return "incoming"
    sender = message.originator.address if message.originator else ""
    return "outgoing" if sender.strip().lower() in own_addresses else "incoming"


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
    return Message(
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
        body_text=message.body_text,
        status="pending",
        pending_operation="create",
        first_seen_at=now,
        expires_at=now + timedelta(days=window_days),
    )


def _apply_change(row: Message, folder: MailboxFolder, message) -> bool:
    """Take in a message seen again; True when the change matters for its outcome."""
    row.graph_id = message.id
    row.folder = folder.well_known_name
    if row.pending_operation == "delete":
        row.pending_operation = None  # it moved to another synced folder: not a delete
    participants = participants_of(message)
    categories = list(message.categories)
    if participants == row.participants and sorted(categories) == sorted(row.categories or []):
        return False
    row.participants = participants
    row.categories = categories
    row.to_cc = _to_cc(participants)
    if message.body_text is not None:
        row.body_text = message.body_text
    if row.pending_operation != "create":
        row.pending_operation = "update"
    return True


def _to_cc(participants: list[dict]) -> str:
    shown = [p["address"] for p in participants if p["role"] in ("to", "cc") and p["address"]]
    return ", ".join(shown)[:4000]
