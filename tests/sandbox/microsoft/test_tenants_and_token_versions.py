"""App registrations' sign-in audience and access-token version, as Entra has them (issue 14,
rows 1 and 2; references in docs/sandbox.md): a single-tenant registration (AzureADMyOrg) is
refused on /organizations and /common with AADSTS50194 and works on its tenant's own
authority; an API's access tokens are v1.0 unless its registration asks for v2
(`requestedAccessTokenVersion`), with each version's issuer, audience and caller claims."""

from __future__ import annotations

import pytest

from tests.config_fixtures import DEMO
from tests.sandbox.microsoft.tenant import (ALICE, API, DOMAIN, REDIRECT_URI, SINGLE, TENANT, msal_app_at,
                                           parse_sign_in_page, pick_user, token_claims)

@pytest.fixture
def single_tenant(microsoft_url, client_session):
    answer = client_session.post(f"{microsoft_url}/_sandbox/apps", json=SINGLE)
    assert answer.status_code == 201, answer.text
    assert answer.json()["sign_in_audience"] == "AzureADMyOrg"
    return SINGLE


@pytest.mark.parametrize("segment", ["organizations", "common"])
def test_a_single_tenant_app_is_refused_on_a_multi_tenant_authority_at_authorize(
        microsoft_url, client_session, single_tenant, segment):
    app = msal_app_at(microsoft_url, client_session, segment, SINGLE["client_id"], SINGLE["client_secret"])
    flow = app.initiate_auth_code_flow(["User.Read"], redirect_uri=REDIRECT_URI, response_mode="form_post")
    answer = client_session.get(flow["auth_uri"], allow_redirects=False)
    assert answer.status_code == 200  # the page posting back to the app, the error instead of a code
    back = parse_sign_in_page(answer.text).hidden
    assert back["error"] == "invalid_request" and "code" not in back
    assert back["error_description"].startswith(
        f"AADSTS50194: Application '{SINGLE['client_id']}'(Contoso only) is not configured as a multi-tenant "
        "application. Usage of the /common endpoint is not supported")


@pytest.mark.parametrize("segment", ["organizations", "common"])
def test_a_single_tenant_app_is_refused_on_a_multi_tenant_authority_at_the_token_endpoint(
        microsoft_url, client_session, single_tenant, segment):
    answer = client_session.post(f"{microsoft_url}/{segment}/oauth2/v2.0/token", data={
        "grant_type": "client_credentials", "client_id": SINGLE["client_id"],
        "client_secret": SINGLE["client_secret"], "scope": "https://graph.microsoft.com/.default"})
    assert answer.status_code == 400
    body = answer.json()
    assert body["error"] == "invalid_request" and body["error_codes"] == [50194]
    assert body["error_description"].startswith("AADSTS50194: ")


@pytest.mark.parametrize("segment", [TENANT, DOMAIN])
def test_a_single_tenant_app_signs_in_on_its_tenant_by_id_or_domain(microsoft_url, client_session, single_tenant,
                                                                     segment):
    app = msal_app_at(microsoft_url, client_session, segment, SINGLE["client_id"], SINGLE["client_secret"])
    flow = app.initiate_auth_code_flow(["User.Read"], redirect_uri=REDIRECT_URI, response_mode="form_post")
    result = app.acquire_token_by_auth_code_flow(flow, pick_user(client_session, flow["auth_uri"], ALICE.upn))
    assert "access_token" in result, result
    assert result["id_token_claims"]["tid"] == TENANT


def test_a_multi_tenant_app_still_signs_in_on_organizations(microsoft_url, client_session):
    app = msal_app_at(microsoft_url, client_session, "organizations")
    flow = app.initiate_auth_code_flow(["User.Read"], redirect_uri=REDIRECT_URI, response_mode="form_post")
    result = app.acquire_token_by_auth_code_flow(flow, pick_user(client_session, flow["auth_uri"], ALICE.upn))
    assert "access_token" in result, result


def test_the_sign_in_audience_can_be_changed_and_is_checked(microsoft_url, client_session):
    url = f"{microsoft_url}/_sandbox/apps/{DEMO.microsoft_client_id}"
    assert client_session.patch(url, json={"sign_in_audience": "AzureADMyOrg"}).status_code == 200
    app = msal_app_at(microsoft_url, client_session, "organizations")
    flow = app.initiate_auth_code_flow(["User.Read"], redirect_uri=REDIRECT_URI, response_mode="form_post")
    back = parse_sign_in_page(client_session.get(flow["auth_uri"]).text).hidden
    assert back["error_description"].startswith("AADSTS50194: "), back
    assert client_session.patch(url, json={"sign_in_audience": "Anyone"}).status_code == 400
    assert client_session.patch(url, json={"requested_access_token_version": 3}).status_code == 400
    assert client_session.patch(f"{microsoft_url}/_sandbox/apps/nobody", json={}).status_code == 404


def _api_token(url, session, scope=f"{API}/access_as_user") -> str:
    app = msal_app_at(url, session, TENANT)
    flow = app.initiate_auth_code_flow([scope], redirect_uri=REDIRECT_URI, response_mode="form_post")
    result = app.acquire_token_by_auth_code_flow(flow, pick_user(session, flow["auth_uri"], ALICE.upn))
    assert "access_token" in result, result
    return result["access_token"]


def test_an_api_token_is_v1_unless_the_registration_asks_for_v2(microsoft_url, client_session):
    claims = token_claims(_api_token(microsoft_url, client_session))
    assert claims["ver"] == "1.0"
    assert claims["iss"] == f"https://sts.windows.net/{TENANT}/"
    assert claims["aud"] == API  # the App ID URI, as the client asked
    assert claims["appid"] == DEMO.microsoft_client_id and "azp" not in claims
    assert claims["unique_name"] == ALICE.upn and "preferred_username" not in claims
    assert claims["scp"] == "access_as_user" and claims["tid"] == TENANT and claims["oid"] == ALICE.oid


def test_a_v1_token_asked_for_by_client_id_names_the_client_id(microsoft_url, client_session):
    claims = token_claims(_api_token(microsoft_url, client_session, f"{DEMO.microsoft_client_id}/access_as_user"))
    assert claims["ver"] == "1.0" and claims["aud"] == DEMO.microsoft_client_id


@pytest.mark.parametrize("version", [1, None])
def test_version_1_or_null_gives_v1(microsoft_url, client_session, version):
    answer = client_session.patch(f"{microsoft_url}/_sandbox/apps/{DEMO.microsoft_client_id}",
                                  json={"requested_access_token_version": version})
    assert answer.status_code == 200, answer.text
    assert token_claims(_api_token(microsoft_url, client_session))["ver"] == "1.0"


def test_version_2_gives_v2_tokens(microsoft_url, client_session):
    answer = client_session.patch(f"{microsoft_url}/_sandbox/apps/{DEMO.microsoft_client_id}",
                                  json={"requested_access_token_version": 2})
    assert answer.status_code == 200 and answer.json()["requested_access_token_version"] == 2
    claims = token_claims(_api_token(microsoft_url, client_session))
    assert claims["ver"] == "2.0"
    assert claims["iss"] == f"{microsoft_url}/{TENANT}/v2.0"
    assert claims["aud"] == DEMO.microsoft_client_id  # always the client id in v2.0
    assert claims["azp"] == DEMO.microsoft_client_id and "appid" not in claims
    assert claims["preferred_username"] == ALICE.upn


def test_the_id_token_stays_v2_whatever_the_access_token_version(microsoft_url, client_session):
    app = msal_app_at(microsoft_url, client_session, TENANT)
    flow = app.initiate_auth_code_flow([f"{API}/access_as_user"], redirect_uri=REDIRECT_URI,
                                       response_mode="form_post")
    result = app.acquire_token_by_auth_code_flow(flow, pick_user(client_session, flow["auth_uri"], ALICE.upn))
    assert token_claims(result["id_token"])["ver"] == "2.0"
    assert token_claims(result["access_token"])["ver"] == "1.0"
