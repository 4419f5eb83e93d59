"""Web sign-ins that the server can end: a session id in the signed cookie, its record in Redis.

Flask's session cookie is signed, not stored: on its own it stays valid for as long as its
signature is accepted, whatever the server does, so a copy taken before sign-out would go on
working. Each sign-in therefore gets a random id (`SESSION_KEY` in the cookie) whose record
lives in Redis under a hash of it (user id, when it began, when it was last used). Every
request that carries a signed-in cookie is checked against that record before anything else
runs (`init_app` registers the check ahead of CSRF): no record, another user, older than
`session_hours` or unused for `session_idle_minutes` → the cookie's session is emptied and
the request goes on anonymous (sign-in pages redirect, and its CSRF secret is gone with it,
so its CSRF tokens fail too). Sign-out deletes the record.

Why Redis, not the database: every deployment has it (sign-in itself keeps its flow there);
expiry is native (a forgotten sign-in disappears without a purge job); and a check per
request must not write to the database, where on SQLite every write takes the one write
lock. Losing Redis signs everyone out and loses no data. When Redis cannot be reached a
signed-in request is refused with a clear 503 page, never let through unchecked.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
import time

import redis
from flask import Flask, Response, g, render_template, request, session

from server.extensions import config, redis_client

log = logging.getLogger(__name__)

#: The cookie's field holding the sign-in's random id.
SESSION_KEY = "_mf_sid"
#: Flask-Login's field for the signed-in user's id.
USER_KEY = "_user_id"
_PREFIX = "mailferry:sign-in:"
#: The "last used" time is rewritten at most this often (not a Redis write per request), so
#: the idle timeout holds to within this many seconds.
TOUCH_EVERY_SECONDS = 60
#: Requests that never use the cookie: the bearer-token add-in API, Graph's webhooks, the
#: health checks and static files. They are not checked (nor refused when Redis is down).
COOKIELESS_BLUEPRINTS = {"addin_api", "graph_webhooks", "health"}
FILE_ENDPOINTS = {"static", "addin.asset", "addin.msal_browser", "addin.manifest"}
#: Sign-out must always empty the browser's cookie, even when Redis cannot be reached.
SIGN_OUT_ENDPOINT = "auth.sign_out"


class SessionStoreUnavailable(Exception):
    """Redis did not answer: a sign-in can be neither started nor checked."""


def key_for(session_id: str) -> str:
    """The Redis key of a sign-in (a hash of its id: Redis never holds a usable cookie value)."""
    return _PREFIX + hashlib.sha256(session_id.encode()).hexdigest()


def _absolute_seconds() -> int:
    return config().session_hours * 3600


def _idle_seconds() -> int:
    return config().session_idle_minutes * 60


def start(user_id: int) -> str:
    """Record a new sign-in for `user_id`; its id, for the cookie. Raises
    SessionStoreUnavailable when Redis does not answer."""
    session_id = secrets.token_urlsafe(32)
    now = int(time.time())
    try:
        with redis_client().pipeline(transaction=True) as pipe:
            pipe.hset(key_for(session_id), mapping={"uid": user_id, "created": now, "seen": now})
            pipe.expire(key_for(session_id), _idle_seconds())
            pipe.execute()
    except redis.RedisError as error:
        raise SessionStoreUnavailable(str(error)) from error
    return session_id


def begin(user_id: int) -> None:
    """A new sign-in for `user_id`, its id put in the (already cleared) session."""
    session[SESSION_KEY] = start(user_id)
    session.permanent = True  # the cookie itself expires with the absolute lifetime


def end() -> bool:
    """Delete this browser's sign-in record; False when Redis could not be reached."""
    session_id = session.get(SESSION_KEY)
    if not isinstance(session_id, str):
        return True
    try:
        redis_client().delete(key_for(session_id))
    except redis.RedisError as error:
        log.warning("sign-out could not delete its session record: %s", error)
        return False
    return True


def _live_user(session_id: str) -> int | None:
    """The user of a live sign-in (its last use now recorded), else None (and the record
    of an expired one removed). Raises redis.RedisError."""
    client = redis_client()
    key = key_for(session_id)
    record = {k.decode(): int(v) for k, v in client.hgetall(key).items()}
    if not {"uid", "created", "seen"} <= record.keys():
        return None
    now = int(time.time())
    age, idle = now - record["created"], now - record["seen"]
    if age >= _absolute_seconds() or idle >= _idle_seconds():
        client.delete(key)
        return None
    if idle >= TOUCH_EVERY_SECONDS:
        with client.pipeline(transaction=True) as pipe:
            pipe.hset(key, "seen", now)
            pipe.expire(key, min(_idle_seconds(), _absolute_seconds() - age))
            pipe.execute()
    return record["uid"]


def signed_in_user_id() -> int | None:
    """The user this request's cookie really signs in (checked against Redis this request)."""
    return g.get("signed_in_user_id")


def _check() -> Response | None:
    g.signed_in_user_id = None
    if request.blueprint in COOKIELESS_BLUEPRINTS or request.endpoint in FILE_ENDPOINTS:
        return None
    if USER_KEY not in session and SESSION_KEY not in session:
        return None  # anonymous: nothing to check
    session_id = session.get(SESSION_KEY)
    try:
        user_id = _live_user(session_id) if isinstance(session_id, str) else None
    except redis.RedisError as error:
        log.warning("cannot check a sign-in, Redis did not answer: %s", error)
        if request.endpoint == SIGN_OUT_ENDPOINT:
            return None  # the view empties the cookie and says what it could not do
        return unavailable()
    if user_id is None or str(user_id) != session.get(USER_KEY):
        session.clear()  # revoked, expired or forged: anonymous, its CSRF secret gone too
        return None
    g.signed_in_user_id = user_id
    return None


def unavailable() -> tuple[str, int]:
    return render_template(
        "auth/problem.html", title="Mailferry cannot check your sign-in",
        message="Mailferry cannot reach its Redis server, where sign-ins are kept, so it cannot tell "
                "whether you are still signed in. Try again in a minute; if it persists, an administrator "
                "should check REDIS_URL."), 503


def _no_store(response: Response) -> Response:
    """Pages of a signed-in person, and the add-in API's per-user answers, are never kept by
    the browser or a proxy (the back button after sign-out, shared computers)."""
    personal = g.get("signed_in_user_id") is not None or request.blueprint == "addin_api"
    if personal and request.endpoint not in FILE_ENDPOINTS:
        response.headers["Cache-Control"] = "no-store"
    return response


def init_app(app: Flask) -> None:
    """Register the check; call it before CSRFProtect so a dead session's CSRF secret is gone
    before its token is checked."""
    app.before_request(_check)
    app.after_request(_no_store)
    app.register_error_handler(SessionStoreUnavailable, lambda _error: unavailable())
