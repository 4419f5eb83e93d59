"""A stored email as the decision of SPEC section 2 sees it: the worker decides from it, and
an Ignore List change re-decides from it at once."""

from __future__ import annotations

from collections.abc import Iterable

from mailferry.addresses import comparison_key
from mailferry.decision import Direction, EmailFacts, Operation, Participant, Role
from mailferry.models import Message

#: (address, display name), as Graph and Office.js give each person.
Person = tuple[str, str]


def participants_of(sender: Person | None, to: Iterable[Person] = (), cc: Iterable[Person] = (),
                    bcc: Iterable[Person] = ()) -> tuple[Participant, ...]:
    """Everyone on an email, From, To, Cc, Bcc, as the worker stores them and the add-in
    shows them."""
    people = [Participant(Role.FROM, *sender)] if sender is not None else []
    for role, group in ((Role.TO, to), (Role.CC, cc), (Role.BCC, bcc)):
        people += [Participant(role, address, name) for address, name in group]
    return tuple(people)


def stored(participants: Iterable[Participant]) -> list[dict]:
    """Participants as a message row keeps them (`Message.participants`)."""
    return [{"role": p.role.value, "address": p.address, "name": p.name} for p in participants]


def direction_of(sender_address: str | None, own_addresses: frozenset[str]) -> Direction:
    """Outgoing when the sender is one of the user's own addresses (given by their keys, as
    `DecisionContext.own_addresses` holds them)."""
    return Direction.OUTGOING if comparison_key(sender_address) in own_addresses else Direction.INCOMING


def facts_of(row: Message) -> EmailFacts:
    # A due Unresolved row has no pending operation: it is still being created unless a
    # Task exists (Prevent Operations must judge a retry as the operation it continues).
    operation = row.pending_operation or ("update" if row.salesforce_task_id else "create")
    return EmailFacts(
        operation=Operation(operation),
        direction=Direction(row.direction),
        participants=tuple(
            Participant(Role(p["role"]), p.get("address") or "", p.get("name") or "")
            for p in row.participants or []
        ),
        categories=tuple(row.categories or ()),
        internet_message_id=row.internet_message_id,
    )
