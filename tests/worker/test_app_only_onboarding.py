"""App-only onboarding end to end (SPEC section 14), with nobody signing in: an app-only
tenant whose credential is a certificate, an Entra group of two demo users, a Salesforce
integration user. The membership job provisions the members' mailboxes, a joiner added in
the sandbox syncs after the next run, a leaver's mailbox stops with the reason, and a
member's email becomes a Task written through the integration and owned by the Salesforce
user they are mapped to by email. Both sandboxes over HTTPS, real msal, Redis and database.
"""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import select

from cli.demo import sign_in_to_salesforce
from mailferry import migrate
from mailferry.microsoft_identity import forget_app_tokens
from mailferry.models import Mailbox, Message, Tenant, User
from mailferry.provisioning import tenant_for
from mailferry.salesforce_identity import SalesforceOAuth
from mailferry.salesforce_integration import save_integration
from mailferry.tls import https_session
from tests.client_certificate import registration, write_client_certificate
from tests.config_fixtures import build_config, sandbox_ports
from worker import jobs
from worker.runtime import Runtime, use_runtime

ALEX, PRIYA, DIEGO = ("alex.morgan@contoso-demo.com", "priya.shah@contoso-demo.com", "diego.ramos@contoso-demo.com")
INTEGRATION_USER = "hannah.becker@contoso-demo.com.crm"
APP_ROLES = ["Mail.ReadWrite", "MailboxSettings.ReadWrite", "GroupMember.Read.All"]


@pytest.fixture
def certificate_app(tmp_path, clouds) -> tuple[str, str]:
    """(client id, certificate file) of an app registration whose credential is a certificate."""
    client_id = str(uuid.uuid4())
    path = write_client_certificate(tmp_path / "mailferry-app.pem")
    answer = clouds.http.post(f"{clouds.microsoft}/_sandbox/apps",
                              json=registration(client_id, path, app_roles=APP_ROLES))
    assert answer.status_code == 201, answer.text
    return client_id, str(path)


@pytest.fixture
def runtime(tmp_path, empty_database_url, redis_url, certs, sandbox_settings, certificate_app):
    migrate.upgrade(empty_database_url)
    client_id, certificate = certificate_app
    # No MICROSOFT_CLIENT_SECRET: the demo's default secret is not the app's, so a token
    # comes only from the certificate.
    config = build_config(tmp_path / "data", MAILFERRY_CERTS_DIR=str(certs.folder), DATABASE_URL=empty_database_url,
                          REDIS_URL=redis_url, MICROSOFT_CLIENT_ID=client_id,
                          MICROSOFT_CLIENT_CERTIFICATE_FILE=certificate, **sandbox_ports(sandbox_settings))
    rt = Runtime(config)
    use_runtime(rt)
    forget_app_tokens()
    yield rt
    use_runtime(None)
    forget_app_tokens()
    rt.engine.dispose()


@pytest.fixture
def sales_group(clouds) -> str:
    answer = clouds.http.post(f"{clouds.microsoft}/_sandbox/groups",
                              json={"displayName": "Sales reps", "members": [ALEX, PRIYA]})
    assert answer.status_code == 201, answer.text
    return answer.json()["id"]


@pytest.fixture
def tenant_id(runtime, clouds, sales_group) -> int:
    """The tenant as an admin leaves it on the app-only page: app-only on, the group named,
    Salesforce connected once as the integration user."""
    directory = clouds.http.get(f"{clouds.microsoft}/_sandbox/tenant").json()
    config = runtime.config
    with https_session(config.tls_ca_file) as http:
        oauth = SalesforceOAuth(config.salesforce_login_url, config.salesforce_client_id,
                                config.salesforce_client_secret, config.salesforce_redirect_uri, http)
        tokens = sign_in_to_salesforce(config, http, oauth, INTEGRATION_USER)
        identity = oauth.identity(tokens)
    with runtime.session() as session:
        tenant = tenant_for(session, directory["tenantId"], directory["name"], directory["domain"])
        tenant.app_only_enabled, tenant.app_only_group_id = True, sales_group
        save_integration(session, tenant, runtime.box.seal(tokens), account_label=identity.get("username"),
                         external_user_id=identity["user_id"], external_org_id=identity["org_id"],
                         instance_url=tokens.get("instance_url"), login_host=config.salesforce_login_url)
        session.flush()
        return tenant.id


def members_run() -> dict:
    [result] = jobs.sync_group_members()
    assert "error" not in result, result
    return result


def mailboxes(runtime) -> dict[str, Mailbox]:
    with runtime.sessions() as session:
        return {m.address: m for m in session.execute(select(Mailbox)).scalars()}


def test_the_group_s_members_are_provisioned_and_kept_in_step_without_anyone_signing_in(runtime, tenant_id, clouds,
                                                                                       sales_group):
    first = members_run()
    assert sorted(mailboxes(runtime)) == [ALEX, PRIYA]
    assert sorted(first["started"]) == sorted(m.id for m in mailboxes(runtime).values())
    with runtime.sessions() as session:
        tenant = session.get(Tenant, tenant_id)
        assert tenant.app_only_group_name == "Sales reps" and tenant.app_only_members_synced_at is not None
        users = {u.upn: u for u in session.execute(select(User)).scalars()}
    assert {u.provisioned_by for u in users.values()} == {"group"}
    assert all(u.last_sign_in_at is None for u in users.values())
    # Mapped to Salesforce users by email, through the integration connection.
    records = {r["Email"]: r["Id"] for r in clouds.records("User")}
    assert {upn: u.salesforce_user_id for upn, u in users.items()} == {ALEX: records[ALEX], PRIYA: records[PRIYA]}

    # A joiner added in Entra starts syncing after the next run; a leaver's mailbox stops.
    clouds.http.put(f"{clouds.microsoft}/_sandbox/groups/{sales_group}/members/{DIEGO}").raise_for_status()
    clouds.http.delete(f"{clouds.microsoft}/_sandbox/groups/{sales_group}/members/{PRIYA}").raise_for_status()
    clouds.reset_calls()
    second = members_run()
    graph_calls = {call: n for call, n in clouds.calls(clouds.microsoft)["calls"].items() if "/groups/" in call}
    assert graph_calls == {"GET /v1.0/groups/<group_id>": 1,  # its name, then one page of members
                           "GET /v1.0/groups/<group_id>/transitiveMembers/microsoft.graph.user": 1}
    now = mailboxes(runtime)
    assert second["started"] == [now[DIEGO].id] and second["stopped"] == [now[PRIYA].id]
    assert jobs.sync_mailbox(now[DIEGO].id).get("fetched"), "the joiner's mailbox syncs"
    assert now[PRIYA].status == "disabled"
    assert now[PRIYA].status_detail.startswith("Not a member of the Entra group 'Sales reps'")
    assert jobs.sync_mailbox(now[PRIYA].id) == {"mailbox": now[PRIYA].id, "skipped": "not runnable now"}

    # Back in the group: synced again.
    clouds.http.put(f"{clouds.microsoft}/_sandbox/groups/{sales_group}/members/{PRIYA}").raise_for_status()
    assert members_run()["restarted"] == [now[PRIYA].id]
    assert mailboxes(runtime)[PRIYA].status == "active"


def test_a_member_s_email_reaches_a_task_through_the_integration_owned_by_their_salesforce_user(runtime, tenant_id,
                                                                                                clouds):
    mailbox_id = members_run()["started"][0]
    with runtime.sessions() as session:
        user = session.get(Mailbox, mailbox_id).user
        upn, owner = user.upn, user.salesforce_user_id
    contact_id = clouds.plant("Contact", {"LastName": "Buyer", "FirstName": "Ola", "Email": "ola.buyer@fabrikam-app.example"})
    clouds.deliver(upn, **{"from": {"address": "ola.buyer@fabrikam-app.example", "name": "Ola Buyer"},
                           "to": [{"address": upn}], "subject": "App-only: pricing question"})

    result = jobs.sync_mailbox(mailbox_id)

    assert "error" not in result, result
    with runtime.sessions() as session:
        row = session.execute(select(Message).where(Message.subject == "App-only: pricing question")).scalar_one()
    assert row.status == "synced", (row.status, row.reason)
    [task] = clouds.records("Task", Id=row.salesforce_task_id)
    integration_user = clouds.records("User", Username=INTEGRATION_USER)[0]["Id"]
    assert (task["WhoId"], task["OwnerId"]) == (contact_id, owner)
    assert owner != integration_user


def test_the_demo_names_the_group_of_all_its_users_and_a_membership_run_changes_nobody(pipeline, clouds):
    runtime, mailbox_ids = pipeline
    [group] = clouds.http.get(f"{clouds.microsoft}/_sandbox/groups").json()["groups"]
    with runtime.sessions() as session:
        tenant = session.execute(select(Tenant)).scalar_one()
        assert (tenant.app_only_enabled, tenant.app_only_group_id) == (True, group["id"])
    [result] = jobs.sync_group_members()
    assert (result["started"], result["restarted"], result["stopped"]) == ([], [], [])
    assert result["members"] == len(mailbox_ids)
