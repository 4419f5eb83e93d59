"""Heartbeats of the worker and scheduler processes: what `/readyz` reads to say whether
anyone is taking jobs off the queues and putting periodic work on them.

Each process beats into a Redis sorted set of its role (`mailferry:heartbeats:worker`,
`…:scheduler`): the member is the process's name, the score the moment after which it counts
as silent, i.e. now plus `BEATS_MISSED` of its own intervals. The bound travels with the
beat, so the reader (the web app) needs to know nobody's interval, and a dead process
(SIGKILL, a lost machine) shows as silent, by name, once its bound has passed. A process that
stops cleanly takes its name out. Names silent for a day are dropped at the next beat.

RQ keeps worker keys with a `last_heartbeat` too, but it fits badly here: a SimpleWorker
sends none while it runs a job (a sync may run minutes), and an idle one beats only every
`worker_ttl - 15` s (405 s by default). A thread of our own beats every few seconds
whatever the worker is doing, and stops with the process.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import redis

from mailferry.timings import scaled

log = logging.getLogger(__name__)

WORKER, SCHEDULER = "worker", "scheduler"
ROLES = (WORKER, SCHEDULER)
#: How many intervals a process may miss before it counts as silent ("a few").
BEATS_MISSED = 3
#: A worker's beat interval (its thread's); the scheduler beats once per tick instead.
WORKER_BEAT_SECONDS = scaled(10.0)
_FORGET_AFTER_SECONDS = 24 * 60 * 60


def _key(role: str) -> str:
    return f"mailferry:heartbeats:{role}"


def beat(connection: redis.Redis, role: str, name: str, every_seconds: float) -> None:
    """`name` is alive now and will beat again within `every_seconds`."""
    now = time.time()
    pipe = connection.pipeline(transaction=False)
    pipe.zadd(_key(role), {name: now + BEATS_MISSED * every_seconds})
    pipe.zremrangebyscore(_key(role), "-inf", now - _FORGET_AFTER_SECONDS)
    pipe.execute()


def stopped(connection: redis.Redis, role: str, name: str) -> None:
    """`name` stopped on purpose: it is neither alive nor silent."""
    connection.zrem(_key(role), name)


@dataclass(frozen=True)
class RoleState:
    alive: tuple[str, ...]
    silent: tuple[tuple[str, float], ...]  # (name, when it went silent: a Unix time)


def state(connection: redis.Redis, role: str) -> RoleState:
    now = time.time()
    members = connection.zrange(_key(role), 0, -1, withscores=True)
    alive = tuple(sorted(_text(name) for name, deadline in members if deadline >= now))
    silent = tuple(sorted(((_text(name), deadline) for name, deadline in members if deadline < now),
                          key=lambda item: -item[1]))
    return RoleState(alive, silent)


def _text(name: bytes | str) -> str:
    return name.decode() if isinstance(name, bytes) else name


@contextmanager
def beating(connection: redis.Redis, role: str, name: str,
            every_seconds: float = WORKER_BEAT_SECONDS) -> Iterator[None]:
    """Beat for `name` from a thread of its own while the block runs (a worker's whole
    life); its name comes out when the block ends, however it ends short of SIGKILL."""
    stop = threading.Event()

    def keep_beating() -> None:
        while True:
            try:
                beat(connection, role, name, every_seconds)
            except redis.RedisError as error:  # the next beat may reach it; /readyz says so meanwhile
                log.warning("heartbeat of %s not sent (%s)", name, error)
            if stop.wait(every_seconds):
                return

    thread = threading.Thread(target=keep_beating, name=f"heartbeat-{role}", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=5)
        try:
            stopped(connection, role, name)
        except redis.RedisError:
            pass  # its beats run out by themselves
