"""Another organization's Entra tenant next to the sandbox's own (`POST /_sandbox/tenants`,
sandbox/microsoft/tenants.py), signed in through real msal: on /organizations a multi-tenant
app signs its user in with tokens naming their tenant; the sandbox tenant's own authority
refuses them with AADSTS50020 on Entra's error page; a single-tenant app is refused on their
authority (AADSTS700016) and on /organizations (AADSTS50194); the sandbox tenant's users sign
in as before."""

from __future__ import annotations

import html
import re

import pytest

from sandbox.microsoft import MicrosoftSandbox, load_world
from tests.config_fixtures import DEMO
from tests.sandbox.microsoft.tenant import (ALICE, API, REDIRECT_URI, SINGLE, TENANT, make_world, msal_app_at,
                                           parse_sign_in_page, pick_user, token_claims)
# The same single-tenant registration, API and msal set-up as the token-version tests.

FABRIKAM = {"domain": "fabrikam.example", "name": "Fabrikam",
            "users": [{"displayName": "Frank Fisher", "userPrincipalName": "frank@fabrikam.example"}]}
FRANK = "frank@fabrikam.example"


def _sign_in(url, session, tenant, upn, scopes=("User.Read",)):
    app = msal_app_at(url, session, tenant)
    flow = app.initiate_auth_code_flow(list(scopes), redirect_uri=REDIRECT_URI, response_mode="form_post")
    return app.acquire_token_by_auth_code_flow(flow, pick_user(session, flow["auth_uri"], upn))


def _click(session, auth_uri: str, upn: str):
    """Open the sign-in page and click the account; returns Entra's answer, not followed."""
    form = parse_sign_in_page(session.get(auth_uri).text)
    return session.post(auth_uri, data={**form.hidden, "user": form.users[upn]}, allow_redirects=False)


@pytest.fixture
def fabrikam(microsoft_url, client_session) -> dict:
    answer = client_session.post(f"{microsoft_url}/_sandbox/tenants", json=FABRIKAM)
    assert answer.status_code == 201, answer.text
    return answer.json()


def test_the_control_api_answers_the_tenant_id_and_its_users_object_ids(microsoft_url, client_session, fabrikam):
    assert re.fullmatch(r"[0-9a-f-]{36}", fabrikam["tenantId"]) and fabrikam["tenantId"] != TENANT
    assert fabrikam["authority"] == f"{microsoft_url}/{fabrikam['tenantId']}"
    [frank] = fabrikam["users"]
    assert frank["userPrincipalName"] == FRANK and re.fullmatch(r"[0-9a-f-]{36}", frank["id"])
    listed = client_session.get(f"{microsoft_url}/_sandbox/tenants").json()["tenants"]
    assert [t["tenantId"] for t in listed] == [fabrikam["tenantId"]]


def test_the_control_api_refuses_a_taken_domain_or_upn_and_a_upn_off_the_domain(microsoft_url, client_session,
                                                                                fabrikam):
    url = f"{microsoft_url}/_sandbox/tenants"
    assert client_session.post(url, json=FABRIKAM).status_code == 409
    assert client_session.post(url, json={"domain": "contoso-test.com"}).status_code == 409
    taken = {"domain": "other.example", "users": [{"userPrincipalName": ALICE.upn}]}
    assert client_session.post(url, json=taken).status_code == 400  # not at other.example
    twice = {"domain": "other.example", "users": [{"userPrincipalName": "x@other.example"}] * 2}
    assert client_session.post(url, json=twice).status_code == 409
    assert client_session.post(url, json={"name": "no domain"}).status_code == 400


def test_their_user_signs_in_to_a_multi_tenant_app_on_organizations_with_their_tid(microsoft_url, client_session,
                                                                                   fabrikam):
    result = _sign_in(microsoft_url, client_session, "organizations", FRANK)
    assert "access_token" in result, result
    tid, oid = fabrikam["tenantId"], fabrikam["users"][0]["id"]
    id_token = result["id_token_claims"]
    assert (id_token["tid"], id_token["oid"]) == (tid, oid)
    assert id_token["iss"] == f"{microsoft_url}/{tid}/v2.0"
    assert token_claims(result["access_token"])["tid"] == tid


@pytest.mark.parametrize("version, issuer", [(None, "https://sts.windows.net/{tid}/"), (2, "{url}/{tid}/v2.0")])
def test_their_api_token_names_their_tenant_in_the_version_the_api_asks_for(microsoft_url, client_session, fabrikam,
                                                                            version, issuer):
    answer = client_session.patch(f"{microsoft_url}/_sandbox/apps/{DEMO.microsoft_client_id}",
                                  json={"requested_access_token_version": version})
    assert answer.status_code == 200, answer.text
    result = _sign_in(microsoft_url, client_session, "organizations", FRANK, [f"{API}/access_as_user"])
    claims = token_claims(result["access_token"])
    tid = fabrikam["tenantId"]
    assert claims["tid"] == tid and claims["iss"] == issuer.format(url=microsoft_url, tid=tid)
    assert claims["ver"] == ("2.0" if version == 2 else "1.0")


def test_their_user_is_refused_at_the_sandbox_tenants_authority_with_aadsts50020(microsoft_url, client_session,
                                                                                 fabrikam):
    app = msal_app_at(microsoft_url, client_session, TENANT)
    flow = app.initiate_auth_code_flow(["User.Read"], redirect_uri=REDIRECT_URI, response_mode="form_post")
    answer = _click(client_session, flow["auth_uri"], FRANK)
    # Entra's own error page: the browser is not sent back to the app with a code or an error.
    assert answer.status_code == 400 and "Location" not in answer.headers
    assert "<form" not in answer.text and "code" not in parse_sign_in_page(answer.text).hidden
    text = html.unescape(answer.text)
    assert "Sorry, but we’re having trouble signing you in." in text
    assert (f"AADSTS50020: User account '{FRANK}' from identity provider "
            f"'https://sts.windows.net/{fabrikam['tenantId']}/' does not exist in tenant 'Contoso Test' and cannot "
            f"access the application '{DEMO.microsoft_client_id}'(Mailferry (sandbox)) in that tenant. The account "
            "needs to be added as an external user in the tenant first.") in text


def test_a_silent_sign_in_of_their_user_at_the_sandbox_tenant_comes_back_interaction_required(
        microsoft_url, client_session, fabrikam):
    app = msal_app_at(microsoft_url, client_session, TENANT)
    flow = app.initiate_auth_code_flow(["User.Read"], redirect_uri=REDIRECT_URI, prompt="none", login_hint=FRANK,
                                       response_mode="form_post")
    answer = client_session.get(flow["auth_uri"], allow_redirects=False)
    assert answer.status_code == 200  # the page posting the answer back to the app
    back = parse_sign_in_page(answer.text).hidden
    assert back["error"] == "interaction_required" and "code" not in back
    assert back["error_description"].startswith(f"AADSTS90072: User account '{FRANK}' from identity provider")


def test_a_sandbox_tenant_user_is_refused_at_their_tenants_authority(microsoft_url, client_session, fabrikam):
    app = msal_app_at(microsoft_url, client_session, fabrikam["tenantId"])
    flow = app.initiate_auth_code_flow(["User.Read"], redirect_uri=REDIRECT_URI, response_mode="form_post")
    answer = _click(client_session, flow["auth_uri"], ALICE.upn)
    assert answer.status_code == 400
    assert "does not exist in tenant 'Fabrikam'" in html.unescape(answer.text)
    assert "AADSTS50020" in answer.text


def test_their_user_signs_in_to_a_multi_tenant_app_at_their_own_authority_by_domain(microsoft_url, client_session,
                                                                                    fabrikam):
    result = _sign_in(microsoft_url, client_session, FABRIKAM["domain"], FRANK)
    assert result["id_token_claims"]["tid"] == fabrikam["tenantId"], result
    discovery = client_session.get(f"{microsoft_url}/{FABRIKAM['domain']}/v2.0/.well-known/openid-configuration")
    assert discovery.json()["issuer"] == f"{microsoft_url}/{fabrikam['tenantId']}/v2.0"


@pytest.fixture
def single_tenant(microsoft_url, client_session):
    answer = client_session.post(f"{microsoft_url}/_sandbox/apps", json=SINGLE)
    assert answer.status_code == 201, answer.text
    return SINGLE


def test_a_single_tenant_app_is_unknown_at_their_tenants_authority_aadsts700016(microsoft_url, client_session,
                                                                                fabrikam, single_tenant):
    app = msal_app_at(microsoft_url, client_session, fabrikam["tenantId"], SINGLE["client_id"], SINGLE["client_secret"])
    flow = app.initiate_auth_code_flow(["User.Read"], redirect_uri=REDIRECT_URI, response_mode="form_post")
    answer = client_session.get(flow["auth_uri"], allow_redirects=False)
    assert answer.status_code == 400 and "Location" not in answer.headers
    assert (f"AADSTS700016: Application with identifier '{SINGLE['client_id']}' was not found in the directory "
            "'Fabrikam'.") in html.unescape(answer.text)
    token = client_session.post(f"{microsoft_url}/{fabrikam['tenantId']}/oauth2/v2.0/token", data={
        "grant_type": "client_credentials", "client_id": SINGLE["client_id"],
        "client_secret": SINGLE["client_secret"], "scope": "https://graph.microsoft.com/.default"})
    assert token.status_code == 400 and token.json()["error_codes"] == [700016]


def test_a_single_tenant_app_refuses_their_user_on_organizations_with_aadsts50194(microsoft_url, client_session,
                                                                                  fabrikam, single_tenant):
    """Entra refuses the app on /organizations whoever would sign in: the sign-in page is never shown."""
    app = msal_app_at(microsoft_url, client_session, "organizations", SINGLE["client_id"], SINGLE["client_secret"])
    flow = app.initiate_auth_code_flow(["User.Read"], redirect_uri=REDIRECT_URI, response_mode="form_post",
                                       login_hint=FRANK)
    back = parse_sign_in_page(client_session.get(flow["auth_uri"]).text).hidden
    assert back["error"] == "invalid_request" and back["error_description"].startswith("AADSTS50194: ")


def test_the_sandbox_tenants_own_users_sign_in_as_before(microsoft_url, client_session, fabrikam):
    for authority in (TENANT, "organizations"):
        result = _sign_in(microsoft_url, client_session, authority, ALICE.upn)
        assert "access_token" in result, result
        assert result["id_token_claims"]["tid"] == TENANT
        assert result["id_token_claims"]["iss"] == f"{microsoft_url}/{TENANT}/v2.0"
    discovery = client_session.get(f"{microsoft_url}/{TENANT}/v2.0/.well-known/openid-configuration").json()
    assert discovery["issuer"] == f"{microsoft_url}/{TENANT}/v2.0"


def test_their_refresh_token_is_refused_at_the_sandbox_tenants_token_endpoint(microsoft_url, client_session,
                                                                              fabrikam):
    result = _sign_in(microsoft_url, client_session, "organizations", FRANK)  # msal adds offline_access
    answer = client_session.post(f"{microsoft_url}/{TENANT}/oauth2/v2.0/token", data={
        "grant_type": "refresh_token", "client_id": DEMO.microsoft_client_id,
        "client_secret": DEMO.microsoft_client_secret, "refresh_token": result["refresh_token"],
        "scope": "User.Read"})
    assert answer.status_code == 400 and answer.json()["error_codes"] == [50020]


def test_a_restart_keeps_the_other_tenants_and_a_reset_forgets_them(microsoft_url, client_session, fabrikam,
                                                                     microsoft_app, microsoft_state, sandbox_settings):
    restarted = MicrosoftSandbox(sandbox_settings)
    restarted.restore(microsoft_state.dump())  # what the state file holds across a restart
    assert [(t.tenant_id, [u.upn for u in t.users]) for t in restarted.tenants.all()] == [
        (fabrikam["tenantId"], [FRANK])]
    load_world(microsoft_app, make_world())  # what /_sandbox/reset does with the seed's world
    assert client_session.get(f"{microsoft_url}/_sandbox/tenants").json()["tenants"] == []
