"""Per-folder message delta (reference §1.7): rounds, paging, @removed, 410 SyncStateNotFound."""

from __future__ import annotations

from tests.sandbox.microsoft.tenant import ALICE, INBOX_COUNT
from tests.sandbox.microsoft.graph_calls import assert_graph_error


def run_round(session, url, **kwargs) -> tuple[list[dict], str, int]:
    """Follow nextLinks to the deltaLink; returns (items, deltaLink, pages)."""
    items, pages = [], 0
    while True:
        answer = session.get(url, **kwargs)
        assert answer.status_code == 200, answer.text
        body = answer.json()
        pages += 1
        items += body["value"]
        assert ("@odata.nextLink" in body) != ("@odata.deltaLink" in body)
        if "@odata.deltaLink" in body:
            return items, body["@odata.deltaLink"], pages
        url = body["@odata.nextLink"]
        kwargs.pop("params", None)


def deliver(session, microsoft_url, **fields) -> dict:
    answer = session.post(f"{microsoft_url}/_sandbox/users/{ALICE.upn}/messages", json={
        "from": "Erin Example <erin@prospect.example>", "to": [ALICE.upn], "subject": "New lead", "body": "Hi", **fields})
    assert answer.status_code == 201
    return answer.json()


def test_first_round_returns_current_folder_content_in_pages_then_a_delta_link(graph_session, microsoft_url):
    session, base = graph_session
    items, delta_link, pages = run_round(session, f"{base}/users/{ALICE.upn}/mailFolders/inbox/messages/delta")
    assert len(items) == INBOX_COUNT and len({i["id"] for i in items}) == INBOX_COUNT
    assert pages == 2  # default page size 10
    assert all(i["@odata.type"] == "#microsoft.graph.message" and "@removed" not in i for i in items)
    assert delta_link.startswith(f"{microsoft_url}/v1.0/") and "$deltatoken=" in delta_link


def test_maxpagesize_preference_sets_page_size_and_is_echoed(graph_session):
    session, base = graph_session
    answer = session.get(f"{base}/users/{ALICE.upn}/mailFolders/inbox/messages/delta",
                         headers={"Prefer": "odata.maxpagesize=4"})
    body = answer.json()
    assert len(body["value"]) == 4 and "$skiptoken=" in body["@odata.nextLink"]
    assert answer.headers["Preference-Applied"] == "odata.maxpagesize=4"
    items, _, pages = run_round(session, f"{base}/users/{ALICE.upn}/mailFolders/inbox/messages/delta",
                                headers={"Prefer": "odata.maxpagesize=4"})
    assert pages == 4 and len(items) == INBOX_COUNT


def test_delta_link_returns_only_changes_with_removed_entries(graph_session, microsoft_url, client_session):
    session, base = graph_session
    items, delta_link, _ = run_round(session, f"{base}/users/{ALICE.upn}/mailFolders/inbox/messages/delta")
    quiet = session.get(delta_link).json()
    assert quiet["value"] == [] and "@odata.deltaLink" in quiet
    new = deliver(client_session, microsoft_url)
    patched = items[0]["id"]
    session.patch(f"{base}/users/{ALICE.upn}/messages/{patched}", json={"categories": ["CRM"]}).raise_for_status()
    gone = items[1]["id"]
    assert client_session.delete(f"{microsoft_url}/_sandbox/users/{ALICE.upn}/messages/{gone}").status_code == 200
    changes, next_link, _ = run_round(session, quiet["@odata.deltaLink"])
    by_id = {c["id"]: c for c in changes}
    assert set(by_id) == {new["id"], patched, gone}
    assert by_id[new["id"]]["subject"] == "New lead"
    assert by_id[patched]["categories"] == ["CRM"]
    assert by_id[gone] == {"@odata.type": "#microsoft.graph.message", "id": gone, "@removed": {"reason": "deleted"}}
    assert session.get(next_link).json()["value"] == []


def test_message_moved_out_of_the_folder_is_removed_there_and_created_in_the_other(graph_session, microsoft_url, client_session):
    session, base = graph_session
    items, inbox_link, _ = run_round(session, f"{base}/users/{ALICE.upn}/mailFolders/inbox/messages/delta")
    _, archive_link, _ = run_round(session, f"{base}/users/{ALICE.upn}/mailFolders/archive/messages/delta")
    moved = items[0]["id"]
    client_session.patch(f"{microsoft_url}/_sandbox/users/{ALICE.upn}/messages/{moved}", json={"folder": "archive"}).raise_for_status()
    inbox_changes, _, _ = run_round(session, inbox_link)
    assert inbox_changes == [{"@odata.type": "#microsoft.graph.message", "id": moved, "@removed": {"reason": "deleted"}}]
    archive_changes, _, _ = run_round(session, archive_link)
    assert [c["id"] for c in archive_changes] == [moved] and "@removed" not in archive_changes[0]


def test_changes_during_a_round_appear_in_the_next_round(graph_session, microsoft_url, client_session):
    session, base = graph_session
    first = session.get(f"{base}/users/{ALICE.upn}/mailFolders/inbox/messages/delta").json()
    new = deliver(client_session, microsoft_url)
    rest, delta_link, _ = run_round(session, first["@odata.nextLink"])
    assert new["id"] not in {i["id"] for i in first["value"] + rest}
    later, _, _ = run_round(session, delta_link)
    assert [i["id"] for i in later] == [new["id"]]


def test_select_and_received_filter_are_kept_in_the_tokens(graph_session, microsoft_url, client_session):
    session, base = graph_session
    url = f"{base}/users/{ALICE.upn}/mailFolders/inbox/messages/delta"
    params = {"$select": "subject,receivedDateTime", "$filter": "receivedDateTime ge 2026-11-10T00:00:00Z"}
    items, delta_link, _ = run_round(session, url, params=params)
    assert len(items) == 6
    assert all(set(i) == {"@odata.type", "@odata.etag", "id", "subject", "receivedDateTime"} for i in items)
    old = deliver(client_session, microsoft_url, date="2026-10-01T00:00:00Z")
    new = deliver(client_session, microsoft_url, date="2026-11-20T00:00:00Z")
    changes, _, _ = run_round(session, delta_link)
    assert [c["id"] for c in changes] == [new["id"]] and old["id"] != new["id"]
    assert set(changes[0]) == {"@odata.type", "@odata.etag", "id", "subject", "receivedDateTime"}


def test_change_type_created_skips_updates(graph_session, microsoft_url, client_session):
    session, base = graph_session
    items, delta_link, _ = run_round(session, f"{base}/users/{ALICE.upn}/mailFolders/inbox/messages/delta",
                                     params={"changeType": "created"})
    session.patch(f"{base}/users/{ALICE.upn}/messages/{items[0]['id']}", json={"isRead": True}).raise_for_status()
    new = deliver(client_session, microsoft_url)
    changes, _, _ = run_round(session, delta_link)
    assert [c["id"] for c in changes] == [new["id"]]


def test_expired_delta_token_is_410_sync_state_not_found(graph_session, microsoft_url, client_session):
    session, base = graph_session
    _, delta_link, _ = run_round(session, f"{base}/users/{ALICE.upn}/mailFolders/inbox/messages/delta")
    client_session.post(f"{microsoft_url}/_sandbox/users/{ALICE.upn}/delta/expire").raise_for_status()
    assert_graph_error(session.get(delta_link), 410, "SyncStateNotFound")
    garbage = delta_link.split("$deltatoken=")[0] + "$deltatoken=bm90LWEtdG9rZW4"
    assert_graph_error(session.get(garbage), 410, "SyncStateNotFound")
    # A fresh round works again.
    items, _, _ = run_round(session, f"{base}/users/{ALICE.upn}/mailFolders/inbox/messages/delta")
    assert len(items) == INBOX_COUNT


def test_delta_token_of_one_folder_is_refused_on_another(graph_session):
    session, base = graph_session
    _, delta_link, _ = run_round(session, f"{base}/users/{ALICE.upn}/mailFolders/inbox/messages/delta")
    token = delta_link.split("$deltatoken=")[1]
    answer = session.get(f"{base}/users/{ALICE.upn}/mailFolders/sentitems/messages/delta", params={"$deltatoken": token})
    assert_graph_error(answer, 410, "SyncStateNotFound")


def test_unsupported_delta_filter_is_refused(graph_session):
    session, base = graph_session
    answer = session.get(f"{base}/users/{ALICE.upn}/mailFolders/inbox/messages/delta", params={"$filter": "isRead eq false"})
    assert_graph_error(answer, 400, "ErrorInvalidUrlQueryFilter")
