"""Timestamps go in as any aware datetime and come back as the same instant, in UTC."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select
from sqlalchemy.exc import StatementError

from mailferry.models import Message
from tests.db import factories

PARIS_SUMMER = timezone(timedelta(hours=2))


def _reload(session, row):
    session.flush()
    session.expire(row)
    return session.get(type(row), row.id)


def test_an_aware_datetime_comes_back_as_the_same_instant_in_utc(db_session):
    sent = datetime(2026, 7, 1, 10, 30, 15, 123456, tzinfo=PARIS_SUMMER)
    message = _reload(db_session, factories.message(db_session, sent_at=sent))

    assert message.sent_at == sent
    assert message.sent_at.tzinfo is UTC
    assert message.sent_at.hour == 8


def test_a_naive_datetime_is_refused(db_session):
    with pytest.raises(StatementError, match="naive datetime"):
        factories.message(db_session, sent_at=datetime(2026, 7, 1, 10, 30))


def test_timestamps_sort_by_instant_whatever_offset_they_were_given_in(db_session):
    mailbox = factories.mailbox(db_session)
    # 09:00 in Paris is earlier than 08:30 UTC; as text "09:00" would sort after it.
    earlier = factories.message(
        db_session, mailbox, sent_at=datetime(2026, 7, 1, 9, 0, tzinfo=PARIS_SUMMER)
    )
    later = factories.message(db_session, mailbox, sent_at=datetime(2026, 7, 1, 8, 30, tzinfo=UTC))
    ordered = db_session.scalars(
        select(Message.id).where(Message.mailbox_id == mailbox.id).order_by(Message.sent_at)
    ).all()
    assert ordered == [earlier.id, later.id]


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    moment=st.datetimes(
        min_value=datetime(1970, 1, 2), max_value=datetime(2200, 1, 1), timezones=st.timezones()
    )
)
def test_any_aware_datetime_round_trips_to_the_same_instant(db_session, moment):
    message = _reload(db_session, factories.message(db_session, sent_at=moment))
    # Compared as UTC: Python never calls an ambiguous local time (the repeated hour when
    # clocks go back) equal to a time in another zone, even for the same instant (PEP 495).
    assert message.sent_at == moment.astimezone(UTC)
    assert message.sent_at.utcoffset() == timedelta(0)
