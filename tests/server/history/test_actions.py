"""Sync History actions: Save (Ignore Email / Address / Domain on many rows at once, the rows
leaving the list, the syncs queued by job name), Retry now, Create Contact / Create Lead links."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import unquote_plus

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from mailferry.db import utcnow
from mailferry.job_queue import sync_job_id
from mailferry.models import IgnoredEmail, IgnoreEntry, Message, UnmatchedAddress
from mailferry.salesforce_links import new_record_url
from sandbox.salesforce.lightning import parse_default_field_values
from tests.server.history.helpers import INSTANCE
from tests.server.history.helpers import csrf_token, elements, row_ids


def _participants(*addresses):
    return [{"address": a, "name": n, "role": r} for a, n, r in addresses]


def _fresh(engine, model, **where):
    with Session(engine) as session:
        return session.execute(select(model).filter_by(**where)).scalars().all()


def test_save_applies_ignore_email_to_several_rows_and_they_leave_the_list(history_client, history_world, engine, sync_queue):
    rows = [history_world.message(subject=f"Newsletter {i}") for i in range(3)]
    keep = history_world.message(subject="Keep me")
    history_world.commit()
    response = history_client.post("/history/unresolved/save", data={
        "csrf_token": csrf_token(history_client), "ignore_email": [str(rows[0].id), str(rows[2].id), str(rows[1].id)],
        "sort": "subject", "dir": "asc"})
    assert response.status_code == 302
    assert response.headers["Location"] == "/history/unresolved?sort=subject&dir=asc"
    html = history_client.get(response.headers["Location"]).get_data(as_text=True)
    assert row_ids(html) == [keep.id]
    assert "Ignored 3 emails" in html
    ignored = {r.internet_message_id for r in _fresh(engine, IgnoredEmail, user_id=history_world.user.id)}
    assert ignored == {r.internet_message_id for r in rows}
    for row in _fresh(engine, Message, user_id=history_world.user.id, status="ignored"):
        assert row.pending_operation == "create" and row.reason == "ignore_email"  # the worker decides again
    assert sync_job_id(history_world.mailbox.id) in sync_queue.job_ids
    assert sync_queue.fetch_job(sync_job_id(history_world.mailbox.id)).func_name == "worker.jobs.sync_mailbox"


def test_save_applies_ignore_address_and_domain_from_the_unmatched_tab(history_client, history_world, engine, sync_queue):
    ann = history_world.unmatched(address="ann@northwind.example")
    bob = history_world.unmatched(address="bob@eu.contoso.example")
    cy = history_world.unmatched(address="cy@contoso.example")
    keep = history_world.unmatched(address="dee@fabrikam.example")
    due_later = history_world.message(reason="no_match", next_attempt_at=utcnow().replace(year=2099),
                              participants=_participants(("zed@fabrikam.example", "Zed", "from")))
    only_ignored = history_world.message(reason="no_match", next_attempt_at=utcnow().replace(year=2099),
                                 participants=_participants(("ann@northwind.example", "Ann", "from")))
    history_world.commit()
    response = history_client.post("/history/unmatched/save", data={
        "csrf_token": csrf_token(history_client), "ignore_address": ["ann@northwind.example"],
        "ignore_domain": ["contoso.example"]})
    html = history_client.get(response.headers["Location"]).get_data(as_text=True)
    assert row_ids(html) == [keep.id]
    assert "Added to your Ignore List: ann@northwind.example, contoso.example" in html
    entries = {(e.kind, e.value, e.source) for e in _fresh(engine, IgnoreEntry, user_id=history_world.user.id)}
    assert entries == {("address", "ann@northwind.example", "history"), ("domain", "contoso.example", "history")}
    assert {r.id for r in _fresh(engine, UnmatchedAddress, user_id=history_world.user.id)} == {keep.id}
    assert not {ann.id, bob.id, cy.id} & {r.id for r in _fresh(engine, UnmatchedAddress)}
    # Unresolved emails are re-decided at once: one that now has nobody to look up leaves
    # the tab as skipped; the others are due at once, and the mailbox sync is queued by name.
    assert _fresh(engine, Message, id=due_later.id)[0].next_attempt_at <= utcnow()
    skipped = _fresh(engine, Message, id=only_ignored.id)[0]
    assert (skipped.status, skipped.reason) == ("skipped", "no_candidates")
    assert sync_job_id(history_world.mailbox.id) in sync_queue.job_ids


def test_unresolved_rows_offer_ignore_and_create_for_each_unmatched_participant(history_client, history_world):
    history_world.unmatched(address="ann@northwind.example", display_name="Ann Ng")
    row = history_world.message(participants=_participants(("ann@northwind.example", "Ng, Ann", "from"),
                                                   ("rep@acme.example", "Rep", "to"),
                                                   ("known@contact.example", "Known", "cc")))
    history_world.commit()
    html = history_client.get("/history/unresolved").get_data(as_text=True)
    people = elements(html, "participant")
    assert [p["data-address"] for p in people] == ["ann@northwind.example"]
    assert elements(html, "ignore-address")[0]["value"] == "ann@northwind.example"
    assert elements(html, "ignore-domain")[0]["value"] == "northwind.example"
    contact = elements(html, "create-contact")[0]
    assert contact["target"] == "_blank" and contact["rel"] == "noopener"
    assert contact["href"] == f"{INSTANCE}/lightning/o/Contact/new?defaultFieldValues=Email=ann%40northwind.example,FirstName=Ann,LastName=Ng"
    assert elements(html, "create-lead")[0]["href"].startswith(f"{INSTANCE}/lightning/o/Lead/new?defaultFieldValues=")
    assert f'id="ignore-email-{row.id}"' in html and f'for="ignore-email-{row.id}"' in html


def test_save_from_the_unresolved_tab_ignores_addresses_and_domains_and_mixed_choices(history_client, history_world, engine, sync_queue):
    history_world.unmatched(address="ann@northwind.example")
    history_world.unmatched(address="bo@globex.example")
    first = history_world.message(participants=_participants(("ann@northwind.example", "Ann", "from")))
    second = history_world.message(participants=_participants(("bo@globex.example", "Bo", "from")))
    third = history_world.message(subject="ignore this one")
    history_world.commit()
    history_client.post("/history/unresolved/save", data={
        "csrf_token": csrf_token(history_client), "ignore_email": [str(third.id)],
        "ignore_address": ["ann@northwind.example", "ann@northwind.example"], "ignore_domain": ["globex.example"]})
    values = {e.value for e in _fresh(engine, IgnoreEntry, user_id=history_world.user.id)}
    assert values == {"ann@northwind.example", "globex.example"}
    assert _fresh(engine, Message, id=third.id)[0].status == "ignored"
    # Nobody is left to look up in either email: they leave the Unresolved tab at once.
    assert _fresh(engine, Message, user_id=history_world.user.id, status="unresolved") == []
    assert {r.id for r in _fresh(engine, Message, user_id=history_world.user.id, status="skipped")} == {first.id, second.id}
    assert _fresh(engine, UnmatchedAddress, user_id=history_world.user.id) == []


def test_save_refuses_invalid_or_mismatched_values_with_a_clear_message(history_client, history_world, engine):
    history_world.commit()
    response = history_client.post("/history/unmatched/save", data={
        "csrf_token": csrf_token(history_client), "ignore_address": ["not an address", "example.com"],
        "ignore_domain": ["com", "jane@x.example"]}, follow_redirects=True)
    html = response.get_data(as_text=True)
    assert html.count("Not added:") == 4
    assert "is not an address" in html and "is not a domain" in html
    assert _fresh(engine, IgnoreEntry, user_id=history_world.user.id) == []


def test_save_with_nothing_ticked_says_so(history_client, history_world):
    response = history_client.post("/history/unresolved/save", data={"csrf_token": csrf_token(history_client)}, follow_redirects=True)
    assert "Nothing was selected" in response.get_data(as_text=True)


def test_save_and_retry_need_the_csrf_token(history_client, history_world):
    row = history_world.message()
    history_world.commit()
    assert history_client.post("/history/unresolved/save", data={"ignore_email": [str(row.id)]}).status_code == 400
    assert history_client.post("/history/retry", data={"message_id": str(row.id)}).status_code == 400
    assert history_client.post("/ignore-list", data={"value": "x.example"}).status_code == 400


def test_retry_now_makes_the_email_or_all_of_them_due_and_queues_their_mailboxes_sync(history_client, history_world, engine,
                                                                                       sync_queue):
    row = history_world.message(reason="no_match")
    other = history_world.message(reason="no_match")
    history_world.commit()
    later = utcnow() + timedelta(minutes=15)
    with Session(engine) as session:
        session.execute(update(Message).values(next_attempt_at=later))
        session.commit()
    token = csrf_token(history_client)
    response = history_client.post("/history/retry", data={"csrf_token": token, "message_id": str(row.id), "tab": "unresolved",
                                                   "q": "x"})
    assert response.headers["Location"] == "/history/unresolved?q=x"
    assert [(j.func_name, j.args) for j in sync_queue.get_jobs()] == [("worker.jobs.sync_mailbox", (history_world.mailbox.id,))]
    with Session(engine) as session:
        due = {m.id: m.next_attempt_at <= utcnow() for m in session.execute(select(Message)).scalars()}
    assert due == {row.id: True, other.id: False}
    history_client.post("/history/retry", data={"csrf_token": token, "tab": "unresolved"})
    with Session(engine) as session:
        assert all(m.next_attempt_at <= utcnow() for m in session.execute(select(Message)).scalars())


def test_retry_now_of_another_users_email_queues_nothing(history_client, history_world, sync_queue):
    theirs = history_world.message(history_world.stranger_mailbox, reason="no_match")
    history_world.commit()
    response = history_client.post("/history/retry", data={"csrf_token": csrf_token(history_client), "message_id": str(theirs.id)},
                           follow_redirects=True)
    assert "Nothing to retry" in response.get_data(as_text=True)
    assert sync_queue.get_jobs() == []


def test_ignore_email_with_another_users_ids_changes_nothing(history_client, history_world, engine, sync_queue):
    theirs = history_world.message(history_world.colleague_mailbox)
    stranger = history_world.message(history_world.stranger_mailbox)
    history_world.commit()
    history_client.post("/history/unresolved/save", data={"csrf_token": csrf_token(history_client),
                                                  "ignore_email": [str(theirs.id), str(stranger.id)]})
    assert {r.status for r in _fresh(engine, Message, id=theirs.id) + _fresh(engine, Message, id=stranger.id)} == {"unresolved"}
    assert _fresh(engine, IgnoredEmail) == []
    assert sync_queue.get_jobs() == []


# --- Create Contact / Create Lead links ------------------------------------------------------------

HOSTILE_NAMES = {
    'O\'Brien, "Dan"': {"LastName": "O'Brien"},
    "Jane Doe=CEO, Acme": None,
    "Zoë Ångström-Łukasz": {"FirstName": "Zoë", "LastName": "Ångström-Łukasz"},
    "李 小龙": {"FirstName": "李", "LastName": "小龙"},
    "A&B <script>alert(1)</script>": None,
}


def test_create_links_round_trip_hostile_names_through_salesforces_decoding():
    for display, expected in HOSTILE_NAMES.items():
        address = "x+tag@exämple.com"
        url = new_record_url(INSTANCE, "Contact", address, display)
        assert url.startswith(f"{INSTANCE}/lightning/o/Contact/new?defaultFieldValues=")
        query = url.split("?", 1)[1]
        assert "&" not in query and " " not in query and '"' not in query and "<" not in query
        values = parse_default_field_values(query)
        assert values["Email"] == address
        from mailferry.addresses import split_display_name

        name = split_display_name(display, address)
        assert values.get("FirstName", "") == name.first and values["LastName"] == name.last
        if expected:
            assert {k: values.get(k) for k in expected} == expected
    # Commas and = inside a value are encoded, so they cannot start another field.
    url = new_record_url(INSTANCE, "Lead", "a@b.example", "Smith, Jo=Ann,Extra=1")
    assert parse_default_field_values(url.split("?", 1)[1]).keys() == {"Email", "FirstName", "LastName"}


def test_create_links_are_not_built_for_an_unusable_instance_url():
    for bad in (None, "", "javascript:alert(1)", "http://plain.example", "https://", 'https://x"onmouseover=1'):
        assert new_record_url(bad, "Contact", "a@b.example", "A B") is None


def test_create_link_in_the_page_is_attribute_escaped_and_decodes_to_the_fields(history_client, history_world):
    history_world.unmatched(address="dan@x.example", display_name='O\'Brien, "Dan" <b>')
    history_world.commit()
    html = history_client.get("/history/unmatched").get_data(as_text=True)
    href = elements(html, "create-contact")[0]["href"]
    values = parse_default_field_values(href.split("?", 1)[1])
    assert values["Email"] == "dan@x.example" and values["LastName"] == "O'Brien"
    assert "<b>" not in html.split('data-testid="history-table"')[1].split("</table>")[0].replace("&lt;b&gt;", "")
    assert unquote_plus(href).count("defaultFieldValues") == 1
