"""The settings catalogue: defaults, validation, and which value applies to a user."""

from __future__ import annotations

import pytest

from mailferry.settings_catalog import (
    CATALOGUE,
    DEFAULTS,
    EffectiveSettings,
    InvalidSetting,
    SyncMode,
    effective_settings,
    validate_setting,
    validate_settings,
)


def test_the_catalogue_defaults_are_those_of_the_spec():
    assert DEFAULTS == {
        "enabled": True,
        "sync_mode": SyncMode.SYNC_ALL,
        "crm_category": "CRM",
        "donotsync_category": "DoNotSync",
        "prevent_create": False,
        "prevent_update": False,
        "prevent_delete": True,
        "time_zone": "UTC",
        "folders": ("inbox", "sentitems"),
        "sync_frequency_minutes": 5,
    }


def test_effective_settings_without_any_values_are_the_defaults():
    settings = effective_settings()
    assert settings == EffectiveSettings(locked=frozenset(), sources=settings.sources)
    assert all(source == "default" for _key, source in settings.sources)


def test_the_five_sync_modes_have_stable_names_and_the_spec_labels():
    assert [m.value for m in SyncMode] == ["sync_all", "attempt_all", "sync_designated", "attempt_designated", "off"]
    assert SyncMode.ATTEMPT_DESIGNATED.label == "Attempt to Sync Emails Only When Designated"
    assert [m for m in SyncMode if m.designated_only] == [SyncMode.SYNC_DESIGNATED, SyncMode.ATTEMPT_DESIGNATED]
    assert [m for m in SyncMode if m.attempt] == [SyncMode.ATTEMPT_ALL, SyncMode.ATTEMPT_DESIGNATED]


VALID = [
    ("sync_mode", "attempt_all", SyncMode.ATTEMPT_ALL),
    ("sync_mode", "Sync Emails Only When Designated", SyncMode.SYNC_DESIGNATED),
    ("crm_category", "  Salesforce ", "Salesforce"),
    ("prevent_delete", "false", False),
    ("prevent_create", "on", True),
    ("enabled", 0, False),
    ("time_zone", "Europe/Paris", "Europe/Paris"),
    ("time_zone", "America/Argentina/Buenos_Aires", "America/Argentina/Buenos_Aires"),
    ("folders", ["Inbox", "SentItems", "AAMkAGI2TG93AAA="], ("inbox", "sentitems", "AAMkAGI2TG93AAA=")),
    ("folders", "inbox, sentitems, inbox", ("inbox", "sentitems")),
    ("sync_frequency_minutes", "15", 15),
]


@pytest.mark.parametrize("key, value, stored", VALID)
def test_valid_values_are_stored_in_their_clean_form(key, value, stored):
    assert validate_setting(key, value) == stored


INVALID = [
    ("sync_mode", "sometimes", "must be one of sync_all"),
    ("sync_mode", None, "must be one of"),
    ("crm_category", "", "must not be empty"),
    ("crm_category", "x" * 256, "at most 255"),
    ("donotsync_category", "Do\nNot", "control characters"),
    ("prevent_delete", "maybe", "true or false"),
    ("prevent_delete", 2, "true or false"),
    ("time_zone", "Mars/Olympus_Mons", "not a known time zone"),
    ("time_zone", "../../etc/passwd", "IANA time zone"),
    ("time_zone", "localtime", "IANA time zone"),
    ("time_zone", 1, "IANA time zone"),
    ("folders", [], "at least one folder"),
    ("folders", ["inbox", 3], "Graph folder id"),
    ("folders", {"inbox": 1}, "list of folders"),
    ("sync_frequency_minutes", 0, "from 1 to 1440"),
    ("sync_frequency_minutes", True, "from 1 to 1440"),
    ("sync_frequency_minutes", 5.5, "from 1 to 1440"),
    ("colour", "blue", "not a setting"),
]


@pytest.mark.parametrize("key, value, message", INVALID)
def test_invalid_values_are_refused_with_a_message_naming_the_setting(key, value, message):
    with pytest.raises(InvalidSetting) as raised:
        validate_setting(key, value)
    assert raised.value.key == key
    assert str(raised.value).startswith(f"{key}: ")
    assert message in raised.value.message


def test_a_form_is_validated_whole_with_one_message_per_bad_field():
    check = validate_settings({"sync_mode": "nope", "time_zone": "Nowhere/Land", "crm_category": "CRM"})
    assert not check.ok
    assert set(check.errors) == {"sync_mode", "time_zone"}
    assert check.values == {"crm_category": "CRM"}


def test_the_two_category_names_must_differ():
    check = validate_settings({"crm_category": "CRM", "donotsync_category": " crm "})
    assert check.errors == {"donotsync_category": "must differ from the CRM category"}


def test_every_catalogue_default_passes_its_own_validation():
    for key, spec in CATALOGUE.items():
        assert validate_setting(key, spec.default) == spec.default


def test_the_user_value_beats_the_tenant_default():
    settings = effective_settings(DEFAULTS, {"sync_mode": "attempt_all"}, {}, {"sync_mode": "sync_designated"})
    assert settings.sync_mode == SyncMode.SYNC_DESIGNATED
    assert settings.source_of("sync_mode") == "user"


def test_a_locked_tenant_value_beats_the_user_value():
    settings = effective_settings(DEFAULTS, {"sync_mode": "attempt_all"}, {"sync_mode": True}, {"sync_mode": "off"})
    assert settings.sync_mode == SyncMode.ATTEMPT_ALL
    assert settings.source_of("sync_mode") == "locked"
    assert settings.locked == frozenset({"sync_mode"})


def test_the_tenant_default_applies_when_the_user_has_no_value():
    settings = effective_settings(DEFAULTS, {"time_zone": "Europe/Berlin"}, (), {})
    assert (settings.time_zone, settings.source_of("time_zone")) == ("Europe/Berlin", "tenant")


def test_a_lock_without_a_tenant_value_locks_the_default():
    settings = effective_settings(DEFAULTS, {}, ["prevent_delete"], {"prevent_delete": False})
    assert settings.prevent_delete is True
    assert settings.source_of("prevent_delete") == "locked"


def test_a_lock_set_to_false_does_not_lock():
    settings = effective_settings(DEFAULTS, {"enabled": True}, {"enabled": False}, {"enabled": False})
    assert settings.enabled is False


def test_an_invalid_stored_value_falls_through_to_the_next_layer():
    settings = effective_settings(DEFAULTS, {"time_zone": "Europe/Rome"}, {}, {"time_zone": "Not/AZone"})
    assert (settings.time_zone, settings.source_of("time_zone")) == ("Europe/Rome", "tenant")


def test_deployment_defaults_replace_the_catalogue_defaults():
    settings = effective_settings({"sync_frequency_minutes": 10}, None, None, None)
    assert settings.sync_frequency_minutes == 10


def test_unknown_keys_are_ignored_when_resolving():
    settings = effective_settings(DEFAULTS, {"colour": "blue"}, {"colour": True}, {"colour": "red"})
    assert not hasattr(settings, "colour")
    assert settings.locked == frozenset()


def test_prevent_operations_answer_per_operation():
    settings = effective_settings(user_values={"prevent_create": True})
    assert [settings.prevents(op) for op in ("create", "update", "delete")] == [True, False, True]
