"""Both sandbox servers over real HTTPS, started once per test session; state reset per test."""

from __future__ import annotations

import pytest

from sandbox.settings import SandboxSettings
from cli.processes import free_port
from tests.https_server import start_https


@pytest.fixture(scope="session")
def sandbox_settings(certs) -> SandboxSettings:
    return SandboxSettings(
        microsoft_url=f"https://localhost:{free_port()}",
        salesforce_url=f"https://localhost:{free_port()}",
        seed=1,
        ca_file=str(certs.ca_cert),
    )


def _serve(app, certs, url):
    """Serve on the port named in `url`: the app must know its own URL before it starts."""
    server, _ = start_https(app, certs, port=int(url.rsplit(":", 1)[1]))
    return server


@pytest.fixture(scope="session")
def microsoft_app(sandbox_settings, certs):
    from sandbox.microsoft import create_app

    app = create_app(sandbox_settings)
    server = _serve(app, certs, sandbox_settings.microsoft_url)
    yield app
    server.shutdown()


@pytest.fixture(scope="session")
def salesforce_app(sandbox_settings, certs):
    from sandbox.salesforce import create_app

    app = create_app(sandbox_settings)
    server = _serve(app, certs, sandbox_settings.salesforce_url)
    yield app
    server.shutdown()


@pytest.fixture
def microsoft(microsoft_app, sandbox_settings, client_session) -> str:
    """Base URL of the Microsoft sandbox, freshly reset to the demo seed."""
    url = sandbox_settings.microsoft_url
    client_session.post(f"{url}/_sandbox/reset", json={"seed": 1}).raise_for_status()
    return url


@pytest.fixture
def salesforce(salesforce_app, sandbox_settings, client_session) -> str:
    """Base URL of the Salesforce sandbox, freshly reset to the demo seed."""
    url = sandbox_settings.salesforce_url
    client_session.post(f"{url}/_sandbox/reset", json={"seed": 1}).raise_for_status()
    return url
