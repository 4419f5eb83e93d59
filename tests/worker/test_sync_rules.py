"""The sync engine applying SPEC sections 2–4 to live mail: each test delivers mail through the
Microsoft sandbox, runs the real job, and checks the history row and the Salesforce sandbox."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from mailferry import email_state
from mailferry.addresses import ListEntry
from mailferry.db import utcnow
from mailferry.models import Connection, IgnoreEntry, Mailbox, Message, UnmatchedAddress, User, UserSetting
from mailferry.reevaluation import after_entry_added
from mailferry.salesforce_identity import SalesforceOAuth
from tests.worker.demo_rep import REP
from worker import jobs



@pytest.fixture
def synced_once(pipeline, rep):
    """The demo backfill done, so each test looks only at the mail it delivers."""
    jobs.sync_mailbox(rep[1])
    return rep


def _row(runtime, subject: str) -> Message:
    with runtime.sessions() as session:
        return session.execute(select(Message).where(Message.subject == subject)).scalar_one()


def _contact(clouds) -> dict:
    return next(c for c in clouds.records("Contact") if c.get("Email") and "'" not in c["Email"])


def _set(runtime, user_id: int, key: str, value) -> None:
    with runtime.session() as session:
        session.add(UserSetting(user_id=user_id, key=key, value=value))


def test_mail_from_a_contact_is_recorded_on_that_contact_as_the_users_task(pipeline, synced_once, clouds):
    runtime, _ = pipeline
    contact = _contact(clouds)
    clouds.deliver(REP, **{"from": {"address": contact["Email"].upper(), "name": "C"}, "to": [{"address": REP}],
                          "subject": "Probe: Pricing for Q1", "body": "See attached."})
    jobs.sync_mailbox(synced_once[1])
    row = _row(runtime, "Probe: Pricing for Q1")
    assert (row.status, row.reason) == ("synced", None)
    task = clouds.records("Task", Id=row.salesforce_task_id)[0]
    assert task["WhoId"] == contact["Id"]
    assert task["Subject"] == "Email: Probe: Pricing for Q1"
    assert task["TaskSubtype"] == "Email" and task["Status"] == "Completed"
    owner = clouds.records("User", Username="alex.morgan@contoso-demo.com.crm")[0]
    assert task["OwnerId"] == owner["Id"]
    assert "See attached." in task["Description"]
    assert row.body_text is None  # not kept once recorded


def test_unknown_sender_is_unresolved_and_unmatched_until_the_contact_exists(pipeline, synced_once, clouds):
    runtime, _ = pipeline
    user_id, mailbox_id = synced_once
    clouds.deliver(REP, **{"from": {"address": "new.buyer@fabrikam-new.example", "name": "Nora Buyer"},
                          "to": [{"address": REP}], "subject": "Probe: Interested in a demo"})
    jobs.sync_mailbox(mailbox_id)
    row = _row(runtime, "Probe: Interested in a demo")
    assert (row.status, row.reason) == ("unresolved", "no_match")
    assert row.next_attempt_at is None  # no timer: the change feed or Retry now (tests/worker/test_change_feed.py)
    with runtime.sessions() as session:
        unmatched = session.execute(
            select(UnmatchedAddress).where(UnmatchedAddress.address == "new.buyer@fabrikam-new.example")
        ).scalar_one()
        assert (unmatched.display_name, unmatched.emails_count) == ("Nora Buyer", 1)
    contact_id = clouds.plant("Contact", {"LastName": "Buyer", "FirstName": "Nora",
                                          "Email": "new.buyer@fabrikam-new.example"})
    with runtime.session() as session:  # "Retry now" (server/history/actions.py)
        email_state.due_now(session, Message.user_id == user_id, utcnow())
    jobs.sync_mailbox(mailbox_id)
    row = _row(runtime, "Probe: Interested in a demo")
    assert row.status == "synced"
    assert clouds.records("Task", Id=row.salesforce_task_id)[0]["WhoId"] == contact_id
    with runtime.sessions() as session:  # matched now: no longer an unmatched address
        assert session.execute(
            select(UnmatchedAddress).where(UnmatchedAddress.address == "new.buyer@fabrikam-new.example")
        ).first() is None


def test_ignoring_a_domain_takes_its_mail_out_of_unresolved_and_unmatched_at_once(pipeline, synced_once, clouds):
    runtime, _ = pipeline
    user_id, mailbox_id = synced_once
    clouds.deliver(REP, **{"from": {"address": "promo@deals.example"}, "to": [{"address": REP}],
                          "subject": "Probe: Big sale"})
    jobs.sync_mailbox(mailbox_id)
    assert _row(runtime, "Probe: Big sale").status == "unresolved"
    with runtime.session() as session:
        user = session.get(User, user_id)
        session.add(IgnoreEntry(tenant_id=user.tenant_id, user_id=user_id, kind="domain", value="deals.example",
                                source="history"))
        after_entry_added(session, user_id, ListEntry("domain", "deals.example"), utcnow())
    with runtime.sessions() as session:
        assert session.execute(select(UnmatchedAddress).where(UnmatchedAddress.domain == "deals.example")).first() is None
    # Nobody is left to look up: decided at once, before any worker runs.
    assert (_row(runtime, "Probe: Big sale").status, _row(runtime, "Probe: Big sale").reason) == ("skipped", "no_candidates")
    jobs.sync_mailbox(mailbox_id)
    assert _row(runtime, "Probe: Big sale").status == "skipped"


@pytest.mark.parametrize("deletes_allowed", [True, False], ids=["deletes-allowed", "deletes-prevented"])
def test_donotsync_after_a_sync_moves_the_email_to_excluded(pipeline, synced_once, clouds, deletes_allowed):
    runtime, _ = pipeline
    user_id, mailbox_id = synced_once
    if deletes_allowed:
        _set(runtime, user_id, "prevent_delete", False)
    contact = _contact(clouds)
    sent = clouds.deliver(REP, **{"from": {"address": contact["Email"]}, "to": [{"address": REP}],
                                 "subject": "Probe: Contract draft"})
    jobs.sync_mailbox(mailbox_id)
    task_id = _row(runtime, "Probe: Contract draft").salesforce_task_id
    assert task_id
    clouds.change(REP, sent["id"], categories=["DoNotSync"])
    jobs.sync_mailbox(mailbox_id)
    row = _row(runtime, "Probe: Contract draft")
    assert (row.status, row.reason) == ("excluded", "donotsync_category")
    task_left = clouds.records("Task", Id=task_id)
    if deletes_allowed:
        assert task_left == [] and row.salesforce_task_id is None
    else:
        assert len(task_left) == 1 and row.salesforce_task_id == task_id


def test_a_designated_only_user_records_only_mail_with_the_crm_category(pipeline, synced_once, clouds):
    runtime, _ = pipeline
    user_id, mailbox_id = synced_once
    _set(runtime, user_id, "sync_mode", "sync_designated")
    contact = _contact(clouds)
    plain = clouds.deliver(REP, **{"from": {"address": contact["Email"]}, "to": [{"address": REP}],
                                  "subject": "Probe: Not designated yet"})
    jobs.sync_mailbox(mailbox_id)
    with runtime.sessions() as session:  # not stored: the task pane computes it live
        assert session.execute(select(Message).where(Message.subject == "Probe: Not designated yet")).first() is None
    clouds.change(REP, plain["id"], categories=["CRM"])
    jobs.sync_mailbox(mailbox_id)
    assert _row(runtime, "Probe: Not designated yet").status == "synced"


def test_an_expired_salesforce_session_is_refreshed_without_an_error(pipeline, synced_once, clouds):
    runtime, _ = pipeline
    clouds.org(session_lifetime_seconds=1)
    import time

    time.sleep(1.5)
    contact = _contact(clouds)
    clouds.deliver(REP, **{"from": {"address": contact["Email"]}, "to": [{"address": REP}], "subject": "Probe: After expiry"})
    result = jobs.sync_mailbox(synced_once[1])
    assert "error" not in result
    assert _row(runtime, "Probe: After expiry").status == "synced"


def test_a_revoked_salesforce_grant_asks_for_reconnect_and_stops_calling(pipeline, synced_once, clouds, client_session):
    runtime, _ = pipeline
    user_id, mailbox_id = synced_once
    with runtime.sessions() as session:
        connection = session.execute(
            select(Connection).where(Connection.user_id == user_id, Connection.provider == "salesforce")
        ).scalar_one()
        tokens = runtime.box.open(connection.sealed_secrets)
    oauth = SalesforceOAuth(clouds.salesforce, "x", "y", "https://localhost/cb", client_session)
    assert oauth.revoke(tokens["refresh_token"])
    clouds.org(session_lifetime_seconds=1)
    import time

    time.sleep(1.5)
    contact = _contact(clouds)
    clouds.deliver(REP, **{"from": {"address": contact["Email"]}, "to": [{"address": REP}], "subject": "Probe: After revoke"})
    jobs.sync_mailbox(mailbox_id)
    with runtime.sessions() as session:
        connection = session.get(Connection, connection.id)
        assert connection.status == "needs_reconnect"
        assert "Reconnect Salesforce" in connection.status_detail
    row = _row(runtime, "Probe: After revoke")
    assert row.status == "pending" and row.pending_operation == "create"  # waits, visibly
    clouds.reset_calls()
    jobs.sync_mailbox(mailbox_id)
    salesforce_calls = clouds.calls(clouds.salesforce)["calls"]
    assert not any("/services/" in route for route in salesforce_calls), salesforce_calls


def test_graph_throttling_pauses_the_mailbox_for_its_retry_after_without_calls(pipeline, synced_once, clouds):
    runtime, _ = pipeline
    mailbox_id = synced_once[1]
    clouds.faults(clouds.microsoft, {"path": "/v1.0/users/*/messages/delta", "status": 429,
                                     "error_code": "TooManyRequests", "retry_after": 120, "count": 1})
    result = jobs.sync_mailbox(mailbox_id)
    assert result["error"] == "temporary"
    with runtime.sessions() as session:
        mailbox = session.get(Mailbox, mailbox_id)
        assert mailbox.status == "throttled"
        assert mailbox.retry_after >= utcnow() + timedelta(seconds=115)
    clouds.reset_calls()
    assert "skipped" in jobs.sync_mailbox(mailbox_id)
    assert clouds.calls(clouds.microsoft)["total"] == 0


def test_an_expired_delta_cursor_resyncs_without_duplicates(pipeline, synced_once, clouds):
    runtime, _ = pipeline
    with runtime.sessions() as session:
        before = session.execute(select(Message.id)).scalars().all()
    tasks_before = len(clouds.records("Task"))
    clouds.http.post(f"{clouds.microsoft}/_sandbox/users/{REP}/delta/expire").raise_for_status()
    result = jobs.sync_mailbox(synced_once[1])
    assert result["fetched"]["resyncs"] >= 1 and result["fetched"]["created"] == 0
    with runtime.sessions() as session:
        assert sorted(session.execute(select(Message.id)).scalars().all()) == sorted(before)
    assert len(clouds.records("Task")) == tasks_before


def test_hostile_and_malformed_mail_each_get_a_clear_outcome(pipeline, synced_once, clouds):
    runtime, _ = pipeline
    contact = _contact(clouds)
    hostile = [
        {"to": [{"address": REP}], "subject": "No sender at all"},
        {"from": {"address": contact["Email"]}, "to": [], "subject": "No recipients"},
        {"from": {"address": contact["Email"]}, "to": [{"address": REP}], "subject": "S" * 10_000},
        {"from": {"address": "o'brien@quotes.example"}, "to": [{"address": REP}], "subject": "Quotes'\"\\"},
        {"from": {"address": '"a\\\\b"@quotes.example'}, "to": [{"address": REP}], "subject": "Quoted local part"},
        {"from": {"address": "josé@exämple.de", "name": "<script>alert(1)</script>"},
         "to": [{"address": REP}], "subject": "<img src=x onerror=alert(1)>"},
        {"from": {"address": "not an address"}, "to": [{"address": REP}], "subject": "Invalid sender"},
    ]
    for message in hostile:
        clouds.deliver(REP, **message)
    result = jobs.sync_mailbox(synced_once[1])
    assert "error" not in result, result
    with runtime.sessions() as session:
        rows = session.execute(select(Message).where(Message.first_seen_at >= utcnow() - timedelta(minutes=1))).scalars().all()
        outcomes = {row.subject[:30]: (row.status, row.reason) for row in rows}
    assert outcomes["No sender at all"] == ("skipped", "no_candidates")
    assert outcomes["No recipients"][0] == "synced"
    assert outcomes["S" * 30][0] == "synced"
    assert outcomes["Quotes'\"\\"] == ("unresolved", "no_match")
    assert outcomes["Quoted local part"] == ("unresolved", "no_match")
    assert outcomes["<img src=x onerror=alert(1)>"] == ("unresolved", "no_match")
    assert outcomes["Invalid sender"] == ("skipped", "no_candidates")
    long_task = clouds.records("Task", Subject="Email: " + "S" * 247 + "…")
    assert len(long_task) == 1  # Subject cut to Salesforce's 255 characters, the cut marked


def test_an_org_without_the_key_field_leaves_emails_unresolved_with_the_admins_fix(pipeline, clouds):
    runtime, mailbox_ids = pipeline
    clouds.org(external_id_field=False)
    contact = _contact(clouds)
    clouds.deliver(REP, **{"from": {"address": contact["Email"]}, "to": [{"address": REP}], "subject": "Probe: no key"})
    result = jobs.sync_mailbox(mailbox_ids[0])
    assert "error" not in result  # the mailbox itself is fine: Graph was read
    row = _row(runtime, "Probe: no key")
    assert (row.status, row.reason, row.error_code) == ("unresolved", "system_error", "SETUP_REQUIRED")
    assert "Mailferry_Key__c" in row.error_message and "External ID" in row.error_message
    assert clouds.records("Task") == []
    with runtime.sessions() as session:
        assert session.get(User, row.user_id).tenant.salesforce_external_id_field_ok is False


def test_the_api_budget_pauses_salesforce_work_visibly_until_the_day_ends(pipeline, clouds):
    runtime, mailbox_ids = pipeline
    clouds.org(daily_api_limit=20)  # the tenant's 20% share is 4 calls a day
    results = [jobs.sync_mailbox(mailbox_id) for mailbox_id in mailbox_ids]
    assert all("error" not in r for r in results)
    with runtime.sessions() as session:
        paused = session.execute(select(Message).where(Message.error_code == "MAILFERRY_BUDGET")).scalars().all()
        assert paused, "some emails should wait for tomorrow's budget"
        midnight = (utcnow() + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
        assert all(row.status == "unresolved" and row.next_attempt_at >= midnight - timedelta(seconds=5)
                   for row in paused)
        assert "share of the Salesforce API is used up" in paused[0].error_message
    data_calls = sum(n for route, n in clouds.calls(clouds.salesforce)["calls"].items() if "/services/data/" in route)
    assert data_calls <= 4 + 3  # the share, plus what calls reserved before the allowance was known may add


@pytest.mark.parametrize("as_written, stored_as", [
    ("Ann@Bücher.de", "ann@xn--bcher-kva.de"),  # an internationalised domain: its key is the A-label
    ("<Ann.Bracket@Leads-Probe.example>", "ann.bracket@leads-probe.example"),  # as some clients write it
], ids=["internationalised", "bracketed"])
def test_a_lead_keeps_its_role_whatever_form_its_address_arrives_in(pipeline, synced_once, clouds,
                                                                   as_written, stored_as):
    """SPEC 3.2: for an outgoing email the lead in To is recorded, else the first in
    participant order. Here To holds nobody known, Cc a lead and Bcc a lead whose address
    arrives in another form than Salesforce's: it is the Bcc lead, found by its key, and must
    not be taken for a To (which is what a participant whose role is lost becomes)."""
    runtime, _ = pipeline
    cc_address = f"cc.{stored_as.split('@')[0]}@leads-probe.example"  # each case its own (the match cache)
    cc_lead = clouds.plant("Lead", {"LastName": "Cc", "Company": "Probe Co", "Email": cc_address})
    bcc_lead = clouds.plant("Lead", {"LastName": "Bcc", "Company": "Probe Co", "Email": stored_as})
    clouds.deliver(REP, **{"from": {"address": REP}, "to": [{"address": "stranger@nobody-probe.example"}],
                           "cc": [{"address": cc_address}], "bcc": [{"address": as_written}],
                           "subject": f"Probe: leads {stored_as}", "folder": "sentitems"})
    jobs.sync_mailbox(synced_once[1])
    row = _row(runtime, f"Probe: leads {stored_as}")
    assert (row.status, row.direction) == ("synced", "outgoing")
    assert clouds.records("Task", Id=row.salesforce_task_id)[0]["WhoId"] == cc_lead
    with runtime.sessions() as session:
        records = {r.record_id: (r.recorded, r.reason) for r in session.get(Message, row.id).records}
    assert records == {cc_lead: (True, None), bcc_lead: (False, "one_lead_per_activity")}
