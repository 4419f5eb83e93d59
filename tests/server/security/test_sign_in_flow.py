"""Sign in with Microsoft, for real: msal's auth-code flow with PKCE against the sandbox's
Entra ID over HTTPS, our callback, provisioning, the sealed connection and the first sync."""

from __future__ import annotations

import pytest
from rq import Queue
from sqlalchemy import select
from sqlalchemy.orm import Session

from mailferry.job_queue import SYNC_QUEUE, sync_job_id
from mailferry.models import Connection, IgnoreEntry, Mailbox, User
from tests.server.security.flows import demo_user, pick_microsoft_account, sign_in_with_microsoft


@pytest.fixture
def browser_client(cleared_security_stack):
    def make():
        client = cleared_security_stack.app.test_client()
        client.environ_base["wsgi.url_scheme"] = "https"
        client.environ_base["HTTP_REFERER"] = "https://localhost/"
        return client
    return make


def test_first_sign_in_provisions_an_admin_with_a_sealed_connection_and_queues_a_sync(
        cleared_security_stack, browser_client, client_session, redis_url):
    person = demo_user(client_session, cleared_security_stack.config.sandbox_microsoft_url)
    client = browser_client()
    answer = sign_in_with_microsoft(client, client_session, person["id"])
    assert answer.status_code == 302 and answer.location == "/"
    assert client.get("/connections").status_code == 200
    with Session(cleared_security_stack.engine) as session:
        user = session.execute(select(User)).scalar_one()
        assert (user.upn, user.role, user.oid) == (person["userPrincipalName"].lower(), "admin", person["id"])
        connection = session.execute(select(Connection).where(Connection.user_id == user.id)).scalar_one()
        assert (connection.provider, connection.status) == ("microsoft", "connected")
        assert connection.account_label == person["userPrincipalName"]
        assert b"refresh" not in connection.sealed_secrets and b"secret" not in connection.sealed_secrets
        own_domain = person["userPrincipalName"].split("@")[1].lower()
        assert session.execute(select(IgnoreEntry.value).where(IgnoreEntry.user_id == user.id)).scalar_one() == own_domain
        mailbox = session.execute(select(Mailbox).where(Mailbox.user_id == user.id)).scalar_one()
    import redis

    queue = Queue(SYNC_QUEUE, connection=redis.Redis.from_url(redis_url))
    assert sync_job_id(mailbox.id) in queue.job_ids
    queue.remove(sync_job_id(mailbox.id))


def test_the_second_person_of_a_tenant_is_a_user(cleared_security_stack, browser_client, client_session):
    for index in (0, 1):
        person = demo_user(client_session, cleared_security_stack.config.sandbox_microsoft_url, index)
        assert sign_in_with_microsoft(browser_client(), client_session, person["id"]).status_code == 302
    with Session(cleared_security_stack.engine) as session:
        assert [u.role for u in session.execute(select(User).order_by(User.id)).scalars()] == ["admin", "user"]


def test_the_sign_in_cookie_binds_the_flow_to_this_browser(cleared_security_stack, browser_client, client_session):
    client = browser_client()
    started = client.get("/auth/sign-in")
    cookie = next(h for h in started.headers.getlist("Set-Cookie") if h.startswith("mailferry_sign_in="))
    attributes = [a.strip().lower() for a in cookie.split(";")]
    assert {"secure", "httponly", "samesite=none", "path=/auth/microsoft/callback"} <= set(attributes)
    person = demo_user(client_session, cleared_security_stack.config.sandbox_microsoft_url)
    _, fields = pick_microsoft_account(client_session, started.location, person["id"])
    # An attacker's browser (no binding cookie) posting this answer gets nowhere…
    stranger = browser_client()
    refused = stranger.post("/auth/microsoft/callback", data=fields)
    assert refused.status_code == 400
    assert "cannot be finished" in refused.get_data(as_text=True)
    assert stranger.get("/connections").status_code == 302
    # …and the flow was used up: even the right browser cannot replay it.
    assert client.post("/auth/microsoft/callback", data=fields).status_code == 400


def test_a_callback_is_used_once(cleared_security_stack, browser_client, client_session):
    client = browser_client()
    started = client.get("/auth/sign-in")
    person = demo_user(client_session, cleared_security_stack.config.sandbox_microsoft_url)
    _, fields = pick_microsoft_account(client_session, started.location, person["id"])
    assert client.post("/auth/microsoft/callback", data=fields).status_code == 302
    client.post("/auth/sign-out", data={"csrf_token": _token(client)})
    client.set_cookie("mailferry_sign_in", "anything", path="/auth/microsoft/callback", secure=True)
    again = client.post("/auth/microsoft/callback", data=fields)
    assert again.status_code == 400
    assert client.get("/connections").status_code == 302


def test_an_entra_error_is_shown_clearly(cleared_security_stack, browser_client, client_session):
    client = browser_client()
    started = client.get("/auth/sign-in")
    state = dict(__import__("urllib.parse").parse.parse_qsl(started.location.split("?", 1)[1]))["state"]
    answer = client.post("/auth/microsoft/callback", data={
        "state": state, "error": "access_denied",
        "error_description": "AADSTS65004: User declined to consent to access the app.\r\nTrace ID: 1"})
    page = answer.get_data(as_text=True)
    assert answer.status_code == 400
    assert "Sign-in was cancelled" in page and "AADSTS65004: User declined to consent" in page
    assert "Trace ID" not in page and "Traceback" not in page
    assert client.get("/connections").status_code == 302


def test_after_sign_in_only_a_local_path_is_followed(cleared_security_stack, browser_client, client_session):
    person = demo_user(client_session, cleared_security_stack.config.sandbox_microsoft_url)
    back = sign_in_with_microsoft(browser_client(), client_session, person["id"], start="/auth/sign-in?next=/connections")
    assert back.location == "/connections"
    for elsewhere in ("//evil.example/x", "/%09/evil.example", "/%0A/evil.example", "/\\evil.example"):
        away = sign_in_with_microsoft(browser_client(), client_session, person["id"],
                                      start=f"/auth/sign-in?next={elsewhere}")
        assert away.location == "/", elsewhere  # browsers drop tabs and newlines: "//evil.example"


def test_signing_out_ends_the_session(cleared_security_stack, browser_client, client_session):
    client = browser_client()
    person = demo_user(client_session, cleared_security_stack.config.sandbox_microsoft_url)
    sign_in_with_microsoft(client, client_session, person["id"])
    assert client.post("/auth/sign-out").status_code == 400  # no CSRF token
    assert client.get("/connections").status_code == 200
    out = client.post("/auth/sign-out", data={"csrf_token": _token(client)})
    assert out.status_code == 302 and out.location == "/"
    assert client.get("/connections").status_code == 302


def _token(client) -> str:
    from tests.server.security.flows import csrf_token

    return csrf_token(client)
