"""Sync History tabs: each tab's rows and columns, counts, sort by every column in both
directions, search, paging, and the URL carrying all of it."""

from __future__ import annotations

from datetime import timedelta

import pytest

from mailferry.db import utcnow
from mailferry.history import TABS, View, page_query
from tests.server.history.helpers import INSTANCE
from tests.server.history.helpers import count, elements, row_ids


def test_history_redirects_to_the_unresolved_tab(history_client):
    response = history_client.get("/history")
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/history/unresolved")


def test_signed_out_visitors_are_sent_to_sign_in(app, history_world):
    for path in ("/history", "/history/synced", "/history/synced.csv", "/ignore-list"):
        response = app.test_client().get(path)
        assert response.status_code in (302, 401), path


def test_unknown_tab_is_404(history_client):
    assert history_client.get("/history/everything").status_code == 404
    assert history_client.get("/history/everything.csv").status_code == 404


def test_each_tab_shows_its_rows_and_the_counts_of_all_tabs(history_client, history_world):
    unresolved = [history_world.message(status="unresolved", reason="no_match") for _ in range(3)]
    synced = [history_world.message(status="synced") for _ in range(2)]
    excluded = history_world.message(status="excluded", reason="donotsync_category")
    for status in ("skipped", "ignored", "expired", "pending"):
        history_world.message(status=status)
    unmatched = history_world.unmatched(display_name="Ann Ng")
    history_world.message(history_world.colleague_mailbox, status="unresolved")
    history_world.unmatched(history_world.colleague)
    history_world.commit()

    pages = {tab: history_client.get(f"/history/{tab}").get_data(as_text=True) for tab in TABS}
    assert sorted(row_ids(pages["unresolved"])) == sorted(m.id for m in unresolved)
    assert sorted(row_ids(pages["synced"])) == sorted(m.id for m in synced)
    assert row_ids(pages["excluded"]) == [excluded.id]
    assert row_ids(pages["unmatched"]) == [unmatched.id]
    for html in pages.values():
        assert (count(html, "unresolved"), count(html, "synced"), count(html, "excluded"),
                count(html, "unmatched")) == (3, 2, 1, 1)
    assert "No matching Contact or Lead in Salesforce" in pages["unresolved"]
    assert "DoNotSync category" in pages["excluded"]
    assert 'aria-current="page"' in pages["synced"]


def test_unresolved_row_shows_every_column_and_its_salesforce_error(history_client, history_world):
    now = utcnow()
    row = history_world.message(status="unresolved", reason="system_error", error_code="FIELD_CUSTOM_VALIDATION_EXCEPTION",
                        error_message="Email must be set", subject="Quarterly numbers", direction="outgoing",
                        from_address="rep@acme.example", from_name="Rep One", to_cc="Jane <jane@x.example>",
                        attempts=4, first_seen_at=now - timedelta(days=2), next_attempt_at=now + timedelta(hours=1),
                        expires_at=now + timedelta(days=28))
    history_world.commit()
    html = history_client.get("/history/unresolved").get_data(as_text=True)
    for text in ("Quarterly numbers", "Outgoing", "rep@acme.example", "Rep One", "jane@x.example",
                 "Salesforce refused the write", "FIELD_CUSTOM_VALIDATION_EXCEPTION", "Email must be set",
                 f'<span class="day">{(now + timedelta(hours=1)):%Y-%m-%d}</span> '
                 f'<span class="clock">{(now + timedelta(hours=1)):%H:%M}</span>',
                 f"{(now + timedelta(days=28)):%Y-%m-%d}"):
        assert text in html, text
    assert f'data-id="{row.id}"' in html
    for header in ("Date", "Direction", "Subject", "From", "To / Cc", "Reason", "First seen", "Attempts",
                   "Next retry", "Expires", "Actions"):
        assert f">{header}<" in html or f">{header}<span" in html, header


def test_empty_tab_says_what_to_do(history_client, history_world):
    html = history_client.get("/history/unresolved").get_data(as_text=True)
    assert 'data-testid="empty-state"' in html
    assert "No unresolved emails" in html
    html = history_client.get("/history/synced?q=nothing-like-this").get_data(as_text=True)
    assert "matches “nothing-like-this”" in html and "clear the search" in html


def test_synced_tab_shows_recorded_records_with_checks_and_links_and_the_others_with_reasons(history_client, history_world):
    row = history_world.message(status="synced", salesforce_task_id="00T000000000001AAA")
    history_world.record(row, sobject_type="Contact", record_id="003000000000001AAA", name="Jane Doe",
                 address="jane@x.example", recorded=True, position=0)
    history_world.record(row, sobject_type="Lead", record_id="00Q000000000001AAA", name="Lee Lead",
                 address="lee@y.example", recorded=False, reason="mixed_leads_and_contacts", position=1)
    history_world.commit()
    html = history_client.get("/history/synced").get_data(as_text=True)
    assert 'data-testid="allowance-notice"' in html and "never a mix" in html
    recorded = html.split('data-testid="record-recorded"')[1].split("</li>")[0]
    assert "✓" in recorded and "Jane Doe" in recorded and "(Contact)" in recorded
    assert f'href="{INSTANCE}/lightning/r/Contact/003000000000001AAA/view"' in recorded
    assert 'target="_blank" rel="noopener"' in recorded
    other = html.split('data-testid="record-not-recorded"')[1].split("</li>")[0]
    assert "Lee Lead" in other and "(Lead)" in other and "✓" not in other
    assert "cannot relate one activity to Leads and Contacts" in other
    task = elements(html, "open-in-salesforce")
    assert task[0]["href"] == f"{INSTANCE}/lightning/r/Task/00T000000000001AAA/view"


def test_no_salesforce_org_means_no_links_rather_than_broken_ones(history_client, history_world):
    from sqlalchemy import delete

    from mailferry.models import Connection

    history_world.session.execute(delete(Connection).where(Connection.user_id == history_world.user.id))
    history_world.unmatched(address="ann@x.example")
    history_world.commit()
    html = history_client.get("/history/unmatched").get_data(as_text=True)
    assert "ann@x.example" in html and "create-contact" not in html


# --- sorting ----------------------------------------------------------------------------------

def _sortable(tab_key):
    return [c.key for c in TABS[tab_key].columns if c.sortable]


def _messages_for_sorting(history_world, status):
    now = utcnow()
    rows = []
    specs = [
        ("bravo", "b@b.example", "incoming", "Bo <b@x.example>", "no_match", 3, 5),
        ("alpha", "c@c.example", "outgoing", "Al <a@x.example>", "system_error", 1, 9),
        ("charlie", "a@a.example", "incoming", "Cy <c@x.example>", "donotsync_category", 2, 1),
    ]
    for i, (subject, sender, direction, to_cc, reason, attempts, hours) in enumerate(specs):
        rows.append(history_world.message(status=status, subject=subject, from_address=sender, direction=direction,
                                  to_cc=to_cc, reason=reason, attempts=attempts,
                                  sent_at=now - timedelta(hours=hours), first_seen_at=now - timedelta(hours=10 - hours),
                                  next_attempt_at=now + timedelta(minutes=hours * 7 % 5 + i),
                                  expires_at=now + timedelta(days=hours)))
    # Two rows equal on every sort column: the id decides, the same way in both directions.
    for _ in range(2):
        rows.append(history_world.message(status=status, subject="delta", from_address="d@d.example", direction="incoming",
                                  to_cc="Di <d@x.example>", reason="no_match", attempts=7,
                                  sent_at=now - timedelta(hours=20), first_seen_at=now - timedelta(hours=20),
                                  next_attempt_at=now + timedelta(hours=20), expires_at=now + timedelta(days=20)))
    return rows


SORT_VALUE = {
    "date": lambda r: r.sent_at, "direction": lambda r: r.direction, "subject": lambda r: r.subject_sort,
    "from": lambda r: r.from_address, "to_cc": lambda r: r.to_cc, "reason": lambda r: r.reason,
    "rule": lambda r: r.reason, "first_seen": lambda r: r.first_seen_at, "attempts": lambda r: r.attempts,
    "next_retry": lambda r: r.next_attempt_at, "expires": lambda r: r.expires_at,
    "address": lambda r: r.address, "name": lambda r: r.display_name_sort, "domain": lambda r: r.domain,
    "emails": lambda r: r.emails_count, "last_subject": lambda r: r.last_subject,
    "last_seen": lambda r: r.last_seen_at,
}


@pytest.mark.parametrize("tab", ["unresolved", "synced", "excluded"])
def test_message_tabs_sort_by_every_column_both_ways_with_id_breaking_ties(history_client, history_world, tab):
    rows = _messages_for_sorting(history_world, tab)
    history_world.commit()
    for column in _sortable(tab):
        for direction in ("asc", "desc"):
            html = history_client.get(f"/history/{tab}?sort={column}&dir={direction}").get_data(as_text=True)
            expected = sorted(rows, key=lambda r: (SORT_VALUE[column](r), r.id), reverse=direction == "desc")
            assert row_ids(html) == [r.id for r in expected], (column, direction)
            assert f'aria-sort="{"ascending" if direction == "asc" else "descending"}"' in html


def test_unmatched_tab_sorts_by_every_column_both_ways(history_client, history_world):
    now = utcnow()
    rows = [
        history_world.unmatched(address="zed@b.example", display_name="Zed", emails_count=3, last_subject="m",
                        first_seen_at=now - timedelta(days=3), last_seen_at=now - timedelta(days=1)),
        history_world.unmatched(address="amy@c.example", display_name="Amy", emails_count=1, last_subject="z",
                        first_seen_at=now - timedelta(days=1), last_seen_at=now - timedelta(hours=1)),
        history_world.unmatched(address="kim@a.example", display_name="kim", emails_count=2, last_subject="a",
                        first_seen_at=now - timedelta(days=2), last_seen_at=now - timedelta(days=2)),
    ]
    history_world.commit()
    for column in _sortable("unmatched"):
        for direction in ("asc", "desc"):
            html = history_client.get(f"/history/unmatched?sort={column}&dir={direction}").get_data(as_text=True)
            expected = sorted(rows, key=lambda r: (SORT_VALUE[column](r), r.id), reverse=direction == "desc")
            assert row_ids(html) == [r.id for r in expected], (column, direction)


def test_sort_links_flip_the_current_column_and_keep_the_search(history_client, history_world):
    history_world.message(subject="hello")
    history_world.commit()
    html = history_client.get("/history/unresolved?sort=subject&dir=asc&q=hel").get_data(as_text=True)
    links = {e["data-testid"]: e["href"] for e in elements(html, "sort-subject")} | {
        "date": elements(html, "sort-date")[0]["href"]}
    assert links["sort-subject"] == "/history/unresolved?sort=subject&dir=desc&q=hel"
    assert links["date"] == "/history/unresolved?q=hel"  # the default order needs no parameters


def test_tampered_url_values_fall_back_to_defaults(history_client, history_world):
    history_world.message()
    history_world.commit()
    for query in ("sort=id;drop&dir=sideways&page=-4", "page=abc", "sort=records", "page=99999999999"):
        assert history_client.get(f"/history/synced?{query}").status_code == 200, query
    view = View.of("synced", "records", "up", None, "x")
    assert (view.sort, view.direction, view.page) == ("date", "desc", 1)


# --- search -----------------------------------------------------------------------------------

def test_search_finds_partial_and_full_terms_across_subject_and_addresses(history_client, history_world):
    proposal = history_world.message(subject="Proposal for Globex renewal", from_address="hank@globex.example",
                             participants=[{"address": "hank@globex.example", "name": "Hank Scorpio", "role": "from"}])
    invoice = history_world.message(subject="Invoice 4471", from_address="billing@initech.example",
                            participants=[{"address": "peter@initech.example", "name": "Peter Gibbons", "role": "to"}])
    history_world.message(subject="Lunch?", from_address="friend@else.example")
    history_world.message(history_world.colleague_mailbox, subject="Proposal for Globex renewal")
    history_world.commit()
    cases = {
        "proposal": [proposal.id], "propos": [proposal.id], "GLOBEX": [proposal.id], "scorpio": [proposal.id],
        "initech": [invoice.id], "peter@initech.example": [invoice.id], "gibbons 4471": [invoice.id],
        "in": [invoice.id], "globex invoice": [], "example": None,
    }
    for query, expected in cases.items():
        html = history_client.get("/history/unresolved", query_string={"q": query}).get_data(as_text=True)
        ids = row_ids(html)
        if expected is None:
            assert len(ids) == 3
        else:
            assert sorted(ids) == sorted(expected), query


def test_search_on_the_unmatched_tab_covers_address_name_and_subject(history_client, history_world):
    ann = history_world.unmatched(address="ann@northwind.example", display_name="Ann Ng", last_subject="Catalogue")
    history_world.unmatched(address="bob@contoso.example", display_name="Bob")
    history_world.commit()
    for query in ("northw", "ann ng", "catalog"):
        assert row_ids(history_client.get("/history/unmatched", query_string={"q": query}).get_data(as_text=True)) == [ann.id]


def test_search_treats_like_wildcards_and_quotes_literally(history_client, history_world):
    literal = history_world.message(subject='100% "done"_now')
    history_world.message(subject="1000 done now")
    history_world.commit()
    for query in ("100%", '"done"_', "%", "_now"):
        html = history_client.get("/history/unresolved", query_string={"q": query}).get_data(as_text=True)
        assert row_ids(html) == [literal.id], query


# --- paging and URL state ------------------------------------------------------------------------

def test_paging_walks_every_row_once_and_keeps_sort_and_search_in_the_links(history_client, history_world, engine):
    rows = [history_world.message(subject=f"Pageable {i:03d}") for i in range(120)]
    history_world.message(subject="other")
    history_world.commit()
    seen, url = [], "/history/unresolved?sort=subject&dir=asc&q=pageable"
    pages = 0
    while url:
        html = history_client.get(url).get_data(as_text=True)
        pages += 1
        seen += row_ids(html)
        following = elements(html, "page-next")
        url = following[0]["href"] if following else None
        if url:
            assert "sort=subject" in url and "dir=asc" in url and "q=pageable" in url
    assert pages == 3
    assert seen == [r.id for r in sorted(rows, key=lambda r: r.subject)]
    html = history_client.get("/history/unresolved?sort=subject&dir=asc&q=pageable&page=2").get_data(as_text=True)
    assert elements(html, "page-prev")[0]["href"] == "/history/unresolved?sort=subject&dir=asc&q=pageable"
    assert "Showing 51–100" in html and "Page 2" in html
    html = history_client.get("/history/unresolved?page=3").get_data(as_text=True)
    assert "Showing 101–121 of 121" in html


def test_url_state_round_trips_through_the_search_form_and_csv_link(history_client, history_world):
    history_world.message(subject="Round trip")
    history_world.commit()
    html = history_client.get("/history/unresolved?sort=from&dir=desc&q=round&page=1").get_data(as_text=True)
    form = html.split('data-testid="search-form"')[1].split("</form>")[0]
    assert 'name="sort" value="from"' in form and 'name="dir" value="desc"' in form
    assert 'value="round"' in form
    assert elements(html, "export-csv")[0]["href"] == "/history/unresolved.csv?sort=from&dir=desc&q=round"


def test_page_query_reads_only_the_given_users_rows(history_world, engine):
    history_world.message(subject="mine")
    history_world.message(history_world.stranger_mailbox, subject="theirs")
    history_world.commit()
    from sqlalchemy.orm import Session

    with Session(engine) as session:
        page = page_query(session, history_world.user.id, View.of("unresolved"))
        assert [r.subject for r in page.rows] == ["mine"]


def test_history_search_reads_the_users_own_search_index_on_sqlite(history_world, engine):
    from sqlalchemy import text
    from sqlalchemy.orm import Session

    from mailferry.history import _filtered, _ordered

    with Session(engine) as session:
        if session.get_bind().dialect.name != "sqlite":
            return  # PostgreSQL: the planner weighs the trigram index against the user's indexes
        for tab in ("unresolved", "unmatched"):
            view = View.of(tab, query="northwind", sort="to_cc" if tab == "unresolved" else "last_subject")
            statement = _ordered(_filtered(session, history_world.user.id, view), view).limit(51)
            compiled = statement.compile(session.get_bind(), compile_kwargs={"literal_binds": True})
            plan = " ".join(row[-1] for row in session.execute(text(f"EXPLAIN QUERY PLAN {compiled}")))
            assert "VIRTUAL TABLE" not in plan, plan  # not the whole table's FTS index
            assert "user_id=?" in plan, plan


def test_times_are_shown_in_the_users_time_zone_which_the_page_names(history_client, history_world):
    """SPEC 6: the time zone setting sets "how times are shown to you"; each <time> still
    holds the UTC instant."""
    from datetime import UTC, datetime

    from mailferry.models import IgnoreEntry, UserSetting

    sent = datetime(2026, 1, 15, 23, 30, tzinfo=UTC)  # Tokyo (UTC+9, no DST): the 16th, 08:30
    history_world.message(status="unresolved", reason="no_match", sent_at=sent)
    history_world.session.add(UserSetting(user_id=history_world.user.id, key="time_zone", value="Asia/Tokyo"))
    history_world.session.add(IgnoreEntry(tenant_id=history_world.user.tenant_id, user_id=history_world.user.id, kind="domain",
                                  value="x.example", source="settings", created_at=sent))
    history_world.commit()
    html = history_client.get("/history/unresolved").get_data(as_text=True)
    assert '<span class="day">2026-01-16</span> <span class="clock">08:30</span>' in html
    assert f'datetime="{sent.isoformat()}"' in html
    assert "Times are in Asia/Tokyo" in html
    ignore_list = history_client.get("/ignore-list").get_data(as_text=True)
    assert "2026-01-16 08:30 <span class=\"muted\">Asia/Tokyo</span>" in ignore_list


def test_every_empty_tab_says_what_appears_there_and_a_page_past_the_end_links_to_the_first(history_client, history_world):
    for tab, words in (("unresolved", "appear here with what to do"), ("synced", "once they are recorded"),
                       ("excluded", "DoNotSync category"), ("unmatched", "create the record or ignore them")):
        html = history_client.get(f"/history/{tab}").get_data(as_text=True)
        assert elements(html, "empty-state") and words in html, tab
        assert not elements(html, "history-table"), tab
    history_world.message(status="unresolved", reason="no_match")
    history_world.commit()
    html = history_client.get("/history/unresolved?page=9").get_data(as_text=True)
    assert "past the end of the list" in html and 'href="/history/unresolved">Go to the first page' in html


def test_unmatched_row_shows_every_column_and_its_actions(history_client, history_world):
    first, last = utcnow() - timedelta(days=3), utcnow() - timedelta(hours=2)
    row = history_world.unmatched(address="nora@fabrikam.example", display_name="Nora Buyer", domain="fabrikam.example",
                          emails_count=7, last_subject="Pricing question", first_seen_at=first, last_seen_at=last)
    history_world.commit()
    html = history_client.get("/history/unmatched").get_data(as_text=True)
    assert row_ids(html) == [row.id]
    for text in ("nora@fabrikam.example", "Nora Buyer", "fabrikam.example", ">7<", "Pricing question",
                 f'datetime="{first.isoformat()}"', f'datetime="{last.isoformat()}"'):
        assert text in html, text
    for header in ("Address", "Display name", "Domain", "Emails", "Last subject", "First seen", "Last seen"):
        assert f'>{header}<' in html or f">{header}<span" in html, header
    assert elements(html, "ignore-address")[0]["value"] == "nora@fabrikam.example"
    assert elements(html, "ignore-domain")[0]["value"] == "fabrikam.example"
    contact, lead = elements(html, "create-contact")[0], elements(html, "create-lead")[0]
    assert contact["href"] == (f"{INSTANCE}/lightning/o/Contact/new?defaultFieldValues="
                               "Email=nora%40fabrikam.example,FirstName=Nora,LastName=Buyer")
    assert lead["href"].startswith(f"{INSTANCE}/lightning/o/Lead/new?defaultFieldValues=")
    assert contact["target"] == lead["target"] == "_blank"
    assert elements(html, "save")  # Save applies the ticked boxes
