"""sObject Collections: create, update, upsert, delete; 200 records; allOrNone (reference 2.5)."""

from __future__ import annotations

import pytest
from simple_salesforce.exceptions import SalesforceMalformedRequest

from tests.sandbox.salesforce.org import Org

ROLLED_BACK = {"statusCode": "ALL_OR_NONE_OPERATION_ROLLED_BACK", "message": "Record rolled back because not all "
               "records were valid and the request was using AllOrNone header", "fields": []}


def contact(name: str, **extra) -> dict:
    return {"attributes": {"type": "Contact"}, "LastName": name, **extra}


def test_create_answers_one_result_per_record_in_order_even_when_some_fail(simple_salesforce_client):
    results = simple_salesforce_client.restful("composite/sobjects", method="POST", json={"allOrNone": False, "records": [
        contact("One"), contact("", FirstName="no last name"), {"attributes": {"type": "Lead"},
                                                                 "LastName": "L", "Company": "C"}]})
    assert len(results) == 3
    assert results[0]["success"] is True and results[0]["id"].startswith("003") and results[0]["errors"] == []
    assert results[1] == {"success": False, "errors": [{"statusCode": "REQUIRED_FIELD_MISSING", "message":
                          "Required fields are missing: [LastName]", "fields": ["LastName"]}]}
    assert results[2]["id"].startswith("00Q")
    assert simple_salesforce_client.query("SELECT COUNT() FROM Contact WHERE LastName = 'One'")["totalSize"] == 1


def test_all_or_none_rolls_everything_back_and_marks_the_others(simple_salesforce_client):
    before = simple_salesforce_client.query("SELECT COUNT() FROM Contact")["totalSize"]
    results = simple_salesforce_client.restful("composite/sobjects", method="POST", json={"allOrNone": True, "records": [
        contact("Fine"), contact("x" * 81), contact("Also fine")]})
    assert results[0] == {"success": False, "errors": [ROLLED_BACK]}
    assert results[1]["errors"][0]["statusCode"] == "STRING_TOO_LONG"
    assert results[2] == {"success": False, "errors": [ROLLED_BACK]}
    assert simple_salesforce_client.query("SELECT COUNT() FROM Contact")["totalSize"] == before


def test_update_needs_ids_and_echoes_them(simple_salesforce_client):
    results = simple_salesforce_client.restful("composite/sobjects", method="PATCH", json={"records": [
        {"attributes": {"type": "Contact"}, "id": Org.ann, "Title": "CEO"},
        {"attributes": {"type": "Contact"}, "Title": "no id"},
        {"attributes": {"type": "Lead"}, "id": Org.conrad, "Title": "converted"}]})
    assert results[0] == {"id": Org.ann, "success": True, "errors": []}
    assert results[1]["success"] is False and results[1]["errors"][0]["statusCode"] == "MISSING_ARGUMENT"
    assert results[2]["id"] == Org.conrad and results[2]["errors"][0]["statusCode"] == "CANNOT_UPDATE_CONVERTED_LEAD"
    assert simple_salesforce_client.Contact.get(Org.ann)["Title"] == "CEO"


def test_upsert_by_external_id_reports_created_per_record(simple_salesforce_client):
    records = [{"attributes": {"type": "Task"}, "Mailferry_Key__c": f"k{i}", "Subject": f"s{i}"} for i in range(3)]
    first = simple_salesforce_client.restful("composite/sobjects/Task/Mailferry_Key__c", method="PATCH", json={"records": records})
    assert [r["created"] for r in first] == [True, True, True]
    records[1]["Subject"] = "changed"
    records.append({"attributes": {"type": "Task"}, "Subject": "no key"})
    second = simple_salesforce_client.restful("composite/sobjects/Task/Mailferry_Key__c", method="PATCH",
                        json={"allOrNone": False, "records": records})
    assert [r["success"] for r in second] == [True, True, True, False]
    assert [r.get("created") for r in second[:3]] == [False, False, False]
    assert [r["id"] for r in second[:3]] == [r["id"] for r in first]
    assert second[3]["errors"][0]["statusCode"] == "MISSING_ARGUMENT"
    assert simple_salesforce_client.Task.get(first[1]["id"])["Subject"] == "changed"


def test_delete_by_ids(simple_salesforce_client):
    results = simple_salesforce_client.restful("composite/sobjects", method="DELETE",
                         params={"ids": f"{Org.cat},{Org.deal},003Tt0000000099AAA", "allOrNone": "false"})
    assert results[0] == {"id": Org.cat, "success": True, "errors": []}
    assert results[1] == {"id": Org.deal, "success": True, "errors": []}
    assert results[2]["success"] is False
    assert simple_salesforce_client.query("SELECT COUNT() FROM Contact")["totalSize"] == 2


def test_more_than_200_records_is_refused_whole(simple_salesforce_client):
    with pytest.raises(SalesforceMalformedRequest) as raised:
        simple_salesforce_client.restful("composite/sobjects", method="POST", json={"records": [contact(f"c{i}") for i in range(201)]})
    assert raised.value.content[0]["errorCode"] == "EXCEEDED_ID_LIMIT"
    assert simple_salesforce_client.query("SELECT COUNT() FROM Contact")["totalSize"] == 3


def test_one_collection_call_counts_as_one_api_call(simple_salesforce_client, rest_api):
    simple_salesforce_client.limits()
    before = int(rest_api.call("GET", "/limits").headers["Sforce-Limit-Info"].split("=")[1].split("/")[0])
    simple_salesforce_client.restful("composite/sobjects", method="POST", json={"records": [contact(f"c{i}") for i in range(150)]})
    after = int(rest_api.call("GET", "/limits").headers["Sforce-Limit-Info"].split("=")[1].split("/")[0])
    assert after - before == 2  # the collection call and the second limits call
