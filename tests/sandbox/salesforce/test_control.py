"""The Salesforce sandbox control API: reset, records, org settings, sessions."""

from __future__ import annotations

from simple_salesforce import Salesforce

from tests.sandbox.salesforce.org import Org


def test_reset_loads_the_seeded_world_and_forgets_sessions(salesforce_url, client_session, token):
    answer = client_session.post(f"{salesforce_url}/_sandbox/reset", json={"seed": 1})
    assert answer.status_code == 200
    body = answer.json()
    assert body["reset"] is True and body["counts"]["Contact"] > 0 and body["counts"]["User"] > 0
    stale = client_session.get(f"{salesforce_url}/services/data/v59.0/limits", headers={"Authorization": f"Bearer {token}"})
    assert stale.status_code == 401
    again = client_session.post(f"{salesforce_url}/_sandbox/reset", json={"seed": 1}).json()
    assert again["counts"] == body["counts"]  # deterministic for a seed
    assert client_session.post(f"{salesforce_url}/_sandbox/reset", json={"seed": "one"}).status_code == 400


def test_records_can_be_listed_filtered_and_planted(salesforce_url, client_session, simple_salesforce_client):
    listed = client_session.get(f"{salesforce_url}/_sandbox/records/contact").json()
    assert listed["type"] == "Contact" and listed["totalSize"] == 3
    filtered = client_session.get(f"{salesforce_url}/_sandbox/records/Contact", params={"email": "ANN.NG@acme.example"}).json()
    assert [r["Id"] for r in filtered["records"]] == [Org.ann]
    planted = client_session.post(f"{salesforce_url}/_sandbox/records/Lead", json={
        "LastName": "Planted", "Company": "P", "Email": "p@p.example", "IsConverted": True,
        "ConvertedContactId": Org.cat})
    assert planted.status_code == 201
    lead_id = planted.json()["ids"][0]
    assert simple_salesforce_client.Lead.get(lead_id)["IsConverted"] is True
    bad = client_session.post(f"{salesforce_url}/_sandbox/records/Lead", json={"Nope__c": 1})
    assert bad.status_code == 400 and bad.json()["errorCode"] == "INVALID_FIELD"
    assert client_session.get(f"{salesforce_url}/_sandbox/records/Widget").status_code == 404


def test_org_settings_read_and_change_with_validation(salesforce_url, client_session):
    state = client_session.get(f"{salesforce_url}/_sandbox/org").json()
    assert state["shared_activities"] is True and state["external_id_field"] is True
    assert state["daily_api_limit"] == 15000 and state["session_lifetime_seconds"] == 7200
    changed = client_session.patch(f"{salesforce_url}/_sandbox/org", json={"daily_api_limit": 100, "api_used": 99}).json()
    assert changed["daily_api_limit"] == 100 and changed["api_used"] == 99
    assert client_session.patch(f"{salesforce_url}/_sandbox/org", json={"nope": 1}).status_code == 400
    assert client_session.patch(f"{salesforce_url}/_sandbox/org", json={"daily_api_limit": "many"}).status_code == 400


def test_sessions_endpoint_gives_a_token_response_for_a_user(salesforce_url, client_session):
    answer = client_session.post(f"{salesforce_url}/_sandbox/sessions", json={"user_id": Org.admin})
    assert answer.status_code == 201
    body = answer.json()
    assert body["instance_url"] == salesforce_url and body["id"].endswith(Org.admin) and "expires_in" not in body
    sf = Salesforce(instance_url=salesforce_url, session_id=body["access_token"], session=client_session)
    task = sf.Task.create({"Subject": "by admin"})
    assert sf.Task.get(task["id"])["OwnerId"] == Org.admin
    assert client_session.post(f"{salesforce_url}/_sandbox/sessions", json={"username": "ghost"}).status_code == 404


def test_the_demo_seed_loads_into_a_consistent_org(demo_salesforce_url, client_session):
    """The lead's `salesforce` fixture resets to seed 1: its converted leads point at real contacts."""
    token = client_session.post(f"{demo_salesforce_url}/_sandbox/sessions", json={}).json()["access_token"]
    sf = Salesforce(instance_url=demo_salesforce_url, session_id=token, session=client_session)
    contacts = sf.query_all("SELECT Id, Email, Account.Name FROM Contact")["records"]
    assert contacts and all(c["attributes"]["type"] == "Contact" for c in contacts)
    converted = sf.query_all("SELECT Id, ConvertedContactId FROM Lead WHERE IsConverted = true")["records"]
    contact_ids = {c["Id"] for c in contacts}
    assert all(lead["ConvertedContactId"] in contact_ids for lead in converted)
    users = sf.query("SELECT Id, Username, Email FROM User WHERE IsActive = true")["records"]
    assert users and all(u["Username"] for u in users)


def test_converting_a_lead_makes_a_contact_and_moves_its_activities(salesforce_url, client_session, simple_salesforce_client):
    task = simple_salesforce_client.Task.create({"Subject": "Email: intro", "WhoId": Org.lena})
    answer = client_session.post(f"{salesforce_url}/_sandbox/leads/{Org.lena}/convert", json={})
    assert answer.status_code == 200
    contact_id = answer.json()["contact_id"]
    lead = simple_salesforce_client.Lead.get(Org.lena)
    assert lead["IsConverted"] is True and lead["ConvertedContactId"] == contact_id
    contact = simple_salesforce_client.Contact.get(contact_id)
    assert contact["Email"] == "lena@prospect.example" and contact["AccountId"] == lead["ConvertedAccountId"]
    assert simple_salesforce_client.Task.get(task["id"])["WhoId"] == contact_id
    again = client_session.post(f"{salesforce_url}/_sandbox/leads/{Org.lena}/convert", json={})
    assert again.status_code == 400 and again.json()["errorCode"] == "CANNOT_UPDATE_CONVERTED_LEAD"
