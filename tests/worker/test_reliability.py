"""Reliability of the sync engine as it really runs: several `mailferry worker` processes and a
`mailferry scheduler`, started as subprocesses on the test's database and Redis, syncing a few
thousand emails from both sandbox servers over HTTPS while the test does them harm.

- workers killed with SIGKILL at random moments, then restarted;
- Salesforce answering its calls with 503 (20%) and 500 (20% of the rest), some rows
  locked, and Graph throttling each mailbox once with a Retry-After;
- Redis flushed in the middle of the run.

Each time every email must end in exactly one outcome, no Task may exist twice, and the
synced rows must be exactly the Tasks in Salesforce. Recovery relies on the product's own
timings, shortened tenfold through MAILFERRY_TIMING_SCALE (mailferry/timings.py) so that a
dead worker's lock expires in 3 s instead of 30.

The figures (emails, Tasks, duplicates, kills, faults, elapsed) are printed: run with `-s`.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest
import redis
from rq import Worker
from sqlalchemy import and_, func, or_, select

from cli.demo import connect_demo_users
from cli.processes import free_port
from cli.supervisor import _die_with_parent
from mailferry import email_state
from mailferry.db import utcnow
from mailferry.job_queue import enqueue_sync
from mailferry.models import Mailbox, Message, User
from worker.runtime import Runtime, use_runtime

PROJECT_ROOT = Path(__file__).resolve().parents[2]
FINAL = {"synced", "unresolved", "excluded", "skipped", "ignored"}
SCALE = "6x500"  # 6 mailboxes × 500 emails: 3,000 emails
WORKERS = 3
KILLS = 8
TIMING_SCALE = "0.1"
SETTLE_SECONDS = 150  # a bound, not a target: each run settles in 15-40 s here (longer on a busy machine)
# FLUSHDB below must not touch another suite's keys on a shared server (nor, mostly, another
# run of these tests on the same machine): a database of their own, 8 to 15.
REDIS_DB = 8 + os.getpid() % 8


# ----- fixtures -------------------------------------------------------------------------------


@pytest.fixture
def redis_url(redis_url):
    """The session's Redis server, on a database of these tests' own (emptied before and after)."""
    if redis_url.startswith("unix://"):
        url = f"{redis_url.split('?')[0]}?db={REDIS_DB}"
    else:
        url = urlunsplit(urlsplit(redis_url)._replace(path=f"/{REDIS_DB}"))
    client = redis.Redis.from_url(url)
    client.flushdb()
    yield url
    client.flushdb()
    client.close()


@dataclass
class Call:
    began: float
    method: str
    path: str
    ended: float = 0.0
    status: int = 0
    retry_after: float | None = None
    # A part of a Graph `$batch` runs inside its batch's call: the client sent it when it
    # sent the batch, and learns its answer when the batch answers.
    batch: "Call | None" = None

    @property
    def sent(self) -> float:
        return (self.batch or self).began

    @property
    def answered(self) -> float:
        return (self.batch or self).ended


class CallLog:
    """Every call a sandbox server answers, with when it began and ended (server clock, which
    is the workers' clock too): the sandbox's stats only count calls per route."""

    def __init__(self, app):
        self.app, self.inner = app, app.wsgi_app
        self.calls: list[Call] = []
        self._lock = threading.Lock()
        self._outer = threading.local()  # the top-level call this thread is answering

    def __call__(self, environ, start_response):
        outer = getattr(self._outer, "call", None)
        call = Call(time.time(), environ["REQUEST_METHOD"], environ.get("PATH_INFO", ""),
                    batch=outer if environ.get("HTTP_X_SANDBOX_BATCH_PART") else None)

        def recording(status, headers, exc_info=None):
            call.status = int(status.split()[0])
            retry_after = dict(headers).get("Retry-After")
            call.retry_after = float(retry_after) if retry_after else None
            return start_response(status, headers, exc_info)

        if call.batch is None:
            self._outer.call = call
        try:
            return self.inner(environ, recording)
        finally:
            call.ended = time.time()
            if call.batch is None:
                self._outer.call = None
            with self._lock:
                self.calls.append(call)

    def __enter__(self):
        self.app.wsgi_app = self
        return self

    def __exit__(self, *exc):
        self.app.wsgi_app = self.inner


@dataclass
class Fleet:
    """The worker and scheduler processes, each in its own process group."""

    env: dict
    logs: Path
    workers: list[subprocess.Popen] = field(default_factory=list)
    scheduler: subprocess.Popen | None = None
    kills: int = 0
    started: int = 0

    def _start(self, *command: str) -> subprocess.Popen:
        self.started += 1
        log = open(self.logs / f"{command[0]}-{self.started}.log", "wb")
        try:
            # Own process group (killed whole); SIGKILLed by the kernel if pytest itself dies.
            return subprocess.Popen([sys.executable, "-m", "cli.main", *command], cwd=PROJECT_ROOT, env=self.env,
                                    stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
                                    preexec_fn=_die_with_parent)
        finally:
            log.close()

    def start(self, workers: int, scheduler: bool = True) -> None:
        for _ in range(workers):
            self.workers.append(self._start("worker"))
        if scheduler:
            self.scheduler = self._start("scheduler")

    def kill(self, process: subprocess.Popen) -> None:
        """SIGKILL, as the kernel's OOM killer or a lost machine would."""
        _kill_group(process)
        self.workers.remove(process)
        self.kills += 1

    def restart_worker(self) -> None:
        self.workers.append(self._start("worker"))

    def exited(self) -> list[str]:
        """Processes that stopped by themselves (they are meant to run until killed)."""
        every = self.workers + ([self.scheduler] if self.scheduler else [])
        return [f"pid {p.pid} exited with {p.returncode}" for p in every if p.poll() is not None]

    def stop(self) -> None:
        for process in self.workers + ([self.scheduler] if self.scheduler else []):
            _kill_group(process)
        self.workers, self.scheduler = [], None

    def tail(self, lines: int = 30) -> str:
        out = []
        for path in sorted(self.logs.glob("*.log")):
            text = path.read_text(errors="replace").splitlines()
            out += [f"--- {path.name}"] + text[-lines:]
        return "\n".join(out)


def _kill_group(process: subprocess.Popen) -> None:
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    process.wait(timeout=10)


@pytest.fixture
def scaled_world(clouds, engine_config):
    """Both sandboxes reset to the same scaled world, its users connected as `make run`
    connects them; yields (runtime, mailbox ids, emails in the mailboxes, Graph user ref
    per mailbox id). The runtime is the test process's (for "Retry now")."""
    yield from _world(clouds, engine_config, SCALE)


@pytest.fixture
def small_world(clouds, engine_config):
    """`world` with two mailboxes of 40 emails, for tests about one job rather than volume."""
    yield from _world(clouds, engine_config, "2x40")


def _world(clouds, engine_config, scale: str):
    for base in (clouds.microsoft, clouds.salesforce):
        clouds.http.post(f"{base}/_sandbox/reset", json={"seed": 7, "scale": scale}, timeout=120).raise_for_status()
    runtime = Runtime(engine_config)
    use_runtime(runtime)
    try:
        mailbox_ids = connect_demo_users(engine_config)
        users = clouds.http.get(f"{clouds.microsoft}/_sandbox/users").json()["users"]
        with runtime.sessions() as session:
            refs = dict(session.execute(select(Mailbox.id, User.oid).join(User, Mailbox.user_id == User.id)).all())
        yield runtime, mailbox_ids, sum(u["messages"] for u in users), refs
    finally:
        use_runtime(None)
        runtime.engine.dispose()


@pytest.fixture
def fleet(engine_config, tmp_path):
    """Starts nothing by itself; whatever the test starts is SIGKILLed at the end."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MAILFERRY_", "DATABASE_URL", "REDIS_URL"))}
    env.update({
        "DATABASE_URL": engine_config.database_url,
        "REDIS_URL": engine_config.redis_url,
        "MAILFERRY_ENV": "demo",
        "MAILFERRY_DATA_DIR": str(engine_config.data_dir),
        "MAILFERRY_CERTS_DIR": str(engine_config.certs_dir),
        "MAILFERRY_ENCRYPTION_KEYS": ",".join(engine_config.encryption_keys),
        "MAILFERRY_SECRET_KEY": engine_config.secret_key,
        "MAILFERRY_SANDBOX_MICROSOFT_PORT": str(engine_config.sandbox_microsoft_port),
        "MAILFERRY_SANDBOX_SALESFORCE_PORT": str(engine_config.sandbox_salesforce_port),
        # Graph subscriptions point at the web app, which is not running: nothing listens here.
        "MAILFERRY_PORT": str(free_port()),
        "MAILFERRY_TIMING_SCALE": TIMING_SCALE,
        "MAILFERRY_LOG_LEVEL": "warning",
        "PYTHONUNBUFFERED": "1",
    })
    logs = tmp_path / "logs"
    logs.mkdir()
    processes = Fleet(env, logs)
    try:
        yield processes
    finally:
        processes.stop()


# ----- reading the outcome ------------------------------------------------------------------


@dataclass
class Snapshot:
    rows: int
    statuses: Counter
    pending: int  # still `pending`, or holding an operation not yet attempted
    system_errors: int
    mailboxes_busy: int  # not idle, never completed a run, or inside a Retry-After window

    def settled(self, expected: int, errors_allowed: bool = False) -> bool:
        return (self.rows == expected and self.pending == 0 and self.mailboxes_busy == 0
                and (errors_allowed or self.system_errors == 0))

    def __str__(self) -> str:
        return (f"{self.rows} rows {dict(self.statuses)}, {self.pending} pending, "
                f"{self.system_errors} system_error, {self.mailboxes_busy} mailboxes not done")


def snapshot(runtime) -> Snapshot:
    now = time.time()
    with runtime.sessions() as session:
        statuses = Counter(dict(session.execute(select(Message.status, func.count()).group_by(Message.status)).all()))
        pending = session.execute(select(func.count()).select_from(Message).where(or_(
            Message.status == "pending",
            and_(Message.pending_operation.is_not(None), Message.next_attempt_at.is_(None))))).scalar_one()
        errors = session.execute(select(func.count()).select_from(Message).where(
            Message.status == "unresolved", Message.reason == "system_error")).scalar_one()
        busy = sum(
            1 for m in session.execute(select(Mailbox)).scalars()
            if m.stage != "idle" or m.last_success_at is None
            or (m.retry_after is not None and m.retry_after.timestamp() > now)
        )
    return Snapshot(sum(statuses.values()), statuses, pending, errors, busy)


def wait_until(runtime, fleet: Fleet, done, what: str, seconds: float = SETTLE_SECONDS) -> Snapshot:
    deadline = time.monotonic() + seconds
    while True:
        state = snapshot(runtime)
        if done(state):
            return state
        assert not fleet.exited(), f"{fleet.exited()}\n{fleet.tail()}"
        if time.monotonic() > deadline:
            pytest.fail(f"not {what} within {seconds:.0f}s: {state}\n{_diagnosis(runtime)}\n{fleet.tail()}")
        time.sleep(0.25)


def _diagnosis(runtime) -> str:
    """What a stuck run looks like: each mailbox's row, lock and sync jobs."""
    from rq.exceptions import NoSuchJobError
    from rq.job import Job

    from mailferry.job_queue import FOLLOW_UP_SUFFIX, sync_job_id
    from worker.locks import lock_key

    lines = []
    with runtime.sessions() as session:
        for m in session.execute(select(Mailbox)).scalars():
            states = []
            for job_id in (sync_job_id(m.id), sync_job_id(m.id) + FOLLOW_UP_SUFFIX):
                try:
                    states.append(f"{job_id}={Job.fetch(job_id, connection=runtime.redis).get_status()}")
                except NoSuchJobError:
                    states.append(f"{job_id}=none")
            lines.append(f"mailbox {m.id}: {m.status}/{m.stage} since {m.stage_started_at}, last success "
                         f"{m.last_success_at}, retry after {m.retry_after}, failures {m.failure_count}, "
                         f"locked {bool(runtime.redis.exists(lock_key(m.id)))}; {' '.join(states)}")
    for name in ("enqueue_due_mailboxes", "recover_stale_mailboxes"):
        states = []
        for job_id in (f"periodic-{name}", f"periodic-{name}{FOLLOW_UP_SUFFIX}"):
            try:
                job = Job.fetch(job_id, connection=runtime.redis)
                states.append(f"{job_id}={job.get_status()} started {job.started_at}")
            except NoSuchJobError:
                states.append(f"{job_id}=none")
        lines.append(" ".join(states))
    return "\n".join(lines)


@dataclass
class Verdict:
    emails: int
    synced: int
    tasks: int
    duplicates: int


def assert_each_email_has_one_outcome_and_one_task(runtime, clouds, expected: int) -> Verdict:
    """Every email in a final status with no pending operation; every synced email is one
    Task, found under its key and id; no key has two Tasks; no Task without a synced email."""
    with runtime.sessions() as session:
        rows = session.execute(select(
            Message.status, Message.reason, Message.pending_operation, Message.task_key, Message.salesforce_task_id,
        )).all()
    assert len(rows) == expected, f"{len(rows)} emails stored, the mailboxes hold {expected}"
    statuses = Counter(row.status for row in rows)
    assert set(statuses) <= FINAL, statuses
    assert not [row for row in rows if row.pending_operation], "rows left with a pending operation"
    tasks = [t for t in clouds.records("Task") if t.get("Mailferry_Key__c")]
    per_key = Counter(t["Mailferry_Key__c"].lower() for t in tasks)
    duplicates = sum(n - 1 for n in per_key.values() if n > 1)
    assert duplicates == 0, [key for key, n in per_key.items() if n > 1][:5]
    synced = {row.task_key.lower(): row.salesforce_task_id for row in rows if row.status == "synced"}
    by_key = {t["Mailferry_Key__c"].lower(): t["Id"] for t in tasks}
    assert set(synced) == set(by_key), (
        f"{len(set(synced) - set(by_key))} synced emails without a Task, "
        f"{len(set(by_key) - set(synced))} Tasks without a synced email")
    assert synced == by_key, "a synced email names another Task than the one under its key"
    relations = Counter((r["TaskId"], r["RelationId"]) for r in clouds.records("TaskRelation")
                        if r["TaskId"] in set(by_key.values()))
    assert not [pair for pair, n in relations.items() if n > 1], "a Task related twice to one record"
    return Verdict(len(rows), len(synced), len(tasks), duplicates)


def _start_syncing(runtime, fleet: Fleet, mailbox_ids: list[int]) -> None:
    fleet.start(WORKERS)
    for mailbox_id in mailbox_ids:
        enqueue_sync(runtime.redis, mailbox_id)


def _busy_worker_pids(connection: redis.Redis) -> set[int]:
    """Workers in the middle of a job, by pid (`mailferry worker` names itself …-<pid>)."""
    return {int(w.name.rsplit("-", 1)[1]) for w in Worker.all(connection=connection)
            if w.get_state() == "busy" and w.name.rsplit("-", 1)[1].isdigit()}


# ----- the tests ------------------------------------------------------------------------------


def test_workers_killed_at_random_moments_leave_every_email_with_one_outcome_and_one_task(scaled_world, clouds, fleet):
    runtime, mailbox_ids, expected, _ = scaled_world
    seed = int(os.environ.get("MAILFERRY_TEST_KILL_SEED") or random.randrange(1_000_000))
    print(f"\nkill seed {seed} (MAILFERRY_TEST_KILL_SEED={seed} repeats the choices)")
    rng = random.Random(seed)
    began = time.monotonic()
    _start_syncing(runtime, fleet, mailbox_ids)
    restarts: list[float] = []
    # Kill a worker in the middle of a job, at a random moment, while there is work; restart
    # it after a random pause (at once, or after the mailbox lock it held has expired).
    while fleet.kills < KILLS and time.monotonic() - began < 40:
        time.sleep(rng.uniform(0.1, 0.8))
        now = time.monotonic()
        for due in [t for t in restarts if t <= now]:
            restarts.remove(due)
            fleet.restart_worker()
        if snapshot(runtime).settled(expected):
            break
        busy = _busy_worker_pids(runtime.redis)
        candidates = [p for p in fleet.workers if p.pid in busy]
        if candidates:
            fleet.kill(rng.choice(candidates))
            restarts.append(now + rng.choice((0.0, 0.0, 1.0, 4.0)))
    for _ in restarts:
        fleet.restart_worker()
    killing_ended = time.monotonic() - began
    state = wait_until(runtime, fleet, lambda s: s.settled(expected), "settled after the kills")
    elapsed = time.monotonic() - began
    fleet.stop()
    verdict = assert_each_email_has_one_outcome_and_one_task(runtime, clouds, expected)
    print(f"\nkills: seed {seed}, {fleet.kills} SIGKILLs of busy workers in the first {killing_ended:.1f}s; "
          f"emails {verdict.emails} {dict(state.statuses)}; Tasks {verdict.tasks}, synced {verdict.synced}, "
          f"duplicates {verdict.duplicates}; settled after {elapsed:.1f}s")
    assert fleet.kills >= 3, "the sync ended before the workers could be killed mid-job"


def test_salesforce_5xx_locked_rows_and_graph_throttling_still_end_synced_without_calls_inside_retry_after(
        scaled_world, clouds, fleet, microsoft_app, salesforce_app):
    runtime, mailbox_ids, expected, refs = scaled_world
    # Salesforce: a data call fails with 503 at a rate of 20%, and with 500 at 20% of the rest;
    # the next three Task writes find their row locked.
    clouds.faults(clouds.salesforce,
                  {"path": "/services/data/*", "status": 503, "rate": 0.2},
                  {"path": "/services/data/*", "status": 500, "error_code": "UNKNOWN_EXCEPTION", "rate": 0.2})
    clouds.org(lock_row={"sobject": "Task", "count": 3})
    # Graph: each mailbox is throttled once, at its first call, with a Retry-After shorter
    # than the engine's own first backoff (5 s) for some and longer for others. (At a random
    # call instead, a mailbox whose run needs one or two calls escaped now and then, and the
    # test could not tell that from faults that never bite.)
    waits = {mailbox_id: (2, 8, 4, 10)[n % 4] for n, mailbox_id in enumerate(mailbox_ids)}
    clouds.faults(clouds.microsoft, *[
        {"path": f"/v1.0/users/{refs[mailbox_id]}/*", "status": 429, "error_code": "TooManyRequests",
         "retry_after": waits[mailbox_id], "rate": 1.0, "count": 1}
        for mailbox_id in mailbox_ids])
    began = time.monotonic()
    with CallLog(microsoft_app) as graph_log, CallLog(salesforce_app) as salesforce_log:
        _start_syncing(runtime, fleet, mailbox_ids)
        during = wait_until(runtime, fleet, lambda s: s.settled(expected, errors_allowed=True),
                            "through every mailbox under faults")
        with runtime.sessions() as session:
            failed_ids = set(session.execute(select(Message.id).where(
                Message.status == "unresolved", Message.reason == "system_error")).scalars())
        hits = {base: sum(f["hits"] for f in clouds.http.get(f"{base}/_sandbox/faults").json()["faults"])
                for base in (clouds.microsoft, clouds.salesforce)}
        locked_left = clouds.http.get(f"{clouds.salesforce}/_sandbox/org").json()["lock_row"]
        # The faults end; "Retry now" makes the failed writes due at once.
        for base in (clouds.microsoft, clouds.salesforce):
            clouds.http.delete(f"{base}/_sandbox/faults").raise_for_status()
        clouds.org(lock_row=None)
        with runtime.sessions() as session:
            user_ids = session.execute(select(Mailbox.user_id)).scalars().all()
        with runtime.session() as session:  # "Retry now" (server/history/actions.py) for everyone
            retried = email_state.due_now(session, Message.user_id.in_(user_ids), utcnow())
        for mailbox_id in mailbox_ids:
            enqueue_sync(runtime.redis, mailbox_id)
        state = wait_until(runtime, fleet, lambda s: s.settled(expected), "settled after the faults ended")
    elapsed = time.monotonic() - began
    fleet.stop()
    verdict = assert_each_email_has_one_outcome_and_one_task(runtime, clouds, expected)
    with runtime.sessions() as session:
        failed_then = Counter(session.execute(
            select(Message.status, Message.reason).where(Message.id.in_(failed_ids))).all())
    assert set(failed_then) <= {("synced", None), ("unresolved", "no_match")}, failed_then

    # No Graph call to a mailbox inside the Retry-After window it was given: from the moment
    # the 429 reached the worker, nothing for that mailbox was sent for Retry-After seconds.
    throttles, closest = 0, None
    for ref in refs.values():
        calls = [c for c in graph_log.calls if c.path.startswith(f"/v1.0/users/{ref}/")]
        for throttled in (c for c in calls if c.status == 429):
            throttles += 1
            window_ends = throttled.answered + throttled.retry_after
            inside = [c for c in calls if throttled.answered < c.sent < window_ends]
            assert not inside, f"{len(inside)} calls to {ref} within {throttled.retry_after}s of its 429: {inside[:3]}"
            after = [c.sent - throttled.answered for c in calls if c.sent > throttled.answered]
            if after:
                gap = min(after) - throttled.retry_after
                closest = gap if closest is None else min(closest, gap)
    data_calls = [c for c in salesforce_log.calls if c.path.startswith("/services/data/")]
    print(f"\nfaults: Salesforce {hits[clouds.salesforce]} 5xx of {len(data_calls)} data calls, "
          f"{3 - (locked_left or {}).get('count', 0)} locked rows; "
          f"Graph {hits[clouds.microsoft]} 429s ({throttles} seen, next call ≥ {closest or 0:.2f}s after each window); "
          f"under faults {during.system_errors} system_error, then {failed_then[('synced', None)]} of them synced "
          f"and {failed_then[('unresolved', 'no_match')]} no_match; retry now: {retried} rows; "
          f"emails {verdict.emails} {dict(state.statuses)}; Tasks {verdict.tasks}, synced {verdict.synced}, "
          f"duplicates {verdict.duplicates}; elapsed {elapsed:.1f}s")
    assert sum(c.status >= 500 for c in data_calls) == hits[clouds.salesforce] > 0
    assert hits[clouds.salesforce] > 0 and throttles == hits[clouds.microsoft] == len(mailbox_ids), \
        "the faults did not bite"
    assert during.system_errors > 0, "no write failed: the Salesforce faults missed the writes"


def test_redis_flushed_mid_run_the_scheduler_and_sweeps_bring_every_email_to_its_outcome(scaled_world, clouds, fleet):
    runtime, mailbox_ids, expected, _ = scaled_world
    # Salesforce answers slowly until the flush, so the run is surely caught midway (on a fast
    # machine the whole run could end between two looks at the database).
    clouds.faults(clouds.salesforce, {"path": "/services/data/*", "status": 0, "latency_ms": 300})
    began = time.monotonic()
    _start_syncing(runtime, fleet, mailbox_ids)
    # Flush once some mail is stored and some of it is still to do: queues, locks and leases go.
    before = wait_until(runtime, fleet, lambda s: s.rows >= expected // 6 and s.pending > 0, "partly synced",
                        seconds=60)
    flushed_at = time.monotonic() - began
    runtime.redis.flushdb()
    clouds.http.delete(f"{clouds.salesforce}/_sandbox/faults").raise_for_status()
    state = wait_until(runtime, fleet, lambda s: s.settled(expected), "settled after the flush")
    elapsed = time.monotonic() - began
    fleet.stop()
    verdict = assert_each_email_has_one_outcome_and_one_task(runtime, clouds, expected)
    print(f"\nflush: at {flushed_at:.1f}s with {before.rows} rows stored ({before.pending} pending); "
          f"emails {verdict.emails} {dict(state.statuses)}; Tasks {verdict.tasks}, synced {verdict.synced}, "
          f"duplicates {verdict.duplicates}; settled after {elapsed:.1f}s")


def test_a_sync_job_and_follow_up_left_started_by_dead_workers_do_not_block_the_mailbox(redis_url):
    """What SIGKILL leaves in RQ, made by hand: both job ids 'started', nobody holding the
    mailbox lock. The next enqueue must queue a run, not wait for RQ's cleanup."""
    from rq import Queue
    from rq.job import Job, JobStatus

    from mailferry.job_queue import FOLLOW_UP_SUFFIX, SYNC_QUEUE, mailbox_lock_key, sync_job_id

    connection = redis.Redis.from_url(redis_url)
    queue = Queue(SYNC_QUEUE, connection=connection)
    for job_id in (sync_job_id(41), sync_job_id(41) + FOLLOW_UP_SUFFIX):
        job = queue.enqueue("worker.jobs.sync_mailbox", 41, job_id=job_id)
        queue.remove(job)
        job.set_status(JobStatus.STARTED)
    connection.set(mailbox_lock_key(41), "a live run", px=5_000)
    assert enqueue_sync(connection, 41) is False  # alive: its follow-up is there already
    connection.delete(mailbox_lock_key(41))
    assert enqueue_sync(connection, 41) is True  # dead: a new run is queued
    assert queue.job_ids == [sync_job_id(41)]
    assert Job.fetch(sync_job_id(41), connection=connection).get_status() == JobStatus.QUEUED


def test_a_periodic_job_left_started_by_a_dead_worker_is_queued_again_after_its_interval(redis_url):
    from rq import Queue
    from rq.job import Job, JobStatus

    from mailferry.job_queue import FOLLOW_UP_SUFFIX, MAINTENANCE_QUEUE, enqueue_maintenance

    connection = redis.Redis.from_url(redis_url)
    queue = Queue(MAINTENANCE_QUEUE, connection=connection)
    for job_id in ("periodic-expire_and_purge", "periodic-expire_and_purge" + FOLLOW_UP_SUFFIX):
        job = queue.enqueue("worker.jobs.expire_and_purge", job_id=job_id)
        queue.remove(job)
        job.started_at = datetime.now(UTC) - timedelta(seconds=45)
        job.save()
        job.set_status(JobStatus.STARTED)
    assert enqueue_maintenance(connection, "expire_and_purge", 60) is False  # started 45 s ago: may still run
    assert enqueue_maintenance(connection, "expire_and_purge", 30) is True  # a whole interval: its worker died
    assert Job.fetch("periodic-expire_and_purge", connection=connection).get_status() == JobStatus.QUEUED


def test_a_sync_job_taken_off_its_queue_by_a_worker_that_died_does_not_block_the_mailbox(small_world, clouds, fleet):
    """A worker killed between taking a job off the queue and starting it leaves the job
    "queued" in RQ, on no queue (in RQ's intermediate list). The scheduler's next poll of the
    mailbox must queue a new run: the mailbox syncs within one scheduler interval of the
    workers starting, not after RQ's cleanup (a minute or more, at a worker's maintenance)."""
    from rq import Queue
    from rq.job import Job, JobStatus

    from mailferry.job_queue import SYNC_QUEUE, sync_job_id
    from worker.scheduler import SCHEDULE

    runtime, mailbox_ids, expected, _ = small_world
    orphaned = mailbox_ids[0]
    queue = Queue(SYNC_QUEUE, connection=runtime.redis)
    assert enqueue_sync(runtime.redis, orphaned) is True
    taken = Queue.dequeue_any([queue], timeout=None, connection=runtime.redis)  # RQ's own first step
    assert taken is not None and taken[0].id == sync_job_id(orphaned)
    # ...and the worker dies here: the job says queued, no queue holds it.
    assert Job.fetch(sync_job_id(orphaned), connection=runtime.redis).get_status() == JobStatus.QUEUED
    assert queue.job_ids == [] and queue.intermediate_queue.get_job_ids() == [sync_job_id(orphaned)]
    assert enqueue_sync(runtime.redis, orphaned) is True, "a notification now queues a run"
    assert queue.job_ids == [sync_job_id(orphaned)] and queue.intermediate_queue.get_job_ids() == []

    # Orphan it again, and let the scheduler alone find the mailbox due.
    Queue.dequeue_any([queue], timeout=None, connection=runtime.redis)
    for mailbox_id in mailbox_ids[1:]:
        enqueue_sync(runtime.redis, mailbox_id)
    interval = float(TIMING_SCALE) * next(
        p.every_seconds for p in SCHEDULE if p.name == "enqueue_due_mailboxes")
    began = time.monotonic()
    fleet.start(1)
    bound = interval + 15  # one interval, plus starting two processes and one mailbox run on a busy machine
    wait_until(runtime, fleet, lambda s: s.settled(expected), "settled with the orphaned job", seconds=bound)
    elapsed = time.monotonic() - began
    fleet.stop()
    verdict = assert_each_email_has_one_outcome_and_one_task(runtime, clouds, expected)
    with runtime.sessions() as session:
        assert session.get(Mailbox, orphaned).last_success_at is not None
    print(f"\norphaned job: both mailboxes ({verdict.emails} emails, {verdict.synced} synced) settled "
          f"{elapsed:.1f}s after the worker started (scheduler interval {interval:.0f}s)")


def test_mail_announced_while_another_worker_syncs_the_mailbox_is_recorded_by_that_run_going_again(
        small_world, clouds, fleet):
    """Two workers and no scheduler (nothing polls). A run of the mailbox holds its lock through
    a slow Salesforce call; mail arriving then is announced as the webhook announces it. The
    follow-up job queued behind the run goes to the other worker, finds the lock held and
    leaves word; the holder runs once more and the mail reaches its outcome. (Skipping the
    follow-up left the mail to the next poll.)"""
    from rq.job import Job

    from mailferry.job_queue import FOLLOW_UP_SUFFIX, sync_job_id

    runtime, mailbox_ids, expected, refs = small_world
    mailbox_id = mailbox_ids[0]
    upn = next(u["userPrincipalName"] for u in clouds.http.get(f"{clouds.microsoft}/_sandbox/users").json()["users"]
               if u["id"] == refs[mailbox_id])
    fleet.start(2, scheduler=False)
    for each in mailbox_ids:
        enqueue_sync(runtime.redis, each)
    wait_until(runtime, fleet, lambda s: s.settled(expected), "the first syncs settled")

    def deliver(subject: str) -> None:
        clouds.http.post(f"{clouds.microsoft}/_sandbox/users/{upn}/messages",
                         json={"from": "buyer@northwind-traders.example", "to": [upn], "subject": subject},
                         timeout=30).raise_for_status()

    def outcome(subject: str) -> str | None:
        with runtime.sessions() as session:
            return session.execute(select(Message.status).where(Message.mailbox_id == mailbox_id,
                                                                Message.subject == subject)).scalar_one_or_none()

    clouds.faults(clouds.salesforce, {"path": "/services/data/*", "status": 0, "latency_ms": 6000, "count": 1})
    deliver("Concurrent: first")
    assert enqueue_sync(runtime.redis, mailbox_id) is True
    deadline = time.monotonic() + 60
    while not clouds.http.get(f"{clouds.salesforce}/_sandbox/faults").json()["faults"][0]["hits"]:
        assert time.monotonic() < deadline, fleet.tail()
        time.sleep(0.1)
    # The run is inside its slow Salesforce call, holding the lock: the second mail arrives.
    deliver("Concurrent: second")
    assert enqueue_sync(runtime.redis, mailbox_id) is True, "a follow-up is queued behind the running job"
    follow_up = Job.fetch(sync_job_id(mailbox_id) + FOLLOW_UP_SUFFIX, connection=runtime.redis)
    deadline = time.monotonic() + 60
    while outcome("Concurrent: second") not in FINAL:
        assert time.monotonic() < deadline, f"the second mail has no outcome\n{fleet.tail()}"
        time.sleep(0.2)
    assert outcome("Concurrent: first") in FINAL
    assert follow_up.return_value() == {"mailbox": mailbox_id,
                                        "skipped": "another worker is syncing it; it runs again after"}
    held = Job.fetch(sync_job_id(mailbox_id), connection=runtime.redis).return_value()
    assert held["runs_again"] == 1, held


@pytest.fixture
def four_mailboxes(clouds, engine_config):
    """`world` with four mailboxes of 30 emails."""
    yield from _world(clouds, engine_config, "4x30")


def test_a_salesforce_call_held_45_s_leaves_readyz_and_the_other_mailboxes_unaffected(
        four_mailboxes, clouds, engine_config, fleet, certs, client_session):
    """One mailbox's Salesforce call hangs for 45 s (under the client's 60 s timeout). No
    transaction is open during it, so on SQLite nobody waits for the write lock: /readyz
    reads the database within 2 s at each poll, and the other mailboxes' runs complete
    meanwhile."""
    from server import create_app
    from tests.https_server import start_https

    runtime, mailbox_ids, expected, _ = four_mailboxes
    hold_ms = 45_000
    clouds.faults(clouds.salesforce, {"path": "/services/data/*/composite", "method": "POST",
                                      "latency_ms": hold_ms, "count": 1})
    server, url = start_https(create_app(engine_config), certs)
    latencies, answers = [], []
    try:
        _start_syncing(runtime, fleet, mailbox_ids)
        held_since = None
        others_done_at = None
        while True:
            began = time.monotonic()
            answer = client_session.get(f"{url}/readyz", timeout=35)
            latencies.append(time.monotonic() - began)
            answers.append(answer.json()["checks"]["database"])  # the first polls may precede the heartbeats
            [fault] = clouds.http.get(f"{clouds.salesforce}/_sandbox/faults").json()["faults"]
            if fault["hits"] and held_since is None:
                held_since = time.monotonic()
            done = _completed_mailboxes(runtime)
            if held_since is not None and others_done_at is None and len(done) == len(mailbox_ids) - 1:
                others_done_at = time.monotonic() - held_since
            if len(done) == len(mailbox_ids):
                break
            assert not fleet.exited(), fleet.tail()
            assert held_since is None or time.monotonic() - held_since < hold_ms / 1000 + 60, (
                f"not settled a minute after the hold\n{_diagnosis(runtime)}\n{fleet.tail()}")
            time.sleep(0.5)
        state = wait_until(runtime, fleet, lambda s: s.settled(expected), "settled after the hold")
    finally:
        server.shutdown()
        fleet.stop()
    assert_each_email_has_one_outcome_and_one_task(runtime, clouds, expected)
    assert set(answers) == {"ok"}, answers
    assert max(latencies) < 2.0, f"/readyz took {max(latencies):.1f}s"
    assert others_done_at is not None and others_done_at < hold_ms / 1000, (
        "the other mailboxes did not complete while the call was held")
    print(f"\nheld call: {len(answers)} /readyz polls, slowest {max(latencies) * 1000:.0f} ms; the other "
          f"{len(mailbox_ids) - 1} mailboxes completed {others_done_at:.1f}s into the {hold_ms / 1000:.0f}s hold; "
          f"{dict(state.statuses)}")


def _completed_mailboxes(runtime) -> set[int]:
    """The mailboxes whose run has completed at least once."""
    with runtime.sessions() as session:
        return set(session.execute(select(Mailbox.id).where(Mailbox.last_success_at.is_not(None))).scalars())
