"""The one place tests build a Mailferry configuration (a pytest plugin, declared in
tests/conftest.py).

`build_config(data_dir, **variables)` is the product's own `load_config` on the demo
environment with a data folder of the test's and the variables it names (never the
developer's `.env`); session- and module-wide stacks call it directly. The `make_config`
fixture is the same for one test, on the session's migrated database and Redis:
`make_config(MAILFERRY_ENV="production", ...)` overrides any variable.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from mailferry.config import Config, load_config


def build_config(data_dir: Path | str, **variables: str) -> Config:
    return load_config({"MAILFERRY_DATA_DIR": str(data_dir), **variables}, read_dotenv=False)


def sandbox_ports(sandbox_settings) -> dict[str, str]:
    """The variables pointing a configuration at the test sandbox servers (their ports)."""
    return {"MAILFERRY_SANDBOX_MICROSOFT_PORT": sandbox_settings.microsoft_url.rsplit(":", 1)[1],
            "MAILFERRY_SANDBOX_SALESFORCE_PORT": sandbox_settings.salesforce_url.rsplit(":", 1)[1]}


@pytest.fixture
def migrated_database_url(engine, database_url) -> str:
    """The session's test database, migrated (the `engine` fixture migrates it)."""
    return database_url


@pytest.fixture
def make_config(tmp_path, migrated_database_url, redis_url):
    """`make_config(**variables)`: a configuration on the session's database and Redis."""

    def make(**overrides: str) -> Config:
        return build_config(tmp_path / "data", **{"DATABASE_URL": migrated_database_url, "REDIS_URL": redis_url,
                                                  **overrides})

    return make


def demo_defaults() -> Config:
    """The demo configuration with nothing set but its secrets (given, so nothing is written
    anywhere): what the product's demo defaults are, e.g. its app credentials, which the test
    sandboxes are given as their demo apps (tests/sandbox_fixtures.py)."""
    return build_config(Path("unused-data-folder"), MAILFERRY_SECRET_KEY="test-secret-key",
                        MAILFERRY_ENCRYPTION_KEYS=Fernet.generate_key().decode())


#: The product's demo defaults, for helpers that sign in with the demo app outside a fixture.
DEMO = demo_defaults()


def microsoft_sandbox_variables(microsoft_url: str, certs) -> dict[str, str]:
    """The variables pointing a configuration's Microsoft at the sandbox on `microsoft_url`
    (whose certificate the test CA signed)."""
    return {"MICROSOFT_AUTHORITY_HOST": microsoft_url, "MICROSOFT_GRAPH_URL": f"{microsoft_url}/v1.0",
            "MAILFERRY_TLS_CA_FILE": str(certs.ca_cert)}


@pytest.fixture
def microsoft_config(make_config, microsoft_url, certs) -> Config:
    """A configuration whose Microsoft is the sandbox on the hand-made tenant, with the demo
    app's credentials (the product's demo defaults, which the sandbox was given)."""
    return make_config(**microsoft_sandbox_variables(microsoft_url, certs))


@pytest.fixture
def secret_box(microsoft_config):
    """What encrypts tokens at rest under `microsoft_config`'s keys."""
    from mailferry.crypto import SecretBox

    return SecretBox(microsoft_config.encryption_keys)


@pytest.fixture
def app_graph(microsoft_config, certs):
    """A GraphClient with an app-only token of the hand-made tenant (no app token cached
    before or after)."""
    from mailferry.microsoft_identity import acquire_app_token, forget_app_tokens
    from mailferry.tls import https_session
    from tests.sandbox.microsoft.tenant import TENANT
    from worker.microsoft.graph import GraphClient

    forget_app_tokens()
    with https_session(certs.ca_cert) as session:
        yield GraphClient(session, microsoft_config.microsoft_graph_url,
                          lambda: acquire_app_token(microsoft_config, TENANT))
    forget_app_tokens()


def production_variables(**overrides: str) -> dict[str, str]:
    """The variables of a production deployment that `load_config` accepts (every refusal of
    `mailferry.config.production_refusals` answered: a public base URL, a Redis server, a
    database, secrets, app credentials, a single-tenant registration), with the demo app's
    credentials so the test sandboxes accept its sign-ins; `overrides` change or add any."""
    return {
        "MAILFERRY_ENV": "production",
        "MAILFERRY_BASE_URL": "https://mailferry.example.com",
        "REDIS_URL": "redis://redis.example.com:6379/0",
        "DATABASE_URL": "postgresql://mailferry@db.example.com:5432/mailferry",
        "MAILFERRY_SECRET_KEY": "production-secret-key-" + "x" * 26,
        "MAILFERRY_ENCRYPTION_KEYS": "uYvzC0Yl8vL5oH6m6oUQnV4yv2Zl3o8mJtqk6h2cP3Q=",
        "MICROSOFT_CLIENT_ID": DEMO.microsoft_client_id,
        "MICROSOFT_CLIENT_SECRET": DEMO.microsoft_client_secret,
        "MICROSOFT_TENANT": "contoso.onmicrosoft.com",
        "SALESFORCE_CLIENT_ID": DEMO.salesforce_client_id,
        "SALESFORCE_CLIENT_SECRET": DEMO.salesforce_client_secret,
        **overrides,
    }
