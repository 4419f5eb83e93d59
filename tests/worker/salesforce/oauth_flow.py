"""Signing in to the Salesforce sandbox the way a person does (the web server flow with
PKCE, clicks played by requests), with a connected app of the tests' own."""

from __future__ import annotations

import html
import re
import uuid
from urllib.parse import parse_qs, urlsplit

from mailferry.salesforce_identity import Pkce, SalesforceOAuth, authorize_url

CLIENT_ID = "mailferry-test-app"
CLIENT_SECRET = "mailferry-test-secret"
REDIRECT_URI = "https://localhost:3000/connections/salesforce/callback"


def authorization_code(http, login_url: str, oauth: SalesforceOAuth, *, user_index: int = 0) -> tuple[str, Pkce]:
    """Open the authorize page with a PKCE challenge, click a user, read the code from the
    redirect (a person's clicks played by requests)."""
    pkce = Pkce.new()
    state = uuid.uuid4().hex
    page = http.get(authorize_url(login_url, oauth.client_id, oauth.redirect_uri, state, pkce.challenge))
    assert page.status_code == 200, page.text
    form = {name: html.unescape(value)
            for name, value in re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', page.text)}
    users = re.findall(r'name="user_id" value="(005\w+)" data-testid="sf-login-user"', page.text)
    answer = http.post(f"{login_url}/services/oauth2/authorize", data={**form, "user_id": users[user_index]},
                       allow_redirects=False)
    assert answer.status_code == 302, answer.text
    location = answer.headers["Location"]
    assert location.startswith(oauth.redirect_uri)
    query = {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}
    assert query["state"] == state
    return query["code"], pkce


def sign_in(http, login_url: str, oauth: SalesforceOAuth, *, user_index: int = 0) -> dict:
    """The whole web server flow with PKCE: authorize, then exchange the code."""
    code, pkce = authorization_code(http, login_url, oauth, user_index=user_index)
    return oauth.exchange_code(code, pkce.verifier)
