"""`mailferry secrets rotate`: every sealed value in the database re-sealed under the newest
key of MAILFERRY_ENCRYPTION_KEYS, so that the older keys can be removed.

What is sealed (`SEALED`): connection tokens and MSAL token caches (`connections`),
Graph subscription client states (`subscriptions`) and the bodies of emails still waiting
for their final write (`messages.body_text`, a Fernet token kept as text). Bodies stored in
plain text before bodies were sealed are sealed on the way: upgrading runs this command once
(docs/operations.md), so no reader has to accept plain bodies.

The pass walks each table by id, a batch at a time: the batch is read in one short
transaction, re-sealed outside any, and written in another, each row only if it still holds
what was read (a worker that refreshed a token meanwhile sealed it under the newest key
already, and its write wins). A value the newest key already opens is left as it is, so a
second run changes nothing. A second, read-only pass then checks that the newest key alone
opens everything: a host still running without the new key may have sealed something under
an older one during the first pass, and the older keys may go only when none is left.

OAuth flows of sign-ins in progress are sealed in Redis, not here; they expire after ten
minutes (server/oauth_flows.py), which is why the report asks that every host has had the
new key first for that long.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

from sqlalchemy import select, update
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from mailferry.crypto import SecretBox, SecretUnreadable, key_fingerprint, looks_sealed
from mailferry.db import make_session_factory
from mailferry.models import Connection, Message, Subscription

BATCH_SIZE = 500
#: Minutes a sign-in's sealed OAuth flow lives in Redis (server/oauth_flows.py FLOW_TTL_SECONDS).
FLOW_MINUTES = 10


@dataclass(frozen=True)
class Sealed:
    """One column that holds sealed values."""

    what: str
    model: type
    column: str
    as_text: bool  # a Text column holding the token as text (bodies), else binary


SEALED = (
    Sealed("connection tokens and MSAL token caches", Connection, "sealed_secrets", as_text=False),
    Sealed("subscription client states", Subscription, "sealed_client_state", as_text=False),
    Sealed("email bodies", Message, "body_text", as_text=True),
)


@dataclass(frozen=True)
class _Sessions:
    read: sessionmaker[Session]
    write: sessionmaker[Session]


@dataclass
class Tally:
    resealed: int = 0
    current: int = 0  # the newest key already opened it
    plain_sealed: int = 0  # a body stored before bodies were sealed
    unreadable: list[int] = field(default_factory=list)  # ids no key opens


@dataclass
class Report:
    keys: tuple[str, ...]
    tallies: dict[str, Tally]
    left_behind: int  # not under the newest key at the check after the pass

    @property
    def unreadable(self) -> int:
        return sum(len(t.unreadable) for t in self.tallies.values())

    @property
    def old_keys_removable(self) -> bool:
        return self.unreadable == 0 and self.left_behind == 0

    def lines(self) -> list[str]:
        lines = [f"Re-sealed under the newest key (key 1 of MAILFERRY_ENCRYPTION_KEYS, "
                 f"fingerprint {key_fingerprint(self.keys[0])}):"]
        for what, tally in self.tallies.items():
            line = f"  {what}: {tally.resealed} re-sealed, {tally.current} already under it"
            if tally.plain_sealed:
                line += f", {tally.plain_sealed} stored in plain text before, now sealed"
            if tally.unreadable:
                line += f", {len(tally.unreadable)} open with no key (ids {_ids(tally.unreadable)})"
            lines.append(line)
        old = ", ".join(f"key {n} (fingerprint {key_fingerprint(key)})" for n, key in enumerate(self.keys[1:], 2))
        if self.unreadable:
            lines.append(f"{self.unreadable} stored values open with none of the keys (a key removed too early, or "
                         "the data altered): keep every key; those users reconnect to store new tokens.")
        elif self.left_behind:
            lines.append(f"{self.left_behind} values were sealed under an older key during the pass: a host still "
                         "runs without the newest key first. Give it the new MAILFERRY_ENCRYPTION_KEYS, restart it, "
                         "and run `mailferry secrets rotate` again; keep the older keys until then.")
        elif not old:
            lines.append("Every stored secret opens with the newest key. MAILFERRY_ENCRYPTION_KEYS holds no older key.")
        else:
            lines.append("Every stored secret opens with the newest key alone. The older keys can now be removed from "
                         f"MAILFERRY_ENCRYPTION_KEYS: {old}. Remove them once every host has run with the new key "
                         f"first for {FLOW_MINUTES} minutes (a sign-in in progress holds its flow, sealed, in Redis "
                         "that long), then restart the web, worker and scheduler processes.")
        return lines


def rotate(engine: Engine, box: SecretBox, batch_size: int = BATCH_SIZE,
           after_batch: Callable[[], None] | None = None) -> Report:
    """Re-seal every sealed value under `box`'s newest key, then check that the newest key
    alone opens them all. `after_batch` runs between batches (tests use it to write in between)."""
    sessions = _Sessions(make_session_factory(engine, read_only=True), make_session_factory(engine))
    tallies = {sealed.what: _rotate_column(sessions, box, sealed, batch_size, after_batch) for sealed in SEALED}
    left_behind = sum(_count_not_current(sessions, box, sealed, batch_size) for sealed in SEALED)
    return Report(box.keys, tallies, left_behind)


def _rotate_column(sessions, box: SecretBox, sealed: Sealed, batch_size: int, after_batch) -> Tally:
    tally, last_id = Tally(), 0
    while batch := _read_batch(sessions, sealed, last_id, batch_size):
        last_id = batch[-1][0]
        changes = [(row_id, stored, new) for row_id, stored in batch
                   if (new := _resealed(box, sealed, row_id, stored, tally)) is not None]
        with sessions.write.begin() as session:
            for row_id, stored, new in changes:
                column = getattr(sealed.model, sealed.column)
                session.execute(update(sealed.model).where(sealed.model.id == row_id, column == stored)
                                .values({sealed.column: new}).execution_options(synchronize_session=False))
        if after_batch is not None:
            after_batch()
    return tally


def _resealed(box: SecretBox, sealed: Sealed, row_id: int, stored, tally: Tally):
    """The new stored value, or None when the row stays as it is (counted in `tally`)."""
    if sealed.as_text and not looks_sealed(stored):
        tally.plain_sealed += 1
        return box.seal_text(stored)
    token = stored.encode("ascii") if sealed.as_text else bytes(stored)
    if box.sealed_with_newest(token):
        tally.current += 1
        return None
    try:
        new = box.reseal(token)
    except SecretUnreadable:
        tally.unreadable.append(row_id)
        return None
    tally.resealed += 1
    return new.decode("ascii") if sealed.as_text else new


def _count_not_current(sessions, box: SecretBox, sealed: Sealed, batch_size: int) -> int:
    count, last_id = 0, 0
    while batch := _read_batch(sessions, sealed, last_id, batch_size):
        last_id = batch[-1][0]
        for _, stored in batch:
            token = stored.encode("ascii") if sealed.as_text else bytes(stored)
            count += not box.sealed_with_newest(token)
    return count


def _read_batch(sessions, sealed: Sealed, after_id: int, batch_size: int) -> list[tuple]:
    column = getattr(sealed.model, sealed.column)
    with sessions.read() as session:  # a plain BEGIN on SQLite: others keep writing meanwhile
        rows = session.execute(
            select(sealed.model.id, column).where(sealed.model.id > after_id, column.is_not(None))
            .order_by(sealed.model.id).limit(batch_size)
        ).all()
    return [tuple(row) for row in rows]


def _ids(ids: list[int]) -> str:
    shown = ", ".join(str(i) for i in ids[:10])
    return shown + (f" and {len(ids) - 10} more" if len(ids) > 10 else "")


__all__ = ["SEALED", "Report", "rotate"]
