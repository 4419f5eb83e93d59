"""What the templates need beyond the rows: the user's Salesforce org for links, and dates
in a form people read."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from mailferry import salesforce_links
from mailferry.models import Connection, Tenant, User


def instance_url(session: Session, user_id: int) -> str | None:
    """The user's Salesforce org: their connection's instance URL, else the tenant's."""
    found = session.execute(
        select(Connection.instance_url).where(Connection.user_id == user_id, Connection.provider == "salesforce")
    ).scalar_one_or_none()
    if found:
        return found
    return session.execute(
        select(Tenant.salesforce_instance_url).join(User, User.tenant_id == Tenant.id).where(User.id == user_id)
    ).scalar_one_or_none()


@dataclass(frozen=True)
class Links:
    instance_url: str | None

    @property
    def available(self) -> bool:
        return salesforce_links.instance_base(self.instance_url) is not None

    def record(self, sobject: str, record_id: str | None) -> str | None:
        return salesforce_links.record_url(self.instance_url, sobject, record_id)

    def new(self, sobject: str, address: str, display_name: str | None) -> str | None:
        return salesforce_links.new_record_url(self.instance_url, sobject, address, display_name)


def when(value: datetime | None) -> str:
    """UTC, to the minute; the full instant is in the <time> element's datetime."""
    return value.strftime("%Y-%m-%d %H:%M") if value else ""
