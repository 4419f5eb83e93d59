"""The broker behind the simulated Outlook's Nested App Authentication bridge answers msal-browser's
requests as Outlook would: tokens for the host's user that validate against the sandbox JWKS,
Entra's refusal of unknown apps, and the bad tokens the host's `token=` mode asks for."""

from __future__ import annotations

import ssl
import uuid

import jwt
import pytest

from tests.config_fixtures import DEMO

API_SCOPE = f"api://localhost:3000/{DEMO.microsoft_client_id}/access_as_user"
API_APP_ID_URI = API_SCOPE.rsplit("/", 1)[0]


def ask(session, url, method, token=None, **token_params):
    upn = session.get(f"{url}/_sandbox/users").json()["users"][0]["userPrincipalName"]
    request = {"messageType": "NestedAppAuthRequest", "method": method, "requestId": str(uuid.uuid4()),
               "sendTime": 0, "clientLibrary": "msal.js.browser", "clientLibraryVersion": "5.30.0"}
    if token_params:
        request["tokenParams"] = token_params
    answer = session.post(f"{url}/outlook/api/users/{upn}/naa", json={"request": request, "token": token})
    assert answer.status_code == 200
    body = answer.json()
    assert body["messageType"] == "NestedAppAuthResponse" and body["requestId"] == request["requestId"]
    return upn, body


def validate(url, certs, token, audience):
    """The token's claims, checked with its version's issuer (v1.0 `https://sts.windows.net/<tid>/`)."""
    unverified = jwt.decode(token, options={"verify_signature": False})
    tenant = unverified["tid"]
    issuer = f"https://sts.windows.net/{tenant}/" if unverified.get("ver") == "1.0" else f"{url}/{tenant}/v2.0"
    keys = jwt.PyJWKClient(f"{url}/{tenant}/discovery/v2.0/keys",
                           ssl_context=ssl.create_default_context(cafile=str(certs.ca_cert)))
    return jwt.decode(token, keys.get_signing_key_from_jwt(token).key, algorithms=["RS256"],
                      audience=audience, issuer=issuer)


def test_init_context_names_the_signed_in_account(demo_microsoft_url, client_session):
    _, body = ask(client_session, demo_microsoft_url, "GetInitContext")
    context = body["initContext"]
    assert body["success"] is True
    assert context["accountContext"]["environment"] == demo_microsoft_url.split("://")[1]
    assert context["accountContext"]["homeAccountId"].endswith("." + context["accountContext"]["tenantId"])


def test_get_token_gives_an_api_access_token_and_an_id_token_that_validate(demo_microsoft_url, client_session, certs):
    upn, body = ask(client_session, demo_microsoft_url, "GetToken", clientId=DEMO.microsoft_client_id, scope=API_SCOPE,
                    authority=f"{demo_microsoft_url}/organizations")
    assert body["success"] is True
    token = body["token"]
    access = validate(demo_microsoft_url, certs, token["access_token"], API_APP_ID_URI)
    assert access["ver"] == "1.0" and access["appid"] == DEMO.microsoft_client_id
    assert access["scp"] == "access_as_user" and access["unique_name"] == upn
    identity = validate(demo_microsoft_url, certs, token["id_token"], DEMO.microsoft_client_id)
    assert identity["oid"] == access["oid"] == body["account"]["localAccountId"]
    assert token["scope"] == API_SCOPE and token["expires_in"] > 3000
    assert body["account"]["username"] == upn and body["account"]["tenantId"] == access["tid"]


def test_popup_requests_are_answered_like_silent_ones(demo_microsoft_url, client_session, certs):
    _, body = ask(client_session, demo_microsoft_url, "GetTokenPopup", clientId=DEMO.microsoft_client_id, scope=f"{API_SCOPE} openid profile")
    validate(demo_microsoft_url, certs, body["token"]["access_token"], API_APP_ID_URI)


def test_a_single_tenant_app_on_organizations_is_refused_as_entra_does(demo_microsoft_url, client_session):
    answer = client_session.patch(f"{demo_microsoft_url}/_sandbox/apps/{DEMO.microsoft_client_id}",
                                  json={"sign_in_audience": "AzureADMyOrg"})
    assert answer.status_code == 200, answer.text
    _, body = ask(client_session, demo_microsoft_url, "GetToken", clientId=DEMO.microsoft_client_id, scope=API_SCOPE,
                  authority=f"{demo_microsoft_url}/organizations")
    assert body["success"] is False and body["error"]["code"] == "invalid_request"
    assert body["error"]["description"].startswith("AADSTS50194: ")
    tenant = client_session.get(f"{demo_microsoft_url}/_sandbox/tenant").json()["tenantId"]
    _, body = ask(client_session, demo_microsoft_url, "GetToken", clientId=DEMO.microsoft_client_id, scope=API_SCOPE,
                  authority=f"{demo_microsoft_url}/{tenant}")
    assert body["success"] is True


def test_an_unknown_client_id_is_refused_as_entra_does(demo_microsoft_url, client_session):
    _, body = ask(client_session, demo_microsoft_url, "GetToken", clientId=str(uuid.uuid4()), scope=API_SCOPE)
    assert body["success"] is False
    assert body["error"]["status"] == "PERSISTENT_ERROR"
    assert body["error"]["description"].startswith("AADSTS700016")


def test_expired_mode_hands_out_an_expired_token_msal_would_still_cache(demo_microsoft_url, client_session, certs):
    _, body = ask(client_session, demo_microsoft_url, "GetToken", token="expired", clientId=DEMO.microsoft_client_id, scope=API_SCOPE)
    assert body["token"]["expires_in"] == 3600
    with pytest.raises(jwt.ExpiredSignatureError):
        validate(demo_microsoft_url, certs, body["token"]["access_token"], API_APP_ID_URI)


def test_forged_mode_hands_out_a_token_signed_by_another_key_under_the_same_kid(demo_microsoft_url, client_session, certs):
    _, body = ask(client_session, demo_microsoft_url, "GetToken", token="forged", clientId=DEMO.microsoft_client_id, scope=API_SCOPE)
    _, genuine = ask(client_session, demo_microsoft_url, "GetToken", clientId=DEMO.microsoft_client_id, scope=API_SCOPE)
    forged = body["token"]["access_token"]
    assert jwt.get_unverified_header(forged)["kid"] == jwt.get_unverified_header(genuine["token"]["access_token"])["kid"]
    with pytest.raises(jwt.InvalidSignatureError):
        validate(demo_microsoft_url, certs, forged, API_APP_ID_URI)


def test_an_unknown_bridge_method_fails_without_hanging_msal(demo_microsoft_url, client_session):
    _, body = ask(client_session, demo_microsoft_url, "GetAccounts")
    assert body["success"] is False and body["error"]["code"] == "unsupported_method"
