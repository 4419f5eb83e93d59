"""Salesforce error codes nobody has confirmed on a real org (reference salesforce 6, wave2 10;
issue 14 "also settle"): the writer must not depend on them without a fallback.

TaskSubtype is create-only. An upsert that turns out to be an update is refused for it; the
sandbox answers INVALID_FIELD_FOR_INSERT_UPDATE naming the field (Salesforce's usual answer
for a field the user may not write), and can be told to answer anything else. Whatever the
code, the email's Task is updated once the key is seen to name an existing Task."""

from __future__ import annotations

import pytest

from tests.worker.salesforce.task_writes import email_write, tasks_with_key
from worker.salesforce.writer import write_tasks

OTHER_ANSWERS = [
    {"code": "CANNOT_UPDATE_FIELD", "message": "Field is not writeable: Task.TaskSubtype", "fields": []},
    {"code": "INVALID_OPERATION", "message": "This operation is not allowed.", "fields": []},
]


@pytest.fixture
def contacts(salesforce_control) -> list[str]:
    return salesforce_control.plant("Contact", [{"LastName": "U", "Email": "u@unconfirmed.example"}])


@pytest.mark.parametrize("refusal", OTHER_ANSWERS, ids=[a["code"] for a in OTHER_ANSWERS])
def test_an_update_refused_with_an_unexpected_code_still_updates_the_task(
        salesforce_control, salesforce_session, owner_id, contacts, refusal):
    first = write_tasks(salesforce_session, [email_write(41, owner_id, contacts[:1])])[0]
    assert first.ok and first.created is True
    salesforce_control.org(create_only_refusal=refusal)
    again = write_tasks(salesforce_session, [email_write(41, owner_id, contacts[:1], subject="Edited")])[0]
    assert again.ok, (again.error_code, again.error_message)
    assert again.created is False and again.task_id == first.task_id
    rows = tasks_with_key(salesforce_control, first.key)
    assert len(rows) == 1 and rows[0]["Subject"] == "Email: Edited" and rows[0]["TaskSubtype"] == "Email"


def test_the_known_code_costs_no_existence_query(salesforce_control, salesforce_session, owner_id, contacts):
    write_tasks(salesforce_session, [email_write(42, owner_id, contacts[:1])])
    before = salesforce_session.calls
    again = write_tasks(salesforce_session, [email_write(42, owner_id, contacts[:1], subject="Edited")])[0]
    assert again.ok and again.created is False
    assert salesforce_session.calls - before == 3  # refused upsert, upsert without TaskSubtype, relation read


def test_a_new_task_that_fails_for_good_is_not_remade_without_its_subtype(
        salesforce_control, salesforce_session, owner_id, contacts):
    salesforce_control.org(validation_rule={"sobject": "Task", "field": "Subject", "contains": "blocked",
                                            "message": "No blocked subjects"})
    result = write_tasks(salesforce_session, [email_write(43, owner_id, contacts[:1], subject="blocked deal")])[0]
    assert not result.ok and result.error_code == "FIELD_CUSTOM_VALIDATION_EXCEPTION"
    assert tasks_with_key(salesforce_control, result.key) == []
