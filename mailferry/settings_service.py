"""Saving settings (SPEC section 6): a user's own settings, the tenant's defaults with their
locks, and the tenant's smart addresses. Core code, no Flask: the web pages call it, and
so could a CLI or an API.

Choices (docs/settings-and-admin.md):

- A save is all or nothing: any refused field saves none, and every field gets its message.
- A user's value equal to what they would inherit (tenant default, else catalogue default)
  is not stored: the user then follows later changes of the tenant default. Only choices
  that differ are kept as the user's own.
- A locked key cannot be changed by a user; the refusal names the admin who locked it.
  The user's own stored value for it is kept but ignored while the lock lasts, and applies
  again when the admin unlocks the key.
- Settings apply to decisions made from now on (the worker reads them at every run).
  Nothing already decided is re-evaluated; Unresolved emails still inside their attempt
  window are decided again at their next re-match, under the new settings.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import Any, Mapping

from sqlalchemy import select
from sqlalchemy.orm import Session

from mailferry import audit
from mailferry.addresses import check_domain, parse_address
from mailferry.decision import parse_smart_address
from mailferry.models import Tenant, TenantSetting, User, UserSetting
from mailferry.models.columns import ADDRESS_LENGTH
from mailferry.settings_catalog import (
    CATALOGUE,
    EffectiveSettings,
    effective_settings,
    validate_settings,
)
from mailferry.whole_numbers import whole_number

#: Shown when the admin who locked a setting has since been deleted.
UNKNOWN_ADMIN = "your administrator"


@dataclass(frozen=True)
class SaveResult:
    """What a save did: the keys stored, or one message per refused key (nothing saved)."""

    saved: dict[str, Any] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.errors


@dataclass(frozen=True)
class UserSettingsState:
    """What the Edit page shows: the effective values, and who locked each locked key."""

    effective: EffectiveSettings
    locked_by: dict[str, str]
    own_values: dict[str, Any]

    def is_locked(self, key: str) -> bool:
        return key in self.effective.locked


@dataclass(frozen=True)
class TenantDefaultsState:
    """What the admin's defaults page shows: each key's tenant value (or the catalogue
    default) and whether it is locked, and by whom."""

    values: dict[str, Any]
    locked: frozenset[str]
    locked_by: dict[str, str]
    stored: frozenset[str]


def stored_form(value: Any) -> Any:
    """A validated value as JSON stores it (tuples as lists, enums as their string)."""
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, tuple):
        return [stored_form(item) for item in value]
    return value


# --- reading --------------------------------------------------------------------------------


def _tenant_rows(session: Session, tenant_id: int) -> list[TenantSetting]:
    return list(session.execute(select(TenantSetting).where(TenantSetting.tenant_id == tenant_id)).scalars())


def _names(session: Session, user_ids: set[int]) -> dict[int, str]:
    if not user_ids:
        return {}
    rows = session.execute(select(User.id, User.display_name, User.upn).where(User.id.in_(user_ids)))
    return {row.id: row.display_name or row.upn for row in rows}


def _locked_by(session: Session, rows: list[TenantSetting]) -> dict[str, str]:
    locked = [row for row in rows if row.locked]
    names = _names(session, {row.locked_by_user_id for row in locked if row.locked_by_user_id})
    return {row.key: names.get(row.locked_by_user_id, UNKNOWN_ADMIN) for row in locked}


def user_settings_state(session: Session, user: User) -> UserSettingsState:
    """The user's effective settings, their own stored values, and who locked what."""
    tenant_rows = _tenant_rows(session, user.tenant_id)
    own = {row.key: row.value for row in session.execute(
        select(UserSetting).where(UserSetting.user_id == user.id)).scalars()}
    effective = effective_settings(
        tenant_values={row.key: row.value for row in tenant_rows},
        locks=[row.key for row in tenant_rows if row.locked],
        user_values=own,
    )
    return UserSettingsState(effective, _locked_by(session, tenant_rows), own)


def tenant_defaults_state(session: Session, tenant_id: int) -> TenantDefaultsState:
    rows = _tenant_rows(session, tenant_id)
    base = effective_settings(tenant_values={row.key: row.value for row in rows})
    values = {key: getattr(base, key) for key in CATALOGUE}
    return TenantDefaultsState(values, frozenset(r.key for r in rows if r.locked), _locked_by(session, rows),
                               frozenset(r.key for r in rows))


# --- a user's own settings --------------------------------------------------------------------


def locked_message(key: str, admin_name: str) -> str:
    return f"Locked by {admin_name}: ask them to change {CATALOGUE[key].label.lower()}."


def save_user_settings(session: Session, user: User, values: Mapping[str, Any]) -> SaveResult:
    """Validate and store the user's choices for the keys in `values`.

    Refused, with nothing saved: unknown keys, invalid values, and any locked key (the
    message names who locked it). The caller commits.
    """
    state = user_settings_state(session, user)
    check = validate_settings(values)
    errors = dict(check.errors)
    for key in values:
        if key in state.effective.locked:
            errors[key] = locked_message(key, state.locked_by.get(key, UNKNOWN_ADMIN))
    if errors:
        return SaveResult(errors=errors)
    tenant_rows = {row.key: row.value for row in _tenant_rows(session, user.tenant_id)}
    inherited = effective_settings(tenant_values=tenant_rows)
    existing = {row.key: row for row in session.execute(
        select(UserSetting).where(UserSetting.user_id == user.id, UserSetting.key.in_(list(check.values)))).scalars()}
    for key, value in check.values.items():
        row = existing.get(key)
        if value == getattr(inherited, key):
            if row is not None:
                session.delete(row)
        elif row is None:
            session.add(UserSetting(user_id=user.id, key=key, value=stored_form(value)))
        else:
            row.value = stored_form(value)
    session.flush()
    return SaveResult(saved=dict(check.values))


# --- the tenant's defaults and locks ----------------------------------------------------------


def save_tenant_defaults(session: Session, tenant_id: int, admin: User, values: Mapping[str, Any],
                         locks: set[str] | frozenset[str]) -> SaveResult:
    """Store the tenant's default for every key in `values`, and lock exactly `locks`.

    A key whose default equals the catalogue default and is not locked keeps no row, so a
    later change of the catalogue default reaches the tenant. A key locked before keeps
    the name of the admin who locked it; a newly locked key records `admin`. The caller
    commits.
    """
    check = validate_settings(values)
    errors = dict(check.errors)
    for key in set(locks) - CATALOGUE.keys():
        errors[key] = "is not a setting Mailferry knows"
    if errors:
        return SaveResult(errors=errors)
    rows = {row.key: row for row in _tenant_rows(session, tenant_id)}
    before = _defaults_snapshot(rows.values())
    for key, spec in CATALOGUE.items():
        row = rows.get(key)
        value = check.values[key] if key in check.values else (
            spec.validate(row.value) if row is not None else spec.default)
        locked = key in locks
        if value == spec.default and not locked:
            if row is not None:
                session.delete(row)
            continue
        if row is None:
            row = TenantSetting(tenant_id=tenant_id, key=key, value=stored_form(value))
            session.add(row)
        row.value = stored_form(value)
        if locked and not row.locked:
            row.locked_by_user_id = admin.id
        elif not locked:
            row.locked_by_user_id = None
        row.locked = locked
    session.flush()
    audit.record(session, tenant_id, admin, "tenant_defaults.save", "Tenant defaults",
                 *audit.changed_only(before, _defaults_snapshot(_tenant_rows(session, tenant_id))))
    return SaveResult(saved=dict(check.values))


def _defaults_snapshot(rows) -> dict[str, dict]:
    """The tenant's stored defaults as the audit log keeps them: each key's value and lock."""
    return {row.key: {"value": row.value, "locked": row.locked} for row in rows}


# --- smart addresses ----------------------------------------------------------------------


def check_do_not_record_address(text: str | None, smart_domain: str | None) -> tuple[str | None, str | None]:
    """(canonical address or None when blank, error)."""
    raw = (text or "").strip()
    if not raw:
        return None, None
    parsed = parse_address(raw)
    if parsed.canonical is None:
        return None, f"is not a valid address: {parsed.error}"
    if len(parsed.canonical) > ADDRESS_LENGTH:
        return None, f"must be at most {ADDRESS_LENGTH} characters"
    if smart_domain and parse_smart_address(parsed, smart_domain) is not None:
        return None, "names an Account, Opportunity or Case: choose an address that relates to no record"
    return parsed.canonical, None


def check_smart_domain(text: str | None, primary_domain: str | None) -> tuple[str | None, str | None]:
    """(canonical domain or None when blank, error)."""
    raw = (text or "").strip().lstrip("@")
    if not raw:
        return None, None
    if "@" in raw or "/" in raw:
        return None, "must be a domain only, e.g. smart.example.com"
    checked = check_domain(raw)
    if checked.domain is None:
        return None, f"is not a valid domain: {checked.error}"
    if primary_domain and checked.domain == primary_domain.lower():
        return None, ("must not be your mail domain: every colleague's address would become a smart "
                      "address; use a subdomain such as crm." + primary_domain.lower())
    return checked.domain, None


def save_smart_addresses(session: Session, tenant: Tenant, do_not_record: str | None,
                         smart_domain: str | None, actor: audit.Actor = None) -> SaveResult:
    """Validate and store the Do Not Record address and the smart-address domain (blank
    clears either). The caller commits."""
    domain, domain_error = check_smart_domain(smart_domain, tenant.primary_domain)
    address, address_error = check_do_not_record_address(do_not_record, domain)
    errors = {key: message for key, message in (("smart_address_domain", domain_error),
                                                ("do_not_record_address", address_error)) if message}
    if errors:
        return SaveResult(errors=errors)
    before = {"smart_address_domain": tenant.smart_address_domain, "do_not_record_address": tenant.do_not_record_address}
    tenant.smart_address_domain = domain
    tenant.do_not_record_address = address
    session.flush()
    audit.record(session, tenant.id, actor, "smart_addresses.save", "Smart addresses",
                 *audit.changed_only(before, {"smart_address_domain": domain, "do_not_record_address": address}))
    return SaveResult(saved={"smart_address_domain": domain, "do_not_record_address": address})


# --- the API budget share -----------------------------------------------------------------

BUDGET_PERCENT_RANGE = (1, 100)


def save_api_budget_percent(session: Session, tenant: Tenant, text: str | int | None,
                            actor: audit.Actor = None) -> SaveResult:
    """The share of the org's daily API allowance Mailferry may use (SPEC section 3: admin-set,
    default 20%). The worker's governor reads it before every batch. The caller commits."""
    low, high = BUDGET_PERCENT_RANGE
    raw = text.strip().rstrip("%") if isinstance(text, str) else text
    percent = whole_number(raw, low, high)
    if percent is None:
        return SaveResult(errors={"api_budget_percent": f"must be a whole number from {low} to {high}"})
    audit.record(session, tenant.id, actor, "api_budget.save", "API budget",
                 {"api_budget_percent": tenant.api_budget_percent}, {"api_budget_percent": percent})
    tenant.api_budget_percent = percent
    session.flush()
    return SaveResult(saved={"api_budget_percent": tenant.api_budget_percent})
