"""A process whose MAILFERRY_ENCRYPTION_KEYS cannot open a stored token (a host that missed a
key rotation) never changes a connection's state for it: the worker opening the tenant's
Salesforce integration stops instead of marking it for reconnect, the Microsoft token helper
raises the unreadable secret rather than an auth error, and offboarding in a web process
with the wrong keys still removes the user, leaving the Graph subscriptions to expire."""

from __future__ import annotations

from datetime import timedelta

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import select

from mailferry import migrate
from mailferry.crypto import SecretBox, SecretUnreadable
from mailferry.db import utcnow
from mailferry.microsoft_identity import acquire_delegated_token
from mailferry.models import Connection, Subscription, User
from mailferry.offboarding import remove_user
from mailferry.salesforce_integration import save_integration
from tests.config_fixtures import build_config
from tests.db import factories
from worker.group_sync import map_salesforce_users
from worker.runtime import Runtime, use_runtime
from worker.sealed import WorkerLacksKey

NEWEST = Fernet.generate_key().decode()  # what the other hosts seal with after a rotation


@pytest.fixture
def stale_runtime(tmp_path, empty_database_url, redis_url):
    """A worker's runtime whose only key is one the stored secrets were not sealed with."""
    migrate.upgrade(empty_database_url)
    rt = Runtime(build_config(tmp_path / "data", DATABASE_URL=empty_database_url, REDIS_URL=redis_url,
                              MAILFERRY_ENCRYPTION_KEYS=Fernet.generate_key().decode()))
    use_runtime(rt)
    yield rt
    use_runtime(None)
    rt.engine.dispose()


def test_a_worker_without_the_key_stops_at_the_integration_and_leaves_it_connected(stale_runtime):
    with stale_runtime.session() as session:
        tenant = factories.tenant(session, app_only_enabled=True)
        factories.user(session, tenant)  # unmapped: the membership run maps them through the integration
        save_integration(session, tenant, SecretBox([NEWEST]).seal({"access_token": "a", "refresh_token": "r"}),
                         account_label="integration@acme.example", login_host=stale_runtime.config.salesforce_login_url)
        tenant_id = tenant.id

    with pytest.raises(WorkerLacksKey, match="cannot open the Salesforce tokens of connection .*No connection or "
                                             "mailbox was changed"):
        map_salesforce_users(stale_runtime, tenant_id)

    with stale_runtime.session() as session:
        [integration] = session.execute(select(Connection).where(Connection.tenant_id == tenant_id)).scalars()
        assert (integration.status, integration.status_detail) == ("connected", None)
        assert session.execute(select(User.salesforce_user_id).where(User.tenant_id == tenant_id)).scalar_one() is None


def test_the_microsoft_token_helper_raises_the_unreadable_secret_not_an_auth_error(stale_runtime):
    sealed = SecretBox([NEWEST]).seal({"msal_cache": "{}", "authority_tenant": "organizations",
                                       "home_account_id": "x"})
    with pytest.raises(SecretUnreadable):
        acquire_delegated_token(stale_runtime.config, sealed, stale_runtime.box)


def test_offboarding_with_the_wrong_keys_removes_the_user_and_leaves_the_subscriptions_to_expire(stale_runtime):
    with stale_runtime.session() as session:
        tenant = factories.tenant(session)
        factories.user(session, tenant, role="admin")  # not the last admin
        leaver = factories.user(session, tenant)
        mailbox = factories.mailbox(session, leaver)
        session.add_all([
            Connection(tenant_id=tenant.id, user_id=leaver.id, provider="microsoft", status="connected",
                       sealed_secrets=SecretBox([NEWEST]).seal({"msal_cache": "{}"})),
            Subscription(mailbox_id=mailbox.id, graph_subscription_id="sub-1", resource="me/messages",
                         sealed_client_state=SecretBox([NEWEST]).seal("state"),
                         expires_at=utcnow() + timedelta(days=2)),
        ])
        leaver_id = leaver.id

    removal = remove_user(stale_runtime.sessions, stale_runtime.config, leaver_id, "operator@shell")

    assert (removal.subscriptions_deleted, removal.subscriptions_left) == (0, 1)
    with stale_runtime.session() as session:
        assert session.get(User, leaver_id) is None
        assert session.execute(select(Subscription.id)).first() is None
