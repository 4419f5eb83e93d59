"""describe and the external ID field switch (reference 2.4, SPEC 3 setup check)."""

from __future__ import annotations

import pytest
from simple_salesforce.exceptions import SalesforceMalformedRequest, SalesforceResourceNotFound


def field(describe: dict, name: str) -> dict | None:
    return next((f for f in describe["fields"] if f["name"] == name), None)


def test_task_describe_shows_the_key_as_a_unique_external_id(simple_salesforce_client):
    describe = simple_salesforce_client.Task.describe()
    assert describe["name"] == "Task" and describe["keyPrefix"] == "00T"
    key = field(describe, "Mailferry_Key__c")
    assert key["externalId"] is True and key["unique"] is True and key["type"] == "string" and key["custom"] is True
    subtype = field(describe, "TaskSubtype")
    assert subtype["createable"] is True and subtype["updateable"] is False and subtype["restrictedPicklist"] is True
    assert "Email" in [v["value"] for v in subtype["picklistValues"]]
    assert field(describe, "Subject")["length"] == 255 and field(describe, "Description")["length"] == 32000
    assert {"childSObject": "TaskWhoRelation", "field": "TaskId", "relationshipName": "TaskWhoRelations",
            "cascadeDelete": True} in describe["childRelationships"]


def test_global_describe_lists_the_objects(simple_salesforce_client):
    names = {o["name"] for o in simple_salesforce_client.describe()["sobjects"]}
    assert {"Task", "TaskRelation", "TaskWhoRelation", "Contact", "Lead", "Account", "Opportunity", "Case",
            "User"} <= names


def test_lead_describe_has_the_conversion_fields_read_only(simple_salesforce_client):
    describe = simple_salesforce_client.Lead.describe()
    assert field(describe, "IsConverted")["updateable"] is False
    assert field(describe, "ConvertedContactId")["referenceTo"] == ["Contact"]
    assert field(describe, "Company")["nillable"] is False


def test_an_org_without_the_key_field_hides_it_everywhere(simple_salesforce_client, org_settings):
    org_settings(external_id_field=False)
    assert field(simple_salesforce_client.Task.describe(), "Mailferry_Key__c") is None
    with pytest.raises(SalesforceResourceNotFound) as raised:
        simple_salesforce_client.Task.upsert("Mailferry_Key__c/k1", {"Subject": "x"})
    assert raised.value.content[0]["message"] == \
        "Provided external ID field does not exist or is not accessible: Mailferry_Key__c"
    with pytest.raises(SalesforceMalformedRequest) as raised:
        simple_salesforce_client.query("SELECT Id, Mailferry_Key__c FROM Task")
    assert raised.value.content[0]["errorCode"] == "INVALID_FIELD"
    with pytest.raises(SalesforceMalformedRequest) as raised:
        simple_salesforce_client.Task.create({"Subject": "x", "Mailferry_Key__c": "k"})
    assert raised.value.content[0]["errorCode"] == "INVALID_FIELD"
    org_settings(external_id_field=True)
    assert simple_salesforce_client.Task.upsert("Mailferry_Key__c/k1", {"Subject": "x"}) == 201
