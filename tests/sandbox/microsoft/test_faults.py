"""Fault rules and throttling on the Microsoft server (reference §1.10): 429 with Retry-After,
MailboxConcurrency, 503, added latency; all stop when the rules are removed."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

from tests.sandbox.microsoft.tenant import ALICE, bearer_session
from tests.sandbox.microsoft.graph_calls import assert_graph_error


def add_fault(client_session, microsoft_url, **rule):
    answer = client_session.post(f"{microsoft_url}/_sandbox/faults", json=rule)
    assert answer.status_code == 201, answer.text


def test_injected_429_carries_retry_after_and_stops_when_removed(graph_session, microsoft_url, client_session):
    session, base = graph_session
    add_fault(client_session, microsoft_url, path="/v1.0/users/*/messages", status=429, retry_after=7)
    url = f"{base}/users/{ALICE.upn}/messages"
    answer = session.get(url)
    assert_graph_error(answer, 429, "ApplicationThrottled")
    assert answer.headers["Retry-After"] == "7"
    assert client_session.delete(f"{microsoft_url}/_sandbox/faults").json()["removed"] == 1
    assert session.get(url).status_code == 200


def test_injected_mailbox_concurrency_error_reads_like_graphs_and_stops_when_removed(graph_session, microsoft_url, client_session):
    session, base = graph_session
    add_fault(client_session, microsoft_url, path="*/messages/delta", status=429, error_code="ApplicationThrottled", retry_after=2)
    url = f"{base}/users/{ALICE.upn}/mailFolders/inbox/messages/delta"
    for _ in range(2):
        answer = session.get(url)
        assert assert_graph_error(answer, 429, "ApplicationThrottled")["message"] == \
            "Application is over its MailboxConcurrency limit."
        assert answer.headers["Retry-After"] == "2"
    client_session.delete(f"{microsoft_url}/_sandbox/faults")
    assert session.get(url).status_code == 200


def test_fault_with_a_count_hits_only_that_many_calls(graph_session, microsoft_url, client_session):
    session, base = graph_session
    add_fault(client_session, microsoft_url, path="*/mailFolders/inbox", status=503, count=1)
    url = f"{base}/users/{ALICE.upn}/mailFolders/inbox"
    assert session.get(url).status_code == 503
    assert session.get(url).status_code == 200


def test_injected_503_and_latency(graph_session, microsoft_url, client_session):
    session, base = graph_session
    add_fault(client_session, microsoft_url, path="/v1.0/users/*/mailFolders", status=503, retry_after=3)
    add_fault(client_session, microsoft_url, path="/v1.0/users/*/mailFolders/inbox", latency_ms=400)
    answer = session.get(f"{base}/users/{ALICE.upn}/mailFolders")
    assert_graph_error(answer, 503, "serviceNotAvailable")
    assert answer.headers["Retry-After"] == "3"
    started = time.monotonic()
    assert session.get(f"{base}/users/{ALICE.upn}/mailFolders/inbox").status_code == 200
    assert time.monotonic() - started >= 0.4
    client_session.delete(f"{microsoft_url}/_sandbox/faults")
    started = time.monotonic()
    assert session.get(f"{base}/users/{ALICE.upn}/mailFolders").status_code == 200
    assert session.get(f"{base}/users/{ALICE.upn}/mailFolders/inbox").status_code == 200
    assert time.monotonic() - started < 0.4


def test_more_than_four_concurrent_requests_on_one_mailbox_get_mailbox_concurrency(microsoft_url, certs, app_token, client_session):
    # Slow every call down so six overlap; the sandbox holds a mailbox slot while the latency runs.
    add_fault(client_session, microsoft_url, path=f"/v1.0/users/{ALICE.upn}/mailFolders/inbox", latency_ms=600)

    def call(_):
        with bearer_session(certs, app_token) as session:
            return session.get(f"{microsoft_url}/v1.0/users/{ALICE.upn}/mailFolders/inbox")

    with ThreadPoolExecutor(6) as pool:
        answers = list(pool.map(call, range(6)))
    throttled = [a for a in answers if a.status_code == 429]
    assert sum(a.status_code == 200 for a in answers) == 4 and len(throttled) == 2
    for answer in throttled:
        error = assert_graph_error(answer, 429, "ApplicationThrottled")
        assert error["message"] == "Application is over its MailboxConcurrency limit."
        assert int(answer.headers["Retry-After"]) >= 1
    client_session.delete(f"{microsoft_url}/_sandbox/faults")
    with ThreadPoolExecutor(6) as pool:
        assert all(a.status_code == 200 for a in pool.map(call, range(6)))


def test_throttled_batch_part_reports_its_own_429_and_retry_after(graph_session, microsoft_url, client_session):
    session, base = graph_session
    add_fault(client_session, microsoft_url, path="/v1.0/users/*/mailFolders/sentitems", status=429, retry_after=5)
    answer = session.post(f"{base}/$batch", json={"requests": [
        {"id": "1", "method": "GET", "url": f"/users/{ALICE.upn}/mailFolders/inbox"},
        {"id": "2", "method": "GET", "url": f"/users/{ALICE.upn}/mailFolders/sentitems"}]})
    assert answer.status_code == 200
    by_id = {r["id"]: r for r in answer.json()["responses"]}
    assert by_id["1"]["status"] == 200
    assert by_id["2"]["status"] == 429 and by_id["2"]["headers"]["Retry-After"] == "5"
    # Every part gave its mailbox slot back: four parallel calls still fit.
    with ThreadPoolExecutor(4) as pool:
        answers = list(pool.map(lambda _: session.get(f"{base}/users/{ALICE.upn}/mailFolders/inbox"), range(4)))
    assert all(a.status_code == 200 for a in answers)

