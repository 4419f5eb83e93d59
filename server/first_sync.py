"""Queue a mailbox's sync right after a connection is made, so mail starts to flow at once."""

from __future__ import annotations

import logging

import redis

from mailferry.job_queue import enqueue_sync
from server.extensions import redis_client

log = logging.getLogger(__name__)


def queue_first_sync(mailbox_id: int | None) -> None:
    """Best effort: when Redis is down the scheduler queues the mailbox on its next pass."""
    if mailbox_id is None:
        return
    try:
        enqueue_sync(redis_client(), mailbox_id)
    except redis.RedisError as error:
        log.warning("could not queue the first sync of mailbox %s: %s", mailbox_id, type(error).__name__)
