"""Connections the app holds for its lifetime: the database and Redis."""

from __future__ import annotations

import redis
from collections.abc import Iterator
from contextlib import contextmanager

from flask import Flask, current_app
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from mailferry.config import Config
from mailferry.db import make_engine, make_session_factory


def init_app(app: Flask, config: Config) -> None:
    app.extensions["mailferry.engine"] = make_engine(config.database_url)
    app.extensions["mailferry.sessions"] = make_session_factory(app.extensions["mailferry.engine"])
    app.extensions["mailferry.redis"] = redis.Redis.from_url(
        config.redis_url, socket_timeout=2, socket_connect_timeout=2
    )


def engine() -> Engine:
    return current_app.extensions["mailferry.engine"]


def redis_client() -> redis.Redis:
    return current_app.extensions["mailferry.redis"]


@contextmanager
def db_session() -> Iterator[Session]:
    """A database session for one piece of request work; closed (not committed) at the end."""
    with current_app.extensions["mailferry.sessions"]() as session:
        yield session
