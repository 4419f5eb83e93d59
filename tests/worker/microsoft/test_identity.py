"""Mailferry's Entra ID sign-in and tokens (mailferry.microsoft_identity) through real msal
against the Microsoft sandbox over HTTPS."""

from __future__ import annotations

import json
from urllib.parse import parse_qs, urlsplit

import jwt
import pytest

from mailferry import microsoft_identity
from mailferry.microsoft_identity import (
    APP_ONLY_FIX, RECONNECT_FIX, acquire_app_token, acquire_delegated_token, delegated_token_provider,
)
from mailferry.provider_errors import ErrorKind, ProviderError
from mailferry.tls import https_session
from sandbox.microsoft import load_world
from tests.config_fixtures import microsoft_sandbox_variables
from tests.sandbox.microsoft.tenant import ALICE, BOB, REDIRECT_URI, TENANT, make_world, pick_user
from worker.microsoft.graph import GraphClient


def claims_of(token: str) -> dict:
    # Only to check who a token is for; Mailferry itself never reads access tokens.
    return jwt.decode(token, options={"verify_signature": False})


def token_calls(client_session, microsoft_url) -> int:
    stats = client_session.get(f"{microsoft_url}/_sandbox/stats").json()["calls"]
    return sum(n for route, n in stats.items() if route.startswith("POST") and route.endswith("/oauth2/v2.0/token"))


def test_sign_in_with_pkce_returns_the_users_claims_and_a_sealable_token_state(microsoft_sign_in, secret_box, microsoft_config):
    signed_in = microsoft_sign_in(ALICE.upn)
    assert (signed_in.oid, signed_in.tid, signed_in.username, signed_in.name) == \
        (ALICE.oid, TENANT, ALICE.upn, ALICE.display_name)
    assert {"Mail.ReadWrite", "User.Read"} <= set(signed_in.scopes)
    assert "token_state" not in repr(signed_in)  # tokens never reach a log line through repr
    sealed = signed_in.sealed(secret_box)
    state = secret_box.open(sealed)
    assert state["home_account_id"] == f"{ALICE.oid}.{TENANT}"
    assert state["authority_tenant"] == "organizations"
    refresh_tokens = [rt["secret"] for rt in json.loads(state["msal_cache"])["RefreshToken"].values()]
    assert refresh_tokens
    for secret in refresh_tokens + ["RefreshToken", "access_token", ALICE.upn]:
        assert secret.encode() not in sealed  # ciphertext, not plaintext


def test_sign_in_flow_asks_for_mail_readwrite_offline_access_and_user_read_with_pkce(microsoft_config):
    flow = microsoft_identity.start_sign_in(microsoft_config, REDIRECT_URI)
    query = parse_qs(urlsplit(flow["auth_uri"]).query)
    assert set(query["scope"][0].split()) == {"Mail.ReadWrite", "User.Read", "offline_access", "openid", "profile"}
    assert query["code_challenge_method"] == ["S256"] and query["code_challenge"][0]
    assert flow["auth_uri"].startswith(f"{microsoft_config.microsoft_authority_host}/organizations/oauth2/v2.0/authorize")


def test_callback_with_a_forged_state_is_refused_as_auth(microsoft_config, client_session):
    flow = microsoft_identity.start_sign_in(microsoft_config, REDIRECT_URI)
    back = pick_user(client_session, flow["auth_uri"], ALICE.upn)
    with pytest.raises(ProviderError) as caught:
        microsoft_identity.finish_sign_in(microsoft_config, flow, {**back, "state": "forged"})
    assert caught.value.kind is ErrorKind.AUTH and caught.value.code == "state_mismatch"


def test_silent_token_from_the_sealed_cache_reads_the_mailbox_without_resealing(microsoft_sign_in, secret_box, microsoft_config, certs):
    sealed = microsoft_sign_in(ALICE.upn).sealed(secret_box)
    token, new_state = acquire_delegated_token(microsoft_config, sealed, secret_box)
    assert new_state is None  # the access token from sign-in is still good: nothing to store
    assert claims_of(token)["oid"] == ALICE.oid
    with https_session(certs.ca_cert) as session:
        inbox = GraphClient(session, microsoft_config.microsoft_graph_url, lambda: token).folder(ALICE.upn, "inbox")
    assert inbox["displayName"] == "Inbox"


def test_expired_access_token_is_refreshed_and_the_changed_cache_resealed(
        microsoft_sign_in, secret_box, microsoft_config, microsoft_url, client_session):
    # Tokens that live 60 s are "expiring" for msal (it refreshes within 5 minutes of expiry).
    client_session.post(f"{microsoft_url}/_sandbox/settings", json={"access_token_lifetime_s": 60}).raise_for_status()
    sealed = microsoft_sign_in(ALICE.upn).sealed(secret_box)
    before = token_calls(client_session, microsoft_url)
    token, new_state = acquire_delegated_token(microsoft_config, sealed, secret_box)
    assert token_calls(client_session, microsoft_url) == before + 1  # one refresh-token grant
    assert new_state is not None and new_state != sealed
    assert secret_box.open(new_state)["home_account_id"] == f"{ALICE.oid}.{TENANT}"
    assert claims_of(token)["oid"] == ALICE.oid


def test_forced_refresh_returns_a_new_token_and_state(microsoft_sign_in, secret_box, microsoft_config):
    sealed = microsoft_sign_in(ALICE.upn).sealed(secret_box)
    first, _ = acquire_delegated_token(microsoft_config, sealed, secret_box)
    second, new_state = acquire_delegated_token(microsoft_config, sealed, secret_box, force_refresh=True)
    assert second != first and new_state is not None


def test_revoked_refresh_token_is_auth_with_the_reconnect_fix(microsoft_sign_in, secret_box, microsoft_config, microsoft_url, client_session):
    sealed = microsoft_sign_in(BOB.upn).sealed(secret_box)
    client_session.post(f"{microsoft_url}/_sandbox/users/{BOB.upn}/revoke").raise_for_status()
    with pytest.raises(ProviderError) as caught:
        acquire_delegated_token(microsoft_config, sealed, secret_box, force_refresh=True)
    error = caught.value
    assert error.kind is ErrorKind.AUTH and error.provider == "microsoft"
    assert error.message == RECONNECT_FIX
    assert error.code == "invalid_grant (AADSTS50173)"


def test_refresh_token_the_server_no_longer_knows_is_auth(microsoft_sign_in, secret_box, microsoft_config, microsoft_app):
    # Loading a new world forgets every grant, as an expired refresh token is forgotten.
    sealed = microsoft_sign_in(ALICE.upn).sealed(secret_box)
    load_world(microsoft_app, make_world())
    with pytest.raises(ProviderError) as caught:
        acquire_delegated_token(microsoft_config, sealed, secret_box, force_refresh=True)
    assert caught.value.kind is ErrorKind.AUTH and caught.value.message == RECONNECT_FIX
    assert caught.value.code == "invalid_grant (AADSTS9002313)"


def test_token_endpoint_outage_is_temporary_with_retry_after(microsoft_sign_in, secret_box, microsoft_config, microsoft_url, client_session):
    sealed = microsoft_sign_in(ALICE.upn).sealed(secret_box)
    client_session.post(f"{microsoft_url}/_sandbox/faults", json={
        "path": "/organizations/oauth2/v2.0/token", "status": 503, "retry_after": 9}).raise_for_status()
    with pytest.raises(ProviderError) as caught:
        acquire_delegated_token(microsoft_config, sealed, secret_box, force_refresh=True)
    assert caught.value.kind is ErrorKind.TEMPORARY
    assert caught.value.status == 503 and caught.value.retry_after == 9


def test_token_endpoint_throttling_is_temporary_with_retry_after(microsoft_config, microsoft_url, client_session):
    client_session.post(f"{microsoft_url}/_sandbox/faults", json={
        "path": f"/{TENANT}/oauth2/v2.0/token", "status": 429, "retry_after": 4}).raise_for_status()
    with pytest.raises(ProviderError) as caught:
        acquire_app_token(microsoft_config, TENANT)
    assert caught.value.kind is ErrorKind.TEMPORARY
    assert caught.value.status == 429 and caught.value.retry_after == 4


def test_app_only_token_carries_roles_and_is_cached_per_tenant(microsoft_config, microsoft_url, client_session):
    before = token_calls(client_session, microsoft_url)
    first = acquire_app_token(microsoft_config, TENANT)
    second = acquire_app_token(microsoft_config, TENANT)
    assert first == second
    assert token_calls(client_session, microsoft_url) == before + 1
    claims = claims_of(first)
    assert "Mail.ReadWrite" in claims["roles"] and "scp" not in claims and claims["tid"] == TENANT


def test_app_only_token_with_a_wrong_secret_is_auth_naming_the_admin_fix(make_config, microsoft_url, certs):
    config = make_config(**microsoft_sandbox_variables(microsoft_url, certs), MICROSOFT_CLIENT_SECRET="not-the-secret")
    with pytest.raises(ProviderError) as caught:
        acquire_app_token(config, TENANT)
    assert caught.value.kind is ErrorKind.AUTH
    assert caught.value.message.startswith(APP_ONLY_FIX)
    assert caught.value.code == "invalid_client (AADSTS7000215)"
    assert "not-the-secret" not in str(caught.value)


def test_unreachable_authority_is_temporary(make_config, microsoft_url, certs):
    config = make_config(**{**microsoft_sandbox_variables(microsoft_url, certs),
                            "MICROSOFT_AUTHORITY_HOST": "https://localhost:1"})
    with pytest.raises(ProviderError) as caught:
        acquire_app_token(config, TENANT)
    assert caught.value.kind is ErrorKind.TEMPORARY


def test_delegated_provider_forces_a_refresh_when_asked_again_and_hands_back_new_state(microsoft_sign_in, secret_box, microsoft_config):
    stored = []
    provide = delegated_token_provider(microsoft_config, microsoft_sign_in(ALICE.upn).sealed(secret_box), secret_box, stored.append)
    first = provide()
    assert stored == []
    second = provide()  # what GraphClient does after a 401
    assert second != first and len(stored) == 1
    assert secret_box.open(stored[0])["home_account_id"] == f"{ALICE.oid}.{TENANT}"
