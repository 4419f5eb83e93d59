"""Offboarding a user (SPEC 14) end to end: a demo rep whose mailbox synced (Graph
subscriptions live at the Microsoft sandbox, a Salesforce connection with a real sandbox
refresh token) is removed; afterwards no table holds a row of theirs, the sandbox no longer
knows their subscriptions, Salesforce refuses their refresh token, and a sync job still
queued for the mailbox does nothing."""

from __future__ import annotations

import dataclasses
import uuid

import pytest
from sqlalchemy import func, select

from mailferry.db import Base
from mailferry.models import (AuditEntry, Connection, IgnoredEmail, IgnoreEntry, Mailbox, Subscription, User,
                              UserSetting)
from mailferry.microsoft_identity import forget_app_tokens
from mailferry.offboarding import ENTRA_FIX, remove_user
from mailferry.provider_errors import ErrorKind, ProviderError
from mailferry.salesforce_identity import SalesforceOAuth
from server import create_app
from tests.https_server import start_https
from worker import jobs


# The demo app's Graph application permissions, and the one revokeSignInSessions needs.
APP_ROLES = ["Mail.ReadWrite", "MailboxSettings.ReadWrite", "User.Read.All", "GroupMember.Read.All"]
REVOKE_SESSIONS = "User.RevokeSessions.All"


@pytest.fixture(params=[False, True], ids=["demo app", "app with User.RevokeSessions.All"])
def may_revoke_sessions(request) -> bool:
    return request.param


@pytest.fixture
def engine_config(engine_config, certs, clouds, may_revoke_sessions):
    """Our web app on a real HTTPS port as MAILFERRY_BASE_URL, so Graph's validation
    handshake reaches it and the first run's subscriptions are created; with
    `may_revoke_sessions`, Mailferry's app registration also holds User.RevokeSessions.All."""
    if may_revoke_sessions:
        app = {"client_id": str(uuid.uuid4()), "client_secret": "offboarding-test-secret",
               "app_roles": [*APP_ROLES, REVOKE_SESSIONS]}
        clouds.http.post(f"{clouds.microsoft}/_sandbox/apps", json=app).raise_for_status()
        engine_config = dataclasses.replace(engine_config, microsoft_client_id=app["client_id"],
                                            microsoft_client_secret=app["client_secret"])
    forget_app_tokens()
    server, url = start_https(create_app(engine_config), certs)
    yield dataclasses.replace(engine_config, base_url=url)
    server.shutdown()
    forget_app_tokens()


@pytest.fixture
def mailbox(pipeline):
    """(runtime, mailbox id, address) of the first demo mailbox after a run that created its
    subscriptions."""
    runtime, mailbox_ids = pipeline
    _sync(mailbox_ids[0])
    with runtime.sessions() as session:
        return runtime, mailbox_ids[0], session.get(Mailbox, mailbox_ids[0]).address


def _sync(mailbox_id: int) -> None:
    result = jobs.sync_mailbox(mailbox_id)
    assert "error" not in result and "skipped" not in result, result


def _subscriptions(runtime, mailbox_id: int) -> set[str]:
    with runtime.sessions() as session:
        return set(session.scalars(select(Subscription.graph_subscription_id)
                                   .where(Subscription.mailbox_id == mailbox_id)))


def _known_to_graph(clouds) -> set[str]:
    answer = clouds.http.get(f"{clouds.microsoft}/_sandbox/subscriptions").json()
    return {s["id"] for s in answer["subscriptions"]}


PER_USER_COLUMNS = ("user_id", "mailbox_id")


def _rows_of(runtime, user_id: int, mailbox_id: int) -> dict[str, int]:
    """Rows holding the user's id or their mailbox's, by table (every table of the models)."""
    found = {}
    with runtime.engine.connect() as connection:
        for table in Base.metadata.sorted_tables:
            for column, value in (("user_id", user_id), ("mailbox_id", mailbox_id)):
                if column in table.c:
                    count = connection.scalar(select(func.count()).select_from(table).where(table.c[column] == value))
                    if count:
                        found[f"{table.name}.{column}"] = count
        users = connection.scalar(select(func.count()).select_from(User.__table__).where(User.__table__.c.id == user_id))
        if users:
            found["users.id"] = users
    return found


@pytest.fixture
def rep_with_history(mailbox, clouds):
    """The synced mailbox's user with rows in every per-user table: settings, an Ignore List
    entry, an ignored email and Sync History, and their Salesforce tokens as stored."""
    runtime, mailbox_id, address = mailbox
    clouds.deliver(address, folder="inbox", subject="A last email before leaving", to=[address],
                   **{"from": "erin@prospect.example"})
    _sync(mailbox_id)
    with runtime.session() as session:
        user_id = session.get(Mailbox, mailbox_id).user_id
        user = session.get(User, user_id)
        session.add_all([UserSetting(user_id=user_id, key="time_zone", value="Europe/Paris"),
                         IgnoreEntry(tenant_id=user.tenant_id, user_id=user_id, kind="domain", value="noisy.example",
                                     source="settings"),
                         IgnoredEmail(user_id=user_id, internet_message_id="<ignored@example>", source="addin")])
        salesforce = session.scalar(select(Connection).where(Connection.user_id == user_id,
                                                             Connection.provider == "salesforce"))
        assert salesforce is not None and salesforce.sealed_secrets, "the demo rep has a Salesforce connection"
        tokens = runtime.box.open(salesforce.sealed_secrets)
    return runtime, user_id, mailbox_id, tokens


def test_removing_a_user_leaves_no_row_of_theirs_and_revokes_their_tokens(rep_with_history, clouds,
                                                                          may_revoke_sessions):
    runtime, user_id, mailbox_id, tokens = rep_with_history
    before = _rows_of(runtime, user_id, mailbox_id)
    assert {"connections.user_id", "mailboxes.user_id", "mailbox_folders.mailbox_id", "subscriptions.mailbox_id",
            "messages.user_id", "user_addresses.user_id", "user_settings.user_id", "ignore_entries.user_id",
            "ignored_emails.user_id"} <= set(before)
    subscriptions = _subscriptions(runtime, mailbox_id)
    assert subscriptions and subscriptions <= _known_to_graph(clouds)

    removal = remove_user(runtime.sessions, runtime.config, user_id, "test operator", allow_last=True)

    assert _rows_of(runtime, user_id, mailbox_id) == {}
    assert removal.salesforce_revoked is True
    # The demo tenant uses app-only access: Entra's sessions are revoked when the app may.
    assert removal.entra_revoked is may_revoke_sessions
    assert (ENTRA_FIX in removal.summary()) is not may_revoke_sessions
    assert removal.subscriptions_deleted == len(subscriptions) and removal.subscriptions_left == 0
    assert not subscriptions & _known_to_graph(clouds)
    oauth = SalesforceOAuth(runtime.config.salesforce_login_url, runtime.config.salesforce_client_id,
                            runtime.config.salesforce_client_secret, runtime.config.salesforce_redirect_uri,
                            runtime.http, hosts=runtime.config.salesforce_hosts)
    with pytest.raises(ProviderError) as refused:
        oauth.refresh(tokens)
    assert refused.value.kind is ErrorKind.AUTH
    with runtime.session() as session:
        [entry] = session.scalars(select(AuditEntry).where(AuditEntry.action == "user.remove")).all()
        assert (entry.actor_name, entry.actor_user_id, entry.after) == ("test operator", None, {
            "removed": True, "salesforce_revoked": True, "entra_sessions_revoked": may_revoke_sessions,
            "graph_subscriptions_deleted": len(subscriptions),
            "graph_subscriptions_left": 0})
        assert entry.before["sync_history_rows"] == removal.messages_deleted > 0


def test_a_sync_job_queued_before_the_removal_does_nothing(rep_with_history, clouds):
    runtime, user_id, mailbox_id, _ = rep_with_history
    remove_user(runtime.sessions, runtime.config, user_id, "test operator", allow_last=True)
    clouds.reset_calls()

    result = jobs.sync_mailbox(mailbox_id)

    assert result == {"mailbox": mailbox_id, "skipped": "not runnable now"}
    stats = clouds.calls(clouds.microsoft)
    assert (stats["total"], stats["calls"]) == (0, {}), stats  # not one Graph call for the removed mailbox
    assert _rows_of(runtime, user_id, mailbox_id) == {}
