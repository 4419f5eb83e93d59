"""Saving settings in the core (mailferry/settings_service.py): validation, locks that name
who locked them, tenant defaults that reach users without their own value."""

from __future__ import annotations

from sqlalchemy import select

from mailferry.models import TenantSetting, UserSetting
from mailferry.settings_catalog import SyncMode
from mailferry.settings_service import (
    save_smart_addresses,
    save_tenant_defaults,
    save_user_settings,
    user_settings_state,
)
from mailferry.user_context import user_settings
from tests.db import factories


def _own(session, user) -> dict:
    rows = session.execute(select(UserSetting).where(UserSetting.user_id == user.id)).scalars()
    return {row.key: row.value for row in rows}


def test_a_user_choice_is_stored_and_a_choice_equal_to_the_default_is_not(db_session):
    user = factories.user(db_session)
    result = save_user_settings(db_session, user, {"sync_mode": "attempt_all", "time_zone": "UTC",
                                                   "prevent_delete": True, "folders": "inbox\nsentitems\narchive"})
    assert result.ok
    assert _own(db_session, user) == {"sync_mode": "attempt_all", "folders": ["inbox", "sentitems", "archive"]}
    settings = user_settings(db_session, user)
    assert settings.sync_mode == SyncMode.ATTEMPT_ALL and settings.folders == ("inbox", "sentitems", "archive")
    # Choosing the inherited value again removes the user's own value: they follow the default.
    save_user_settings(db_session, user, {"sync_mode": "sync_all"})
    assert "sync_mode" not in _own(db_session, user)


def test_invalid_values_are_refused_each_with_its_message_and_nothing_is_saved(db_session):
    user = factories.user(db_session)
    result = save_user_settings(db_session, user, {"sync_mode": "attempt_all", "time_zone": "Mars/Olympus",
                                                   "sync_frequency_minutes": "0", "crm_category": " "})
    assert not result.ok
    assert set(result.errors) == {"time_zone", "sync_frequency_minutes", "crm_category"}
    assert "not a known time zone" in result.errors["time_zone"]
    assert _own(db_session, user) == {}


def test_a_locked_setting_cannot_be_changed_and_the_refusal_names_who_locked_it(db_session):
    tenant = factories.tenant(db_session)
    admin = factories.user(db_session, tenant, role="admin", display_name="Ada Admin")
    user = factories.user(db_session, tenant)
    assert save_tenant_defaults(db_session, tenant.id, admin, {"sync_mode": "sync_designated"}, {"sync_mode"}).ok
    result = save_user_settings(db_session, user, {"sync_mode": "sync_all", "time_zone": "Europe/Paris"})
    assert result.errors == {"sync_mode": "Locked by Ada Admin: ask them to change sync mode."}
    assert _own(db_session, user) == {}
    state = user_settings_state(db_session, user)
    assert state.is_locked("sync_mode") and state.locked_by == {"sync_mode": "Ada Admin"}
    assert state.effective.sync_mode == SyncMode.SYNC_DESIGNATED


def test_tenant_defaults_apply_to_users_without_their_own_value_and_locks_override_theirs(db_session):
    tenant = factories.tenant(db_session)
    admin = factories.user(db_session, tenant, role="admin")
    follower, chooser = factories.user(db_session, tenant), factories.user(db_session, tenant)
    save_user_settings(db_session, chooser, {"time_zone": "Asia/Tokyo", "crm_category": "Salesforce"})
    save_tenant_defaults(db_session, tenant.id, admin, {"time_zone": "Europe/Paris", "crm_category": "CRM-Acme"},
                         {"crm_category"})
    assert user_settings(db_session, follower).time_zone == "Europe/Paris"
    assert user_settings(db_session, chooser).time_zone == "Asia/Tokyo"
    assert user_settings(db_session, chooser).crm_category == "CRM-Acme"  # locked
    # Unlocking brings the user's own value back: it was kept, only ignored.
    save_tenant_defaults(db_session, tenant.id, admin, {"crm_category": "CRM-Acme"}, set())
    assert user_settings(db_session, chooser).crm_category == "Salesforce"


def test_a_lock_keeps_the_name_of_the_admin_who_set_it_and_defaults_equal_to_the_catalogue_keep_no_row(db_session):
    tenant = factories.tenant(db_session)
    first = factories.user(db_session, tenant, role="admin", display_name="First")
    second = factories.user(db_session, tenant, role="admin", display_name="Second")
    save_tenant_defaults(db_session, tenant.id, first, {"prevent_update": True}, {"prevent_update"})
    save_tenant_defaults(db_session, tenant.id, second, {"prevent_update": True, "time_zone": "UTC"},
                         {"prevent_update", "time_zone"})
    rows = {row.key: row for row in db_session.execute(
        select(TenantSetting).where(TenantSetting.tenant_id == tenant.id)).scalars()}
    assert set(rows) == {"prevent_update", "time_zone"}
    assert rows["prevent_update"].locked_by_user_id == first.id
    assert rows["time_zone"].locked_by_user_id == second.id
    save_tenant_defaults(db_session, tenant.id, second, {"prevent_update": False}, set())
    assert db_session.scalars(select(TenantSetting.key).where(TenantSetting.tenant_id == tenant.id)).all() == []


def test_smart_addresses_are_validated_and_stored_canonical(db_session):
    tenant = factories.tenant(db_session, primary_domain="acme.example")
    result = save_smart_addresses(db_session, tenant, "not an address", "acme.example")
    assert set(result.errors) == {"do_not_record_address", "smart_address_domain"}
    assert "not a valid address" in result.errors["do_not_record_address"]
    assert "must not be your mail domain" in result.errors["smart_address_domain"]
    result = save_smart_addresses(db_session, tenant, "account-001xx000003dgb2aag@smart.acme.example",
                                  "Smart.Acme.Example")
    assert "names an Account" in result.errors["do_not_record_address"]
    result = save_smart_addresses(db_session, tenant, " DoNotRecord@Smart.Acme.Example ", "@smart.acme.example")
    assert result.ok
    assert (tenant.do_not_record_address, tenant.smart_address_domain) == (
        "donotrecord@smart.acme.example", "smart.acme.example")
    assert save_smart_addresses(db_session, tenant, "", "").ok
    assert (tenant.do_not_record_address, tenant.smart_address_domain) == (None, None)
    assert "not a valid domain" in save_smart_addresses(db_session, tenant, "", "bad_domain!.example").errors[
        "smart_address_domain"]
