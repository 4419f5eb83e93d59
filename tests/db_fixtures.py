"""Database fixtures (a pytest plugin: `pytest_plugins = ["tests.db_fixtures"]`).

The backend follows the environment, like the product: with `DATABASE_URL` set (CI points
it at PostgreSQL) each test session creates its own uniquely named database on that server
and drops it at the end; otherwise a SQLite file in a temporary folder. Tests that must
run on both databases whatever the environment use `both_backends_url`.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from mailferry.db import make_engine, normalise_url
from mailferry.migrate import upgrade

#: The PostgreSQL server the both-backends tests use when DATABASE_URL is not PostgreSQL.
LOCAL_POSTGRESQL_URL = os.environ.get(
    "MAILFERRY_TEST_POSTGRESQL_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)


def is_postgresql(url: str | None) -> bool:
    return bool(url) and make_url(normalise_url(url)).get_backend_name() == "postgresql"


def postgresql_server_url() -> str:
    """The server for PostgreSQL tests: DATABASE_URL's if it is PostgreSQL, else local."""
    url = os.environ.get("DATABASE_URL")
    return url if is_postgresql(url) else LOCAL_POSTGRESQL_URL


@contextmanager
def temporary_postgresql_database(server_url: str) -> Iterator[str]:
    """A new, empty database on the server of `server_url`, dropped on exit."""
    name = f"mailferry_test_{uuid.uuid4().hex[:12]}"
    admin = make_engine(server_url, isolation_level="AUTOCOMMIT", pool_size=1)
    try:
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
        url = make_url(normalise_url(server_url)).set(database=name)
        try:
            yield url.render_as_string(hide_password=False)
        finally:
            with admin.connect() as connection:
                connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()


def sqlite_url(directory: Path) -> str:
    return f"sqlite:///{directory / 'mailferry.db'}"


def require_postgresql(server_url: str) -> None:
    """Skip the calling test, saying why, when the PostgreSQL server cannot be reached.

    Only the local fallback server may be missing: when DATABASE_URL names PostgreSQL
    (CI), an unreachable server is an error, so a broken run never passes by skipping.
    """
    if is_postgresql(os.environ.get("DATABASE_URL")):
        return
    engine = make_engine(server_url, connect_args={"connect_timeout": 3})
    try:
        with engine.connect():
            pass
    except OperationalError as error:
        host = make_url(normalise_url(server_url)).host
        reason = f"PostgreSQL at {host} unreachable: {error.orig}"
        print(reason)
        pytest.skip(reason)
    finally:
        engine.dispose()


@contextmanager
def empty_database(backend: str, directory: Path) -> Iterator[str]:
    """The URL of a new empty database on `backend` ("sqlite" or "postgresql")."""
    if backend == "sqlite":
        yield sqlite_url(directory)
        return
    server_url = postgresql_server_url()
    require_postgresql(server_url)
    with temporary_postgresql_database(server_url) as url:
        yield url


def current_backend() -> str:
    return "postgresql" if is_postgresql(os.environ.get("DATABASE_URL")) else "sqlite"


@pytest.fixture(scope="session")
def database_url(tmp_path_factory) -> Iterator[str]:
    """An empty database for this test session, on the backend DATABASE_URL selects."""
    with empty_database(current_backend(), tmp_path_factory.mktemp("db")) as url:
        yield url


@pytest.fixture(scope="session")
def engine(database_url) -> Iterator[Engine]:
    """An engine on the session's database, migrated to the newest revision."""
    upgrade(database_url)
    engine = make_engine(database_url)
    yield engine
    engine.dispose()


@contextmanager
def rolled_back_session(engine: Engine) -> Iterator[Session]:
    """A session whose work is all rolled back at the end (its commits become savepoints)."""
    connection = engine.connect()
    transaction = connection.begin()
    session = Session(
        bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False
    )
    try:
        yield session
    finally:
        session.close()
        transaction.rollback()
        connection.close()


@pytest.fixture
def db_session(engine) -> Iterator[Session]:
    """A session on the migrated database, rolled back after the test."""
    with rolled_back_session(engine) as session:
        yield session


@pytest.fixture
def empty_database_url(tmp_path) -> Iterator[str]:
    """A new empty database on the current backend, for tests that migrate it themselves."""
    with empty_database(current_backend(), tmp_path) as url:
        yield url


@pytest.fixture(params=["sqlite", "postgresql"])
def both_backends_url(request, tmp_path) -> Iterator[str]:
    """A new empty database on SQLite, then on PostgreSQL, whatever DATABASE_URL says."""
    with empty_database(request.param, tmp_path) as url:
        yield url


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def both_backends_engine(request, tmp_path_factory) -> Iterator[Engine]:
    """A migrated database on SQLite, then on PostgreSQL, shared by the tests of a module."""
    with empty_database(request.param, tmp_path_factory.mktemp("db")) as url:
        upgrade(url)
        engine = make_engine(url)
        try:
            yield engine
        finally:
            engine.dispose()


@pytest.fixture
def both_backends_session(both_backends_engine) -> Iterator[Session]:
    """A rolled-back session on `both_backends_engine`."""
    with rolled_back_session(both_backends_engine) as session:
        yield session
