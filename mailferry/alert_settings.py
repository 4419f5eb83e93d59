"""Where a tenant's Sync Health alerts go (SPEC section 14): an email address and/or an
HTTPS webhook URL, both optional. No address and no URL: no alerts.

Stored as two rows of the tenant's settings table (`tenant_settings`, keys `alert_email` and
`alert_webhook_url`), which holds a JSON value per tenant and key. They are not user settings:
the settings catalogue does not list them, so nothing resolves them for a user and the
Defaults page's save (which touches catalogue keys only) leaves them be.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from sqlalchemy import select
from sqlalchemy.orm import Session

from mailferry.addresses import parse_address
from mailferry.models import TenantSetting

EMAIL_KEY, WEBHOOK_KEY = "alert_email", "alert_webhook_url"
URL_LENGTH = 2000


@dataclass(frozen=True)
class AlertSettings:
    email: str | None = None
    webhook_url: str | None = None

    @property
    def enabled(self) -> bool:
        return bool(self.email or self.webhook_url)


def read(session: Session, tenant_id: int) -> AlertSettings:
    rows = dict(session.execute(select(TenantSetting.key, TenantSetting.value).where(
        TenantSetting.tenant_id == tenant_id, TenantSetting.key.in_((EMAIL_KEY, WEBHOOK_KEY)))).all())
    return AlertSettings(rows.get(EMAIL_KEY) or None, rows.get(WEBHOOK_KEY) or None)


def check(email: str | None, webhook_url: str | None) -> tuple[AlertSettings, dict[str, str]]:
    """What the admin typed, cleaned, and an error per field that is refused."""
    errors = {}
    email = (email or "").strip() or None
    if email is not None:
        parsed = parse_address(email)
        if not parsed.valid:  # kept as typed otherwise: it is where the mail goes, not a key to match
            errors["email"] = f"is not an email address: {parsed.error}"
    webhook_url = (webhook_url or "").strip() or None
    if webhook_url is not None:
        parts = urlsplit(webhook_url)
        if parts.scheme != "https" or not parts.hostname:
            errors["webhook_url"] = "must be an https:// URL (alerts carry mailbox addresses)"
        elif len(webhook_url) > URL_LENGTH:
            errors["webhook_url"] = f"is longer than {URL_LENGTH} characters"
    return AlertSettings(email, webhook_url), errors


def save(session: Session, tenant_id: int, settings: AlertSettings) -> None:
    """Store `settings` (already checked); an empty field keeps no row. The caller commits."""
    rows = {row.key: row for row in session.execute(select(TenantSetting).where(
        TenantSetting.tenant_id == tenant_id, TenantSetting.key.in_((EMAIL_KEY, WEBHOOK_KEY)))).scalars()}
    for key, value in ((EMAIL_KEY, settings.email), (WEBHOOK_KEY, settings.webhook_url)):
        row = rows.get(key)
        if value is None:
            if row is not None:
                session.delete(row)
        elif row is None:
            session.add(TenantSetting(tenant_id=tenant_id, key=key, value=value))
        else:
            row.value = value
    session.flush()
