"""What the product does with a busy org (issue 14, rows 4-6), against the real sandbox:
the concurrent-requests refusal is a short temporary wait while only the daily total pauses
the tenant; an org bursting past its daily limit is not read as exhausted, and the tenant's
share still governs; single lookups stay within Salesforce's recommended URI length."""

from __future__ import annotations

import uuid
from datetime import datetime, timezone

import pytest
import redis as redis_lib

from mailferry.api_budget import KEY_PREFIX
from mailferry.provider_errors import ErrorKind, ProviderError
from tests.db import factories
from tests.worker.salesforce.clock import Clock
from worker.salesforce.budget import BudgetGovernor
from worker.salesforce.crm import SalesforceCrm
from worker.salesforce.errors import LIMIT_BACKOFF_SECONDS
from worker.salesforce.lookup import find_related


@pytest.fixture
def governor(redis_url):
    client = redis_lib.Redis.from_url(redis_url)
    yield BudgetGovernor(client, clock=Clock(datetime(2026, 11, 26, 10, 0, tzinfo=timezone.utc)))
    client.close()


@pytest.fixture
def tenant_id() -> int:
    return uuid.uuid4().int % 10**9


def fed(make_session, tokens, governor, tenant_id):
    """A session whose Sforce-Limit-Info feeds the governor as open_crm wires it."""
    session = []

    def observe(used: int, total: int) -> None:
        bursts = getattr(session[0], "last_bursts", None)
        governor.observe(tenant_id, used, total, *([bursts] if bursts else []))

    session.append(make_session(tokens, on_limit_info=observe))
    return session[0]


# ----- row 4: REQUEST_LIMIT_EXCEEDED is two limits ----------------------------------------------


def test_concurrent_requests_limit_is_a_short_temporary_wait(salesforce_control, make_session, salesforce_tokens):
    sf = make_session(salesforce_tokens)
    salesforce_control.org(other_long_requests=5)  # another integration holds the org's 5 long requests
    with pytest.raises(ProviderError) as failure:
        sf.query("SELECT Id FROM User")
    error = failure.value
    assert error.code == "REQUEST_LIMIT_EXCEEDED" and error.status == 403
    assert error.kind == ErrorKind.TEMPORARY
    assert 0 < error.retry_after <= 60
    salesforce_control.org(other_long_requests=0)
    assert sf.query("SELECT Id FROM User")["records"]


def test_an_unnamed_request_limit_under_the_allowance_is_not_the_daily_limit(
        salesforce_control, make_session, salesforce_tokens):
    """A variant message naming neither limit: the answer's own usage header decides."""
    sf = make_session(salesforce_tokens)
    salesforce_control.faults({"path": "/services/data/*", "status": 403, "error_code": "REQUEST_LIMIT_EXCEEDED",
                               "message": "Limit exceeded.", "count": 1})
    with pytest.raises(ProviderError) as failure:
        sf.query("SELECT Id FROM User")
    assert failure.value.kind == ErrorKind.TEMPORARY and failure.value.retry_after <= 60


def test_only_the_daily_total_pauses_the_tenant(salesforce_control, make_session, salesforce_tokens, governor,
                                                db_session):
    tenant = factories.tenant(db_session)
    crm = SalesforceCrm(make_session(salesforce_tokens), governor, tenant, "", True)
    stale = governor.redis.keys(f"{KEY_PREFIX}:{tenant.id}:*")  # Redis outlives the test databases
    if stale:
        governor.redis.delete(*stale)
    salesforce_control.org(other_long_requests=5)
    with pytest.raises(ProviderError) as concurrent:
        crm.find_people(["someone@concurrent.example"], fresh=True)
    assert concurrent.value.kind == ErrorKind.TEMPORARY
    assert governor.status(tenant.id).paused_until is None  # nothing else waits
    salesforce_control.org(other_long_requests=0, daily_api_limit=5, api_used=5)
    with pytest.raises(ProviderError) as daily:
        crm.find_people(["someone@daily.example"], fresh=True)
    assert daily.value.kind == ErrorKind.BUDGET and daily.value.retry_after == LIMIT_BACKOFF_SECONDS
    paused = governor.status(tenant.id).paused_until
    assert paused is not None and (paused - governor._clock()).total_seconds() == LIMIT_BACKOFF_SECONDS
    with pytest.raises(ProviderError) as waiting:  # the tenant's next call waits without calling
        crm.find_people(["another@daily.example"], fresh=True)
    assert waiting.value.kind == ErrorKind.BUDGET and waiting.value.code == "REQUEST_LIMIT_EXCEEDED"


# ----- row 5: bursts ------------------------------------------------------------------------------


def test_an_org_bursting_past_its_limit_is_not_exhausted(salesforce_control, make_session, salesforce_tokens,
                                                         governor, tenant_id):
    salesforce_control.org(daily_api_limit=100, api_used=100, api_bursts_monthly=750, api_burst_headroom=1_000)
    sf = fed(make_session, salesforce_tokens, governor, tenant_id)
    sf.query("SELECT Id FROM User")  # succeeds past the limit: the org is in a burst
    governor.reserve(tenant_id, 1)  # not ORG_LIMIT: the calls still succeed
    assert sf.last_usage == (101, 100) and sf.last_bursts == (1, 750)
    status = governor.status(tenant_id)
    assert (status.org_used, status.allowance, status.share) == (101, 100, 20)


def test_an_org_at_its_limit_with_burst_entitlement_is_not_stopped_ahead(
        salesforce_control, make_session, salesforce_tokens, governor, tenant_id):
    """`api-usage=100/100; api-bursts=0/750`: the next call would start a burst, not fail."""
    salesforce_control.org(daily_api_limit=100, api_used=99, api_bursts_monthly=750, api_burst_headroom=1_000)
    sf = fed(make_session, salesforce_tokens, governor, tenant_id)
    sf.query("SELECT Id FROM User")
    governor.reserve(tenant_id, 1)
    assert sf.last_usage == (100, 100) and sf.last_bursts == (0, 750)
    sf.query("SELECT Id FROM User")  # and indeed it succeeds
    assert sf.last_usage == (101, 100) and sf.last_bursts == (1, 750)


def test_during_a_burst_the_tenants_share_still_governs(salesforce_control, make_session, salesforce_tokens,
                                                       governor, tenant_id):
    salesforce_control.org(daily_api_limit=100, api_used=150, api_bursts_monthly=750, api_bursts_used=1,
                           api_burst_headroom=1_000)
    fed(make_session, salesforce_tokens, governor, tenant_id).query("SELECT Id FROM User")
    governor.reserve(tenant_id, 20)  # the whole 20% share
    with pytest.raises(ProviderError) as refused:
        governor.reserve(tenant_id, 1)
    assert refused.value.code == "MAILFERRY_BUDGET"


def test_without_bursts_an_org_at_its_limit_still_stops_ahead_of_a_refusal(
        salesforce_control, make_session, salesforce_tokens, governor, tenant_id):
    salesforce_control.org(daily_api_limit=100, api_used=99)
    fed(make_session, salesforce_tokens, governor, tenant_id).query("SELECT Id FROM User")
    with pytest.raises(ProviderError) as refused:
        governor.reserve(tenant_id, 1)
    assert refused.value.code == "ORG_LIMIT"


# ----- row 6: URI length ----------------------------------------------------------------------------


def sent_urls(sf) -> list[tuple[str, str]]:
    """(method, full URL) of every request the session really sends."""
    seen: list[tuple[str, str]] = []
    sf.http.hooks["response"].append(lambda response, *a, **k: seen.append((response.request.method,
                                                                            response.request.url)))
    return seen


def test_a_single_lookup_never_sends_a_get_longer_than_2000_characters(salesforce_control, make_session,
                                                                     salesforce_tokens):
    """One statement (here: which of 300 Account ids exist) used to go out as one GET of
    about 7 KB; Salesforce recommends at most ~2,000 characters (help 000386264)."""
    real = salesforce_control.plant("Account", [{"Name": "Known"}])[0]
    asked = [real] + [f"001{n:012d}AAA" for n in range(1, 300)]
    sf = make_session(salesforce_tokens)
    seen = sent_urls(sf)
    before = sf.calls
    assert find_related(sf, asked) == {real: "Account"}
    gets = [url for method, url in seen if method == "GET"]
    assert all(len(url) <= 2_000 for url in gets), max(map(len, gets))
    assert sf.calls - before == 1  # one Composite call, as cheap as the GET was


def test_a_short_single_lookup_is_still_a_plain_get(salesforce_control, make_session, salesforce_tokens):
    real = salesforce_control.plant("Account", [{"Name": "Known"}])[0]
    sf = make_session(salesforce_tokens)
    seen = sent_urls(sf)
    assert find_related(sf, [real]) == {real: "Account"}
    assert [method for method, url in seen if "/services/data/" in url] == ["GET"]


def test_the_front_ends_html_414_is_a_clear_error(make_session, salesforce_tokens):
    sf = make_session(salesforce_tokens)
    soql = "SELECT Id FROM Contact WHERE Email IN (" + ",".join(f"'p{i:05d}@example.com'" for i in range(900)) + ")"
    with pytest.raises(ProviderError) as failure:
        sf.query(soql)
    assert failure.value.status == 414 and "URI Too Long" in failure.value.message
