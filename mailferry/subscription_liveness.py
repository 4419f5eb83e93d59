"""When the webhook last accepted a genuine change notification for each Graph subscription:
the sign that Graph still knows it, read by `worker.subscriptions.recover_silent`.

Kept in Redis, not the database: the webhook already talks to Redis to enqueue the sync, and
must answer Graph within 3 seconds, which a database write waiting on the worker's lock
(SQLite) could miss. It is only a hint: losing it (a Redis flush) costs at most one
`GET /subscriptions/{id}` per subscription. Each key expires after Graph's longest message
subscription lifetime (10,080 minutes, reference §1.8), so forgotten subscriptions leave
nothing behind.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime

from redis import Redis

KEEP_SECONDS = 10_080 * 60


def _key(subscription_id: int) -> str:
    return f"mailferry:subscription:{subscription_id}:notified"


def heard(redis: Redis, subscription_ids: Iterable[int], at: datetime) -> None:
    """Graph notified through these subscriptions (our row ids) at `at`."""
    pipe = redis.pipeline(transaction=False)
    for subscription_id in set(subscription_ids):
        pipe.set(_key(subscription_id), at.timestamp(), ex=KEEP_SECONDS)
    pipe.execute()


def last_heard(redis: Redis, subscription_id: int) -> datetime | None:
    raw = redis.get(_key(subscription_id))
    return None if raw is None else datetime.fromtimestamp(float(raw), UTC)
