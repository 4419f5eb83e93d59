"""Probes for load balancers and orchestrators (SPEC section 14).

- `/healthz`: the web process is alive and answering (a liveness probe: restart it if not).
  It touches nothing else, so a database or Redis outage never makes every web process
  look dead at once.
- `/readyz`: this deployment can do its work (a readiness probe: send traffic, or page
  someone): the database answers, Redis answers, the schema is at the code's revision, and
  at least one worker and one scheduler have beaten within a few of their intervals
  (`mailferry.heartbeats`). 200 with each check, else 503 naming the failing ones.
"""

from __future__ import annotations

from datetime import UTC, datetime

import redis
from flask import Blueprint, jsonify
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from mailferry import heartbeats
from mailferry.db import reading
from mailferry.migrate import schema_refusal
from server.extensions import config, engine, redis_client

blueprint = Blueprint("health", __name__)


@blueprint.get("/healthz")
def healthz():
    return jsonify(status="ok")


@blueprint.get("/readyz")
def readyz():
    checks = {"database": _database_status(), "redis": _redis_status()}
    checks["schema"] = _schema_status() if checks["database"] == "ok" else "unknown: the database is unreachable"
    alive: dict[str, list[str]] = {}
    for role in heartbeats.ROLES:
        checks[role], alive[role] = _heartbeat_status(role) if checks["redis"] == "ok" else (
            "unknown: Redis is unreachable", [])
    failing = [name for name, status in checks.items() if status != "ok"]
    body = {"status": "unavailable" if failing else "ok", "checks": checks, "failing": failing, "alive": alive}
    return jsonify(body), 503 if failing else 200


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


def _schema_status() -> str:
    try:
        return schema_refusal(config().database_url) or "ok"
    except SQLAlchemyError as error:
        return f"unknown: {type(error.orig or error).__name__}"


def _heartbeat_status(role: str) -> tuple[str, list[str]]:
    try:
        state = heartbeats.state(redis_client(), role)
    except redis.RedisError as error:
        return f"unknown: {type(error).__name__}", []
    if state.alive:
        return "ok", list(state.alive)
    if state.silent:
        name, since = state.silent[0]
        at = datetime.fromtimestamp(since, UTC).strftime("%Y-%m-%d %H:%M:%S")
        return f"no {role} heartbeat: the last one, {name}, went silent at {at} UTC", []
    return f"no {role} heartbeat: no `mailferry {role}` has run against this Redis in the last day", []
