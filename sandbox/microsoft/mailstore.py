"""The tenant's mailboxes in memory: users, folders, messages, master categories, and the
per-folder change log that delta queries read.

Every change takes the store's lock, gives the message the mailbox's next sequence number and
appends `(seq, id, kind)` to the folder's log (`u` for created/updated, `r` for removed), so a
delta round is "log entries between two sequence numbers" — a bisect, not a scan. Listeners
(subscriptions) hear about each change after the lock is released.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import itertools
import pickle
import threading
import uuid
from dataclasses import dataclass, field
from typing import Callable

from ..world import Address, DemoUser, MailSpec, World

UTC = dt.timezone.utc
# Well-known folders every mailbox has: name → display name (reference §1.3).
FOLDERS = {
    "inbox": "Inbox", "sentitems": "Sent Items", "deleteditems": "Deleted Items",
    "drafts": "Drafts", "archive": "Archive", "junkemail": "Junk Email",
}


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii")


def _digest(*parts: str) -> bytes:
    return hashlib.sha256("|".join(parts).encode()).digest()


def message_id(oid: str, n: int) -> str:
    # Shaped like Exchange ids (AAMkA… base64 ending in '='), deterministic per mailbox + number.
    return "AAMkAG" + _b64(_digest(oid, str(n)) + _digest(str(n), oid)[:17])


def is_message_id(value: str) -> bool:
    return value.startswith("AAMkAG") and len(value) == _ID_LENGTH


_ID_LENGTH = len(message_id("", 0))


def folder_id(oid: str, name: str) -> str:
    return "AQMkAG" + _b64(_digest(oid, "folder", name)[:30]) + "AAAA"


@dataclass
class Folder:
    id: str
    name: str  # well-known name
    display_name: str


@dataclass
class Category:
    id: str
    display_name: str
    color: str


@dataclass
class Message:
    id: str
    folder_id: str
    internet_message_id: str
    conversation_id: str
    conversation_index: str
    subject: str
    body_text: str
    sender: Address | None
    to: tuple[Address, ...]
    cc: tuple[Address, ...]
    bcc: tuple[Address, ...]
    received: dt.datetime
    created: dt.datetime
    modified: dt.datetime
    categories: list[str]
    is_read: bool
    has_attachments: bool
    is_draft: bool = False
    importance: str = "normal"
    flag_status: str = "notFlagged"
    change_key: str = ""
    version: int = 0  # mailbox sequence number of the last change
    entered: int = 0  # sequence number when it entered its current folder
    left: set = field(default_factory=set)  # folders it was moved out of
    cache: dict = field(default_factory=dict)  # rendered JSON per body type, per version


@dataclass
class Mailbox:
    user: DemoUser
    folders: dict[str, Folder]
    by_name: dict[str, str]  # well-known name → folder id
    messages: dict[str, Message] = field(default_factory=dict)
    log: dict[str, list[tuple[int, str, str]]] = field(default_factory=dict)
    categories: list[Category] = field(default_factory=list)
    seq: int = 0
    created_count: int = 0
    delta_generation: int = 0

    def folder(self, ref: str) -> Folder | None:
        """A folder by id or by well-known name (case-insensitive)."""
        if ref in self.folders:
            return self.folders[ref]
        fid = self.by_name.get(ref.lower())
        return self.folders[fid] if fid else None


@dataclass(frozen=True)
class Change:
    """One change a listener hears: `scope` "folder" events go to folder subscriptions,
    "mailbox" events to whole-mailbox ones, "both" to either."""

    mailbox: Mailbox
    message_id: str
    folder_id: str
    change_type: str  # created | updated | deleted
    scope: str = "both"
    etag: str = ""


class MailStore:
    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.epoch = 0
        self.tenant_id = str(uuid.UUID(int=0))
        self.tenant_domain = "sandbox.invalid"
        self.tenant_name = "Empty sandbox"
        self.mailboxes: dict[str, Mailbox] = {}
        self._lookup: dict[str, str] = {}
        self.listeners: list[Callable[[list[Change]], None]] = []
        # Exchange application access policies: app id → (access right, mailbox oids).
        self.app_access_policies: dict[str, tuple[str, frozenset[str]]] = {}
        # Mailboxes emulating Graph's known issue with immutable ids: a message moved back
        # into a folder it left raises no change notification there.
        self.move_back_unannounced: set[str] = set()

    # -- loading ---------------------------------------------------------------------------
    def load(self, world: World) -> None:
        with self.lock:
            self.epoch += 1
            self.tenant_id, self.tenant_domain = world.tenant_id, world.tenant_domain
            self.tenant_name = world.tenant_name
            self.mailboxes, self._lookup = {}, {}
            self.app_access_policies, self.move_back_unannounced = {}, set()
            for user in world.users:
                self._add_mailbox(user, world.master_categories)
            # Oldest first, so sequence numbers follow arrival order as in a real mailbox.
            for spec in sorted(world.mails, key=lambda m: m.received):
                mailbox = self.mailbox(spec.user_upn)
                if mailbox is not None:
                    self._insert(mailbox, spec, notify=False)

    def dump(self) -> bytes:
        """The tenant and its mailboxes (messages, change logs, categories), for the state file."""
        with self.lock:
            return pickle.dumps((self.epoch, self.tenant_id, self.tenant_domain, self.tenant_name,
                                 self.mailboxes, self._lookup), protocol=pickle.HIGHEST_PROTOCOL)

    def restore(self, saved: bytes) -> None:
        with self.lock:
            (self.epoch, self.tenant_id, self.tenant_domain, self.tenant_name,
             self.mailboxes, self._lookup) = pickle.loads(saved)

    def _add_mailbox(self, user: DemoUser, categories: tuple[str, ...]) -> None:
        folders = {}
        for name, display in FOLDERS.items():
            folder = Folder(folder_id(user.oid, name), name, display)
            folders[folder.id] = folder
        mailbox = Mailbox(user, folders, {f.name: f.id for f in folders.values()})
        mailbox.log = {fid: [] for fid in folders}
        colors = itertools.cycle(["preset0", "preset4", "preset7", "preset9", "preset3"])
        mailbox.categories = [Category(str(uuid.UUID(bytes=_digest(user.oid, c)[:16])), c, next(colors))
                              for c in categories]
        self.mailboxes[user.oid] = mailbox
        for key in (user.oid, user.upn, *user.aliases):
            self._lookup[key.lower()] = user.oid

    # -- lookups ---------------------------------------------------------------------------
    def mailbox(self, ref: str) -> Mailbox | None:
        """A mailbox by user object id, UPN or alias (case-insensitive)."""
        oid = self._lookup.get(ref.lower())
        return self.mailboxes.get(oid) if oid else None

    def user(self, ref: str) -> DemoUser | None:
        mailbox = self.mailbox(ref)
        return mailbox.user if mailbox else None

    # -- changes ---------------------------------------------------------------------------
    def _stamp(self, mailbox: Mailbox, message: Message, now: dt.datetime) -> int:
        mailbox.seq += 1
        message.version = mailbox.seq
        message.modified = now
        message.change_key = "CQAAABYAAAC" + _b64(_digest(message.id, str(mailbox.seq)))[:20]
        message.cache = {}
        return mailbox.seq

    def _insert(self, mailbox: Mailbox, spec: MailSpec, notify: bool = True) -> Message:
        folder = mailbox.folder(spec.folder) or mailbox.folders[mailbox.by_name["inbox"]]
        mailbox.created_count += 1
        mid = message_id(mailbox.user.oid, mailbox.created_count)
        conversation_key = spec.conversation_key or spec.internet_message_id or mid
        received = spec.received.astimezone(UTC).replace(microsecond=0)
        message = Message(
            id=mid, folder_id=folder.id,
            internet_message_id=spec.internet_message_id or f"<{mid[6:30]}@{self.tenant_domain}>",
            conversation_id="AAQkAG" + _b64(_digest(mailbox.user.oid, "conv", conversation_key)),
            conversation_index=base64.b64encode(b"\x01" + _digest(conversation_key)[:21]).decode(),
            subject=spec.subject, body_text=spec.body_text, sender=spec.sender,
            to=tuple(spec.to), cc=tuple(spec.cc), bcc=tuple(spec.bcc), received=received,
            created=received, modified=received, categories=list(spec.categories),
            is_read=spec.is_read, has_attachments=spec.has_attachments,
        )
        seq = self._stamp(mailbox, message, received)
        message.entered = seq
        mailbox.messages[mid] = message
        mailbox.log[folder.id].append((seq, mid, "u"))
        return message

    def add_message(self, mailbox: Mailbox, spec: MailSpec) -> Message:
        with self.lock:
            message = self._insert(mailbox, spec)
            change = Change(mailbox, message.id, message.folder_id, "created", etag=message.change_key)
        self._notify([change])
        return message

    def update_message(self, mailbox: Mailbox, message: Message, changes: dict) -> Message:
        """Apply property changes (already validated) and log them; returns the message."""
        with self.lock:
            for name, value in changes.items():
                setattr(message, name, value)
            seq = self._stamp(mailbox, message, dt.datetime.now(UTC).replace(microsecond=0))
            mailbox.log[message.folder_id].append((seq, message.id, "u"))
            change = Change(mailbox, message.id, message.folder_id, "updated", etag=message.change_key)
        self._notify([change])
        return message

    def move_message(self, mailbox: Mailbox, message: Message, target: Folder) -> Message:
        """Move keeping the id (the sandbox behaves as if every caller asked for ImmutableId)."""
        with self.lock:
            old = message.folder_id
            if old == target.id:
                return message
            message.folder_id = target.id
            seq = self._stamp(mailbox, message, dt.datetime.now(UTC).replace(microsecond=0))
            message.entered = seq
            mailbox.log[old].append((seq, message.id, "r"))
            mailbox.log[target.id].append((seq, message.id, "u"))
            etag = message.change_key
            left = getattr(message, "left", None)
            if left is None:
                left = message.left = set()
            back = target.id in left
            left.add(old)
        changes = [Change(mailbox, message.id, old, "deleted", "folder", etag)]
        # Graph's known issue with immutable ids (issue 14 row 7; reference §4 item 9): a
        # message moved out of a folder and back may raise no change notification for the
        # move back. Emulated per mailbox on demand (`/_sandbox/users/<upn>/known-issues`);
        # the folder's delta still shows the message again.
        if not (back and mailbox.user.oid in self.move_back_unannounced):
            changes += [Change(mailbox, message.id, target.id, "created", "folder", etag),
                        Change(mailbox, message.id, target.id, "updated", "mailbox", etag)]
        self._notify(changes)
        return message

    def delete_message(self, mailbox: Mailbox, message: Message) -> None:
        with self.lock:
            mailbox.messages.pop(message.id, None)
            mailbox.seq += 1
            mailbox.log[message.folder_id].append((mailbox.seq, message.id, "r"))
            change = Change(mailbox, message.id, message.folder_id, "deleted", etag=message.change_key)
        self._notify([change])

    def add_master_category(self, mailbox: Mailbox, name: str, color: str) -> Category | None:
        """Add to the master list; None when the name exists already (compared case-insensitively,
        as Outlook does). Shared by Graph's POST and the simulated Outlook's Office.js call."""
        with self.lock:
            if self.master_category(mailbox, name) is not None:
                return None
            category = Category(str(uuid.uuid4()), name, color)
            mailbox.categories.append(category)
            return category

    def master_category(self, mailbox: Mailbox, name: str) -> Category | None:
        folded = name.casefold()
        with self.lock:
            return next((c for c in mailbox.categories if c.display_name.casefold() == folded), None)

    def expire_delta_tokens(self, mailbox: Mailbox) -> None:
        with self.lock:
            mailbox.delta_generation += 1

    def _notify(self, changes: list[Change]) -> None:
        for listener in self.listeners:
            listener(changes)
