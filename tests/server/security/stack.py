"""The security tests' app (a pytest plugin, declared in tests/conftest.py: the Connections
page tests use it too): its own migrated database (rows are rebuilt per test), the test
Redis, and both sandboxes running, so sign-in and Connect Salesforce routes really work."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from sqlalchemy.orm import Session

from mailferry import migrate
from mailferry.crypto import SecretBox
from mailferry.db import make_engine
from tests.browser.stack import clear_database
from tests.db_fixtures import current_backend, empty_database
from tests.config_fixtures import build_config, sandbox_ports
from tests.server.security.world import World, build_world


class Stack:
    def __init__(self, app, database_url: str):
        self.app = app
        self.config = app.config["MAILFERRY"]
        self.database_url = database_url
        self.engine = make_engine(database_url)

    def fresh_world(self) -> World:
        clear_database(self.database_url)
        with Session(self.engine) as session:
            world = build_world(session, SecretBox(self.config.encryption_keys), self.config.salesforce_login_url)
            session.commit()
        return world

    def client(self, sign_in_client, user_id: int | None):
        """A test client, signed in as `user_id` (None: anonymous), talking HTTPS."""
        client = self.app.test_client()
        client.environ_base["wsgi.url_scheme"] = "https"
        # Browsers send a same-origin Referer, which Flask-WTF requires over HTTPS.
        client.environ_base["HTTP_REFERER"] = "https://localhost/"
        if user_id is not None:
            sign_in_client(client, SimpleNamespace(id=user_id))
        return client


@pytest.fixture(scope="module")
def security_stack(tmp_path_factory, redis_url, certs, sandbox_settings, microsoft_app, salesforce_app):
    from server import create_app

    folder = tmp_path_factory.mktemp("security")
    with empty_database(current_backend(), folder) as database_url:
        migrate.upgrade(database_url)
        config = build_config(folder / "data", MAILFERRY_CERTS_DIR=str(certs.folder), DATABASE_URL=database_url,
                              REDIS_URL=redis_url, **sandbox_ports(sandbox_settings))
        stack = Stack(create_app(config), database_url)
        try:
            yield stack
        finally:
            stack.engine.dispose()


@pytest.fixture
def without_csrf(security_stack):
    """The matrix checks access, not CSRF (test_csrf.py does): tokens are not required here."""
    security_stack.app.config["WTF_CSRF_ENABLED"] = False
    yield security_stack
    security_stack.app.config["WTF_CSRF_ENABLED"] = True


@pytest.fixture
def cleared_security_stack(security_stack, demo_microsoft_url, demo_salesforce_url):
    """The security stack with no rows, and both sandboxes reset to the demo seed."""
    clear_database(security_stack.database_url)
    return security_stack
