"""Times as people read them: in their own time zone (the `time_zone` setting), with the
zone named, so "Last Run" and "throttled until" mean the same to everyone."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from mailferry.models import User
from mailferry.settings_service import user_settings_state


def local_time(moment: datetime | None, zone: str = "UTC", never: str = "never") -> str:
    if moment is None:
        return never
    local = moment.astimezone(ZoneInfo(zone))
    return f"{local:%Y-%m-%d %H:%M} {local.tzname() or zone}"


def iso(moment: datetime | None) -> str:
    """For `<time datetime=…>`: machine-readable UTC."""
    return moment.isoformat(timespec="seconds") if moment else ""


def viewer_zone(session: Session, user_id: int) -> str:
    """The signed-in person's `time_zone` setting (a tenant lock applies), for the times a
    page shows them."""
    user = session.get(User, user_id)
    return user_settings_state(session, user).effective.time_zone if user else "UTC"
