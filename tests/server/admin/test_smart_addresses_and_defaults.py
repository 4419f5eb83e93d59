"""/admin/smart-addresses and /admin/defaults: validation messages beside their fields,
defaults reaching users without their own value, locks greyed out on users' Edit page."""

from __future__ import annotations

from sqlalchemy import select

from mailferry.models import Tenant, TenantSetting, UserSetting
from tests.server.settings.helpers import element, post_form

HOSTILE = '<script>alert(1)</script>"\'><svg onload=alert(2)>'
DEFAULTS_FORM = {"enabled": "on", "sync_mode": "sync_all", "crm_category": "CRM", "donotsync_category": "DoNotSync",
                 "prevent_delete": "on", "time_zone": "UTC", "folders": "inbox\nsentitems", "sync_frequency_minutes": "5"}


def test_smart_addresses_are_validated_beside_their_fields(tenant_world, web_client, sign_in_client):
    tenant = tenant_world.tenant(primary_domain="acme.example")
    admin = tenant_world.admin(tenant)
    tenant_world.commit()
    sign_in_client(web_client, admin)
    response = post_form(web_client, "/admin/smart-addresses",
                         {"do_not_record_address": "nobody at all", "smart_address_domain": "acme.example"})
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "not a valid address" in element(html, "error-do_not_record_address")["text"]
    assert "must not be your mail domain" in element(html, "error-smart_address_domain")["text"]
    assert element(html, "field-do_not_record_address")["value"] == "nobody at all"
    assert element(html, "field-smart_address_domain")["aria-invalid"] == "true"
    assert tenant_world.read(select(Tenant.do_not_record_address).where(Tenant.id == tenant.id)) == [(None,)]


def test_smart_addresses_are_saved_canonical_with_an_example(tenant_world, web_client, sign_in_client):
    tenant = tenant_world.tenant(primary_domain="acme.example")
    admin = tenant_world.admin(tenant)
    tenant_world.commit()
    sign_in_client(web_client, admin)
    response = post_form(web_client, "/admin/smart-addresses",
                         {"do_not_record_address": "NoRecord@Smart.Acme.Example", "smart_address_domain": "smart.acme.example"})
    assert response.status_code == 302
    html = web_client.get("/admin/smart-addresses").get_data(as_text=True)
    assert "Smart addresses saved." in html
    assert element(html, "field-do_not_record_address")["value"] == "norecord@smart.acme.example"
    assert element(html, "smart-address-example")["text"] == "Example: account-001xx000003dgb2aag@smart.acme.example"


def test_the_defaults_page_shows_the_catalogue_defaults_with_delete_prevented(tenant_world, web_client, sign_in_client):
    admin = tenant_world.admin(tenant_world.tenant())
    tenant_world.commit()
    sign_in_client(web_client, admin)
    html = web_client.get("/admin/defaults").get_data(as_text=True)
    assert "checked" in element(html, "default-enabled") and "checked" in element(html, "default-prevent_delete")
    assert "checked" not in element(html, "default-prevent_create")
    assert element(html, "default-crm_category")["value"] == "CRM"
    assert not any("checked" in element(html, f"lock-{key}") for key in ("sync_mode", "time_zone", "folders"))
    assert '<label for="lock_sync_mode"><span class="visually-hidden">Lock Sync mode</span>' in html


def test_admin_defaults_apply_to_users_without_their_own_value(tenant_world, web_client, sign_in_client):
    tenant = tenant_world.tenant()
    admin, follower, chooser = tenant_world.admin(tenant, display_name="Ada"), tenant_world.user(tenant), tenant_world.user(tenant)
    tenant_world.add(UserSetting(user_id=chooser.id, key="time_zone", value="Asia/Tokyo"))
    tenant_world.commit()
    sign_in_client(web_client, admin)
    form = {**DEFAULTS_FORM, "time_zone": "Europe/Paris", "sync_mode": "attempt_all", "lock_sync_mode": "on"}
    assert post_form(web_client, "/admin/defaults", form).status_code == 302
    html = web_client.get("/admin/defaults").get_data(as_text=True)
    assert "Tenant defaults saved" in html
    assert "checked" in element(html, "lock-sync_mode") and "checked" not in element(html, "lock-time_zone")
    assert element(html, "locked-by-sync_mode")["text"] == "Locked by Ada"
    sign_in_client(web_client, follower)
    edit = web_client.get("/settings/sync-jobs/email/edit").get_data(as_text=True)
    assert '<option value="Europe/Paris" selected>' in edit
    assert '<option value="attempt_all" selected>' in edit and "disabled" in element(edit, "field-sync_mode")
    assert element(edit, "locked-by-sync_mode")["text"] == "Locked by Ada"
    sign_in_client(web_client, chooser)
    assert '<option value="Asia/Tokyo" selected>' in web_client.get("/settings/sync-jobs/email/edit").get_data(as_text=True)


def test_invalid_defaults_are_refused_beside_their_field_and_nothing_is_saved(tenant_world, web_client, sign_in_client):
    tenant = tenant_world.tenant()
    admin = tenant_world.admin(tenant)
    tenant_world.commit()
    sign_in_client(web_client, admin)
    response = post_form(web_client, "/admin/defaults", {**DEFAULTS_FORM, "time_zone": "Nowhere/Land",
                                                      "lock_time_zone": "on"})
    assert response.status_code == 422
    assert "not a known time zone" in element(response.get_data(as_text=True), "error-time_zone")["text"]
    assert tenant_world.read(select(TenantSetting.key).where(TenantSetting.tenant_id == tenant.id)) == []


def test_hostile_values_are_escaped_on_the_admin_pages(tenant_world, web_client, sign_in_client):
    tenant = tenant_world.tenant(name=HOSTILE)
    admin = tenant_world.admin(tenant, display_name=HOSTILE)
    tenant_world.add(TenantSetting(tenant_id=tenant.id, key="crm_category", value=HOSTILE, locked=True,
                            locked_by_user_id=admin.id))
    tenant_world.commit()
    sign_in_client(web_client, admin)
    for url in ("/admin", "/admin/defaults", "/admin/users", "/admin/exclusions", "/admin/smart-addresses",
                "/admin/api-budget"):
        html = web_client.get(url).get_data(as_text=True)
        assert "<script>alert(1)" not in html and "<svg onload" not in html, url
    assert element(web_client.get("/admin/defaults").get_data(as_text=True), "default-crm_category")["value"] == HOSTILE
    response = post_form(web_client, "/admin/exclusions", {"entries": HOSTILE})
    assert "<script>alert(1)" not in response.get_data(as_text=True)
    assert response.status_code == 422


def test_an_admin_changes_only_their_own_tenants_defaults_and_sees_only_its_smart_addresses(tenant_world, web_client, sign_in_client):
    mine = tenant_world.tenant()
    theirs = tenant_world.tenant(smart_address_domain="their-smart.example", do_not_record_address="dnr@their-smart.example")
    admin = tenant_world.admin(mine)
    tenant_world.add(TenantSetting(tenant_id=theirs.id, key="time_zone", value="Asia/Tokyo", locked=True))
    tenant_world.commit()
    sign_in_client(web_client, admin)
    assert "their-smart.example" not in web_client.get("/admin/smart-addresses").get_data(as_text=True)
    html = web_client.get("/admin/defaults").get_data(as_text=True)
    assert "checked" not in element(html, "lock-time_zone") and '<option value="UTC" selected>' in html
    assert post_form(web_client, "/admin/defaults", {**DEFAULTS_FORM, "time_zone": "Europe/Oslo"}).status_code == 302
    assert tenant_world.read(select(TenantSetting.key, TenantSetting.value, TenantSetting.locked)
                      .where(TenantSetting.tenant_id == theirs.id)) == [("time_zone", "Asia/Tokyo", True)]
