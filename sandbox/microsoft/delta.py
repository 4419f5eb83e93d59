"""Per-folder message delta (reference §1.7): opaque skip/delta tokens and the pages of a round.

A round covers the folder log's entries with sequence numbers in (lo, hi]; `hi` is fixed when
the round starts, so a message changed while the client pages appears in the next round, not
twice or never. Tokens carry the mailbox's world epoch and delta generation: a reset or
`/_sandbox/users/<upn>/delta/expire` makes them unknown → 410 SyncStateNotFound.
"""

from __future__ import annotations

import base64
import bisect
import json
from dataclasses import dataclass

from .errors import GraphError
from .mailstore import Mailbox, Message

CHANGE_TYPES = ("created", "updated", "deleted")
# "Applying $filter in a delta query returns only up to 5,000 messages." (docs-contrib
# concepts/delta-query-messages.md, "Use query parameters in a delta query for messages";
# reference §1.7). The docs say no more; the sandbox reads it as a cap on the round that
# returns the folder's current content (the first round, and a resync): once 5,000 messages
# are served the round ends with a deltaLink, and the messages it left out never come, as
# later rounds only carry changes. Which 5,000 is unspecified; here the oldest in the log.
FILTERED_ROUND_LIMIT = 5000


@dataclass
class Cursor:
    epoch: int
    generation: int
    user: str
    folder: str
    lo: int  # round covers sequence numbers above lo ...
    hi: int  # ... up to hi (-1: not started; fixed at the first page)
    after: int  # last sequence number already served in this round
    select: list[str] | None
    since: str | None  # "ge|<iso>" or "gt|<iso>": the receivedDateTime filter
    change_types: list[str]
    top: int | None
    served: int = 0  # messages served so far in a first round (for FILTERED_ROUND_LIMIT)

    def encode(self) -> str:
        raw = json.dumps(self.__dict__, separators=(",", ":")).encode()
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()

    @classmethod
    def decode(cls, token: str) -> "Cursor":
        try:
            raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
            return cls(**json.loads(raw))
        except (ValueError, TypeError) as exc:
            raise sync_state_not_found() from exc


def sync_state_not_found() -> GraphError:
    return GraphError(410, "SyncStateNotFound",
                      "The sync state generation is not found. Please restart synchronization.")


def check_cursor(cursor: Cursor, epoch: int, mailbox: Mailbox, folder_id: str) -> None:
    if (cursor.epoch, cursor.generation, cursor.user, cursor.folder) != (
            epoch, mailbox.delta_generation, mailbox.user.oid, folder_id):
        raise sync_state_not_found()


def page(mailbox: Mailbox, cursor: Cursor, size: int, keep) -> tuple[list, bool, int]:
    """Up to `size` entries of the round after `cursor.after`: ("u", Message) or ("r", id).

    Returns the entries, whether the round has more, and the last sequence number examined.
    Call with the store's lock held. `keep(message)` applies the receivedDateTime filter.
    """
    log = mailbox.log[cursor.folder]
    index = bisect.bisect_right(log, cursor.after, key=lambda entry: entry[0])
    out: list = []
    last = cursor.after
    initial = cursor.lo == 0
    capped = initial and cursor.since is not None
    while index < len(log) and log[index][0] <= cursor.hi and len(out) < size:
        if capped and cursor.served >= FILTERED_ROUND_LIMIT:
            return out, False, last  # the round ends here: the rest of the folder is never sent
        seq, mid, kind = log[index]
        index += 1
        last = seq
        if kind == "r":
            # The first round shows only what is there now: nothing was removed from it yet.
            if not initial and "deleted" in cursor.change_types:
                out.append(("r", mid))
            continue
        message: Message | None = mailbox.messages.get(mid)
        if message is None or message.folder_id != cursor.folder or message.version != seq:
            continue  # superseded by a later entry
        change = "created" if initial or message.entered > cursor.lo else "updated"
        if change in cursor.change_types and keep(message):
            out.append(("u", message))
            if capped:
                cursor.served += 1
    more = index < len(log) and log[index][0] <= cursor.hi
    if capped and cursor.served >= FILTERED_ROUND_LIMIT:
        more = False
    return out, more, last
