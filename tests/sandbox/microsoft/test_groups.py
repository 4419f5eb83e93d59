"""Entra groups as Graph serves them (reference wave2.md §7.6, §9.7): a group's transitive
user members need `ConsistencyLevel: eventual` on every page, page by `@odata.nextLink` with
the count on page 1 only, and a token allowed to read group members."""

from __future__ import annotations

import pytest

from tests.sandbox.microsoft.tenant import ALICE, BOB, bearer_session, msal_app

EVENTUAL = {"ConsistencyLevel": "eventual"}
MEMBERS = "transitiveMembers/microsoft.graph.user"


@pytest.fixture
def sales_group(microsoft_url, client_session) -> str:
    answer = client_session.post(f"{microsoft_url}/_sandbox/groups",
                                 json={"displayName": "Sales", "members": [ALICE.upn, BOB.upn]})
    assert answer.status_code == 201, answer.text
    return answer.json()["id"]


def _members_url(graph: str, group_id: str, **params) -> str:
    query = "&".join(f"{key}={value}" for key, value in
                     {"$select": "id,mail,userPrincipalName", "$count": "true", **params}.items())
    return f"{graph}/groups/{group_id}/{MEMBERS}?{query}"


def test_the_cast_without_consistency_level_is_refused_as_an_unsupported_query(graph_session, sales_group):
    session, graph = graph_session
    answer = session.get(_members_url(graph, sales_group))
    assert answer.status_code == 400
    assert answer.json()["error"]["code"] == "Request_UnsupportedQuery"
    assert answer.json()["error"]["message"] == (
        "The specified filter to the reference property query is currently not supported.")


def test_members_page_by_next_link_with_the_count_on_the_first_page_only(graph_session, sales_group):
    session, graph = graph_session
    first = session.get(_members_url(graph, sales_group, **{"$top": "1"}), headers=EVENTUAL).json()
    assert first["@odata.count"] == 2
    assert [(m["@odata.type"], m["id"], m["userPrincipalName"]) for m in first["value"]] == [
        ("#microsoft.graph.user", ALICE.oid, ALICE.upn)]
    assert set(first["value"][0]) == {"@odata.type", "id", "mail", "userPrincipalName"}
    # The header is not carried by the link: a page asked without it is refused too.
    assert session.get(first["@odata.nextLink"]).status_code == 400
    second = session.get(first["@odata.nextLink"], headers=EVENTUAL).json()
    assert "@odata.count" not in second and "@odata.nextLink" not in second
    assert [m["id"] for m in second["value"]] == [BOB.oid]


def test_nested_groups_members_are_listed_once(graph_session, sales_group, microsoft_url, client_session):
    session, graph = graph_session
    outer = client_session.post(f"{microsoft_url}/_sandbox/groups",
                                json={"displayName": "Everyone", "members": [BOB.upn, sales_group]}).json()["id"]
    answer = session.get(_members_url(graph, outer), headers=EVENTUAL).json()
    assert [m["id"] for m in answer["value"]] == [BOB.oid, ALICE.oid]
    assert answer["@odata.count"] == 2


def test_a_page_larger_than_999_is_refused(graph_session, sales_group):
    session, graph = graph_session
    assert session.get(_members_url(graph, sales_group, **{"$top": "999"}), headers=EVENTUAL).status_code == 200
    answer = session.get(_members_url(graph, sales_group, **{"$top": "1000"}), headers=EVENTUAL)
    assert answer.status_code == 400
    assert "between 1 and 999" in answer.json()["error"]["message"]


def test_an_app_without_a_group_permission_gets_authorization_request_denied(microsoft_url, client_session, certs,
                                                                             sales_group):
    app = {"client_id": "5e1f0000-0000-4000-8000-00000000a11a", "client_secret": "mail-only-secret",
           "app_roles": ["Mail.ReadWrite"]}
    client_session.post(f"{microsoft_url}/_sandbox/apps", json=app).raise_for_status()
    result = msal_app(microsoft_url, client_session, app["client_id"], app["client_secret"]).acquire_token_for_client(
        ["https://graph.microsoft.com/.default"])
    with bearer_session(certs, result["access_token"]) as session:
        for url in (f"{microsoft_url}/v1.0/groups/{sales_group}", _members_url(f"{microsoft_url}/v1.0", sales_group)):
            answer = session.get(url, headers=EVENTUAL)
            assert answer.status_code == 403
            assert answer.json()["error"]["code"] == "Authorization_RequestDenied"
            assert answer.json()["error"]["message"] == "Insufficient privileges to complete the operation."


def test_a_group_is_read_by_id_with_its_display_name_and_an_unknown_one_is_not_found(graph_session, sales_group):
    session, graph = graph_session
    assert session.get(f"{graph}/groups/{sales_group}").json()["displayName"] == "Sales"
    missing = session.get(f"{graph}/groups/00000000-0000-4000-8000-000000000bad")
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "Request_ResourceNotFound"


def test_members_added_and_removed_through_the_control_api_show_in_graph(graph_session, sales_group, microsoft_url,
                                                                         client_session):
    session, graph = graph_session
    client_session.delete(f"{microsoft_url}/_sandbox/groups/{sales_group}/members/{ALICE.upn}").raise_for_status()
    assert [m["id"] for m in session.get(_members_url(graph, sales_group), headers=EVENTUAL).json()["value"]] == [
        BOB.oid]
    client_session.put(f"{microsoft_url}/_sandbox/groups/{sales_group}/members/{ALICE.upn}").raise_for_status()
    assert [m["id"] for m in session.get(_members_url(graph, sales_group), headers=EVENTUAL).json()["value"]] == [
        BOB.oid, ALICE.oid]


def test_the_demo_world_has_a_group_of_all_its_users(demo_microsoft_url, client_session):
    groups = client_session.get(f"{demo_microsoft_url}/_sandbox/groups").json()["groups"]
    users = client_session.get(f"{demo_microsoft_url}/_sandbox/users").json()["users"]
    assert [(g["displayName"], g["members"]) for g in groups] == [("Mailferry users", [u["id"] for u in users])]
