"""The API budget governor on a real Redis and the migrated database: it stops at the
tenant's share of the org's daily allowance, says until when, and samples usage hourly."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone

import pytest
import redis as redis_lib
from sqlalchemy import select

from mailferry.api_budget import KEY_PREFIX
from mailferry.models import ApiUsageSample
from tests.db import factories
from tests.worker.salesforce.clock import Clock
from mailferry.provider_errors import ErrorKind, ProviderError
from worker.salesforce.budget import DEFAULT_ALLOWANCE, BudgetGovernor


@pytest.fixture
def redis(redis_url):
    client = redis_lib.Redis.from_url(redis_url)
    yield client
    client.close()


@pytest.fixture
def clock() -> Clock:
    return Clock(datetime(2026, 11, 26, 22, 0, tzinfo=timezone.utc))


@pytest.fixture
def governor(redis, clock) -> BudgetGovernor:
    return BudgetGovernor(redis, clock=clock)


@pytest.fixture
def tenant_id() -> int:
    # Redis is shared by the test session: a fresh tenant number per test.
    return uuid.uuid4().int % 10**9


def test_reserve_stops_at_the_share_and_says_until_midnight(governor, tenant_id, clock):
    governor.observe(tenant_id, used=1_000, allowance=10_000)  # share at 20%: 2,000 calls
    for _ in range(19):
        governor.reserve(tenant_id, 100)
    governor.reserve(tenant_id, 90)
    with pytest.raises(ProviderError) as refused:
        governor.reserve(tenant_id, 11)
    error = refused.value
    assert error.kind == ErrorKind.BUDGET and error.code == "MAILFERRY_BUDGET"
    assert error.retry_after == 2 * 3600  # 22:00 → midnight UTC
    assert "1990 of 2000 calls (20% of 10000)" in error.message and "2026-11-27 00:00 UTC" in error.message
    governor.reserve(tenant_id, 10)  # exactly the share is allowed
    status = governor.status(tenant_id)
    assert (status.our_calls, status.share, status.remaining) == (2000, 2000, 0)
    assert status.paused_until == datetime(2026, 11, 27, tzinfo=timezone.utc)


def test_a_new_utc_day_starts_a_new_count(governor, tenant_id, clock):
    governor.observe(tenant_id, used=0, allowance=1_000)
    governor.reserve(tenant_id, 200)
    with pytest.raises(ProviderError):
        governor.reserve(tenant_id, 1)
    clock.now += timedelta(hours=2, minutes=1)
    governor.reserve(tenant_id, 200)
    assert governor.status(tenant_id).our_calls == 200


def test_the_admin_percent_sets_the_share(governor, tenant_id):
    governor.observe(tenant_id, used=0, allowance=10_000)
    governor.reserve(tenant_id, 5_000, percent=50)
    with pytest.raises(ProviderError):
        governor.reserve(tenant_id, 1, percent=50)


def test_before_any_limit_info_the_smallest_allowance_is_assumed(governor, tenant_id):
    governor.reserve(tenant_id, DEFAULT_ALLOWANCE // 5)
    with pytest.raises(ProviderError):
        governor.reserve(tenant_id, 1)


def test_an_org_at_its_limit_pauses_even_inside_our_share(governor, tenant_id):
    governor.observe(tenant_id, used=9_999, allowance=10_000)
    with pytest.raises(ProviderError) as refused:
        governor.reserve(tenant_id, 5)
    assert refused.value.kind == ErrorKind.BUDGET and refused.value.code == "ORG_LIMIT"
    assert 0 < refused.value.retry_after <= 3600


def test_pause_after_request_limit_exceeded_is_visible_and_ends(governor, tenant_id, clock):
    until = governor.pause(tenant_id, 900)
    with pytest.raises(ProviderError) as refused:
        governor.reserve(tenant_id, 1)
    assert refused.value.retry_after == 900 and governor.status(tenant_id).paused_until == until
    clock.now += timedelta(seconds=901)
    governor.reserve(tenant_id, 1)


def test_settle_corrects_the_count_to_the_calls_really_made(governor, tenant_id):
    governor.reserve(tenant_id, 10)
    governor.settle(tenant_id, reserved=10, actual=13)
    assert governor.status(tenant_id).our_calls == 13


def test_samples_are_written_once_per_hour_with_our_calls(governor, db_session, clock, redis):
    tenant = factories.tenant(db_session)
    # The database numbers tenants from 1 in every test database, but Redis is shared by
    # the whole test session: start this tenant's counters from nothing.
    stale = redis.keys(f"{KEY_PREFIX}:{tenant.id}:*")
    if stale:
        redis.delete(*stale)
    governor.observe(tenant.id, used=500, allowance=15_000)
    governor.reserve(tenant.id, 7)
    first = governor.record_sample(db_session, tenant.id)
    db_session.flush()
    assert (first.used, first.allowance, first.our_calls) == (500, 15_000, 7)
    governor.reserve(tenant.id, 3)
    governor.observe(tenant.id, used=510, allowance=15_000)
    assert governor.record_sample(db_session, tenant.id) is None  # same hour
    clock.now += timedelta(hours=1)
    second = governor.record_sample(db_session, tenant.id)
    db_session.flush()
    assert (second.used, second.our_calls) == (510, 3)
    rows = db_session.scalars(select(ApiUsageSample).where(ApiUsageSample.tenant_id == tenant.id)).all()
    assert len(rows) == 2


def test_session_limit_info_feeds_the_governor(governor, tenant_id, make_session, salesforce_tokens, salesforce_control):
    salesforce_control.org(daily_api_limit=50_000, api_used=1_234)
    sf = make_session(salesforce_tokens, on_limit_info=lambda used, total: governor.observe(tenant_id, used, total))
    sf.query("SELECT Id FROM User")
    status = governor.status(tenant_id)
    assert (status.org_used, status.allowance, status.share) == (1_235, 50_000, 10_000)
