"""SystemModstamp as a change feed (reference wave2.md 8.2, 9.8): the platform stamps every
create and update of a Contact or Lead, `WHERE SystemModstamp > <datetime literal>` finds
exactly the records written since, and literals real Salesforce refuses are refused the same
way (salesforce.md 2.2, 2.3), through the real simple-salesforce."""

from __future__ import annotations

import datetime as dt
import time

import pytest
from simple_salesforce.exceptions import SalesforceMalformedRequest

from tests.sandbox.salesforce.org import Org

FEED = "SELECT Id, Email, CreatedDate, SystemModstamp FROM {} WHERE SystemModstamp >= {} ORDER BY SystemModstamp, Id"


def _next_second() -> str:
    """Wait for the next whole second and return it as a SOQL datetime literal: every record
    written before the call is stamped earlier than it."""
    now = dt.datetime.now(dt.timezone.utc)
    boundary = now.replace(microsecond=0) + dt.timedelta(seconds=1)
    time.sleep((boundary - now).total_seconds() + 0.01)
    return boundary.strftime("%Y-%m-%dT%H:%M:%SZ")


def _ids(client, sobject: str, since: str) -> list[str]:
    return [r["Id"] for r in client.query(FEED.format(sobject, since))["records"]]


def test_contacts_and_leads_created_since_a_datetime_are_exactly_what_the_feed_returns(simple_salesforce_client):
    client = simple_salesforce_client
    since = _next_second()
    contact = client.Contact.create({"LastName": "Feed", "Email": "feed.contact@new.example"})["id"]
    lead = client.Lead.create({"LastName": "Feed", "Company": "New", "Email": "feed.lead@new.example"})["id"]
    assert _ids(client, "Contact", since) == [contact]
    assert _ids(client, "Lead", since) == [lead]
    record = client.query(FEED.format("Contact", since))["records"][0]
    # Salesforce's datetime format, and a create stamps all three the same.
    assert record["SystemModstamp"].endswith("+0000") and len(record["SystemModstamp"]) == 28
    assert record["SystemModstamp"] == record["CreatedDate"]


def test_an_update_moves_systemmodstamp_and_keeps_createddate(simple_salesforce_client):
    client = simple_salesforce_client
    before = client.Contact.get(Org.ann)
    since = _next_second()
    assert Org.ann not in _ids(client, "Contact", since)
    client.Contact.update(Org.ann, {"Title": "Head of Buying"})
    after = client.Contact.get(Org.ann)
    assert after["SystemModstamp"] > before["SystemModstamp"] and after["CreatedDate"] == before["CreatedDate"]
    assert _ids(client, "Contact", since) == [Org.ann]


def test_greater_than_compares_instants_and_offsets_are_honoured(simple_salesforce_client):
    client = simple_salesforce_client
    since = _next_second()  # the record below is stamped at least 10 ms after it
    contact = client.Contact.create({"LastName": "Edge", "Email": "edge@new.example"})["id"]
    stamp = dt.datetime.fromisoformat(client.Contact.get(contact)["SystemModstamp"][:19])
    later = (stamp + dt.timedelta(seconds=1)).strftime("%Y-%m-%dT%H:%M:%S")
    assert [r["Id"] for r in client.query(f"SELECT Id FROM Contact WHERE SystemModstamp > {since}")["records"]] \
        == [contact]
    assert client.query(f"SELECT Id FROM Contact WHERE SystemModstamp > {later}Z")["totalSize"] == 0
    # The same instants written one hour east of UTC.
    shifted = (dt.datetime.fromisoformat(since[:-1]) + dt.timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%S")
    assert _ids(client, "Contact", f"{shifted}+01:00") == [contact]


def test_an_import_cannot_set_systemmodstamp(client_session, salesforce_url, simple_salesforce_client):
    """The control API plants records as an admin import would: audit fields may be given,
    SystemModstamp never (the platform stamps it)."""
    since = _next_second()
    answer = client_session.post(f"{salesforce_url}/_sandbox/records/Contact", json={
        "LastName": "Imported", "Email": "imported@new.example", "CreatedDate": "2020-01-01T00:00:00.000+0000",
        "SystemModstamp": "2020-01-01T00:00:00.000+0000"})
    assert answer.status_code == 201, answer.text
    record = answer.json()["records"][0]
    assert record["CreatedDate"] == "2020-01-01T00:00:00.000+0000"
    assert record["SystemModstamp"] > "2020-01-02"
    assert _ids(simple_salesforce_client, "Contact", since) == [record["Id"]]


@pytest.mark.parametrize("literal, code, says", [
    ("2026-13-01T10:00:00Z", "MALFORMED_QUERY", "Invalid datetime: 2026-13-01T10:00:00Z"),  # month 13
    ("2026-02-30T10:00:00Z", "MALFORMED_QUERY", "Invalid datetime: 2026-02-30T10:00:00Z"),  # no 30 February
    ("2026-05-01T25:00:00Z", "MALFORMED_QUERY", "Invalid datetime: 2026-05-01T25:00:00Z"),  # hour 25
    ("2026-05-01T10:00:00", "MALFORMED_QUERY", "ERROR at Row:1"),  # no zone: not a datetime literal at all
    ("'2026-05-01T10:00:00Z'", "INVALID_FIELD", "must be of type dateTime and should not be enclosed in quotes"),
    ("2026-05-01", "INVALID_FIELD", "must be of type dateTime"),  # a date against a datetime field
], ids=["month-13", "february-30", "hour-25", "no-zone", "quoted", "date-only"])
def test_datetime_literals_salesforce_refuses_are_refused(simple_salesforce_client, literal, code, says):
    with pytest.raises(SalesforceMalformedRequest) as refused:
        simple_salesforce_client.query(f"SELECT Id FROM Contact WHERE SystemModstamp > {literal}")
    error = refused.value.content[0]
    assert refused.value.status == 400 and error["errorCode"] == code
    assert says in error["message"]


def test_an_invalid_date_literal_is_malformed_too(simple_salesforce_client):
    with pytest.raises(SalesforceMalformedRequest) as refused:
        simple_salesforce_client.query("SELECT Id FROM Opportunity WHERE CloseDate > 2026-31-01")
    assert refused.value.content[0]["errorCode"] == "MALFORMED_QUERY"
    assert "Invalid date: 2026-31-01" in refused.value.content[0]["message"]
