"""Both versions of Entra access tokens for Mailferry's API (issue 14, row 2), and the add-in's
authority for a single-tenant registration (row 1).

An API's access tokens are v1.0 unless its app registration asks for v2
(`requestedAccessTokenVersion`); the sandbox mints what the registration says, so the
tokens here come from real msal flows through the sandbox, and the per-version checks are
shown one claim at a time with tokens signed by the sandbox's own key."""

from __future__ import annotations

import json
import re
import time

import msal
import pytest

from tests.addin.api_calls import API_SCOPE
from tests.config_fixtures import DEMO
from tests.sandbox.microsoft.tenant import ALICE, REDIRECT_URI, TENANT, pick_user, sign_in

APP_ID_URI = API_SCOPE.rsplit("/", 1)[0]
V1_ISSUER = f"https://sts.windows.net/{TENANT}/"
OTHER_APP = "0a0e0000-0000-4000-8000-000000000000"


def _accepted(response) -> bool:
    return response.status_code == 200 and response.get_json()["user"]["upn"] == ALICE.upn


def _refused(response) -> bool:
    return response.status_code == 401 and response.get_json()["error"] == "sign_in_required"


def _decoded(microsoft_state, token: str) -> dict:
    return microsoft_state.key.verify(token)


def test_a_v1_token_from_the_default_registration_is_accepted(addin_api, addin_world, microsoft_url, client_session,
                                                              microsoft_state):
    _, result = sign_in(microsoft_url, client_session, ALICE.upn, scopes=(API_SCOPE,))
    claims = _decoded(microsoft_state, result["access_token"])
    assert (claims["ver"], claims["iss"], claims["aud"]) == ("1.0", V1_ISSUER, APP_ID_URI)
    assert _accepted(addin_api(result["access_token"]).get("/addin/api/me"))


def test_a_v1_token_asked_for_by_client_id_is_accepted(addin_api, addin_world, microsoft_url, client_session,
                                                       microsoft_state):
    _, result = sign_in(microsoft_url, client_session, ALICE.upn,
                        scopes=(f"{DEMO.microsoft_client_id}/access_as_user",))
    assert _decoded(microsoft_state, result["access_token"])["aud"] == DEMO.microsoft_client_id
    assert _accepted(addin_api(result["access_token"]).get("/addin/api/me"))


def test_a_v2_token_from_a_registration_asking_for_v2_is_accepted(addin_api, addin_world, microsoft_url,
                                                                   client_session, microsoft_state):
    answer = client_session.patch(f"{microsoft_url}/_sandbox/apps/{DEMO.microsoft_client_id}",
                                  json={"requested_access_token_version": 2})
    assert answer.status_code == 200, answer.text
    _, result = sign_in(microsoft_url, client_session, ALICE.upn, scopes=(API_SCOPE,))
    claims = _decoded(microsoft_state, result["access_token"])
    assert (claims["ver"], claims["aud"]) == ("2.0", DEMO.microsoft_client_id) and "appid" not in claims
    assert _accepted(addin_api(result["access_token"]).get("/addin/api/me"))


def _v1(**changes) -> dict:
    now = int(time.time())
    claims = {"aud": APP_ID_URI, "iss": V1_ISSUER, "iat": now, "nbf": now, "exp": now + 3600, "tid": TENANT,
              "oid": ALICE.oid, "unique_name": ALICE.upn, "name": ALICE.display_name, "scp": "access_as_user",
              "ver": "1.0", "appid": DEMO.microsoft_client_id, "appidacr": "0"}
    claims.update(changes)
    return {k: v for k, v in claims.items() if v is not None}


def _v2(microsoft_url: str, **changes) -> dict:
    claims = _v1(aud=DEMO.microsoft_client_id, iss=f"{microsoft_url}/{TENANT}/v2.0", ver="2.0", appid=None,
                 appidacr=None, unique_name=None, azp=DEMO.microsoft_client_id, azpacr="0",
                 preferred_username=ALICE.upn)
    claims.update(changes)
    return {k: v for k, v in claims.items() if v is not None}


def test_the_sandbox_key_with_right_claims_of_either_version_is_accepted(addin_api, addin_world, microsoft_url,
                                                                        microsoft_state):
    mint = microsoft_state.key.mint
    assert _accepted(addin_api(mint(_v1())).get("/addin/api/me"))
    assert _accepted(addin_api(mint(_v1(aud=DEMO.microsoft_client_id))).get("/addin/api/me"))
    assert _accepted(addin_api(mint(_v2(microsoft_url))).get("/addin/api/me"))


@pytest.mark.parametrize("why", [
    "v1 token with the v2 issuer", "v1 issuer of another tenant", "v1 issuer on another host",
    "v1 asked for by another app (appid)", "v1 with only azp naming Mailferry",
    "v1 for another API's App ID URI", "v1 without ver", "unknown ver",
])
def test_a_v1_token_wrong_in_one_claim_is_refused(addin_api, addin_world, microsoft_url, microsoft_state, why):
    claims = {
        "v1 token with the v2 issuer": _v1(iss=f"{microsoft_url}/{TENANT}/v2.0"),
        "v1 issuer of another tenant": _v1(iss="https://sts.windows.net/00000000-0000-4000-8000-000000000001/"),
        "v1 issuer on another host": _v1(iss=f"{microsoft_url}/{TENANT}/"),
        "v1 asked for by another app (appid)": _v1(appid=OTHER_APP, azp=DEMO.microsoft_client_id),
        "v1 with only azp naming Mailferry": _v1(appid=None, azp=DEMO.microsoft_client_id),
        "v1 for another API's App ID URI": _v1(aud=f"api://localhost:3000/{OTHER_APP}"),
        "v1 without ver": _v1(ver=None),
        "unknown ver": _v1(ver="3.0"),
    }[why]
    assert _refused(addin_api(microsoft_state.key.mint(claims)).get("/addin/api/me"))


@pytest.mark.parametrize("why", [
    "v2 token with the v1 issuer", "v2 for the App ID URI", "v2 with only appid naming Mailferry",
])
def test_a_v2_token_wrong_in_one_claim_is_refused(addin_api, addin_world, microsoft_url, microsoft_state, why):
    claims = {
        "v2 token with the v1 issuer": _v2(microsoft_url, iss=V1_ISSUER),
        "v2 for the App ID URI": _v2(microsoft_url, aud=APP_ID_URI),  # v2.0 aud is always the client id
        "v2 with only appid naming Mailferry": _v2(microsoft_url, azp=None, appid=DEMO.microsoft_client_id),
    }[why]
    assert _refused(addin_api(microsoft_state.key.mint(claims)).get("/addin/api/me"))


# -- row 1: the add-in's authority for a single-tenant registration -----------------------------
SINGLE_TENANT_APP = {"client_id": "51a91e00-0000-4000-8000-00000000add1", "client_secret": "pane-secret",
                     "display_name": "Mailferry add-in (one tenant)", "sign_in_audience": "AzureADMyOrg"}


def _pane_settings(app) -> dict:
    page = app.test_client().get("/addin/taskpane").get_data(as_text=True)
    return json.loads(re.search(r"data-settings='([^']*)'", page).group(1).replace("&#34;", '"'))


def test_the_pane_asks_a_single_tenant_registration_s_tenant_and_its_token_is_accepted(
        make_config, microsoft_url, certs, client_session, addin_world):
    """The pane's MSAL.js authority comes from MICROSOFT_TENANT: with a single-tenant
    registration (AzureADMyOrg in the sandbox) a token is had there, and the API takes it."""
    from server import create_app

    assert client_session.post(f"{microsoft_url}/_sandbox/apps", json=SINGLE_TENANT_APP).status_code == 201
    app = create_app(make_config(MAILFERRY_SANDBOX_MICROSOFT_PORT=microsoft_url.rsplit(":", 1)[1],
                                 MAILFERRY_CERTS_DIR=str(certs.folder), MICROSOFT_TENANT=TENANT,
                                 MICROSOFT_CLIENT_ID=SINGLE_TENANT_APP["client_id"],
                                 MICROSOFT_CLIENT_SECRET=SINGLE_TENANT_APP["client_secret"]))
    settings = _pane_settings(app)
    msal_app = msal.ConfidentialClientApplication(
        settings["client_id"], client_credential=SINGLE_TENANT_APP["client_secret"],
        authority=settings["authority"], instance_discovery=False, azure_region=False, http_client=client_session)
    flow = msal_app.initiate_auth_code_flow([settings["api_scope"]], redirect_uri=REDIRECT_URI,
                                            response_mode="form_post")
    page = client_session.get(flow["auth_uri"])
    assert "AADSTS50194" not in page.text, f"Entra refused the pane's authority {settings['authority']}"
    result = msal_app.acquire_token_by_auth_code_flow(flow, pick_user(client_session, flow["auth_uri"], ALICE.upn))
    assert settings["authority"] == f"{microsoft_url}/{TENANT}"
    assert "access_token" in result, result
    client = app.test_client()
    client.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {result['access_token']}"
    assert _accepted(client.get("/addin/api/me"))


def test_the_pane_asks_organizations_by_default(addin_app, microsoft_url):
    assert _pane_settings(addin_app)["authority"] == f"{microsoft_url}/organizations"
