"""Graph webhooks (server/graph_webhooks.py): the validation handshake, clientState checks and
job enqueueing, end to end with the Microsoft sandbox posting to our app over real HTTPS, a
real Redis (RQ) and the migrated test database."""

from __future__ import annotations

import datetime as dt
import uuid
from types import SimpleNamespace

import pytest
import redis
from rq import Queue
from rq.job import Job, JobStatus
from sqlalchemy.orm import Session

from mailferry import subscription_liveness
from mailferry.db import utcnow
from mailferry.job_queue import SYNC_QUEUE, enqueue_once
from mailferry.models import Mailbox, Subscription, Tenant, User
from mailferry.provider_errors import ProviderError
from server import create_app
from server.graph_webhooks import COUNTER_KEY
from tests.https_server import start_https
from tests.sandbox.microsoft.tenant import ALICE, TENANT

NOTIFY = "/webhooks/graph/notifications"
LIFECYCLE = "/webhooks/graph/lifecycle"


@pytest.fixture
def webapp(microsoft_config):
    return create_app(microsoft_config)


@pytest.fixture
def served(webapp, certs):
    """Our Flask app on a real HTTPS port, reachable by the sandbox's notifier."""
    server, url = start_https(webapp, certs)
    yield url
    server.shutdown()


@pytest.fixture
def rq_redis(redis_url):
    connection = redis.Redis.from_url(redis_url)
    _clear(connection)
    yield connection
    _clear(connection)


def _clear(connection):
    queue = Queue(SYNC_QUEUE, connection=connection)
    queue.empty()
    for key in connection.scan_iter("rq:job:*-mailbox-*"):
        connection.delete(key)
    for key in connection.scan_iter("rq:job:*-subscription-*"):
        connection.delete(key)
    for key in connection.scan_iter("mailferry:subscription:*"):
        connection.delete(key)
    connection.delete(COUNTER_KEY)


@pytest.fixture
def mailbox_id(engine) -> int:
    """A committed tenant, user and mailbox (the web app reads them with its own connection)."""
    with Session(engine) as session:
        tenant = Tenant(tid=f"tid-{uuid.uuid4()}", name="Contoso", primary_domain="contoso-test.com")
        session.add(tenant)
        session.flush()
        user = User(tenant_id=tenant.id, oid=ALICE.oid, upn=ALICE.upn)
        session.add(user)
        session.flush()
        mailbox = Mailbox(tenant_id=tenant.id, user_id=user.id, address=ALICE.upn)
        session.add(mailbox)
        session.commit()
        tenant_id, mailbox_id = tenant.id, mailbox.id
    yield mailbox_id
    with Session(engine) as session:
        session.delete(session.get(Tenant, tenant_id))
        session.commit()


def store_subscription(engine, secret_box, mailbox_id: int, graph_id: str, client_state: str) -> int:
    with Session(engine) as session:
        row = Subscription(mailbox_id=mailbox_id, graph_subscription_id=graph_id,
                           resource=f"users/{ALICE.upn}/mailFolders/inbox/messages",
                           sealed_client_state=secret_box.seal(client_state),
                           expires_at=dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=2))
        session.add(row)
        session.commit()
        return row.id


def later(hours: int) -> dt.datetime:
    return (dt.datetime.now(dt.timezone.utc) + dt.timedelta(hours=hours)).replace(microsecond=0)


def jobs(connection) -> list[Job]:
    queue = Queue(SYNC_QUEUE, connection=connection)
    return [Job.fetch(job_id, connection=connection) for job_id in queue.job_ids]


def deliver(client_session, microsoft_url, subject="Hello") -> dict:
    answer = client_session.post(f"{microsoft_url}/_sandbox/users/{ALICE.upn}/messages",
                                 json={"from": "erin@prospect.example", "to": [ALICE.upn], "subject": subject})
    assert answer.status_code == 201, answer.text
    return answer.json()


def drain_notifications(client_session, microsoft_url) -> list[dict]:
    return client_session.get(f"{microsoft_url}/_sandbox/notifications?wait=1").json()["notifications"]


# -- the handshake ---------------------------------------------------------------------------------
@pytest.mark.parametrize("path", [NOTIFY, LIFECYCLE])
def test_validation_handshake_echoes_the_decoded_token_as_plain_text(webapp, path):
    answer = webapp.test_client().post(f"{path}?validationToken=Validation%3A%20Testing%20client%20%3C%26%3E%2B",
                                       content_type="text/plain; charset=utf-8")
    assert answer.status_code == 200
    assert answer.mimetype == "text/plain"
    assert answer.get_data(as_text=True) == "Validation: Testing client <&>+"


def test_subscription_create_renew_delete_with_the_handshake_reaching_our_https_server(
        app_graph, served, microsoft_url, client_session):
    inbox = app_graph.folder(ALICE.upn, "inbox")["id"]
    # Each expiry computed once: a second may tick between two calls of later().
    expiry, renewal = later(24), later(48)
    created = app_graph.create_subscription(ALICE.upn, inbox, f"{served}{NOTIFY}", f"{served}{LIFECYCLE}",
                                        "state-1", expiry)
    assert created.id and created.expires_at == expiry
    [live] = client_session.get(f"{microsoft_url}/_sandbox/subscriptions").json()["subscriptions"]
    assert live["id"] == created.id and live["notificationUrl"] == f"{served}{NOTIFY}"
    assert live["lifecycleNotificationUrl"] == f"{served}{LIFECYCLE}"
    assert live["changeType"] == "created,updated,deleted" and inbox in live["resource"]
    renewed = app_graph.renew_subscription(created.id, renewal)
    assert renewed.id == created.id and renewed.expires_at == renewal
    assert app_graph.delete_subscription(created.id) is True
    assert app_graph.delete_subscription(created.id) is False  # already gone: nothing to do
    assert client_session.get(f"{microsoft_url}/_sandbox/subscriptions").json()["subscriptions"] == []


def test_subscription_refused_when_our_endpoint_cannot_answer_the_handshake(app_graph):
    inbox = app_graph.folder(ALICE.upn, "inbox")["id"]
    with pytest.raises(ProviderError) as caught:
        app_graph.create_subscription(ALICE.upn, inbox, "https://localhost:1/webhooks/graph/notifications", None,
                                  "state", later(24))
    assert caught.value.status == 400 and caught.value.code == "InvalidRequest"


# -- notifications ---------------------------------------------------------------------------------
def test_delivered_mail_enqueues_exactly_one_sync_job_for_the_mailbox(
        app_graph, served, microsoft_url, client_session, engine, secret_box, mailbox_id, rq_redis):
    inbox = app_graph.folder(ALICE.upn, "inbox")["id"]
    sub = app_graph.create_subscription(ALICE.upn, inbox, f"{served}{NOTIFY}", f"{served}{LIFECYCLE}",
                                    "s3cret-state", later(24))
    store_subscription(engine, secret_box, mailbox_id, sub.id, "s3cret-state")
    for n in range(3):  # a burst: three notifications, one job
        deliver(client_session, microsoft_url, subject=f"Burst {n}")
    log = [entry for entry in drain_notifications(client_session, microsoft_url) if entry["kind"] == "change"]
    assert len(log) == 3 and {entry["status"] for entry in log} == {202}
    [job] = jobs(rq_redis)
    assert job.id == f"sync-mailbox-{mailbox_id}"
    assert job.func_name == "worker.jobs.sync_mailbox" and job.args == (mailbox_id,)
    assert int(rq_redis.hget(COUNTER_KEY, "accepted")) == 3


def test_forged_client_state_is_ignored_and_counted(webapp, engine, secret_box, mailbox_id, rq_redis):
    row_id = store_subscription(engine, secret_box, mailbox_id, "sub-forged-test", "the-real-state")
    note = {"subscriptionId": "sub-forged-test", "clientState": "a-guess", "changeType": "created",
            "resource": "Users/x/Messages/y", "tenantId": TENANT}
    answer = webapp.test_client().post(NOTIFY, json={"value": [note]})
    assert answer.status_code == 202
    assert jobs(rq_redis) == []
    assert int(rq_redis.hget(COUNTER_KEY, "client_state_mismatch")) == 1
    assert subscription_liveness.last_heard(rq_redis, row_id) is None  # a forgery is no sign of life
    # The genuine state for the same subscription is accepted, and noted as a sign of life.
    before = dt.datetime.now(dt.timezone.utc)
    webapp.test_client().post(NOTIFY, json={"value": [{**note, "clientState": "the-real-state"}]})
    assert [job.id for job in jobs(rq_redis)] == [f"sync-mailbox-{mailbox_id}"]
    assert before <= subscription_liveness.last_heard(rq_redis, row_id) <= dt.datetime.now(dt.timezone.utc)


def test_unknown_subscription_missing_client_state_and_malformed_bodies_are_ignored(webapp, rq_redis):
    client = webapp.test_client()
    assert client.post(NOTIFY, json={"value": [{"subscriptionId": "nobody", "clientState": "x"}]}).status_code == 202
    assert client.post(NOTIFY, json={"value": [{"subscriptionId": None}, "junk", 3]}).status_code == 202
    assert client.post(NOTIFY, data="not json", content_type="application/json").status_code == 202
    assert client.post(NOTIFY, json=["not", "an", "object"]).status_code == 202
    assert jobs(rq_redis) == []
    assert int(rq_redis.hget(COUNTER_KEY, "unknown_subscription")) == 1
    assert int(rq_redis.hget(COUNTER_KEY, "malformed")) == 2


# -- lifecycle events --------------------------------------------------------------------------------
@pytest.mark.parametrize("event, job_id, function", [
    ("reauthorizationRequired", "renew-subscription-{subscription}", "worker.jobs.renew_subscription"),
    ("subscriptionRemoved", "replace-subscription-{subscription}", "worker.jobs.replace_subscription"),
    ("missed", "sync-mailbox-{mailbox}", "worker.jobs.sync_mailbox"),
])
def test_lifecycle_event_enqueues_its_job(event, job_id, function, app_graph, served, microsoft_url, client_session,
                                          engine, secret_box, mailbox_id, rq_redis):
    inbox = app_graph.folder(ALICE.upn, "inbox")["id"]
    sub = app_graph.create_subscription(ALICE.upn, inbox, f"{served}{NOTIFY}", f"{served}{LIFECYCLE}",
                                    "life-state", later(24))
    row_id = store_subscription(engine, secret_box, mailbox_id, sub.id, "life-state")
    subscription_liveness.heard(rq_redis, [row_id], utcnow() - dt.timedelta(seconds=1))  # notifications flowed
    answer = client_session.post(f"{microsoft_url}/_sandbox/subscriptions/{sub.id}/lifecycle", json={"event": event})
    assert answer.status_code == 202, answer.text
    [entry] = [e for e in drain_notifications(client_session, microsoft_url) if e["kind"] == "lifecycle"]
    assert entry["status"] == 202
    [job] = jobs(rq_redis)
    assert job.id == job_id.format(subscription=row_id, mailbox=mailbox_id)
    assert job.func_name == function
    assert job.args == ((row_id,) if "subscription}" in job_id else (mailbox_id,))
    # Only `missed` says notifications were lost: they no longer count as flowing (polling is
    # back at the Sync Frequency) until this subscription is heard from again.
    watched = SimpleNamespace(id=mailbox_id, folders=[], subscriptions=[
        SimpleNamespace(id=row_id, resource=inbox, expires_at=later(24))])
    assert (subscription_liveness.flowing(rq_redis, [watched], utcnow()) == set()) == (event == "missed")


# -- one job per mailbox -----------------------------------------------------------------------------
def test_enqueue_once_coalesces_waiting_jobs_and_queues_one_follow_up_behind_a_running_one(rq_redis):
    assert enqueue_once(rq_redis, SYNC_QUEUE, "worker.jobs.sync_mailbox", 7, job_id="sync-mailbox-7") is True
    assert enqueue_once(rq_redis, SYNC_QUEUE, "worker.jobs.sync_mailbox", 7, job_id="sync-mailbox-7") is False
    assert [job.id for job in jobs(rq_redis)] == ["sync-mailbox-7"]
    # A worker takes it: a change now may come after its delta read, so one follow-up waits.
    running = Job.fetch("sync-mailbox-7", connection=rq_redis)
    Queue(SYNC_QUEUE, connection=rq_redis).remove(running)
    running.set_status(JobStatus.STARTED)
    assert enqueue_once(rq_redis, SYNC_QUEUE, "worker.jobs.sync_mailbox", 7, job_id="sync-mailbox-7") is True
    assert enqueue_once(rq_redis, SYNC_QUEUE, "worker.jobs.sync_mailbox", 7, job_id="sync-mailbox-7") is False
    assert [job.id for job in jobs(rq_redis)] == ["sync-mailbox-7-again"]
    # Once it finished, its kept result does not block the next run.
    running.set_status(JobStatus.FINISHED)
    Queue(SYNC_QUEUE, connection=rq_redis).empty()
    assert enqueue_once(rq_redis, SYNC_QUEUE, "worker.jobs.sync_mailbox", 7, job_id="sync-mailbox-7") is True
    assert [job.id for job in jobs(rq_redis)] == ["sync-mailbox-7"]


def test_a_job_changing_under_the_enqueue_does_not_make_the_webhook_answer_500(webapp, engine, secret_box, mailbox_id,
                                                                                rq_redis):
    """What a worker finishing the previous run leaves for a moment: the finished job still
    lists an execution whose hash is gone, and RQ's delete raises `ValueError: Execution …
    not found in Redis`. The notification is still taken: 202, and the sync queued."""
    from rq.executions import ExecutionRegistry

    store_subscription(engine, secret_box, mailbox_id, "sub-race", "race-state")
    finished = Queue(SYNC_QUEUE, connection=rq_redis).enqueue("worker.jobs.sync_mailbox", mailbox_id,
                                                             job_id=f"sync-mailbox-{mailbox_id}")
    Queue(SYNC_QUEUE, connection=rq_redis).remove(finished)
    finished.set_status(JobStatus.FINISHED)
    registry = ExecutionRegistry(job_id=finished.id, connection=rq_redis)
    rq_redis.zadd(registry.key, {"vanished-execution": dt.datetime.now(dt.timezone.utc).timestamp() + 600})
    with pytest.raises(ValueError, match="not found in Redis"):
        Job.fetch(finished.id, connection=rq_redis).delete()  # the race, as RQ meets it

    note = {"subscriptionId": "sub-race", "clientState": "race-state", "changeType": "created",
            "resource": "Users/x/Messages/y", "tenantId": TENANT}
    answer = webapp.test_client().post(NOTIFY, json={"value": [note]})
    assert answer.status_code == 202
    [job] = jobs(rq_redis)
    assert job.id == f"sync-mailbox-{mailbox_id}" and job.get_status() == JobStatus.QUEUED
