"""Sandbox behaviours that follow Graph where a naive reading of its docs would not (issue 14,
rows 3, 7, 8 and 10; docs/sandbox.md cites each): the 5,000-message cap of a filtered delta
round, Graph's refusal of a too-long subscription, Exchange application access policies and
the known issue of unannounced moves back. On the demo tenant, with an app-only token from
real msal, over HTTPS."""

from __future__ import annotations

import datetime as dt

import msal
import pytest

from mailferry.tls import https_session
from sandbox.world import Address, MailSpec

UTC = dt.timezone.utc


@pytest.fixture
def demo(microsoft_app, sandbox_settings, client_session, certs):
    """(Graph base URL, app-only session, control base URL, the two first users' UPNs)."""
    root = sandbox_settings.microsoft_url
    client_session.post(f"{root}/_sandbox/reset", json={"seed": 1}).raise_for_status()
    tenant = client_session.get(f"{root}/_sandbox/tenant").json()
    app = tenant["apps"][0]
    confidential = msal.ConfidentialClientApplication(
        app["clientId"], client_credential=app["clientSecret"], authority=tenant["authority"],
        http_client=client_session, instance_discovery=False, validate_authority=False)
    token = confidential.acquire_token_for_client(["https://graph.microsoft.com/.default"])
    assert "access_token" in token, token
    session = https_session(certs.ca_cert)
    session.headers["Authorization"] = f"Bearer {token['access_token']}"
    users = [u["userPrincipalName"] for u in client_session.get(f"{root}/_sandbox/users").json()["users"]]
    yield f"{root}/v1.0", session, root, users[:2], app["clientId"]
    session.close()


def _round(session, url, headers=None) -> tuple[list[dict], str]:
    items = []
    while True:
        answer = session.get(url, headers=headers)
        assert answer.status_code == 200, answer.text
        body = answer.json()
        items += body["value"]
        if "@odata.deltaLink" in body:
            return items, body["@odata.deltaLink"]
        url = body["@odata.nextLink"]


def test_a_filtered_delta_round_stops_at_5000_messages_and_never_sends_the_rest(demo, microsoft_app):
    base, session, _, (upn, _), _ = demo
    store = microsoft_app.extensions["mailferry_microsoft_sandbox"].store
    mailbox = store.mailbox(upn)
    now = dt.datetime.now(UTC).replace(microsecond=0)
    for n in range(5_010):
        store.add_message(mailbox, MailSpec(
            user_upn=upn, folder="inbox", sender=Address("erin@prospect.example"), to=(Address(upn),), cc=(), bcc=(),
            subject=f"Bulk {n}", body_text="", received=now - dt.timedelta(minutes=n + 1), categories=(),
            internet_message_id=f"<bulk-{n}@prospect.example>", conversation_key="", is_read=False,
            has_attachments=False))
    inbox = f"{base}/users/{upn}/mailFolders/inbox/messages/delta"
    page = {"Prefer": "odata.maxpagesize=1000"}
    since = (now - dt.timedelta(days=400)).strftime("%Y-%m-%dT%H:%M:%SZ")

    filtered, link = _round(session, f"{inbox}?$select=id&$filter=receivedDateTime ge {since}", page)
    assert len(filtered) == 5_000
    assert _round(session, link, page)[0] == []  # the left-out messages never come
    everything, _ = _round(session, f"{inbox}?$select=id", page)  # no $filter: no cap
    assert len(everything) > 5_010


def test_a_subscription_longer_than_the_clouds_limit_is_refused_with_graphs_extension_error(demo):
    base, session, root, (upn, _), _ = demo
    session.post(f"{root}/_sandbox/settings", json={"subscription_max_minutes": 4230}).raise_for_status()
    expires = dt.datetime.now(UTC) + dt.timedelta(minutes=4320)
    answer = session.post(f"{base}/subscriptions", json={
        "changeType": "created", "notificationUrl": "https://localhost:1/hook",
        "resource": f"users/{upn}/mailFolders/inbox/messages", "clientState": "x",
        "expirationDateTime": expires.strftime("%Y-%m-%dT%H:%M:%SZ")})
    assert answer.status_code == 400
    error = answer.json()["error"]
    assert (error["code"], error["message"]) == (
        "ExtensionError", "Subscription expiration can only be 4230 minutes in the future.")


def test_an_application_access_policy_refuses_app_only_calls_outside_its_scope(demo):
    base, session, root, (inside, outside), client_id = demo
    policy = f"{root}/_sandbox/application-access-policies/{client_id}"
    session.put(policy, json={"accessRight": "RestrictAccess", "mailboxes": [inside]}).raise_for_status()

    assert session.get(f"{base}/users/{inside}/mailFolders/inbox").status_code == 200
    refused = session.get(f"{base}/users/{outside}/mailFolders/inbox")
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "ErrorAccessDenied"
    assert "[RAOP]" in refused.json()["error"]["message"]
    batch = session.post(f"{base}/$batch", json={"requests": [
        {"id": "1", "method": "GET", "url": f"/users/{outside}/mailFolders/inbox"},
        {"id": "2", "method": "GET", "url": f"/users/{inside}/mailFolders/inbox"}]}).json()
    assert {r["id"]: r["status"] for r in batch["responses"]} == {"1": 403, "2": 200}

    session.put(policy, json={"accessRight": "DenyAccess", "mailboxes": [inside]}).raise_for_status()
    assert session.get(f"{base}/users/{inside}/mailFolders/inbox").status_code == 403
    assert session.get(f"{base}/users/{outside}/mailFolders/inbox").status_code == 200
    session.delete(policy).raise_for_status()
    assert session.get(f"{base}/users/{inside}/mailFolders/inbox").status_code == 200


def test_with_the_known_issue_on_a_move_back_is_unannounced_but_delta_still_shows_it(demo, microsoft_app):
    base, session, root, (upn, _), _ = demo
    sandbox = microsoft_app.extensions["mailferry_microsoft_sandbox"]
    heard = []
    sandbox.store.listeners.append(heard.extend)
    try:
        answer = session.post(f"{root}/_sandbox/users/{upn}/known-issues", json={"moveBackUnannounced": True})
        assert answer.json() == {"moveBackUnannounced": True}
        mail = session.post(f"{root}/_sandbox/users/{upn}/messages", json={"subject": "Round trip"}).json()
        _, link = _round(session, f"{base}/users/{upn}/mailFolders/inbox/messages/delta?$select=id")
        session.patch(f"{root}/_sandbox/users/{upn}/messages/{mail['id']}", json={"folder": "archive"})
        heard.clear()
        session.patch(f"{root}/_sandbox/users/{upn}/messages/{mail['id']}", json={"folder": "inbox"})
        assert [c.change_type for c in heard] == ["deleted"]  # from Archive; nothing for the Inbox
        items, _ = _round(session, link)
        assert [i["id"] for i in items if "@removed" not in i] == [mail["id"]]
    finally:
        sandbox.store.listeners.remove(heard.extend)
