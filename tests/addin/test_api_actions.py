"""What the task pane and the commands do through the API (SPEC section 7): the open email's
status (stored, or decided live for mail the worker has not seen), its records and
participants, Ignore sender / domain, Sync now, Retry now, Ignore Email and the compact
history, each only ever on the caller's own rows."""

from __future__ import annotations

from sqlalchemy import select

from mailferry.models import IgnoreEntry, Message, MessageRecord, UserSetting
from tests.addin.api_calls import INSTANCE
from tests.sandbox.microsoft.tenant import ALICE


def _item(mid: str, sender="carol@customer.example", to=(ALICE.upn,), categories=()):
    return {"internetMessageId": mid, "from": {"emailAddress": sender, "displayName": "Carol Customer"},
            "to": [{"emailAddress": a, "displayName": ""} for a in to], "cc": [], "categories": list(categories)}


def _participants(address="carol@customer.example", name="Carol Customer"):
    return [{"role": "from", "address": address, "name": name}, {"role": "to", "address": ALICE.upn, "name": ""}]


def test_a_synced_email_shows_its_records_with_links(addin_api, api_token, addin_world):
    row = addin_world.message(status="synced", internet_message_id="<synced-1@customer.example>",
                              participants=_participants(), salesforce_task_id="00T000000000001AAA")
    addin_world.session.add(MessageRecord(message_id=row.id, sobject_type="Contact", record_id="003000000000001AAA",
                                          name="Carol Customer", address="carol@customer.example", recorded=True))
    addin_world.session.commit()
    status = addin_api(api_token()).post("/addin/api/status", json=_item("<synced-1@customer.example>")).get_json()
    assert status["status"] == "synced" and status["title"] == "Synced to Salesforce"
    assert status["records"] == [{"type": "Contact", "name": "Carol Customer", "recorded": True, "reason": "",
                                  "url": f"{INSTANCE}/lightning/r/Contact/003000000000001AAA/view"}]
    [carol] = status["participants"]  # Alice herself is not listed
    assert carol["state"] == "recorded" and carol["record"]["url"].endswith("/Contact/003000000000001AAA/view")
    assert status["task_url"] == f"{INSTANCE}/lightning/r/Task/00T000000000001AAA/view"


def test_an_unresolved_email_shows_the_reason_and_the_fixes(addin_api, api_token, addin_world):
    addin_world.message(status="unresolved", reason="no_match", internet_message_id="<open-1@customer.example>",
                        participants=_participants())
    addin_world.session.commit()
    status = addin_api(api_token()).post("/addin/api/status", json=_item("<open-1@customer.example>")).get_json()
    assert status["status"] == "unresolved" and status["reason_text"] == "No matching Contact or Lead in Salesforce"
    assert status["can_retry"] and not status["can_sync_now"]  # Retry now brings the retry forward
    assert status["title"] == "Unresolved" and "Create one, or ignore the address" in status["detail"]
    [carol] = status["participants"]
    assert carol["state"] == "unmatched" and carol["domain"] == "customer.example"
    assert carol["create_contact_url"].startswith(f"{INSTANCE}/lightning/o/Contact/new?defaultFieldValues=")
    assert "LastName=Customer" in carol["create_lead_url"]


def test_mail_the_worker_has_not_seen_is_decided_live(addin_api, api_token, addin_world):
    status = addin_api(api_token()).post("/addin/api/status", json=_item("<new-1@customer.example>")).get_json()
    assert status["status"] == "not_synced_yet" and status["can_sync_now"] and status["message_id"] is None
    assert status["participants"][0]["state"] == "not_looked_up"


def test_live_decision_applies_the_donotsync_category_and_the_designated_mode(addin_api, api_token, addin_world):
    excluded = addin_api(api_token()).post("/addin/api/status",
                                     json=_item("<new-2@customer.example>", categories=("DoNotSync",))).get_json()
    assert excluded["status"] == "excluded" and excluded["reason_text"] == "DoNotSync category"
    addin_world.session.add(UserSetting(user_id=addin_world.alice.id, key="sync_mode", value="sync_designated"))
    addin_world.session.commit()
    token = api_token()
    assert addin_api(token).post("/addin/api/status", json=_item("<new-3@customer.example>")).get_json()["status"] \
        == "not_designated"
    assert addin_api(token).post("/addin/api/status", json=_item("<new-3@customer.example>", categories=("CRM",))) \
        .get_json()["status"] == "not_synced_yet"


def test_an_email_from_a_colleague_only_has_nobody_to_sync(addin_api, api_token, addin_world):
    # Provisioning puts the user's own domain on their Ignore List.
    addin_world.session.add(IgnoreEntry(tenant_id=addin_world.alice.tenant_id, user_id=addin_world.alice.id,
                                        kind="domain", value="contoso-test.com", source="own_domain"))
    addin_world.session.commit()
    status = addin_api(api_token()).post("/addin/api/status",
                                   json=_item("<internal@x>", sender="bob@contoso-test.com")).get_json()
    assert status["status"] == "skipped" and status["participants"][0]["state"] == "ignored"


def test_another_users_email_is_never_shown(addin_api, api_token, addin_world):
    addin_world.message(addin_world.stranger_mailbox, status="synced", internet_message_id="<theirs@x>",
                        participants=_participants())
    addin_world.session.commit()
    status = addin_api(api_token()).post("/addin/api/status", json=_item("<theirs@x>")).get_json()
    assert status["status"] == "not_synced_yet" and status["message_id"] is None


def test_ignore_sender_puts_the_address_on_the_ignore_list_and_the_email_leaves_unresolved(
        addin_api, api_token, addin_world, sync_queue):
    row = addin_world.message(status="unresolved", reason="no_match", internet_message_id="<u-2@customer.example>",
                              participants=_participants())
    addin_world.session.commit()
    answer = addin_api(api_token()).post("/addin/api/ignore", json={"kind": "address", "value": "Carol@Customer.example"})
    assert answer.status_code == 200, answer.get_json()
    assert answer.get_json()["created"] and "carol@customer.example is on your Ignore List" in answer.get_json()["message"]
    entry = addin_world.session.execute(select(IgnoreEntry).where(IgnoreEntry.user_id == addin_world.alice.id,
                                                                  IgnoreEntry.value == "carol@customer.example")).scalar_one()
    assert entry.source == "addin"
    addin_world.session.expire_all()
    assert addin_world.session.get(Message, row.id).status == "skipped"
    assert [job.args for job in sync_queue.jobs] == [(addin_world.alice_mailbox.id,)]


def test_ignore_domain_refuses_an_address_and_bad_input_gets_a_clear_message(addin_api, api_token, addin_world):
    client = addin_api(api_token())
    wrong = client.post("/addin/api/ignore", json={"kind": "domain", "value": "carol@customer.example"})
    assert wrong.status_code == 400 and "is not a domain" in wrong.get_json()["message"]
    assert client.post("/addin/api/ignore", json={"kind": "everything", "value": "x"}).status_code == 400
    assert "JSON object" in client.post("/addin/api/ignore", data="kind=domain").get_json()["message"]
    assert client.post("/addin/api/status", json={"internetMessageId": "x" * 2000}).status_code == 400


def test_sync_now_queues_only_the_callers_mailbox(addin_api, api_token, addin_world, sync_queue):
    answer = addin_api(api_token()).post("/addin/api/sync", json={})
    assert answer.get_json() == {"queued": True}
    assert [job.args for job in sync_queue.jobs] == [(addin_world.alice_mailbox.id,)]


def test_retry_now_and_ignore_email_touch_only_the_callers_rows(addin_api, api_token, addin_world, sync_queue):
    mine = addin_world.message(status="unresolved", internet_message_id="<m@x>", participants=_participants())
    theirs = addin_world.message(addin_world.stranger_mailbox, status="unresolved", internet_message_id="<t@x>",
                                 participants=_participants())
    addin_world.session.commit()
    client = addin_api(api_token())
    assert client.post("/addin/api/retry", json={"messageId": theirs.id}).get_json() == {"retrying": 0}
    assert client.post("/addin/api/retry", json={"messageId": mine.id}).get_json() == {"retrying": 1}
    assert client.post("/addin/api/ignore-email", json={"internetMessageId": "<t@x>"}).get_json()["ignored"] == 0
    assert client.post("/addin/api/ignore-email", json={"internetMessageId": "<m@x>"}).get_json()["ignored"] == 1
    addin_world.session.expire_all()
    assert addin_world.session.get(Message, theirs.id).status == "unresolved"
    assert addin_world.session.get(Message, mine.id).status == "ignored"


def test_compact_history_pages_searches_and_counts_only_the_callers_rows(addin_api, api_token, addin_world):
    for n in range(12):
        addin_world.message(status="unresolved", subject=f"Quote {n}", participants=_participants())
    addin_world.message(addin_world.stranger_mailbox, status="unresolved", subject="Quote of a stranger")
    addin_world.session.commit()
    client = addin_api(api_token())
    first = client.get("/addin/api/history?tab=unresolved").get_json()
    assert len(first["rows"]) == 10 and first["has_next"]
    assert {t["key"]: t["count"] for t in first["tabs"]}["unresolved"] == 12
    second = client.get("/addin/api/history?tab=unresolved&page=2").get_json()
    assert len(second["rows"]) == 2 and not second["has_next"]
    found = client.get("/addin/api/history?tab=unresolved&q=quote 1").get_json()
    assert sorted(r["title"] for r in found["rows"]) == ["Quote 1", "Quote 10", "Quote 11"]
    assert all("stranger" not in r["title"] for r in first["rows"] + second["rows"])
    assert client.get("/addin/api/history?tab=secret").status_code == 400


def test_an_unresolved_write_failure_does_not_call_its_people_unmatched(addin_api, api_token, addin_world):
    addin_world.message(status="unresolved", reason="system_error", error_code="UNABLE_TO_LOCK_ROW",
                        internet_message_id="<locked@customer.example>", participants=_participants())
    addin_world.session.commit()
    status = addin_api(api_token()).post("/addin/api/status", json=_item("<locked@customer.example>")).get_json()
    assert status["can_retry"] and "keeps retrying" in status["detail"]
    [carol] = status["participants"]
    assert carol["state"] == "not_looked_up" and carol["create_contact_url"] is None


def test_an_expired_email_offers_no_retry_that_would_do_nothing(addin_api, api_token, addin_world):
    addin_world.message(status="expired", reason="no_match", internet_message_id="<old@customer.example>",
                        participants=_participants())
    addin_world.session.commit()
    status = addin_api(api_token()).post("/addin/api/status", json=_item("<old@customer.example>")).get_json()
    assert status["title"] == "Unresolved, no longer retried"
    assert not status["can_retry"] and not status["can_sync_now"]


def test_smart_and_invalid_addresses_are_sorted_out_as_the_rules_do(addin_api, api_token, addin_world):
    from mailferry.models import Tenant

    tenant = addin_world.session.get(Tenant, addin_world.alice.tenant_id)
    tenant.smart_address_domain = "smart.contoso-test.com"
    addin_world.session.commit()
    item = _item("<smart@x>")
    item["cc"] = [{"emailAddress": "account-001000000000001@smart.contoso-test.com", "displayName": ""},
                  {"emailAddress": "not an address", "displayName": "Broken"}]
    status = addin_api(api_token()).post("/addin/api/status", json=item).get_json()
    states = {p["address"]: p["state"] for p in status["participants"]}
    assert states == {"carol@customer.example": "not_looked_up", "not an address": "invalid"}


def test_a_token_of_another_account_is_refused_for_this_mailbox(addin_api, api_token, addin_world):
    client = addin_api(api_token())
    client.environ_base["HTTP_X_MAILFERRY_MAILBOX"] = "bob@contoso-test.com"
    answer = client.get("/addin/api/me")
    assert answer.status_code == 403 and answer.get_json()["error"] == "wrong_account"
    assert "bob@contoso-test.com" in answer.get_json()["message"]
    client.environ_base["HTTP_X_MAILFERRY_MAILBOX"] = ALICE.upn.upper()
    assert client.get("/addin/api/me").status_code == 200
