"""The admin's App-only access page (SPEC section 14), for real: an admin signed in through the
sandbox's Entra ID turns app-only access on for a group, the membership job (run as a
worker runs it) fills the page with the group's name read from Graph and its members, the
Salesforce integration user connects through the Connections page's OAuth flow with the
tenant as target, a member's mapping is overridden, and a leaver shows stopped with why."""

from __future__ import annotations

import html

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from mailferry.microsoft_identity import forget_app_tokens
from mailferry.models import Connection, Tenant, User
from tests.server.security.flows import (allow_salesforce, csrf_token, demo_user, salesforce_user_id,
                                         sign_in_with_microsoft)
from tests.server.settings.helpers import element, elements
from worker import jobs
from worker.runtime import Runtime, use_runtime

INTEGRATION_USER = "hannah.becker@contoso-demo.com.crm"
PAGE = "/admin/app-only"


@pytest.fixture
def stack(cleared_security_stack):
    runtime = Runtime(cleared_security_stack.config)
    use_runtime(runtime)  # the membership job runs in this process, as a worker would run it
    forget_app_tokens()
    yield cleared_security_stack
    use_runtime(None)
    runtime.engine.dispose()


def _client(stack, http, index=0):
    client = stack.app.test_client()
    client.environ_base["wsgi.url_scheme"] = "https"
    client.environ_base["HTTP_REFERER"] = "https://localhost/"
    assert sign_in_with_microsoft(client, http, demo_user(http, stack.config.sandbox_microsoft_url, index)["id"]
                                  ).status_code == 302
    return client


def _seed_group(stack, http) -> str:
    [group] = http.get(f"{stack.config.sandbox_microsoft_url}/_sandbox/groups").json()["groups"]
    return group["id"]


def _page(client) -> str:
    answer = client.get(PAGE)
    assert answer.status_code == 200
    return html.unescape(answer.get_data(as_text=True))


def _tenant(stack) -> Tenant:
    with Session(stack.engine) as session:
        return session.execute(select(Tenant)).scalar_one()


def test_an_admin_turns_app_only_on_for_a_group_and_its_members_appear_with_the_group_s_name(stack, client_session):
    admin = _client(stack, client_session)
    assert "App-only access" in [e["text"] for e in elements(_page(admin), "admin-nav")][0]
    group_id = _seed_group(stack, client_session)
    saved = admin.post(PAGE, data={"csrf_token": csrf_token(admin, PAGE), "app_only_enabled": "on",
                                   "group_id": group_id.upper()})
    assert saved.status_code == 302 and saved.location == PAGE
    tenant = _tenant(stack)
    assert (tenant.app_only_enabled, tenant.app_only_group_id) == (True, group_id)
    assert element(_page(admin), "group-name")["text"] == "not read yet"

    jobs.sync_group_members()

    page = _page(admin)
    assert element(page, "group-name")["text"] == "Mailferry users"
    users = client_session.get(f"{stack.config.sandbox_microsoft_url}/_sandbox/users").json()["users"]
    assert len(elements(page, "member-row")) == len(users)
    assert {e["data-status"] for e in elements(page, "member-mailbox")} == {"active"}

    # A leaver is shown stopped, with the reason.
    leaver = users[1]["userPrincipalName"]
    client_session.delete(f"{stack.config.sandbox_microsoft_url}/_sandbox/groups/{group_id}/members/{leaver}"
                          ).raise_for_status()
    jobs.sync_group_members()
    details = [e["text"] for e in elements(_page(admin), "member-mailbox-detail")]
    assert len(details) == 1 and details[0].startswith("Not a member of the Entra group 'Mailferry users'")


def test_the_integration_user_connects_through_the_salesforce_flow_and_members_are_mapped(stack, client_session):
    admin = _client(stack, client_session)
    admin.post(PAGE, data={"csrf_token": csrf_token(admin, PAGE), "app_only_enabled": "on",
                           "group_id": _seed_group(stack, client_session)})
    started = admin.post("/connections/salesforce/connect", data={
        "csrf_token": csrf_token(admin, PAGE), "login_host": "configured", "target": "tenant"})
    assert started.status_code == 302
    callback = allow_salesforce(client_session, started.location,
                                salesforce_user_id(client_session, stack.config.sandbox_salesforce_url,
                                                   INTEGRATION_USER))
    back = admin.get(callback.removeprefix(stack.config.base_url))
    assert back.status_code == 302 and back.location == PAGE
    with Session(stack.engine) as session:
        [integration] = session.execute(select(Connection).where(Connection.provider == "salesforce")).scalars()
        assert (integration.kind, integration.user_id, integration.account_label) == (
            "app_only", None, INTEGRATION_USER)
    state = element(_page(admin), "integration-state")
    assert state["data-status"] == "connected" and INTEGRATION_USER in state["text"]

    jobs.sync_group_members()  # maps members by email through the integration

    routes = {e["text"] for e in elements(_page(admin), "member-route")}
    assert routes == {"integration"}
    with Session(stack.engine) as session:
        mapped = dict(session.execute(select(User.upn, User.salesforce_user_id)).all())
    assert all(value and value.startswith("005") for value in mapped.values())


def test_an_admin_overrides_a_members_salesforce_user_and_a_wrong_id_is_refused(stack, client_session):
    admin = _client(stack, client_session)
    with Session(stack.engine) as session:
        user_id = session.execute(select(User.id)).scalar_one()
    url = f"/admin/app-only/users/{user_id}/salesforce-user"
    refused = admin.post(url, data={"csrf_token": csrf_token(admin, PAGE), "salesforce_user_id": "001000000000001"},
                         follow_redirects=True)
    assert "A Salesforce user id starts with 005" in html.unescape(refused.get_data(as_text=True))
    admin.post(url, data={"csrf_token": csrf_token(admin, PAGE), "salesforce_user_id": "005000000000042AAA"})
    with Session(stack.engine) as session:
        assert session.get(User, user_id).salesforce_user_id == "005000000000042AAA"
    assert element(_page(admin), "member-salesforce-user")["value"] == "005000000000042AAA"


def test_a_group_named_by_its_name_instead_of_its_id_is_refused(stack, client_session):
    admin = _client(stack, client_session)
    answer = admin.post(PAGE, data={"csrf_token": csrf_token(admin, PAGE), "app_only_enabled": "on",
                                    "group_id": "Sales reps"}, follow_redirects=True)
    assert "Object ID" in html.unescape(answer.get_data(as_text=True))
    assert _tenant(stack).app_only_group_id is None


def test_a_rep_can_neither_open_the_page_nor_connect_the_integration(stack, client_session):
    _client(stack, client_session)  # the demo's first user: the admin
    rep = _client(stack, client_session, index=1)
    assert rep.get(PAGE).status_code == 403
    person = demo_user(client_session, stack.config.sandbox_microsoft_url, 1)
    started = rep.post("/connections/salesforce/connect", data={
        "csrf_token": csrf_token(rep), "login_host": "configured", "target": "tenant"})
    callback = allow_salesforce(client_session, started.location, salesforce_user_id(
        client_session, stack.config.sandbox_salesforce_url, person["salesforceUsername"]))
    assert rep.get(callback.removeprefix(stack.config.base_url)).location == "/connections"
    with Session(stack.engine) as session:
        [connection] = session.execute(select(Connection).where(Connection.provider == "salesforce")).scalars()
        assert connection.kind == "delegated" and connection.user_id is not None  # their own, not the tenant's
