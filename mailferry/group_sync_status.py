"""Why the last read of a tenant's app-only group failed (Graph refused it, Entra refused
the app), for the admin's app-only page; kept in Redis beside the queues because it is a
passing status, not data: losing it only hides the message until the next run."""

from __future__ import annotations

from redis import Redis

# As long as a few membership runs: a failure that is no longer repeated fades.
KEEP_SECONDS = 6 * 3600


def _key(tenant_id: int) -> str:
    return f"mailferry:group-sync:{tenant_id}:failure"


def note_failure(redis: Redis, tenant_id: int, message: str) -> None:
    redis.set(_key(tenant_id), message[:2000], ex=KEEP_SECONDS)


def clear(redis: Redis, tenant_id: int) -> None:
    redis.delete(_key(tenant_id))


def last_failure(redis: Redis, tenant_id: int) -> str | None:
    value = redis.get(_key(tenant_id))
    return value.decode() if value else None
