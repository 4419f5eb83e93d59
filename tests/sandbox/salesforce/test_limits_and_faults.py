"""API usage, limits, versions, the 16 KB request limit, and fault rules (reference 2.1, 2.3, 2.9, 5)."""

from __future__ import annotations

import time

import pytest
from simple_salesforce.exceptions import (
    SalesforceExpiredSession,
    SalesforceGeneralError,
    SalesforceRefusedRequest,
)


def usage(response) -> tuple[int, int]:
    used, limit = response.headers["Sforce-Limit-Info"].removeprefix("api-usage=").split("/")
    return int(used), int(limit)


def test_every_data_response_carries_sforce_limit_info_counting_up(rest_api):
    first = rest_api.call("GET", "/limits")
    second = rest_api.call("GET", "/query", params={"q": "SELECT Id FROM Nope"})  # errors are counted too
    third = rest_api.call("GET", "/sobjects/Contact/describe")
    assert second.status_code == 400
    assert usage(first) == (1, 15000) and usage(second) == (2, 15000) and usage(third) == (3, 15000)


def test_simple_salesforce_reads_api_usage_and_limits(simple_salesforce_client):
    simple_salesforce_client.query("SELECT Id FROM Contact")
    assert simple_salesforce_client.api_usage["api-usage"].used == 1 and simple_salesforce_client.api_usage["api-usage"].total == 15000
    limits = simple_salesforce_client.limits()
    assert limits["DailyApiRequests"] == {"Max": 15000, "Remaining": 14998}


def test_versions_list_needs_no_session_and_is_not_counted(salesforce_url, client_session, rest_api):
    answer = client_session.get(f"{salesforce_url}/services/data/")
    assert answer.status_code == 200 and "Sforce-Limit-Info" not in answer.headers
    versions = answer.json()
    assert {"label": "Winter '24", "url": "/services/data/v59.0", "version": "59.0"} in versions
    assert versions[-1]["version"] == "66.0"
    assert usage(rest_api.call("GET", "/limits"))[0] == 1
    assert rest_api.call("GET", "/").json()["query"] == "/services/data/v59.0/query"


def test_unknown_api_version_is_not_found(salesforce_url, client_session, token):
    answer = client_session.get(f"{salesforce_url}/services/data/v99.0/limits", headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code == 404 and answer.json()[0]["errorCode"] == "NOT_FOUND"


def test_missing_or_unknown_token_is_401_invalid_session_id(salesforce_url, client_session):
    for headers in ({}, {"Authorization": "Bearer 00Dnope!nope"}):
        answer = client_session.get(f"{salesforce_url}/services/data/v59.0/limits", headers=headers)
        assert answer.status_code == 401
        assert answer.json() == [{"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}]


def test_past_the_daily_allowance_calls_get_403_request_limit_exceeded(simple_salesforce_client, org_settings):
    org_settings(daily_api_limit=3)
    simple_salesforce_client.query("SELECT Id FROM Contact")
    simple_salesforce_client.query("SELECT Id FROM Contact")
    simple_salesforce_client.limits()
    with pytest.raises(SalesforceRefusedRequest) as raised:
        simple_salesforce_client.query("SELECT Id FROM Contact")
    assert raised.value.status == 403
    assert raised.value.content == [{"message": "TotalRequests Limit exceeded.", "errorCode": "REQUEST_LIMIT_EXCEEDED"}]
    org_settings(daily_api_limit=100)
    assert simple_salesforce_client.query("SELECT Id FROM Contact")["totalSize"] == 3


def test_uri_over_16384_bytes_is_414_and_headers_over_it_431(rest_api):
    long_query = "SELECT Id FROM Contact WHERE Email IN (" + ",".join(
        f"'person{i:05d}@example.com'" for i in range(700)) + ")"
    answer = rest_api.call("GET", "/query", params={"q": long_query})
    assert answer.status_code == 414
    answer = rest_api.call("GET", "/limits", headers={"X-Padding": "x" * 17000})
    assert answer.status_code == 431


def test_a_query_just_under_the_limit_is_answered(rest_api):
    query = "SELECT Id FROM Contact WHERE Email IN (" + ",".join(f"'p{i:05d}@example.com'" for i in range(400)) + ")"
    answer = rest_api.call("GET", "/query", params={"q": query})
    assert answer.status_code == 200 and answer.json()["totalSize"] == 0


def add_fault(client_session, salesforce_url, **rule):
    answer = client_session.post(f"{salesforce_url}/_sandbox/faults", json=rule)
    assert answer.status_code == 201, answer.text


def clear_faults(client_session, salesforce_url):
    assert client_session.delete(f"{salesforce_url}/_sandbox/faults").status_code == 200


def test_fault_rule_503_answers_server_unavailable_until_removed(simple_salesforce_client, salesforce_url, client_session):
    add_fault(client_session, salesforce_url, path="/services/data/*/query*", status=503)
    with pytest.raises(SalesforceGeneralError) as raised:
        simple_salesforce_client.query("SELECT Id FROM Contact")
    assert raised.value.status == 503
    assert raised.value.content[0]["errorCode"] == "SERVER_UNAVAILABLE"
    assert simple_salesforce_client.limits()["DailyApiRequests"]["Max"] == 15000  # other paths are untouched
    clear_faults(client_session, salesforce_url)
    assert simple_salesforce_client.query("SELECT Id FROM Contact")["totalSize"] == 3


def test_fault_rule_invalid_session_id_mid_run(simple_salesforce_client, salesforce_url, client_session):
    add_fault(client_session, salesforce_url, path="/services/data/*", status=401, error_code="INVALID_SESSION_ID",
              message="Session expired or invalid", count=1)
    with pytest.raises(SalesforceExpiredSession) as raised:
        simple_salesforce_client.query("SELECT Id FROM Contact")
    assert raised.value.content == [{"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}]
    assert simple_salesforce_client.query("SELECT Id FROM Contact")["totalSize"] == 3  # count=1: the rule is spent


def test_fault_rule_request_limit_exceeded(simple_salesforce_client, salesforce_url, client_session):
    add_fault(client_session, salesforce_url, method="PATCH", path="/services/data/*/sobjects/*", status=403,
              error_code="REQUEST_LIMIT_EXCEEDED", message="TotalRequests Limit exceeded.")
    with pytest.raises(SalesforceRefusedRequest) as raised:
        simple_salesforce_client.Task.upsert("Mailferry_Key__c/k1", {"Subject": "x"})
    assert raised.value.content[0]["errorCode"] == "REQUEST_LIMIT_EXCEEDED"
    clear_faults(client_session, salesforce_url)
    assert simple_salesforce_client.Task.upsert("Mailferry_Key__c/k1", {"Subject": "x"}) == 201


def test_fault_rule_adds_latency_and_stops_when_removed(simple_salesforce_client, salesforce_url, client_session):
    add_fault(client_session, salesforce_url, path="/services/data/*/limits*", latency_ms=400)
    started = time.monotonic()
    simple_salesforce_client.limits()
    assert time.monotonic() - started >= 0.4
    clear_faults(client_session, salesforce_url)
    started = time.monotonic()
    simple_salesforce_client.limits()
    assert time.monotonic() - started < 0.4


def test_stats_count_calls_per_route_template_and_report_api_usage(simple_salesforce_client, salesforce_url, client_session):
    simple_salesforce_client.query("SELECT Id FROM Contact")
    simple_salesforce_client.Contact.get(simple_salesforce_client.query("SELECT Id FROM Contact LIMIT 1")["records"][0]["Id"])
    stats = client_session.get(f"{salesforce_url}/_sandbox/stats").json()
    assert stats["calls"]["GET /services/data/v<version>/query"] == 2
    assert stats["calls"]["GET /services/data/v<version>/sobjects/<sobject>/<record_id>"] == 1
    assert stats["api_usage"] == {"used": 3, "max": 15000}
    assert client_session.post(f"{salesforce_url}/_sandbox/stats/reset").status_code == 200
    assert client_session.get(f"{salesforce_url}/_sandbox/stats").json()["total"] == 0
