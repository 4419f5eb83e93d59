"""Signing in with a single-tenant app registration (issue 14, row 1): Entra refuses such an
app on /organizations and /common (AADSTS50194, as the sandbox does), so Mailferry signs in
on the authority MICROSOFT_TENANT names. Real msal, the sandbox's Entra ID over HTTPS and our
routes, with a registration the sandbox knows as AzureADMyOrg."""

from __future__ import annotations

import html

import pytest
import redis
from rq import Queue
from sqlalchemy import select
from sqlalchemy.orm import Session

from mailferry.job_queue import SYNC_QUEUE, sync_job_id
from mailferry.models import Mailbox, User
from tests.browser.stack import clear_database
from tests.config_fixtures import build_config, sandbox_ports
from tests.server.security.flows import _INPUT, demo_user, sign_in_with_microsoft

SINGLE_TENANT_APP = {"client_id": "51a91e00-0000-4000-8000-0000000051a9", "client_secret": "only-contoso",
                     "display_name": "Mailferry (one tenant)", "sign_in_audience": "AzureADMyOrg"}


@pytest.fixture
def single_tenant(security_stack, demo_microsoft_url, demo_salesforce_url, client_session, redis_url, certs,
                  sandbox_settings):
    """The security stack's app, configured for a single-tenant registration of the sandbox tenant."""
    from server import create_app

    clear_database(security_stack.database_url)
    answer = client_session.post(f"{demo_microsoft_url}/_sandbox/apps", json=SINGLE_TENANT_APP)
    assert answer.status_code == 201, answer.text
    tenant = client_session.get(f"{demo_microsoft_url}/_sandbox/tenant").json()

    def app_for(microsoft_tenant: str):
        # The security stack's settings, with this registration and MICROSOFT_TENANT set.
        config = build_config(security_stack.config.data_dir, MAILFERRY_CERTS_DIR=str(certs.folder),
                              DATABASE_URL=security_stack.database_url, REDIS_URL=redis_url,
                              **sandbox_ports(sandbox_settings), MICROSOFT_TENANT=microsoft_tenant,
                              MICROSOFT_CLIENT_ID=SINGLE_TENANT_APP["client_id"],
                              MICROSOFT_CLIENT_SECRET=SINGLE_TENANT_APP["client_secret"])
        client = create_app(config).test_client()
        client.environ_base["wsgi.url_scheme"] = "https"
        client.environ_base["HTTP_REFERER"] = "https://localhost/"
        return client

    yield tenant, app_for
    queue = Queue(SYNC_QUEUE, connection=redis.Redis.from_url(redis_url))
    with Session(security_stack.engine) as session:
        for mailbox_id in session.execute(select(Mailbox.id)).scalars():
            queue.remove(sync_job_id(mailbox_id))
    clear_database(security_stack.database_url)


@pytest.mark.parametrize("by", ["tenantId", "domain"])
def test_a_single_tenant_registration_signs_in_on_its_tenant(single_tenant, security_stack, client_session, by):
    tenant, app_for = single_tenant
    client = app_for(tenant[by].lower())
    person = demo_user(client_session, security_stack.config.sandbox_microsoft_url)
    answer = sign_in_with_microsoft(client, client_session, person["id"])
    assert answer.status_code == 302 and answer.location == "/", answer.get_data(as_text=True)[:500]
    started = client.get("/auth/sign-in")
    assert started.location.startswith(f"{security_stack.config.microsoft_authority_host}/{tenant[by].lower()}/")
    with Session(security_stack.engine) as session:
        assert session.execute(select(User.oid)).scalar_one() == person["id"]


def test_the_same_registration_on_organizations_is_refused_and_the_page_names_the_setting(single_tenant, client_session,
                                                                       security_stack):
    """The default (multi-tenant) authority with this registration: the sandbox answers as
    Entra does, and Mailferry tells the person which setting an administrator must change."""
    _, app_for = single_tenant
    client = app_for("organizations")
    started = client.get("/auth/sign-in")
    assert "/organizations/oauth2/v2.0/authorize" in started.location
    page = client_session.get(started.location, timeout=30)
    fields = {html.unescape(k): html.unescape(v) for k, v in _INPUT.findall(page.text)}
    assert fields["error"] == "invalid_request" and fields["error_description"].startswith("AADSTS50194: ")
    answer = client.post("/auth/microsoft/callback", data=fields)
    assert answer.status_code == 400
    text = html.unescape(answer.get_data(as_text=True))
    assert "app registration is for one tenant" in text and "MICROSOFT_TENANT" in text
