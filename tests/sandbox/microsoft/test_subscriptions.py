"""Subscriptions and change notifications (reference §1.8): validation handshake, delivery with
clientState, lifecycle events, renew within the lifetime limit, delete."""

from __future__ import annotations

import pytest

from tests.sandbox.microsoft.tenant import ALICE, BOB, bearer_session
from tests.sandbox.microsoft.graph_calls import assert_graph_error, soon, subscribe


def test_create_runs_the_validation_handshake_then_answers_201(graph_session, receiver, microsoft_url):
    session, base = graph_session
    answer = subscribe(session, base, receiver)
    assert answer.status_code == 201, answer.text
    sub = answer.json()
    assert sub["@odata.context"] == f"{microsoft_url}/v1.0/$metadata#subscriptions/$entity"
    assert sub["clientState"] == "s3cret-state" and sub["changeType"] == "created,updated,deleted"
    assert sub["resource"] == f"/users/{ALICE.upn}/mailFolders('inbox')/messages"
    checks = receiver.validations()
    assert {c["path"] for c in checks} == {"/hook", "/lifecycle"}
    hook = next(c for c in checks if c["path"] == "/hook")
    assert hook["args"]["tenant"] == "1"  # the subscriber's own query string is kept
    assert hook["headers"]["Content-Type"].startswith("text/plain") and hook["body"] == ""
    assert " " in hook["args"]["validationToken"]  # decoded text, as the receiver must echo it


@pytest.mark.parametrize("echo", ["wrong", "fail"])
def test_failed_validation_is_a_400_and_creates_nothing(graph_session, receiver, echo):
    session, base = graph_session
    receiver.echo = echo
    assert_graph_error(subscribe(session, base, receiver), 400, "InvalidRequest")
    assert session.get(f"{base}/subscriptions").json()["value"] == []


def test_notifications_carry_client_state_for_created_updated_and_deleted_mail(graph_session, receiver, microsoft_url, client_session):
    session, base = graph_session
    sub = subscribe(session, base, receiver).json()
    new = client_session.post(f"{microsoft_url}/_sandbox/users/{ALICE.upn}/messages",
                              json={"from": "x@customer.example", "to": [ALICE.upn], "subject": "Hello"}).json()
    session.patch(f"{base}/users/{ALICE.upn}/messages/{new['id']}", json={"categories": ["CRM"]}).raise_for_status()
    client_session.delete(f"{microsoft_url}/_sandbox/users/{ALICE.upn}/messages/{new['id']}").raise_for_status()
    posts = receiver.wait_for("/hook", 3)
    notes = [p["json"]["value"][0] for p in posts]
    assert [n["changeType"] for n in notes] == ["created", "updated", "deleted"]
    for note in notes:
        assert note["subscriptionId"] == sub["id"] and note["clientState"] == "s3cret-state"
        assert note["resource"] == f"Users/{ALICE.oid}/Messages/{new['id']}"
        assert note["resourceData"]["id"] == new["id"] and note["resourceData"]["@odata.type"] == "#Microsoft.Graph.Message"
        assert note["tenantId"] and note["subscriptionExpirationDateTime"] == sub["expirationDateTime"]
    assert posts[0]["args"] == {"tenant": "1"}
    assert posts[0]["headers"]["Content-Type"] == "application/json"
    client_session.get(f"{microsoft_url}/_sandbox/notifications?wait=1")
    stats = client_session.get(f"{microsoft_url}/_sandbox/stats").json()
    assert stats["subscriptions"] == 1 and stats["notifications"] == {"change.delivered": 3}


def test_folder_subscription_ignores_other_folders_and_mailboxes(graph_session, receiver, microsoft_url, client_session):
    session, base = graph_session
    subscribe(session, base, receiver, changeType="created")
    client_session.post(f"{microsoft_url}/_sandbox/users/{ALICE.upn}/messages", json={"folder": "sentitems", "to": ["a@b.c"]})
    client_session.post(f"{microsoft_url}/_sandbox/users/{BOB.upn}/messages", json={"to": [BOB.upn]})
    inbox = client_session.post(f"{microsoft_url}/_sandbox/users/{ALICE.upn}/messages", json={"to": [ALICE.upn]}).json()
    posts = receiver.wait_for("/hook", 1)
    client_session.get(f"{microsoft_url}/_sandbox/notifications?wait=1")
    assert [p["json"]["value"][0]["resourceData"]["id"] for p in receiver.posts("/hook")] == [inbox["id"]]


def test_whole_mailbox_subscription_by_delegated_user_through_me(microsoft_url, certs, client_session, receiver, alice_token):
    with bearer_session(certs, alice_token) as session:
        answer = subscribe(session, f"{microsoft_url}/v1.0", receiver, resource="me/messages", changeType="created")
        assert answer.status_code == 201, answer.text
        assert answer.json()["creatorId"] == ALICE.oid
        client_session.post(f"{microsoft_url}/_sandbox/users/{ALICE.upn}/messages", json={"folder": "sentitems", "to": ["a@b.c"]})
        assert len(receiver.wait_for("/hook", 1)) == 1
        other = subscribe(session, f"{microsoft_url}/v1.0", receiver, resource=f"users/{BOB.upn}/messages")
        assert_graph_error(other, 403, "ErrorAccessDenied")


def test_renew_extends_expiry_within_the_limit_and_refuses_beyond(graph_session, receiver):
    session, base = graph_session
    sub = subscribe(session, base, receiver).json()
    later = soon(3 * 24 * 60)
    renewed = session.patch(f"{base}/subscriptions/{sub['id']}", json={"expirationDateTime": later})
    assert renewed.status_code == 200 and renewed.json()["expirationDateTime"] == later
    too_far = session.patch(f"{base}/subscriptions/{sub['id']}", json={"expirationDateTime": soon(10_081 + 5)})
    error = assert_graph_error(too_far, 400, "ExtensionError")
    assert error["message"] == "Subscription expiration can only be 10080 minutes in the future."
    assert_graph_error(subscribe(session, base, receiver, expirationDateTime=soon(-5)), 400, "ExtensionError")


def test_delete_and_reauthorize(graph_session, receiver):
    session, base = graph_session
    sub = subscribe(session, base, receiver).json()
    assert session.get(f"{base}/subscriptions/{sub['id']}").json()["id"] == sub["id"]
    reauthorized = session.post(f"{base}/subscriptions/{sub['id']}/reauthorize")
    assert reauthorized.status_code == 204 and reauthorized.content == b""
    assert session.delete(f"{base}/subscriptions/{sub['id']}").status_code == 204
    assert_graph_error(session.get(f"{base}/subscriptions/{sub['id']}"), 404, "ResourceNotFound")


def test_lifecycle_notifications_reach_the_lifecycle_url(graph_session, receiver, microsoft_url, client_session):
    session, base = graph_session
    sub = subscribe(session, base, receiver).json()
    for event in ("reauthorizationRequired", "missed", "subscriptionRemoved"):
        answer = client_session.post(f"{microsoft_url}/_sandbox/subscriptions/{sub['id']}/lifecycle", json={"event": event})
        assert answer.status_code == 202
    posts = receiver.wait_for("/lifecycle", 3)
    notes = [p["json"]["value"][0] for p in posts]
    assert [n["lifecycleEvent"] for n in notes] == ["reauthorizationRequired", "missed", "subscriptionRemoved"]
    assert all(n["subscriptionId"] == sub["id"] and n["clientState"] == "s3cret-state" for n in notes)
    # subscriptionRemoved means it is gone.
    assert_graph_error(session.get(f"{base}/subscriptions/{sub['id']}"), 404, "ResourceNotFound")


@pytest.mark.parametrize("change, code", [
    ({"notificationUrl": "http://localhost:1/hook"}, "InvalidRequest"),
    ({"changeType": "created,moved"}, "InvalidRequest"),
    ({"clientState": "x" * 129}, "InvalidRequest"),
    ({"resource": "/users/x/events"}, "InvalidRequest"),
    ({"resource": "/me/messages"}, "BadRequest"),
])
def test_invalid_subscription_requests_are_refused(graph_session, receiver, change, code):
    session, base = graph_session
    assert_graph_error(subscribe(session, base, receiver, **change), 400, code)
    assert receiver.validations() == []



def test_undeliverable_notifications_are_retried_then_reported_as_missed(graph_session, receiver, microsoft_url, client_session):
    session, base = graph_session
    sub = subscribe(session, base, receiver, changeType="created").json()
    receiver.refuse = True
    client_session.post(f"{microsoft_url}/_sandbox/users/{ALICE.upn}/messages", json={"to": [ALICE.upn]}).raise_for_status()
    missed = receiver.wait_for("/lifecycle", 1)
    assert missed[0]["json"]["value"][0]["lifecycleEvent"] == "missed"
    assert missed[0]["json"]["value"][0]["subscriptionId"] == sub["id"]
    assert len(receiver.posts("/hook")) == 3  # notification_attempts
    log = client_session.get(f"{microsoft_url}/_sandbox/notifications?wait=1").json()["notifications"]
    assert [n["status"] for n in log if n["kind"] == "change"] == [503]


def test_a_silently_dropped_subscription_stops_notifying_and_is_unknown_to_get_patch_and_delete(
        graph_session, receiver, microsoft_url, client_session):
    session, base = graph_session
    sub = subscribe(session, base, receiver).json()
    other = subscribe(session, base, receiver, resource=f"/users/{ALICE.upn}/mailFolders('sentitems')/messages").json()
    assert client_session.delete(f"{microsoft_url}/_sandbox/subscriptions/{sub['id']}").json() == {"dropped": sub["id"]}
    assert client_session.delete(f"{microsoft_url}/_sandbox/subscriptions/{sub['id']}").status_code == 404
    for answer in (session.get(f"{base}/subscriptions/{sub['id']}"),
                   session.patch(f"{base}/subscriptions/{sub['id']}", json={"expirationDateTime": soon(120)}),
                   session.delete(f"{base}/subscriptions/{sub['id']}")):
        # As observed from Graph (docs-contrib #1522, #6599).
        assert assert_graph_error(answer, 404, "ResourceNotFound")["message"] == "The object was not found."
    client_session.post(f"{microsoft_url}/_sandbox/users/{ALICE.upn}/messages", json={"to": [ALICE.upn]}).raise_for_status()
    sent = client_session.post(f"{microsoft_url}/_sandbox/users/{ALICE.upn}/messages",
                               json={"folder": "sentitems", "to": ["a@b.c"]}).json()
    receiver.wait_for("/hook", 1)
    client_session.get(f"{microsoft_url}/_sandbox/notifications?wait=1")
    # Only the other folder's subscription notified; nothing reached the lifecycle URL.
    assert [p["json"]["value"][0]["subscriptionId"] for p in receiver.posts("/hook")] == [other["id"]]
    assert receiver.posts("/hook")[0]["json"]["value"][0]["resourceData"]["id"] == sent["id"]
    assert receiver.posts("/lifecycle") == []
    assert [s["id"] for s in session.get(f"{base}/subscriptions").json()["value"]] == [other["id"]]
