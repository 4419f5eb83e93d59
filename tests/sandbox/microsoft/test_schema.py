"""Every message, folder, category, user, subscription and notification the sandbox emits uses
Graph v1.0 property names and types (mail-types.json)."""

from __future__ import annotations

import msal
import pytest

from tests.config_fixtures import DEMO

from tests.sandbox.microsoft.tenant import ALICE, BOB, bearer_session
from .schema import problems
from tests.sandbox.microsoft.graph_calls import subscribe


def test_the_checker_catches_wrong_names_and_types():
    assert problems({"id": "x", "subjectLine": "x"}, "message")
    assert problems({"id": "x", "isRead": "yes"}, "message")
    assert problems({"id": "x", "importance": "urgent"}, "message")
    assert problems({"id": "x", "from": {"emailAddress": {"adress": "a@b"}}}, "message")
    assert problems({"value": [{}]}, "changeNotificationCollection", required=True) == []
    assert problems({}, "changeNotification", required=True)


def test_every_message_matches_the_graph_message_type(graph_session):
    session, base = graph_session
    for user in (ALICE, BOB):
        for folder in ("inbox", "sentitems"):
            url = f"{base}/users/{user.upn}/mailFolders/{folder}/messages?$top=100"
            for message in session.get(url).json()["value"]:
                assert problems(message, "message") == []
                full = session.get(f"{base}/users/{user.upn}/messages/{message['id']}",
                                   params={"$select": "uniqueBody,internetMessageHeaders,subject"}).json()
                assert problems(full, "message") == []
    delta = session.get(f"{base}/users/{ALICE.upn}/mailFolders/inbox/messages/delta").json()
    assert all(problems(item, "message") == [] for item in delta["value"])


def test_folders_categories_and_users_match_their_graph_types(graph_session):
    session, base = graph_session
    for folder in session.get(f"{base}/users/{ALICE.upn}/mailFolders").json()["value"]:
        assert problems(folder, "mailFolder") == []
    for category in session.get(f"{base}/users/{ALICE.upn}/outlook/masterCategories").json()["value"]:
        assert problems(category, "outlookCategory") == []
    for user in session.get(f"{base}/users").json()["value"]:
        assert problems(user, "user") == []


def test_subscriptions_and_notifications_match_their_graph_types(graph_session, receiver, microsoft_url, client_session):
    session, base = graph_session
    sub = subscribe(session, base, receiver).json()
    assert problems(sub, "subscription", required=True) == []
    listed = session.get(f"{base}/subscriptions").json()["value"]
    assert all(problems(s, "subscription", required=True) == [] for s in listed)
    client_session.post(f"{microsoft_url}/_sandbox/users/{ALICE.upn}/messages", json={"to": [ALICE.upn]})
    client_session.post(f"{microsoft_url}/_sandbox/subscriptions/{sub['id']}/lifecycle", json={"event": "missed"})
    change = receiver.wait_for("/hook", 1)[0]["json"]
    assert problems(change, "changeNotificationCollection", required=True) == []
    assert all(problems(n, "changeNotification", required=True) == [] for n in change["value"])
    lifecycle = receiver.wait_for("/lifecycle", 1)[0]["json"]
    assert problems(lifecycle, "changeNotificationCollection", required=True) == []
    # Lifecycle notifications carry no resource or changeType (reference §1.8), names still Graph's.
    assert all(problems(n, "changeNotification") == [] for n in lifecycle["value"])


def test_every_demo_seed_message_matches_the_graph_message_type(demo_microsoft_url, client_session, certs):
    pytest.importorskip("sandbox.seed")
    tenant = client_session.get(f"{demo_microsoft_url}/_sandbox/tenant").json()
    app = msal.ConfidentialClientApplication(
        DEMO.microsoft_client_id, client_credential=DEMO.microsoft_client_secret, authority=tenant["authority"],
        instance_discovery=False, azure_region=False, http_client=client_session)
    token = app.acquire_token_for_client(["https://graph.microsoft.com/.default"])["access_token"]
    users = client_session.get(f"{demo_microsoft_url}/_sandbox/users").json()["users"]
    seen = 0
    with bearer_session(certs, token) as session:
        for user in users:
            for folder in ("inbox", "sentitems"):
                url = f"{tenant['graph']}/users/{user['id']}/mailFolders/{folder}/messages?$top=1000"
                for message in session.get(url).json()["value"]:
                    assert problems(message, "message") == [], message["subject"]
                    seen += 1
    assert seen == sum(u["messages"] for u in users) > 0
