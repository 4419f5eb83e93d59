"""Sign-ins the server can end (issue 12, finding 3): a copied cookie stops working at
sign-out, also for minting an add-in token; a sign-in ends after 2 h unused or 12 h in all;
its CSRF tokens die with it; an unreachable Redis refuses signed-in requests with a page.

Real parts: the Microsoft sign-in through the sandbox, our app through the Flask test
client, the test Redis (whose records the idle and lifetime tests backdate, as time would)."""

from __future__ import annotations

import dataclasses
import re
import time
from datetime import datetime, timedelta, timezone
from email.utils import parsedate_to_datetime

import pytest
import redis
from itsdangerous import TimestampSigner, URLSafeTimedSerializer

from server import create_app, sign_in_sessions
from tests.server.security.flows import csrf_token, demo_user, sign_in_with_microsoft

HOUR = 3600


def _browser(cleared_security_stack):
    client = cleared_security_stack.app.test_client()
    client.environ_base["wsgi.url_scheme"] = "https"
    client.environ_base["HTTP_REFERER"] = "https://localhost/"
    return client


def _signed_in(cleared_security_stack, client_session):
    client = _browser(cleared_security_stack)
    person = demo_user(client_session, cleared_security_stack.config.sandbox_microsoft_url)
    assert sign_in_with_microsoft(client, client_session, person["id"]).status_code == 302
    return client


def _copy(cleared_security_stack, client):
    """Another browser holding the same cookie (e.g. taken from this one's disk)."""
    copy = _browser(cleared_security_stack)
    copy.set_cookie("session", client.get_cookie("session").value, domain="localhost")
    return copy


def _signed_in_page(client) -> str | None:
    """The add-in dialog's last page: its Mailferry token, or None when sent to sign in."""
    response = client.get("/addin/signed-in")
    if response.status_code == 302:
        assert "/auth/sign-in" in response.location
        return None
    assert response.status_code == 200
    return re.search(r"mf1\.[\w.-]+", response.get_data(as_text=True)).group(0)


def _record_key(client) -> str:
    with client.session_transaction() as session:
        return sign_in_sessions.key_for(session[sign_in_sessions.SESSION_KEY])


def test_a_cookie_copied_before_sign_out_no_longer_works_after_it(cleared_security_stack, client_session):
    client = _signed_in(cleared_security_stack, client_session)
    copy = _copy(cleared_security_stack, client)
    assert copy.get("/connections").status_code == 200  # the copy is a working sign-in
    assert _signed_in_page(copy) is not None
    assert client.post("/auth/sign-out", data={"csrf_token": csrf_token(client)}).status_code == 302
    refused = copy.get("/connections")
    assert refused.status_code == 302 and "/auth/sign-in" in refused.location
    assert _signed_in_page(copy) is None  # nor can it mint a token for the add-in
    assert copy.get("/connections").status_code == 302  # and it stays refused


def test_a_csrf_token_dies_with_its_sign_in(cleared_security_stack, client_session):
    client = _signed_in(cleared_security_stack, client_session)
    token = csrf_token(client)  # the cookie now holds the CSRF secret of its token
    copy = _copy(cleared_security_stack, client)
    assert client.post("/auth/sign-out", data={"csrf_token": token}).status_code == 302
    # The copied cookie still holds the CSRF secret its token was made from; the sign-in
    # is gone, and so is the secret.
    replayed = copy.post("/auth/sign-out", data={"csrf_token": token})
    assert replayed.status_code == 400 and "CSRF" in replayed.get_data(as_text=True)


def _token_made(client, cleared_security_stack, hours_ago: float) -> str:
    """A CSRF token for this session's secret as Flask-WTF would have made it `hours_ago`."""
    class Then(TimestampSigner):
        def get_timestamp(self):
            return int(time.time() - hours_ago * HOUR)

    with client.session_transaction() as session:
        secret = session["csrf_token"]
    return URLSafeTimedSerializer(cleared_security_stack.app.config["SECRET_KEY"], salt="wtf-csrf-token", signer=Then).dumps(secret)


def test_csrf_tokens_expire_with_the_sign_in_lifetime(cleared_security_stack, client_session):
    client = _signed_in(cleared_security_stack, client_session)
    csrf_token(client)  # the session now has its CSRF secret
    stale = client.post("/auth/sign-out", data={"csrf_token": _token_made(client, cleared_security_stack, 12.1)})
    assert stale.status_code == 400 and "expired" in stale.get_data(as_text=True)
    fresh = client.post("/auth/sign-out", data={"csrf_token": _token_made(client, cleared_security_stack, 11.9)})
    assert fresh.status_code == 302


def test_an_unused_sign_in_ends_after_two_hours(cleared_security_stack, sign_in_client):
    world = cleared_security_stack.fresh_world()
    client = cleared_security_stack.client(sign_in_client, world.users["owner"])
    key, store = _record_key(client), redis.Redis.from_url(cleared_security_stack.config.redis_url)
    assert cleared_security_stack.config.session_idle_minutes == 120
    store.hset(key, "seen", int(time.time()) - 119 * 60)  # used 1h59 ago: still on
    assert client.get("/connections").status_code == 200
    assert int(store.hget(key, "seen")) >= time.time() - 5  # that use counts
    store.hset(key, "seen", int(time.time()) - 121 * 60)
    refused = client.get("/connections")
    assert refused.status_code == 302 and "/auth/sign-in" in refused.location
    assert not store.exists(key)


def test_a_sign_in_ends_after_twelve_hours_even_in_use(cleared_security_stack, sign_in_client):
    world = cleared_security_stack.fresh_world()
    client = cleared_security_stack.client(sign_in_client, world.users["owner"])
    key, store = _record_key(client), redis.Redis.from_url(cleared_security_stack.config.redis_url)
    assert cleared_security_stack.config.session_hours == 12
    store.hset(key, mapping={"created": int(time.time()) - 11 * HOUR - 3000, "seen": int(time.time())})
    assert client.get("/connections").status_code == 200
    store.hset(key, "created", int(time.time()) - 12 * HOUR - 1)
    assert client.get("/connections").status_code == 302
    assert not store.exists(key)


def test_the_session_cookie_expires_with_the_sign_in(cleared_security_stack, client_session):
    client = _browser(cleared_security_stack)
    person = demo_user(client_session, cleared_security_stack.config.sandbox_microsoft_url)
    answer = sign_in_with_microsoft(client, client_session, person["id"])
    cookie = next(h for h in answer.headers.getlist("Set-Cookie") if h.startswith("session="))
    expires = parsedate_to_datetime(re.search(r"Expires=([^;]+)", cookie).group(1))
    assert abs(expires - (datetime.now(timezone.utc) + timedelta(hours=12))) < timedelta(minutes=2)


def test_a_signed_cookie_without_a_live_sign_in_signs_nobody_in(cleared_security_stack):
    """The cookie the app made before sign-ins were kept server-side: a valid signature and
    a user id, nothing else."""
    world = cleared_security_stack.fresh_world()
    client = _browser(cleared_security_stack)
    with client.session_transaction() as session:
        session["_user_id"], session["_fresh"] = str(world.users["owner"]), True
    assert client.get("/connections").status_code == 302
    assert _signed_in_page(client) is None
    with client.session_transaction() as session:  # and the cookie was emptied
        assert "_user_id" not in session


def test_a_sign_in_of_another_user_id_is_refused(cleared_security_stack, sign_in_client):
    world = cleared_security_stack.fresh_world()
    client = cleared_security_stack.client(sign_in_client, world.users["owner"])
    with client.session_transaction() as session:  # only someone with the secret key could
        session["_user_id"] = str(world.users["colleague"])
    assert client.get("/connections").status_code == 302


@pytest.fixture
def unreachable(cleared_security_stack):
    """The same app (same secret key and database) whose Redis does not answer."""
    app = create_app(dataclasses.replace(cleared_security_stack.config, redis_url="redis://127.0.0.1:1/0"))
    yield app
    app.extensions["mailferry.engine"].dispose()


def test_without_redis_a_signed_in_request_is_refused_with_a_page(cleared_security_stack, sign_in_client, unreachable):
    world = cleared_security_stack.fresh_world()
    signed_in = cleared_security_stack.client(sign_in_client, world.users["owner"])
    token = csrf_token(signed_in)
    client = unreachable.test_client()
    client.environ_base["wsgi.url_scheme"] = "https"
    client.environ_base["HTTP_REFERER"] = "https://localhost/"
    client.set_cookie("session", signed_in.get_cookie("session").value, domain="localhost")
    for path in ("/connections", "/addin/signed-in", "/"):
        page = client.get(path)
        assert page.status_code == 503, path
        text = page.get_data(as_text=True)
        assert "cannot check your sign-in" in text and "REDIS_URL" in text and "mf1." not in text
    assert unreachable.test_client().get("/").status_code == 200  # anonymous pages still answer
    out = client.post("/auth/sign-out", data={"csrf_token": token})
    assert out.status_code == 503 and "Signed out in this browser only" in out.get_data(as_text=True)
    with client.session_transaction() as session:  # this browser's sign-in is gone
        assert "_user_id" not in session and sign_in_sessions.SESSION_KEY not in session
