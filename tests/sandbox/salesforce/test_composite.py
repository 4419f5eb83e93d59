"""Composite: 25 subrequests, 5 queries/collections, references, allOrNone (reference 2.6)."""

from __future__ import annotations

import pytest
from simple_salesforce.exceptions import SalesforceMalformedRequest

from tests.sandbox.salesforce.org import Org

V = "/services/data/v59.0"


def sub(ref: str, method: str, url: str, body=None) -> dict:
    out = {"method": method, "url": V + url, "referenceId": ref}
    if body is not None:
        out["body"] = body
    return out


def test_references_pass_ids_between_subrequests(simple_salesforce_client):
    result = simple_salesforce_client.restful("composite", method="POST", json={"allOrNone": True, "compositeRequest": [
        sub("newContact", "POST", "/sobjects/Contact", {"LastName": "Ng", "Email": "ng@example.com"}),
        sub("newTask", "POST", "/sobjects/Task", {"Subject": "Email: Hello", "WhoId": "@{newContact.id}",
                                                  "TaskSubtype": "Email", "Status": "Completed"}),
        sub("readBack", "GET", "/sobjects/Task/@{newTask.id}?fields=WhoId,Subject"),
        sub("q", "GET", "/query?q=SELECT+Id+FROM+Contact+WHERE+Email+%3D+%27ng%40example.com%27"),
        sub("touch", "PATCH", "/sobjects/Contact/@{q.records[0].Id}", {"Title": "found"}),
    ]})
    responses = {r["referenceId"]: r for r in result["compositeResponse"]}
    created = responses["newContact"]
    assert created["httpStatusCode"] == 201 and created["body"]["success"] is True
    assert created["httpHeaders"] == {"Location": f"{V}/sobjects/Contact/{created['body']['id']}"}
    assert responses["readBack"]["httpStatusCode"] == 200
    assert responses["readBack"]["body"]["WhoId"] == created["body"]["id"]
    assert responses["q"]["body"]["totalSize"] == 1
    assert responses["touch"] == {"body": None, "httpHeaders": {}, "httpStatusCode": 204, "referenceId": "touch"}
    assert simple_salesforce_client.Contact.get(created["body"]["id"])["Title"] == "found"


def test_all_or_none_failure_rolls_back_and_halts_the_rest(simple_salesforce_client):
    result = simple_salesforce_client.restful("composite", method="POST", json={"allOrNone": True, "compositeRequest": [
        sub("a", "POST", "/sobjects/Contact", {"LastName": "Kept?"}),
        sub("b", "POST", "/sobjects/Contact", {"FirstName": "missing last name"}),
        sub("c", "POST", "/sobjects/Contact", {"LastName": "Never"}),
    ]})["compositeResponse"]
    assert [r["httpStatusCode"] for r in result] == [400, 400, 400]
    assert result[0]["body"][0]["errorCode"] == "PROCESSING_HALTED"
    assert result[1]["body"][0]["errorCode"] == "REQUIRED_FIELD_MISSING"
    assert result[2]["body"][0]["errorCode"] == "PROCESSING_HALTED"
    assert simple_salesforce_client.query("SELECT COUNT() FROM Contact")["totalSize"] == 3


def test_without_all_or_none_only_dependent_subrequests_fail(simple_salesforce_client):
    result = simple_salesforce_client.restful("composite", method="POST", json={"allOrNone": False, "compositeRequest": [
        sub("bad", "POST", "/sobjects/Contact", {"FirstName": "x"}),
        sub("dependent", "POST", "/sobjects/Task", {"Subject": "x", "WhoId": "@{bad.id}"}),
        sub("independent", "POST", "/sobjects/Task", {"Subject": "y", "WhoId": Org.ann}),
    ]})["compositeResponse"]
    assert result[0]["httpStatusCode"] == 400
    assert result[1]["httpStatusCode"] == 400 and result[1]["body"][0]["errorCode"] == "PROCESSING_HALTED"
    assert result[2]["httpStatusCode"] == 201


def test_collections_inside_composite_with_upsert(simple_salesforce_client):
    records = [{"attributes": {"type": "Task"}, "Mailferry_Key__c": f"k{i}", "Subject": "s"} for i in range(3)]
    result = simple_salesforce_client.restful("composite", method="POST", json={"allOrNone": False, "compositeRequest": [
        sub("tasks", "PATCH", "/composite/sobjects/Task/Mailferry_Key__c", {"allOrNone": False, "records": records}),
        sub("rel", "POST", "/composite/sobjects", {"records": [
            {"attributes": {"type": "TaskRelation"}, "TaskId": "@{tasks[0].id}", "RelationId": Org.bob}]}),
    ]})["compositeResponse"]
    assert result[0]["httpStatusCode"] == 200 and [r["created"] for r in result[0]["body"]] == [True] * 3
    assert result[1]["body"][0]["success"] is True


def test_more_than_25_subrequests_is_refused(simple_salesforce_client):
    with pytest.raises(SalesforceMalformedRequest) as raised:
        simple_salesforce_client.restful("composite", method="POST", json={"compositeRequest": [
            sub(f"r{i}", "GET", "/limits") for i in range(26)]})
    assert raised.value.content[0]["errorCode"] == "LIMIT_EXCEEDED"


def test_more_than_5_queries_or_collections_is_refused(simple_salesforce_client):
    with pytest.raises(SalesforceMalformedRequest) as raised:
        simple_salesforce_client.restful("composite", method="POST", json={"compositeRequest": [
            sub(f"q{i}", "GET", "/query?q=SELECT+Id+FROM+Contact") for i in range(6)]})
    assert raised.value.content[0]["errorCode"] == "LIMIT_EXCEEDED"
    ok = simple_salesforce_client.restful("composite", method="POST", json={"compositeRequest": [
        sub(f"q{i}", "GET", "/query?q=SELECT+Id+FROM+Contact") for i in range(5)]})
    assert all(r["httpStatusCode"] == 200 for r in ok["compositeResponse"])


def test_duplicate_reference_ids_are_refused(simple_salesforce_client):
    with pytest.raises(SalesforceMalformedRequest):
        simple_salesforce_client.restful("composite", method="POST", json={"compositeRequest": [
            sub("same", "GET", "/limits"), sub("same", "GET", "/limits")]})


def test_subrequest_errors_keep_their_own_status(simple_salesforce_client):
    result = simple_salesforce_client.restful("composite", method="POST", json={"compositeRequest": [
        sub("missing", "GET", "/sobjects/Contact/003Tt0000000099AAA"),
        sub("badq", "GET", "/query?q=SELECT+Nope+FROM+Contact"),
        sub("nowhere", "GET", "/no/such/thing"),
    ]})["compositeResponse"]
    assert [r["httpStatusCode"] for r in result] == [404, 400, 404]
    assert result[1]["body"][0]["errorCode"] == "INVALID_FIELD"


def test_a_composite_request_counts_as_one_api_call(simple_salesforce_client, salesforce_url, client_session):
    before = client_session.get(f"{salesforce_url}/_sandbox/stats").json()["api_usage"]["used"]
    simple_salesforce_client.restful("composite", method="POST", json={"compositeRequest": [
        sub(f"r{i}", "GET", "/limits") for i in range(10)]})
    after = client_session.get(f"{salesforce_url}/_sandbox/stats").json()["api_usage"]["used"]
    assert after - before == 1
