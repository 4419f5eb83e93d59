"""GraphClient against the Microsoft sandbox over HTTPS: delta rounds and cursors, messages,
categories, master categories, $batch, and how every Graph failure maps to a neutral kind."""

from __future__ import annotations

import datetime as dt

import pytest

from mailferry.microsoft_identity import acquire_app_token, delegated_token_provider
from mailferry.provider_errors import ErrorKind, ProviderError
from mailferry.tls import https_session
from tests.sandbox.microsoft.tenant import ALICE, BOB, INBOX_COUNT, START, TENANT
from worker.microsoft.graph import BatchPart, GraphClient
from worker.microsoft.messages import EmailAddress


def full_round(graph: GraphClient, user: str, folder_id: str, link=None, **kwargs):
    """Follow one delta round to its deltaLink; returns (messages, removed ids, deltaLink, pages)."""
    messages, removed, pages = [], [], 0
    while True:
        page = graph.delta(user, folder_id, link, **kwargs)
        pages += 1
        messages += page.messages
        removed += page.removed_ids
        assert (page.next_link is None) != (page.delta_link is None)
        if page.delta_link:
            return messages, removed, page.delta_link, pages
        link = page.next_link


def deliver(client_session, microsoft_url, upn=ALICE.upn, **fields) -> dict:
    answer = client_session.post(f"{microsoft_url}/_sandbox/users/{upn}/messages", json={
        "from": "Erin Example <erin@prospect.example>", "to": [upn], "subject": "New lead",
        "body": "Hi <b>there</b>", **fields})
    assert answer.status_code == 201, answer.text
    return answer.json()


def add_fault(client_session, microsoft_url, **rule):
    answer = client_session.post(f"{microsoft_url}/_sandbox/faults", json=rule)
    assert answer.status_code == 201, answer.text


@pytest.fixture
def inbox(app_graph) -> str:
    return app_graph.folder(ALICE.upn, "inbox")["id"]


def test_folder_resolves_a_well_known_name_to_its_id(app_graph):
    inbox = app_graph.folder(ALICE.upn, "inbox")
    sent = app_graph.folder(ALICE.upn, "sentitems")
    assert inbox["displayName"] == "Inbox" and sent["displayName"] == "Sent Items"
    assert inbox["id"] != "inbox" and inbox["id"] != sent["id"]


def test_first_delta_round_pages_through_next_links_then_ends_with_a_delta_link(app_graph, inbox):
    calls_before = app_graph.calls
    messages, removed, delta_link, pages = full_round(app_graph, ALICE.upn, inbox, page_size=4)
    assert pages == 4 and app_graph.calls - calls_before == 4  # one Graph call per page
    assert len(messages) == INBOX_COUNT and len({m.id for m in messages}) == INBOX_COUNT
    assert removed == [] and "$deltatoken=" in delta_link
    quote = next(m for m in messages if m.subject == "Quote 1")
    assert quote.internet_message_id == "<quote-1@customer.example>"
    assert quote.from_ == EmailAddress("Carol Customer", "carol@customer.example") == quote.originator
    assert quote.to == (EmailAddress(ALICE.display_name, ALICE.upn),)
    assert quote.cc == (EmailAddress("Dave", "dave@customer.example"),) and quote.bcc == ()
    assert quote.received_at == START + dt.timedelta(days=1)
    assert quote.received_at.tzinfo == dt.timezone.utc and quote.sent_at is not None
    assert quote.parent_folder_id == inbox and quote.is_draft is False and quote.conversation_id
    # The text body, as asked for with Prefer: outlook.body-content-type="text".
    assert quote.body_text == "Hello Alice,\nquote number 1 attached.\n<b>not html</b>"
    assert next(m for m in messages if m.subject == "Quote 5").categories == ("CRM",)


def test_backfill_window_filters_the_first_round_by_received_date(app_graph, inbox):
    since = START + dt.timedelta(days=10)
    messages, _, _, _ = full_round(app_graph, ALICE.upn, inbox, received_since=since, page_size=50)
    assert sorted(m.subject for m in messages) == [f"Quote {n}" for n in range(10, INBOX_COUNT)]


def test_delta_link_returns_delivered_mail_then_removals(app_graph, inbox, microsoft_url, client_session):
    _, _, delta_link, _ = full_round(app_graph, ALICE.upn, inbox)
    quiet, _, delta_link, _ = full_round(app_graph, ALICE.upn, inbox, delta_link)
    assert quiet == []
    new = deliver(client_session, microsoft_url)
    changed, removed, delta_link, _ = full_round(app_graph, ALICE.upn, inbox, delta_link)
    assert [m.id for m in changed] == [new["id"]] and removed == []
    assert changed[0].from_ == EmailAddress("Erin Example", "erin@prospect.example")
    assert changed[0].internet_message_id == new["internetMessageId"]
    client_session.delete(f"{microsoft_url}/_sandbox/users/{ALICE.upn}/messages/{new['id']}").raise_for_status()
    changed, removed, _, _ = full_round(app_graph, ALICE.upn, inbox, delta_link)
    assert changed == [] and removed == [new["id"]]


def test_category_change_comes_back_through_delta_and_message(app_graph, inbox):
    messages, _, delta_link, _ = full_round(app_graph, ALICE.upn, inbox)
    target = messages[0]
    app_graph.set_categories(ALICE.upn, target.id, [*target.categories, "DoNotSync"])
    changed, _, _, _ = full_round(app_graph, ALICE.upn, inbox, delta_link)
    assert [m.id for m in changed] == [target.id] and "DoNotSync" in changed[0].categories
    assert "DoNotSync" in app_graph.message(ALICE.upn, target.id).categories


def test_message_moved_between_folders_keeps_its_id(app_graph, inbox, microsoft_url, client_session):
    _, _, delta_link, _ = full_round(app_graph, ALICE.upn, inbox)
    new = deliver(client_session, microsoft_url)
    client_session.patch(f"{microsoft_url}/_sandbox/users/{ALICE.upn}/messages/{new['id']}",
                         json={"folder": "archive"}).raise_for_status()
    assert app_graph.message(ALICE.upn, new["id"]).parent_folder_id == app_graph.folder(ALICE.upn, "archive")["id"]


def test_expired_delta_token_is_a_cursor_error_and_a_new_round_recovers(app_graph, inbox, microsoft_url, client_session):
    _, _, delta_link, _ = full_round(app_graph, ALICE.upn, inbox)
    client_session.post(f"{microsoft_url}/_sandbox/users/{ALICE.upn}/delta/expire").raise_for_status()
    with pytest.raises(ProviderError) as caught:
        app_graph.delta(ALICE.upn, inbox, delta_link)
    assert caught.value.kind is ErrorKind.CURSOR
    assert caught.value.status == 410 and caught.value.code == "SyncStateNotFound"
    messages, _, _, _ = full_round(app_graph, ALICE.upn, inbox)
    assert len(messages) == INBOX_COUNT


def test_a_delta_link_to_another_host_is_refused_without_sending_the_token(app_graph, inbox):
    calls = app_graph.calls
    with pytest.raises(ProviderError) as caught:
        app_graph.delta(ALICE.upn, inbox, "https://attacker.example/v1.0/users/x/messages/delta?$deltatoken=1")
    assert caught.value.kind is ErrorKind.CURSOR and app_graph.calls == calls


def test_throttling_429_is_temporary_with_graphs_retry_after(app_graph, inbox, microsoft_url, client_session):
    add_fault(client_session, microsoft_url, path="*/messages/delta", status=429, retry_after=7, count=1)
    with pytest.raises(ProviderError) as caught:
        app_graph.delta(ALICE.upn, inbox, None)
    error = caught.value
    assert (error.kind, error.status, error.code, error.retry_after) == \
        (ErrorKind.TEMPORARY, 429, "ApplicationThrottled", 7)
    assert app_graph.delta(ALICE.upn, inbox, None).messages  # count=1: the next call goes through


def test_mailbox_concurrency_is_temporary_with_retry_after(app_graph, inbox, microsoft_url, client_session):
    add_fault(client_session, microsoft_url, path="*/messages/delta", status=429, error_code="ApplicationThrottled",
              retry_after=2, count=1)
    with pytest.raises(ProviderError) as caught:
        app_graph.delta(ALICE.upn, inbox, None)
    assert caught.value.kind is ErrorKind.TEMPORARY and caught.value.retry_after == 2
    assert "MailboxConcurrency" in caught.value.message


def test_service_unavailable_503_is_temporary_with_retry_after(app_graph, microsoft_url, client_session):
    add_fault(client_session, microsoft_url, path="/v1.0/users/*/mailFolders/*", status=503, retry_after=3, count=1)
    with pytest.raises(ProviderError) as caught:
        app_graph.folder(ALICE.upn, "inbox")
    assert (caught.value.kind, caught.value.code, caught.value.retry_after) == \
        (ErrorKind.TEMPORARY, "serviceNotAvailable", 3)


def test_deleted_message_is_not_found(app_graph, microsoft_url, client_session):
    new = deliver(client_session, microsoft_url)
    client_session.delete(f"{microsoft_url}/_sandbox/users/{ALICE.upn}/messages/{new['id']}").raise_for_status()
    with pytest.raises(ProviderError) as caught:
        app_graph.message(ALICE.upn, new["id"])
    assert caught.value.kind is ErrorKind.NOT_FOUND and caught.value.code == "ErrorItemNotFound"


def test_rejected_token_is_retried_once_with_a_fresh_token_then_auth(microsoft_config, certs):
    asked = []

    def provider():
        asked.append(1)
        return "not-a-token"

    with https_session(certs.ca_cert) as session:
        graph = GraphClient(session, microsoft_config.microsoft_graph_url, provider)
        with pytest.raises(ProviderError) as caught:
            graph.folder(ALICE.upn, "inbox")
    assert caught.value.kind is ErrorKind.AUTH and caught.value.code == "InvalidAuthenticationToken"
    assert len(asked) == 2 and graph.calls == 2


def test_rejected_token_succeeds_when_the_fresh_token_is_good(microsoft_config, certs):
    tokens = iter(["stale-token", acquire_app_token(microsoft_config, TENANT)])
    with https_session(certs.ca_cert) as session:
        graph = GraphClient(session, microsoft_config.microsoft_graph_url, lambda: next(tokens))
        assert graph.folder(ALICE.upn, "inbox")["displayName"] == "Inbox"
        assert graph.folder(ALICE.upn, "sentitems")  # the good token is kept
    assert graph.calls == 3


def test_delegated_token_reads_only_its_own_mailbox(microsoft_sign_in, secret_box, microsoft_config, certs):
    provider = delegated_token_provider(microsoft_config, microsoft_sign_in(ALICE.upn).sealed(secret_box), secret_box, lambda _: None)
    with https_session(certs.ca_cert) as session:
        graph = GraphClient(session, microsoft_config.microsoft_graph_url, provider)
        inbox = graph.folder(ALICE.upn, "inbox")["id"]
        assert len(full_round(graph, ALICE.upn, inbox)[0]) == INBOX_COUNT
        with pytest.raises(ProviderError) as caught:
            graph.folder(BOB.upn, "inbox")
    assert caught.value.kind is ErrorKind.AUTH and caught.value.code == "ErrorAccessDenied"


def test_master_category_is_added_once(app_graph):
    first = app_graph.add_master_category(ALICE.upn, "Sync to CRM", "preset0")
    again = app_graph.add_master_category(ALICE.upn, "sync to crm", "preset4")  # exists: returned as is
    assert first == again and first.color == "preset0"
    assert [c.display_name for c in app_graph.master_categories(ALICE.upn)].count("Sync to CRM") == 1


def test_batch_answers_each_part_in_order_with_its_own_error(app_graph, inbox, microsoft_url, client_session):
    new = deliver(client_session, microsoft_url)
    gone = deliver(client_session, microsoft_url)
    client_session.delete(f"{microsoft_url}/_sandbox/users/{ALICE.upn}/messages/{gone['id']}").raise_for_status()
    calls = app_graph.calls
    results = app_graph.batch([
        BatchPart("PATCH", f"/users/{ALICE.upn}/messages/{new['id']}", {"categories": ["CRM"]}),
        BatchPart("GET", f"/users/{ALICE.upn}/messages/{gone['id']}"),
        BatchPart("GET", f"/users/{ALICE.upn}/mailFolders/inbox"),
    ])
    assert app_graph.calls == calls + 1
    assert [r.status for r in results] == [200, 404, 200]
    assert results[0].error is None and results[0].body["categories"] == ["CRM"]
    assert results[1].error.kind is ErrorKind.NOT_FOUND
    assert results[2].body["id"] == inbox
    with pytest.raises(ValueError):
        app_graph.batch([BatchPart("GET", "/users/x/mailFolders/inbox")] * 21)


def test_message_without_sender_parses_with_no_from(app_graph):
    inbox = app_graph.folder(BOB.upn, "inbox")["id"]
    messages, _, _, _ = full_round(app_graph, BOB.upn, inbox)
    [no_sender] = [m for m in messages if m.subject == "No sender"]
    assert no_sender.from_ is None and no_sender.sender is None and no_sender.originator is None
    assert [a.address for a in no_sender.to] == [BOB.upn]
