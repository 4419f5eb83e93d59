"""Lightning pages reached from Mailferry's links (reference 3.5)."""

from __future__ import annotations

import html
import re
from urllib.parse import quote

from sandbox.salesforce.lightning import parse_default_field_values

from tests.sandbox.salesforce.org import Org


def encode(value: str) -> str:
    """JavaScript's encodeURIComponent."""
    return quote(value, safe="-_.!~*'()")


def input_value(page: str, name: str) -> str | None:
    match = re.search(rf'name="{name}" value="([^"]*)"', page)
    return html.unescape(match.group(1)) if match else None


def test_default_field_values_split_before_decoding():
    raw = "defaultFieldValues=Email=ng%40example.com,FirstName=Ann,LastName=Ng%20Ho%2C%20Jr%3D,Title=Head+of+IT,Phone"
    assert parse_default_field_values(raw) == {"Email": "ng@example.com", "FirstName": "Ann",
                                               "LastName": "Ng Ho, Jr=", "Title": "Head of IT", "Phone": None}


def test_default_field_values_encoded_twice_by_the_navigation_service_are_read():
    once = "Email=ng%40example.com,LastName=Ng"
    assert parse_default_field_values("defaultFieldValues=" + quote(once, safe="")) == {
        "Email": "ng@example.com", "LastName": "Ng"}


def test_new_contact_form_is_prefilled_and_save_creates_the_record(salesforce_url, client_session, simple_salesforce_client):
    dfv = ",".join(f"{k}={encode(v)}" for k, v in sorted({
        "AccountId": Org.acme, "Email": "o'hara+x@new.example", "FirstName": "Zoë", "LastName": "O'Hara, Jr.",
        "Description": "<script>alert(1)</script>"}.items()))
    page = client_session.get(f"{salesforce_url}/lightning/o/Contact/new?defaultFieldValues={dfv}")
    assert page.status_code == 200 and 'data-testid="record-form"' in page.text
    assert input_value(page.text, "FirstName") == "Zoë" and input_value(page.text, "LastName") == "O'Hara, Jr."
    assert input_value(page.text, "Email") == "o'hara+x@new.example"
    assert f'<option value="{Org.acme}" selected>' in page.text
    assert "<script>alert(1)</script>" not in page.text  # escaped, and carried as a hidden field
    assert input_value(page.text, "Description") == "<script>alert(1)</script>"
    form = {"FirstName": "Zoë", "LastName": "O'Hara, Jr.", "Email": "o'hara+x@new.example", "AccountId": Org.acme,
            "Title": "", "Phone": "", "Description": "<script>alert(1)</script>"}
    saved = client_session.post(f"{salesforce_url}/lightning/o/Contact/new?defaultFieldValues={dfv}", data=form,
                                allow_redirects=False)
    assert saved.status_code == 303
    match = re.fullmatch(r"/lightning/r/Contact/(003\w{15})/view", saved.headers["Location"])
    assert match
    record = simple_salesforce_client.Contact.get(match.group(1))
    assert record["LastName"] == "O'Hara, Jr." and record["AccountId"] == Org.acme
    assert record["Description"] == "<script>alert(1)</script>" and record["OwnerId"] == Org.rep
    view = client_session.get(f"{salesforce_url}{saved.headers['Location']}")
    assert view.status_code == 200 and 'data-testid="record-title"' in view.text
    assert "Zoë O&#39;Hara, Jr." in view.text


def test_new_lead_form_reports_save_errors_on_the_page(salesforce_url, client_session):
    page = client_session.get(f"{salesforce_url}/lightning/o/Lead/new?defaultFieldValues=LastName=Lee,Email=lee%40x.example")
    assert input_value(page.text, "LastName") == "Lee" and 'name="Company"' in page.text
    failed = client_session.post(f"{salesforce_url}/lightning/o/Lead/new", data={"LastName": "Lee", "Company": ""})
    assert failed.status_code == 400 and 'data-testid="form-error"' in failed.text
    assert "REQUIRED_FIELD_MISSING" in failed.text
    saved = client_session.post(f"{salesforce_url}/lightning/o/Lead/new", data={"LastName": "Lee", "Company": "Lee Co"},
                                allow_redirects=False)
    assert saved.status_code == 303 and "/lightning/r/Lead/00Q" in saved.headers["Location"]


def test_record_page_lists_the_activities(salesforce_url, client_session, simple_salesforce_client):
    task = simple_salesforce_client.Task.create({"Subject": "Email: <b>hello</b>", "WhoId": Org.bob, "TaskSubtype": "Email",
                           "Status": "Completed", "ActivityDate": "2026-03-01"})
    simple_salesforce_client.TaskRelation.create({"TaskId": task["id"], "RelationId": Org.ann})
    page = client_session.get(f"{salesforce_url}/lightning/r/Contact/{Org.ann}/view")
    assert page.status_code == 200
    assert f'data-task-id="{task["id"]}"' in page.text and "Email: &lt;b&gt;hello&lt;/b&gt;" in page.text
    empty = client_session.get(f"{salesforce_url}/lightning/r/Contact/{Org.cat}/view")
    assert 'data-testid="no-activities"' in empty.text
    task_page = client_session.get(f"{salesforce_url}/lightning/r/Task/{task['id']}/view")
    assert task_page.text.count('data-testid="relation"') == 2


def test_unknown_record_page_is_404(salesforce_url, client_session):
    page = client_session.get(f"{salesforce_url}/lightning/r/Contact/003Tt0000000099AAA/view")
    assert page.status_code == 404 and 'data-testid="record-missing"' in page.text
