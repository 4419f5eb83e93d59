"""write_tasks / delete_tasks / check_setup against the sandbox: upserts on Mailferry_Key__c
through Collections inside Composite, TaskRelations, per-item results, and the setup check."""

from __future__ import annotations

import time
from dataclasses import replace

import pytest

from mailferry.allowances import MatchedRecord, apply_allowances, task_fields, task_key
from mailferry.decision import Participant
from mailferry.provider_errors import ErrorKind, ProviderError
from worker.salesforce.setup import CREATE_FIELD, KEY_LENGTH
from tests.worker.salesforce.task_writes import SENT, email_write, tasks_with_key, who_relations
from worker.salesforce.writer import TaskWrite, check_setup, delete_tasks, write_tasks

@pytest.fixture
def contacts(salesforce_control) -> list[str]:
    return salesforce_control.plant("Contact", [{"LastName": f"W{n}", "Email": f"w{n}@writer.example"} for n in range(60)])


def test_create_then_upsert_the_same_key_keeps_one_task_and_its_subtype(salesforce_control, salesforce_session, owner_id, contacts):
    first = write_tasks(salesforce_session, [email_write(1, owner_id, contacts[:1])])
    assert first[0].ok and first[0].created is True and first[0].task_id.startswith("00T")
    again = write_tasks(salesforce_session, [email_write(1, owner_id, contacts[:1], subject="Proposal 1 (edited)")])
    assert again[0].ok and again[0].created is False and again[0].task_id == first[0].task_id
    rows = tasks_with_key(salesforce_control, email_write(1, owner_id, []).key)
    assert len(rows) == 1
    assert rows[0]["TaskSubtype"] == "Email" and rows[0]["Subject"] == "Email: Proposal 1 (edited)"
    assert rows[0]["Status"] == "Completed" and rows[0]["OwnerId"] == owner_id


def test_further_contacts_become_task_relations_and_a_retry_adds_none(salesforce_control, salesforce_session, owner_id, contacts):
    write = email_write(2, owner_id, contacts[:50])
    assert len(write.relation_ids) == 49
    result = write_tasks(salesforce_session, [write])[0]
    assert result.ok and result.relations_added == 49
    assert who_relations(salesforce_control, result.task_id) == set(contacts[:50])
    retry = write_tasks(salesforce_session, [write])[0]
    assert retry.ok and retry.relations_added == 0 and retry.relations_removed == 0
    assert len(salesforce_control.records("TaskRelation", TaskId=result.task_id)) == 50


def test_an_update_drops_relations_the_email_no_longer_has(salesforce_control, salesforce_session, owner_id, contacts):
    task_id = write_tasks(salesforce_session, [email_write(3, owner_id, contacts[:5])])[0].task_id
    fewer = write_tasks(salesforce_session, [email_write(3, owner_id, contacts[:2] + contacts[7:8])])[0]
    assert fewer.ok and fewer.relations_added == 1 and fewer.relations_removed == 3
    assert who_relations(salesforce_control, task_id) == set(contacts[:2] + contacts[7:8])


def test_a_validation_rule_fails_one_email_and_its_neighbours_are_written(salesforce_control, salesforce_session, owner_id, contacts):
    salesforce_control.org(validation_rule={"sobject": "Task", "field": "Subject", "contains": "blocked",
                                 "message": "Subjects may not say blocked."})
    writes = [email_write(10, owner_id, contacts[:2]), email_write(11, owner_id, contacts[2:3], subject="blocked deal"),
              email_write(12, owner_id, contacts[3:6])]
    results = write_tasks(salesforce_session, writes)
    assert [r.ok for r in results] == [True, False, True]
    bad = results[1]
    assert bad.error_code == "FIELD_CUSTOM_VALIDATION_EXCEPTION" and bad.error_message == "Subjects may not say blocked."
    assert bad.task_id is None
    assert [len(tasks_with_key(salesforce_control, w.key)) for w in writes] == [1, 0, 1]
    assert results[2].relations_added == 2


def test_a_locked_row_fails_that_item_only_and_its_retry_goes_through(salesforce_control, salesforce_session, owner_id, contacts):
    salesforce_control.org(lock_row={"sobject": "Task", "count": 1})
    results = write_tasks(salesforce_session, [email_write(20, owner_id, contacts[:1]), email_write(21, owner_id, contacts[1:2])])
    assert results[0].ok is False and results[0].error_code == "UNABLE_TO_LOCK_ROW"
    assert results[1].ok
    assert write_tasks(salesforce_session, [email_write(20, owner_id, contacts[:1])])[0].ok  # the retry goes through


def test_the_org_daily_limit_raises_budget(salesforce_control, salesforce_session, owner_id, contacts):
    salesforce_control.org(daily_api_limit=10, api_used=10)
    with pytest.raises(ProviderError) as failure:
        write_tasks(salesforce_session, [email_write(30, owner_id, contacts[:1])])
    assert failure.value.kind == ErrorKind.BUDGET and failure.value.retry_after > 0


def test_missing_key_field_raises_setup_with_the_instructions(salesforce_control, salesforce_session, owner_id, contacts):
    salesforce_control.org(external_id_field=False)
    with pytest.raises(ProviderError) as failure:
        write_tasks(salesforce_session, [email_write(40, owner_id, contacts[:1])])
    assert failure.value.kind == ErrorKind.SETUP and CREATE_FIELD in failure.value.message
    assert salesforce_control.records("Task", Subject="Email: Proposal 40") == []


def test_setup_check_reports_the_key_field_and_shared_activities(salesforce_control, salesforce_session):
    before = salesforce_session.calls
    check = check_setup(salesforce_session)
    assert salesforce_session.calls == before + 1
    assert check.ok and check.external_id_field_ok and check.shared_activities
    assert check.key_field["externalId"] and check.key_field["unique"] and check.key_field["length"] >= KEY_LENGTH


def test_setup_check_without_the_field_gives_the_exact_fix(salesforce_control, salesforce_session):
    salesforce_control.org(external_id_field=False)
    check = check_setup(salesforce_session)
    assert not check.ok and not check.external_id_field_ok
    assert "Mailferry_Key__c is missing" in check.problems[0] and CREATE_FIELD in check.problems[0]
    with pytest.raises(ProviderError) as failure:
        check.raise_if_unusable()
    assert failure.value.kind == ErrorKind.SETUP


def test_org_without_shared_activities_is_detected_and_single_who_writes_work(salesforce_control, salesforce_session, owner_id, contacts):
    salesforce_control.org(shared_activities=False)
    check = check_setup(salesforce_session)
    assert check.ok and check.shared_activities is False and "Shared Activities is off" in check.notes[0]
    write = email_write(50, owner_id, contacts[:3], shared=False)
    assert write.relation_ids == ()
    result = write_tasks(salesforce_session, [write], shared_activities=False)[0]
    assert result.ok and tasks_with_key(salesforce_control, write.key)[0]["WhoId"] == contacts[0]


def test_delete_by_key_and_id_and_already_deleted_is_ok(salesforce_control, salesforce_session, owner_id, contacts):
    a, b = write_tasks(salesforce_session, [email_write(60, owner_id, contacts[:2]), email_write(61, owner_id, contacts[2:3])])
    never = task_key(1, 1, "<never-written@mail.example>")
    results = delete_tasks(salesforce_session, [a.key, b.task_id, never])
    assert [r.ok for r in results] == [True, True, True]
    assert results[0].task_id == a.task_id and not results[0].already_gone
    assert results[2].already_gone and results[2].task_id is None
    assert tasks_with_key(salesforce_control, a.key) == [] and salesforce_control.records("TaskRelation", TaskId=a.task_id) == []
    again = delete_tasks(salesforce_session, [a.key, b.task_id])
    assert all(r.ok and r.already_gone for r in again)


def test_duplicate_keys_in_one_batch_are_a_caller_error(salesforce_session, owner_id):
    with pytest.raises(ValueError):
        write_tasks(salesforce_session, [email_write(70, owner_id, []), email_write(70, owner_id, [])])


def test_calls_per_thousand_tasks_written(salesforce_control, salesforce_session, owner_id, contacts):
    # A realistic mix: most emails have one contact, some several.
    writes = [email_write(1000 + n, owner_id, contacts[n % 50:n % 50 + (1 if n % 4 else 3)]) for n in range(1000)]
    salesforce_control.reset_stats()
    before = salesforce_session.calls
    results = write_tasks(salesforce_session, writes)
    created = salesforce_session.calls - before
    assert all(r.ok and r.created for r in results)
    updates = write_tasks(salesforce_session, writes)
    updated = salesforce_session.calls - before - created
    assert all(r.ok and r.created is False for r in updates)
    print(f"\nwrite_tasks: 1,000 new Tasks ({sum(len(w.relation_ids) for w in writes)} TaskRelations) in "
          f"{created} API calls; re-upserting the same 1,000 in {updated} calls")
    assert created <= 2 and updated <= 4
    assert salesforce_control.data_calls() == created + updated
    assert len(salesforce_control.records("Task")) >= 1000


def test_a_lead_converted_after_the_lookup_fails_the_item_with_salesforces_code(salesforce_control, salesforce_session, owner_id):
    lead = salesforce_control.plant("Lead", {"LastName": "Soon", "Company": "Converted Co", "Email": "soon@convert.example"})[0]
    record = MatchedRecord("Lead", lead, "Soon", "soon@convert.example", None, "to", 0)
    allocation = apply_allowances([record], "outgoing", True)
    fields = task_fields(subject="Hi", participants=[Participant("to", "soon@convert.example")], message_date=SENT,
                         body="", time_zone="UTC", owner_id=owner_id, allocation=allocation)
    salesforce_control.http.post(f"{salesforce_control.url}/_sandbox/leads/{lead}/convert", json={}).raise_for_status()
    result = write_tasks(salesforce_session, [TaskWrite(task_key(1, 1, "<stale@mail.example>"), fields)])[0]
    assert not result.ok and result.error_code == "CANNOT_UPDATE_CONVERTED_LEAD"


def test_an_update_of_a_known_task_is_sent_as_an_update_at_once(salesforce_control, salesforce_session, owner_id, contacts):
    first = write_tasks(salesforce_session, [email_write(80, owner_id, contacts[:1])])[0]
    update = email_write(80, owner_id, contacts[:1], subject="Re-categorised")
    before = salesforce_session.calls
    again = write_tasks(salesforce_session, [replace(update, existing_task_id=first.task_id)])[0]
    assert salesforce_session.calls - before == 2  # the upsert (no refused first attempt), then the relations check
    assert again.ok and again.created is False and again.task_id == first.task_id
    row = tasks_with_key(salesforce_control, update.key)[0]
    assert row["Subject"] == "Email: Re-categorised" and row["TaskSubtype"] == "Email"


def test_a_known_task_deleted_in_salesforce_is_made_again_as_an_email(salesforce_control, salesforce_session, owner_id, contacts):
    first = write_tasks(salesforce_session, [email_write(81, owner_id, contacts[:3])])[0]
    delete_tasks(salesforce_session, [first.task_id])
    write = replace(email_write(81, owner_id, contacts[:3]), existing_task_id=first.task_id)
    again = write_tasks(salesforce_session, [write])[0]
    assert again.ok and again.created is True and again.task_id != first.task_id
    rows = tasks_with_key(salesforce_control, write.key)
    assert len(rows) == 1 and rows[0]["TaskSubtype"] == "Email" and rows[0]["Id"] == again.task_id
    assert who_relations(salesforce_control, again.task_id) == set(contacts[:3])


def test_relations_for_an_org_that_turned_shared_activities_off_are_setup(salesforce_control, salesforce_session, owner_id, contacts):
    salesforce_control.org(shared_activities=False)  # after the setup check said it was on
    result = write_tasks(salesforce_session, [email_write(90, owner_id, contacts[:3])])[0]
    assert not result.ok and result.error_code == "INVALID_TYPE" and "TaskRelation" in result.error_message
    assert result.task_id and tasks_with_key(salesforce_control, result.key)[0]["WhoId"] == contacts[0]
    with pytest.raises(ProviderError) as failure:  # an update reads relations first
        write_tasks(salesforce_session, [email_write(90, owner_id, contacts[:3])])
    assert failure.value.kind == ErrorKind.SETUP and "Shared Activities is off" in failure.value.message


def test_a_write_whose_answer_was_lost_is_retried_without_a_second_task(salesforce_control, make_session, salesforce_tokens, owner_id,
                                                                        contacts):
    impatient = make_session(salesforce_tokens, timeout=0.3)
    salesforce_control.faults({"path": "/services/data/*/composite", "latency_ms": 800, "count": 1})
    writes = [email_write(100 + n, owner_id, contacts[n:n + 2]) for n in range(5)]
    with pytest.raises(ProviderError) as failure:
        write_tasks(impatient, writes)  # the sandbox still writes them after we gave up
    assert failure.value.kind == ErrorKind.TEMPORARY
    time.sleep(0.7)
    results = write_tasks(impatient, writes)
    assert all(r.ok for r in results)
    assert [len(tasks_with_key(salesforce_control, w.key)) for w in writes] == [1] * 5
    assert all(who_relations(salesforce_control, r.task_id) == set(contacts[n:n + 2]) for n, r in enumerate(results))


def test_an_outage_of_the_whole_call_is_temporary(salesforce_control, salesforce_session, owner_id, contacts):
    salesforce_control.faults({"path": "/services/data/*/composite", "status": 503, "count": 1})
    with pytest.raises(ProviderError) as failure:
        write_tasks(salesforce_session, [email_write(110, owner_id, contacts[:1])])
    assert failure.value.kind == ErrorKind.TEMPORARY
    assert write_tasks(salesforce_session, [email_write(110, owner_id, contacts[:1])])[0].ok
