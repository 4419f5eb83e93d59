"""How long a tenant keeps Sync History and Unmatched rows (SPEC section 4: 30 days,
configurable), set on the admin's Defaults page and applied by the worker's periodic
`expire_and_purge` (worker/maintenance.py), which deletes rows first seen before it.

It is `Tenant.retention_days`. It cannot be shorter than the tenant's attempt window
(`attempt_window_days`, 30 days): a row is purged by when its email was first seen, so a
shorter retention would delete emails still being attempted. At most a year: history pages
and their search are sized for a few months of mail per user (mailferry/history.py).
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from mailferry import audit
from mailferry.models import Tenant
from mailferry.whole_numbers import whole_number

LONGEST_DAYS = 365


def save_retention_days(session: Session, tenant: Tenant, text: str | None, actor: audit.Actor = None) -> str | None:
    """Store what the admin typed; the refusal (naming the allowed range) when it is not a
    whole number of days in range, else None. The caller commits."""
    shortest = tenant.attempt_window_days
    days = whole_number((text or "").strip(), shortest, LONGEST_DAYS)
    if days is None:
        return (f"must be a whole number of days from {shortest} (the {shortest}-day window each email is attempted "
                f"in, which the rows must outlive) to {LONGEST_DAYS}")
    audit.record(session, tenant.id, actor, "retention.save", "Data retention",
                 {"retention_days": tenant.retention_days}, {"retention_days": days})
    tenant.retention_days = days
    session.flush()
    return None
