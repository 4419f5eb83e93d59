"""Connect Salesforce against hostile servers, as the security review did (issue 12, finding
1): real HTTPS listeners on loopback pose as a "My Domain" login host and as a service
inside the network whose URL a token reply names. The consumer secret must never reach a
host that is not Salesforce's, a token reply must be signed with it, its identity URL must
be on a Salesforce host before it is fetched, and nothing a server answers is shown raw.

Our app, msal against the Microsoft sandbox, requests and the listeners all run for real; the
hostile replies are what a server anyone can run would send."""

from __future__ import annotations

import base64
import html
import re
import dataclasses
import hashlib
import hmac
import threading
import time
from urllib.parse import parse_qsl, urlencode, urlsplit

import pytest
from flask import Flask, jsonify, redirect, request
from sqlalchemy import select
from sqlalchemy.orm import Session

from mailferry.crypto import SecretBox
from mailferry.models import Connection, User
from mailferry.provisioning import save_connection
from server import create_app
from tests.https_server import start_https
from tests.server.security.flows import csrf_token, demo_user, sign_in_with_microsoft

INTERNAL_BODY = "internal-only-body-7f3k"
_CONTINUE = re.compile(r'href="([^"]+)" data-testid="salesforce-continue-link"')
ORG_ID, USER_ID = "00DMf0000000001EAA", "005Mf0000000001AAA"


class Listener:
    """A local TLS server that records every request it is sent."""

    def __init__(self, certs, name: str):
        self.calls: list[dict] = []
        self.lock = threading.Lock()
        self.app = Flask(name)
        self.reply = None  # callable(listener) -> token JSON, for a login host
        self.identity = None  # callable() -> the identity URL's answer, for a login host
        self.app.before_request(self._record)
        self.server, self.url = start_https(self.app, certs)

    def _record(self):
        with self.lock:
            self.calls.append({"method": request.method, "path": request.path, "form": request.form.to_dict(),
                               "authorization": request.headers.get("Authorization")})

    def received(self, value: str) -> bool:
        with self.lock:
            return any(value in str(call) for call in self.calls)

    def stop(self):
        self.server.shutdown()


def sign(secret: str, identity_url: str, issued_at: str) -> str:
    """What Salesforce puts in `signature` (reference 1.4): Base64 HMAC-SHA256 of id + issued_at."""
    return base64.b64encode(hmac.new(secret.encode(), (identity_url + issued_at).encode(),
                                     hashlib.sha256).digest()).decode()


@pytest.fixture(scope="module")
def internal(certs):
    """A service inside the network that must never be fetched: it answers everything with
    a 403 and a body the review read back through the identity error message."""
    listener = Listener(certs, "internal")
    listener.app.add_url_rule("/<path:anything>", "any", lambda anything: (INTERNAL_BODY, 403))
    yield listener
    listener.stop()


@pytest.fixture(scope="module")
def hostile(certs, internal):
    """A "login host" that plays the web server flow: authorize redirects straight back with
    a code; the token call answers whatever `hostile.reply` makes (unsigned, by default,
    with an identity URL on the internal service)."""
    listener = Listener(certs, "hostile")

    def authorize():
        query = {"code": "hostile-code", "state": request.args.get("state", "")}
        return redirect(f"{request.args['redirect_uri']}?{urlencode(query)}")

    def token():
        return jsonify(listener.reply(listener))

    def identity(org_id, user_id):
        return listener.identity()

    listener.app.add_url_rule("/services/oauth2/authorize", "authorize", authorize)
    listener.app.add_url_rule("/services/oauth2/token", "token", token, methods=["POST"])
    listener.app.add_url_rule("/id/<org_id>/<user_id>", "identity", identity)
    yield listener
    listener.stop()


@pytest.fixture
def listeners(hostile, internal):
    for listener in (hostile, internal):
        with listener.lock:
            listener.calls.clear()
    hostile.reply = lambda listener: {"access_token": "00D!hostile", "instance_url": hostile.url,
                                      "id": f"{internal.url}/id/{ORG_ID}/{USER_ID}", "token_type": "Bearer",
                                      "issued_at": str(int(time.time() * 1000))}
    hostile.identity = lambda: (INTERNAL_BODY, 403)
    return hostile, internal


def signed_in(app, http, microsoft_url: str):
    client = app.test_client()
    client.environ_base["wsgi.url_scheme"] = "https"
    client.environ_base["HTTP_REFERER"] = "https://localhost/"
    person = demo_user(http, microsoft_url, 0)
    assert sign_in_with_microsoft(client, http, person["id"]).status_code == 302
    return client


def connect_through(client, http, login_url: str) -> str:
    """Connect Salesforce as a browser would: submit the form, follow the redirect (or click
    "Continue to Salesforce") to the login host, which sends the browser straight back to
    our callback; returns the Connections page shown afterwards."""
    started = client.post("/connections/salesforce/connect",
                          data={"csrf_token": csrf_token(client), "login_host": "my_domain", "my_domain": login_url})
    if started.status_code == 200:  # the page with a "Continue to Salesforce" link
        target = html.unescape(_CONTINUE.search(started.get_data(as_text=True)).group(1))
    else:
        assert started.status_code == 302
        target = started.location
    if target.startswith(login_url):
        bounced = http.get(target, allow_redirects=False, timeout=30)
        callback = urlsplit(bounced.headers["Location"])
        client.get(f"{callback.path}?{callback.query}")
    return client.get("/connections").get_data(as_text=True)


def no_salesforce_connection(cleared_security_stack) -> bool:
    with Session(cleared_security_stack.engine) as session:
        return session.execute(select(Connection).where(Connection.provider == "salesforce")).first() is None


def test_the_consumer_secret_never_goes_to_a_login_host_that_is_not_salesforce(cleared_security_stack, client_session,
                                                                                listeners):
    hostile, internal = listeners
    page = connect_through(signed_in(cleared_security_stack.app, client_session, cleared_security_stack.config.sandbox_microsoft_url),
                           client_session, hostile.url)
    assert not hostile.received(cleared_security_stack.config.salesforce_client_secret)
    assert not [call for call in hostile.calls if call["path"] == "/services/oauth2/token"]
    assert internal.calls == [] and INTERNAL_BODY not in page
    assert "is not a Salesforce login host" in page
    assert no_salesforce_connection(cleared_security_stack)


@pytest.fixture
def allowing(cleared_security_stack, hostile):
    """The app of a deployment whose admin listed the hostile host in SALESFORCE_ALLOWED_HOSTS
    (say, an SSO proxy later taken over): the secret may go there, nothing else follows."""
    netloc = urlsplit(hostile.url).netloc
    config = dataclasses.replace(cleared_security_stack.config, salesforce_allowed_hosts=(netloc,))
    app = create_app(config)
    app.config["TESTING"] = cleared_security_stack.app.config.get("TESTING", False)
    return app


def reply_signed_with(secret: str, identity_host: str):
    def reply(listener):
        issued_at = str(int(time.time() * 1000))
        identity_url = f"{identity_host}/id/{ORG_ID}/{USER_ID}"
        return {"access_token": "00D!hostile", "instance_url": listener.url, "id": identity_url,
                "token_type": "Bearer", "issued_at": issued_at, "signature": sign(secret, identity_url, issued_at)}
    return reply


def test_an_unsigned_token_reply_is_refused_and_its_identity_url_never_fetched(cleared_security_stack, allowing, client_session,
                                                                                listeners):
    hostile, internal = listeners
    page = connect_through(signed_in(allowing, client_session, cleared_security_stack.config.sandbox_microsoft_url),
                           client_session, hostile.url)
    assert [call["path"] for call in hostile.calls] == ["/services/oauth2/authorize", "/services/oauth2/token"]
    assert internal.calls == [] and INTERNAL_BODY not in page
    assert "was not signed the way Salesforce signs it" in page
    assert no_salesforce_connection(cleared_security_stack)


def test_a_signed_reply_naming_an_identity_url_off_salesforce_is_refused_unfetched(cleared_security_stack, allowing, client_session,
                                                                                   listeners):
    hostile, internal = listeners
    hostile.reply = reply_signed_with(cleared_security_stack.config.salesforce_client_secret, internal.url)
    page = connect_through(signed_in(allowing, client_session, cleared_security_stack.config.sandbox_microsoft_url),
                           client_session, hostile.url)
    assert internal.calls == [] and INTERNAL_BODY not in page
    assert "identity URL (id) is not on a Salesforce domain" in page
    assert no_salesforce_connection(cleared_security_stack)


def test_a_reply_signed_with_another_secret_is_refused(cleared_security_stack, allowing, client_session, listeners):
    hostile, internal = listeners
    hostile.reply = reply_signed_with("not-the-consumer-secret", hostile.url)
    page = connect_through(signed_in(allowing, client_session, cleared_security_stack.config.sandbox_microsoft_url),
                           client_session, hostile.url)
    assert "failed its signature check" in page
    assert not [call for call in hostile.calls if call["path"].startswith("/id/")]
    assert no_salesforce_connection(cleared_security_stack)


def test_an_identity_error_body_is_never_shown(cleared_security_stack, allowing, client_session, listeners):
    hostile, _ = listeners
    hostile.reply = reply_signed_with(cleared_security_stack.config.salesforce_client_secret, hostile.url)
    page = connect_through(signed_in(allowing, client_session, cleared_security_stack.config.sandbox_microsoft_url),
                           client_session, hostile.url)
    identity_calls = [call for call in hostile.calls if call["path"].startswith("/id/")]
    assert len(identity_calls) == 1 and identity_calls[0]["authorization"] == "Bearer 00D!hostile"
    assert INTERNAL_BODY not in page
    assert "Salesforce refused the identity call (HTTP 403)" in page
    assert no_salesforce_connection(cleared_security_stack)


def test_an_identity_url_redirecting_off_salesforce_is_not_followed(cleared_security_stack, allowing, client_session, listeners):
    hostile, internal = listeners
    hostile.reply = reply_signed_with(cleared_security_stack.config.salesforce_client_secret, hostile.url)
    hostile.identity = lambda: redirect(f"{internal.url}/id/{ORG_ID}/{USER_ID}")
    page = connect_through(signed_in(allowing, client_session, cleared_security_stack.config.sandbox_microsoft_url),
                           client_session, hostile.url)
    assert internal.calls == [] and INTERNAL_BODY not in page
    assert "redirect is not on a Salesforce domain" in page
    assert no_salesforce_connection(cleared_security_stack)


def test_a_login_host_saved_before_the_check_is_not_sent_the_refresh_token(cleared_security_stack, client_session, listeners):
    """A connection saved with a hostile login host (before hosts were checked): Disconnect
    must not post its refresh token (nor anything) there."""
    hostile, _ = listeners
    client = signed_in(cleared_security_stack.app, client_session, cleared_security_stack.config.sandbox_microsoft_url)
    with Session(cleared_security_stack.engine) as session:
        user = session.execute(select(User)).scalars().one()
        save_connection(session, user, "salesforce", SecretBox(cleared_security_stack.config.encryption_keys).seal(
            {"access_token": "00D!a", "refresh_token": "5Aep-refresh-token-to-keep"}), login_host=hostile.url)
        session.commit()
    client.post("/connections/salesforce/disconnect", data={"csrf_token": csrf_token(client)})
    assert "could not be reached to revoke" in client.get("/connections").get_data(as_text=True)
    assert hostile.calls == []


def test_the_sandbox_login_host_still_connects(cleared_security_stack, client_session, listeners, demo_salesforce_url):
    """The demo's sandbox is the configured login host: the whole flow still works there."""
    client = signed_in(cleared_security_stack.app, client_session, cleared_security_stack.config.sandbox_microsoft_url)
    started = client.post("/connections/salesforce/connect",
                          data={"csrf_token": csrf_token(client), "login_host": "configured"})
    fields = dict(parse_qsl(urlsplit(started.location).query))
    users = client_session.get(f"{demo_salesforce_url}/_sandbox/records/User", timeout=30).json()["records"]
    answer = client_session.post(started.location.split("?")[0], allow_redirects=False, timeout=30,
                                 data={**fields, "user_id": users[0]["Id"], "action": "allow"})
    callback = urlsplit(answer.headers["Location"])
    client.get(f"{callback.path}?{callback.query}")
    assert "Salesforce connected as" in client.get("/connections").get_data(as_text=True)
    assert not no_salesforce_connection(cleared_security_stack)
