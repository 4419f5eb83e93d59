"""The Microsoft control API (docs/sandbox.md, Microsoft 365): users, delivering, changing and
deleting mail, settings, apps, reset."""

from __future__ import annotations

import pytest

from tests.config_fixtures import DEMO

from tests.sandbox.microsoft.tenant import ALICE, BOB, TENANT, msal_app


def test_users_lists_every_mailbox(microsoft_url, client_session):
    body = client_session.get(f"{microsoft_url}/_sandbox/users").json()
    assert body["tenantId"] == TENANT
    assert {u["userPrincipalName"] for u in body["users"]} == {ALICE.upn, BOB.upn}
    alice = next(u for u in body["users"] if u["id"] == ALICE.oid)
    assert alice["messages"] == 18 and alice["aliases"] == [f"a.archer@contoso-test.com"]


def test_tenant_describes_authority_graph_and_demo_app(microsoft_url, client_session):
    body = client_session.get(f"{microsoft_url}/_sandbox/tenant").json()
    assert body["authority"] == f"{microsoft_url}/{TENANT}" and body["graph"] == f"{microsoft_url}/v1.0"
    assert body["apps"][0]["clientId"] == DEMO.microsoft_client_id


def test_delivered_mail_is_a_realistic_graph_message(microsoft_url, client_session, graph_session):
    session, base = graph_session
    answer = client_session.post(f"{microsoft_url}/_sandbox/users/{ALICE.upn}/messages", json={
        "folder": "inbox", "from": "Erin Example <erin@prospect.example>", "to": [ALICE.upn],
        "cc": [{"name": "Finn", "address": "finn@prospect.example"}], "bcc": "hidden@prospect.example",
        "subject": "Pricing", "body": "Can we talk?", "categories": ["CRM"], "date": "2026-11-20T10:30:00Z"})
    assert answer.status_code == 201
    created = answer.json()
    assert created["internetMessageId"].startswith("<") and created["internetMessageId"].endswith(">")
    message = session.get(f"{base}/users/{ALICE.upn}/messages/{created['id']}").json()
    assert message["from"]["emailAddress"] == {"name": "Erin Example", "address": "erin@prospect.example"}
    assert message["ccRecipients"][0]["emailAddress"]["name"] == "Finn"
    assert message["bccRecipients"][0]["emailAddress"]["address"] == "hidden@prospect.example"
    assert message["receivedDateTime"] == "2026-11-20T10:30:00Z" and message["categories"] == ["CRM"]
    assert message["bodyPreview"] == "Can we talk?" and message["isRead"] is False
    assert message["internetMessageId"] == created["internetMessageId"]


def test_control_patch_changes_categories_and_moves_between_folders(microsoft_url, client_session, graph_session):
    session, base = graph_session
    created = client_session.post(f"{microsoft_url}/_sandbox/users/{ALICE.upn}/messages", json={"to": [ALICE.upn]}).json()
    answer = client_session.patch(f"{microsoft_url}/_sandbox/users/{ALICE.upn}/messages/{created['id']}",
                                  json={"categories": ["DoNotSync"], "folder": "deleteditems"})
    assert answer.status_code == 200
    deleted = session.get(f"{base}/users/{ALICE.upn}/mailFolders/deleteditems").json()
    message = session.get(f"{base}/users/{ALICE.upn}/messages/{created['id']}").json()
    assert message["categories"] == ["DoNotSync"] and message["parentFolderId"] == deleted["id"]


def test_control_delete_removes_the_message(microsoft_url, client_session, graph_session):
    session, base = graph_session
    created = client_session.post(f"{microsoft_url}/_sandbox/users/{ALICE.upn}/messages", json={"to": [ALICE.upn]}).json()
    assert client_session.delete(f"{microsoft_url}/_sandbox/users/{ALICE.upn}/messages/{created['id']}").status_code == 200
    assert session.get(f"{base}/users/{ALICE.upn}/messages/{created['id']}").status_code == 404
    assert client_session.delete(f"{microsoft_url}/_sandbox/users/{ALICE.upn}/messages/{created['id']}").status_code == 404


@pytest.mark.parametrize("payload", [{"folder": "nowhere"}, {"from": 42}, {"date": "yesterday"}, {"categories": "CRM"}])
def test_control_refuses_bad_deliveries(microsoft_url, client_session, payload):
    answer = client_session.post(f"{microsoft_url}/_sandbox/users/{ALICE.upn}/messages", json=payload)
    assert answer.status_code == 400 and answer.json()["error"]


def test_settings_shorten_access_token_lifetime(microsoft_url, client_session):
    answer = client_session.post(f"{microsoft_url}/_sandbox/settings", json={"access_token_lifetime_s": 120})
    assert answer.status_code == 200 and answer.json()["access_token_lifetime_s"] == 120
    result = msal_app(microsoft_url, client_session).acquire_token_for_client(["https://graph.microsoft.com/.default"])
    assert result["expires_in"] == 120
    assert client_session.post(f"{microsoft_url}/_sandbox/settings", json={"bogus": 1}).status_code == 400


def test_registered_app_can_get_tokens(microsoft_url, client_session):
    answer = client_session.post(f"{microsoft_url}/_sandbox/apps", json={
        "client_id": "11111111-2222-4333-8444-555555555555", "client_secret": "other", "app_roles": ["Mail.Read"]})
    assert answer.status_code == 201
    result = msal_app(microsoft_url, client_session, "11111111-2222-4333-8444-555555555555", "other") \
        .acquire_token_for_client(["https://graph.microsoft.com/.default"])
    assert "access_token" in result, result


def test_reset_without_the_seed_module_says_so_or_loads_the_demo(microsoft_url, client_session):
    answer = client_session.post(f"{microsoft_url}/_sandbox/reset", json={"seed": 1})
    try:
        import sandbox.seed  # noqa: F401
    except ImportError:
        assert answer.status_code == 503 and "build_world" in answer.json()["error"]
    else:
        assert answer.status_code == 200 and answer.json()["users"] >= 1
    assert client_session.post(f"{microsoft_url}/_sandbox/reset", json={"seed": "x"}).status_code == 400
