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
from functools import cache

import redis
from alembic.runtime.migration import MigrationContext
from flask import Blueprint, jsonify
from sqlalchemy.exc import SQLAlchemyError

from mailferry import heartbeats
from mailferry.db import reading
from mailferry.migrate import head, schema_refusal
from server.extensions import config, engine, redis_client

blueprint = Blueprint("health", __name__)


@blueprint.get("/healthz")
def healthz():
    return jsonify(status="ok")


@blueprint.get("/readyz")
def readyz():
    database, schema = _database_and_schema_status()
    checks = {"database": database, "redis": _redis_status(), "schema": schema}
    alive: dict[str, list[str]] = {}
    for role in heartbeats.ROLES:
        checks[role], alive[role] = _heartbeat_status(role) if checks["redis"] == "ok" else (
            "unknown: Redis is unreachable", [])
    failing = [name for name, status in checks.items() if status != "ok"]
    body = {"status": "unavailable" if failing else "ok", "checks": checks, "failing": failing, "alive": alive}
    return jsonify(body), 503 if failing else 200


@cache
def _code_revision() -> str:
    return head()  # the code's newest migration: fixed for the life of the process


def _database_and_schema_status() -> tuple[str, str]:
    """One read on the app's own engine, which never waits for a writer (a probe must not
    hang behind a long write on SQLite); the refusal's wording only when they differ."""
    try:
        with reading(engine()).connect() as connection:
            at = MigrationContext.configure(connection).get_current_revision()
    except SQLAlchemyError as error:
        return f"unreachable: {type(error.orig or error).__name__}", "unknown: the database is unreachable"
    if at == _code_revision():
        return "ok", "ok"
    try:
        return "ok", schema_refusal(config().database_url) or "ok"  # migrated meanwhile: ok
    except SQLAlchemyError as error:
        return "ok", f"unknown: {type(error.orig or error).__name__}"


def _redis_status() -> str:
    try:
        redis_client().ping()
        return "ok"
    except redis.RedisError as error:
        return f"unreachable: {type(error).__name__}"


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
