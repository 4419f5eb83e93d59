"""An app built from a test configuration: a migrated test database and the test Redis."""

from __future__ import annotations

import pytest

from mailferry.config import load_config
from server import create_app, sign_in_sessions


@pytest.fixture
def migrated_database_url(engine, database_url) -> str:
    """The session's test database, migrated (the `engine` fixture migrates it)."""
    return database_url


@pytest.fixture
def make_config(tmp_path, migrated_database_url, redis_url):
    def make(**overrides):
        env = {
            "MAILFERRY_DATA_DIR": str(tmp_path / "data"),
            "DATABASE_URL": migrated_database_url,
            "REDIS_URL": redis_url,
            **overrides,
        }
        return load_config(env, read_dotenv=False)

    return make


@pytest.fixture
def app(make_config):
    return create_app(make_config())


def sign_in_session(client, user) -> None:
    """Make a test client act as a signed-in user, the way the callback does: a sign-in
    recorded in Redis (`server.sign_in_sessions`) and Flask-Login's fields in the cookie (the
    sign-in flow itself is tested end to end through the sandbox)."""
    with client.application.app_context():
        session_id = sign_in_sessions.start(user.id)
    with client.session_transaction() as session:
        session[sign_in_sessions.SESSION_KEY] = session_id
        session["_user_id"] = str(user.id)
        session["_fresh"] = True
        session.permanent = True


@pytest.fixture
def sign_in():
    return sign_in_session
