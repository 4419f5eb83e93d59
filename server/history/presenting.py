"""What the templates need beyond the rows: the user's Salesforce org for links, and dates
in the user's time zone."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

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


@dataclass(frozen=True)
class Clock:
    """Times in the viewer's time zone (their `time_zone` setting: "how times are shown to
    you"), to the minute; the page names the zone once, and each <time datetime> holds the
    UTC instant. Day and time are apart so a narrow column breaks between them, not inside
    the date."""

    zone: str = "UTC"

    def _local(self, value: datetime) -> datetime:
        return value.astimezone(ZoneInfo(self.zone))

    def day(self, value: datetime | None) -> str:
        return f"{self._local(value):%Y-%m-%d}" if value else ""

    def time(self, value: datetime | None) -> str:
        return f"{self._local(value):%H:%M}" if value else ""

    def text(self, value: datetime | None) -> str:
        return f"{self.day(value)} {self.time(value)}" if value else ""
