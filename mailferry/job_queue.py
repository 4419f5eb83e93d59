"""Enqueue a worker job by name, at most once while it waits.

The web app never imports the worker: it names the job (`"worker.jobs.sync_mailbox"`) and
RQ imports it in the worker process. A burst of Graph notifications for one mailbox must
make one job, so jobs get a fixed id per subject (`sync-mailbox-17`) and are enqueued with
RQ's `unique=True`. RQ keeps a finished or failed job's hash for a while under the same id,
which would block the next enqueue, so:

- queued / scheduled / deferred: the waiting job will see the change; nothing to do;
- started: the running job may have read Graph before this change, so one follow-up job
  (`<id>-again`, also unique) is queued behind it;
- finished / failed / stopped / canceled: the old hash is deleted and the job enqueued anew.
"""

from __future__ import annotations

from redis import Redis
from rq import Queue
from rq.exceptions import DuplicateJobError, NoSuchJobError
from rq.job import Job, JobStatus

_WAITING = {JobStatus.QUEUED, JobStatus.SCHEDULED, JobStatus.DEFERRED, JobStatus.CREATED}
FOLLOW_UP_SUFFIX = "-again"


def enqueue_once(redis: Redis, queue_name: str, function: str, *args, job_id: str) -> bool:
    """Enqueue `function(*args)` as `job_id` unless such a job already waits.

    Returns True when a job was added (or a follow-up queued behind a running one).
    """
    queue = Queue(queue_name, connection=redis)
    for _ in range(3):  # a concurrent enqueue or expiry can change the picture between steps
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
        if status in _WAITING:
            return False
        if status == JobStatus.STARTED:
            if job_id.endswith(FOLLOW_UP_SUFFIX):
                return False
            return enqueue_once(redis, queue_name, function, *args, job_id=job_id + FOLLOW_UP_SUFFIX)
        job.delete()  # finished, failed, stopped or canceled: make room for a new run
    return False


# The queues, by concern: mailbox syncs (and the subscription work that leads to one), and
# periodic housekeeping. Workers listen to both; the scheduler only fills `maintenance`.
SYNC_QUEUE = "mailboxes"
MAINTENANCE_QUEUE = "maintenance"
QUEUES = (SYNC_QUEUE, MAINTENANCE_QUEUE)


def sync_job_id(mailbox_id: int) -> str:
    return f"sync-mailbox-{mailbox_id}"


def enqueue_sync(redis: Redis, mailbox_id: int) -> bool:
    """Queue a sync of the mailbox (`worker.jobs.sync_mailbox`) unless one already waits."""
    return enqueue_once(redis, SYNC_QUEUE, "worker.jobs.sync_mailbox", mailbox_id, job_id=sync_job_id(mailbox_id))


def enqueue_maintenance(redis: Redis, name: str) -> bool:
    """Queue a periodic job (`worker.jobs.<name>`) unless one already waits or runs."""
    return enqueue_once(redis, MAINTENANCE_QUEUE, f"worker.jobs.{name}", job_id=f"periodic-{name}")
