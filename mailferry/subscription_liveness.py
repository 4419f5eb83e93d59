"""When the webhook last accepted a genuine change notification for each Graph subscription:
the sign that Graph still knows it, read by `worker.subscriptions.recover_silent`; and when a
run last found a change no notification announced. Together they say whether a mailbox's
notifications are flowing (`flowing`), which lets polling slow to a safety net (SPEC 15):
the scheduler polls such a mailbox hourly (`worker.maintenance`), and its runs fetch only the
folders something was announced for (`worker.subscriptions.to_fetch`).

Kept in Redis, not the database: the webhook already talks to Redis to enqueue the sync, and
must answer Graph within 3 seconds, which a database write waiting on the worker's lock
(SQLite) could miss. It is only a hint: losing it (a Redis flush) costs at most one
`GET /subscriptions/{id}` per subscription. Each key expires after Graph's longest message
subscription lifetime (10,080 minutes, reference §1.8), so forgotten subscriptions leave
nothing behind.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Protocol, Sequence

from redis import Redis

KEEP_SECONDS = 10_080 * 60
# With notifications flowing, each folder is still fetched this often (SPEC 15's "e.g.
# hourly"): the poll that finds a change nobody announced, and so a silently dropped
# subscription, within the hour.
SAFETY_NET_POLL = timedelta(hours=1)
# Flowing also means heard from lately: a mailbox whose subscriptions have said nothing for a
# day (new ones never heard from, or a Redis that lost these keys) is polled at the user's
# Sync Frequency again until a notification proves the webhook's path.
QUIET_LIMIT = timedelta(hours=24)


class Watched(Protocol):
    """A mailbox as `flowing` reads it (`mailferry.models.Mailbox`, folders and subscriptions loaded)."""
    id: int
    folders: Sequence
    subscriptions: Sequence


def _key(subscription_id: int) -> str:
    return f"mailferry:subscription:{subscription_id}:notified"


def _unannounced_key(subscription_id: int) -> str:
    return f"mailferry:subscription:{subscription_id}:unannounced"


def heard(redis: Redis, subscription_ids: Iterable[int], at: datetime) -> None:
    """Graph notified through these subscriptions (our row ids) at `at`."""
    pipe = redis.pipeline(transaction=False)
    for subscription_id in set(subscription_ids):
        pipe.set(_key(subscription_id), at.timestamp(), ex=KEEP_SECONDS)
    pipe.execute()


def last_heard(redis: Redis, subscription_id: int) -> datetime | None:
    return _time(redis.get(_key(subscription_id)))


def last_heard_of(redis: Redis, subscription_ids: Sequence[int]) -> dict[int, datetime | None]:
    """`last_heard` of several subscriptions, in one read."""
    if not subscription_ids:
        return {}
    return dict(zip(subscription_ids, map(_time, redis.mget([_key(i) for i in subscription_ids]))))


def unannounced(redis: Redis, subscription_id: int, modified: datetime) -> None:
    """A run found a change made at `modified` in the subscription's folder that no
    notification announced, or the subscription replaces one that went silent
    (`worker.subscriptions.recover_silent`): its notifications count as stopped until one is
    heard after `modified`."""
    redis.set(_unannounced_key(subscription_id), modified.timestamp(), ex=KEEP_SECONDS)


def flowing(redis: Redis, mailboxes: Sequence[Watched], now: datetime) -> set[int]:
    """The ids of the mailboxes whose change notifications are flowing: every folder has an
    unexpired subscription, one of them was heard from within `QUIET_LIMIT`, and none has a
    change found unannounced (`unannounced`) since it was last heard from. One Redis read for
    all of them."""
    watched = [m for m in mailboxes if m.subscriptions and _covered(m, now)]
    ids = [s.id for m in watched for s in m.subscriptions]
    if not ids:
        return set()
    raw = redis.mget([key for i in ids for key in (_key(i), _unannounced_key(i))])
    stamps = {i: (_time(raw[2 * n]), _time(raw[2 * n + 1])) for n, i in enumerate(ids)}
    result = set()
    for mailbox in watched:
        heard = [stamps[s.id][0] for s in mailbox.subscriptions]
        silent = any(missed is not None and (last is None or last <= missed)
                     for last, missed in (stamps[s.id] for s in mailbox.subscriptions))
        latest = max((h for h in heard if h is not None), default=None)
        if not silent and latest is not None and latest >= now - QUIET_LIMIT:
            result.add(mailbox.id)
    return result


def _covered(mailbox: Watched, now: datetime) -> bool:
    live = {s.resource for s in mailbox.subscriptions if s.expires_at > now}
    return all(folder.graph_folder_id in live for folder in mailbox.folders)


def _time(raw) -> datetime | None:
    return None if raw is None else datetime.fromtimestamp(float(raw), UTC)
