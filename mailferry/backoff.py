"""When to try again (SPEC section 4).

- A Salesforce write that failed (`system_error`): 1 min, 5 min, 15 min, 1 h, 4 h, then
  every 12 h, never sooner than a `Retry-After` the provider gave.
- No match (`no_match`): no timer. Every 15 minutes the org is asked once which Contacts and
  Leads changed (worker/change_feed.py); only emails one of them may match are re-matched.
- Every email is attempted for 30 days from when it was first seen, then expires.
"""

from __future__ import annotations

from datetime import datetime, timedelta

SYSTEM_ERROR_DELAYS = (
    timedelta(minutes=1),
    timedelta(minutes=5),
    timedelta(minutes=15),
    timedelta(hours=1),
    timedelta(hours=4),
)
SYSTEM_ERROR_STEADY_DELAY = timedelta(hours=12)
#: How often each tenant's org is asked what changed (the re-match change feed).
REMATCH_INTERVAL = timedelta(minutes=15)

# A mailbox whose Graph calls keep failing backs off the same way, but caps at an hour:
# mail keeps arriving, and Graph outages are short.
MAILBOX_DELAYS = (
    timedelta(seconds=5),
    timedelta(seconds=30),
    timedelta(minutes=2),
    timedelta(minutes=5),
    timedelta(minutes=15),
)
MAILBOX_STEADY_DELAY = timedelta(hours=1)


def next_system_error_attempt(attempts: int, now: datetime, retry_after: float | None = None) -> datetime:
    """When to retry after the `attempts`-th failed write (1 for the first failure)."""
    delay = _delay(SYSTEM_ERROR_DELAYS, SYSTEM_ERROR_STEADY_DELAY, attempts)
    return now + max(delay, timedelta(seconds=retry_after or 0))


def next_rematch(now: datetime) -> None:
    """None: an unmatched email is not looked up again on a timer (96 lookups a day per
    mailbox); the change feed makes it due when a Contact or Lead with one of its addresses
    is written (worker/change_feed.py), and "Retry now" at once."""
    return None


def next_mailbox_attempt(failures: int, now: datetime, retry_after: float | None = None) -> datetime:
    """When a mailbox whose sync failed `failures` times in a row may be called again."""
    delay = _delay(MAILBOX_DELAYS, MAILBOX_STEADY_DELAY, failures)
    return now + max(delay, timedelta(seconds=retry_after or 0))


def _delay(steps: tuple[timedelta, ...], steady: timedelta, count: int) -> timedelta:
    if count < 1:
        return steps[0]
    return steps[count - 1] if count <= len(steps) else steady
