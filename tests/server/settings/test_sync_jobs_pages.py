"""My Settings → Sync Jobs and Email Sync → Edit, through the Flask test client on the test
database: what the row says, saving, locks shown greyed out, errors beside their field."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone


from mailferry.db import utcnow
from mailferry.models import Connection, TenantSetting, UserSetting
from mailferry.settings_service import save_tenant_defaults
from tests.db import factories
from tests.server.settings.helpers import element, elements, post_form

EDIT = "/settings/sync-jobs/email/edit"
HOSTILE = '<script>alert(1)</script>"\'><img src=x onerror=alert(2)>'


def _post(web_client, data: dict):
    return post_form(web_client, EDIT, data)


def _full_form(**overrides) -> dict:
    form = {"enabled": "on", "sync_mode": "sync_all", "crm_category": "CRM", "donotsync_category": "DoNotSync",
            "prevent_delete": "on", "time_zone": "UTC", "folders": "inbox\nsentitems", "sync_frequency_minutes": "5"}
    form.update(overrides)
    return {key: value for key, value in form.items() if value is not None}


def test_settings_opens_on_sync_jobs(tenant_world, web_client, sign_in_client):
    user = tenant_world.user(tenant_world.tenant())
    tenant_world.commit()
    sign_in_client(web_client, user)
    response = web_client.get("/settings")
    assert response.status_code == 302 and response.location.endswith("/settings/sync-jobs")


def test_signed_out_visitors_cannot_open_settings(tenant_world, web_client):
    for url in ("/settings/sync-jobs", EDIT):
        response = web_client.get(url)
        assert response.status_code in (302, 401)
        assert "/settings" not in (response.location or "")


def test_the_email_sync_row_shows_enabled_last_run_frequency_status_and_links(tenant_world, web_client, sign_in_client):
    user = tenant_world.user(tenant_world.tenant())
    tenant_world.add(UserSetting(user_id=user.id, key="time_zone", value="Europe/Paris"),
              UserSetting(user_id=user.id, key="sync_frequency_minutes", value=15))
    factories.mailbox(tenant_world.session, user, last_run_at=datetime(2026, 11, 26, 9, 30, tzinfo=timezone.utc))
    tenant_world.commit()
    sign_in_client(web_client, user)
    html = web_client.get("/settings/sync-jobs").get_data(as_text=True)
    assert element(html, "sync-job-enabled")["text"] == "Yes"
    assert element(html, "sync-job-last-run")["text"] == "2026-11-26 10:30 CET"
    assert element(html, "sync-job-frequency")["text"] == "every 15 minutes"
    status = element(html, "sync-job-status")
    assert status["data-status"] == "connected" and status["text"] == "connected"
    assert element(html, "sync-job-edit")["href"] == EDIT
    assert element(html, "sync-job-history")["href"].startswith("/history")


def test_a_mailbox_that_lost_access_shows_needs_reconnect_with_the_fix(tenant_world, web_client, sign_in_client):
    user = tenant_world.user(tenant_world.tenant())
    factories.mailbox(tenant_world.session, user, status="needs_reconnect", status_detail="Sign in with Microsoft again.")
    tenant_world.commit()
    sign_in_client(web_client, user)
    html = web_client.get("/settings/sync-jobs").get_data(as_text=True)
    assert element(html, "sync-job-status")["data-status"] == "needs_reconnect"
    assert "needs reconnect" in element(html, "sync-job-status")["text"]
    assert element(html, "sync-job-status-detail")["text"] == "Sign in with Microsoft again."
    assert element(html, "sync-job-fix")["href"] == "/connections"


def test_a_salesforce_connection_that_lost_access_shows_needs_reconnect_with_its_fix(tenant_world, web_client, sign_in_client):
    user = tenant_world.user(tenant_world.tenant())
    factories.mailbox(tenant_world.session, user)
    tenant_world.add(Connection(tenant_id=user.tenant_id, user_id=user.id, provider="salesforce", sealed_secrets=b"x",
                         status="needs_reconnect", status_detail="Reconnect Salesforce: My Settings → Connections."))
    tenant_world.commit()
    sign_in_client(web_client, user)
    html = web_client.get("/settings/sync-jobs").get_data(as_text=True)
    assert element(html, "sync-job-status")["data-status"] == "needs_reconnect"
    assert "Salesforce" in element(html, "sync-job-status")["text"]
    assert element(html, "sync-job-status-detail")["text"] == "Reconnect Salesforce: My Settings → Connections."


def test_a_throttled_mailbox_says_until_when_in_the_users_time_zone(tenant_world, web_client, sign_in_client):
    user = tenant_world.user(tenant_world.tenant())
    tenant_world.add(UserSetting(user_id=user.id, key="time_zone", value="America/New_York"))
    until = (utcnow() + timedelta(hours=1)).replace(second=0, microsecond=0)
    factories.mailbox(tenant_world.session, user, status="throttled", retry_after=until)
    tenant_world.commit()
    sign_in_client(web_client, user)
    html = web_client.get("/settings/sync-jobs").get_data(as_text=True)
    status = element(html, "sync-job-status")
    local = until.astimezone(__import__("zoneinfo").ZoneInfo("America/New_York"))
    assert status["data-status"] == "throttled"
    assert f"throttled until {local:%Y-%m-%d %H:%M} {local.tzname()}" in status["text"]


def test_no_mailbox_yet_says_not_connected_and_sync_off_says_so(tenant_world, web_client, sign_in_client):
    tenant = tenant_world.tenant()
    newcomer, paused = tenant_world.user(tenant), tenant_world.user(tenant)
    factories.mailbox(tenant_world.session, paused)
    tenant_world.add(UserSetting(user_id=paused.id, key="enabled", value=False))
    tenant_world.commit()
    sign_in_client(web_client, newcomer)
    assert element(web_client.get("/settings/sync-jobs").get_data(as_text=True), "sync-job-status")[
        "data-status"] == "not_connected"
    sign_in_client(web_client, paused)
    html = web_client.get("/settings/sync-jobs").get_data(as_text=True)
    assert element(html, "sync-job-status")["data-status"] == "sync_off"
    assert element(html, "sync-job-enabled")["text"] == "No"


def test_the_edit_page_shows_the_defaults_with_delete_prevented(tenant_world, web_client, sign_in_client):
    user = tenant_world.user(tenant_world.tenant())
    tenant_world.commit()
    sign_in_client(web_client, user)
    response = web_client.get(EDIT)
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "checked" in element(html, "field-prevent_delete")
    assert "checked" not in element(html, "field-prevent_create")
    assert element(html, "field-crm_category")["value"] == "CRM"
    assert element(html, "field-folders")["text"] == "inbox sentitems"
    assert '<option value="Europe/Paris">' in html and '<option value="UTC" selected>' in html
    for key in ("enabled", "sync_mode", "crm_category", "donotsync_category", "prevent_create", "prevent_update",
                "prevent_delete", "time_zone", "folders", "sync_frequency_minutes"):
        assert f'<label for="{key}">' in html, key  # every field has its label


def test_saving_the_form_stores_the_users_choices_and_returns_to_sync_jobs(tenant_world, web_client, sign_in_client):
    user = tenant_world.user(tenant_world.tenant())
    tenant_world.commit()
    sign_in_client(web_client, user)
    response = _post(web_client, _full_form(sync_mode="attempt_designated", crm_category="Salesforce",
                                        prevent_delete=None, prevent_update="on", time_zone="Europe/Berlin"))
    assert response.status_code == 302 and response.location.endswith("/settings/sync-jobs")
    own = tenant_world.own_settings(user)
    assert own == {"sync_mode": "attempt_designated", "crm_category": "Salesforce", "prevent_delete": False,
                   "prevent_update": True, "time_zone": "Europe/Berlin"}
    html = web_client.get("/settings/sync-jobs").get_data(as_text=True)
    assert "Email Sync settings saved" in html
    assert "Attempt to Sync Emails Only When Designated" in html


def test_errors_are_shown_next_to_their_fields_and_nothing_is_saved(tenant_world, web_client, sign_in_client):
    user = tenant_world.user(tenant_world.tenant())
    tenant_world.commit()
    sign_in_client(web_client, user)
    response = _post(web_client, _full_form(sync_mode="attempt_all", crm_category="Same", donotsync_category="same",
                                        sync_frequency_minutes="99999", folders=" "))
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert element(html, "error-donotsync_category")["text"] == "must differ from the CRM category"
    assert "from 1 to 1440" in element(html, "error-sync_frequency_minutes")["text"]
    assert "at least one folder" in element(html, "error-folders")["text"]
    field = element(html, "field-sync_frequency_minutes")
    assert field["aria-invalid"] == "true" and field["aria-describedby"] == "sync_frequency_minutes-error"
    assert element(html, "field-sync_mode")  # the submitted choice is kept
    assert '<option value="attempt_all" selected>' in html
    assert tenant_world.own_settings(user) == {}


def test_locked_settings_are_greyed_out_disabled_and_name_who_locked_them(tenant_world, web_client, sign_in_client):
    tenant = tenant_world.tenant()
    admin = tenant_world.admin(tenant, display_name="Ada Admin")
    user = tenant_world.user(tenant)
    save_tenant_defaults(tenant_world.session, tenant.id, admin, {"sync_mode": "sync_designated", "prevent_create": True},
                         {"sync_mode", "prevent_create"})
    tenant_world.commit()
    sign_in_client(web_client, user)
    html = web_client.get(EDIT).get_data(as_text=True)
    mode = element(html, "field-sync_mode")
    assert "disabled" in mode and mode["aria-describedby"] == "sync_mode-lock"
    assert element(html, "locked-by-sync_mode")["text"] == "Locked by Ada Admin"
    assert "disabled" in element(html, "field-prevent_create") and "checked" in element(html, "field-prevent_create")
    assert "disabled" not in element(html, "field-time_zone")
    assert '<option value="sync_designated" selected>' in html
    # The browser sends nothing for disabled fields: the rest saves.
    form = _full_form(time_zone="Asia/Tokyo")
    del form["sync_mode"]
    assert _post(web_client, form).status_code == 302
    # A hand-made post carrying a locked key is refused, naming the admin; nothing is saved.
    response = _post(web_client, _full_form(sync_mode="sync_all", time_zone="Europe/Rome"))
    assert response.status_code == 422
    assert "Locked by Ada Admin" in element(response.get_data(as_text=True), "error-sync_mode")["text"]
    own = tenant_world.own_settings(user)
    assert own["time_zone"] == "Asia/Tokyo" and "sync_mode" not in own


def test_a_post_without_the_csrf_token_is_refused(tenant_world, web_client, sign_in_client):
    user = tenant_world.user(tenant_world.tenant())
    tenant_world.commit()
    sign_in_client(web_client, user)
    response = web_client.post(EDIT, data=_full_form(sync_mode="off"), headers={"Referer": f"https://localhost{EDIT}"})
    assert response.status_code == 400
    assert tenant_world.own_settings(user) == {}


def test_hostile_strings_are_escaped_on_the_settings_pages(tenant_world, web_client, sign_in_client):
    tenant = tenant_world.tenant()
    admin = tenant_world.admin(tenant, display_name=HOSTILE)
    user = tenant_world.user(tenant, display_name=HOSTILE)
    tenant_world.add(TenantSetting(tenant_id=tenant.id, key="crm_category", value=HOSTILE, locked=True,
                            locked_by_user_id=admin.id))
    factories.mailbox(tenant_world.session, user, status="needs_reconnect", status_detail=HOSTILE)
    tenant_world.commit()
    sign_in_client(web_client, user)
    for url in ("/settings/sync-jobs", EDIT):
        html = web_client.get(url).get_data(as_text=True)
        assert "<script>alert(1)" not in html and "<img src=x" not in html
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    html = web_client.get(EDIT).get_data(as_text=True)
    assert element(html, "field-crm_category")["value"] == HOSTILE  # shown intact, as text
    assert len(elements(html, "locked-by-crm_category")) == 1
