"""The scheduler: periodic work declared as data, enqueued on time, never run here.

Several schedulers may run (one per machine) without doubling anything: each tick takes a
lease in Redis per job (SET NX with the job's interval as expiry), so only one of them
enqueues it, and `enqueue_maintenance` keeps one job of a name queued at a time.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import threading
from dataclasses import dataclass

import redis

from mailferry import heartbeats
from mailferry.backoff import REMATCH_INTERVAL
from mailferry.job_queue import enqueue_maintenance
from mailferry.timings import scaled

log = logging.getLogger(__name__)
# Intervals below are the product's; MAILFERRY_TIMING_SCALE shortens them for tests
# (mailferry/timings.py), the tick with them.
TICK_SECONDS = scaled(5.0)


@dataclass(frozen=True)
class Periodic:
    name: str  # worker.jobs.<name>
    every_seconds: int
    why: str


SCHEDULE = (
    Periodic("enqueue_due_mailboxes", 30,
             "poll mailboxes (default every 5 minutes), Unresolved emails a change-feed hit made due, retry failed writes"),
    Periodic("recover_stale_mailboxes", 60, "a worker that died mid-run leaves its mailbox to another"),
    Periodic("renew_subscriptions", 10 * 60, "Graph subscriptions expire within days; renew before"),
    Periodic("expire_and_purge", 60 * 60, "30-day attempt window and retention"),
    Periodic("sync_group_members", 10 * 60,
             "app-only groups: joiners' mailboxes start, leavers' stop, without anyone signing in"),
    Periodic("send_alerts", 5 * 60,
             "tenants' alerts: a mailbox disconnected over an hour, errors over 5% of the day's mail"),
    Periodic("rematch_by_change_feed", int(REMATCH_INTERVAL.total_seconds()),
             "one ask per org of the Contacts and Leads changed since the last; re-match only the emails they hit"),
)


def tick(connection: redis.Redis, schedule: tuple[Periodic, ...] = SCHEDULE) -> list[str]:
    """Enqueue every periodic job whose lease is free; returns the names enqueued."""
    enqueued = []
    for job in schedule:
        every = scaled(job.every_seconds)
        if connection.set(f"mailferry:schedule:{job.name}", "1", nx=True, px=max(1, round(every * 1000))):
            enqueue_maintenance(connection, job.name, every)
            enqueued.append(job.name)
    return enqueued


def run_forever(connection: redis.Redis) -> None:
    """`mailferry scheduler`: tick until SIGTERM or SIGINT. Each tick is also its heartbeat
    (`/readyz` reads it): a scheduler whose loop is stuck beats no more."""
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    name = f"scheduler-{socket.gethostname()}-{os.getpid()}"
    while not stop.is_set():
        try:
            for job_name in tick(connection):
                log.info("enqueued %s", job_name)
            heartbeats.beat(connection, heartbeats.SCHEDULER, name, TICK_SECONDS)
        except redis.RedisError as error:
            log.warning("Redis unavailable (%s); trying again", error)
        stop.wait(TICK_SECONDS)
    try:
        heartbeats.stopped(connection, heartbeats.SCHEDULER, name)
    except redis.RedisError:
        pass  # its beats run out by themselves
