"""The session wrapper: one transparent refresh, tokens handed back, every Sforce-Limit-Info
recorded, calls counted, and failures mapped to the worker's kinds."""

from __future__ import annotations

import time

import pytest

from mailferry.provider_errors import ErrorKind, ProviderError


def test_expired_session_is_refreshed_once_and_the_new_tokens_are_handed_back(salesforce_control, make_session, salesforce_tokens):
    handed_back: list[dict] = []
    sf = make_session(salesforce_tokens, on_tokens=handed_back.append)
    salesforce_control.org(session_lifetime_seconds=1)
    time.sleep(1.1)
    rows = sf.query_all("SELECT Id FROM User")
    assert rows and sf.refreshes == 1
    assert len(handed_back) == 1 and handed_back[0]["access_token"] != salesforce_tokens["access_token"]
    assert handed_back[0]["refresh_token"] == salesforce_tokens["refresh_token"]
    assert sf.sf.session_id == handed_back[0]["access_token"]
    assert sf.sf.headers["Authorization"] == "Bearer " + handed_back[0]["access_token"]


def test_revoked_refresh_token_is_auth_and_stops(salesforce_control, make_session, salesforce_tokens, oauth):
    sf = make_session(salesforce_tokens)
    oauth.revoke(salesforce_tokens["refresh_token"])  # kills the access token too
    with pytest.raises(ProviderError) as failure:
        sf.query("SELECT Id FROM User")
    assert failure.value.kind == ErrorKind.AUTH and failure.value.code == "invalid_grant"
    assert "Reconnect Salesforce" in failure.value.message


def test_a_second_401_after_the_refresh_is_auth(salesforce_control, make_session, salesforce_tokens):
    sf = make_session(salesforce_tokens)
    salesforce_control.faults({"path": "/services/data/*", "status": 401, "error_code": "INVALID_SESSION_ID",
                    "message": "Session expired or invalid", "count": 2})
    with pytest.raises(ProviderError) as failure:
        sf.query("SELECT Id FROM User")
    assert failure.value.kind == ErrorKind.AUTH and sf.refreshes == 1


def test_every_limit_info_is_recorded_and_calls_are_counted(salesforce_control, make_session, salesforce_tokens):
    seen: list[tuple[int, int]] = []
    sf = make_session(salesforce_tokens, on_limit_info=lambda used, total: seen.append((used, total)))
    salesforce_control.reset_stats()
    sf.query("SELECT Id FROM User")
    sf.restful("limits/")
    salesforce_control.faults({"path": "/services/data/*/query*", "status": 503, "count": 1})
    with pytest.raises(ProviderError):
        sf.query("SELECT Id FROM User")
    assert sf.calls == 3 == salesforce_control.data_calls()
    assert len(seen) == 3  # the error answer carries the header too
    assert seen[1][0] == seen[0][0] + 1 and seen[0][1] == 15000
    assert sf.last_usage == seen[-1]


@pytest.mark.parametrize("fault, kind, retryable_code", [
    ({"status": 503}, ErrorKind.TEMPORARY, "SERVER_UNAVAILABLE"),
    ({"status": 500, "error_code": "UNKNOWN_EXCEPTION"}, ErrorKind.TEMPORARY, "UNKNOWN_EXCEPTION"),
    ({"status": 400, "error_code": "UNABLE_TO_LOCK_ROW"}, ErrorKind.TEMPORARY, "UNABLE_TO_LOCK_ROW"),
    ({"status": 403, "error_code": "REQUEST_LIMIT_EXCEEDED"}, ErrorKind.BUDGET, "REQUEST_LIMIT_EXCEEDED"),
    ({"status": 403, "error_code": "API_DISABLED_FOR_ORG"}, ErrorKind.SETUP, "API_DISABLED_FOR_ORG"),
])
def test_failures_map_to_neutral_kinds(salesforce_control, make_session, salesforce_tokens, fault, kind, retryable_code):
    sf = make_session(salesforce_tokens)
    salesforce_control.faults({"path": "/services/data/*", "count": 1, **fault})
    with pytest.raises(ProviderError) as failure:
        sf.query("SELECT Id FROM User")
    assert failure.value.kind == kind and failure.value.provider == "salesforce"
    assert failure.value.code in (retryable_code, str(fault["status"]))
    if kind == ErrorKind.BUDGET:
        assert failure.value.retry_after and failure.value.retry_after > 0


def test_retry_after_of_an_outage_is_kept(salesforce_control, make_session, salesforce_tokens):
    sf = make_session(salesforce_tokens)
    salesforce_control.faults({"path": "/services/data/*", "status": 503, "retry_after": 7, "count": 1})
    with pytest.raises(ProviderError) as failure:
        sf.query("SELECT Id FROM User")
    assert failure.value.kind == ErrorKind.TEMPORARY and failure.value.retry_after == 7


def test_the_org_daily_limit_is_budget(salesforce_control, make_session, salesforce_tokens):
    sf = make_session(salesforce_tokens)
    salesforce_control.org(daily_api_limit=5, api_used=5)
    with pytest.raises(ProviderError) as failure:
        sf.query("SELECT Id FROM User")
    assert failure.value.kind == ErrorKind.BUDGET and failure.value.code == "REQUEST_LIMIT_EXCEEDED"


def test_a_slow_answer_is_a_temporary_timeout(salesforce_control, make_session, salesforce_tokens):
    sf = make_session(salesforce_tokens, timeout=0.3)
    salesforce_control.faults({"path": "/services/data/*", "latency_ms": 1500, "count": 1})
    with pytest.raises(ProviderError) as failure:
        sf.query("SELECT Id FROM User")
    assert failure.value.kind == ErrorKind.TEMPORARY and failure.value.code == "timeout"


def test_unknown_field_in_our_query_is_unknown_not_retried(make_session, salesforce_tokens):
    sf = make_session(salesforce_tokens)
    with pytest.raises(ProviderError) as failure:
        sf.query("SELECT NoSuchField__c FROM Contact")
    assert failure.value.kind == ErrorKind.UNKNOWN and failure.value.code == "INVALID_FIELD"


def test_missing_key_field_in_a_query_is_setup_with_instructions(salesforce_control, make_session, salesforce_tokens):
    sf = make_session(salesforce_tokens)
    salesforce_control.org(external_id_field=False)
    with pytest.raises(ProviderError) as failure:
        sf.query("SELECT Id FROM Task WHERE Mailferry_Key__c = 'x'")
    assert failure.value.kind == ErrorKind.SETUP and "External ID" in failure.value.message
