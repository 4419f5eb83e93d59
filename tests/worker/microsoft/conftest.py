"""Fixtures for the Microsoft client tests: the Microsoft sandbox over real HTTPS, loaded with the
hand-made world of the sandbox tests, and a Mailferry configuration pointing at it."""

from __future__ import annotations

import pytest
from cryptography.fernet import Fernet

from mailferry import microsoft_identity
from mailferry.config import load_config
from mailferry.crypto import SecretBox
from mailferry.tls import https_session
from sandbox.microsoft import load_world
from sandbox.microsoft.apps import DEMO_CLIENT_ID, DEMO_CLIENT_SECRET
from tests.sandbox.conftest import microsoft_app, sandbox_settings  # noqa: F401  (the sandbox server)
from tests.sandbox.microsoft.conftest import ALICE, REDIRECT_URI, TENANT, make_world, pick_user
from worker.microsoft.graph import GraphClient


@pytest.fixture
def ms(microsoft_app, sandbox_settings) -> str:  # noqa: F811
    """Base URL of the Microsoft sandbox, loaded with the sandbox tests' small world."""
    load_world(microsoft_app, make_world())
    return sandbox_settings.microsoft_url


@pytest.fixture(autouse=True)
def _fresh_app_token_cache():
    # App-only msal clients live for the process; each test starts without them.
    microsoft_identity.forget_app_tokens()
    yield
    microsoft_identity.forget_app_tokens()


@pytest.fixture
def make_config(ms, certs, tmp_path):
    def make(**overrides):
        env = {
            "MAILFERRY_DATA_DIR": str(tmp_path / "data"),
            "MAILFERRY_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
            "MAILFERRY_TLS_CA_FILE": str(certs.ca_cert),
            "MICROSOFT_AUTHORITY_HOST": ms,
            "MICROSOFT_GRAPH_URL": f"{ms}/v1.0",
            "MICROSOFT_CLIENT_ID": DEMO_CLIENT_ID,
            "MICROSOFT_CLIENT_SECRET": DEMO_CLIENT_SECRET,
            **overrides,
        }
        return load_config(env, read_dotenv=False)

    return make


@pytest.fixture
def config(make_config):
    return make_config()


@pytest.fixture
def box(config) -> SecretBox:
    return SecretBox(config.encryption_keys)


@pytest.fixture
def sign_in(config, client_session):
    """Sign a demo user in through Mailferry's own flow: returns the `SignedIn`."""

    def run(upn: str = ALICE.upn):
        flow = microsoft_identity.start_sign_in(config, REDIRECT_URI)
        back = pick_user(client_session, flow["auth_uri"], upn)
        return microsoft_identity.finish_sign_in(config, flow, back)

    return run


@pytest.fixture
def app_graph(config, certs):
    """A GraphClient with an app-only token of the test tenant."""
    with https_session(certs.ca_cert) as session:
        yield GraphClient(session, config.microsoft_graph_url,
                          lambda: microsoft_identity.acquire_app_token(config, TENANT))
