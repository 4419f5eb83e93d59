"""Admin consent as Entra has it (reference wave2.md §7.4): a tenant that lets only
administrators consent refuses a user's sign-in with consent_required (AADSTS65001) until an
administrator consented at `/{tenant}/v2.0/adminconsent`, which answers the registered
redirect URI with `admin_consent=True&tenant=…` or, declined, `error=consent_required` with
AADSTS65004; `common` and unregistered redirect URIs are refused."""

from __future__ import annotations

from urllib.parse import parse_qs, urlencode, urlsplit

import pytest

from tests.config_fixtures import DEMO
from tests.sandbox.microsoft.tenant import ALICE, REDIRECT_URI, TENANT, msal_app, pick_user

CONSENT_URI = "https://localhost:3000/auth/microsoft/admin-consent"
GRAPH_DEFAULT = "https://graph.microsoft.com/.default"


@pytest.fixture
def admins_only(microsoft_url, client_session):
    """The tenant lets only administrators consent to the demo app."""
    answer = client_session.patch(f"{microsoft_url}/_sandbox/apps/{DEMO.microsoft_client_id}",
                                  json={"user_consent": False})
    assert answer.status_code == 200 and answer.json()["admin_consented"] is False
    return microsoft_url


def _consent_url(url, tenant=TENANT, redirect_uri=CONSENT_URI, scope=GRAPH_DEFAULT):
    return f"{url}/{tenant}/v2.0/adminconsent?" + urlencode(
        {"client_id": DEMO.microsoft_client_id, "scope": scope, "redirect_uri": redirect_uri, "state": "s-1"})


def _answer(response) -> dict:
    assert response.status_code == 302, response.text
    location = response.headers["Location"]
    assert location.startswith(CONSENT_URI + "?")
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


def _user_sign_in(url, session):
    """(msal app, flow, what the sandbox sent back) for Alice signing in."""
    app = msal_app(url, session)
    flow = app.initiate_auth_code_flow(["User.Read"], redirect_uri=REDIRECT_URI, response_mode="form_post")
    return app, flow, pick_user(session, flow["auth_uri"], ALICE.upn)


def test_a_user_is_refused_with_consent_required_until_an_admin_consents(admins_only, client_session):
    _, _, refused = _user_sign_in(admins_only, client_session)
    assert refused["error"] == "consent_required" and "code" not in refused
    assert refused["error_description"].startswith(
        f"AADSTS65001: The user or administrator has not consented to use the application with ID "
        f"'{DEMO.microsoft_client_id}'")

    page = client_session.get(_consent_url(admins_only))
    assert page.status_code == 200 and "sign-in-user" in page.text
    granted = _answer(client_session.post(_consent_url(admins_only), data={"user": ALICE.oid},
                                          allow_redirects=False))
    assert granted == {"admin_consent": "True", "tenant": TENANT, "scope": GRAPH_DEFAULT, "state": "s-1"}

    app, flow, answer = _user_sign_in(admins_only, client_session)
    assert "code" in answer
    assert "access_token" in app.acquire_token_by_auth_code_flow(flow, answer)


def test_an_admin_who_declines_is_answered_with_consent_required_and_nothing_changes(admins_only, client_session):
    declined = _answer(client_session.post(_consent_url(admins_only), data={"cancel": "1"}, allow_redirects=False))
    assert declined["admin_consent"] == "True" and declined["error"] == "consent_required"
    assert declined["error_description"].startswith("AADSTS65004") and declined["state"] == "s-1"
    assert "tenant" not in declined
    assert _user_sign_in(admins_only, client_session)[2]["error"] == "consent_required"


@pytest.mark.parametrize("tenant", ["organizations", "contoso-test.com"])
def test_admin_consent_works_on_organizations_and_a_domain(admins_only, client_session, tenant):
    granted = _answer(client_session.post(_consent_url(admins_only, tenant), data={"user": ALICE.oid},
                                          allow_redirects=False))
    assert granted["tenant"] == TENANT  # the tenant's id, whichever segment was used


def test_admin_consent_on_common_is_refused(admins_only, client_session):
    answer = client_session.get(_consent_url(admins_only, "common"), allow_redirects=False)
    assert answer.status_code == 400 and "Location" not in answer.headers


def test_admin_consent_to_an_unregistered_redirect_uri_is_an_error_page_not_a_redirect(microsoft_url, client_session):
    registered = {"client_id": "c0a5e000-0000-4000-8000-000000000003", "client_secret": "s",
                  "redirect_uris": [CONSENT_URI]}
    assert client_session.post(f"{microsoft_url}/_sandbox/apps", json=registered).status_code == 201
    url = f"{microsoft_url}/{TENANT}/v2.0/adminconsent?" + urlencode(
        {"client_id": registered["client_id"], "scope": GRAPH_DEFAULT,
         "redirect_uri": "https://evil.example/consent", "state": "s"})
    answer = client_session.get(url, allow_redirects=False)
    assert answer.status_code == 400 and "AADSTS50011" in answer.text


def test_admin_consent_needs_a_default_scope(microsoft_url, client_session):
    answer = client_session.get(_consent_url(microsoft_url, scope="Mail.Read"), allow_redirects=False)
    assert answer.status_code == 302 and "error=invalid_request" in answer.headers["Location"]


def test_a_user_consent_tenant_signs_in_without_admin_consent(microsoft_url, client_session):
    assert "code" in _user_sign_in(microsoft_url, client_session)[2]
