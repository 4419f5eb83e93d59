"""Connections the app holds for its lifetime: the database and Redis."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import redis
from flask import Flask, current_app, g
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from mailferry.config import Config
from mailferry.db import make_engine, make_session_factory


def init_app(app: Flask, config: Config) -> None:
    app.extensions["mailferry.engine"] = make_engine(config.database_url)
    app.extensions["mailferry.sessions"] = make_session_factory(app.extensions["mailferry.engine"])
    app.extensions["mailferry.read_sessions"] = make_session_factory(app.extensions["mailferry.engine"],
                                                                     read_only=True)
    app.extensions["mailferry.redis"] = redis.Redis.from_url(
        config.redis_url, socket_timeout=2, socket_connect_timeout=2
    )
    app.teardown_appcontext(_close_request_session)


def engine() -> Engine:
    return current_app.extensions["mailferry.engine"]


def redis_client() -> redis.Redis:
    return current_app.extensions["mailferry.redis"]


@contextmanager
def db_session() -> Iterator[Session]:
    """A database session for one piece of request work; closed (not committed) at the end."""
    with current_app.extensions["mailferry.sessions"]() as session:
        yield session


def db() -> Session:
    """The request's database session: opened on first use, closed when the request ends.
    Views commit what they change; anything uncommitted is rolled back at the close."""
    if "db" not in g:
        g.db = current_app.extensions["mailferry.sessions"]()
    return g.db


def read_db() -> Session:
    """The request's read-only session, for views that only read: on SQLite it never waits
    for a worker's or another user's write (mailferry/db.py). Closed when the request ends."""
    if "read_db" not in g:
        g.read_db = current_app.extensions["mailferry.read_sessions"]()
    return g.read_db


def config() -> Config:
    return current_app.config["MAILFERRY"]


def _close_request_session(_error) -> None:
    for name in ("db", "read_db"):
        session = g.pop(name, None)
        if session is not None:
            session.close()
