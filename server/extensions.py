"""Connections the app holds for its lifetime: the database and Redis."""

from __future__ import annotations

import redis
from flask import Flask, current_app
from sqlalchemy.engine import Engine

from mailferry.config import Config
from mailferry.db import make_engine


def init_app(app: Flask, config: Config) -> None:
    app.extensions["mailferry.engine"] = make_engine(config.database_url)
    app.extensions["mailferry.redis"] = redis.Redis.from_url(
        config.redis_url, socket_timeout=2, socket_connect_timeout=2
    )


def engine() -> Engine:
    return current_app.extensions["mailferry.engine"]


def redis_client() -> redis.Redis:
    return current_app.extensions["mailferry.redis"]
