"""A stored email as the decision of SPEC section 2 sees it: the worker decides from it, and
an Ignore List change re-decides from it at once."""

from __future__ import annotations

from mailferry.decision import Direction, EmailFacts, Operation, Participant, Role
from mailferry.models import Message


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
