"""Both sandbox servers over real HTTPS, started once per test session (a pytest plugin,
declared in tests/conftest.py).

They are started as `make run` starts them: their settings come from a demo configuration
(`cli.processes.sandbox_settings`), so they know the product's demo app credentials.

- `demo_microsoft_url`, `demo_salesforce_url`: a server's base URL, reset to the demo seed.
- `microsoft_url`: the Microsoft server's base URL, loaded with the hand-made tenant of
  tests/sandbox/microsoft/tenant.py (its users, mail and sign-ins); `microsoft_state` is
  that server's state, in this process.
"""

from __future__ import annotations

import pytest

from cli.processes import free_port, sandbox_settings as settings_of
from sandbox.settings import SandboxSettings
from tests.config_fixtures import build_config
from tests.https_server import start_https


@pytest.fixture(scope="session")
def sandbox_settings(tmp_path_factory, certs) -> SandboxSettings:
    config = build_config(tmp_path_factory.mktemp("sandbox-config"), MAILFERRY_CERTS_DIR=str(certs.folder),
                          MAILFERRY_SANDBOX_MICROSOFT_PORT=str(free_port()),
                          MAILFERRY_SANDBOX_SALESFORCE_PORT=str(free_port()))
    return settings_of(config, keep_world=False)


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
def demo_microsoft_url(microsoft_app, sandbox_settings, client_session) -> str:
    """Base URL of the Microsoft sandbox, freshly reset to the demo seed."""
    url = sandbox_settings.microsoft_url
    client_session.post(f"{url}/_sandbox/reset", json={"seed": 1}).raise_for_status()
    return url


@pytest.fixture
def demo_salesforce_url(salesforce_app, sandbox_settings, client_session) -> str:
    """Base URL of the Salesforce sandbox, freshly reset to the demo seed."""
    url = sandbox_settings.salesforce_url
    client_session.post(f"{url}/_sandbox/reset", json={"seed": 1}).raise_for_status()
    return url


@pytest.fixture
def microsoft_url(microsoft_app, sandbox_settings) -> str:
    """Base URL of the Microsoft sandbox, loaded with the hand-made tenant (`make_world()`)."""
    from sandbox.microsoft import load_world
    from tests.sandbox.microsoft.tenant import make_world

    load_world(microsoft_app, make_world())
    return sandbox_settings.microsoft_url


@pytest.fixture
def microsoft_state(microsoft_app):
    """The Microsoft sandbox server's state (`MicrosoftSandbox`), in this process."""
    return microsoft_app.extensions["mailferry_microsoft_sandbox"]
