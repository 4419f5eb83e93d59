"""Fixtures for the Microsoft client tests, on the Microsoft sandbox loaded with the hand-made
tenant (`microsoft_url`) and a configuration pointing at it (`microsoft_config`, with
`secret_box` and `app_graph`: tests/config_fixtures.py)."""

from __future__ import annotations

import pytest

from mailferry import microsoft_identity
from tests.sandbox.microsoft.tenant import ALICE, REDIRECT_URI, pick_user


@pytest.fixture(autouse=True)
def _fresh_app_token_cache():
    # App-only msal clients live for the process; each test starts without them.
    microsoft_identity.forget_app_tokens()
    yield
    microsoft_identity.forget_app_tokens()


@pytest.fixture
def microsoft_sign_in(microsoft_config, client_session):
    """Sign a demo user in through Mailferry's own flow: returns the `SignedIn`."""

    def run(upn: str = ALICE.upn):
        flow = microsoft_identity.start_sign_in(microsoft_config, REDIRECT_URI)
        back = pick_user(client_session, flow["auth_uri"], upn)
        return microsoft_identity.finish_sign_in(microsoft_config, flow, back)

    return run
