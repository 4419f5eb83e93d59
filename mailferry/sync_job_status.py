"""What the Email Sync row says about a mailbox (SPEC section 6): connected, needs
reconnect (with the fix), throttled until …, sync off, not connected. Shared by My
Settings → Sync Jobs and the admin's users overview, so both say the same thing."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from mailferry.settings_catalog import EffectiveSettings, SyncMode


@dataclass(frozen=True)
class SyncJobStatus:
    """`code` is stable (tests, CSS, data attributes); `label` is what people read."""

    code: str
    label: str
    detail: str | None = None
    until: datetime | None = None


def describe(mailbox_status: str | None, status_detail: str | None, retry_after: datetime | None,
             settings: EffectiveSettings | None, now: datetime,
             salesforce_status: str | None = None, salesforce_detail: str | None = None) -> SyncJobStatus:
    """The row's status. Email Sync needs both connections: a Salesforce connection that must
    be reconnected stops it as surely as a Microsoft one (the worker makes no calls for the
    user until then), so it shows here too, with its fix."""
    if mailbox_status is None:
        return SyncJobStatus("not_connected", "not connected",
                             "Sign in with Microsoft under Connections to start syncing this mailbox.")
    if mailbox_status == "needs_reconnect":
        return SyncJobStatus("needs_reconnect", "needs reconnect", status_detail)
    if salesforce_status == "needs_reconnect":
        return SyncJobStatus("needs_reconnect", "needs reconnect (Salesforce)", salesforce_detail)
    if mailbox_status == "disabled":
        return SyncJobStatus("disabled", "disabled", status_detail)
    if settings is not None and (not settings.enabled or settings.sync_mode == SyncMode.OFF):
        why = "Email Sync is turned off." if not settings.enabled else "The sync mode is Off."
        return SyncJobStatus("sync_off", "sync off", why)
    if retry_after is not None and retry_after > now:
        label = "throttled until" if mailbox_status == "throttled" else "waiting until"
        return SyncJobStatus("throttled" if mailbox_status == "throttled" else "backing_off", label,
                             status_detail, until=retry_after)
    return SyncJobStatus("connected", "connected")
