"""The retention setting (SPEC section 4: Sync History and Unmatched rows kept 30 days,
configurable) on the admin's Defaults page: saved for the admin's tenant with an audit entry,
refused with the allowed range (422) outside it, and the hourly purge keeps rows as long as
the tenant's setting says."""

from __future__ import annotations

import html
from datetime import timedelta

import pytest
from sqlalchemy import select

from mailferry.db import utcnow
from mailferry.models import AuditEntry, Message, Tenant, UnmatchedAddress
from tests.db import factories
from tests.server.settings.helpers import csrf_token, element
from worker.maintenance import expire_and_purge

PAGE, SAVE = "/admin/defaults", "/admin/defaults/retention"


@pytest.fixture
def admin_client(tenant_world, web_client, sign_in_client):
    tenant = tenant_world.tenant(primary_domain="acme.example")
    admin = tenant_world.admin(tenant, admin_source="granted")
    tenant_world.commit()
    sign_in_client(web_client, admin)
    web_client.environ_base["wsgi.url_scheme"] = "https"
    web_client.environ_base["HTTP_REFERER"] = f"https://localhost{PAGE}"
    return web_client, tenant.id, admin.upn


def _save(client, days: str):
    return client.post(SAVE, data={"csrf_token": csrf_token(client, PAGE), "retention_days": days})


def _retention(tenant_world, tenant_id: int) -> int:
    return tenant_world.read(select(Tenant.retention_days).where(Tenant.id == tenant_id))[0][0]


def test_an_admin_sets_the_retention_on_the_defaults_page_and_the_change_is_audited(tenant_world, admin_client):
    client, tenant_id, admin_upn = admin_client
    assert element(client.get(PAGE).get_data(as_text=True), "field-retention_days")["value"] == "30"
    saved = _save(client, "90")
    assert saved.status_code == 302 and saved.location == PAGE
    assert _retention(tenant_world, tenant_id) == 90
    assert element(client.get(PAGE).get_data(as_text=True), "field-retention_days")["value"] == "90"
    assert tenant_world.read(select(AuditEntry.action, AuditEntry.actor_upn, AuditEntry.before, AuditEntry.after)
                             .where(AuditEntry.tenant_id == tenant_id)) == [
        ("retention.save", admin_upn, {"retention_days": 30}, {"retention_days": 90})]
    assert _save(client, "90").status_code == 302  # the same value again: no second entry
    assert len(tenant_world.read(select(AuditEntry.id).where(AuditEntry.tenant_id == tenant_id))) == 1


@pytest.mark.parametrize("typed", ["29", "366", "sixty", "", "-5", "45.5", "３０"])
def test_a_retention_outside_the_allowed_days_is_refused_with_the_range(tenant_world, admin_client, typed):
    client, tenant_id, _ = admin_client
    refused = _save(client, typed)
    assert refused.status_code == 422
    page = html.unescape(refused.get_data(as_text=True))
    assert element(page, "error-retention_days")["text"] == (
        "Retention must be a whole number of days from 30 (the 30-day window each email is attempted in, which "
        "the rows must outlive) to 365")
    assert element(page, "field-retention_days")["value"] == typed  # what was typed, to correct it
    assert _retention(tenant_world, tenant_id) == 30
    assert tenant_world.read(select(AuditEntry.id).where(AuditEntry.tenant_id == tenant_id)) == []


def test_the_purge_keeps_rows_as_long_as_the_tenants_saved_retention(tenant_world, admin_client):
    client, tenant_id, _ = admin_client
    assert _save(client, "60").status_code == 302
    tenant = tenant_world.session.get(Tenant, tenant_id)
    tenant_world.session.refresh(tenant)
    other = tenant_world.tenant()  # keeps the default 30 days
    now = utcnow()
    for owner in (tenant, other):
        mailbox = factories.mailbox(tenant_world.session, factories.user(tenant_world.session, owner))
        for days in (61, 45):
            factories.message(tenant_world.session, mailbox, subject=f"{days} days", status="synced",
                              first_seen_at=now - timedelta(days=days))
            tenant_world.add(UnmatchedAddress(tenant_id=owner.id, user_id=mailbox.user_id,
                                              address=f"seen-{days}@x.example", last_seen_at=now - timedelta(days=days)))
    tenant_world.commit()

    expire_and_purge(tenant_world.session, now)
    tenant_world.commit()

    def left(model, column, tenant_id):
        return sorted(value for (value,) in tenant_world.read(select(column).where(model.tenant_id == tenant_id)))

    assert left(Message, Message.subject, tenant.id) == ["45 days"]  # 60 days kept
    assert left(UnmatchedAddress, UnmatchedAddress.address, tenant.id) == ["seen-45@x.example"]
    assert left(Message, Message.subject, other.id) == []  # 30 days kept
    assert left(UnmatchedAddress, UnmatchedAddress.address, other.id) == []
