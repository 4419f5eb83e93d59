"""What the Connections page shows: each connection's state and the mailbox's, read for
the signed-in user only (every query is scoped by their user id)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from mailferry.models import Connection, Mailbox, Tenant
from server.time_display import local_time


@dataclass(frozen=True)
class ConnectionView:
    provider: str
    state: str  # connected | needs_reconnect | disconnected | not_connected
    account_label: str | None = None
    connected_at: datetime | None = None
    fix: str | None = None
    login_host: str | None = None
    instance_url: str | None = None

    @property
    def state_label(self) -> str:
        return {"connected": "Connected", "needs_reconnect": "Needs reconnect",
                "disconnected": "Disconnected", "not_connected": "Not connected"}[self.state]

    @property
    def is_connected(self) -> bool:
        return self.state == "connected"


@dataclass(frozen=True)
class MailboxView:
    address: str
    status: str  # active | needs_reconnect | throttled | disabled
    detail: str | None
    retry_after: datetime | None
    last_run_at: datetime | None
    last_success_at: datetime | None
    zone: str = "UTC"  # the viewer's time zone setting

    @property
    def status_label(self) -> str:
        if self.status == "throttled":
            return f"Throttled until {local_time(self.retry_after, self.zone)}" if self.retry_after else "Throttled"
        return {"active": "Syncing", "needs_reconnect": "Needs reconnect", "disabled": "Disabled"}.get(
            self.status, self.status)


@dataclass(frozen=True)
class ConnectionsPage:
    microsoft: ConnectionView
    salesforce: ConnectionView
    mailbox: MailboxView | None
    app_only: bool  # the tenant's admin set up app-only Microsoft access


def read_page(session: Session, user_id: int, tenant_id: int, zone: str = "UTC") -> ConnectionsPage:
    rows = session.execute(select(Connection).where(Connection.user_id == user_id)).scalars()
    by_provider = {row.provider: row for row in rows}
    mailbox = session.execute(select(Mailbox).where(Mailbox.user_id == user_id)).scalar_one_or_none()
    tenant = session.get(Tenant, tenant_id)
    return ConnectionsPage(
        microsoft=_view("microsoft", by_provider.get("microsoft")),
        salesforce=_view("salesforce", by_provider.get("salesforce")),
        mailbox=None if mailbox is None else MailboxView(
            mailbox.address, mailbox.status, mailbox.status_detail, mailbox.retry_after,
            mailbox.last_run_at, mailbox.last_success_at, zone),
        app_only=bool(tenant and tenant.app_only_enabled),
    )


def _view(provider: str, row: Connection | None) -> ConnectionView:
    if row is None:
        return ConnectionView(provider, "not_connected")
    return ConnectionView(provider, row.status, row.account_label, row.connected_at, row.status_detail,
                          row.login_host, row.instance_url)
