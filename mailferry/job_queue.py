"""Enqueue a worker job by name, at most once while it waits.

The web app never imports the worker: it names the job (`"worker.jobs.sync_mailbox"`) and
RQ imports it in the worker process. A burst of Graph notifications for one mailbox must
make one job, so jobs get a fixed id per subject (`sync-mailbox-17`) and are enqueued with
RQ's `unique=True`. RQ keeps a finished or failed job's hash for a while under the same id,
which would block the next enqueue, so:

- queued / scheduled / deferred: the waiting job will see the change; nothing to do;
- "queued" but no longer on its queue: a worker took it off (RQ moves it to the queue's
  intermediate list) and died before starting it. No live worker holds it, and RQ's own
  cleanup would only fail it a minute or more later, at a worker's next maintenance: it is
  deleted and enqueued anew;
- started: the running job may have read Graph before this change, so one follow-up job
  (`<id>-again`, also unique) is queued behind it;
- finished / failed / stopped / canceled: the old hash is deleted and the job enqueued anew
  (a failed job's record copied first, for the Sync Health page: `mailferry.failed_jobs`).

A job whose worker was killed (SIGKILL, a lost machine) stays "started" in RQ until a
worker's registry cleanup finds its heartbeat expired, ten minutes or more later. Were it
trusted, a mailbox whose job and follow-up both died would get no job until then. So a
started job counts as running only while its run shows signs of life: for a mailbox sync,
its mailbox lock, which a live run renews every few seconds (`worker.locks`); for a periodic
job, being younger than its interval (they are short, and safe to overlap); for other jobs,
being younger than their RQ timeout (RQ stops a job at its timeout). Otherwise it is
treated like a stopped one. Misjudging a job that is in its first or last milliseconds
costs at most one more run, which every job is made to survive.

Deleting a job races with a worker finishing it (an execution it lists can vanish while
RQ reads it: `ValueError: Execution … not found in Redis`); the stale index is dropped and
the steps retried on the fresh state, so a caller (a Graph notification) never sees it.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Callable

from redis import Redis
from rq import Queue
from rq.exceptions import DuplicateJobError, NoSuchJobError
from rq.executions import ExecutionRegistry
from rq.job import Job, JobStatus

from mailferry import failed_jobs

_WAITING = {JobStatus.QUEUED, JobStatus.SCHEDULED, JobStatus.DEFERRED, JobStatus.CREATED}
FOLLOW_UP_SUFFIX = "-again"
_ATTEMPTS = 5
# RQ stops a job at its timeout; give it this long to record that before judging it dead.
_TIMEOUT_GRACE_SECONDS = 60


def enqueue_once(redis: Redis, queue_name: str, function: str, *args, job_id: str,
                 is_running: Callable[[Job], bool] | None = None) -> bool:
    """Enqueue `function(*args)` as `job_id` unless such a job already waits.

    `is_running` tells whether a started job of this id is really being run (default: it is
    younger than its timeout). Returns True when a job was added (or a follow-up queued
    behind a running one).
    """
    queue = Queue(queue_name, connection=redis)
    for _ in range(_ATTEMPTS):  # a concurrent enqueue, expiry or worker can change the picture between steps
        try:
            queue.enqueue(function, *args, job_id=job_id, unique=True)
            return True
        except DuplicateJobError:
            pass
        try:
            job = Job.fetch(job_id, connection=redis)
            status = job.get_status()
        except NoSuchJobError:
            continue  # it just expired: try again
        if status in _WAITING and not _orphaned(queue, job, status):
            return False
        if status == JobStatus.STARTED and _alive(job, is_running):
            if job_id.endswith(FOLLOW_UP_SUFFIX):
                return False
            return enqueue_once(redis, queue_name, function, *args, job_id=job_id + FOLLOW_UP_SUFFIX,
                                is_running=is_running)
        _discard(queue, job)  # finished, failed, stopped, canceled, or no live worker holds it
    return False


def _discard(queue: Queue, job: Job) -> None:
    """Make room for a new run of `job`'s id (a failed one's record is copied first)."""
    if job.get_status(refresh=False) == JobStatus.FAILED:
        failed_jobs.keep(queue.connection, job)
    try:
        job.delete()
    except ValueError:
        # An execution it lists vanished as RQ read it (a worker finishing it): the job is
        # over either way, so its execution index goes; the caller looks again.
        queue.connection.delete(ExecutionRegistry(job_id=job.id, connection=queue.connection).key)
        return
    queue.intermediate_queue.remove(job.id)


def _orphaned(queue: Queue, job: Job, status: JobStatus) -> bool:
    """A "queued" job that is on no queue: taken by a worker that died before starting it."""
    if status != JobStatus.QUEUED or job.origin != queue.name:
        return False
    return queue.connection.lpos(queue.key, job.id) is None


def _alive(job: Job, is_running: Callable[[Job], bool] | None) -> bool:
    if is_running is not None:
        return is_running(job)
    if not job.timeout or job.timeout < 0:
        return True
    return _started_within(job, job.timeout + _TIMEOUT_GRACE_SECONDS)


def _started_within(job: Job, seconds: float) -> bool:
    if job.started_at is None:
        return True
    started_at = job.started_at if job.started_at.tzinfo else job.started_at.replace(tzinfo=UTC)
    return datetime.now(UTC) - started_at < timedelta(seconds=seconds)


# The queues, by concern: mailbox syncs (and the subscription work that leads to one), and
# periodic housekeeping. Workers listen to both; the scheduler only fills `maintenance`.
SYNC_QUEUE = "mailboxes"
MAINTENANCE_QUEUE = "maintenance"
QUEUES = (SYNC_QUEUE, MAINTENANCE_QUEUE)


def sync_job_id(mailbox_id: int) -> str:
    return f"sync-mailbox-{mailbox_id}"


def mailbox_lock_key(mailbox_id: int) -> str:
    """The Redis key a live sync run of the mailbox holds and renews (`worker.locks`)."""
    return f"mailferry:mailbox:{mailbox_id}:lock"


def enqueue_sync(redis: Redis, mailbox_id: int) -> bool:
    """Queue a sync of the mailbox (`worker.jobs.sync_mailbox`) unless one already waits."""
    return enqueue_once(redis, SYNC_QUEUE, "worker.jobs.sync_mailbox", mailbox_id, job_id=sync_job_id(mailbox_id),
                        is_running=lambda job: bool(redis.exists(mailbox_lock_key(mailbox_id))))


def enqueue_maintenance(redis: Redis, name: str, every_seconds: float | None = None) -> bool:
    """Queue a periodic job (`worker.jobs.<name>`) unless one already waits or runs. Given
    its interval, a run still "started" after a whole interval is taken for dead."""
    is_running = None if every_seconds is None else (lambda job: _started_within(job, every_seconds))
    return enqueue_once(redis, MAINTENANCE_QUEUE, f"worker.jobs.{name}", job_id=f"periodic-{name}",
                        is_running=is_running)
