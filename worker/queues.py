"""The worker's queues, and the two ways jobs get onto them (both by dotted name, at most
one waiting per subject: see `mailferry.job_queue.enqueue_once`)."""

from __future__ import annotations

import redis

from mailferry.job_queue import enqueue_once

SYNC_QUEUE = "mailboxes"
MAINTENANCE_QUEUE = "maintenance"
QUEUES = (SYNC_QUEUE, MAINTENANCE_QUEUE)


def sync_job_id(mailbox_id: int) -> str:
    return f"sync-mailbox-{mailbox_id}"


def enqueue_sync(connection: redis.Redis, mailbox_id: int) -> int:
    """Queue a sync of the mailbox unless one already waits; 1 if queued, else 0."""
    return int(enqueue_once(connection, SYNC_QUEUE, "worker.jobs.sync_mailbox", mailbox_id,
                            job_id=sync_job_id(mailbox_id)))


def enqueue_maintenance(connection: redis.Redis, name: str) -> int:
    """Queue a periodic job (`worker.jobs.<name>`) unless one already waits or runs."""
    return int(enqueue_once(connection, MAINTENANCE_QUEUE, f"worker.jobs.{name}", job_id=f"periodic-{name}"))
