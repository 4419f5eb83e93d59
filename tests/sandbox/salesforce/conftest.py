"""Fixtures for the Salesforce sandbox tests: the running server loaded with the small org
of tests/sandbox/salesforce/org.py, a session and a real simple-salesforce client."""

from __future__ import annotations

import pytest
from simple_salesforce import Salesforce

from tests.sandbox.salesforce.org import small_world


@pytest.fixture
def salesforce_state(salesforce_app):
    """The app's SalesforceSandbox, reset to the small world."""
    state = salesforce_app.extensions["salesforce_sandbox"]
    state.load_world(small_world())
    return state


@pytest.fixture
def salesforce_url(salesforce_state, sandbox_settings) -> str:
    return sandbox_settings.salesforce_url


@pytest.fixture
def token(salesforce_url, client_session) -> str:
    """An access token for the rep, from the control API (the OAuth flow has its own tests)."""
    response = client_session.post(f"{salesforce_url}/_sandbox/sessions", json={"username": "rep@example.com.crm"})
    assert response.status_code == 201
    return response.json()["access_token"]


@pytest.fixture
def simple_salesforce_client(salesforce_url, token, client_session) -> Salesforce:
    """The real simple-salesforce client, unmodified, over HTTPS with verification on."""
    return Salesforce(instance_url=salesforce_url, session_id=token, session=client_session)


@pytest.fixture
def rest_api(salesforce_url, token, client_session):
    """Plain requests against /services/data/v59.0 with the rep's bearer token."""

    class Api:
        base = f"{salesforce_url}/services/data/v59.0"
        headers = {"Authorization": f"Bearer {token}"}

        def call(self, method: str, path: str, **kwargs):
            headers = {**self.headers, **kwargs.pop("headers", {})}
            return client_session.request(method, self.base + path, headers=headers, **kwargs)

    return Api()


@pytest.fixture
def org_settings(salesforce_url, client_session):
    """Change org settings through the control API: org_settings(shared_activities=False)."""

    def change(**settings):
        response = client_session.patch(f"{salesforce_url}/_sandbox/org", json=settings)
        assert response.status_code == 200, response.text
        return response.json()

    return change
