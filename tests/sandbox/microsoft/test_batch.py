"""JSON batching (reference §1.9): 20 requests, per-item status/headers/body, dependsOn → 424."""

from __future__ import annotations

from tests.sandbox.microsoft.tenant import ALICE
from tests.sandbox.microsoft.graph_calls import assert_graph_error


def test_batch_runs_each_request_and_answers_per_id(graph_session):
    session, base = graph_session
    first = session.get(f"{base}/users/{ALICE.upn}/messages", params={"$top": "1"}).json()["value"][0]
    answer = session.post(f"{base}/$batch", json={"requests": [
        {"id": "1", "method": "GET", "url": f"/users/{ALICE.upn}/mailFolders/inbox/messages?$top=5&$select=subject"},
        {"id": "2", "method": "PATCH", "url": f"/users/{ALICE.upn}/messages/{first['id']}",
         "headers": {"Content-Type": "application/json"}, "body": {"categories": ["CRM"]}, "dependsOn": ["1"]},
        {"id": "3", "method": "GET", "url": f"/users/{ALICE.upn}/messages/not-an-id"},
    ]})
    assert answer.status_code == 200
    responses = {r["id"]: r for r in answer.json()["responses"]}
    assert responses["1"]["status"] == 200 and len(responses["1"]["body"]["value"]) == 5
    assert responses["1"]["headers"]["Content-Type"].startswith("application/json")
    assert responses["2"]["status"] == 200 and responses["2"]["body"]["categories"] == ["CRM"]
    assert responses["3"]["status"] == 400 and responses["3"]["body"]["error"]["code"] == "ErrorInvalidIdMalformed"


def test_dependents_of_a_failed_request_get_424(graph_session):
    session, base = graph_session
    answer = session.post(f"{base}/$batch", json={"requests": [
        {"id": "a", "method": "GET", "url": f"/users/{ALICE.upn}/messages/not-an-id"},
        {"id": "b", "method": "GET", "url": f"/users/{ALICE.upn}/mailFolders", "dependsOn": ["a"]},
    ]}).json()
    by_id = {r["id"]: r for r in answer["responses"]}
    assert by_id["b"]["status"] == 424 and by_id["b"]["body"]["error"]["code"] == "FailedDependency"


def test_batch_of_twenty_is_accepted_and_twenty_one_refused(graph_session):
    session, base = graph_session
    parts = [{"id": str(n), "method": "GET", "url": f"/users/{ALICE.upn}/mailFolders/inbox"} for n in range(21)]
    ok = session.post(f"{base}/$batch", json={"requests": parts[:20]})
    assert ok.status_code == 200 and all(r["status"] == 200 for r in ok.json()["responses"])
    assert_graph_error(session.post(f"{base}/$batch", json={"requests": parts}), 400, "BadRequest")


def test_malformed_batches_are_400(graph_session):
    session, base = graph_session
    duplicate = [{"id": "1", "method": "GET", "url": "/users"}, {"id": "1", "method": "GET", "url": "/users"}]
    assert_graph_error(session.post(f"{base}/$batch", json={"requests": duplicate}), 400, "BadRequest")
    no_type = [{"id": "1", "method": "PATCH", "url": "/users/x/messages/y", "body": {"isRead": True}}]
    assert_graph_error(session.post(f"{base}/$batch", json={"requests": no_type}), 400, "BadRequest")
    absolute = [{"id": "1", "method": "GET", "url": "https://graph.microsoft.com/v1.0/users"}]
    assert_graph_error(session.post(f"{base}/$batch", json={"requests": absolute}), 400, "BadRequest")


def test_batch_parts_are_authenticated_with_the_outer_token(microsoft_url, client_session):
    answer = client_session.post(f"{microsoft_url}/v1.0/$batch", json={"requests": [{"id": "1", "method": "GET", "url": "/users"}]})
    assert_graph_error(answer, 401, "InvalidAuthenticationToken")


def test_batch_parts_are_counted_per_route(graph_session, microsoft_url, client_session):
    session, base = graph_session
    client_session.post(f"{microsoft_url}/_sandbox/stats/reset")
    session.post(f"{base}/$batch", json={"requests": [
        {"id": str(n), "method": "GET", "url": f"/users/{ALICE.upn}/mailFolders/inbox"} for n in range(3)]})
    stats = client_session.get(f"{microsoft_url}/_sandbox/stats").json()
    assert stats["calls"]["POST /v1.0/$batch"] == 1
    assert stats["calls"]["GET /v1.0/users/<user_ref>/mailFolders/<folder_ref>"] == 3
    # The client sent one HTTP request: the total less the parts run inside it.
    assert (stats["total"], stats["batch_parts"]) == (4, 3)
