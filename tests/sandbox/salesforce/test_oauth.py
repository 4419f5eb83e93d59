"""OAuth web server flow, PKCE, refresh, revoke, identity URL and userinfo (reference 1)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import time

import pytest
from simple_salesforce import Salesforce
from simple_salesforce.exceptions import SalesforceExpiredSession

from sandbox.salesforce.ids import ORG_ID
from tests.config_fixtures import DEMO
from tests.sandbox.salesforce.org import Org, oauth_sign_in

REDIRECT = "https://localhost:3000/auth/salesforce/callback"
VERIFIER = "verifier-" + "x" * 50
CHALLENGE = base64.urlsafe_b64encode(hashlib.sha256(VERIFIER.encode()).digest()).rstrip(b"=").decode()


def exchange(client_session, salesforce_url, code, **extra):
    form = {"grant_type": "authorization_code", "code": code, "client_id": "mailferry-client",
            "client_secret": "s3cret", "redirect_uri": REDIRECT, **extra}
    return client_session.post(f"{salesforce_url}/services/oauth2/token", data=form)


def test_sign_in_page_lists_the_org_users_and_a_click_redirects_with_code_and_state(salesforce_url, client_session):
    page = client_session.get(f"{salesforce_url}/services/oauth2/authorize", params={
        "response_type": "code", "client_id": "c", "redirect_uri": REDIRECT, "state": "s"})
    assert page.status_code == 200 and page.headers["Content-Type"].startswith("text/html")
    assert "rep@example.com.crm" in page.text and "admin@example.com.crm" in page.text
    result = oauth_sign_in(client_session, salesforce_url, state="abc 123/?&")
    assert result["location"].startswith(REDIRECT + "?code=")
    assert result["state"] == "abc 123/?&" and result["code"]


def test_deny_redirects_with_access_denied_and_state(salesforce_url, client_session):
    answer = client_session.post(f"{salesforce_url}/services/oauth2/authorize", allow_redirects=False, data={
        "response_type": "code", "client_id": "c", "redirect_uri": REDIRECT, "state": "s1", "action": "deny"})
    assert answer.status_code == 302
    assert "error=access_denied" in answer.headers["Location"] and "state=s1" in answer.headers["Location"]


def test_authorize_without_client_or_redirect_shows_an_error_page(salesforce_url, client_session):
    page = client_session.get(f"{salesforce_url}/services/oauth2/authorize", params={"response_type": "code"})
    assert page.status_code == 400 and 'data-testid="sf-oauth-error"' in page.text


def test_token_response_has_the_documented_fields_and_no_expires_in(salesforce_url, client_session):
    code = oauth_sign_in(client_session, salesforce_url, challenge=CHALLENGE)["code"]
    answer = exchange(client_session, salesforce_url, code, code_verifier=VERIFIER)
    assert answer.status_code == 200 and answer.headers["Content-Type"].startswith("application/json")
    body = answer.json()
    assert set(body) == {"access_token", "refresh_token", "signature", "scope", "instance_url", "id",
                         "token_type", "issued_at"}
    assert "expires_in" not in body
    assert body["token_type"] == "Bearer" and body["scope"] == "api refresh_token id"
    assert body["instance_url"] == salesforce_url
    assert body["id"] == f"{salesforce_url}/id/{ORG_ID}/{Org.rep}"
    assert isinstance(body["issued_at"], str) and abs(int(body["issued_at"]) - time.time() * 1000) < 60_000
    assert body["access_token"].startswith(ORG_ID[:15] + "!")
    expected = base64.b64encode(hmac.new(b"s3cret", (body["id"] + body["issued_at"]).encode(),
                                         hashlib.sha256).digest()).decode()
    assert body["signature"] == expected
    sf = Salesforce(instance_url=body["instance_url"], session_id=body["access_token"], session=client_session)
    assert sf.query("SELECT Id FROM User WHERE Username = 'rep@example.com.crm'")["records"][0]["Id"] == Org.rep


def test_no_refresh_token_without_the_refresh_scope(salesforce_url, client_session):
    code = oauth_sign_in(client_session, salesforce_url, scope="api id")["code"]
    body = exchange(client_session, salesforce_url, code).json()
    assert "refresh_token" not in body and body["scope"] == "api id"


def test_pkce_wrong_verifier_is_invalid_request_and_missing_verifier_is_invalid_grant(salesforce_url, client_session):
    code = oauth_sign_in(client_session, salesforce_url, challenge=CHALLENGE)["code"]
    wrong = exchange(client_session, salesforce_url, code, code_verifier="not-the-verifier-" + "y" * 40)
    assert wrong.status_code == 400 and wrong.json()["error"] == "invalid_request"
    code = oauth_sign_in(client_session, salesforce_url, challenge=CHALLENGE)["code"]
    missing = exchange(client_session, salesforce_url, code)
    assert missing.status_code == 400 and missing.json() == {"error": "invalid_grant",
                                                               "error_description": "invalid code verifier"}


def test_a_code_works_once(salesforce_url, client_session):
    code = oauth_sign_in(client_session, salesforce_url)["code"]
    assert exchange(client_session, salesforce_url, code).status_code == 200
    again = exchange(client_session, salesforce_url, code)
    assert again.status_code == 400
    assert again.json() == {"error": "invalid_grant", "error_description": "authentication failure"}


@pytest.mark.parametrize("change, error", [
    ({"client_id": "someone-else"}, "invalid_client_id"),
    ({"redirect_uri": "https://evil.example/cb"}, "redirect_uri_mismatch"),
    ({"grant_type": "password"}, "unsupported_grant_type"),
    ({"grant_type": ""}, "invalid_request"),
])
def test_token_errors_use_the_oauth_error_body(salesforce_url, client_session, change, error):
    code = oauth_sign_in(client_session, salesforce_url)["code"]
    answer = exchange(client_session, salesforce_url, code, **change)
    assert answer.status_code == 400
    assert answer.json()["error"] == error and answer.json()["error_description"]


def test_refresh_gives_a_new_working_token_without_a_refresh_token(salesforce_url, client_session):
    tokens = exchange(client_session, salesforce_url, oauth_sign_in(client_session, salesforce_url)["code"]).json()
    answer = client_session.post(f"{salesforce_url}/services/oauth2/token", data={
        "grant_type": "refresh_token", "refresh_token": tokens["refresh_token"], "client_id": "mailferry-client",
        "client_secret": "s3cret"})
    assert answer.status_code == 200
    body = answer.json()
    assert "refresh_token" not in body and "expires_in" not in body
    assert body["access_token"] != tokens["access_token"] and body["instance_url"] == salesforce_url
    sf = Salesforce(instance_url=salesforce_url, session_id=body["access_token"], session=client_session)
    assert sf.limits()["DailyApiRequests"]["Max"] == 15000


def test_unknown_refresh_token_is_invalid_grant(salesforce_url, client_session):
    answer = client_session.post(f"{salesforce_url}/services/oauth2/token", data={
        "grant_type": "refresh_token", "refresh_token": "5Aep861nope", "client_id": "mailferry-client"})
    assert answer.status_code == 400
    assert answer.json() == {"error": "invalid_grant", "error_description": "expired access/refresh token"}


def test_revoking_a_refresh_token_kills_its_access_tokens(salesforce_url, client_session):
    tokens = exchange(client_session, salesforce_url, oauth_sign_in(client_session, salesforce_url)["code"]).json()
    sf = Salesforce(instance_url=salesforce_url, session_id=tokens["access_token"], session=client_session)
    sf.query("SELECT Id FROM Contact LIMIT 1")
    revoked = client_session.post(f"{salesforce_url}/services/oauth2/revoke", data={"token": tokens["refresh_token"]})
    assert revoked.status_code == 200
    with pytest.raises(SalesforceExpiredSession) as raised:
        sf.query("SELECT Id FROM Contact LIMIT 1")
    assert raised.value.status == 401
    assert raised.value.content == [{"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}]
    again = client_session.post(f"{salesforce_url}/services/oauth2/revoke", data={"token": tokens["refresh_token"]})
    assert again.status_code == 400 and again.json()["error"] == "invalid_token"


def test_revoking_an_access_token_with_get_also_works(salesforce_url, client_session, token):
    assert client_session.get(f"{salesforce_url}/services/oauth2/revoke", params={"token": token}).status_code == 200
    answer = client_session.get(f"{salesforce_url}/services/data/v59.0/limits",
                                headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code == 401 and answer.json()[0]["errorCode"] == "INVALID_SESSION_ID"


def test_sessions_expire_after_the_org_lifetime(salesforce_url, client_session, org_settings):
    tokens = exchange(client_session, salesforce_url, oauth_sign_in(client_session, salesforce_url)["code"]).json()
    sf = Salesforce(instance_url=salesforce_url, session_id=tokens["access_token"], session=client_session)
    sf.query("SELECT Id FROM Contact LIMIT 1")
    org_settings(session_lifetime_seconds=1)
    time.sleep(1.05)
    with pytest.raises(SalesforceExpiredSession) as raised:
        sf.query("SELECT Id FROM Contact LIMIT 1")
    assert raised.value.content[0]["errorCode"] == "INVALID_SESSION_ID"
    # The refresh token still works and gives a fresh session.
    fresh = client_session.post(f"{salesforce_url}/services/oauth2/token", data={
        "grant_type": "refresh_token", "refresh_token": tokens["refresh_token"], "client_id": "mailferry-client"})
    sf = Salesforce(instance_url=salesforce_url, session_id=fresh.json()["access_token"], session=client_session)
    assert sf.query("SELECT COUNT() FROM Contact")["totalSize"] == 3


def test_identity_url_describes_the_user_with_version_placeholders(salesforce_url, client_session, token):
    identity = f"{salesforce_url}/id/{ORG_ID}/{Org.rep}"
    answer = client_session.get(identity, headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code == 200
    body = answer.json()
    assert body["id"] == identity and body["user_id"] == Org.rep and body["organization_id"] == ORG_ID
    assert body["username"] == "rep@example.com.crm" and body["email"] == "rep@example.com"
    assert body["asserted_user"] is True and body["display_name"] == "Rae Rep"
    assert body["urls"]["rest"] == f"{salesforce_url}/services/data/v{{version}}/"
    latest = client_session.get(identity, params={"version": "latest", "oauth_token": token}).json()
    assert latest["urls"]["query"] == f"{salesforce_url}/services/data/v66.0/query/"
    refused = client_session.get(identity, headers={"Authorization": "Bearer nope"})
    assert refused.status_code == 403 and refused.text == "Bad_OAuth_Token"


def test_userinfo_gives_openid_style_claims(salesforce_url, client_session, token):
    body = client_session.get(f"{salesforce_url}/services/oauth2/userinfo", headers={"Authorization": f"Bearer {token}"}).json()
    assert body["user_id"] == Org.rep and body["organization_id"] == ORG_ID
    assert body["preferred_username"] == "rep@example.com.crm" and body["email"] == "rep@example.com"
    assert body["sub"] == f"{salesforce_url}/id/{ORG_ID}/{Org.rep}"


def signature_of(secret: str, body: dict) -> str:
    """Salesforce's `signature` (reference 1.4): Base64 HMAC-SHA256 of id + issued_at."""
    return base64.b64encode(hmac.new(secret.encode(), (body["id"] + body["issued_at"]).encode(),
                                     hashlib.sha256).digest()).decode()


def test_the_demo_app_is_signed_with_its_own_secret_and_a_wrong_secret_is_invalid_client(salesforce_url, client_session):
    """The sandbox is a witness: it signs with the connected app's consumer secret and refuses
    another, as an org does, so a client's signature check can fail against it."""
    demo = {"client_id": DEMO.salesforce_client_id}
    code = oauth_sign_in(client_session, salesforce_url, client_id=demo["client_id"])["code"]
    refused = exchange(client_session, salesforce_url, code, **demo, client_secret="someone-elses-secret")
    assert refused.status_code == 400
    assert refused.json() == {"error": "invalid_client", "error_description": "invalid client credentials"}
    code = oauth_sign_in(client_session, salesforce_url, client_id=demo["client_id"])["code"]
    body = exchange(client_session, salesforce_url, code, **demo, client_secret=DEMO.salesforce_client_secret).json()
    assert body["signature"] == signature_of(DEMO.salesforce_client_secret, body)


def test_the_web_server_flow_needs_the_secret(salesforce_url, client_session):
    code = oauth_sign_in(client_session, salesforce_url)["code"]
    answer = exchange(client_session, salesforce_url, code, client_secret="")
    assert answer.status_code == 400 and answer.json()["error"] == "invalid_client"


def test_a_new_consumer_key_is_held_to_its_first_secret(salesforce_url, client_session):
    first = exchange(client_session, salesforce_url, oauth_sign_in(client_session, salesforce_url)["code"]).json()
    assert first["signature"] == signature_of("s3cret", first)
    other = exchange(client_session, salesforce_url, oauth_sign_in(client_session, salesforce_url)["code"], client_secret="other")
    assert other.status_code == 400 and other.json()["error"] == "invalid_client"
    refreshed = client_session.post(f"{salesforce_url}/services/oauth2/token", data={
        "grant_type": "refresh_token", "refresh_token": first["refresh_token"], "client_id": "mailferry-client",
        "client_secret": "other"})
    assert refreshed.status_code == 400 and refreshed.json()["error"] == "invalid_client"
    without = client_session.post(f"{salesforce_url}/services/oauth2/token", data={
        "grant_type": "refresh_token", "refresh_token": first["refresh_token"], "client_id": "mailferry-client"})
    assert without.status_code == 200  # the refresh flow does not require the secret; still signed with it
    assert without.json()["signature"] == signature_of("s3cret", without.json())
