"""Category changes made through the simulated Outlook (what Office.js `item.categories` and
`mailbox.masterCategories` do) land in the mail store like a Graph PATCH: the product's delta
sync sees them."""

from __future__ import annotations

from tests.config_fixtures import DEMO


def app_token(session, url) -> str:
    tenant = session.get(f"{url}/_sandbox/tenant").json()["tenantId"]
    answer = session.post(f"{url}/{tenant}/oauth2/v2.0/token", data={
        "grant_type": "client_credentials", "client_id": DEMO.microsoft_client_id, "client_secret": DEMO.microsoft_client_secret,
        "scope": "https://graph.microsoft.com/.default"})
    return answer.json()["access_token"]


def delta_link(session, link, token) -> tuple[list[dict], str]:
    """Every item of one delta round, and the link for the next round."""
    items = []
    while True:
        page = session.get(link, headers={"Authorization": f"Bearer {token}"}).json()
        items += page["value"]
        if "@odata.deltaLink" in page:
            return items, page["@odata.deltaLink"]
        link = page["@odata.nextLink"]


def setup(session, url):
    upn = session.get(f"{url}/_sandbox/users").json()["users"][0]["userPrincipalName"]
    base = f"{url}/outlook/api/users/{upn}"
    message = session.get(f"{base}/mailbox").json()["folders"]["inbox"]["messages"][0]
    return upn, base, message


def test_adding_a_master_category_to_an_item_shows_up_in_graph_delta(demo_microsoft_url, client_session):
    upn, base, message = setup(client_session, demo_microsoft_url)
    token = app_token(client_session, demo_microsoft_url)
    _, link = delta_link(client_session, f"{demo_microsoft_url}/v1.0/users/{upn}/mailFolders/inbox/messages/delta", token)
    added = client_session.post(f"{base}/masterCategories", json={"add": [{"displayName": "Sandbox test", "color": "Preset4"}]})
    assert added.status_code == 200
    changed = client_session.post(f"{base}/messages/{message['id']}/categories", json={"add": ["sandbox TEST"]})
    assert changed.status_code == 200
    assert {"displayName": "Sandbox test", "color": "Preset4"} in changed.json()["value"]
    items, _ = delta_link(client_session, link, token)
    assert [i["id"] for i in items] == [message["id"]]
    assert "Sandbox test" in items[0]["categories"]


def test_removing_an_item_category_shows_up_in_graph_delta(demo_microsoft_url, client_session):
    upn, base, message = setup(client_session, demo_microsoft_url)
    master = client_session.get(f"{base}/masterCategories").json()["value"][0]["displayName"]
    client_session.post(f"{base}/messages/{message['id']}/categories", json={"add": [master]}).raise_for_status()
    token = app_token(client_session, demo_microsoft_url)
    _, link = delta_link(client_session, f"{demo_microsoft_url}/v1.0/users/{upn}/mailFolders/inbox/messages/delta", token)
    client_session.post(f"{base}/messages/{message['id']}/categories", json={"remove": [master]}).raise_for_status()
    items, _ = delta_link(client_session, link, token)
    assert [i["id"] for i in items] == [message["id"]] and master not in items[0]["categories"]


def test_an_item_category_missing_from_the_master_list_is_refused_as_invalid_category(demo_microsoft_url, client_session):
    _, base, message = setup(client_session, demo_microsoft_url)
    refused = client_session.post(f"{base}/messages/{message['id']}/categories", json={"add": ["Not a master one"]})
    assert refused.status_code == 400
    assert refused.json()["error"]["name"] == "InvalidCategory"
    assert client_session.get(f"{base}/messages/{message['id']}/categories").json()["value"] == message["categories"]


def test_a_duplicate_master_category_is_refused_case_insensitively(demo_microsoft_url, client_session):
    _, base, _ = setup(client_session, demo_microsoft_url)
    existing = client_session.get(f"{base}/masterCategories").json()["value"][0]["displayName"]
    refused = client_session.post(f"{base}/masterCategories",
                                  json={"add": [{"displayName": existing.upper(), "color": "Preset0"}]})
    assert refused.status_code == 400 and refused.json()["error"]["name"] == "DuplicateCategory"


def test_master_categories_use_office_js_colour_names(demo_microsoft_url, client_session):
    _, base, _ = setup(client_session, demo_microsoft_url)
    bad = client_session.post(f"{base}/masterCategories", json={"add": [{"displayName": "X", "color": "Preset25"}]})
    assert bad.status_code == 400
    client_session.post(f"{base}/masterCategories", json={"add": [{"displayName": "X", "color": "Preset24"}]}).raise_for_status()
    listed = client_session.get(f"{base}/masterCategories").json()["value"]
    assert {"displayName": "X", "color": "Preset24"} in listed
    client_session.post(f"{base}/masterCategories", json={"remove": ["x"]}).raise_for_status()
    assert all(c["displayName"] != "X" for c in client_session.get(f"{base}/masterCategories").json()["value"])
