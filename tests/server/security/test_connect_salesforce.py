"""Connect Salesforce, for real: the web server flow with PKCE through the sandbox's login
page, the token exchange and identity call over HTTPS, the sealed connection, disconnect
with revocation; a flow is bound to the user who started it."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from mailferry.crypto import SecretBox
from mailferry.models import Connection, User
from mailferry.provider_errors import ProviderError
from mailferry.salesforce_identity import SalesforceOAuth
from tests.server.security.flows import (allow_salesforce, csrf_token, demo_user, salesforce_user_id,
                                         sign_in_with_microsoft)


def signed_in(cleared_security_stack, http, index=0):
    client = cleared_security_stack.app.test_client()
    client.environ_base["wsgi.url_scheme"] = "https"
    client.environ_base["HTTP_REFERER"] = "https://localhost/"
    person = demo_user(http, cleared_security_stack.config.sandbox_microsoft_url, index)
    assert sign_in_with_microsoft(client, http, person["id"]).status_code == 302
    return client, person


def start_connect(client, **form):
    return client.post("/connections/salesforce/connect",
                       data={"csrf_token": csrf_token(client), "login_host": "configured", **form})


def salesforce_connection(cleared_security_stack, upn: str) -> Connection | None:
    with Session(cleared_security_stack.engine) as session:
        user = session.execute(select(User).where(User.upn == upn.lower())).scalar_one()
        return session.execute(select(Connection).where(Connection.user_id == user.id,
                                                        Connection.provider == "salesforce")).scalar_one_or_none()


def test_connect_then_disconnect(cleared_security_stack, client_session):
    client, person = signed_in(cleared_security_stack, client_session)
    started = start_connect(client)
    assert started.status_code == 302
    assert started.location.startswith(f"{cleared_security_stack.config.salesforce_login_url}/services/oauth2/authorize?")
    assert "code_challenge_method=S256" in started.location
    user_id = salesforce_user_id(client_session, cleared_security_stack.config.sandbox_salesforce_url, person["salesforceUsername"])
    callback = allow_salesforce(client_session, started.location, user_id)
    assert callback.startswith(cleared_security_stack.config.salesforce_redirect_uri)
    back = client.get(callback.removeprefix(cleared_security_stack.config.base_url))
    assert back.status_code == 302 and back.location == "/connections"
    page = client.get("/connections").get_data(as_text=True)
    assert f"Salesforce connected as {person['salesforceUsername']}" in page
    connection = salesforce_connection(cleared_security_stack, person["userPrincipalName"])
    assert (connection.status, connection.account_label) == ("connected", person["salesforceUsername"])
    assert connection.external_user_id == user_id and connection.external_org_id
    assert connection.login_host == cleared_security_stack.config.salesforce_login_url and connection.instance_url
    tokens = SecretBox(cleared_security_stack.config.encryption_keys).open(connection.sealed_secrets)

    gone = client.post("/connections/salesforce/disconnect", data={"csrf_token": csrf_token(client)})
    assert gone.status_code == 302
    connection = salesforce_connection(cleared_security_stack, person["userPrincipalName"])
    assert connection.status == "disconnected" and connection.sealed_secrets is None
    oauth = SalesforceOAuth(cleared_security_stack.config.salesforce_login_url, cleared_security_stack.config.salesforce_client_id,
                            cleared_security_stack.config.salesforce_client_secret, cleared_security_stack.config.salesforce_redirect_uri, client_session)
    with pytest.raises(ProviderError, match="revoked or has expired"):
        oauth.refresh(tokens)  # revoked at Salesforce, not only forgotten here


def test_a_flow_started_by_one_user_cannot_be_finished_by_another(cleared_security_stack, client_session):
    alice, person = signed_in(cleared_security_stack, client_session, 0)
    mallory, intruder = signed_in(cleared_security_stack, client_session, 1)
    started = start_connect(mallory)  # Mallory starts, and lures Alice to the callback
    user_id = salesforce_user_id(client_session, cleared_security_stack.config.sandbox_salesforce_url, intruder["salesforceUsername"])
    callback = allow_salesforce(client_session, started.location, user_id)
    alice.get(callback.removeprefix(cleared_security_stack.config.base_url))
    page = alice.get("/connections").get_data(as_text=True)
    assert "was not started from this browser" in page
    assert salesforce_connection(cleared_security_stack, person["userPrincipalName"]) is None
    # The flow was spent on the refused attempt: Mallory cannot finish it either.
    mallory.get(callback.removeprefix(cleared_security_stack.config.base_url))
    assert salesforce_connection(cleared_security_stack, intruder["userPrincipalName"]) is None


def test_refusing_access_at_salesforce_says_so(cleared_security_stack, client_session):
    client, person = signed_in(cleared_security_stack, client_session)
    started = start_connect(client)
    answer = client_session.post(started.location.split("?")[0], data={
        **dict(__import__("urllib.parse").parse.parse_qsl(started.location.split("?", 1)[1])), "action": "deny"},
        allow_redirects=False, timeout=30)
    client.get(answer.headers["Location"].removeprefix(cleared_security_stack.config.base_url))
    page = client.get("/connections").get_data(as_text=True)
    assert "Salesforce access was not allowed" in page
    assert salesforce_connection(cleared_security_stack, person["userPrincipalName"]) is None


@pytest.mark.parametrize(("choice", "my_domain", "host"), [
    ("sandbox", "", "https://test.salesforce.com"),
    ("my_domain", "acme--uat.sandbox", "https://acme--uat.sandbox.my.salesforce.com"),
])
def test_the_login_host_follows_the_choice(cleared_security_stack, client_session, choice, my_domain, host):
    client, _ = signed_in(cleared_security_stack, client_session)
    started = start_connect(client, login_host=choice, my_domain=my_domain)
    assert started.location.startswith(f"{host}/services/oauth2/authorize?")


def test_a_bad_my_domain_name_is_explained(cleared_security_stack, client_session):
    client, _ = signed_in(cleared_security_stack, client_session)
    answer = start_connect(client, login_host="my_domain", my_domain="acme/../evil")
    assert answer.location == "/connections"
    assert re.search(r"is not a My Domain name", client.get("/connections").get_data(as_text=True))
