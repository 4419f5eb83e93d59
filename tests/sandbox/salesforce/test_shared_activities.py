"""Shared Activities: one lead or up to 50 contacts, never a mix; orgs without it (reference 3.2, SPEC 3)."""

from __future__ import annotations

import pytest
from simple_salesforce.exceptions import SalesforceMalformedRequest, SalesforceResourceNotFound

from tests.sandbox.salesforce.org import Org


def whos(simple_salesforce_client, task_id: str) -> list[str]:
    result = simple_salesforce_client.query("SELECT Id, (SELECT RelationId FROM TaskWhoRelations) FROM Task WHERE Id = '%s'" % task_id)
    child = result["records"][0]["TaskWhoRelations"]
    return sorted(r["RelationId"] for r in child["records"]) if child else []


def make_contacts(simple_salesforce_client, count: int) -> list[str]:
    results = simple_salesforce_client.restful("composite/sobjects", method="POST", json={"records": [
        {"attributes": {"type": "Contact"}, "LastName": f"C{i}", "Email": f"c{i}@many.example"} for i in range(count)]})
    return [r["id"] for r in results]


def test_who_id_is_the_primary_relation_and_task_relations_add_contacts(simple_salesforce_client):
    task = simple_salesforce_client.Task.create({"Subject": "Email: team", "WhoId": Org.ann, "WhatId": Org.deal})
    relation = simple_salesforce_client.TaskRelation.create({"TaskId": task["id"], "RelationId": Org.bob})
    assert relation["id"].startswith("0RT")
    assert whos(simple_salesforce_client, task["id"]) == sorted([Org.ann, Org.bob])
    rows = simple_salesforce_client.query("SELECT RelationId, IsWhat, AccountId FROM TaskRelation WHERE TaskId = '%s'" % task["id"])
    by_relation = {r["RelationId"]: r for r in rows["records"]}
    assert by_relation[Org.deal]["IsWhat"] is True and by_relation[Org.bob]["IsWhat"] is False
    assert by_relation[Org.bob]["AccountId"] == Org.acme


def test_a_lead_and_contacts_cannot_share_an_activity(simple_salesforce_client):
    task = simple_salesforce_client.Task.create({"Subject": "x", "WhoId": Org.ann})
    with pytest.raises(SalesforceMalformedRequest) as raised:
        simple_salesforce_client.TaskRelation.create({"TaskId": task["id"], "RelationId": Org.lena})
    assert raised.value.content[0]["errorCode"] == "FIELD_INTEGRITY_EXCEPTION"
    lead_task = simple_salesforce_client.Task.create({"Subject": "y", "WhoId": Org.lena})
    with pytest.raises(SalesforceMalformedRequest):
        simple_salesforce_client.TaskRelation.create({"TaskId": lead_task["id"], "RelationId": Org.ann})
    assert whos(simple_salesforce_client, lead_task["id"]) == [Org.lena]


def test_fifty_contacts_are_allowed_and_the_fifty_first_is_refused(simple_salesforce_client):
    contacts = make_contacts(simple_salesforce_client, 51)
    task = simple_salesforce_client.Task.create({"Subject": "Email: everyone", "WhoId": contacts[0]})
    simple_salesforce_client.restful("composite/sobjects", method="POST", json={"allOrNone": True, "records": [
        {"attributes": {"type": "TaskRelation"}, "TaskId": task["id"], "RelationId": c} for c in contacts[1:50]]})
    assert len(whos(simple_salesforce_client, task["id"])) == 50
    with pytest.raises(SalesforceMalformedRequest) as raised:
        simple_salesforce_client.TaskRelation.create({"TaskId": task["id"], "RelationId": contacts[50]})
    assert raised.value.content[0]["errorCode"] == "LIMIT_EXCEEDED"


def test_converted_leads_cannot_be_related(simple_salesforce_client):
    task = simple_salesforce_client.Task.create({"Subject": "x"})
    with pytest.raises(SalesforceMalformedRequest) as raised:
        simple_salesforce_client.TaskRelation.create({"TaskId": task["id"], "RelationId": Org.conrad})
    assert raised.value.content[0]["errorCode"] == "CANNOT_UPDATE_CONVERTED_LEAD"


def test_deleting_the_primary_relation_promotes_the_next_contact(simple_salesforce_client):
    task = simple_salesforce_client.Task.create({"Subject": "x", "WhoId": Org.ann})
    simple_salesforce_client.TaskRelation.create({"TaskId": task["id"], "RelationId": Org.bob})
    primary = simple_salesforce_client.query("SELECT Id FROM TaskRelation WHERE TaskId = '%s' AND RelationId = '%s'" % (task["id"], Org.ann))
    simple_salesforce_client.TaskRelation.delete(primary["records"][0]["Id"])
    assert simple_salesforce_client.Task.get(task["id"])["WhoId"] == Org.bob


def test_task_relations_cannot_be_updated(rest_api, simple_salesforce_client):
    task = simple_salesforce_client.Task.create({"Subject": "x", "WhoId": Org.ann})
    relation = simple_salesforce_client.query("SELECT Id FROM TaskRelation WHERE TaskId = '%s'" % task["id"])["records"][0]["Id"]
    answer = rest_api.call("PATCH", f"/sobjects/TaskRelation/{relation}", json={"RelationId": Org.bob})
    assert answer.status_code == 400 and answer.json()[0]["errorCode"] == "INVALID_TYPE_FOR_OPERATION"


def test_an_org_without_shared_activities_has_no_task_relations(simple_salesforce_client, org_settings):
    org_settings(shared_activities=False)
    with pytest.raises(SalesforceResourceNotFound):
        simple_salesforce_client.TaskRelation.create({"TaskId": "00TTt0000000001AAA", "RelationId": Org.bob})
    with pytest.raises(SalesforceMalformedRequest) as raised:
        simple_salesforce_client.query("SELECT Id, (SELECT RelationId FROM TaskWhoRelations) FROM Task")
    assert raised.value.content[0]["errorCode"] == "INVALID_TYPE"
    with pytest.raises(SalesforceMalformedRequest) as raised:
        simple_salesforce_client.query("SELECT Id FROM TaskRelation")
    assert raised.value.content[0]["errorCode"] == "INVALID_TYPE"
    task = simple_salesforce_client.Task.create({"Subject": "single who", "WhoId": Org.ann})
    assert simple_salesforce_client.Task.get(task["id"])["WhoId"] == Org.ann
