"""Fixtures every test may use: the development certificates and an HTTPS client trusting them,
Redis, and (as plugins, declared once here: pytest reads `pytest_plugins` only in this file)
the fixtures several test folders share. A conftest below holds only its own folder's
fixtures; a helper several modules call lives in a plain module beside them."""

from __future__ import annotations

from pathlib import Path

import pytest

from mailferry.tls import CertificatePaths, ensure_certificates, https_session

pytest_plugins = [
    "tests.db_fixtures",  # databases: the session's, empty ones, both backends
    "tests.config_fixtures",  # make_config: the one factory of test configurations
    "tests.sandbox_fixtures",  # both sandbox servers, demo-seeded or on the hand-made tenant
    "tests.web_fixtures",  # signing a test client in, the sync queue
    "tests.server.settings.world",  # tenant_world, web_client: the settings and admin pages
    "tests.server.security.stack",  # security_stack: the security and Connections page tests
]


@pytest.fixture(scope="session")
def certs(tmp_path_factory) -> CertificatePaths:
    paths, _ = ensure_certificates(Path(tmp_path_factory.mktemp("certs")))
    return paths


@pytest.fixture
def client_session(certs):
    """A `requests.Session` verifying against the test CA only (verification on)."""
    with https_session(certs.ca_cert) as session:
        yield session


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory):
    """REDIS_URL when set (CI's server), else a private embedded Redis for this test session."""
    import os

    if os.environ.get("REDIS_URL"):
        yield os.environ["REDIS_URL"]
        return
    from mailferry.embedded_redis import EmbeddedRedis

    with EmbeddedRedis(Path(tmp_path_factory.mktemp("redis")) / "redis.sock") as server:
        yield server.url


@pytest.fixture
def run_env(tmp_path, empty_database_url, redis_url):
    """The environment of a `mailferry run` of its own (tests/mailferry_run.py)."""
    from tests.mailferry_run import run_environment

    return run_environment(tmp_path, empty_database_url, redis_url)
