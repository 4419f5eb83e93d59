"""An app built from a test configuration: a migrated test database and the test Redis."""

from __future__ import annotations

import pytest

from mailferry.config import load_config
from server import create_app


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
    """Make a test client act as a signed-in user, the way Flask-Login's own session does
    (the sign-in flow itself is tested end to end through the sandbox)."""
    with client.session_transaction() as session:
        session["_user_id"] = str(user.id)
        session["_fresh"] = True


@pytest.fixture
def sign_in():
    return sign_in_session
