"""query / queryAll through the real simple-salesforce: results, paging and errors (reference 2.2, 2.3)."""

from __future__ import annotations

import datetime as dt

import pytest
from simple_salesforce import Salesforce
from simple_salesforce.exceptions import SalesforceMalformedRequest
from simple_salesforce.format import format_soql

from tests.sandbox.salesforce.org import Org


def ids_of(result) -> list[str]:
    return [r["Id"] for r in result["records"]]


def test_email_match_is_case_insensitive_and_shaped_like_salesforce(simple_salesforce_client):
    result = simple_salesforce_client.query(format_soql("SELECT Id, Email, AccountId FROM Contact WHERE Email IN {}",
                                  ["ANN.NG@acme.example", "cat.upper@globex.EXAMPLE", "nobody@x.example"]))
    assert result["totalSize"] == 2 and result["done"] is True and "nextRecordsUrl" not in result
    by_id = {r["Id"]: r for r in result["records"]}
    assert set(by_id) == {Org.ann, Org.cat}
    ann = by_id[Org.ann]
    assert list(ann) == ["attributes", "Id", "Email", "AccountId"]
    assert ann["attributes"] == {"type": "Contact", "url": f"/services/data/v59.0/sobjects/Contact/{Org.ann}"}
    assert ann["Email"] == "ann.ng@acme.example" and by_id[Org.cat]["AccountId"] is None


def test_quotes_and_backslashes_escaped_by_format_soql_match_exactly(simple_salesforce_client):
    result = simple_salesforce_client.query(format_soql("SELECT Id, LastName FROM Contact WHERE Email = {}", "o'brien\\x@acme.example"))
    assert ids_of(result) == [Org.bob]
    assert simple_salesforce_client.query("SELECT Id FROM Contact WHERE LastName = 'O\\'Brien'")["totalSize"] == 1


def test_like_wildcards_and_their_escapes(simple_salesforce_client):
    assert ids_of(simple_salesforce_client.query("SELECT Id FROM Contact WHERE Email LIKE 'ann.%'")) == [Org.ann]
    assert simple_salesforce_client.query("SELECT Id FROM Contact WHERE LastName LIKE 'N_'")["totalSize"] == 1
    simple_salesforce_client.Contact.create({"LastName": "50%_off"})
    simple_salesforce_client.Contact.create({"LastName": "50xyoff"})
    escaped = simple_salesforce_client.query(format_soql("SELECT LastName FROM Contact WHERE LastName LIKE '{:like}%'", "50%_"))
    assert [r["LastName"] for r in escaped["records"]] == ["50%_off"]
    assert simple_salesforce_client.query("SELECT Id FROM Contact WHERE LastName LIKE '50%off'")["totalSize"] == 2


def test_lead_match_excludes_converted_leads_and_exposes_the_converted_contact(simple_salesforce_client):
    result = simple_salesforce_client.query("SELECT Id, Email, ConvertedContactId FROM Lead WHERE Email IN "
                      "('ann.ng@acme.example','lena@prospect.example') AND IsConverted = false")
    assert ids_of(result) == [Org.lena]
    converted = simple_salesforce_client.query("SELECT Id, IsConverted, ConvertedContactId FROM Lead WHERE IsConverted = true")
    assert converted["records"][0]["ConvertedContactId"] == Org.ann


def test_relationship_fields_nest_with_attributes_and_null_lookups_are_null(simple_salesforce_client):
    result = simple_salesforce_client.query("SELECT Id, Account.Name, Account.Owner.Name FROM Contact WHERE Id IN ('%s','%s') "
                      "ORDER BY LastName" % (Org.ann, Org.cat))
    ann, cat = result["records"]
    assert ann["Account"]["attributes"] == {"type": "Account", "url": f"/services/data/v59.0/sobjects/Account/{Org.acme}"}
    assert ann["Account"]["Name"] == "Acme" and ann["Account"]["Owner"]["Name"] == "Rae Rep"
    assert cat["Account"] is None


def test_child_subquery_of_task_who_relations(simple_salesforce_client):
    task = simple_salesforce_client.Task.create({"Subject": "Email: hi", "WhoId": Org.ann, "TaskSubtype": "Email", "Status": "Completed"})
    simple_salesforce_client.TaskRelation.create({"TaskId": task["id"], "RelationId": Org.bob})
    lonely = simple_salesforce_client.Task.create({"Subject": "Nobody"})
    result = simple_salesforce_client.query(format_soql("SELECT Id, Who.Name, (SELECT RelationId, Type FROM TaskWhoRelations ORDER BY "
                                  "RelationId) FROM Task WHERE Id IN {} ORDER BY Subject", [task["id"], lonely["id"]]))
    first, second = result["records"]
    assert first["Who"]["Name"] == "Ann Ng"
    relations = first["TaskWhoRelations"]
    assert relations["totalSize"] == 2 and relations["done"] is True
    assert sorted(r["RelationId"] for r in relations["records"]) == sorted([Org.ann, Org.bob])
    assert {r["Type"] for r in relations["records"]} == {"Contact"}
    assert relations["records"][0]["attributes"]["type"] == "TaskWhoRelation"
    assert second["TaskWhoRelations"] is None  # an empty child relationship is null


def test_where_with_and_or_not_parentheses_booleans_and_null(simple_salesforce_client):
    q = ("SELECT Id FROM Contact WHERE (Email = null OR AccountId = '%s') AND NOT LastName = 'Ng' "
         "AND HasOptedOutOfEmail = false" % Org.globex)
    assert simple_salesforce_client.query(q)["totalSize"] == 0
    q = "SELECT Id FROM Contact WHERE (AccountId = null OR LastName != 'Ng') AND Email NOT IN ('x@y.z')"
    assert set(ids_of(simple_salesforce_client.query(q))) == {Org.bob, Org.cat}


def test_order_by_with_nulls_first_and_last_limit_and_offset(simple_salesforce_client):
    q = "SELECT Id, AccountId FROM Contact ORDER BY AccountId NULLS FIRST, LastName DESC"
    assert ids_of(simple_salesforce_client.query(q)) == [Org.cat, Org.bob, Org.ann]
    q = "SELECT Id FROM Contact ORDER BY AccountId DESC NULLS LAST, LastName ASC"
    assert ids_of(simple_salesforce_client.query(q)) == [Org.ann, Org.bob, Org.cat]
    page = simple_salesforce_client.query("SELECT Id FROM Contact ORDER BY CreatedDate LIMIT 1 OFFSET 1")
    assert ids_of(page) == [Org.bob] and page["totalSize"] == 1


def test_dates_datetimes_and_date_literals(simple_salesforce_client):
    today = dt.date.today().isoformat()
    simple_salesforce_client.Task.create({"Subject": "due today", "ActivityDate": today})
    simple_salesforce_client.Task.create({"Subject": "due long ago", "ActivityDate": "2020-01-01"})
    assert simple_salesforce_client.query(f"SELECT Subject FROM Task WHERE ActivityDate = {today}")["records"][0]["Subject"] == "due today"
    assert simple_salesforce_client.query("SELECT Id FROM Task WHERE ActivityDate < 2021-01-01")["totalSize"] == 1
    assert simple_salesforce_client.query("SELECT Id FROM Task WHERE ActivityDate = LAST_N_DAYS:3")["totalSize"] == 1
    assert simple_salesforce_client.query("SELECT Id FROM Task WHERE CreatedDate = TODAY")["totalSize"] == 2
    assert simple_salesforce_client.query("SELECT Id FROM Contact WHERE CreatedDate > 2026-01-01T12:00:00Z")["totalSize"] == 2


def test_count_query_returns_the_total_and_no_records(simple_salesforce_client):
    assert simple_salesforce_client.query("SELECT COUNT() FROM Contact WHERE Email LIKE '%acme%'") == \
        {"totalSize": 2, "done": True, "records": []}


def test_paging_uses_next_records_url_paths_and_keeps_total_size(simple_salesforce_client, rest_api):
    simple_salesforce_client.restful("composite/sobjects", method="POST", json={"records": [
        {"attributes": {"type": "Contact"}, "LastName": f"Bulk {i:03d}"} for i in range(200)]})
    simple_salesforce_client.restful("composite/sobjects", method="POST", json={"records": [
        {"attributes": {"type": "Contact"}, "LastName": f"Bulk {i:03d}"} for i in range(200, 250)]})
    first = simple_salesforce_client.query("SELECT Id, LastName FROM Contact WHERE LastName LIKE 'Bulk%' ORDER BY LastName",
                     headers={"Sforce-Query-Options": "batchSize=200"})
    assert first["totalSize"] == 250 and first["done"] is False and len(first["records"]) == 200
    assert first["nextRecordsUrl"].startswith("/services/data/v59.0/query/01g")
    assert first["nextRecordsUrl"].endswith("-200")
    second = simple_salesforce_client.query_more(first["nextRecordsUrl"], identifier_is_url=True)
    assert second["totalSize"] == 250 and second["done"] is True and "nextRecordsUrl" not in second
    assert [r["LastName"] for r in second["records"]] == [f"Bulk {i:03d}" for i in range(200, 250)]
    everything = simple_salesforce_client.query_all("SELECT Id FROM Contact", headers={"Sforce-Query-Options": "batchSize=200"})
    assert everything["totalSize"] == 253 and len({r["Id"] for r in everything["records"]}) == 253
    bad = rest_api.call("GET", "/query/01gNOPE-200")
    assert bad.status_code == 400 and bad.json()[0]["errorCode"] == "INVALID_QUERY_LOCATOR"


def test_query_all_includes_deleted_records(simple_salesforce_client):
    simple_salesforce_client.Contact.delete(Org.cat)
    assert simple_salesforce_client.query("SELECT Id FROM Contact WHERE Id = '%s'" % Org.cat)["totalSize"] == 0
    deleted = simple_salesforce_client.query_all("SELECT Id, IsDeleted FROM Contact WHERE Id = '%s'" % Org.cat, include_deleted=True)
    assert deleted["records"][0]["IsDeleted"] is True


def test_fifteen_character_ids_match_their_eighteen_character_form(simple_salesforce_client):
    assert ids_of(simple_salesforce_client.query("SELECT Id FROM Contact WHERE Id = '%s'" % Org.ann[:15])) == [Org.ann]


@pytest.mark.parametrize("soql, code, detail", [
    ("SELECT Id, Nope__c FROM Contact", "INVALID_FIELD", "No such column 'Nope__c' on entity 'Contact'"),
    ("SELECT Id FROM Contact WHERE Foo.Bar = 'x'", "INVALID_FIELD", "Didn't understand relationship 'Foo'"),
    ("SELECT Id FROM Widget__c", "INVALID_TYPE", "sObject type 'Widget__c' is not supported"),
    ("SELECT Id, (SELECT Id FROM Nopes) FROM Task", "INVALID_TYPE", "Didn't understand relationship 'Nopes'"),
    ("SELECT Id FROM Contact WHERE Email = \"a@b.c\"", "MALFORMED_QUERY", "unexpected token: '\"'"),
    ("SELECT Id FROM Contact WHERE Email = 'a' AND LastName = 'b' OR LastName = 'c'", "MALFORMED_QUERY",
     "unexpected token: 'OR'"),
    ("SELECT Id FROM Contact WHERE Email = 'a\\qb'", "MALFORMED_QUERY", "Illegal character sequence '\\q'"),
    ("SELECT Id FROM Contact WHERE Email = 'unterminated", "MALFORMED_QUERY", "unexpected token: <EOF>"),
    ("SELECT Id FROM Contact WHERE Email IN ()", "MALFORMED_QUERY", "unexpected token: ')'"),
    ("SELECT Id FROM Contact WHERE Email = '50\\%'", "MALFORMED_QUERY", "outside a LIKE pattern"),
    ("SELECT FROM Contact", "MALFORMED_QUERY", "unexpected token: 'FROM'"),
    ("SELECT Id FROM Lead WHERE IsConverted = 'false'", "INVALID_FIELD", "must be of type boolean"),
    ("SELECT Id FROM Contact WHERE CreatedDate > 2026-01-01", "INVALID_FIELD", "must be of type dateTime"),
    ("SELECT Id FROM Contact WHERE Id = 'not-an-id'", "INVALID_QUERY_FILTER_OPERATOR", "invalid ID field: not-an-id"),
    ("SELECT Id FROM Task WHERE Description = 'x'", "INVALID_FIELD", "can not be filtered"),
    ("SELECT Id FROM Contact OFFSET 2001", "NUMBER_OUTSIDE_VALID_RANGE", "Maximum SOQL offset allowed is 2000"),
])
def test_query_errors_are_400_arrays_with_row_and_column(simple_salesforce_client, soql, code, detail):
    with pytest.raises(SalesforceMalformedRequest) as raised:
        simple_salesforce_client.query(soql)
    assert raised.value.status == 400
    [error] = raised.value.content
    assert set(error) == {"message", "errorCode"}
    assert error["errorCode"] == code and detail in error["message"]
    assert "ERROR at Row:1:Column:" in error["message"]


def test_missing_q_is_malformed_query(rest_api):
    answer = rest_api.call("GET", "/query")
    assert answer.status_code == 400
    assert answer.json() == [{"message": "A query string has to be specified", "errorCode": "MALFORMED_QUERY"}]


def test_invalid_field_caret_points_at_the_column(simple_salesforce_client):
    with pytest.raises(SalesforceMalformedRequest) as raised:
        simple_salesforce_client.query("SELECT Id,Invalid__x FROM Contact LIMIT 1")
    assert raised.value.content[0]["message"].startswith(
        "\nSELECT Id,Invalid__x FROM Contact LIMIT 1\n          ^\nERROR at Row:1:Column:11\n")


def test_repeated_queries_see_every_write_in_between(simple_salesforce_client, salesforce_url, token, client_session):
    query = "SELECT Id, Title, Account.Name FROM Contact WHERE Email = 'ann.ng@acme.example'"
    assert simple_salesforce_client.query(query)["records"][0]["Title"] is None
    simple_salesforce_client.Contact.update(Org.ann, {"Title": "CFO"})
    assert simple_salesforce_client.query(query)["records"][0]["Title"] == "CFO"
    simple_salesforce_client.restful("composite", method="POST", json={"compositeRequest": [{
        "method": "PATCH", "url": f"/services/data/v59.0/sobjects/Account/{Org.acme}", "referenceId": "a",
        "body": {"Name": "Acme Renamed"}}]})
    assert simple_salesforce_client.query(query)["records"][0]["Account"]["Name"] == "Acme Renamed"
    v60 = Salesforce(instance_url=salesforce_url, session_id=token, session=client_session, version="60.0")
    assert v60.query(query)["records"][0]["attributes"]["url"].startswith("/services/data/v60.0/")
