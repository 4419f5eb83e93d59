"""The audit log of admin actions (SPEC section 14): `record` is called by every module that
makes an admin's change, in the same transaction as the change, so a change and its entry
are committed (or rolled back) together.

Actors: a `User` (an admin on the pages), a user id, a string naming an operator at the
shell (`cli/admin.py`'s OPERATOR: no user), or None (a change made by code, e.g. a test).
A call whose `before` equals its `after` changed nothing and writes nothing.

Entries are kept `RETENTION` (a year), then purged by the worker's periodic
`expire_and_purge` (`purge`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import Enum
from typing import Any

from sqlalchemy import delete
from sqlalchemy.orm import Session

from mailferry.db import utcnow
from mailferry.models import AuditEntry, User
from mailferry.models.audit import SUBJECT_LENGTH
from mailferry.models.columns import NAME_LENGTH, clamp

RETENTION = timedelta(days=365)

#: Every action the log holds, with how the Audit log page names it.
ACTIONS = {
    "global_exclusions.save": "Global Exclusion List changed",
    "smart_addresses.save": "Smart addresses changed",
    "tenant_defaults.save": "Tenant defaults or locks changed",
    "api_budget.save": "API budget changed",
    "admin.grant": "Admin granted",
    "admin.revoke": "Admin revoked",
    "salesforce_org.pin": "Salesforce org pin changed",
    "app_only.save": "App-only access changed",
    "app_only.salesforce_user": "Salesforce user mapping changed",
    "salesforce_integration.connect": "Salesforce integration user connected",
    "salesforce_integration.disconnect": "Salesforce integration user disconnected",
    "alerts.save": "Alert settings changed",
    "retention.save": "Data retention changed",
    "user.remove": "User removed (offboarded)",
}

Actor = User | int | str | None


@dataclass(frozen=True)
class ActorFacts:
    user_id: int | None
    name: str
    upn: str | None


def actor_facts(session: Session, actor: Actor) -> ActorFacts:
    """Who acted, as the entry keeps it."""
    if isinstance(actor, int):
        actor = session.get(User, actor)
    if isinstance(actor, User):
        return ActorFacts(actor.id, clamp(actor.display_name or actor.upn, NAME_LENGTH), actor.upn)
    return ActorFacts(None, clamp(actor or "Mailferry", NAME_LENGTH), None)


def actor_label(actor: Actor) -> str:
    """How a log line names the actor (no database needed)."""
    if isinstance(actor, User):
        return actor.upn
    return str(actor) if actor is not None else "Mailferry"


def record(session: Session, tenant_id: int, actor: Actor, action: str, subject: str,
           before: Any, after: Any, *, at: datetime | None = None) -> AuditEntry | None:
    """Add the entry for one admin action to `session` (the caller commits it with the
    change). None, and nothing added, when `before == after`."""
    if action not in ACTIONS:
        raise ValueError(f"unknown audit action {action!r}: add it to mailferry.audit.ACTIONS")
    before, after = jsonable(before), jsonable(after)
    if before == after:
        return None
    who = actor_facts(session, actor)
    entry = AuditEntry(tenant_id=tenant_id, at=at or utcnow(), actor_user_id=who.user_id, actor_name=who.name,
                       actor_upn=who.upn, action=action, subject=clamp(subject, SUBJECT_LENGTH),
                       before=before, after=after)
    session.add(entry)
    return entry


def jsonable(value: Any) -> Any:
    """`value` as JSON stores it: tuples, sets and frozensets as (sorted) lists, enums as
    their value, times as ISO text."""
    if isinstance(value, dict):
        return {str(key): jsonable(item) for key, item in value.items()}
    if isinstance(value, (set, frozenset)):
        return sorted(jsonable(item) for item in value)
    if isinstance(value, (list, tuple)):
        return [jsonable(item) for item in value]
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    return value


def purge(session: Session, now: datetime) -> int:
    """Delete entries older than `RETENTION`; returns how many."""
    return session.execute(delete(AuditEntry).where(AuditEntry.at < now - RETENTION)
                           .execution_options(synchronize_session=False)).rowcount or 0


def changed_only(before: dict, after: dict) -> tuple[dict, dict]:
    """The keys of two snapshots whose values differ, as (before, after): what an entry for
    a save of many fields keeps, so it reads as the change and not the whole form."""
    keys = [key for key in {**before, **after} if before.get(key) != after.get(key)]
    return {key: before.get(key) for key in keys}, {key: after.get(key) for key in keys}
