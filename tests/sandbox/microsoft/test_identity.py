"""Entra ID v2.0 emulation driven by the real msal and checked with PyJWT (reference §2)."""

from __future__ import annotations

import base64
import hashlib
import json
import ssl
import time

import jwt
import msal

from tests.config_fixtures import DEMO

from tests.sandbox.microsoft.tenant import ALICE, BOB, REDIRECT_URI, TENANT, msal_app, parse_sign_in_page, pick_user, sign_in

GRAPH = "https://graph.microsoft.com"


def jwks_client(url: str, certs) -> jwt.PyJWKClient:
    # PyJWKClient fetches with urllib: give it a context trusting the test CA only.
    context = ssl.create_default_context(cafile=str(certs.ca_cert))
    return jwt.PyJWKClient(f"{url}/{TENANT}/discovery/v2.0/keys", ssl_context=context)


def validate(token: str, url: str, certs, audience: str, issuer: str | None = None) -> dict:
    key = jwks_client(url, certs).get_signing_key_from_jwt(token)
    return jwt.decode(token, key.key, algorithms=["RS256"], audience=audience,
                      issuer=issuer or f"{url}/{TENANT}/v2.0")


def test_discovery_document_names_endpoints_on_the_sandbox_origin(microsoft_url, client_session):
    for path in (f"/{TENANT}/v2.0/.well-known/openid-configuration", f"/common/v2.0/.well-known/openid-configuration"):
        answer = client_session.get(microsoft_url + path)
        assert answer.status_code == 200
        assert answer.headers["Content-Type"] == "application/json"
        doc = answer.json()
        tenant = path.split("/")[1]
        assert doc["authorization_endpoint"] == f"{microsoft_url}/{tenant}/oauth2/v2.0/authorize"
        assert doc["token_endpoint"] == f"{microsoft_url}/{tenant}/oauth2/v2.0/token"
        assert doc["jwks_uri"] == f"{microsoft_url}/{tenant}/discovery/v2.0/keys"
        assert doc["issuer"] == f"{microsoft_url}/{TENANT}/v2.0"
        assert doc["id_token_signing_alg_values_supported"] == ["RS256"]


def test_jwks_publishes_an_rsa_signing_key(microsoft_url, client_session):
    keys = client_session.get(f"{microsoft_url}/{TENANT}/discovery/v2.0/keys").json()["keys"]
    assert len(keys) == 1
    assert {"kty", "use", "kid", "n", "e", "x5t", "x5c"} <= set(keys[0])
    assert keys[0]["kty"] == "RSA" and keys[0]["use"] == "sig"


def test_sign_in_page_lists_every_demo_user(microsoft_url, client_session):
    app = msal_app(microsoft_url, client_session)
    flow = app.initiate_auth_code_flow(["Mail.Read"], redirect_uri=REDIRECT_URI)
    page = client_session.get(flow["auth_uri"])
    assert page.status_code == 200
    assert page.headers["Content-Type"].startswith("text/html")
    form = parse_sign_in_page(page.text)
    assert set(form.users) == {ALICE.upn, BOB.upn}
    assert form.hidden["code_challenge_method"] == "S256"
    assert form.hidden["state"] == flow["state"]


def test_msal_completes_auth_code_flow_with_pkce_and_tokens_validate_through_jwks(microsoft_url, client_session, certs):
    app, result = sign_in(microsoft_url, client_session)
    assert result["token_type"] == "Bearer"
    assert result["token_source"] == "identity_provider"
    assert isinstance(result["expires_in"], int) and result["expires_in"] > 3000
    assert result["refresh_token"] and result["id_token"]
    claims = validate(result["access_token"], microsoft_url, certs, GRAPH)
    assert claims["oid"] == ALICE.oid and claims["tid"] == TENANT
    assert claims["preferred_username"] == ALICE.upn and claims["name"] == ALICE.display_name
    assert set(claims["scp"].split()) == {"Mail.ReadWrite", "MailboxSettings.ReadWrite"}
    assert "roles" not in claims
    assert claims["ver"] == "2.0" and claims["nbf"] <= time.time() < claims["exp"]
    assert jwt.get_unverified_header(result["access_token"])["alg"] == "RS256"
    id_claims = validate(result["id_token"], microsoft_url, certs, DEMO.microsoft_client_id)
    assert id_claims["nonce"] == result["id_token_claims"]["nonce"]
    assert id_claims["oid"] == ALICE.oid and id_claims["sub"]
    account = app.get_accounts()[0]
    assert account["home_account_id"] == f"{ALICE.oid}.{TENANT}"
    assert account["username"] == ALICE.upn


def test_authorize_redirect_carries_code_state_and_client_info(microsoft_url, client_session):
    app = msal_app(microsoft_url, client_session)
    flow = app.initiate_auth_code_flow(["Mail.Read"], redirect_uri=REDIRECT_URI)
    back = pick_user(client_session, flow["auth_uri"], BOB.upn)
    assert back["state"] == flow["state"] and back["code"]
    info = json.loads(base64.urlsafe_b64decode(back["client_info"] + "=="))
    assert info == {"uid": BOB.oid, "utid": TENANT}


def test_form_post_response_mode_returns_an_auto_submitting_form(microsoft_url, client_session):
    app = msal_app(microsoft_url, client_session)
    flow = app.initiate_auth_code_flow(["Mail.Read"], redirect_uri=REDIRECT_URI, response_mode="form_post")
    page = parse_sign_in_page(client_session.get(flow["auth_uri"]).text)
    answer = client_session.post(flow["auth_uri"], data={**page.hidden, "user": page.users[ALICE.upn]})
    assert answer.status_code == 200
    assert f'action="{REDIRECT_URI}"' in answer.text
    assert 'name="code"' in answer.text and f'value="{flow["state"]}"' in answer.text


def test_refresh_through_acquire_token_silent_returns_new_tokens(microsoft_url, client_session, certs):
    app, first = sign_in(microsoft_url, client_session)
    account = app.get_accounts()[0]
    cached = app.acquire_token_silent(["Mail.ReadWrite"], account)
    assert cached["token_source"] == "cache"
    refreshed = app.acquire_token_silent(["Mail.ReadWrite"], account, force_refresh=True)
    assert refreshed["token_source"] == "identity_provider"
    assert refreshed["access_token"] != first["access_token"]
    assert validate(refreshed["access_token"], microsoft_url, certs, GRAPH)["oid"] == ALICE.oid


def test_client_credentials_token_carries_roles_and_no_client_info(microsoft_url, client_session, certs):
    result = msal_app(microsoft_url, client_session).acquire_token_for_client([f"{GRAPH}/.default"])
    assert "client_info" not in result and "refresh_token" not in result
    claims = validate(result["access_token"], microsoft_url, certs, GRAPH)
    assert claims["roles"] == ["Mail.ReadWrite", "MailboxSettings.ReadWrite", "User.Read.All", "GroupMember.Read.All"]
    assert "scp" not in claims and claims["idtyp"] == "app" and claims["appid"] == DEMO.microsoft_client_id


def test_on_behalf_of_exchanges_an_api_token_for_a_graph_token(microsoft_url, client_session, certs):
    app_id_uri = f"api://localhost:3000/{DEMO.microsoft_client_id}"
    _, api = sign_in(microsoft_url, client_session, scopes=(f"{app_id_uri}/access_as_user",))
    # The demo registration asks for no token version: v1.0 (test_tenants_and_token_versions.py).
    assert validate(api["access_token"], microsoft_url, certs, app_id_uri,
                    issuer=f"https://sts.windows.net/{TENANT}/")["scp"] == "access_as_user"
    result = msal_app(microsoft_url, client_session).acquire_token_on_behalf_of(api["access_token"], ["Mail.ReadWrite"])
    assert "access_token" in result, result
    claims = validate(result["access_token"], microsoft_url, certs, GRAPH)
    assert claims["oid"] == ALICE.oid and claims["scp"] == "Mail.ReadWrite"


def assert_aad_error(body: dict, error: str, code: int):
    assert body["error"] == error
    assert body["error_codes"] == [code]
    assert body["error_description"].startswith(f"AADSTS{code}: ")
    assert "Trace ID: " in body["error_description"]
    for key in ("timestamp", "trace_id", "correlation_id"):
        assert body[key]


def test_wrong_client_secret_is_invalid_client_401(microsoft_url, client_session):
    answer = client_session.post(f"{microsoft_url}/{TENANT}/oauth2/v2.0/token", data={
        "grant_type": "client_credentials", "client_id": DEMO.microsoft_client_id, "client_secret": "nope",
        "scope": f"{GRAPH}/.default"})
    assert answer.status_code == 401
    assert_aad_error(answer.json(), "invalid_client", 7000215)
    # msal hands the same body back rather than raising.
    result = msal_app(microsoft_url, client_session, secret="wrong").acquire_token_for_client([f"{GRAPH}/.default"])
    assert result["error"] == "invalid_client" and 7000215 in result["error_codes"]


def test_unknown_client_is_unauthorized_client(microsoft_url, client_session):
    result = msal_app(microsoft_url, client_session, client_id="00000000-1111-2222-3333-444444444444") \
        .acquire_token_for_client([f"{GRAPH}/.default"])
    assert result["error"] == "unauthorized_client" and result["error_codes"] == [700016]


def test_client_credentials_without_default_scope_is_invalid_scope(microsoft_url, client_session):
    answer = client_session.post(f"{microsoft_url}/{TENANT}/oauth2/v2.0/token", data={
        "grant_type": "client_credentials", "client_id": DEMO.microsoft_client_id, "client_secret": DEMO.microsoft_client_secret,
        "scope": f"{GRAPH}/Mail.Read"})
    assert answer.status_code == 400
    assert_aad_error(answer.json(), "invalid_scope", 1002012)


def _code_and_flow(microsoft_url, session):
    app = msal_app(microsoft_url, session)
    flow = app.initiate_auth_code_flow(["Mail.Read"], redirect_uri=REDIRECT_URI)
    return flow, pick_user(session, flow["auth_uri"], ALICE.upn)


def _redeem(microsoft_url, session, code, verifier, redirect=REDIRECT_URI):
    return session.post(f"{microsoft_url}/{TENANT}/oauth2/v2.0/token", data={
        "grant_type": "authorization_code", "client_id": DEMO.microsoft_client_id, "client_secret": DEMO.microsoft_client_secret,
        "code": code, "code_verifier": verifier, "redirect_uri": redirect, "scope": "Mail.Read openid",
        "client_info": "1"})


def test_pkce_verifier_mismatch_is_invalid_grant(microsoft_url, client_session):
    flow, back = _code_and_flow(microsoft_url, client_session)
    answer = _redeem(microsoft_url, client_session, back["code"], "x" * 43)
    assert answer.status_code == 400
    assert_aad_error(answer.json(), "invalid_grant", 501481)


def test_authorization_code_is_single_use(microsoft_url, client_session):
    flow, back = _code_and_flow(microsoft_url, client_session)
    first = _redeem(microsoft_url, client_session, back["code"], flow["code_verifier"])
    assert first.status_code == 200 and first.json()["client_info"]
    again = _redeem(microsoft_url, client_session, back["code"], flow["code_verifier"])
    assert again.status_code == 400
    assert_aad_error(again.json(), "invalid_grant", 54005)


def test_code_redeemed_with_another_redirect_uri_is_invalid_grant(microsoft_url, client_session):
    flow, back = _code_and_flow(microsoft_url, client_session)
    answer = _redeem(microsoft_url, client_session, back["code"], flow["code_verifier"], "https://localhost:9/x")
    assert_aad_error(answer.json(), "invalid_grant", 500112)


def test_revoked_refresh_token_is_invalid_grant(microsoft_url, client_session):
    _, result = sign_in(microsoft_url, client_session)
    assert client_session.post(f"{microsoft_url}/_sandbox/users/{ALICE.upn}/revoke").json()["revoked"] >= 1
    answer = client_session.post(f"{microsoft_url}/{TENANT}/oauth2/v2.0/token", data={
        "grant_type": "refresh_token", "client_id": DEMO.microsoft_client_id, "client_secret": DEMO.microsoft_client_secret,
        "refresh_token": result["refresh_token"], "scope": "Mail.Read offline_access openid profile"})
    assert answer.status_code == 400
    assert_aad_error(answer.json(), "invalid_grant", 50173)


def test_on_behalf_of_with_an_assertion_for_another_audience_is_invalid_grant(microsoft_url, client_session):
    _, graph_token = sign_in(microsoft_url, client_session)
    result = msal_app(microsoft_url, client_session).acquire_token_on_behalf_of(graph_token["access_token"], ["Mail.Read"])
    assert result["error"] == "invalid_grant" and result["error_codes"] == [50013]


def test_unknown_redirect_uri_shows_an_error_page_instead_of_redirecting(microsoft_url, client_session):
    app = msal_app(microsoft_url, client_session)
    flow = app.initiate_auth_code_flow(["Mail.Read"], redirect_uri="https://evil.example/cb")
    page = client_session.get(flow["auth_uri"], allow_redirects=False)
    assert page.status_code == 400 and "AADSTS50011" in page.text


def test_prompt_none_signs_in_the_hinted_user_without_a_page(microsoft_url, client_session):
    app = msal_app(microsoft_url, client_session)
    flow = app.initiate_auth_code_flow(["Mail.Read"], redirect_uri=REDIRECT_URI, prompt="none", login_hint=BOB.upn)
    answer = client_session.get(flow["auth_uri"], allow_redirects=False)
    assert answer.status_code == 302 and "code=" in answer.headers["Location"]
    flow = app.initiate_auth_code_flow(["Mail.Read"], redirect_uri=REDIRECT_URI, prompt="none")
    answer = client_session.get(flow["auth_uri"], allow_redirects=False)
    assert "error=login_required" in answer.headers["Location"]


def test_oidc_authority_recipe_passes_msal_issuer_validation(microsoft_url, client_session):
    app = msal.ConfidentialClientApplication(
        DEMO.microsoft_client_id, client_credential=DEMO.microsoft_client_secret, oidc_authority=f"{microsoft_url}/{TENANT}",
        azure_region=False, http_client=client_session)
    result = app.acquire_token_for_client([f"{GRAPH}/.default"])
    assert "access_token" in result, result


def test_pkce_challenge_is_sha256_of_the_verifier_msal_sends(microsoft_url, client_session):
    # Guards the S256 arithmetic independently of msal.
    verifier = "a" * 43
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    page = client_session.get(f"{microsoft_url}/{TENANT}/oauth2/v2.0/authorize", params={
        "client_id": DEMO.microsoft_client_id, "response_type": "code", "redirect_uri": REDIRECT_URI,
        "scope": "Mail.Read", "code_challenge": challenge, "code_challenge_method": "S256", "state": "s1"})
    form = parse_sign_in_page(page.text)
    answer = client_session.post(page.url, data={**form.hidden, "user": form.users[ALICE.upn]}, allow_redirects=False)
    code = answer.headers["Location"].split("code=")[1].split("&")[0]
    assert _redeem(microsoft_url, client_session, code, verifier).status_code == 200


def test_single_page_app_redeems_a_pkce_code_from_a_browser_without_a_secret(microsoft_url, client_session):
    verifier = "b" * 43
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    params = {"client_id": DEMO.microsoft_client_id, "response_type": "code", "redirect_uri": REDIRECT_URI, "state": "s2",
              "scope": "Mail.Read openid offline_access", "response_mode": "fragment"}
    url = f"{microsoft_url}/{TENANT}/oauth2/v2.0/authorize"

    def code(**extra):
        page = client_session.get(url, params={**params, **extra})
        form = parse_sign_in_page(page.text)
        answer = client_session.post(page.url, data={**form.hidden, "user": form.users[ALICE.upn]}, allow_redirects=False)
        assert answer.status_code == 302 and "#code=" in answer.headers["Location"]
        return answer.headers["Location"].split("#code=")[1].split("&")[0]

    origin = {"Origin": "https://localhost:3000"}
    token_url = f"{microsoft_url}/{TENANT}/oauth2/v2.0/token"
    preflight = client_session.options(token_url, headers={**origin, "Access-Control-Request-Method": "POST"})
    assert preflight.status_code == 200 and preflight.headers["Access-Control-Allow-Origin"] == "*"
    form = {"grant_type": "authorization_code", "client_id": DEMO.microsoft_client_id, "redirect_uri": REDIRECT_URI,
            "scope": "Mail.Read openid offline_access"}
    answer = client_session.post(token_url, headers=origin, data={
        **form, "code": code(code_challenge=challenge, code_challenge_method="S256"), "code_verifier": verifier})
    assert answer.status_code == 200 and answer.headers["Access-Control-Allow-Origin"] == "*"
    assert answer.json()["refresh_token"]
    no_pkce = client_session.post(token_url, headers=origin, data={**form, "code": code()})
    assert_aad_error(no_pkce.json(), "invalid_request", 9002325)
    no_origin = client_session.post(token_url, data={**form, "code": code()})
    assert no_origin.status_code == 401
    assert_aad_error(no_origin.json(), "invalid_client", 7000218)
