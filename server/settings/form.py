"""The Edit page's fields: which keys it shows and how a posted form becomes values.

Checkboxes post nothing when unchecked, so a boolean key absent from the form means false.
Locked keys are left out entirely (their inputs are disabled, so browsers send nothing);
a hand-made post carrying one is refused by the service, naming who locked it.
"""

from __future__ import annotations

from zoneinfo import available_timezones

from mailferry.settings_catalog import SyncMode

#: The Edit page's keys, in the order people read them.
EDIT_KEYS = ("enabled", "sync_mode", "crm_category", "donotsync_category", "prevent_create", "prevent_update",
             "prevent_delete", "time_zone", "folders", "sync_frequency_minutes")
BOOLEAN_KEYS = frozenset({"enabled", "prevent_create", "prevent_update", "prevent_delete"})
SYNC_MODES = [(mode.value, mode.label) for mode in SyncMode]
_EXCLUDED_ZONE_PREFIXES = ("Etc/", "SystemV/", "posix/", "right/")


def time_zones() -> list[str]:
    """IANA zone names for the select: the canonical Area/City ones, and UTC."""
    zones = {z for z in available_timezones() if "/" in z and not z.startswith(_EXCLUDED_ZONE_PREFIXES)}
    return ["UTC", *sorted(zones)]


def values_from_form(form, keys, locked: frozenset[str] | set[str]) -> dict:
    """The submitted value of each of `keys` that is not locked. A hand-made post may still
    carry a locked key: it is passed on, for the service to refuse by name."""
    values = {}
    for key in keys:
        if key in locked and key not in form:
            continue
        if key in BOOLEAN_KEYS and key not in locked:
            values[key] = form.get(key) == "on"
        else:
            values[key] = form.get(key, "")
    return values


def folders_text(folders) -> str:
    return "\n".join(folders)
