"""The scheduler and the queues on a real Redis: periodic jobs enqueued once per interval,
one waiting sync per mailbox, and one run per mailbox at a time."""

from __future__ import annotations

import uuid

import pytest
import redis
from rq import Queue

from worker import locks
from mailferry.job_queue import MAINTENANCE_QUEUE, SYNC_QUEUE, enqueue_sync, sync_job_id
from worker.scheduler import Periodic, tick


@pytest.fixture
def connection(redis_url):
    client = redis.Redis.from_url(redis_url)
    yield client
    client.close()


def _cleanup(connection, *queues):
    for name in queues:
        Queue(name, connection=connection).empty()


def test_a_periodic_job_is_enqueued_once_per_interval_whoever_ticks(connection):
    name = f"noop-{uuid.uuid4().hex[:8]}"
    schedule = (Periodic(name, 60, "test"),)
    try:
        assert tick(connection, schedule) == [name]
        assert tick(connection, schedule) == []  # a second scheduler, or the next tick
        jobs = Queue(MAINTENANCE_QUEUE, connection=connection).get_jobs()
        assert [job.func_name for job in jobs].count(f"worker.jobs.{name}") == 1
    finally:
        connection.delete(f"mailferry:schedule:{name}")
        _cleanup(connection, MAINTENANCE_QUEUE)


def test_a_burst_of_sync_requests_leaves_one_waiting_job(connection):
    mailbox_id = 900_000 + uuid.uuid4().int % 1000
    try:
        assert [enqueue_sync(connection, mailbox_id) for _ in range(5)] == [1, 0, 0, 0, 0]
        ids = Queue(SYNC_QUEUE, connection=connection).get_job_ids()
        assert ids.count(sync_job_id(mailbox_id)) == 1
    finally:
        _cleanup(connection, SYNC_QUEUE)


def test_only_one_holder_of_a_mailbox_lock_and_it_is_freed_after(connection):
    mailbox_id = 800_000 + uuid.uuid4().int % 1000
    with locks.mailbox_lock(connection, mailbox_id) as first:
        with locks.mailbox_lock(connection, mailbox_id) as second:
            assert first is True and second is False
        assert locks.is_locked(connection, mailbox_id)
    assert not locks.is_locked(connection, mailbox_id)


def test_a_dead_holders_lock_expires(connection):
    mailbox_id = 700_000 + uuid.uuid4().int % 1000
    connection.set(locks.lock_key(mailbox_id), "someone-else", px=200)
    with locks.mailbox_lock(connection, mailbox_id) as held:
        assert held is False
    import time

    time.sleep(0.3)
    with locks.mailbox_lock(connection, mailbox_id) as held:
        assert held is True
