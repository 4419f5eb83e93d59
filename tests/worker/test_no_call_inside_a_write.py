"""No call to Microsoft or Salesforce while the worker holds a database write transaction.

On SQLite the write lock is the file's only one (mailferry/db.py): a Salesforce call that
lasts 60 s inside a write transaction would make /healthz, every page and every other
mailbox's run wait, then fail with "database is locked". On PostgreSQL such a transaction
holds its row locks as long. So before each HTTP request the worker sends, the test asks the
database itself whether a write transaction is open: SQLite by trying to take its write lock
without waiting, PostgreSQL by looking for a backend whose transaction has written.
"""

from __future__ import annotations

import sqlite3
import threading
import time
import traceback
from dataclasses import dataclass, field

import psycopg
import pytest
from requests.adapters import HTTPAdapter
from sqlalchemy import select, update
from sqlalchemy.engine import make_url

from mailferry.db import normalise_url, utcnow
from mailferry.ignoring import ignore_emails
from mailferry.models import Message, UserSetting
from tests.db_fixtures import is_postgresql
from tests.worker.demo_rep import REP
from worker import jobs



@dataclass
class WriteLockWatch:
    """Every request sent while some connection held a write transaction, with where from."""

    database_url: str
    calls: int = 0
    inside_a_write: list[str] = field(default_factory=list)

    def write_open(self) -> bool:
        if is_postgresql(self.database_url):
            url = make_url(normalise_url(self.database_url)).set(drivername="postgresql")
            with psycopg.connect(url.render_as_string(hide_password=False), autocommit=True) as probe:
                return probe.execute(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                    " AND pid <> pg_backend_pid() AND backend_xid IS NOT NULL").fetchone()[0] > 0
        probe = sqlite3.connect(make_url(self.database_url).database, timeout=0, isolation_level=None)
        try:
            probe.execute("BEGIN IMMEDIATE")
            probe.execute("ROLLBACK")
            return False
        except sqlite3.OperationalError as error:
            if "locked" not in str(error):
                raise
            return True
        finally:
            probe.close()

    def before_send(self, request) -> None:
        ours = [f"{frame.filename.rsplit('/', 2)[-2]}/{frame.filename.rsplit('/', 1)[-1]}:{frame.lineno} {frame.name}"
                for frame in traceback.extract_stack()
                if any(f"/{package}/" in frame.filename for package in ("worker", "mailferry"))
                and "/tests/" not in frame.filename]
        if not ours:
            return  # a sandbox server in this process calling our webhook, not the product
        self.calls += 1
        if self.write_open():
            self.inside_a_write.append(f"{request.method} {request.url.split('?')[0]} from "
                                       f"{' < '.join(reversed(ours[-9:]))}")


@pytest.fixture
def write_lock_watch(engine_config, monkeypatch):
    watch = WriteLockWatch(engine_config.database_url)
    send = HTTPAdapter.send

    def watched_send(adapter, request, *args, **kwargs):
        watch.before_send(request)
        return send(adapter, request, *args, **kwargs)

    monkeypatch.setattr(HTTPAdapter, "send", watched_send)  # requests' transport: every call still goes out
    return watch


def test_a_first_sync_and_a_second_one_make_no_call_inside_a_write_transaction(pipeline, clouds, write_lock_watch):
    runtime, mailbox_ids = pipeline
    for mailbox_id in mailbox_ids:
        jobs.sync_mailbox(mailbox_id)
    for mailbox_id in mailbox_ids:
        jobs.sync_mailbox(mailbox_id)
    assert write_lock_watch.calls > 10
    assert write_lock_watch.inside_a_write == [], "\n".join(dict.fromkeys(write_lock_watch.inside_a_write))


def test_refreshed_tokens_failed_writes_throttling_and_a_deleted_task_make_no_call_inside_a_write_transaction(
        pipeline, rep, clouds, write_lock_watch):
    """The paths with extra calls or extra writes between calls: a Salesforce session that
    expired (refresh, tokens stored, call again), a 503 on a write (rows Unresolved), Graph
    throttling, and a Task withdrawn after DoNotSync."""
    runtime, _ = pipeline
    user_id, mailbox_id = rep
    with runtime.session() as session:
        session.add(UserSetting(user_id=user_id, key="prevent_delete", value=False))
    jobs.sync_mailbox(mailbox_id)
    contact = next(c for c in clouds.records("Contact") if c.get("Email") and "'" not in c["Email"])
    sent = clouds.deliver(REP, **{"from": {"address": contact["Email"]}, "to": [{"address": REP}],
                                 "subject": "Probe: withdrawn later"})
    clouds.faults(clouds.salesforce,
                  {"path": "/services/data/*", "status": 401, "error_code": "INVALID_SESSION_ID", "count": 1},
                  {"path": "/services/data/*/composite", "method": "POST", "status": 503, "count": 1})
    clouds.faults(clouds.microsoft, {"path": "/v1.0/$batch", "status": 429, "error_code": "TooManyRequests",
                                     "retry_after": 1, "count": 1})
    jobs.sync_mailbox(mailbox_id)  # throttled
    time.sleep(1.1)
    jobs.sync_mailbox(mailbox_id)  # refresh, the 503
    with runtime.sessions() as session:
        row = session.execute(select(Message).where(Message.subject == "Probe: withdrawn later")).scalar_one()
        session.execute(update(Message).where(Message.id == row.id).values(next_attempt_at=utcnow()))
        session.commit()
    jobs.sync_mailbox(mailbox_id)  # the retry writes the Task
    clouds.change(REP, sent["id"], categories=["DoNotSync"])
    jobs.sync_mailbox(mailbox_id)  # ...and withdraws it
    with runtime.sessions() as session:
        row = session.execute(select(Message).where(Message.subject == "Probe: withdrawn later")).scalar_one()
    assert (row.status, row.reason, row.salesforce_task_id) == ("excluded", "donotsync_category", None)
    hits = {f["status"]: f["hits"] for base in (clouds.microsoft, clouds.salesforce)
            for f in clouds.http.get(f"{base}/_sandbox/faults").json()["faults"]}
    assert hits == {401: 1, 503: 1, 429: 1}, "every fault bit"
    assert write_lock_watch.inside_a_write == [], "\n".join(dict.fromkeys(write_lock_watch.inside_a_write))


def test_an_email_the_user_ignores_while_its_task_is_being_written_stays_ignored(pipeline, rep, clouds):
    """With no transaction held across the write, the user's Ignore Email can land while
    Salesforce is writing the Task. Their choice wins: the row stays ignored with its
    operation pending (so the next run decides it again), and knows the Task now in
    Salesforce; it is not overwritten with "synced"."""
    runtime, _ = pipeline
    user_id, mailbox_id = rep
    jobs.sync_mailbox(mailbox_id)
    contact = next(c for c in clouds.records("Contact") if c.get("Email") and "'" not in c["Email"])
    clouds.deliver(REP, **{"from": {"address": contact["Email"]}, "to": [{"address": REP}],
                           "subject": "Probe: ignored mid-write"})
    clouds.faults(clouds.salesforce, {"path": "/services/data/*/composite", "method": "POST",
                                      "latency_ms": 3000, "count": 2})  # the lookup, then the write
    run = threading.Thread(target=jobs.sync_mailbox, args=(mailbox_id,))
    run.start()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        with runtime.sessions() as session:
            row = session.execute(select(Message).where(Message.subject == "Probe: ignored mid-write")
                                  ).scalar_one_or_none()
        if row is not None:
            break
        time.sleep(0.05)
    time.sleep(1.0)  # stored, decided, and now inside the held lookup (3 s)
    with runtime.session() as session:  # the web app's Ignore Email, during the held calls
        ignore_emails(session, user_id, [row.id], "web", utcnow())
    run.join(timeout=30)
    with runtime.sessions() as session:
        row = session.execute(select(Message).where(Message.subject == "Probe: ignored mid-write")).scalar_one()
    tasks = [t for t in clouds.records("Task") if "Probe: ignored mid-write" in (t.get("Subject") or "")]
    [task] = tasks
    assert (row.status, row.reason) == ("ignored", "ignore_email")
    assert row.pending_operation is not None and row.salesforce_task_id == task["Id"]
