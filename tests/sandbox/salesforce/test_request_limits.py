"""The three refusals and the one header Salesforce gives a busy org, as the sandbox answers
them (issue 14, rows 4-6): concurrent long-running requests and the daily total are both
403 REQUEST_LIMIT_EXCEEDED told apart by the message; an org with burst entitlement goes on
past its daily limit and says so in `Sforce-Limit-Info`; an overlong request gets the front
end's HTML 414/431 page, not the REST error array (reference wave2 8.1, salesforce 2.1, 2.3)."""

from __future__ import annotations

import threading
import time

LONG_QUERY = "SELECT Id FROM Contact WHERE Email IN (" + ",".join(
    f"'person{i:05d}@example.com'" for i in range(700)) + ")"


def test_other_long_running_requests_refuse_new_ones_with_concurrent_message(rest_api, org_settings):
    org_settings(other_long_requests=5)  # a Developer Edition org: 5 at once
    answer = rest_api.call("GET", "/limits")
    assert answer.status_code == 403
    assert answer.json() == [{"message": "ConcurrentPerOrgLongTxn Limit exceeded.",
                              "errorCode": "REQUEST_LIMIT_EXCEEDED"}]
    org_settings(other_long_requests=4)
    assert rest_api.call("GET", "/limits").status_code == 200


def test_production_org_allows_25_long_requests(rest_api, org_settings):
    org_settings(other_long_requests=24, concurrent_long_requests_limit=25)
    assert rest_api.call("GET", "/limits").status_code == 200
    org_settings(other_long_requests=25)
    assert rest_api.call("GET", "/limits").json()[0]["message"] == "ConcurrentPerOrgLongTxn Limit exceeded."


def test_own_requests_count_once_they_have_run_long(rest_api, org_settings, salesforce_url, client_session):
    """Real in-flight requests: one held open past long_request_ms makes the next refused
    while it runs, and the org is free again once it ends."""
    org_settings(concurrent_long_requests_limit=1, long_request_ms=200)
    rule = {"path": "/services/data/*/limits*", "latency_ms": 1500, "count": 1}
    assert client_session.post(f"{salesforce_url}/_sandbox/faults", json=rule).status_code == 201
    slow = threading.Thread(target=rest_api.call, args=("GET", "/limits"))
    slow.start()
    time.sleep(0.6)
    refused = rest_api.call("GET", "/sobjects/Contact/describe")
    slow.join()
    assert refused.status_code == 403 and refused.json()[0]["message"] == "ConcurrentPerOrgLongTxn Limit exceeded."
    assert rest_api.call("GET", "/sobjects/Contact/describe").status_code == 200


def test_daily_limit_without_bursts_is_total_requests_and_header_has_no_bursts(rest_api, org_settings):
    org_settings(daily_api_limit=3, api_used=2)
    answer = rest_api.call("GET", "/limits")
    assert answer.status_code == 200 and answer.headers["Sforce-Limit-Info"] == "api-usage=3/3"
    answer = rest_api.call("GET", "/limits")
    assert answer.status_code == 403
    assert answer.json() == [{"message": "TotalRequests Limit exceeded.", "errorCode": "REQUEST_LIMIT_EXCEEDED"}]


def test_an_org_with_bursts_goes_on_past_its_limit_and_says_so(rest_api, org_settings):
    org_settings(daily_api_limit=3, api_used=2, api_bursts_monthly=750, api_burst_headroom=2)
    first = rest_api.call("GET", "/limits")
    assert first.status_code == 200 and first.headers["Sforce-Limit-Info"] == "api-usage=3/3; api-bursts=0/750"
    bursting = rest_api.call("GET", "/limits")  # past the limit: a burst starts, the call succeeds
    assert bursting.status_code == 200
    assert bursting.headers["Sforce-Limit-Info"] == "api-usage=4/3; api-bursts=1/750"
    assert rest_api.call("GET", "/limits").headers["Sforce-Limit-Info"] == "api-usage=5/3; api-bursts=1/750"
    refused = rest_api.call("GET", "/limits")  # the burst's headroom is spent
    assert refused.status_code == 403 and refused.json()[0]["message"] == "TotalRequests Limit exceeded."
    assert refused.headers["Sforce-Limit-Info"] == "api-usage=5/3; api-bursts=1/750"


def test_no_burst_left_this_month_is_a_hard_stop(rest_api, org_settings):
    org_settings(daily_api_limit=3, api_used=3, api_bursts_monthly=2, api_bursts_used=2, api_burst_headroom=10)
    answer = rest_api.call("GET", "/limits")
    assert answer.status_code == 403 and answer.json()[0]["message"] == "TotalRequests Limit exceeded."


def test_overlong_uri_is_the_front_ends_html_414(rest_api):
    answer = rest_api.call("GET", "/query", params={"q": LONG_QUERY})
    assert answer.status_code == 414
    assert answer.headers["Content-Type"].startswith("text/html")
    assert answer.text == "<h1>Bad Message 414</h1><pre>reason: URI Too Long</pre>"
    assert "Sforce-Limit-Info" not in answer.headers  # refused before the API saw it


def test_uri_and_headers_over_16384_bytes_is_html_431(rest_api):
    answer = rest_api.call("GET", "/limits", headers={"X-Padding": "x" * 16_400})
    assert answer.status_code == 431
    assert answer.text == "<h1>Bad Message 431</h1><pre>reason: Request Header Fields Too Large</pre>"
