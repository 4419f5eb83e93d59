"""The mailbox state machine on a real database: who may run, and what each ending shows."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from mailferry import mailbox_state
from mailferry.models import Mailbox
from mailferry.provider_errors import ErrorKind, ProviderError
from mailferry.provisioning import Person, provision_user

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=timezone.utc)


@pytest.fixture
def mailbox(db_session) -> Mailbox:
    user, _ = provision_user(db_session, Person("tid-state", "oid-1", "rep@contoso.example", "Rep"))
    db_session.flush()
    return db_session.query(Mailbox).filter_by(user_id=user.id).one()


def test_claim_moves_an_idle_mailbox_to_fetching(db_session, mailbox):
    claimed = mailbox_state.claim(db_session, mailbox.id, NOW)
    assert claimed is mailbox
    assert (mailbox.stage, mailbox.stage_started_at, mailbox.last_run_at) == ("fetching", NOW, NOW)


@pytest.mark.parametrize("status", ["needs_reconnect", "disabled"])
def test_a_mailbox_needing_a_person_is_not_claimed(db_session, mailbox, status):
    mailbox.status = status
    assert mailbox_state.claim(db_session, mailbox.id, NOW) is None
    assert mailbox.stage == "idle"


def test_no_run_inside_a_retry_after_window(db_session, mailbox):
    mailbox.retry_after = NOW + timedelta(seconds=30)
    assert mailbox_state.claim(db_session, mailbox.id, NOW) is None
    assert mailbox_state.claim(db_session, mailbox.id, NOW + timedelta(seconds=31)) is mailbox


def test_throttling_shows_until_when_and_the_next_success_clears_it(db_session, mailbox):
    mailbox_state.claim(db_session, mailbox.id, NOW)
    error = ProviderError(ErrorKind.TEMPORARY, "microsoft", "slow down", code="TooManyRequests", retry_after=120)
    mailbox_state.fail(mailbox, error, NOW)
    assert mailbox.status == "throttled"
    assert mailbox.retry_after == NOW + timedelta(seconds=120)
    assert "2026-11-26 12:02:00" in mailbox.status_detail
    assert mailbox.stage == "idle" and mailbox.failure_count == 1
    mailbox_state.claim(db_session, mailbox.id, NOW + timedelta(minutes=3))
    mailbox_state.complete(mailbox, NOW + timedelta(minutes=3))
    assert (mailbox.status, mailbox.retry_after, mailbox.failure_count, mailbox.status_detail) == ("active", None, 0, None)


def test_a_microsoft_auth_failure_asks_for_a_reconnect_and_stops_runs_until_then(db_session, mailbox):
    mailbox_state.claim(db_session, mailbox.id, NOW)
    mailbox_state.fail(mailbox, ProviderError(ErrorKind.AUTH, "microsoft", "revoked", code="invalid_grant"), NOW)
    assert mailbox.status == "needs_reconnect"
    assert "sign in with Microsoft again" in mailbox.status_detail
    assert mailbox_state.claim(db_session, mailbox.id, NOW + timedelta(days=1)) is None
    mailbox_state.reconnected(mailbox)
    assert mailbox_state.claim(db_session, mailbox.id, NOW + timedelta(days=1)) is mailbox


def test_a_stage_left_by_a_dead_worker_is_recovered_only_when_nobody_holds_the_lock(db_session, mailbox):
    mailbox_state.claim(db_session, mailbox.id, NOW)
    later = NOW + mailbox_state.STALE_AFTER + timedelta(seconds=1)
    assert mailbox_state.recover_stale(db_session, later, is_locked=lambda _id: True) == []
    assert mailbox.stage == "fetching"
    assert mailbox_state.recover_stale(db_session, later, is_locked=lambda _id: False) == [mailbox.id]
    assert mailbox.stage == "idle"


def test_a_fresh_stage_is_not_recovered(db_session, mailbox):
    mailbox_state.claim(db_session, mailbox.id, NOW)
    assert mailbox_state.recover_stale(db_session, NOW + timedelta(seconds=5), is_locked=lambda _id: False) == []


def test_an_unexpected_error_backs_off_and_makes_the_mailbox_due_again_soon(db_session, mailbox):
    mailbox_state.claim(db_session, mailbox.id, NOW)
    mailbox_state.crashed(mailbox, "OperationalError('database is locked')", NOW)
    assert mailbox.stage == "idle" and mailbox.failure_count == 1
    assert mailbox.retry_after == NOW + timedelta(seconds=5)
    assert mailbox.last_error.startswith("unexpected: OperationalError")
    assert mailbox.status == "active"
