"""A Salesforce connection saved with a login host that is not Salesforce's (before hosts
were checked, or edited in the database) never receives the consumer secret: the worker's
token refresh refuses the host, and the connection asks to be made again."""

from __future__ import annotations

import threading

from flask import Flask, request
from sqlalchemy import select

from mailferry.models import Connection
from tests.https_server import start_https
from worker import jobs



def test_a_refresh_never_posts_the_consumer_secret_to_a_saved_host_that_is_not_salesforces(
        pipeline, rep, clouds, certs, engine_config):
    calls, lock = [], threading.Lock()
    listener = Flask("hostile-login-host")

    @listener.route("/<path:anything>", methods=["GET", "POST"])
    def record(anything):
        with lock:
            calls.append((request.method, request.path, request.get_data(as_text=True)))
        return {"error": "nothing here"}, 400

    server, hostile_url = start_https(listener, certs)
    runtime, _ = pipeline
    try:
        user_id, mailbox_id = rep
        with runtime.session() as session:
            connection = session.execute(select(Connection).where(
                Connection.user_id == user_id, Connection.provider == "salesforce")).scalar_one()
            connection.login_host = hostile_url
        clouds.faults(clouds.salesforce, {"path": "/services/data/*", "status": 401,
                                          "error_code": "INVALID_SESSION_ID", "count": 1})  # forces a refresh
        jobs.sync_mailbox(mailbox_id)
    finally:
        server.shutdown()
    assert calls == [], "the hostile host was contacted"
    with runtime.sessions() as session:
        connection = session.execute(select(Connection).where(
            Connection.user_id == user_id, Connection.provider == "salesforce")).scalar_one()
    assert connection.status == "needs_reconnect"
    assert "not a Salesforce domain" in connection.status_detail
    assert engine_config.salesforce_client_secret  # there was a secret to leak
