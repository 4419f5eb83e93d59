"""The Global Exclusion List: validated line by line, de-duplicated, replaced as a whole,
with the count of users whose recent history it touches (mailferry/global_exclusions.py and
/admin/exclusions)."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from mailferry import global_exclusions
from mailferry.db import utcnow
from mailferry.models import IgnoreEntry, Message, UnmatchedAddress
from tests.db import factories
from tests.server.settings.helpers import element, elements, post_form


def _mail(session, mailbox, *addresses, **values):
    participants = [{"address": a, "name": "", "role": "to"} for a in addresses]
    return factories.message(session, mailbox, participants=participants, from_address="rep@t.example", **values)


def _entries(session, tenant_id):
    return [(e.kind, e.value) for e in global_exclusions.current_entries(session, tenant_id)]


def test_saving_validates_every_line_and_reports_errors_by_line_number_saving_nothing(db_session):
    tenant = factories.tenant(db_session)
    result = global_exclusions.replace_from_text(
        db_session, tenant, "payroll.example\n\nnot a domain\ncom\nhttps://x.example/path\njane@acme.example", None, utcnow())
    assert not result.ok
    assert [(e.line_number, e.text) for e in result.errors] == [
        (3, "not a domain"), (4, "com"), (5, "https://x.example/path")]
    assert "one address or domain per line" in result.errors[0].message
    assert "bare top-level" in result.errors[1].message and "web address" in result.errors[2].message
    assert _entries(db_session, tenant.id) == []


def test_entries_are_canonical_and_kept_once_and_saving_replaces_the_list(db_session):
    tenant = factories.tenant(db_session)
    admin = factories.user(db_session, tenant, role="admin")
    result = global_exclusions.replace_from_text(
        db_session, tenant, "Payroll.Example\n@payroll.example\n*.hr.example\nJane@ACME.example\njane@acme.example",
        admin.id, utcnow())
    assert result.ok and len(result.entries) == 3
    assert sorted(_entries(db_session, tenant.id)) == [
        ("address", "jane@acme.example"), ("domain", "hr.example"), ("domain", "payroll.example")]
    kept = db_session.scalar(select(IgnoreEntry).where(IgnoreEntry.value == "payroll.example",
                                                       IgnoreEntry.tenant_id == tenant.id))
    assert kept.source == "admin" and kept.created_by_user_id == admin.id and kept.user_id is None
    result = global_exclusions.replace_from_text(db_session, tenant, "payroll.example\nnew.example", admin.id, utcnow())
    assert [e.value for e in result.added] == ["new.example"]
    assert sorted(e.value for e in result.removed) == ["hr.example", "jane@acme.example"]
    assert db_session.scalar(select(IgnoreEntry.id).where(IgnoreEntry.value == "payroll.example",
                                                          IgnoreEntry.tenant_id == tenant.id)) == kept.id
    assert global_exclusions.as_text(db_session, tenant.id) == "new.example\npayroll.example"


def test_affected_users_counts_distinct_users_with_recent_mail_involving_new_entries_only(db_session):
    tenant = factories.tenant(db_session, attempt_window_days=30)
    one, two, three, four = (factories.mailbox(db_session, factories.user(db_session, tenant)) for _ in range(4))
    _mail(db_session, one, "a@payroll.example")
    _mail(db_session, one, "b@eu.payroll.example")          # a subdomain: same user, counted once
    _mail(db_session, two, "jane@acme.example", status="synced")
    _mail(db_session, three, "x@badpayroll.example")        # a look-alike domain: not covered
    _mail(db_session, four, "a@payroll.example", first_seen_at=utcnow() - timedelta(days=31))  # too old
    other = factories.mailbox(db_session)                   # another tenant's user
    _mail(db_session, other, "a@payroll.example")
    result = global_exclusions.replace_from_text(db_session, tenant, "payroll.example\njane@acme.example", None,
                                                 utcnow())
    assert result.affected_users == 2
    # Saving the same list again adds nothing, so it affects nobody.
    assert global_exclusions.replace_from_text(db_session, tenant, "jane@acme.example\npayroll.example", None,
                                               utcnow()).affected_users == 0


def test_new_entries_make_matching_unresolved_mail_due_and_remove_their_unmatched_rows(db_session):
    tenant = factories.tenant(db_session)
    mailbox = factories.mailbox(db_session, factories.user(db_session, tenant))
    later = utcnow() + timedelta(hours=4)
    waiting = _mail(db_session, mailbox, "a@payroll.example", status="unresolved", reason="no_match",
                    next_attempt_at=later)
    untouched = _mail(db_session, mailbox, "a@other.example", status="unresolved", reason="no_match",
                      next_attempt_at=later)
    synced = _mail(db_session, mailbox, "a@payroll.example", status="synced")
    for address in ("a@payroll.example", "b@eu.payroll.example", "c@other.example"):
        db_session.add(UnmatchedAddress(tenant_id=tenant.id, user_id=mailbox.user_id, address=address))
    db_session.flush()
    now = utcnow()
    result = global_exclusions.replace_from_text(db_session, tenant, "payroll.example", None, now)
    assert (result.unresolved_due, result.unmatched_removed) == (1, 2)
    db_session.expire_all()
    assert db_session.get(Message, waiting.id).next_attempt_at == now
    assert db_session.get(Message, untouched.id).next_attempt_at == later
    assert db_session.get(Message, synced.id).status == "synced"  # history already recorded stays
    assert db_session.scalars(select(UnmatchedAddress.address).where(
        UnmatchedAddress.user_id == mailbox.user_id)).all() == ["c@other.example"]


def test_the_page_lists_errors_by_line_and_keeps_the_text(tenant_world, web_client, sign_in_client):
    tenant = tenant_world.tenant()
    admin = tenant_world.admin(tenant)
    tenant_world.commit()
    sign_in_client(web_client, admin)
    response = post_form(web_client, "/admin/exclusions", {"entries": "ok.example\nbad entry\n\n*bad*.example"})
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    errors = elements(html, "exclusion-error")
    assert [e["data-line"] for e in errors] == ["2", "4"]
    assert errors[0]["text"].startswith("Line 2: “bad entry”")
    assert element(html, "exclusions-text")["text"] == "ok.example bad entry *bad*.example"  # kept to correct
    assert element(html, "exclusions-text")["aria-invalid"] == "true"


def test_saving_on_the_page_flashes_the_count_of_users_affected(tenant_world, web_client, sign_in_client):
    tenant = tenant_world.tenant()
    admin = tenant_world.admin(tenant)
    for _ in range(2):
        mailbox = factories.mailbox(tenant_world.session, tenant_world.user(tenant))
        _mail(tenant_world.session, mailbox, "boss@payroll.example")
    tenant_world.commit()
    sign_in_client(web_client, admin)
    response = post_form(web_client, "/admin/exclusions", {"entries": "payroll.example\nPAYROLL.example\n"})
    assert response.status_code == 302
    html = web_client.get("/admin/exclusions").get_data(as_text=True)
    assert "Global Exclusion List saved: 1 entry (1 added, 0 removed). 2 users affected" in html
    assert element(html, "exclusions-text")["text"] == "payroll.example"


def test_another_tenants_list_is_neither_shown_nor_changed(tenant_world, web_client, sign_in_client):
    mine, theirs = tenant_world.tenant(), tenant_world.tenant()
    admin = tenant_world.admin(mine)
    tenant_world.add(IgnoreEntry(tenant_id=theirs.id, user_id=None, kind="domain", value="secret-partner.example",
                          source="admin"))
    tenant_world.commit()
    sign_in_client(web_client, admin)
    assert "secret-partner.example" not in web_client.get("/admin/exclusions").get_data(as_text=True)
    assert post_form(web_client, "/admin/exclusions", {"entries": "mine.example"}).status_code == 302
    assert tenant_world.read(select(IgnoreEntry.value).where(IgnoreEntry.tenant_id == theirs.id)) == [
        ("secret-partner.example",)]


def test_an_internationalised_domain_counts_mail_written_in_either_form(db_session):
    tenant = factories.tenant(db_session)
    written_unicode = factories.mailbox(db_session, factories.user(db_session, tenant))
    written_ascii = factories.mailbox(db_session, factories.user(db_session, tenant))
    _mail(db_session, written_unicode, "info@bücher.example")
    _mail(db_session, written_ascii, "info@xn--bcher-kva.example")
    result = global_exclusions.replace_from_text(db_session, tenant, "Bücher.example", None, utcnow())
    assert [e.value for e in result.entries] == ["xn--bcher-kva.example"]
    assert result.affected_users == 2
