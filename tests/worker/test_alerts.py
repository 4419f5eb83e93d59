"""The periodic `send_alerts` job (worker/alerts.py): a tenant's webhook receives one alert a
day for a mailbox disconnected past the hour and for errors over 5% of the day's mail,
over HTTPS verified against the worker's CA bundle; a failed delivery is tried again; its
email address gets one through a local SMTP server (aiosmtpd) over STARTTLS."""

from __future__ import annotations

import ssl
from datetime import timedelta
from email import message_from_bytes

import pytest
import redis
from aiosmtpd.controller import Controller
from flask import Flask, request
from sqlalchemy.orm import Session

from cli.processes import free_port
from mailferry import alert_settings, migrate
from mailferry.db import utcnow
from mailferry.tls import ensure_certificates
from tests.config_fixtures import build_config
from tests.db import factories
from tests.https_server import start_https
from worker import jobs
from worker.runtime import Runtime, use_runtime


@pytest.fixture
def receiver(certs):
    """An HTTPS webhook receiver (the test CA's localhost certificate) that records each POST;
    `refuse` makes its next answers 500."""
    app = Flask("receiver")
    app.received, app.refuse = [], 0

    @app.post("/hook")
    def hook():
        if app.refuse:
            app.refuse -= 1
            return "down for maintenance", 500
        app.received.append(request.get_json())
        return "", 204

    server, url = start_https(app, certs)
    yield app, f"{url}/hook"
    server.shutdown()


@pytest.fixture
def make_runtime(tmp_path, empty_database_url, redis_url, certs):
    """`make_runtime(**variables)`: the worker's runtime on a fresh database, with `variables`
    (e.g. MAILFERRY_SMTP_URL) in its configuration."""
    made = []

    def make(**variables: str) -> Runtime:
        migrate.upgrade(empty_database_url)
        config = build_config(tmp_path / "data", MAILFERRY_CERTS_DIR=str(certs.folder),
                              DATABASE_URL=empty_database_url, REDIS_URL=redis_url, **variables)
        rt = Runtime(config)
        for key in rt.redis.scan_iter("mailferry:alerts:*"):  # tenant ids start at 1 in every new database
            rt.redis.delete(key)
        use_runtime(rt)
        made.append(rt)
        return rt

    yield make
    use_runtime(None)
    for rt in made:
        rt.engine.dispose()


@pytest.fixture
def runtime(make_runtime):
    return make_runtime()


def _tenant_alerting_to(session: Session, url: str | None):
    tenant = factories.tenant(session)
    alert_settings.save(session, tenant.id, alert_settings.AlertSettings(webhook_url=url))
    return tenant


def test_a_mailbox_disconnected_over_an_hour_alerts_the_webhook_once_a_day(runtime, receiver):
    app, url = receiver
    now = utcnow()
    with runtime.session() as session:
        tenant = _tenant_alerting_to(session, url)
        gone = factories.user(session, tenant, display_name="Gone")
        gone_box = factories.mailbox(session, gone, status="needs_reconnect", status_detail="Sign in with Microsoft again.",
                          last_error="microsoft: invalid_grant: AADSTS50173", last_success_at=now - timedelta(hours=2))
        recent = factories.user(session, tenant, display_name="Recent")
        factories.mailbox(session, recent, status="needs_reconnect", last_success_at=now - timedelta(minutes=20))
        fine = factories.user(session, tenant, display_name="Fine")
        factories.mailbox(session, fine, last_success_at=now - timedelta(hours=3))
        silent = _tenant_alerting_to(session, None)  # no address, no URL: no alerts
        factories.mailbox(session, factories.user(session, silent), status="needs_reconnect",
                          last_success_at=now - timedelta(hours=5))

    assert jobs.send_alerts() == [f"{tenant.id}:mailbox_disconnected:mailbox-{gone_box.id}:webhook"]
    [alert] = app.received
    assert alert["condition"] == "mailbox_disconnected"
    assert alert["user"] == gone.upn
    assert alert["status"] == "needs_reconnect"
    assert alert["fix"] == "Sign in with Microsoft again."
    assert alert["last_error"] == "microsoft: invalid_grant: AADSTS50173"
    assert "no mail synced for 2.0 hours" in alert["text"]

    assert jobs.send_alerts() == []  # the same condition, the same day: sent already
    assert len(app.received) == 1


def test_errors_over_five_percent_of_the_days_mail_alert_once_and_a_failed_delivery_is_tried_again(runtime, receiver):
    app, url = receiver
    with runtime.session() as session:
        tenant = _tenant_alerting_to(session, url)
        box = factories.mailbox(session, factories.user(session, tenant), last_success_at=utcnow())
        for n in range(40):
            code = "INVALID_CROSS_REFERENCE_KEY" if n < 2 else ("REQUEST_LIMIT_EXCEEDED" if n == 2 else None)
            factories.message(session, box, status="unresolved" if code else "synced", error_code=code)
    # 3 of 40 is 7.5%: over the line. The receiver is down the first time.
    app.refuse = 1
    assert jobs.send_alerts() == []
    assert app.received == []
    assert jobs.send_alerts() == [f"{tenant.id}:error_rate:tenant:webhook"]
    [alert] = app.received
    assert (alert["condition"], alert["mail"], alert["with_errors"], alert["percent"]) == ("error_rate", 40, 3, 7.5)
    assert alert["top_codes"] == [["INVALID_CROSS_REFERENCE_KEY", 2], ["REQUEST_LIMIT_EXCEEDED", 1]]
    assert jobs.send_alerts() == []


def test_errors_under_five_percent_or_on_a_quiet_day_send_nothing(runtime, receiver):
    app, url = receiver
    with runtime.session() as session:
        quiet = _tenant_alerting_to(session, url)  # 1 of 5: 20%, but under 20 emails today
        box = factories.mailbox(session, factories.user(session, quiet), last_success_at=utcnow())
        for n in range(5):
            factories.message(session, box, status="unresolved" if n == 0 else "synced",
                              error_code="UNABLE_TO_LOCK_ROW" if n == 0 else None)
        steady = _tenant_alerting_to(session, url)  # 2 of 40: 5%, not over it
        box = factories.mailbox(session, factories.user(session, steady), last_success_at=utcnow())
        for n in range(40):
            factories.message(session, box, status="unresolved" if n < 2 else "synced",
                              error_code="UNABLE_TO_LOCK_ROW" if n < 2 else None)
    assert jobs.send_alerts() == []
    assert app.received == []


def test_a_webhook_whose_certificate_the_worker_does_not_trust_is_not_sent_to(runtime, receiver, tmp_path, certs):
    """The outbound CA bundle decides: a worker trusting another CA refuses the receiver."""
    app, url = receiver
    with runtime.session() as session:
        tenant = _tenant_alerting_to(session, url)
        factories.mailbox(session, factories.user(session, tenant), status="needs_reconnect",
                          last_success_at=utcnow() - timedelta(hours=2))
    other_ca = ensure_certificates(tmp_path / "other-certs")[0].ca_cert  # a CA of its own
    stranger = Runtime(build_config(tmp_path / "other", DATABASE_URL=runtime.config.database_url,
                                    REDIS_URL=runtime.config.redis_url, MAILFERRY_TLS_CA_FILE=str(other_ca)))
    use_runtime(stranger)
    try:
        assert jobs.send_alerts() == []
    finally:
        use_runtime(runtime)
        stranger.engine.dispose()
    assert app.received == []
    assert not list(redis.Redis.from_url(runtime.config.redis_url).scan_iter("mailferry:alerts:*"))
    # The alert was due all along: the worker trusting the receiver's CA sends it.
    assert len(jobs.send_alerts()) == 1 and len(app.received) == 1



class _Inbox:
    """An aiosmtpd handler keeping each message it accepts."""

    def __init__(self):
        self.messages = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd's hook name)
        self.messages.append((envelope.mail_from, envelope.rcpt_tos, message_from_bytes(envelope.content)))
        return "250 OK"


@pytest.fixture
def smtp_inbox(certs):
    """A local SMTP server that requires STARTTLS, with the test CA's localhost certificate."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(certs.server_cert, certs.server_key)
    inbox = _Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port(), tls_context=context, require_starttls=True)
    controller.start()
    yield inbox, controller.port
    controller.stop()


def test_a_disconnected_mailbox_alerts_the_tenants_email_address_over_starttls_once_a_day(
        make_runtime, smtp_inbox):
    inbox, port = smtp_inbox
    runtime = make_runtime(MAILFERRY_SMTP_URL=f"smtp://localhost:{port}?starttls=yes&from=Alerts@mailferry.test")
    with runtime.session() as session:
        tenant = factories.tenant(session, name="Contoso")
        alert_settings.save(session, tenant.id, alert_settings.AlertSettings(email="ops@contoso.example"))
        gone = factories.user(session, tenant, display_name="Gone")
        box = factories.mailbox(session, gone, status="needs_reconnect", status_detail="Sign in with Microsoft again.",
                                last_success_at=utcnow() - timedelta(hours=3))
    assert jobs.send_alerts() == [f"{tenant.id}:mailbox_disconnected:mailbox-{box.id}:email"]
    [(sender, recipients, message)] = inbox.messages
    assert (sender, recipients) == ("Alerts@mailferry.test", ["ops@contoso.example"])
    assert message["Subject"] == "Mailferry alert for Contoso: a mailbox needs reconnecting"
    body = message.get_payload()
    assert f"Gone <{gone.upn}>: needs reconnect, no mail synced for 3.0 hours." in body
    assert "fix: Sign in with Microsoft again." in body
    assert jobs.send_alerts() == []
    assert len(inbox.messages) == 1
