"""The mailbox state machine: the one module that changes a mailbox's status and stage.

    status  active ──auth failure──► needs_reconnect ──user reconnects──► active
            active ──throttled (Retry-After)──► throttled ──next success──► active
            active ──setup failure (e.g. an Exchange access policy)──► active, with the
                     administrator's fix as its detail, backing off ──next success──► no detail
            any    ──admin/user turns sync off──► disabled
            any    ──its user left the app-only onboarding group──► disabled, with the reason
                     ──they are a member again──► active
    stage   idle ──claim──► fetching ──► processing ──complete/fail──► idle

Who may run a mailbox is decided by its Redis lock (`worker.locks`), which a live worker
keeps renewing; the stage stored here is what people see, and what `recover_stale` resets
when a worker died holding it. Every transition happens inside the caller's transaction on
the row read `FOR UPDATE` (SQLite takes its write lock at BEGIN).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Callable

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from mailferry.models import Mailbox
from mailferry.backoff import next_mailbox_attempt
from mailferry.provider_errors import ErrorKind, ProviderError
from mailferry.timings import scaled

IDLE, FETCHING, PROCESSING = "idle", "fetching", "processing"
# A stage is refreshed at least this often while a worker runs it (`advance`): 2 minutes
# (MAILFERRY_TIMING_SCALE shortens it for tests: mailferry/timings.py).
STALE_AFTER = timedelta(seconds=scaled(120))
RECONNECT_FIX = (
    "Mailferry lost access to this mailbox (the Microsoft sign-in expired or was revoked). "
    "Open My Settings → Connections and sign in with Microsoft again."
)


def claim(session: Session, mailbox_id: int, now: datetime) -> Mailbox | None:
    """Take the mailbox for one sync run (the caller holds its lock), or None when it must
    not run now: it needs reconnecting, is disabled, or is inside a Retry-After window."""
    mailbox = session.execute(
        select(Mailbox).where(Mailbox.id == mailbox_id).with_for_update()
    ).scalar_one_or_none()
    if mailbox is None or mailbox.status in ("needs_reconnect", "disabled"):
        return None
    if mailbox.retry_after and mailbox.retry_after > now:
        return None
    _enter(mailbox, FETCHING, now)
    mailbox.last_run_at = now
    return mailbox


def advance(mailbox: Mailbox, stage: str, now: datetime) -> None:
    """Move a claimed mailbox to its next stage (refreshing its liveness)."""
    _enter(mailbox, stage, now)


def complete(mailbox: Mailbox, now: datetime) -> None:
    """The run finished: back to idle, failures forgotten, throttling over."""
    _enter(mailbox, IDLE, None)
    mailbox.failure_count = 0
    mailbox.retry_after = None
    mailbox.last_success_at = now
    mailbox.last_error = None
    if mailbox.status in ("throttled", "active"):
        mailbox.status = "active"
        mailbox.status_detail = None


def fail(mailbox: Mailbox, error: ProviderError, now: datetime) -> None:
    """The run stopped on a provider error: decide what the mailbox shows and when it may
    run again (never inside the provider's Retry-After window)."""
    _enter(mailbox, IDLE, None)
    mailbox.last_error = f"{error.provider}: {error.code or error.status or error.kind}: {error.message}"[:2000]
    if error.kind == ErrorKind.AUTH and error.provider == "microsoft":
        mailbox.status = "needs_reconnect"
        mailbox.status_detail = RECONNECT_FIX
        mailbox.retry_after = None
        return
    mailbox.failure_count += 1
    mailbox.retry_after = next_mailbox_attempt(mailbox.failure_count, now, error.retry_after)
    if error.retry_after:
        mailbox.status = "throttled"
        mailbox.status_detail = f"{error.provider} asked us to wait until {mailbox.retry_after:%Y-%m-%d %H:%M:%S} UTC"
    elif error.kind == ErrorKind.SETUP and error.provider == "microsoft":
        # What an administrator must change (e.g. an Exchange application access policy):
        # shown ("waiting until" the next attempt) until a run succeeds again.
        mailbox.status_detail = error.message[:2000]


def crashed(mailbox: Mailbox, what: str, now: datetime) -> None:
    """The run stopped on an unexpected error (a bug, the database away): back off and run
    again soon, as after a provider error, rather than wait for the next poll."""
    _enter(mailbox, IDLE, None)
    mailbox.last_error = f"unexpected: {what}"[:2000]
    mailbox.failure_count += 1
    mailbox.retry_after = next_mailbox_attempt(mailbox.failure_count, now)


def release(mailbox: Mailbox) -> None:
    """Give the mailbox back without judging the run (e.g. the worker is shutting down)."""
    _enter(mailbox, IDLE, None)


# What a mailbox stopped because its user left the app-only group shows (to the admin); the
# text also tells `rejoined_group` which disabled mailboxes the group itself stopped.
LEFT_GROUP = "Not a member of the Entra group"


def left_group(mailbox: Mailbox, group_name: str, now: datetime) -> None:
    """The user is no longer in the group an admin named for app-only access: stop syncing
    the mailbox (its history stays) and say why."""
    mailbox.status = "disabled"
    mailbox.status_detail = (f"{LEFT_GROUP} {group_name!r} since {now:%Y-%m-%d %H:%M} UTC: Mailferry stopped "
                             "syncing this mailbox. Add the user to the group again to restart it.")
    mailbox.retry_after = None


def rejoined_group(mailbox: Mailbox) -> bool:
    """The user is a member of the app-only group again: a mailbox the group stopped runs
    again at once (one stopped for another reason stays as it is). True when it restarted."""
    if mailbox.status != "disabled" or not (mailbox.status_detail or "").startswith(LEFT_GROUP):
        return False
    mailbox.status = "active"
    mailbox.status_detail = None
    mailbox.failure_count = 0
    mailbox.retry_after = None
    return True


def reconnected(mailbox: Mailbox) -> None:
    """The user signed in again: the mailbox may run at once."""
    if mailbox.status == "needs_reconnect":
        mailbox.status = "active"
        mailbox.status_detail = None
        mailbox.failure_count = 0
        mailbox.retry_after = None


def recover_stale(session: Session, now: datetime, is_locked: Callable[[int], bool]) -> list[int]:
    """Mailboxes left in a stage by a worker that died (nobody holds their lock, and the
    stage is older than STALE_AFTER): back to idle.

    Returns their ids so the caller can enqueue them again.
    """
    candidates = session.execute(
        select(Mailbox)
        .where(Mailbox.stage != IDLE)
        .where(or_(Mailbox.stage_started_at.is_(None), Mailbox.stage_started_at < now - STALE_AFTER))
        .with_for_update()
    ).scalars().all()
    stale = [mailbox for mailbox in candidates if not is_locked(mailbox.id)]
    for mailbox in stale:
        release(mailbox)
    return [mailbox.id for mailbox in stale]


def _enter(mailbox: Mailbox, stage: str, now: datetime | None) -> None:
    mailbox.stage = stage
    mailbox.stage_started_at = now
