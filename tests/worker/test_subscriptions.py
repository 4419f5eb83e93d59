"""Graph subscriptions that Graph no longer knows (reference §1.8), end to end: the worker
against the Microsoft sandbox over HTTPS, our web app on a real HTTPS port receiving the
sandbox's notifications, a real Redis and RQ worker. A dropped subscription is recreated for
its folder only, in the run that finds it gone, and notifications flow again."""

from __future__ import annotations

import dataclasses
import threading
import time
from datetime import timedelta

import pytest
from redis import Redis
from rq import Queue, SimpleWorker
from rq.job import Job
from rq.registry import FailedJobRegistry
from sqlalchemy import select

from mailferry import subscription_liveness
from mailferry.db import utcnow
from mailferry.job_queue import SYNC_QUEUE
from mailferry.models import Mailbox, Message, Subscription
from server import create_app
from tests.https_server import start_https
from worker import jobs, maintenance, subscriptions

SUBSCRIPTION_GET = "GET /v1.0/subscriptions/<subscription_id>"


@pytest.fixture
def engine_config(engine_config, certs):
    """The engine's config with MAILFERRY_BASE_URL at our web app, served over HTTPS, so
    Graph's validation handshake and notifications reach it."""
    server, url = start_https(create_app(engine_config), certs)
    yield dataclasses.replace(engine_config, base_url=url)
    server.shutdown()


@pytest.fixture
def redis(engine_config) -> Redis:
    connection = Redis.from_url(engine_config.redis_url)
    _clear(connection)
    yield connection
    _clear(connection)


def _clear(connection: Redis) -> None:
    Queue(SYNC_QUEUE, connection=connection).empty()
    for pattern in ("rq:job:*-mailbox-*", "rq:job:*-subscription-*", "mailferry:subscription:*"):
        for key in connection.scan_iter(pattern):
            connection.delete(key)


@pytest.fixture
def mailbox(pipeline, clouds, redis):
    """(runtime, mailbox id, address) after a first run created the Inbox and Sent Items
    subscriptions, with the notifications of that run delivered and their jobs cleared."""
    runtime, mailbox_ids = pipeline
    mailbox_id = mailbox_ids[0]
    sync(mailbox_id)
    assert set(rows(runtime, mailbox_id)) == {"inbox", "sentitems"}
    settle(clouds)
    Queue(SYNC_QUEUE, connection=redis).empty()
    with runtime.sessions() as session:
        address = session.get(Mailbox, mailbox_id).address
    return runtime, mailbox_id, address


def sync(mailbox_id: int) -> dict:
    result = jobs.sync_mailbox(mailbox_id)
    assert "error" not in result and "skipped" not in result, result
    return result


def rows(runtime, mailbox_id: int) -> dict[str, str]:
    """Our subscriptions of the mailbox: folder → Graph subscription id."""
    with runtime.sessions() as session:
        return {s.resource: s.graph_subscription_id for s in session.scalars(
            select(Subscription).where(Subscription.mailbox_id == mailbox_id))}


def row_id(runtime, graph_id: str) -> int:
    with runtime.sessions() as session:
        return session.scalars(select(Subscription.id).where(Subscription.graph_subscription_id == graph_id)).one()


def live(clouds) -> dict[str, dict]:
    """The subscriptions the sandbox knows, by id."""
    return {s["id"]: s for s in clouds.http.get(f"{clouds.microsoft}/_sandbox/subscriptions").json()["subscriptions"]}


def settle(clouds) -> list[dict]:
    """The sandbox's notification log once everything queued has been delivered."""
    return clouds.http.get(f"{clouds.microsoft}/_sandbox/notifications?wait=1").json()["notifications"]


def stored(runtime, mailbox_id: int, internet_message_id: str) -> bool:
    with runtime.sessions() as session:
        return session.scalars(select(Message.id).where(
            Message.mailbox_id == mailbox_id, Message.internet_message_id == internet_message_id)).first() is not None


def waiting_jobs(redis: Redis) -> list[str]:
    return Queue(SYNC_QUEUE, connection=redis).job_ids


def work(redis: Redis) -> None:
    """Run every waiting job, as `mailferry worker` does, until the queue is empty."""
    queue = Queue(SYNC_QUEUE, connection=redis)
    SimpleWorker([queue], connection=redis).work(burst=True)
    assert FailedJobRegistry(queue=queue).get_job_ids() == []


def announced(clouds, message_id: str) -> list[tuple[str, object]]:
    """(subscription id, our webhook's answer) of each delivered `created` notification for the message."""
    return [(n["payload"]["value"][0]["subscriptionId"], n["status"]) for n in settle(clouds)
            if n["kind"] == "change" and n["payload"]["value"][0]["changeType"] == "created"
            and n["payload"]["value"][0]["resourceData"]["id"] == message_id]


def deliver(clouds, address: str, subject: str, folder: str = "inbox") -> dict:
    return clouds.deliver(address, folder=folder, subject=subject, to=[address],
                          **{"from": "erin@prospect.example"})


def assert_notifications_resume(mailbox, clouds, redis: Redis, inbox_subscription: str) -> None:
    """Inbox mail now produces a notification of the new subscription, which our webhook
    accepts, and a sync that stores it: no waiting for polling."""
    runtime, mailbox_id, address = mailbox
    settle(clouds)
    Queue(SYNC_QUEUE, connection=redis).empty()
    mail = deliver(clouds, address, "Announced by the new subscription")
    assert announced(clouds, mail["id"]) == [(inbox_subscription, 202)]
    assert waiting_jobs(redis) == [f"sync-mailbox-{mailbox_id}"]
    work(redis)
    assert stored(runtime, mailbox_id, mail["internetMessageId"])


def test_a_renewal_answering_404_recreates_that_folders_subscription_in_the_same_run(mailbox, clouds, redis):
    runtime, mailbox_id, address = mailbox
    before = rows(runtime, mailbox_id)
    clouds.http.delete(f"{clouds.microsoft}/_sandbox/subscriptions/{before['inbox']}").raise_for_status()
    with runtime.session() as session:  # two days later: the Inbox's is due for renewal
        session.get(Subscription, row_id(runtime, before["inbox"])).expires_at = utcnow() + timedelta(hours=1)
    mail = deliver(clouds, address, "While Graph had no subscription")

    sync(mailbox_id)

    after = rows(runtime, mailbox_id)
    assert after["inbox"] != before["inbox"] and after["sentitems"] == before["sentitems"]
    known = live(clouds)
    assert set(known) == {after["inbox"], after["sentitems"]}
    assert known[after["inbox"]]["resource"].endswith("/mailFolders/inbox/messages")
    assert stored(runtime, mailbox_id, mail["internetMessageId"])  # fetched in that same run
    assert_notifications_resume(mailbox, clouds, redis, after["inbox"])


def test_subscription_removed_replaces_only_that_folders_subscription_and_notifications_resume(
        mailbox, clouds, redis):
    runtime, mailbox_id, address = mailbox
    before = rows(runtime, mailbox_id)
    inbox_row = row_id(runtime, before["inbox"])
    answer = clouds.http.post(f"{clouds.microsoft}/_sandbox/subscriptions/{before['inbox']}/lifecycle",
                              json={"event": "subscriptionRemoved"})
    assert answer.status_code == 202, answer.text
    [removed] = [n for n in settle(clouds) if n["kind"] == "lifecycle"]
    assert removed["status"] == 202
    queued = waiting_jobs(redis)

    work(redis)  # the replacement job, then the sync it queues

    after = rows(runtime, mailbox_id)
    assert after["inbox"] != before["inbox"]
    assert after["sentitems"] == before["sentitems"]  # the other folder's stayed live throughout
    assert set(live(clouds)) == {after["inbox"], after["sentitems"]}
    assert queued == [f"replace-subscription-{inbox_row}"]  # one job, for that subscription
    assert_notifications_resume(mailbox, clouds, redis, after["inbox"])


def test_a_silently_dropped_subscription_is_noticed_from_an_overdue_change_and_recreated(
        mailbox, clouds, redis, monkeypatch):
    runtime, mailbox_id, address = mailbox
    # Two minutes in production; a second here, so the test need not wait for a change to age.
    monkeypatch.setattr(subscriptions, "NOTIFICATION_OVERDUE", timedelta(seconds=1))
    before = rows(runtime, mailbox_id)

    # Notifications flowing: a run that finds an old change Graph announced asks Graph nothing.
    time.sleep(1.1)  # Graph's change times have whole seconds: this one comes after the subscription's
    deliver(clouds, address, "Announced")
    settle(clouds)
    time.sleep(1.1)
    clouds.reset_calls()
    sync(mailbox_id)
    assert SUBSCRIPTION_GET not in clouds.calls(clouds.microsoft)["calls"]

    # Graph forgets the Inbox's subscription without a word: mail arrives and nobody is told.
    clouds.http.delete(f"{clouds.microsoft}/_sandbox/subscriptions/{before['inbox']}").raise_for_status()
    settle(clouds)
    time.sleep(1.1)  # after the last notification the webhook accepted
    mail = deliver(clouds, address, "Never announced")
    assert announced(clouds, mail["id"]) == []
    time.sleep(1.1)
    clouds.reset_calls()

    sync(mailbox_id)  # the next poll

    assert clouds.calls(clouds.microsoft)["calls"][SUBSCRIPTION_GET] == 1
    after = rows(runtime, mailbox_id)
    assert after["inbox"] != before["inbox"] and after["sentitems"] == before["sentitems"]
    assert set(live(clouds)) == {after["inbox"], after["sentitems"]}
    assert stored(runtime, mailbox_id, mail["internetMessageId"])
    assert_notifications_resume(mailbox, clouds, redis, after["inbox"])



def polled_within(runtime, mailbox_id: int, minutes: int) -> bool:
    """Whether the scheduler's due query picks the mailbox that many minutes from now."""
    with runtime.sessions() as session:
        return mailbox_id in maintenance.due_mailboxes(session, utcnow() + timedelta(minutes=minutes), runtime.redis)


def last_result(redis: Redis, mailbox_id: int) -> dict:
    return Job.fetch(f"sync-mailbox-{mailbox_id}", connection=redis).return_value()


def test_live_mail_is_polled_hourly_and_arrives_through_notifications_at_two_graph_requests_an_email(
        mailbox, clouds, redis):
    """Twenty emails delivered 1.5 s apart to one mailbox (issue 17's measurement: 60 Graph
    requests before, every run fetching Inbox and Sent Items): each notification's run fetches
    the Inbox only, one `$batch` of one delta (batch parts counted, as Graph's throttling
    counts them), and the poll waits an hour."""
    runtime, mailbox_id, address = mailbox
    mail = deliver(clouds, address, "The first live email")
    settle(clouds)
    work(redis)
    assert stored(runtime, mailbox_id, mail["internetMessageId"])
    assert not polled_within(runtime, mailbox_id, 5) and not polled_within(runtime, mailbox_id, 59)
    assert polled_within(runtime, mailbox_id, 61)
    clouds.reset_calls()
    delivered = []

    def arrive():
        for n in range(20):
            delivered.append(deliver(clouds, address, f"Live mail {n}"))
            time.sleep(1.5)

    sender = threading.Thread(target=arrive)
    sender.start()
    while sender.is_alive():
        work(redis)  # `mailferry worker`, run in bursts beside the sender
        time.sleep(0.2)
    sender.join()
    settle(clouds)
    work(redis)
    stats = clouds.calls(clouds.microsoft)
    print(f"\nGraph requests for 20 live emails: {stats['total']} ({stats['total'] / 20:.2f} an email): {stats['calls']}")
    assert all(stored(runtime, mailbox_id, m["internetMessageId"]) for m in delivered)
    assert stats["total"] <= 40 and stats["calls"]["POST /v1.0/$batch"] * 2 == stats["total"]


def test_a_read_unread_change_costs_one_delta_and_no_processing_nor_salesforce_call(mailbox, clouds, redis):
    runtime, mailbox_id, address = mailbox
    mail = deliver(clouds, address, "Read later")
    settle(clouds)
    work(redis)
    assert last_result(redis, mailbox_id)["fetched"]["created"] == 1
    clouds.reset_calls()

    clouds.change(address, mail["id"], isRead=True)
    [note] = [n for n in settle(clouds) if n["kind"] == "change"
              and n["payload"]["value"][0]["resourceData"]["id"] == mail["id"]
              and n["payload"]["value"][0]["changeType"] == "updated"]
    assert note["status"] == 202
    assert waiting_jobs(redis) == [f"sync-mailbox-{mailbox_id}"]
    work(redis)

    result = last_result(redis, mailbox_id)
    assert (result["fetched"]["created"], result["fetched"]["updated"]) == (0, 0)
    assert result["processed"]["decided"] == 0  # no email reached the processing stage
    assert clouds.calls(clouds.salesforce)["total"] == 0
    assert clouds.calls(clouds.microsoft)["total"] == 2  # one $batch of the Inbox's delta


def test_polling_returns_to_every_five_minutes_when_notifications_stop_and_hourly_when_they_resume(
        mailbox, clouds, redis, monkeypatch):
    runtime, mailbox_id, address = mailbox
    monkeypatch.setattr(subscriptions, "NOTIFICATION_OVERDUE", timedelta(seconds=1))
    before = rows(runtime, mailbox_id)
    deliver(clouds, address, "Announced")
    settle(clouds)
    work(redis)
    assert not polled_within(runtime, mailbox_id, 5)

    # Graph drops the Inbox's subscription without a word; mail arrives, nobody is told.
    clouds.http.delete(f"{clouds.microsoft}/_sandbox/subscriptions/{before['inbox']}").raise_for_status()
    time.sleep(1.1)
    mail = deliver(clouds, address, "Never announced")
    assert announced(clouds, mail["id"]) == []
    assert not polled_within(runtime, mailbox_id, 5)  # nothing tells yet: the hourly poll will
    time.sleep(1.1)
    with runtime.session() as session:  # an hour on: the Inbox's last fetch is that old
        for folder in session.get(Mailbox, mailbox_id).folders:
            folder.last_synced_at -= subscription_liveness.SAFETY_NET_POLL

    sync(mailbox_id)  # the hourly poll finds the change nobody announced

    assert stored(runtime, mailbox_id, mail["internetMessageId"])
    assert rows(runtime, mailbox_id)["inbox"] != before["inbox"]
    assert polled_within(runtime, mailbox_id, 5)  # the Sync Frequency again
    assert_notifications_resume(mailbox, clouds, redis, rows(runtime, mailbox_id)["inbox"])
    assert not polled_within(runtime, mailbox_id, 5) and polled_within(runtime, mailbox_id, 61)


def test_the_hourly_poll_fetches_every_folder_whose_last_round_came_late_in_the_last_run(mailbox, clouds, redis):
    """The safety-net poll is due an hour after the last run began; a folder whose delta round
    was asked 20 minutes into that run (a long backfill) is still fetched by it."""
    runtime, mailbox_id, address = mailbox
    deliver(clouds, address, "Heard")
    settle(clouds)
    work(redis)
    with runtime.session() as session:
        mailbox_row = session.get(Mailbox, mailbox_id)
        mailbox_row.last_run_at = mailbox_row.last_success_at = utcnow() - timedelta(minutes=61)
        for folder in mailbox_row.folders:
            folder.last_synced_at = utcnow() - timedelta(minutes=41)
    assert polled_within(runtime, mailbox_id, 0)
    clouds.reset_calls()
    sync(mailbox_id)
    assert clouds.calls(clouds.microsoft)["calls"] == {
        "POST /v1.0/$batch": 1, "GET /v1.0/users/<user_ref>/mailFolders/<folder_ref>/messages/delta": 2}
