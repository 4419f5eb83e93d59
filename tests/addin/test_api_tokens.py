"""Who the add-in API lets in (SPEC section 7): an Entra access token for Mailferry's API
scope, checked through the sandbox's JWKS (signature, per-tenant issuer, audience, expiry,
scope), for a user Mailferry knows by tenant id + object id; or a short-lived token from
the sign-in dialog. Anything else gets 401 and a sign-in message, never data."""

from __future__ import annotations

import time

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.config_fixtures import DEMO
from tests.sandbox.microsoft.tenant import ALICE, BOB, TENANT, sign_in


def _refused(response, error="sign_in_required"):
    body = response.get_json()
    return response.status_code == (401 if error == "sign_in_required" else 403) and body["error"] == error \
        and "Sign in" in body["message"] and "user" not in body


def test_an_entra_token_for_the_api_scope_names_the_user(addin_api, api_token, addin_world):
    response = addin_api(api_token()).get("/addin/api/me")
    assert response.status_code == 200, response.get_json()
    me = response.get_json()
    assert me["user"] == {"name": ALICE.display_name, "upn": ALICE.upn}
    assert me["crm_category"] == "CRM" and me["donotsync_category"] == "DoNotSync"
    assert me["salesforce_connected"] is True and me["sync_mode"] == "sync_all"


def test_no_token_and_a_cookie_session_are_both_refused(addin_api, addin_app, addin_world, sign_in_client):
    assert _refused(addin_api(None).get("/addin/api/me"))
    client = addin_app.test_client()
    sign_in_client(client, addin_world.alice)
    assert _refused(client.get("/addin/api/me"))
    response = client.post("/addin/api/ignore", json={"kind": "domain", "value": "evil.example"})
    assert _refused(response) and response.headers["WWW-Authenticate"].startswith("Bearer")


def test_a_graph_token_is_refused_by_audience(addin_api, addin_world, microsoft_url, client_session):
    _, result = sign_in(microsoft_url, client_session, ALICE.upn, scopes=("Mail.Read",))
    assert _refused(addin_api(result["access_token"]).get("/addin/api/me"))


def test_an_id_token_is_refused(addin_api, addin_world, microsoft_url, client_session):
    _, result = sign_in(microsoft_url, client_session, ALICE.upn, scopes=("User.Read",))
    assert result.get("id_token")
    assert _refused(addin_api(result["id_token"]).get("/addin/api/me"))


def _claims(microsoft_url: str, **changes) -> dict:
    now = int(time.time())
    claims = {"aud": DEMO.microsoft_client_id, "iss": f"{microsoft_url}/{TENANT}/v2.0", "iat": now, "nbf": now, "exp": now + 3600,
              "tid": TENANT, "oid": ALICE.oid, "preferred_username": ALICE.upn, "name": ALICE.display_name,
              "scp": "access_as_user", "ver": "2.0", "azp": DEMO.microsoft_client_id}
    claims.update(changes)
    return claims


def test_the_sandbox_key_with_right_claims_is_accepted_so_the_refusals_below_are_about_one_claim(
        addin_api, addin_world, microsoft_url, microsoft_state):
    assert addin_api(microsoft_state.key.mint(_claims(microsoft_url))).get("/addin/api/me").status_code == 200


def test_an_expired_token_is_refused(addin_api, addin_world, microsoft_url, microsoft_state):
    token = microsoft_state.key.mint(_claims(microsoft_url, exp=int(time.time()) - 120, iat=int(time.time()) - 3720))
    assert _refused(addin_api(token).get("/addin/api/me"))


def test_a_token_whose_issuer_is_another_tenant_is_refused(addin_api, addin_world, microsoft_url, microsoft_state):
    token = microsoft_state.key.mint(_claims(microsoft_url, iss=f"{microsoft_url}/00000000-0000-0000-0000-00000000beef/v2.0"))
    assert _refused(addin_api(token).get("/addin/api/me"))


def test_a_token_without_the_api_scope_is_refused(addin_api, addin_world, microsoft_url, microsoft_state):
    assert _refused(addin_api(microsoft_state.key.mint(_claims(microsoft_url, scp="User.Read"))).get("/addin/api/me"))


def test_a_token_for_another_app_is_refused(addin_api, addin_world, microsoft_url, microsoft_state):
    token = microsoft_state.key.mint(_claims(microsoft_url, aud="11111111-2222-3333-4444-555555555555"))
    assert _refused(addin_api(token).get("/addin/api/me"))


def test_a_forged_token_signed_by_another_key_with_the_same_kid_is_refused(addin_api, addin_world, microsoft_url, microsoft_state):
    forger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    token = jwt.encode(_claims(microsoft_url), forger, algorithm="RS256", headers={"kid": microsoft_state.key.kid})
    assert _refused(addin_api(token).get("/addin/api/me"))


def test_an_unsigned_token_is_refused(addin_api, addin_world, microsoft_url):
    token = jwt.encode(_claims(microsoft_url), None, algorithm="none")
    assert _refused(addin_api(token).get("/addin/api/me"))


def test_a_user_mailferry_does_not_know_is_told_to_sign_in_on_the_web(addin_api, api_token, addin_world):
    response = addin_api(api_token(BOB.upn)).get("/addin/api/me")
    assert response.status_code == 403
    assert response.get_json()["error"] == "not_registered" and "Sign in to Mailferry once" in response.get_json()["message"]


def test_the_same_oid_in_another_tenant_is_another_person(addin_api, addin_world, microsoft_url, microsoft_state):
    """Users are keyed by tid + oid: Alice's oid under a tenant Mailferry has no user in is nobody."""
    other = "00000000-0000-0000-0000-00000000cafe"
    token = microsoft_state.key.mint(_claims(microsoft_url, tid=other, iss=f"{microsoft_url}/{other}/v2.0"))
    assert addin_api(token).get("/addin/api/me").status_code == 403


def test_the_dialog_token_from_a_signed_in_session_works_and_a_tampered_one_does_not(
        addin_api, addin_app, addin_world, sign_in_client):
    client = addin_app.test_client()
    sign_in_client(client, addin_world.alice)
    nonce = "0b7e6f7a-52a4-4d3c-9a51-3a5d2f0c9e11"
    page = client.get(f"/addin/signed-in?nonce={nonce}")
    assert page.status_code == 200 and page.headers["Cache-Control"] == "no-store"
    assert f'data-nonce="{nonce}"' in page.get_data(as_text=True)  # the pane takes only its own answer
    assert "frame-ancestors 'none'" in page.headers["Content-Security-Policy"]
    assert 'data-nonce=""' in client.get('/addin/signed-in?nonce="><script>').get_data(as_text=True)
    token = page.get_data(as_text=True).split('data-token="', 1)[1].split('"', 1)[0]
    assert token.startswith("mf1.")
    assert addin_api(token).get("/addin/api/me").get_json()["user"]["upn"] == ALICE.upn
    assert _refused(addin_api(token[:-2] + ("A" if token[-2] != "A" else "B") + token[-1]).get("/addin/api/me"))


def test_a_dialog_token_expires(addin_api, addin_app, addin_world, monkeypatch):
    from server.addin import bearer

    with addin_app.test_request_context():
        token = bearer.issue_dialog_token(addin_world.alice.id)
    monkeypatch.setattr(bearer, "DIALOG_TOKEN_SECONDS", -1)
    response = addin_api(token).get("/addin/api/me")
    assert _refused(response) and "expired" in response.get_json()["message"]


def test_signed_in_page_sends_anonymous_people_to_the_sign_in(addin_app):
    response = addin_app.test_client().get("/addin/signed-in?office_js=stand-in")
    assert response.status_code == 302
    assert response.location == "/auth/sign-in?next=%2Faddin%2Fsigned-in%3Foffice_js%3Dstand-in"


def test_a_token_asked_for_by_another_app_is_refused(addin_api, addin_world, microsoft_url, microsoft_state):
    token = microsoft_state.key.mint(_claims(microsoft_url, azp="99999999-8888-7777-6666-555555555555"))
    assert _refused(addin_api(token).get("/addin/api/me"))


def test_a_token_signed_with_the_public_key_as_an_hmac_secret_is_refused(addin_api, addin_world, microsoft_url, microsoft_state):
    """The classic algorithm confusion: a verifier that let the token pick HS256 would check it
    with the (public) RSA key as the secret. Built by hand: PyJWT itself refuses to sign so."""
    import base64
    import hashlib
    import hmac
    import json

    from cryptography.hazmat.primitives import serialization

    def part(value: dict) -> bytes:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=")

    public_pem = microsoft_state.key.public.public_bytes(serialization.Encoding.PEM,
                                                       serialization.PublicFormat.SubjectPublicKeyInfo)
    signed = part({"alg": "HS256", "typ": "JWT", "kid": microsoft_state.key.kid}) + b"." + part(_claims(microsoft_url))
    signature = base64.urlsafe_b64encode(hmac.new(public_pem, signed, hashlib.sha256).digest()).rstrip(b"=")
    assert _refused(addin_api((signed + b"." + signature).decode()).get("/addin/api/me"))
