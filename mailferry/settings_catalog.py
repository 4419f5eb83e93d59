"""The catalogue of user settings: which keys exist, their defaults, and their validation.

Storage lives in `mailferry.models.settings` (tenant defaults with a lock per key, and each
user's own values); this module only says what the keys mean and resolves, purely, which
value applies to a user. SPEC section 6 lists the settings; section 2 the sync modes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Callable, Iterable, Mapping
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from mailferry.whole_numbers import whole_number


class SyncMode(StrEnum):
    """The five sync modes of SPEC section 2, by stable machine name (stored as this string)."""

    SYNC_ALL = "sync_all"
    ATTEMPT_ALL = "attempt_all"
    SYNC_DESIGNATED = "sync_designated"
    ATTEMPT_DESIGNATED = "attempt_designated"
    OFF = "off"

    @property
    def label(self) -> str:
        return SYNC_MODE_LABELS[self]

    @property
    def designated_only(self) -> bool:
        """Only emails carrying the CRM category are synced (rule 6)."""
        return self in (SyncMode.SYNC_DESIGNATED, SyncMode.ATTEMPT_DESIGNATED)

    @property
    def attempt(self) -> bool:
        """An "Attempt…" mode: no match is final (excluded `no_match`), not unresolved."""
        return self in (SyncMode.ATTEMPT_ALL, SyncMode.ATTEMPT_DESIGNATED)


SYNC_MODE_LABELS = {
    SyncMode.SYNC_ALL: "Sync All Emails",
    SyncMode.ATTEMPT_ALL: "Attempt to Sync All Emails",
    SyncMode.SYNC_DESIGNATED: "Sync Emails Only When Designated",
    SyncMode.ATTEMPT_DESIGNATED: "Attempt to Sync Emails Only When Designated",
    SyncMode.OFF: "Off",
}

#: Graph's well-known folder names; other folders are given by their Graph folder id.
WELL_KNOWN_FOLDERS = frozenset(
    {"inbox", "sentitems", "archive", "drafts", "deleteditems", "junkemail", "outbox"}
)
CATEGORY_NAME_LENGTH = 255
MAX_FOLDERS = 50
FOLDER_ID_LENGTH = 512
FREQUENCY_RANGE = (1, 1440)  # minutes: from every minute to once a day


class InvalidSetting(ValueError):
    """A setting value was refused; the message names the setting and says what is allowed."""

    def __init__(self, key: str, message: str):
        super().__init__(f"{key}: {message}")
        self.key = key
        self.message = message


# --- value cleaners: each returns the stored form or raises InvalidSetting ---------------


def _clean_sync_mode(key: str, value: Any) -> SyncMode:
    if isinstance(value, str):
        text = value.strip()
        for mode in SyncMode:
            # Forms may post the label shown to people; storage always holds the name.
            if text.lower() in (mode.value, mode.label.lower()):
                return mode
    names = ", ".join(m.value for m in SyncMode)
    raise InvalidSetting(key, f"must be one of {names}")


def _clean_category(key: str, value: Any) -> str:
    if not isinstance(value, str):
        raise InvalidSetting(key, "must be a category name (text)")
    text = value.strip()
    if not text:
        raise InvalidSetting(key, "must not be empty")
    if len(text) > CATEGORY_NAME_LENGTH:
        raise InvalidSetting(key, f"must be at most {CATEGORY_NAME_LENGTH} characters")
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in text):
        raise InvalidSetting(key, "must not contain line breaks or control characters")
    return text


_TRUE = {"true", "1", "yes", "on"}
_FALSE = {"false", "0", "no", "off", ""}


def _clean_bool(key: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
        return value.strip().lower() in _TRUE
    raise InvalidSetting(key, "must be true or false")


_ZONE_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_+\-]*(?:/[A-Za-z0-9_+\-]+)*$")
# Files that live among the zone files but are not zones people choose.
_NOT_ZONES = {"localtime", "posixrules", "factory"}


def _clean_time_zone(key: str, value: Any) -> str:
    hint = "must be an IANA time zone name such as Europe/Paris or America/New_York"
    if not isinstance(value, str):
        raise InvalidSetting(key, hint)
    text = value.strip()
    if not _ZONE_NAME.match(text) or text.lower() in _NOT_ZONES:
        raise InvalidSetting(key, hint)
    try:
        ZoneInfo(text)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise InvalidSetting(key, f"“{text[:60]}” is not a known time zone; {hint}") from None
    return text


def _clean_folders(key: str, value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        value = re.split(r"[,\n]", value)
    if not isinstance(value, (list, tuple)):
        raise InvalidSetting(key, "must be a list of folders (inbox, sentitems or Graph folder ids)")
    folders: list[str] = []
    for item in value:
        if not isinstance(item, str):
            raise InvalidSetting(key, "each folder must be a name or a Graph folder id (text)")
        text = item.strip()
        if not text:
            continue
        if len(text) > FOLDER_ID_LENGTH or not text.isprintable():
            raise InvalidSetting(key, f"“{text[:40]}” is not a folder name or Graph folder id")
        # Well-known names are case-insensitive in Graph; folder ids are case-sensitive.
        text = text.lower() if text.lower() in WELL_KNOWN_FOLDERS else text
        if text not in folders:
            folders.append(text)
    if not folders:
        raise InvalidSetting(key, "needs at least one folder (e.g. inbox)")
    if len(folders) > MAX_FOLDERS:
        raise InvalidSetting(key, f"at most {MAX_FOLDERS} folders")
    return tuple(folders)


def _clean_frequency(key: str, value: Any) -> int:
    low, high = FREQUENCY_RANGE
    minutes = whole_number(value, low, high)
    if minutes is None:
        raise InvalidSetting(key, f"must be a whole number of minutes from {low} to {high}")
    return minutes


# --- the catalogue -----------------------------------------------------------------------


@dataclass(frozen=True)
class SettingSpec:
    """One user setting: its key, default, validation and the label people see."""

    key: str
    default: Any
    clean: Callable[[str, Any], Any] = field(repr=False)
    label: str

    def validate(self, value: Any) -> Any:
        return self.clean(self.key, value)


CATALOGUE: dict[str, SettingSpec] = {
    spec.key: spec
    for spec in (
        SettingSpec("enabled", True, _clean_bool, "Email Sync enabled"),
        SettingSpec("sync_mode", SyncMode.SYNC_ALL, _clean_sync_mode, "Sync mode"),
        SettingSpec("crm_category", "CRM", _clean_category, "Designation category"),
        SettingSpec("donotsync_category", "DoNotSync", _clean_category, "Do-not-sync category"),
        SettingSpec("prevent_create", False, _clean_bool, "Prevent create"),
        SettingSpec("prevent_update", False, _clean_bool, "Prevent update"),
        SettingSpec("prevent_delete", True, _clean_bool, "Prevent delete"),
        SettingSpec("time_zone", "UTC", _clean_time_zone, "Time zone"),
        SettingSpec("folders", ("inbox", "sentitems"), _clean_folders, "Folders"),
        SettingSpec("sync_frequency_minutes", 5, _clean_frequency, "Sync frequency (minutes)"),
    )
}

DEFAULTS: dict[str, Any] = {key: spec.default for key, spec in CATALOGUE.items()}


def validate_setting(key: str, value: Any) -> Any:
    """The stored form of `value` for `key`; raises InvalidSetting naming the key."""
    spec = CATALOGUE.get(key)
    if spec is None:
        raise InvalidSetting(key, "is not a setting Mailferry knows")
    return spec.validate(value)


@dataclass(frozen=True)
class SettingsCheck:
    """Validated values and, for each refused key, the message to show next to it."""

    values: dict[str, Any]
    errors: dict[str, str]

    @property
    def ok(self) -> bool:
        return not self.errors


def validate_settings(values: Mapping[str, Any]) -> SettingsCheck:
    """Validate a whole form at once (never raises): every bad field gets its own message."""
    clean: dict[str, Any] = {}
    errors: dict[str, str] = {}
    for key, value in values.items():
        try:
            clean[key] = validate_setting(key, value)
        except InvalidSetting as error:
            errors[key] = error.message
    crm, dns = clean.get("crm_category"), clean.get("donotsync_category")
    if crm and dns and crm.casefold() == dns.casefold():
        # One name for both would exclude every designated email (rule 4 precedes rule 6).
        errors["donotsync_category"] = "must differ from the CRM category"
        del clean["donotsync_category"]
    return SettingsCheck(clean, errors)


# --- what applies to one user -------------------------------------------------------------


@dataclass(frozen=True)
class EffectiveSettings:
    """The settings that apply to one user, each already validated.

    `locked` names the keys the tenant locks (shown greyed out); `sources` says where each
    value came from: "locked", "user", "tenant" or "default".
    """

    enabled: bool = True
    sync_mode: SyncMode = SyncMode.SYNC_ALL
    crm_category: str = "CRM"
    donotsync_category: str = "DoNotSync"
    prevent_create: bool = False
    prevent_update: bool = False
    prevent_delete: bool = True
    time_zone: str = "UTC"
    folders: tuple[str, ...] = ("inbox", "sentitems")
    sync_frequency_minutes: int = 5
    locked: frozenset[str] = frozenset()
    sources: tuple[tuple[str, str], ...] = ()

    def source_of(self, key: str) -> str:
        return dict(self.sources).get(key, "default")

    def prevents(self, operation: str) -> bool:
        """Whether Prevent Operations disables `operation` (create, update or delete)."""
        return bool(getattr(self, f"prevent_{operation}", False))


def _locked_keys(locks: Mapping[str, Any] | Iterable[str] | None) -> frozenset[str]:
    if locks is None:
        return frozenset()
    if isinstance(locks, Mapping):
        return frozenset(key for key, locked in locks.items() if locked)
    return frozenset(locks)


def _first_valid(key: str, layers: Iterable[tuple[str, Mapping[str, Any]]]) -> tuple[Any, str]:
    for source, values in layers:
        if key in values:
            try:
                return validate_setting(key, values[key]), source
            except InvalidSetting:
                # A stale or corrupted stored value must not stop a user's sync: the next
                # layer applies, and the settings page shows the refused value's error.
                continue
    return CATALOGUE[key].default, "default"


def effective_settings(
    defaults: Mapping[str, Any] | None = None,
    tenant_values: Mapping[str, Any] | None = None,
    locks: Mapping[str, Any] | Iterable[str] | None = None,
    user_values: Mapping[str, Any] | None = None,
) -> EffectiveSettings:
    """Resolve what applies to a user, key by key.

    Order: a locked tenant value, then the user's value (unless the key is locked), then the
    tenant's value (the tenant default for its users), then `defaults` (normally `DEFAULTS`,
    overridable for tests and deployments), then the catalogue default. A locked key
    without a tenant value locks the default. Invalid values at any layer are skipped.
    """
    locked = _locked_keys(locks) & CATALOGUE.keys()
    tenant = dict(tenant_values or {})
    user = dict(user_values or {})
    base = dict(defaults or {})
    resolved: dict[str, Any] = {}
    sources: list[tuple[str, str]] = []
    for key in CATALOGUE:
        if key in locked:
            layers = [("locked", tenant), ("locked", base)]
        else:
            layers = [("user", user), ("tenant", tenant), ("default", base)]
        value, source = _first_valid(key, layers)
        if key in locked:
            source = "locked"
        resolved[key] = value
        sources.append((key, source))
    return EffectiveSettings(**resolved, locked=locked, sources=tuple(sources))
