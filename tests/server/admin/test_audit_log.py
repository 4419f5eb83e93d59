"""The audit log (SPEC 14): every admin action, driven through its real page, writes one
entry with the admin, the subject and the values before and after; the Audit log page
filters them and exports them as CSV, and shows an admin only their own tenant's entries."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import pytest
from redis import Redis
from rq import Queue
from sqlalchemy import select
from sqlalchemy.orm import Session

from mailferry.db import utcnow
from mailferry.job_queue import MAINTENANCE_QUEUE
from mailferry.models import AuditEntry, Connection, User
from tests.server.security.flows import allow_salesforce, demo_user, salesforce_user_id, sign_in_with_microsoft
from tests.server.settings.helpers import csrf_token, elements

INTEGRATION_USER = "hannah.becker@contoso-demo.com.crm"
GROUP_ID = "2f8e2a4c-5d1b-4c3e-9a7f-0b6d8e1f2a3c"
ACTIONS_ON_THE_PAGES = 11  # the entries `_every_admin_action` writes
DEFAULTS_FORM = {"enabled": "on", "sync_mode": "sync_all", "crm_category": "CRM", "donotsync_category": "DoNotSync",
                 "prevent_delete": "on", "time_zone": "UTC", "folders": "inbox\nsentitems", "sync_frequency_minutes": "5"}


@pytest.fixture(autouse=True)
def no_membership_run_left_queued(redis_url):
    """Turning app-only access on queues a membership run in the test Redis; it is not this
    module's to run, and other tests count the queue."""
    yield
    connection = Redis.from_url(redis_url)
    Queue(MAINTENANCE_QUEUE, connection=connection).empty()
    connection.close()


def _post(client, url: str, data: dict, page: str | None = None):
    """A form posted from its page (`page`, default `url`): with its CSRF token and Referer."""
    page = page or url
    answer = client.post(url, data={"csrf_token": csrf_token(client, page), **data},
                         headers={"Referer": f"https://localhost{page}"})
    assert answer.status_code == 302, (url, answer.status_code, answer.get_data(as_text=True)[:500])
    return answer


def _entries(tenant_world, tenant_id: int) -> list[tuple]:
    return tenant_world.read(select(AuditEntry.action, AuditEntry.actor_user_id, AuditEntry.actor_upn,
                                    AuditEntry.subject, AuditEntry.before, AuditEntry.after)
                             .where(AuditEntry.tenant_id == tenant_id).order_by(AuditEntry.id))


def _signed_in_admin(tenant_world, web_client, sign_in_client):
    tenant = tenant_world.tenant(primary_domain="acme.example")
    admin = tenant_world.admin(tenant, admin_source="granted", display_name="Ada Admin")
    rep = tenant_world.user(tenant, display_name="Rep")
    tenant_world.commit()
    sign_in_client(web_client, admin)
    web_client.environ_base["wsgi.url_scheme"] = "https"
    return tenant.id, (admin.id, admin.upn), (rep.id, rep.upn)


def _every_admin_action(client, rep_id: int) -> None:
    _post(client, "/admin/exclusions", {"entries": "payroll.example\njane@rival.example"})
    _post(client, "/admin/smart-addresses", {"do_not_record_address": "norecord@smart.acme.example",
                                             "smart_address_domain": "smart.acme.example"})
    _post(client, "/admin/defaults", {**DEFAULTS_FORM, "time_zone": "Europe/Paris", "lock_time_zone": "on"})
    _post(client, "/admin/api-budget", {"api_budget_percent": "35"})
    _post(client, f"/admin/users/{rep_id}/admin", {"action": "grant"}, page="/admin/users")
    _post(client, f"/admin/users/{rep_id}/admin", {"action": "revoke"}, page="/admin/users")
    _post(client, "/admin/salesforce-org", {"org_id": "00D5g000004ABCDEAA"})
    _post(client, "/admin/app-only", {"app_only_enabled": "on", "group_id": GROUP_ID})
    _post(client, f"/admin/app-only/users/{rep_id}/salesforce-user", {"salesforce_user_id": "005000000000001"},
          page="/admin/app-only")
    _post(client, "/admin/defaults/retention", {"retention_days": "90"}, page="/admin/defaults")
    _post(client, "/admin/sync-health/alerts", {"alert_email": "ops@acme.example", "alert_webhook_url": ""},
          page="/admin/sync-health")


def test_every_admin_action_on_the_pages_writes_one_entry_with_before_and_after(
        tenant_world, web_client, sign_in_client):
    tenant_id, (admin_id, admin_upn), (rep_id, rep_upn) = _signed_in_admin(tenant_world, web_client, sign_in_client)
    _every_admin_action(web_client, rep_id)
    entries = _entries(tenant_world, tenant_id)
    assert [e[0] for e in entries] == ["global_exclusions.save", "smart_addresses.save", "tenant_defaults.save",
                                       "api_budget.save", "admin.grant", "admin.revoke", "salesforce_org.pin",
                                       "app_only.save", "app_only.salesforce_user", "retention.save",
                                       "alerts.save"]
    assert {(e[1], e[2]) for e in entries} == {(admin_id, admin_upn)}
    by_action = {e[0]: e[3:] for e in entries}
    assert by_action["global_exclusions.save"] == ("Global Exclusion List", [],
                                                   ["jane@rival.example", "payroll.example"])
    assert by_action["smart_addresses.save"][2] == {"do_not_record_address": "norecord@smart.acme.example",
                                                    "smart_address_domain": "smart.acme.example"}
    assert by_action["tenant_defaults.save"][1:] == ({"time_zone": None},
                                                     {"time_zone": {"value": "Europe/Paris", "locked": True}})
    assert by_action["api_budget.save"][1:] == ({"api_budget_percent": 20}, {"api_budget_percent": 35})
    assert by_action["admin.grant"] == (rep_upn, {"role": "user", "admin_source": None},
                                        {"role": "admin", "admin_source": "granted"})
    assert by_action["admin.revoke"] == (rep_upn, {"role": "admin", "admin_source": "granted"},
                                         {"role": "user", "admin_source": None})
    assert by_action["salesforce_org.pin"][1:] == ({"org_id": None}, {"org_id": "00D5g000004ABCD"})
    assert by_action["app_only.save"][1:] == ({"enabled": False, "group_id": None},
                                              {"enabled": True, "group_id": GROUP_ID})
    assert by_action["app_only.salesforce_user"] == (rep_upn, {"salesforce_user_id": None},
                                                     {"salesforce_user_id": "005000000000001"})
    assert by_action["retention.save"][1:] == ({"retention_days": 30}, {"retention_days": 90})
    assert by_action["alerts.save"] == ("Sync Health alerts", {"email": None, "webhook_url": None},
                                         {"email": "ops@acme.example", "webhook_url": None})


def test_a_save_that_changes_nothing_writes_no_entry(tenant_world, web_client, sign_in_client):
    tenant_id, _, _ = _signed_in_admin(tenant_world, web_client, sign_in_client)
    _post(web_client, "/admin/api-budget", {"api_budget_percent": "20"})  # the default already
    _post(web_client, "/admin/exclusions", {"entries": ""})
    assert _entries(tenant_world, tenant_id) == []


def test_the_page_filters_by_action_actor_and_dates_and_the_csv_has_the_selection(
        tenant_world, web_client, sign_in_client):
    _, (_, admin_upn), (rep_id, rep_upn) = _signed_in_admin(tenant_world, web_client, sign_in_client)
    _every_admin_action(web_client, rep_id)
    page = web_client.get("/admin/audit")
    assert page.status_code == 200
    assert len(elements(page.get_data(as_text=True), "audit-row")) == ACTIONS_ON_THE_PAGES
    grants = elements(web_client.get("/admin/audit?action=admin.grant").get_data(as_text=True), "audit-row")
    assert [row["data-action"] for row in grants] == ["admin.grant"]
    assert len(elements(web_client.get(f"/admin/audit?actor={admin_upn.upper()[:6]}").get_data(as_text=True),
                        "audit-row")) == ACTIONS_ON_THE_PAGES
    assert elements(web_client.get("/admin/audit?actor=nobody-like-this").get_data(as_text=True), "audit-row") == []
    today, tomorrow = utcnow().date(), utcnow().date() + timedelta(days=1)
    assert len(elements(web_client.get(f"/admin/audit?since={today}&until={today}").get_data(as_text=True),
                        "audit-row")) == ACTIONS_ON_THE_PAGES
    assert elements(web_client.get(f"/admin/audit?since={tomorrow}").get_data(as_text=True), "audit-row") == []
    assert web_client.get("/admin/audit?since=yesterday").status_code == 400

    export = web_client.get("/admin/audit.csv?action=admin.revoke")
    assert export.status_code == 200 and export.mimetype == "text/csv"
    rows = list(csv.reader(io.StringIO(export.get_data(as_text=True))))
    assert rows[0] == ["When (UTC)", "Actor", "Actor UPN", "Action", "Subject", "Before", "After"]
    assert [row[1:5] for row in rows[1:]] == [["Ada Admin", admin_upn, "admin.revoke", rep_upn]]
    assert '"role": "admin"' in rows[1][5] and '"role": "user"' in rows[1][6]
    everything = list(csv.reader(io.StringIO(web_client.get("/admin/audit.csv").get_data(as_text=True))))
    assert len(everything) == 1 + ACTIONS_ON_THE_PAGES


def test_an_admin_sees_and_exports_only_their_own_tenants_entries(tenant_world, web_client, sign_in_client, app):
    _, _, (rep_id, _) = _signed_in_admin(tenant_world, web_client, sign_in_client)
    _every_admin_action(web_client, rep_id)
    other_tenant = tenant_world.tenant(primary_domain="fabrikam.example")
    other_admin = tenant_world.admin(other_tenant, admin_source="granted")
    tenant_world.commit()
    other_client = app.test_client()
    sign_in_client(other_client, other_admin)
    other_client.environ_base["wsgi.url_scheme"] = "https"
    page = other_client.get("/admin/audit")
    assert page.status_code == 200
    assert elements(page.get_data(as_text=True), "audit-row") == []
    assert list(csv.reader(io.StringIO(other_client.get("/admin/audit.csv").get_data(as_text=True))))[1:] == []


def test_a_rep_is_refused_the_audit_log(tenant_world, web_client, sign_in_client):
    tenant = tenant_world.tenant()
    rep = tenant_world.user(tenant)
    tenant_world.commit()
    sign_in_client(web_client, rep)
    web_client.environ_base["wsgi.url_scheme"] = "https"
    assert web_client.get("/admin/audit").status_code == 403
    assert web_client.get("/admin/audit.csv").status_code == 403


def test_the_periodic_purge_drops_entries_older_than_a_year_and_keeps_the_rest(tenant_world):
    from worker.maintenance import expire_and_purge

    tenant = tenant_world.tenant()
    now = utcnow()
    for days in (366, 364):
        tenant_world.add(AuditEntry(tenant_id=tenant.id, at=now - timedelta(days=days), actor_name="Ada",
                                    action="api_budget.save", subject=f"{days} days ago", before=None, after={}))
    tenant_world.commit()
    result = expire_and_purge(tenant_world.session, now)
    tenant_world.commit()
    assert result["audit_purged"] == 1
    assert tenant_world.read(select(AuditEntry.subject).where(AuditEntry.tenant_id == tenant.id)) == [("364 days ago",)]


def test_connecting_and_disconnecting_the_salesforce_integration_user_writes_entries_without_tokens(
        cleared_security_stack, client_session):
    """The App-only access page's Connect (the Salesforce OAuth flow with the tenant as
    target, through the sandbox) and Disconnect (revoked at Salesforce) are both audited."""
    stack = cleared_security_stack
    admin = stack.app.test_client()
    admin.environ_base["wsgi.url_scheme"] = "https"
    admin.environ_base["HTTP_REFERER"] = "https://localhost/"
    signed_in = sign_in_with_microsoft(admin, client_session,
                                       demo_user(client_session, stack.config.sandbox_microsoft_url)["id"])
    assert signed_in.status_code == 302  # the demo's first user: the tenant's admin
    started = admin.post("/connections/salesforce/connect", data={
        "csrf_token": csrf_token(admin, "/admin/app-only"), "login_host": "configured", "target": "tenant"})
    callback = allow_salesforce(client_session, started.location, salesforce_user_id(
        client_session, stack.config.sandbox_salesforce_url, INTEGRATION_USER))
    assert admin.get(callback.removeprefix(stack.config.base_url)).location == "/admin/app-only"
    disconnected = admin.post("/connections/salesforce/disconnect", data={
        "csrf_token": csrf_token(admin, "/admin/app-only"), "target": "tenant"})
    assert disconnected.status_code == 302 and disconnected.location == "/admin/app-only"

    with Session(stack.engine) as session:
        admin_upn = session.execute(select(User.upn)).scalar_one()
        [integration] = session.execute(select(Connection).where(Connection.user_id.is_(None))).scalars()
        assert (integration.status, integration.sealed_secrets) == ("disconnected", None)
        entries = session.execute(select(AuditEntry.action, AuditEntry.actor_upn, AuditEntry.before, AuditEntry.after)
                                  .order_by(AuditEntry.id)).all()
    org_id = entries[0][3]["org_id"]
    assert org_id and org_id.startswith("00D")
    assert entries == [
        ("salesforce_integration.connect", admin_upn, {"status": None, "account": None, "org_id": None},
         {"status": "connected", "account": INTEGRATION_USER, "org_id": org_id}),
        ("salesforce_integration.disconnect", admin_upn,
         {"status": "connected", "account": INTEGRATION_USER, "org_id": org_id},
         {"status": "disconnected", "account": INTEGRATION_USER, "org_id": org_id, "revoked_at_salesforce": True}),
    ]
