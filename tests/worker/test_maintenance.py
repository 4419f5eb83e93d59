"""Housekeeping on a real database: the 30-day attempt window, retention, and which mailboxes
the scheduler's poll picks."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
import redis
from sqlalchemy import select

from mailferry import subscription_liveness
from mailferry.models import (
    Connection, Mailbox, MailboxFolder, Message, OmittedDailyCount, Subscription, UnmatchedAddress, UserSetting,
)
from mailferry.provisioning import Person, provision_user
from worker.maintenance import due_mailboxes, expire_and_purge

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=timezone.utc)


@pytest.fixture
def user(db_session):
    user, _ = provision_user(db_session, Person("tid-maint", "oid-m", "rep@maint.example", "Rep"))
    db_session.add(Connection(tenant_id=user.tenant_id, user_id=user.id, provider="salesforce",
                              sealed_secrets=b"x", status="connected"))
    db_session.flush()
    return user


def _message(db_session, user, key: str, **fields) -> Message:
    mailbox = db_session.execute(select(Mailbox).where(Mailbox.user_id == user.id)).scalar_one()
    row = Message(tenant_id=user.tenant_id, user_id=user.id, mailbox_id=mailbox.id, graph_id=key,
                  internet_message_id=f"<{key}@maint.example>", direction="incoming", subject=key,
                  participants=[], categories=[], **fields)
    db_session.add(row)
    db_session.flush()
    return row


def test_unresolved_emails_past_their_window_expire_and_leave_the_tab(db_session, user):
    old = _message(db_session, user, "old", status="unresolved", reason="no_match", body_text="b",
                   first_seen_at=NOW - timedelta(days=29), expires_at=NOW - timedelta(minutes=1))
    young = _message(db_session, user, "young", status="unresolved", reason="no_match",
                     first_seen_at=NOW - timedelta(days=2), expires_at=NOW + timedelta(days=28))
    synced = _message(db_session, user, "synced", status="synced", first_seen_at=NOW - timedelta(days=29),
                      expires_at=NOW - timedelta(days=1))
    result = expire_and_purge(db_session, NOW)
    db_session.expire_all()
    assert result["expired"] == 1
    assert (old.status, old.body_text, old.next_attempt_at) == ("expired", None, None)
    assert young.status == "unresolved" and synced.status == "synced"


def test_history_and_unmatched_rows_older_than_the_retention_are_purged(db_session, user):
    _message(db_session, user, "ancient", status="synced", first_seen_at=NOW - timedelta(days=31))
    kept = _message(db_session, user, "recent", status="synced", first_seen_at=NOW - timedelta(days=29))
    db_session.add_all([
        UnmatchedAddress(tenant_id=user.tenant_id, user_id=user.id, address="gone@x.example",
                         last_seen_at=NOW - timedelta(days=40)),
        UnmatchedAddress(tenant_id=user.tenant_id, user_id=user.id, address="kept@x.example",
                         last_seen_at=NOW - timedelta(days=3)),
        OmittedDailyCount(tenant_id=user.tenant_id, day=(NOW - timedelta(days=45)).date(), count=3),
    ])
    db_session.flush()
    result = expire_and_purge(db_session, NOW)
    assert (result["purged"], result["unmatched_purged"]) == (1, 1)
    subjects = db_session.execute(select(Message.subject).where(Message.user_id == user.id)).scalars().all()
    assert subjects == [kept.subject]
    addresses = db_session.execute(select(UnmatchedAddress.address).where(UnmatchedAddress.user_id == user.id)).scalars().all()
    assert addresses == ["kept@x.example"]
    assert db_session.execute(select(OmittedDailyCount).where(OmittedDailyCount.tenant_id == user.tenant_id)).first() is None


def test_the_poll_picks_never_run_and_overdue_mailboxes_and_those_with_due_work(db_session, user):
    mailbox = db_session.execute(select(Mailbox).where(Mailbox.user_id == user.id)).scalar_one()
    assert mailbox.id in due_mailboxes(db_session, NOW)  # never ran
    mailbox.last_run_at = NOW - timedelta(minutes=1)
    mailbox.last_success_at = NOW - timedelta(seconds=50)
    db_session.flush()
    assert mailbox.id not in due_mailboxes(db_session, NOW)  # polled a minute ago (every 5)
    assert mailbox.id in due_mailboxes(db_session, NOW + timedelta(minutes=5))
    _message(db_session, user, "retry", status="unresolved", reason="system_error",
             next_attempt_at=NOW - timedelta(seconds=1))
    assert mailbox.id in due_mailboxes(db_session, NOW)  # due work


def test_a_run_that_never_finished_is_due_again_at_once(db_session, user):
    mailbox = db_session.execute(select(Mailbox).where(Mailbox.user_id == user.id)).scalar_one()
    mailbox.last_run_at = NOW - timedelta(seconds=20)  # claimed, then its worker was killed
    db_session.flush()
    assert mailbox.id in due_mailboxes(db_session, NOW)
    mailbox.last_success_at = NOW - timedelta(seconds=10)  # it finished after all
    db_session.flush()
    assert mailbox.id not in due_mailboxes(db_session, NOW)


@pytest.mark.parametrize("state", ["needs_reconnect", "throttled-window", "sync-off"])
def test_the_poll_skips_mailboxes_that_must_not_run(db_session, user, state):
    mailbox = db_session.execute(select(Mailbox).where(Mailbox.user_id == user.id)).scalar_one()
    if state == "needs_reconnect":
        mailbox.status = "needs_reconnect"
    elif state == "throttled-window":
        mailbox.status, mailbox.retry_after = "throttled", NOW + timedelta(seconds=30)
    else:
        db_session.add(UserSetting(user_id=user.id, key="sync_mode", value="off"))
    db_session.flush()
    assert mailbox.id not in due_mailboxes(db_session, NOW)


@pytest.fixture
def notified(redis_url):
    """A Redis with no notification recorded for any subscription (the webhook's records)."""
    client = redis.Redis.from_url(redis_url)

    def clear():
        for key in client.scan_iter("mailferry:subscription:*"):
            client.delete(key)
    clear()
    yield client
    clear()
    client.close()


def _subscribed(db_session, user, folders=("inbox", "sentitems"), expires_at=NOW + timedelta(days=3)):
    """The user's mailbox, last run (and succeeded) at NOW, with a subscription per folder."""
    mailbox = db_session.execute(select(Mailbox).where(Mailbox.user_id == user.id)).scalar_one()
    mailbox.last_run_at = mailbox.last_success_at = NOW
    for name in folders:
        db_session.add(MailboxFolder(mailbox_id=mailbox.id, graph_folder_id=name, well_known_name=name,
                                     delta_link=f"https://graph.example/{name}", last_synced_at=NOW))
        db_session.add(Subscription(mailbox_id=mailbox.id, graph_subscription_id=f"sub-{user.id}-{name}",
                                    resource=name, sealed_client_state=b"x", expires_at=expires_at,
                                    created_at=NOW - timedelta(days=1)))
    db_session.flush()
    db_session.expire(mailbox)
    return mailbox


def _subscription_ids(db_session, mailbox) -> list[int]:
    return db_session.scalars(select(Subscription.id).where(Subscription.mailbox_id == mailbox.id)
                              .order_by(Subscription.resource)).all()


def _polled_at(db_session, mailbox, notified, *minutes) -> list[bool]:
    """Whether the scheduler's due query picks the mailbox so many minutes after NOW."""
    return [mailbox.id in due_mailboxes(db_session, NOW + timedelta(minutes=m), notified) for m in minutes]


def test_a_mailbox_whose_notifications_flow_is_polled_hourly(db_session, user, notified):
    mailbox = _subscribed(db_session, user)
    inbox, _ = _subscription_ids(db_session, mailbox)
    subscription_liveness.heard(notified, [inbox], NOW - timedelta(minutes=3))
    assert _polled_at(db_session, mailbox, notified, 5, 30, 59) == [False, False, False]
    assert _polled_at(db_session, mailbox, notified, 60) == [True]  # the safety net
    # A notification-driven run at +20 min: the next poll is an hour after it.
    mailbox.last_run_at = mailbox.last_success_at = NOW + timedelta(minutes=20)
    db_session.flush()
    assert _polled_at(db_session, mailbox, notified, 70, 80) == [False, True]


def test_polling_returns_to_the_sync_frequency_once_a_change_went_unannounced(db_session, user, notified):
    mailbox = _subscribed(db_session, user)
    inbox, _ = _subscription_ids(db_session, mailbox)
    subscription_liveness.heard(notified, [inbox], NOW - timedelta(minutes=30))
    assert _polled_at(db_session, mailbox, notified, 5) == [False]
    # A run found an Inbox change from 10 minutes ago that no notification announced.
    subscription_liveness.unannounced(notified, inbox, NOW - timedelta(minutes=10))
    assert _polled_at(db_session, mailbox, notified, 4, 5) == [False, True]
    # Notifications come through again: hourly once more.
    subscription_liveness.heard(notified, [inbox], NOW + timedelta(minutes=1))
    assert _polled_at(db_session, mailbox, notified, 5) == [False]


@pytest.mark.parametrize("case", ["never heard", "quiet for a day", "a folder without subscription",
                                  "subscriptions expired"])
def test_a_mailbox_without_flowing_notifications_keeps_the_sync_frequency(db_session, user, notified, case):
    folders, expires_at = ("inbox", "sentitems"), NOW + timedelta(days=3)
    if case == "subscriptions expired":
        expires_at = NOW + timedelta(minutes=2)
    mailbox = _subscribed(db_session, user, folders, expires_at)
    if case == "a folder without subscription":
        db_session.add(MailboxFolder(mailbox_id=mailbox.id, graph_folder_id="AAMkArchive", well_known_name="archive"))
        db_session.flush()
    heard = {"quiet for a day": NOW - subscription_liveness.QUIET_LIMIT - timedelta(minutes=6)}.get(
        case, NOW - timedelta(minutes=3))
    if case != "never heard":
        subscription_liveness.heard(notified, _subscription_ids(db_session, mailbox), heard)
    assert _polled_at(db_session, mailbox, notified, 4, 5) == [False, True]
