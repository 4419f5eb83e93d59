"""`/healthz`: whether the server can reach its database and Redis (for probes and `make run`)."""

from __future__ import annotations

import redis
from flask import Blueprint, jsonify
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from mailferry.db import reading
from server.extensions import engine, redis_client

blueprint = Blueprint("health", __name__)


@blueprint.get("/healthz")
def healthz():
    checks = {"database": _database_status(), "redis": _redis_status()}
    healthy = all(status == "ok" for status in checks.values())
    return jsonify(status="ok" if healthy else "unavailable", checks=checks), 200 if healthy else 503


def _database_status() -> str:
    try:
        with reading(engine()).connect() as connection:  # never waits for a writer
            connection.execute(text("SELECT 1"))
        return "ok"
    except SQLAlchemyError as error:
        return f"unreachable: {type(error.orig or error).__name__}"


def _redis_status() -> str:
    try:
        redis_client().ping()
        return "ok"
    except redis.RedisError as error:
        return f"unreachable: {type(error).__name__}"
