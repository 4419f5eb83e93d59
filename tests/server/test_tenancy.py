"""Who may sign in and who is an admin (SPEC 14, "Identity" and "Admins"), through the real
sign-in: msal, the sandbox's Entra ID over HTTPS and our routes.

- A tenant outside MAILFERRY_ALLOWED_TENANTS is refused with a page naming the tenant and
  the setting, and nothing is stored; a listed tenant (by id or domain) signs in.
- `Mailferry.Admin` in the ID token's `roles` makes an admin at each sign-in, losing it
  demotes that admin at the next.
- Entra's consent_required answer shows the admin consent link; following it through the
  sandbox's /adminconsent gives the confirmation page, and users then sign in.
"""

from __future__ import annotations

import html
from urllib.parse import parse_qsl, urlsplit

import pytest
import redis
from rq import Queue
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from mailferry.job_queue import SYNC_QUEUE, sync_job_id
from mailferry.models import Mailbox, Tenant, User
from tests.config_fixtures import DEMO, build_config, sandbox_ports
from tests.server.security.flows import demo_user, sign_in_with_microsoft

OTHER_TENANT = "0f0f0f0f-1111-4222-8333-444444444444"


@pytest.fixture
def app_for(cleared_security_stack, redis_url, certs, sandbox_settings):
    """`app_for(**variables)`: a test client of the security stack's app with these settings."""
    from server import create_app

    stack = cleared_security_stack

    def make(**variables: str):
        config = build_config(stack.config.data_dir, MAILFERRY_CERTS_DIR=str(certs.folder),
                              DATABASE_URL=stack.database_url, REDIS_URL=redis_url,
                              **sandbox_ports(sandbox_settings), **variables)
        client = create_app(config).test_client()
        client.environ_base["wsgi.url_scheme"] = "https"
        client.environ_base["HTTP_REFERER"] = "https://localhost/"
        return client

    yield make
    queue = Queue(SYNC_QUEUE, connection=redis.Redis.from_url(redis_url))
    with Session(stack.engine) as session:
        for mailbox_id in session.execute(select(Mailbox.id)).scalars():
            queue.remove(sync_job_id(mailbox_id))


def _tenant(http, stack) -> dict:
    return http.get(f"{stack.config.sandbox_microsoft_url}/_sandbox/tenant").json()


def _roles(stack) -> list[tuple[str, str, str | None]]:
    with Session(stack.engine) as session:
        return [(u.upn, u.role, u.admin_source) for u in session.execute(select(User).order_by(User.id)).scalars()]


def test_a_tenant_outside_the_allowed_list_is_refused_with_the_setting_and_nothing_is_stored(
        cleared_security_stack, app_for, client_session):
    client = app_for(MAILFERRY_ALLOWED_TENANTS=OTHER_TENANT)
    person = demo_user(client_session, cleared_security_stack.config.sandbox_microsoft_url)
    answer = sign_in_with_microsoft(client, client_session, person["id"])
    assert answer.status_code == 403
    text = html.unescape(answer.get_data(as_text=True))
    assert _tenant(client_session, cleared_security_stack)["tenantId"] in text
    assert "MAILFERRY_ALLOWED_TENANTS" in text and OTHER_TENANT in text
    assert client.get("/connections").status_code == 302  # not signed in
    with Session(cleared_security_stack.engine) as session:
        assert session.scalar(select(func.count(User.id))) == 0
        assert session.scalar(select(func.count(Tenant.id))) == 0


@pytest.mark.parametrize("by", ["tenantId", "domain"])
def test_a_listed_tenant_signs_in_by_id_or_domain(cleared_security_stack, app_for, client_session, by):
    listed = _tenant(client_session, cleared_security_stack)[by]
    client = app_for(MAILFERRY_ALLOWED_TENANTS=f"{OTHER_TENANT}, {listed}")
    person = demo_user(client_session, cleared_security_stack.config.sandbox_microsoft_url)
    assert sign_in_with_microsoft(client, client_session, person["id"]).status_code == 302
    assert client.get("/connections").status_code == 200


def test_the_admin_app_role_makes_an_admin_at_sign_in_and_losing_it_demotes_at_the_next(
        cleared_security_stack, app_for, client_session):
    url = cleared_security_stack.config.sandbox_microsoft_url
    client = app_for()
    first, second = demo_user(client_session, url, 0), demo_user(client_session, url, 1)
    assert sign_in_with_microsoft(client, client_session, first["id"]).status_code == 302
    client_session.post(f"{url}/_sandbox/apps/{DEMO.microsoft_client_id}/role-assignments",
                        json={"role": "Mailferry.Admin", "user": second["userPrincipalName"]}).raise_for_status()
    assert sign_in_with_microsoft(app_for(), client_session, second["id"]).status_code == 302
    upn = second["userPrincipalName"].lower()
    assert _roles(cleared_security_stack)[1] == (upn, "admin", "app_role")
    client_session.delete(f"{url}/_sandbox/apps/{DEMO.microsoft_client_id}/role-assignments/{upn}").raise_for_status()
    assert sign_in_with_microsoft(app_for(), client_session, second["id"]).status_code == 302
    # The demo's first user stays its admin; the one whose role went is a user again.
    assert _roles(cleared_security_stack) == [(first["userPrincipalName"].lower(), "admin", "first_user"),
                                              (upn, "user", None)]


@pytest.fixture
def admins_only(cleared_security_stack, client_session):
    """The sandbox tenant lets only administrators consent to the demo app."""
    url = cleared_security_stack.config.sandbox_microsoft_url
    client_session.patch(f"{url}/_sandbox/apps/{DEMO.microsoft_client_id}",
                         json={"user_consent": False}).raise_for_status()
    return url


def _consent_link(client, http, person) -> str:
    answer = sign_in_with_microsoft(client, http, person["id"])
    assert answer.status_code == 400
    text = html.unescape(answer.get_data(as_text=True))
    assert "An administrator must approve Mailferry" in text and "AADSTS65001" in text
    start = text.split('data-testid="admin-consent-link">', 1)[1].split("<", 1)[0]
    assert start == "https://localhost:3000/auth/microsoft/admin-consent/start"
    return urlsplit(start).path


def test_consent_required_offers_the_admin_consent_link_and_consent_lets_users_sign_in(
        cleared_security_stack, app_for, client_session, admins_only):
    client = app_for()
    person = demo_user(client_session, admins_only)
    link = _consent_link(client, client_session, person)

    administrator = app_for()  # another browser: the link was forwarded
    to_entra = administrator.get(link)
    assert to_entra.status_code == 302
    target = urlsplit(to_entra.location)
    assert target.path == "/organizations/v2.0/adminconsent"
    query = dict(parse_qsl(target.query))
    assert query["redirect_uri"] == "https://localhost:3000/auth/microsoft/admin-consent"
    assert query["scope"] == "https://graph.microsoft.com/.default"
    back = client_session.post(to_entra.location, data={"user": person["id"]}, allow_redirects=False)
    assert back.status_code == 302
    location = urlsplit(back.headers["Location"])
    answer = administrator.get(f"{location.path}?{location.query}")
    assert answer.status_code == 200
    tid = _tenant(client_session, cleared_security_stack)["tenantId"]
    assert tid in answer.get_data(as_text=True) and "approved" in answer.get_data(as_text=True)

    assert sign_in_with_microsoft(app_for(), client_session, person["id"]).status_code == 302


def test_a_declined_consent_is_shown_and_changes_nothing(cleared_security_stack, app_for, client_session,
                                                         admins_only):
    client = app_for()
    to_entra = client.get("/auth/microsoft/admin-consent/start")
    back = client_session.post(to_entra.location, data={"cancel": "1"}, allow_redirects=False)
    location = urlsplit(back.headers["Location"])
    answer = client.get(f"{location.path}?{location.query}")
    assert answer.status_code == 400
    assert "AADSTS65004" in html.unescape(answer.get_data(as_text=True))
    person = demo_user(client_session, admins_only)
    assert sign_in_with_microsoft(app_for(), client_session, person["id"]).status_code == 400


def test_a_consent_answer_mailferry_did_not_ask_for_is_not_believed(app_for):
    forged = app_for().get("/auth/microsoft/admin-consent?admin_consent=True&tenant=evil&state=made-up")
    assert forged.status_code == 400 and "cannot be confirmed" in forged.get_data(as_text=True)
    assert "evil" not in forged.get_data(as_text=True)


def test_the_admin_approval_form_of_the_refusal_offers_the_link_too(app_for):
    """AADSTS90094 ("the grant requires admin permission") comes as other errors than
    consent_required (e.g. access_denied after "Return to the application"): the page still
    offers the administrator's link. (The sandbox answers with 65001; this answer is posted.)"""
    client = app_for()
    started = client.get("/auth/sign-in")
    state = dict(parse_qsl(urlsplit(started.location).query))["state"]
    answer = client.post("/auth/microsoft/callback", data={
        "state": state, "error": "invalid_request",
        "error_description": "AADSTS90094: The grant requires admin permission.\r\nTrace ID: 1"})
    text = html.unescape(answer.get_data(as_text=True))
    assert answer.status_code == 400 and "An administrator must approve Mailferry" in text
    assert 'data-testid="admin-consent-link"' in text and "Trace ID" not in text
