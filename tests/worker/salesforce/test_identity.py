"""Salesforce sign-in (mailferry.salesforce_identity): web server flow with PKCE, refresh,
revoke and the identity URL, against the sandbox's real OAuth endpoints."""

from __future__ import annotations

import base64
import hashlib
import html
import re
from urllib.parse import parse_qs, urlsplit

import pytest

from mailferry.provider_errors import ProviderError
from mailferry.salesforce_identity import (
    Pkce,
    SalesforceOAuth,
    authorize_url,
    code_from_callback,
    login_url_for,
    token_set,
)

from tests.worker.salesforce.oauth_flow import CLIENT_ID, CLIENT_SECRET, REDIRECT_URI, authorization_code, sign_in


def test_pkce_pair_is_rfc7636_s256():
    pair = Pkce.new()
    assert 43 <= len(pair.verifier) <= 128 and re.fullmatch(r"[A-Za-z0-9\-._~]+", pair.verifier)
    expected = base64.urlsafe_b64encode(hashlib.sha256(pair.verifier.encode()).digest()).rstrip(b"=").decode()
    assert pair.challenge == expected and Pkce.new().verifier != pair.verifier


def test_authorize_url_carries_the_flow_parameters():
    url = authorize_url("https://acme.my.salesforce.com", "cid", REDIRECT_URI, "st", "chal", login_hint="a@b.c")
    parts = urlsplit(url)
    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
    assert parts.netloc == "acme.my.salesforce.com" and parts.path == "/services/oauth2/authorize"
    assert query == {"response_type": "code", "client_id": "cid", "redirect_uri": REDIRECT_URI,
                     "scope": "api refresh_token id", "state": "st", "code_challenge": "chal",
                     "code_challenge_method": "S256", "login_hint": "a@b.c"}


@pytest.mark.parametrize("kind, domain, expected", [
    ("production", None, "https://login.salesforce.com"),
    ("sandbox", None, "https://test.salesforce.com"),
    ("my_domain", "acme", "https://acme.my.salesforce.com"),
    ("my_domain", "acme--uat.sandbox", "https://acme--uat.sandbox.my.salesforce.com"),
    ("my_domain", "https://login.acme.example/", "https://login.acme.example"),
])
def test_login_hosts_for_production_sandbox_and_my_domain(kind, domain, expected):
    assert login_url_for(kind, domain) == expected


@pytest.mark.parametrize("domain", ["", "acme/../x", "http://acme.my.salesforce.com", "ac me"])
def test_bad_my_domain_is_refused(domain):
    with pytest.raises(ValueError):
        login_url_for("my_domain", domain)


def test_code_flow_with_pkce_gives_tokens_and_identity(salesforce_control, oauth, client_session):
    tokens = sign_in(client_session, salesforce_control.url, oauth)
    assert tokens["access_token"] and tokens["refresh_token"]
    assert tokens["instance_url"] == salesforce_control.url
    assert tokens["issued_at"].isdigit() and tokens["issued_at_iso"].endswith("+00:00")
    assert tokens["org_id"].startswith("00D") and tokens["user_id"].startswith("005")
    assert tokens["scope"] == "api refresh_token id"
    who = oauth.identity(tokens)
    assert who["user_id"] == tokens["user_id"] and who["org_id"] == tokens["org_id"]
    assert who["username"] and "@" in who["username"]


def test_wrong_verifier_is_refused_as_auth(salesforce_control, oauth, client_session):
    code, _ = authorization_code(client_session, salesforce_control.url, oauth)
    with pytest.raises(ProviderError) as refused:
        oauth.exchange_code(code, Pkce.new().verifier)
    assert refused.value.kind == "auth" and refused.value.code == "invalid_request"


def test_a_used_code_is_refused_as_auth(salesforce_control, oauth, client_session):
    code, pkce = authorization_code(client_session, salesforce_control.url, oauth)
    oauth.exchange_code(code, pkce.verifier)
    with pytest.raises(ProviderError) as refused:
        oauth.exchange_code(code, pkce.verifier)
    assert refused.value.kind == "auth" and refused.value.code == "invalid_grant"


def test_refresh_keeps_the_refresh_token_and_gives_a_new_access_token(salesforce_tokens, oauth):
    fresh = oauth.refresh(salesforce_tokens)
    assert fresh["access_token"] != salesforce_tokens["access_token"]
    assert fresh["refresh_token"] == salesforce_tokens["refresh_token"]  # no rotation: the response has none
    assert fresh["org_id"] == salesforce_tokens["org_id"]


def test_revoked_refresh_token_is_auth_with_the_reconnect_fix(salesforce_tokens, oauth):
    assert oauth.revoke(salesforce_tokens["refresh_token"]) is True
    assert oauth.revoke(salesforce_tokens["refresh_token"]) is False  # already gone
    with pytest.raises(ProviderError) as refused:
        oauth.refresh(salesforce_tokens)
    assert refused.value.kind == "auth" and refused.value.code == "invalid_grant"
    assert "Reconnect Salesforce: My Settings → Connections → Salesforce → Connect" in refused.value.message


def test_a_token_response_signed_with_another_secret_is_refused(control_answer):
    with pytest.raises(ProviderError) as refused:
        token_set(control_answer, "a-secret-the-sandbox-did-not-sign-with")
    assert refused.value.code == "bad_signature" and refused.value.kind == "auth"


@pytest.fixture
def control_answer(salesforce_control):
    """A raw token response from the control API (signed with an empty secret)."""
    answer = salesforce_control.http.post(f"{salesforce_control.url}/_sandbox/sessions", json={})
    return answer.json()


def test_a_callback_url_mismatch_is_setup_and_names_the_url(salesforce_control, oauth, client_session):
    code, pkce = authorization_code(client_session, salesforce_control.url, oauth)
    elsewhere = SalesforceOAuth(salesforce_control.url, CLIENT_ID, CLIENT_SECRET, "https://other.example/cb", client_session)
    with pytest.raises(ProviderError) as refused:
        elsewhere.exchange_code(code, pkce.verifier)
    assert refused.value.kind == "setup" and refused.value.code == "redirect_uri_mismatch"
    assert "https://other.example/cb" in refused.value.message


def test_the_callback_gives_the_code_only_with_our_state(salesforce_control, oauth, client_session):
    pkce = Pkce.new()
    page = client_session.get(authorize_url(salesforce_control.url, CLIENT_ID, REDIRECT_URI, "our-state", pkce.challenge))
    form = {k: html.unescape(v) for k, v in re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', page.text)}
    denied = client_session.post(f"{salesforce_control.url}/services/oauth2/authorize", data={**form, "action": "deny"},
                                 allow_redirects=False)
    params = {k: v[0] for k, v in parse_qs(urlsplit(denied.headers["Location"]).query).items()}
    with pytest.raises(ProviderError) as refused:
        code_from_callback(params, "our-state")
    assert refused.value.code == "access_denied" and "choose Allow" in refused.value.message
    with pytest.raises(ProviderError) as forged:
        code_from_callback({"code": "x", "state": "someone-elses"}, "our-state")
    assert forged.value.code == "state_mismatch" and forged.value.kind == "auth"
    assert code_from_callback({"code": "abc", "state": "our-state"}, "our-state") == "abc"
