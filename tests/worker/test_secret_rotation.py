"""`mailferry secrets rotate` on a synced demo world: every sealed value re-sealed under the
newest key, the older key then removable (the app syncs with the new key alone), a second run
changing nothing; and a worker without the newest key stops, leaving every connection
connected and every mailbox as it was."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from rq import Queue
from rq.job import Job
from sqlalchemy import select, text, update

from mailferry import email_state
from mailferry.crypto import SecretBox, key_fingerprint, looks_sealed
from mailferry.db import utcnow
from mailferry.job_queue import SYNC_QUEUE, enqueue_sync, sync_job_id
from mailferry.models import Connection, Mailbox, Message
from mailferry.secret_rotation import rotate
from server import create_app
from tests.https_server import start_https
from tests.mailferry_command import mailferry
from tests.worker.demo_rep import REP
from worker import jobs
from worker.runtime import Runtime, use_runtime
from worker.sealed import WorkerLacksKey

PROJECT_ROOT = Path(__file__).resolve().parents[2]
LEGACY_BODY = "Body stored before bodies were sealed: call me on 555-0142"


@pytest.fixture
def engine_config(engine_config, certs):
    """MAILFERRY_BASE_URL at our web app over HTTPS, so that Graph's validation handshake
    reaches it and the runs store subscriptions (with their sealed client states)."""
    server, url = start_https(create_app(engine_config), certs)
    yield replace(engine_config, base_url=url)
    server.shutdown()


def _sealed_values(engine) -> list[tuple[str, bytes]]:
    """Every sealed value the database holds, as (where, token)."""
    with engine.connect() as db:
        rows = [("connection", bytes(v)) for (v,) in db.execute(
            text("SELECT sealed_secrets FROM connections WHERE sealed_secrets IS NOT NULL"))]
        rows += [("subscription", bytes(v)) for (v,) in db.execute(text("SELECT sealed_client_state FROM subscriptions"))]
        rows += [("body", v.encode()) for (v,) in db.execute(
            text("SELECT body_text FROM messages WHERE body_text IS NOT NULL"))]
    return rows


def _with_keys(runtime: Runtime, *keys: str) -> Runtime:
    other = Runtime(replace(runtime.config, encryption_keys=keys))
    use_runtime(other)
    return other


def _unknown_sender_mail(clouds, subject: str) -> None:
    clouds.deliver(REP, **{"from": {"address": "dana@unknown-prospect.example", "name": "Dana"},
                           "to": [{"address": REP}], "subject": subject, "body": "Are you free Thursday?"})


def _variables(config, keys: tuple[str, ...]) -> dict[str, str]:
    """The settings of the test's configuration, with other encryption keys (for a child process)."""
    return {"DATABASE_URL": config.database_url, "REDIS_URL": config.redis_url, "MAILFERRY_ENV": "demo",
            "MAILFERRY_BASE_URL": config.base_url,
            "MAILFERRY_DATA_DIR": str(config.data_dir), "MAILFERRY_CERTS_DIR": str(config.certs_dir),
            "MAILFERRY_ENCRYPTION_KEYS": ",".join(keys), "MAILFERRY_SECRET_KEY": config.secret_key,
            "MAILFERRY_SANDBOX_MICROSOFT_PORT": str(config.sandbox_microsoft_port),
            "MAILFERRY_SANDBOX_SALESFORCE_PORT": str(config.sandbox_salesforce_port)}


def test_rotation_reseals_every_secret_and_the_old_key_can_then_be_removed(pipeline, rep, clouds):
    runtime, _ = pipeline
    old = runtime.config.encryption_keys[0]
    jobs.sync_mailbox(rep[1])  # the demo backfill: tokens refreshed, subscriptions made, bodies stored
    _unknown_sender_mail(clouds, "Probe: rotation unresolved")
    jobs.sync_mailbox(rep[1])
    with runtime.session() as session:  # a row as a release before sealed bodies left it
        legacy = session.execute(select(Message).where(Message.subject == "Probe: rotation unresolved")).scalar_one()
        assert legacy.status == "unresolved" and legacy.body_text is not None
        session.execute(update(Message).where(Message.id == legacy.id).values(body_text=LEGACY_BODY))
        legacy_id = legacy.id
    before = _sealed_values(runtime.engine)
    assert {where for where, _ in before} == {"connection", "subscription", "body"}

    new = Fernet.generate_key().decode()
    answer = mailferry("secrets", "rotate", **_variables(runtime.config, (new, old)))
    print(answer.stdout, answer.stderr)
    assert answer.returncode == 0, answer.stderr
    assert f"key 2 (fingerprint {key_fingerprint(old)})" in answer.stdout
    assert "can now be removed" in answer.stdout
    assert "1 stored in plain text before, now sealed" in answer.stdout

    only_new = SecretBox([new])
    after = _sealed_values(runtime.engine)
    assert len(after) == len(before)
    for where, token in after:
        assert only_new.open(token) is not None, where
    with runtime.sessions() as session:
        stored = session.get(Message, legacy_id).body_text
    assert looks_sealed(stored) and only_new.open_text(stored) == LEGACY_BODY
    assert LEGACY_BODY.encode() not in b"".join(token for _, token in after)

    again = rotate(runtime.engine, SecretBox([new, old]))  # idempotent: nothing left to re-seal
    assert sum(t.resealed + t.plain_sealed for t in again.tallies.values()) == 0
    assert sum(t.current for t in again.tallies.values()) == len(after)
    assert again.old_keys_removable

    # The old key removed: the app works with the new key alone. The legacy row's sender
    # becomes a Contact and the row is retried now: its Task carries the body rotate sealed.
    runtime = _with_keys(runtime, new)
    try:
        clouds.plant("Contact", {"FirstName": "Dana", "LastName": "Prospect", "Email": "dana@unknown-prospect.example"})
        with runtime.session() as session:
            email_state.due_now(session, Message.id == legacy_id, utcnow())
        clouds.deliver(REP, **{"from": {"address": "dana@unknown-prospect.example", "name": "Dana"},
                               "to": [{"address": REP}], "subject": "Probe: after rotation", "body": "New key only"})
        result = jobs.sync_mailbox(rep[1])
        assert "error" not in result, result
        with runtime.sessions() as session:
            rows = {m.subject: m for m in session.execute(select(Message).where(Message.id >= legacy_id)).scalars()}
            statuses = {c.provider: c.status for c in session.execute(select(Connection)).scalars()}
        assert rows["Probe: after rotation"].status == "synced"
        assert rows["Probe: rotation unresolved"].status == "synced"
        task = clouds.records("Task", Id=rows["Probe: rotation unresolved"].salesforce_task_id)[0]
        assert LEGACY_BODY in task["Description"]
        assert set(statuses.values()) == {"connected"}
    finally:
        use_runtime(None)
        runtime.engine.dispose()


def _states(runtime) -> tuple[list, list]:
    with runtime.sessions() as session:
        connections = sorted((c.id, c.status) for c in session.execute(select(Connection)).scalars())
        mailboxes = sorted((m.id, m.status, m.status_detail, m.failure_count, m.stage)
                           for m in session.execute(select(Mailbox)).scalars())
    return connections, mailboxes


def test_a_worker_without_the_newest_key_stops_and_leaves_every_connection_connected(pipeline, rep, clouds):
    runtime, _ = pipeline
    old = runtime.config.encryption_keys[0]
    jobs.sync_mailbox(rep[1])
    new = Fernet.generate_key().decode()
    assert rotate(runtime.engine, SecretBox([new, old])).old_keys_removable  # every secret under the new key
    connections, mailboxes = _states(runtime)
    assert {status for _, status in connections} == {"connected"}

    # A run in this process with the old key only: it stops, naming the fix, and changes nothing.
    stale = _with_keys(runtime, old)
    _unknown_sender_mail(clouds, "Probe: stale worker")
    try:
        with pytest.raises(WorkerLacksKey, match="No connection or mailbox was changed"):
            jobs.sync_mailbox(rep[1])
        assert _states(stale) == (connections, mailboxes)
    finally:
        use_runtime(None)
        stale.engine.dispose()

    # A `mailferry worker` process with the old key only: it refuses the job and exits.
    config = runtime.config
    enqueue_sync(runtime.redis, rep[1])  # False when a notification's sync job waits already
    assert Queue(SYNC_QUEUE, connection=runtime.redis).count >= 1
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MAILFERRY_", "DATABASE_URL", "REDIS_URL"))}
    log = Path(config.data_dir) / "stale-worker.log"
    with open(log, "wb") as out:
        worker = subprocess.Popen([sys.executable, "-m", "cli.main", "worker"], cwd=PROJECT_ROOT,
                                  env={**env, **_variables(config, (old,)), "PYTHONUNBUFFERED": "1"},
                                  stdout=out, stderr=subprocess.STDOUT)
    try:
        code = worker.wait(timeout=60)
    except subprocess.TimeoutExpired:
        worker.kill()
        worker.wait()
        raise AssertionError("the worker without the newest key kept running:\n" + log.read_text())
    output = log.read_text()
    print(output)
    # The job it refused stays in RQ's registries on the session's shared Redis, where the next
    # test's worker (same queue, same mailbox id in its own database) would meet it.
    Job.fetch(sync_job_id(rep[1]), connection=runtime.redis).delete()
    assert code == 0
    assert "This worker cannot open the client state of Graph subscription" in output  # checked first
    assert "give this host the same MAILFERRY_ENCRYPTION_KEYS" in output
    assert _states(runtime) == (connections, mailboxes)
