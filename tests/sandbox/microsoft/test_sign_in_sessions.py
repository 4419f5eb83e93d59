"""Graph's revokeSignInSessions in the sandbox: with the application permission
User.RevokeSessions.All it answers `{"value": true}` and every refresh token of the user is
refused afterwards (AADSTS50173); without it, 403 Authorization_RequestDenied; a delegated
caller only for themselves; an unknown user is not found."""

from __future__ import annotations

import pytest

from tests.sandbox.microsoft.tenant import ALICE, BOB, bearer_session, msal_app, sign_in

REVOKER = {"client_id": "5e1f0000-0000-4000-8000-00000000ab0e", "client_secret": "offboarding-secret",
           "app_roles": ["Mail.ReadWrite", "User.RevokeSessions.All"]}


def _app_token(microsoft_url, client_session, app: dict) -> str:
    client_session.post(f"{microsoft_url}/_sandbox/apps", json=app).raise_for_status()
    result = msal_app(microsoft_url, client_session, app["client_id"], app["client_secret"]).acquire_token_for_client(
        ["https://graph.microsoft.com/.default"])
    return result["access_token"]


def _revoke(certs, token: str, url: str):
    with bearer_session(certs, token) as session:
        return session.post(url)


def test_an_app_with_user_revoke_sessions_all_revokes_every_refresh_token_of_the_user(
        microsoft_url, client_session, certs):
    signed_in_app, result = sign_in(microsoft_url, client_session)
    account = signed_in_app.get_accounts()[0]
    token = _app_token(microsoft_url, client_session, REVOKER)

    answer = _revoke(certs, token, f"{microsoft_url}/v1.0/users/{ALICE.upn}/revokeSignInSessions")

    assert answer.status_code == 200 and answer.json()["value"] is True
    refreshed = signed_in_app.acquire_token_silent_with_error(["Mail.ReadWrite"], account, force_refresh=True)
    assert refreshed["error"] == "invalid_grant" and "AADSTS50173" in refreshed["error_description"]


def test_without_the_permission_the_app_is_denied_and_the_tokens_stay_good(
        microsoft_url, client_session, certs, app_token):
    signed_in_app, _ = sign_in(microsoft_url, client_session)
    answer = _revoke(certs, app_token, f"{microsoft_url}/v1.0/users/{ALICE.oid}/revokeSignInSessions")
    assert answer.status_code == 403
    assert answer.json()["error"] == {**answer.json()["error"], "code": "Authorization_RequestDenied",
                                      "message": "Insufficient privileges to complete the operation."}
    account = signed_in_app.get_accounts()[0]
    assert "access_token" in signed_in_app.acquire_token_silent_with_error(["Mail.ReadWrite"], account,
                                                                           force_refresh=True)


@pytest.mark.parametrize("target", ["self", "other"])
def test_a_delegated_caller_may_revoke_only_their_own_sessions(microsoft_url, client_session, certs, target):
    _, result = sign_in(microsoft_url, client_session, scopes=("User.RevokeSessions.All",))
    user = ALICE if target == "self" else BOB
    answer = _revoke(certs, result["access_token"], f"{microsoft_url}/v1.0/users/{user.upn}/revokeSignInSessions")
    assert answer.status_code == (200 if target == "self" else 403)


def test_an_unknown_user_is_not_found(microsoft_url, client_session, certs):
    token = _app_token(microsoft_url, client_session, REVOKER)
    answer = _revoke(certs, token, f"{microsoft_url}/v1.0/users/nobody@contoso.example/revokeSignInSessions")
    assert answer.status_code == 404 and answer.json()["error"]["code"] == "Request_ResourceNotFound"
