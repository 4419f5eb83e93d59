"""Fixtures for the Microsoft sandbox tests, on the hand-made tenant (`microsoft_url`,
tests/sandbox/microsoft/tenant.py): app-only and signed-in tokens from real msal, and an
HTTPS receiver standing in for a subscriber's webhook endpoint."""

from __future__ import annotations

import threading
import time

import pytest
from flask import Flask, Response, request

from tests.https_server import start_https
from tests.sandbox.microsoft.tenant import bearer_session, msal_app, sign_in


@pytest.fixture
def app_token(microsoft_url, client_session) -> str:
    result = msal_app(microsoft_url, client_session).acquire_token_for_client(["https://graph.microsoft.com/.default"])
    assert "access_token" in result, result
    return result["access_token"]


@pytest.fixture
def graph_session(microsoft_url, certs, app_token):
    """A requests session for Graph with an app-only token, and the Graph base URL."""
    with bearer_session(certs, app_token) as session:
        yield session, f"{microsoft_url}/v1.0"


@pytest.fixture
def alice_token(microsoft_url, client_session) -> str:
    _, result = sign_in(microsoft_url, client_session)
    return result["access_token"]


# -- a subscriber's webhook endpoint ------------------------------------------------------------
class Receiver:
    """Records what the sandbox POSTs; echoes validation tokens unless told otherwise."""

    def __init__(self):
        self.calls: list[dict] = []
        self.lock = threading.Lock()
        self.echo = "plain"  # validation answer: plain | wrong | fail
        self.refuse = False  # answer notifications with 503
        self.url = ""

    def clear(self):
        with self.lock:
            self.calls.clear()
        self.echo = "plain"
        self.refuse = False

    def posts(self, path: str) -> list[dict]:
        with self.lock:
            return [c for c in self.calls if c["path"] == path and "validationToken" not in c["args"]]

    def validations(self) -> list[dict]:
        with self.lock:
            return [c for c in self.calls if "validationToken" in c["args"]]

    def wait_for(self, path: str, count: int, timeout: float = 10.0) -> list[dict]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = self.posts(path)
            if len(found) >= count:
                return found
            time.sleep(0.02)
        return self.posts(path)

    def app(self) -> Flask:
        app = Flask("receiver")

        @app.post("/<path:path>")
        def receive(path):
            with self.lock:
                self.calls.append({"path": "/" + path, "args": request.args.to_dict(),
                                   "headers": dict(request.headers), "body": request.get_data(as_text=True),
                                   "json": request.get_json(silent=True)})
            token = request.args.get("validationToken")
            if token is not None:
                if self.echo == "fail":
                    return Response("no", status=500)
                body = token if self.echo == "plain" else token + "x"
                return Response(body, mimetype="text/plain")
            return Response(status=503 if self.refuse and path == "hook" else 202)

        return app


@pytest.fixture(scope="session")
def _receiver_server(certs):
    receiver = Receiver()
    server, url = start_https(receiver.app(), certs)
    receiver.url = url
    yield receiver
    server.shutdown()


@pytest.fixture
def receiver(_receiver_server) -> Receiver:
    _receiver_server.clear()
    return _receiver_server
