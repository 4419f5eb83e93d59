"""Failed RQ jobs, kept long enough to read (the admin's Sync Health page shows them).

RQ keeps a failed job in its queue's FailedJobRegistry, but `job_queue.enqueue_once` must
delete that record to run the same job id again (a mailbox's sync fails, the next poll
queues it anew), and with it the only trace of the failure. So before deleting a failed
job it copies what a reader needs (id, function, arguments, the exception text, when) into a
capped Redis list, kept a week. `recent` reads both: failures RQ still holds and the copies.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from redis import Redis
from rq import Queue
from rq.job import Job
from rq.registry import FailedJobRegistry
from rq.results import Result

KEY = "mailferry:failed-jobs"
KEEP = timedelta(days=7)
MAX_KEPT = 500
_EXCEPTION_CHARS = 4000  # the end of a traceback says what happened


@dataclass(frozen=True)
class FailedJob:
    job_id: str
    function: str
    args: tuple
    exception: str
    failed_at: datetime

    @property
    def summary(self) -> str:
        """The exception's last line (`ValueError: …`), what a table row shows."""
        lines = [line for line in self.exception.strip().splitlines() if line.strip()]
        return lines[-1].strip() if lines else ""


def _from_job(job: Job) -> FailedJob:
    ended = job.ended_at or datetime.now(UTC)
    result = job.latest_result()
    exception = result.exc_string if result is not None and result.type == Result.Type.FAILED else None
    return FailedJob(job.id, job.func_name or "", tuple(job.args or ()), (exception or "")[-_EXCEPTION_CHARS:],
                     ended if ended.tzinfo else ended.replace(tzinfo=UTC))


def keep(redis: Redis, job: Job) -> None:
    """Copy a failed job's record before RQ's is deleted."""
    failure = _from_job(job)
    record = json.dumps({"job_id": failure.job_id, "function": failure.function, "args": list(failure.args),
                         "exception": failure.exception, "failed_at": failure.failed_at.isoformat()}, default=str)
    pipe = redis.pipeline()
    pipe.lpush(KEY, record)
    pipe.ltrim(KEY, 0, MAX_KEPT - 1)
    pipe.expire(KEY, int(KEEP.total_seconds()))
    pipe.execute()


def recent(redis: Redis, queue_names: tuple[str, ...], now: datetime) -> list[FailedJob]:
    """The week's failures, newest first: the ones RQ still holds, then the copies."""
    held = []
    for name in queue_names:
        registry = FailedJobRegistry(queue=Queue(name, connection=redis))
        newest = registry.get_job_ids(0, MAX_KEPT - 1, desc=True)  # RQ keeps failures a year by default
        held += [_from_job(job) for job in Job.fetch_many(newest, connection=redis) if job]
    kept = []
    for raw in redis.lrange(KEY, 0, -1):
        data = json.loads(raw)
        kept.append(FailedJob(data["job_id"], data["function"], tuple(data["args"]), data["exception"],
                              datetime.fromisoformat(data["failed_at"])))
    # A discard retried after a race copies the same failure twice: one row each.
    unique = {(f.job_id, f.failed_at): f for f in held + kept if now - f.failed_at <= KEEP}
    return sorted(unique.values(), key=lambda f: f.failed_at, reverse=True)
