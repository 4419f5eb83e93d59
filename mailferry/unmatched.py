"""The Unmatched Contacts/Leads tab's rows: one per address and user, counting each email
once, gone once the address matches (SPEC section 1)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from mailferry.addresses import domain_of
from mailferry.models import Message, UnmatchedAddress


def note_unmatched(session: Session, row: Message, addresses: tuple[str, ...], names: dict[str, str],
                   first_attempt: bool, now: datetime) -> None:
    """The email's addresses nobody matched; `first_attempt` counts the email for them."""
    if not addresses:
        return
    existing = {
        u.address: u
        for u in session.execute(
            select(UnmatchedAddress).where(
                UnmatchedAddress.user_id == row.user_id, UnmatchedAddress.address.in_(addresses)
            )
        ).scalars()
    }
    for address in addresses:
        entry = existing.get(address)
        if entry is None:
            entry = UnmatchedAddress(
                tenant_id=row.tenant_id, user_id=row.user_id, address=address,
                display_name=names.get(address) or None, domain=domain_of(address) or "",
                emails_count=0, first_seen_at=now,
            )
            session.add(entry)
            first_attempt = True
        if first_attempt:
            entry.emails_count += 1
        entry.last_subject = row.subject[:1000] if row.subject else None
        entry.last_seen_at = now
        if names.get(address) and not entry.display_name:
            entry.display_name = names[address]


def forget_unmatched(session: Session, user_id: int, addresses: tuple[str, ...]) -> None:
    """Addresses that matched now (a Contact or Lead was created) leave the tab."""
    if addresses:
        session.execute(
            delete(UnmatchedAddress).where(UnmatchedAddress.user_id == user_id, UnmatchedAddress.address.in_(addresses))
        )
