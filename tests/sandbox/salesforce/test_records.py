"""sObject rows, upsert by external ID and the save rules (reference 2.4, 2.8, 3)."""

from __future__ import annotations

import pytest
from simple_salesforce import Salesforce
from simple_salesforce.exceptions import (
    SalesforceMalformedRequest,
    SalesforceMoreThanOneRecord,
    SalesforceResourceNotFound,
)
from simple_salesforce.format import format_external_id

from tests.sandbox.salesforce.org import Org

KEY = "Mailferry_Key__c"


def error_of(raised) -> dict:
    [error] = raised.value.content
    return error


def test_create_answers_201_with_id_success_and_errors(rest_api):
    answer = rest_api.call("POST", "/sobjects/Contact/", json={"LastName": "New", "Email": "new@x.example"})
    assert answer.status_code == 201
    body = answer.json()
    assert list(body) == ["id", "success", "errors"] and body["success"] is True and body["errors"] == []
    assert body["id"].startswith("003") and len(body["id"]) == 18


def test_read_returns_all_fields_or_the_requested_ones(simple_salesforce_client):
    record = simple_salesforce_client.Contact.get(Org.ann)
    assert record["attributes"] == {"type": "Contact", "url": f"/services/data/v59.0/sobjects/Contact/{Org.ann}"}
    assert record["Name"] == "Ann Ng" and record["AccountId"] == Org.acme and record["IsDeleted"] is False
    some = simple_salesforce_client.restful(f"sobjects/Contact/{Org.ann}", params={"fields": "email,LastName"})
    assert list(some) == ["attributes", "Email", "LastName"]


def test_update_and_delete_answer_204_and_missing_records_404(simple_salesforce_client, rest_api):
    assert simple_salesforce_client.Contact.update(Org.cat, {"Title": "CTO"}) == 204
    assert simple_salesforce_client.Contact.get(Org.cat)["Title"] == "CTO"
    assert simple_salesforce_client.Contact.delete(Org.cat) == 204
    with pytest.raises(SalesforceResourceNotFound) as raised:
        simple_salesforce_client.Contact.get(Org.cat)
    assert raised.value.status == 404
    assert raised.value.content == [{"errorCode": "NOT_FOUND", "message": "The requested resource does not exist"}]
    assert rest_api.call("GET", "/sobjects/Widget__c/x").status_code == 404


def test_upsert_creates_201_then_updates_200_with_created_flags(simple_salesforce_client):
    key = format_external_id(KEY, "tenant/user/<msg@id>")
    created = simple_salesforce_client.Task.upsert(key, {"Subject": "Email: one", "WhoId": Org.ann}, raw_response=True)
    assert created.status_code == 201
    body = created.json()
    assert body["created"] is True and body["success"] is True and body["errors"] == []
    updated = simple_salesforce_client.Task.upsert(key, {"Subject": "Email: one (again)"}, raw_response=True)
    assert updated.status_code == 200
    assert updated.json() == {"id": body["id"], "success": True, "errors": [], "created": False}
    record = simple_salesforce_client.Task.get_by_custom_id(KEY, "tenant/user/<msg@id>")  # quote_plus encodes the slashes
    assert record["Subject"] == "Email: one (again)" and record[KEY] == "tenant/user/<msg@id>"
    assert simple_salesforce_client.query("SELECT COUNT() FROM Task")["totalSize"] == 1


def test_upsert_update_answers_204_before_api_46(salesforce_url, token, client_session, simple_salesforce_client):
    simple_salesforce_client.Task.upsert(f"{KEY}/k-old", {"Subject": "first"})
    old = Salesforce(instance_url=salesforce_url, session_id=token, session=client_session, version="45.0")
    assert old.Task.upsert(f"{KEY}/k-old", {"Subject": "second"}) == 204


def test_upsert_on_an_ambiguous_key_answers_300_with_the_record_urls(simple_salesforce_client, salesforce_url, client_session):
    planted = client_session.post(f"{salesforce_url}/_sandbox/records/Task", json=[
        {"Subject": "a", KEY: "dup"}, {"Subject": "b", KEY: "dup"}]).json()["ids"]
    with pytest.raises(SalesforceMoreThanOneRecord) as raised:
        simple_salesforce_client.Task.upsert(f"{KEY}/dup", {"Subject": "c"})
    assert raised.value.status == 300
    assert sorted(raised.value.content) == sorted(f"/services/data/v59.0/sobjects/Task/{i}" for i in planted)


def test_upsert_through_an_unknown_or_non_external_field_is_404(simple_salesforce_client):
    for field in ("Nope__c", "Subject"):
        with pytest.raises(SalesforceResourceNotFound) as raised:
            simple_salesforce_client.Task.upsert(f"{field}/v", {"Subject": "x"})
        assert error_of(raised) == {"errorCode": "NOT_FOUND", "message":
                                    f"Provided external ID field does not exist or is not accessible: {field}"}


def test_the_external_id_is_unique_case_insensitively(simple_salesforce_client):
    simple_salesforce_client.Task.create({"Subject": "a", KEY: "Key-1"})
    with pytest.raises(SalesforceMalformedRequest) as raised:
        simple_salesforce_client.Task.create({"Subject": "b", KEY: "key-1"})
    error = error_of(raised)
    assert error["errorCode"] == "DUPLICATE_VALUE" and error["fields"] == [KEY]
    assert error["message"].startswith(f"duplicate value found: {KEY} duplicates value on record with id: 00T")


@pytest.mark.parametrize("sobject, fields, code, bad_fields", [
    ("Task", {"Subject": "x" * 256}, "STRING_TOO_LONG", ["Subject"]),
    ("Contact", {"FirstName": "No last name"}, "REQUIRED_FIELD_MISSING", ["LastName"]),
    ("Lead", {"LastName": "NoCompany"}, "REQUIRED_FIELD_MISSING", ["Company"]),
    ("Contact", {"LastName": "x", "Shoe_Size__c": 9}, "INVALID_FIELD", ["Shoe_Size__c"]),
    ("Contact", {"LastName": "x", "Email": "not an address"}, "INVALID_EMAIL_ADDRESS", ["Email"]),
    ("Task", {"Subject": "x", "TaskSubtype": "Carrier pigeon"}, "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
     ["TaskSubtype"]),
    ("Task", {"Subject": "x", "WhoId": Org.acme}, "FIELD_INTEGRITY_EXCEPTION", ["WhoId"]),
    ("Task", {"Subject": "x", "WhoId": "003Tt0000000099AAA"}, "INVALID_CROSS_REFERENCE_KEY", ["WhoId"]),
    ("Task", {"Subject": "x", "WhoId": "garbage"}, "MALFORMED_ID", ["WhoId"]),
    ("Task", {"Subject": "x", "IsClosed": True}, "INVALID_FIELD_FOR_INSERT_UPDATE", ["IsClosed"]),
    ("Task", {"Subject": "x", "WhoId": Org.conrad}, "CANNOT_UPDATE_CONVERTED_LEAD", ["WhoId"]),
    ("Task", {"Subject": "x", "WhoId": Org.lena, "WhatId": Org.acme}, "FIELD_INTEGRITY_EXCEPTION", ["WhatId"]),
])
def test_save_errors_are_400_arrays_with_fields(rest_api, sobject, fields, code, bad_fields):
    answer = rest_api.call("POST", f"/sobjects/{sobject}/", json=fields)
    assert answer.status_code == 400
    [error] = answer.json()
    assert set(error) == {"message", "errorCode", "fields"}
    assert error["errorCode"] == code and error["fields"] == bad_fields and error["message"]


def test_task_subtype_is_create_only_and_status_closes_the_task(simple_salesforce_client):
    task = simple_salesforce_client.Task.create({"Subject": "x", "TaskSubtype": "Email", "Status": "Completed", "WhoId": Org.ann})
    record = simple_salesforce_client.Task.get(task["id"])
    assert record["IsClosed"] is True and record["CompletedDateTime"] and record["AccountId"] == Org.acme
    assert record["OwnerId"] == Org.rep and record["Priority"] == "Normal"
    with pytest.raises(SalesforceMalformedRequest) as raised:
        simple_salesforce_client.Task.update(task["id"], {"TaskSubtype": "Call"})
    assert error_of(raised)["errorCode"] == "INVALID_FIELD_FOR_INSERT_UPDATE"


def test_converted_leads_cannot_be_updated(simple_salesforce_client):
    with pytest.raises(SalesforceMalformedRequest) as raised:
        simple_salesforce_client.Lead.update(Org.conrad, {"Title": "x"})
    assert error_of(raised) == {"message": "cannot reference converted lead",
                                "errorCode": "CANNOT_UPDATE_CONVERTED_LEAD", "fields": []}


def test_the_configurable_validation_rule_blocks_matching_saves(simple_salesforce_client, org_settings):
    org_settings(validation_rule={"sobject": "Task", "field": "Subject", "contains": "secret",
                                  "message": "Subjects must not mention secrets."})
    with pytest.raises(SalesforceMalformedRequest) as raised:
        simple_salesforce_client.Task.create({"Subject": "Email: the SECRET plan"})
    assert error_of(raised) == {"message": "Subjects must not mention secrets.",
                                "errorCode": "FIELD_CUSTOM_VALIDATION_EXCEPTION", "fields": ["Subject"]}
    assert simple_salesforce_client.Task.create({"Subject": "Email: fine"})["success"] is True
    org_settings(validation_rule=None)
    assert simple_salesforce_client.Task.create({"Subject": "Email: the secret plan"})["success"] is True


def test_unable_to_lock_row_on_demand_then_the_retry_succeeds(simple_salesforce_client, org_settings):
    org_settings(lock_row={"sobject": "Task", "count": 1})
    with pytest.raises(SalesforceMalformedRequest) as raised:
        simple_salesforce_client.Task.create({"Subject": "x"})
    error = error_of(raised)
    assert raised.value.status == 400 and error["errorCode"] == "UNABLE_TO_LOCK_ROW"
    assert error["message"].startswith("unable to obtain exclusive access to this record")
    assert simple_salesforce_client.Task.create({"Subject": "x"})["success"] is True
    assert simple_salesforce_client.Contact.update(Org.ann, {"Title": "unaffected"}) == 204


def test_invalid_json_body_is_a_json_parser_error(rest_api):
    answer = rest_api.call("POST", "/sobjects/Contact/", data="{not json", headers={"Content-Type": "application/json"})
    assert answer.status_code == 400 and answer.json()[0]["errorCode"] == "JSON_PARSER_ERROR"


def test_wrong_method_is_405_in_salesforce_shape(rest_api):
    answer = rest_api.call("PUT", f"/sobjects/Contact/{Org.ann}", json={})
    assert answer.status_code == 405 and answer.json()[0]["errorCode"] == "METHOD_NOT_ALLOWED"


def test_pathologically_nested_json_is_a_parser_error_not_a_crash(rest_api):
    deep = "[" * 100000 + "]" * 100000
    answer = rest_api.call("POST", "/composite", data=deep, headers={"Content-Type": "application/json"})
    assert answer.status_code == 400 and answer.json()[0]["errorCode"] == "JSON_PARSER_ERROR"
    nested = {"LastName": "x"}
    for _ in range(900):
        nested = {"a": nested}
    answer = rest_api.call("POST", "/composite", json={"compositeRequest": [
        {"method": "POST", "url": "/services/data/v59.0/sobjects/Contact", "referenceId": "r", "body": nested}]})
    assert answer.status_code == 400
    assert answer.json() == [{"message": "The request body is nested too deeply", "errorCode": "JSON_PARSER_ERROR"}]
