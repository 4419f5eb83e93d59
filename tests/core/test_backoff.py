"""The retry schedule of SPEC section 4."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from mailferry.backoff import REMATCH_INTERVAL, next_mailbox_attempt, next_rematch, next_system_error_attempt

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=timezone.utc)


def test_failed_writes_are_retried_after_1_5_15_minutes_1_and_4_hours_then_every_12_hours():
    delays = [next_system_error_attempt(n, NOW) - NOW for n in range(1, 9)]
    assert delays == [
        timedelta(minutes=1), timedelta(minutes=5), timedelta(minutes=15), timedelta(hours=1),
        timedelta(hours=4), timedelta(hours=12), timedelta(hours=12), timedelta(hours=12),
    ]


def test_a_retry_after_longer_than_the_schedule_wins():
    assert next_system_error_attempt(1, NOW, retry_after=600) == NOW + timedelta(minutes=10)
    assert next_system_error_attempt(5, NOW, retry_after=600) == NOW + timedelta(hours=4)


def test_unmatched_emails_have_no_timer_the_change_feed_asks_every_15_minutes():
    assert next_rematch(NOW) is None  # re-matched when the org's change feed hits them (worker/change_feed.py)
    assert REMATCH_INTERVAL == timedelta(minutes=15)


def test_mailbox_backoff_grows_caps_at_an_hour_and_honours_retry_after():
    delays = [next_mailbox_attempt(n, NOW) - NOW for n in range(1, 8)]
    assert delays == sorted(delays) and delays[-1] == timedelta(hours=1)
    assert next_mailbox_attempt(1, NOW, retry_after=120) == NOW + timedelta(seconds=120)
