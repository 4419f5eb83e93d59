"""The tenant's Global Exclusion List (SPEC section 2 rule 2), edited by an admin as text,
one address or domain per line.

Saving replaces the list: every line is validated (`addresses.check_entry_lines`), and any
refused line saves nothing, each error numbered by its line. Repeats are kept once.
Entries already on the list keep their row (and when and by whom they were added).

The list applies to decisions made from now on. Already recorded or excluded history is not
changed (no retroactive removal from Salesforce). Two things happen at once for the new
entries, because an excluded address must not keep appearing anywhere:

- the tenant's Unresolved emails that involve a new entry become due now, so the next run
  omits them (rule 2 comes before any lookup: no Salesforce call is spent on them);
- Unmatched Contacts/Leads rows of a new entry are removed.

"Users affected" is the number of distinct users who, inside the tenant's attempt window
(first seen in the last `attempt_window_days`), have emails with a participant matching a
new entry: the people whose recent history the change touches. Rows are found with a
substring prefilter on `search_text` (served by the trigram indexes) and confirmed with
the exact rule on the participants, so a look-alike (`badexample.com` for `example.com`)
never counts. Removing entries affects nobody's stored history: omitted emails were never
stored, so there is nothing to bring back.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, or_, select
from sqlalchemy.orm import Session

from mailferry import audit, email_state
from mailferry.addresses import EntryList, LineError, ListEntry, check_entry_lines, domain_for_display
from mailferry.models import IgnoreEntry, Message, Tenant, UnmatchedAddress

#: How many entries one prefilter query ORs together (bounded statement size).
_CHUNK = 200


@dataclass(frozen=True)
class ExclusionSave:
    entries: tuple[ListEntry, ...] = ()
    errors: tuple[LineError, ...] = ()
    added: tuple[ListEntry, ...] = ()
    removed: tuple[ListEntry, ...] = ()
    affected_users: int = 0
    unresolved_due: int = 0
    unmatched_removed: int = 0

    @property
    def ok(self) -> bool:
        return not self.errors


def current_entries(session: Session, tenant_id: int) -> list[IgnoreEntry]:
    return list(session.execute(
        select(IgnoreEntry).where(IgnoreEntry.tenant_id == tenant_id, IgnoreEntry.user_id.is_(None))
        .order_by(IgnoreEntry.kind, IgnoreEntry.value)).scalars())


def as_text(session: Session, tenant_id: int) -> str:
    """The list as the admin edits it: one entry per line, domains first, alphabetical."""
    return "\n".join(entry.value for entry in sorted(
        current_entries(session, tenant_id), key=lambda e: (e.kind != "domain", e.value)))


def replace_from_text(session: Session, tenant: Tenant, text: str, admin_user_id: int | None,
                      now: datetime) -> ExclusionSave:
    """Replace the tenant's list with the entries of `text`. The caller commits."""
    checked = check_entry_lines(text)
    if checked.errors:
        return ExclusionSave(entries=checked.entries, errors=checked.errors)
    existing = {ListEntry(row.kind, row.value): row for row in current_entries(session, tenant.id)}
    wanted = list(checked.entries)
    removed = [entry for entry in existing if entry not in set(wanted)]
    added = [entry for entry in wanted if entry not in existing]
    if removed:
        session.execute(delete(IgnoreEntry).where(IgnoreEntry.id.in_([existing[e].id for e in removed])))
    session.flush()  # a value may move from one kind to the other: free it before re-adding
    for entry in added:
        session.add(IgnoreEntry(tenant_id=tenant.id, user_id=None, kind=entry.kind, value=entry.value,
                                source="admin", created_by_user_id=admin_user_id, created_at=now))
    session.flush()
    audit.record(session, tenant.id, admin_user_id, "global_exclusions.save", "Global Exclusion List",
                 sorted(e.value for e in existing), sorted(e.value for e in wanted))
    affected, due = _touch_recent_history(session, tenant, added, now)
    unmatched = _remove_unmatched(session, tenant.id, added)
    return ExclusionSave(entries=tuple(wanted), added=tuple(added), removed=tuple(removed),
                         affected_users=affected, unresolved_due=due, unmatched_removed=unmatched)


def _matching_messages(session: Session, tenant: Tenant, entries: list[ListEntry], now: datetime):
    """(user_id, message id, status) of the window's emails with a participant on `entries`."""
    if not entries:
        return []
    since = now - timedelta(days=tenant.attempt_window_days)
    covered = EntryList(entries)
    found = {}
    for start in range(0, len(entries), _CHUNK):
        chunk = entries[start:start + _CHUNK]
        rows = session.execute(
            select(Message.id, Message.user_id, Message.status, Message.from_address, Message.participants)
            .where(Message.tenant_id == tenant.id, Message.first_seen_at >= since)
            .where(or_(*(Message.search_text.contains(form, autoescape=True)
                         for entry in chunk for form in _written_forms(entry))))
        )
        for row in rows:
            addresses = [row.from_address, *(p.get("address") for p in row.participants or [])]
            if any(address and covered.matches(address) for address in addresses):
                found[row.id] = (row.user_id, row.id, row.status)
    return list(found.values())


def _written_forms(entry: ListEntry) -> set[str]:
    """How the entry may be written in `search_text`: canonical (IDNA ASCII) and, for an
    internationalised domain, as people write it (`bücher.example`)."""
    domain = entry.value.rsplit("@", 1)[-1]
    shown = domain_for_display(domain).lower()
    return {entry.value, entry.value[: len(entry.value) - len(domain)] + shown}


def _touch_recent_history(session: Session, tenant: Tenant, added: list[ListEntry], now: datetime) -> tuple[int, int]:
    matches = _matching_messages(session, tenant, added, now)
    unresolved = [message_id for _, message_id, status in matches if status == "unresolved"]
    for start in range(0, len(unresolved), 500):
        email_state.due_now(session, Message.id.in_(unresolved[start:start + 500]), now)
    return len({user_id for user_id, _, _ in matches}), len(unresolved)


def _remove_unmatched(session: Session, tenant_id: int, added: list[ListEntry]) -> int:
    if not added:
        return 0
    addresses = [e.value for e in added if e.kind == "address"]
    domains = [e.value for e in added if e.kind == "domain"]
    conditions = []
    if addresses:
        conditions.append(UnmatchedAddress.address.in_(addresses))
    for domain in domains:
        conditions.append(UnmatchedAddress.domain == domain)
        conditions.append(UnmatchedAddress.domain.endswith("." + domain, autoescape=True))
    removed = 0
    for start in range(0, len(conditions), _CHUNK):
        removed += session.execute(
            delete(UnmatchedAddress).where(UnmatchedAddress.tenant_id == tenant_id,
                                           or_(*conditions[start:start + _CHUNK]))
            .execution_options(synchronize_session=False)).rowcount or 0
    return removed
