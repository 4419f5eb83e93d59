"""One sync run per mailbox at a time, across every worker on the shared Redis.

The lock is a Redis key with a short expiry that a heartbeat thread renews while the run
goes on: if the worker dies (even by SIGKILL), the key expires within LOCK_TTL and another
worker may take the mailbox. Losing Redis loses the locks, never email: every stage is safe
to run twice.
"""

from __future__ import annotations

import threading
import uuid
from contextlib import contextmanager
from typing import Iterator

import redis

from mailferry.job_queue import mailbox_lock_key
from mailferry.timings import scaled

# 30 s, renewed every 10 s (MAILFERRY_TIMING_SCALE shortens both for tests: mailferry/timings.py).
LOCK_TTL_MS = round(scaled(30) * 1000)
RENEW_EVERY_SECONDS = scaled(10.0)

# Renew only if we still own it; delete only if we still own it.
_RENEW = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('pexpire', KEYS[1], ARGV[2]) else return 0 end"
_RELEASE = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end"


def lock_key(mailbox_id: int) -> str:
    # Named in the core: enqueueing reads it to tell a running sync from a dead one.
    return mailbox_lock_key(mailbox_id)


def is_locked(client: redis.Redis, mailbox_id: int) -> bool:
    return bool(client.exists(lock_key(mailbox_id)))


# A run that finds the mailbox locked leaves word here for the holder to run once more: with
# several workers, the follow-up job a notification queues behind a running sync
# (mailferry/job_queue.py) is taken by another worker at once and finds the lock held; were it
# only skipped, the change it announced would wait for the next poll. An hour outlives any run;
# a word left by a holder that died is cleared by the next run's start.
_RERUN_TTL_SECONDS = 3600


def _rerun_key(mailbox_id: int) -> str:
    return f"mailferry:mailbox:{mailbox_id}:rerun"


def ask_holder_to_rerun(client: redis.Redis, mailbox_id: int) -> bool:
    """Leave word for the run holding the mailbox's lock to run again once it is done. False
    when nobody holds the lock any more (the holder may have looked already): the caller runs
    the mailbox itself. The word is left before the lock is looked at, and the holder looks
    for it after releasing, so one of the two always runs what was asked."""
    client.set(_rerun_key(mailbox_id), 1, ex=_RERUN_TTL_SECONDS)
    return is_locked(client, mailbox_id)


def take_rerun_request(client: redis.Redis, mailbox_id: int) -> bool:
    """Whether another run asked for one more run since the last call (and forget it)."""
    return bool(client.delete(_rerun_key(mailbox_id)))


@contextmanager
def mailbox_lock(client: redis.Redis, mailbox_id: int) -> Iterator[bool]:
    """Yields True while this process holds the mailbox's lock, False if another does."""
    key, token = lock_key(mailbox_id), uuid.uuid4().hex
    if not client.set(key, token, nx=True, px=LOCK_TTL_MS):
        yield False
        return
    stop = threading.Event()

    def heartbeat() -> None:
        while not stop.wait(RENEW_EVERY_SECONDS):
            try:
                client.eval(_RENEW, 1, key, token, LOCK_TTL_MS)
            except redis.RedisError:
                pass  # Redis away: the run goes on; its stages are safe to repeat

    thread = threading.Thread(target=heartbeat, name=f"lock-{mailbox_id}", daemon=True)
    thread.start()
    try:
        yield True
    finally:
        stop.set()
        thread.join(timeout=1)
        try:
            client.eval(_RELEASE, 1, key, token)
        except redis.RedisError:
            pass
