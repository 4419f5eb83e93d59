"""Shared Activities: one lead or up to 50 contacts, never a mix; orgs without it (reference 3.2, SPEC 3)."""

from __future__ import annotations

import pytest
from simple_salesforce.exceptions import SalesforceMalformedRequest, SalesforceResourceNotFound

from .conftest import Org


def whos(sf, task_id: str) -> list[str]:
    result = sf.query("SELECT Id, (SELECT RelationId FROM TaskWhoRelations) FROM Task WHERE Id = '%s'" % task_id)
    child = result["records"][0]["TaskWhoRelations"]
    return sorted(r["RelationId"] for r in child["records"]) if child else []


def make_contacts(sf, count: int) -> list[str]:
    results = sf.restful("composite/sobjects", method="POST", json={"records": [
        {"attributes": {"type": "Contact"}, "LastName": f"C{i}", "Email": f"c{i}@many.example"} for i in range(count)]})
    return [r["id"] for r in results]


def test_who_id_is_the_primary_relation_and_task_relations_add_contacts(sf):
    task = sf.Task.create({"Subject": "Email: team", "WhoId": Org.ann, "WhatId": Org.deal})
    relation = sf.TaskRelation.create({"TaskId": task["id"], "RelationId": Org.bob})
    assert relation["id"].startswith("0RT")
    assert whos(sf, task["id"]) == sorted([Org.ann, Org.bob])
    rows = sf.query("SELECT RelationId, IsWhat, AccountId FROM TaskRelation WHERE TaskId = '%s'" % task["id"])
    by_relation = {r["RelationId"]: r for r in rows["records"]}
    assert by_relation[Org.deal]["IsWhat"] is True and by_relation[Org.bob]["IsWhat"] is False
    assert by_relation[Org.bob]["AccountId"] == Org.acme


def test_a_lead_and_contacts_cannot_share_an_activity(sf):
    task = sf.Task.create({"Subject": "x", "WhoId": Org.ann})
    with pytest.raises(SalesforceMalformedRequest) as raised:
        sf.TaskRelation.create({"TaskId": task["id"], "RelationId": Org.lena})
    assert raised.value.content[0]["errorCode"] == "FIELD_INTEGRITY_EXCEPTION"
    lead_task = sf.Task.create({"Subject": "y", "WhoId": Org.lena})
    with pytest.raises(SalesforceMalformedRequest):
        sf.TaskRelation.create({"TaskId": lead_task["id"], "RelationId": Org.ann})
    assert whos(sf, lead_task["id"]) == [Org.lena]


def test_fifty_contacts_are_allowed_and_the_fifty_first_is_refused(sf):
    contacts = make_contacts(sf, 51)
    task = sf.Task.create({"Subject": "Email: everyone", "WhoId": contacts[0]})
    sf.restful("composite/sobjects", method="POST", json={"allOrNone": True, "records": [
        {"attributes": {"type": "TaskRelation"}, "TaskId": task["id"], "RelationId": c} for c in contacts[1:50]]})
    assert len(whos(sf, task["id"])) == 50
    with pytest.raises(SalesforceMalformedRequest) as raised:
        sf.TaskRelation.create({"TaskId": task["id"], "RelationId": contacts[50]})
    assert raised.value.content[0]["errorCode"] == "LIMIT_EXCEEDED"


def test_converted_leads_cannot_be_related(sf):
    task = sf.Task.create({"Subject": "x"})
    with pytest.raises(SalesforceMalformedRequest) as raised:
        sf.TaskRelation.create({"TaskId": task["id"], "RelationId": Org.conrad})
    assert raised.value.content[0]["errorCode"] == "CANNOT_UPDATE_CONVERTED_LEAD"


def test_deleting_the_primary_relation_promotes_the_next_contact(sf):
    task = sf.Task.create({"Subject": "x", "WhoId": Org.ann})
    sf.TaskRelation.create({"TaskId": task["id"], "RelationId": Org.bob})
    primary = sf.query("SELECT Id FROM TaskRelation WHERE TaskId = '%s' AND RelationId = '%s'" % (task["id"], Org.ann))
    sf.TaskRelation.delete(primary["records"][0]["Id"])
    assert sf.Task.get(task["id"])["WhoId"] == Org.bob


def test_task_relations_cannot_be_updated(api, sf):
    task = sf.Task.create({"Subject": "x", "WhoId": Org.ann})
    relation = sf.query("SELECT Id FROM TaskRelation WHERE TaskId = '%s'" % task["id"])["records"][0]["Id"]
    answer = api.call("PATCH", f"/sobjects/TaskRelation/{relation}", json={"RelationId": Org.bob})
    assert answer.status_code == 400 and answer.json()[0]["errorCode"] == "INVALID_TYPE_FOR_OPERATION"


def test_an_org_without_shared_activities_has_no_task_relations(sf, org_settings):
    org_settings(shared_activities=False)
    with pytest.raises(SalesforceResourceNotFound):
        sf.TaskRelation.create({"TaskId": "00TTt0000000001AAA", "RelationId": Org.bob})
    with pytest.raises(SalesforceMalformedRequest) as raised:
        sf.query("SELECT Id, (SELECT RelationId FROM TaskWhoRelations) FROM Task")
    assert raised.value.content[0]["errorCode"] == "INVALID_TYPE"
    with pytest.raises(SalesforceMalformedRequest) as raised:
        sf.query("SELECT Id FROM TaskRelation")
    assert raised.value.content[0]["errorCode"] == "INVALID_TYPE"
    task = sf.Task.create({"Subject": "single who", "WhoId": Org.ann})
    assert sf.Task.get(task["id"])["WhoId"] == Org.ann
