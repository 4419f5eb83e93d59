"""What tests of the web app and the add-in API share (a pytest plugin, declared in
tests/conftest.py): signing a Flask test client in, and the sync queue they enqueue on."""

from __future__ import annotations

import pytest
import redis
from rq import Queue

from mailferry.job_queue import SYNC_QUEUE
from server import sign_in_sessions


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
def sign_in_client():
    """`sign_in_client(test_client, user)`: `sign_in_session`, as a fixture."""
    return sign_in_session


@pytest.fixture
def sync_queue(redis_url):
    """The sync queue on the test Redis, emptied (jobs too) around the test, so enqueued
    jobs can be read by name."""
    connection = redis.Redis.from_url(redis_url)
    queue = Queue(SYNC_QUEUE, connection=connection)
    queue.empty()
    for key in connection.scan_iter("rq:job:*"):
        connection.delete(key)
    yield queue
    queue.empty()
