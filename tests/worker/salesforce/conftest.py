"""The Salesforce sandbox over real HTTPS (the sandbox tests' session-wide server, reset per
test), driven only through its public HTTP surface: OAuth pages, REST and the control API.
Our client code runs unmodified on real simple-salesforce and requests."""

from __future__ import annotations

import pytest

from mailferry.salesforce_identity import SalesforceOAuth, token_set
from tests.worker.salesforce.oauth_flow import CLIENT_ID, CLIENT_SECRET, REDIRECT_URI, sign_in
from worker.salesforce.session import SalesforceSession


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
def salesforce_control(demo_salesforce_url, client_session) -> Sandbox:
    return Sandbox(demo_salesforce_url, client_session)


@pytest.fixture
def oauth(demo_salesforce_url, client_session) -> SalesforceOAuth:
    return SalesforceOAuth(demo_salesforce_url, CLIENT_ID, CLIENT_SECRET, REDIRECT_URI, client_session)


@pytest.fixture
def salesforce_tokens(salesforce_control, oauth, client_session) -> dict:
    """Tokens from the real OAuth flow (so they can be refreshed by our client)."""
    return sign_in(client_session, salesforce_control.url, oauth)


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
def salesforce_session(make_session, salesforce_tokens) -> SalesforceSession:
    return make_session(salesforce_tokens)


@pytest.fixture
def owner_id(salesforce_control) -> str:
    """An active user to own the Tasks."""
    return next(u["Id"] for u in salesforce_control.records("User") if u.get("IsActive", True))
