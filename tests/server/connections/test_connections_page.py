"""What the Connections page tells a person about their connections and mailbox, and that
signing in again repairs a Microsoft connection that needs it."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from mailferry.db import utcnow
from mailferry.microsoft_identity import RECONNECT_FIX
from mailferry.models import Connection, Mailbox, User
from tests.browser.stack import clear_database
from tests.server.security.flows import demo_user, sign_in_with_microsoft


@pytest.fixture
def signed_in(security_stack, demo_microsoft_url, demo_salesforce_url, client_session):
    clear_database(security_stack.database_url)
    client = security_stack.app.test_client()
    client.environ_base["wsgi.url_scheme"] = "https"
    client.environ_base["HTTP_REFERER"] = "https://localhost/"
    person = demo_user(client_session, security_stack.config.sandbox_microsoft_url)
    assert sign_in_with_microsoft(client, client_session, person["id"]).status_code == 302
    return client, person


def _change(stack, model, **values):
    with Session(stack.engine) as session:
        session.execute(update(model).values(**values))
        session.commit()


def test_a_new_user_sees_microsoft_connected_and_salesforce_not(signed_in):
    client, person = signed_in
    page = client.get("/connections").get_data(as_text=True)
    assert 'data-testid="microsoft-state" data-state="connected"' in page
    assert 'data-testid="salesforce-state" data-state="not_connected"' in page
    assert person["userPrincipalName"] in page
    assert 'data-testid="mailbox-status" data-status="active"' in page


def test_the_home_page_is_sync_history_once_signed_in(signed_in):
    client, _ = signed_in
    answer = client.get("/")
    assert answer.status_code == 302 and answer.location == "/history"


def test_a_broken_microsoft_connection_shows_the_fix_and_signing_in_again_repairs_it(
        signed_in, security_stack, client_session):
    client, person = signed_in
    _change(security_stack, Connection, status="needs_reconnect", status_detail=RECONNECT_FIX)
    _change(security_stack, Mailbox, status="needs_reconnect", status_detail=RECONNECT_FIX)
    page = client.get("/connections").get_data(as_text=True)
    assert 'data-state="needs_reconnect"' in page and 'data-status="needs_reconnect"' in page
    assert "choose &#34;Sign in with Microsoft&#34; again" in page or 'choose "Sign in with Microsoft" again' in page
    assert 'data-testid="microsoft-reconnect"' in page

    assert sign_in_with_microsoft(client, client_session, person["id"],
                                  start="/auth/sign-in?next=/connections").location == "/connections"
    page = client.get("/connections").get_data(as_text=True)
    assert 'data-testid="microsoft-state" data-state="connected"' in page
    assert 'data-status="active"' in page and "microsoft-fix" not in page


def test_a_throttled_mailbox_says_until_when(signed_in, security_stack):
    client, _ = signed_in
    until = (utcnow() + timedelta(minutes=7)).replace(second=0, microsecond=0)
    _change(security_stack, Mailbox, status="throttled", retry_after=until,
            status_detail=f"microsoft asked us to wait until {until:%Y-%m-%d %H:%M:%S} UTC")
    page = client.get("/connections").get_data(as_text=True)
    assert f"Throttled until {until:%Y-%m-%d %H:%M} UTC" in page
    assert "microsoft asked us to wait until" in page


def test_only_the_users_own_connections_are_shown(signed_in, security_stack, client_session):
    client, person = signed_in
    other = demo_user(client_session, security_stack.config.sandbox_microsoft_url, 1)
    colleague = security_stack.app.test_client()
    colleague.environ_base["wsgi.url_scheme"] = "https"
    sign_in_with_microsoft(colleague, client_session, other["id"])
    page = colleague.get("/connections").get_data(as_text=True)
    assert other["userPrincipalName"] in page and person["userPrincipalName"] not in page
    with Session(security_stack.engine) as session:
        assert session.execute(select(User)).scalars().all().__len__() == 2


def test_times_are_shown_in_the_users_time_zone(signed_in, security_stack):
    """The time zone setting sets how times are shown (SPEC 6), on Connections too."""
    from datetime import UTC, datetime

    from mailferry.models import UserSetting

    client, _ = signed_in
    until = datetime(2026, 7, 1, 12, 0, tzinfo=UTC)  # Paris in summer: UTC+2
    _change(security_stack, Mailbox, status="throttled", retry_after=until)
    with Session(security_stack.engine) as session:
        user = session.execute(select(User)).scalars().first()
        session.add(UserSetting(user_id=user.id, key="time_zone", value="Europe/Paris"))
        session.commit()
    page = client.get("/connections").get_data(as_text=True)
    assert "Throttled until 2026-07-01 14:00 CEST" in page
