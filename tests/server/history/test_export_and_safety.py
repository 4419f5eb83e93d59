"""CSV export, the Ignore List page, one user never reaching another's rows, and hostile
strings rendered as text."""

from __future__ import annotations

import csv
import io

from sqlalchemy import select
from sqlalchemy.orm import Session

from mailferry.db import utcnow
from mailferry.models import IgnoreEntry, Message
from tests.server.history.helpers import csrf_token, elements, row_ids


def _csv(response) -> list[list[str]]:
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    assert response.headers["Content-Disposition"].startswith("attachment; filename=\"mailferry-")
    return list(csv.reader(io.StringIO(response.get_data(as_text=True))))


def test_csv_exports_the_whole_tab_under_the_current_sort_and_search(history_client, history_world):
    rows = [history_world.message(subject=f"Export {i:03d}, \"quoted\"", from_address=f"s{i}@x.example", reason="no_match",
                          attempts=i) for i in range(75)]
    history_world.message(subject="Not this one")
    history_world.commit()
    table = _csv(history_client.get("/history/unresolved.csv?sort=subject&dir=desc&q=export&page=2"))
    assert table[0][:7] == ["Date", "Direction", "Subject", "From", "From name", "To / Cc", "Reason"]
    assert len(table) == 76  # every row, not one page
    assert [r[2] for r in table[1:]] == [r.subject for r in sorted(rows, key=lambda r: r.subject, reverse=True)]
    assert table[1][6] == "No matching Contact or Lead in Salesforce"


def test_csv_of_synced_lists_recorded_and_not_recorded_records(history_client, history_world):
    row = history_world.message(status="synced", salesforce_task_id="00T000000000001AAA", synced_at=utcnow())
    history_world.record(row, sobject_type="Contact", record_id="003000000000001AAA", name="Jane Doe", recorded=True, position=0)
    history_world.record(row, sobject_type="Lead", record_id="00Q000000000001AAA", name="Lee", recorded=False,
                 reason="mixed_leads_and_contacts", position=1)
    history_world.commit()
    table = _csv(history_client.get("/history/synced.csv"))
    header, values = table[0], dict(zip(table[0], table[1]))
    assert header[-2:] == ["Recorded on", "Matched but not recorded"]
    assert values["Recorded on"] == "Contact Jane Doe (003000000000001AAA)"
    assert values["Matched but not recorded"].startswith("Lead Lee (00Q000000000001AAA): Salesforce cannot relate")
    assert values["Salesforce Task Id"] == "00T000000000001AAA"


def test_csv_of_excluded_and_unmatched(history_client, history_world):
    history_world.message(status="excluded", reason="do_not_record_address", subject="dnr")
    history_world.unmatched(address="ann@x.example", display_name="Ann", emails_count=4, last_subject="Hi")
    history_world.commit()
    assert _csv(history_client.get("/history/excluded.csv"))[1][-1] == "Do Not Record address"
    table = _csv(history_client.get("/history/unmatched.csv"))
    assert table[0] == ["Address", "Display name", "Domain", "Emails", "Last subject", "First seen", "Last seen"]
    assert table[1][:5] == ["ann@x.example", "Ann", "x.example", "4", "Hi"]


def test_csv_cells_cannot_become_spreadsheet_formulas(history_client, history_world):
    history_world.message(subject='=HYPERLINK("http://evil.example","x")', from_name="+cmd|' /C calc'!A0")
    history_world.commit()
    row = _csv(history_client.get("/history/unresolved.csv"))[1]
    assert row[2] == "'=HYPERLINK(\"http://evil.example\",\"x\")"
    assert row[4].startswith("'+cmd")


def test_csv_formulas_behind_spaces_or_in_full_width_are_neutralised_too(history_client, history_world):
    # Spreadsheets skip leading spaces before a formula and read full-width signs as ASCII.
    formulas = [" =1+1", "\u3000=1+1", "\uff1dHYPERLINK(\"http://evil.example\")", "\uff0b1", "\uff0d1",
                "\uff20SUM(A1)", "\ufe66small equals"]
    for text in formulas:
        history_world.message(subject=text, from_name="plain", reason="no_match")
    history_world.message(subject=" plain with a space", from_name="a=b", reason="no_match")
    history_world.commit()
    table = _csv(history_client.get("/history/unresolved.csv?sort=subject&dir=asc"))
    subjects = {row[2] for row in table[1:]}
    assert subjects == {"'" + text for text in formulas} | {" plain with a space"}
    assert {row[4] for row in table[1:]} == {"plain", "a=b"}


def test_a_user_never_sees_or_exports_another_users_rows(history_client, history_world):
    mine = history_world.message(subject="mine")
    colleague = history_world.message(history_world.colleague_mailbox, subject="colleague's")
    stranger = history_world.message(history_world.stranger_mailbox, subject="stranger's", status="synced")
    history_world.unmatched(history_world.stranger, address="secret@x.example")
    history_world.commit()
    for tab in ("unresolved", "synced", "excluded", "unmatched"):
        html = history_client.get(f"/history/{tab}").get_data(as_text=True)
        assert "colleague's" not in html and "stranger's" not in html and "secret@x.example" not in html
        text = history_client.get(f"/history/{tab}.csv").get_data(as_text=True)
        assert "colleague's" not in text and "stranger's" not in text and "secret@x.example" not in text
    assert row_ids(history_client.get("/history/unresolved").get_data(as_text=True)) == [mine.id]
    assert colleague.id != stranger.id


HOSTILE = [
    '<script>alert("x")</script>', '"><img src=x onerror=alert(1)>', "javascript:alert(1)",
    "\u202egnp.exe", "zero\u200bwidth", "' onmouseover='alert(1)", "x" * 10000,
]


def test_hostile_strings_are_rendered_escaped_in_every_tab(history_client, history_world):
    for text in HOSTILE:
        row = history_world.message(subject=text, from_name=text, to_cc=text, status="unresolved", error_message=text,
                            error_code=text[:50], reason="system_error",
                            participants=[{"address": "evil@x.example", "name": text, "role": "from"}])
        history_world.message(subject=text, from_name=text, to_cc=text, status="synced")
        history_world.message(subject=text, from_name=text, to_cc=text, status="excluded", reason=text[:60])
        history_world.unmatched(address=f"u{row.id}@x.example", display_name=text, last_subject=text)
    history_world.unmatched(address="evil@x.example", display_name=HOSTILE[1])
    history_world.commit()
    for tab in ("unresolved", "synced", "excluded", "unmatched"):
        response = history_client.get(f"/history/{tab}", query_string={"q": ""})
        html = response.get_data(as_text=True)
        assert response.status_code == 200
        assert "<script>alert" not in html and "<img src=x" not in html
        assert "&lt;script&gt;alert(" in html
        assert "onmouseover='alert" not in html
        for link in elements(html, "create-contact"):
            assert link["href"].startswith("https://")
    html = history_client.get("/history/unresolved", query_string={"q": '"><script>alert(1)</script>'}).get_data(as_text=True)
    assert "<script>alert(1)" not in html


# --- Ignore List page ----------------------------------------------------------------------------

def _entries(engine, user_id):
    with Session(engine) as session:
        return session.execute(select(IgnoreEntry).where(IgnoreEntry.user_id == user_id)).scalars().all()


def test_ignore_list_adds_validates_lists_and_removes_entries(history_client, history_world, engine, sync_queue):
    history_world.unmatched(address="ann@northwind.example")
    history_world.commit()
    token = csrf_token(history_client)
    response = history_client.post("/ignore-list", data={"csrf_token": token, "value": " *@NorthWind.example "})
    assert response.status_code == 302
    html = history_client.get("/ignore-list").get_data(as_text=True)
    assert "Added northwind.example to your Ignore List" in html
    entry = elements(html, "ignore-entry")
    assert len(entry) == 1 and "Ignore List page" in html and "Domain" in html
    assert row_ids(history_client.get("/history/unmatched").get_data(as_text=True)) == []
    assert [j.func_name for j in sync_queue.get_jobs()] == ["worker.jobs.sync_mailbox"]

    again = history_client.post("/ignore-list", data={"csrf_token": token, "value": "northwind.example"}, follow_redirects=True)
    assert "already on your Ignore List" in again.get_data(as_text=True)

    bad = history_client.post("/ignore-list", data={"csrf_token": token, "value": "http://x.example/page"})
    assert bad.status_code == 400
    assert "looks like a web address" in bad.get_data(as_text=True)
    assert 'aria-invalid="true"' in bad.get_data(as_text=True)

    entry_id = int(entry[0]["data-id"])
    removed = history_client.post(f"/ignore-list/{entry_id}/remove", data={"csrf_token": token}, follow_redirects=True)
    assert "Removed northwind.example" in removed.get_data(as_text=True)
    assert _entries(engine, history_world.user.id) == []


def test_removing_an_entry_brings_back_the_skipped_emails_it_kept_out(history_client, history_world, engine):
    skipped = history_world.message(status="skipped", reason="no_candidates", expires_at=utcnow().replace(year=2099),
                            participants=[{"address": "x@gone.example", "name": "X", "role": "from"}])
    history_world.session.add(IgnoreEntry(tenant_id=history_world.user.tenant_id, user_id=history_world.user.id, kind="domain",
                                  value="gone.example", source="own_domain"))
    history_world.commit()
    html = history_client.get("/ignore-list").get_data(as_text=True)
    assert "Added for you: your own domain" in html
    entry_id = int(elements(html, "ignore-entry")[0]["data-id"])
    history_client.post(f"/ignore-list/{entry_id}/remove", data={"csrf_token": csrf_token(history_client)})
    with Session(engine) as session:
        assert session.get(Message, skipped.id).pending_operation == "create"


def test_nobody_removes_another_users_entry(history_client, history_world, engine):
    history_world.session.add(IgnoreEntry(tenant_id=history_world.stranger.tenant_id, user_id=history_world.stranger.id, kind="domain",
                                  value="theirs.example", source="settings"))
    history_world.commit()
    theirs = _entries(engine, history_world.stranger.id)[0]
    response = history_client.post(f"/ignore-list/{theirs.id}/remove", data={"csrf_token": csrf_token(history_client)})
    assert response.status_code == 404
    assert len(_entries(engine, history_world.stranger.id)) == 1
    assert "theirs.example" not in history_client.get("/ignore-list").get_data(as_text=True)
