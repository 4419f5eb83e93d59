"""The Salesforce sandbox over real HTTPS (the sandbox tests' session-wide server, reset per
test), driven only through its public HTTP surface: OAuth pages, REST and the control API.
Our client code runs unmodified on real simple-salesforce and requests."""

from __future__ import annotations

import html
import re
import uuid
from urllib.parse import parse_qs, urlsplit

import pytest

from mailferry.salesforce_identity import Pkce, SalesforceOAuth, authorize_url, token_set
from tests.sandbox.conftest import salesforce, salesforce_app, sandbox_settings  # noqa: F401  (shared fixtures)
from worker.salesforce.session import SalesforceSession

CLIENT_ID = "mailferry-test-app"
CLIENT_SECRET = "mailferry-test-secret"
REDIRECT_URI = "https://localhost:3000/connections/salesforce/callback"


class Sandbox:
    """The control API of the running Salesforce sandbox."""

    def __init__(self, url: str, http):
        self.url = url
        self.http = http

    def plant(self, sobject: str, records: list[dict] | dict) -> list[str]:
        answer = self.http.post(f"{self.url}/_sandbox/records/{sobject}", json=records)
        assert answer.status_code == 201, answer.text
        return answer.json()["ids"]

    def records(self, sobject: str, **filters) -> list[dict]:
        answer = self.http.get(f"{self.url}/_sandbox/records/{sobject}", params=filters)
        assert answer.status_code == 200, answer.text
        return answer.json()["records"]

    def org(self, **settings) -> dict:
        answer = self.http.patch(f"{self.url}/_sandbox/org", json=settings)
        assert answer.status_code == 200, answer.text
        return answer.json()

    def faults(self, *rules: dict) -> None:
        answer = self.http.post(f"{self.url}/_sandbox/faults", json=list(rules))
        assert answer.status_code == 201, answer.text

    def stats(self) -> dict:
        return self.http.get(f"{self.url}/_sandbox/stats").json()

    def reset_stats(self) -> None:
        self.http.post(f"{self.url}/_sandbox/stats/reset").raise_for_status()

    def data_calls(self) -> int:
        """REST calls under /services/data/vNN.N (what the org's allowance counts)."""
        return sum(n for route, n in self.stats()["calls"].items() if "/services/data/v" in route)

    def control_tokens(self) -> dict:
        answer = self.http.post(f"{self.url}/_sandbox/sessions", json={})
        assert answer.status_code == 201, answer.text
        return token_set(answer.json())


@pytest.fixture
def sandbox(salesforce, client_session) -> Sandbox:  # noqa: F811
    return Sandbox(salesforce, client_session)


@pytest.fixture
def oauth(salesforce, client_session) -> SalesforceOAuth:  # noqa: F811
    return SalesforceOAuth(salesforce, CLIENT_ID, CLIENT_SECRET, REDIRECT_URI, client_session)


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


@pytest.fixture
def signed_in(sandbox, oauth, client_session) -> dict:
    """Tokens from the real OAuth flow (so they can be refreshed by our client)."""
    return sign_in(client_session, sandbox.url, oauth)


@pytest.fixture
def make_session(certs, oauth):
    made: list[SalesforceSession] = []

    def make(tokens: dict, **kwargs) -> SalesforceSession:
        kwargs.setdefault("oauth", oauth)
        session = SalesforceSession(tokens, ca_file=certs.ca_cert, **kwargs)
        made.append(session)
        return session

    yield make
    for session in made:
        session.close()


@pytest.fixture
def sf(make_session, signed_in) -> SalesforceSession:
    return make_session(signed_in)


@pytest.fixture
def owner_id(sandbox) -> str:
    """An active user to own the Tasks."""
    return next(u["Id"] for u in sandbox.records("User") if u.get("IsActive", True))
