"""What happened, or would happen, to one email: the task pane's status (SPEC section 7).

An email the worker has stored is shown as its Sync History row says (synced with its
records, unresolved with the reason, excluded with the rule, ...). An email it has not seen
yet (just arrived, or never stored: not designated, omitted, sync off) is decided live with
the same rules of SPEC section 2 and the user's current context, from the facts Outlook
gives the pane; such an email can be synced now if the rules let it reach the lookup.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from mailferry.addresses import parse_address
from mailferry.decision import (EmailFacts, Operation, Outcome, SetAsideReason, decide, ordered_participants,
                                sort_out_candidates)
from mailferry.message_facts import direction_of, facts_of, participants_of
from mailferry.models import Message, UnmatchedAddress, User
from mailferry.user_context import decision_context, ignored_message_ids

#: Live outcomes as the pane names them (a stored row's status is used as is).
_LIVE_STATUS = {
    Outcome.DROPPED: "off",
    Outcome.OMITTED: "omitted",
    Outcome.IGNORED: "ignored",
    Outcome.EXCLUDED: "excluded",
    Outcome.NOT_DESIGNATED: "not_designated",
    Outcome.SKIPPED: "skipped",
    Outcome.NEEDS_LOOKUP: "not_synced_yet",
}


@dataclass(frozen=True)
class OutlookItem:
    """The open email as Office.js describes it (read mode)."""

    internet_message_id: str
    sender: tuple[str, str]  # (address, display name)
    to: tuple[tuple[str, str], ...] = ()
    cc: tuple[tuple[str, str], ...] = ()
    categories: tuple[str, ...] = ()


@dataclass(frozen=True)
class ParticipantStatus:
    address: str
    name: str
    role: str
    #: recorded | not_recorded (matched, left off by a Salesforce limit) | unmatched |
    #: ignored (on the Ignore List or the Global Exclusion List) | invalid | not_looked_up
    state: str
    record_type: str | None = None
    record_id: str | None = None
    record_name: str | None = None
    reason: str | None = None


@dataclass
class EmailStatus:
    status: str
    reason: str | None
    rule: int | None = None
    message: Message | None = None
    participants: list[ParticipantStatus] = field(default_factory=list)

    @property
    def can_sync_now(self) -> bool:
        """Worth asking the worker to run now: it has not read the email or not recorded it yet
        (an Unresolved email waits for its retry time: Retry now brings that forward)."""
        return self.status in ("not_synced_yet", "pending")

    @property
    def can_retry(self) -> bool:
        return self.status == "unresolved" and self.message is not None


def status_of(session: Session, user: User, item: OutlookItem) -> EmailStatus:
    context = decision_context(session, user)
    row = session.execute(
        select(Message).options(selectinload(Message.records))
        .where(Message.user_id == user.id, Message.internet_message_id == item.internet_message_id)
        .order_by(Message.id).limit(1)  # one row per mailbox: the first mailbox's
    ).scalar_one_or_none()
    if row is not None:
        facts = facts_of(row)
        status = EmailStatus(row.status, row.reason or row.error_code, message=row)
    else:
        facts = _facts(item, context.own_addresses)
        if ignored_message_ids(session, user.id, [item.internet_message_id]):
            context = replace(context, ignore_email_chosen=True)
        decision = decide(facts, context)
        status = EmailStatus(_LIVE_STATUS.get(decision.outcome, decision.outcome.value),
                             decision.reason.value, decision.rule)
    status.participants = _participants(session, user, facts, context, row)
    return status


def _facts(item: OutlookItem, own: frozenset[str]) -> EmailFacts:
    return EmailFacts(
        operation=Operation.CREATE,
        direction=direction_of(item.sender[0], own),
        participants=participants_of(item.sender, item.to, item.cc),
        categories=item.categories,
        internet_message_id=item.internet_message_id,
    )


def _participants(session: Session, user: User, facts: EmailFacts, context, row: Message | None) -> list[ParticipantStatus]:
    """Everyone on the email but the user and smart addresses: the Salesforce record each is
    on, or why not, by rule 7's own sorting (`sort_out_candidates`)."""
    records = {}
    for record in (row.records if row is not None else []):
        records.setdefault(parse_address(record.address).key, record)
    ordered = ordered_participants(facts.participants)
    _, _, set_aside = sort_out_candidates([p.parsed for p in ordered], context)
    aside = {parse_address(s.address).key: s.reason for s in set_aside}
    people, seen = [], set()
    for person in ordered:
        key = person.key
        if not key or key in seen or aside.get(key) in (SetAsideReason.OWN_ADDRESS, SetAsideReason.SMART_ADDRESS):
            continue
        seen.add(key)
        people.append((key, person))
    unmatched = set(session.execute(
        select(UnmatchedAddress.address).where(UnmatchedAddress.user_id == user.id,
                                               UnmatchedAddress.address.in_([key for key, _ in people]))
    ).scalars()) if people else set()
    no_match = row is not None and row.reason == "no_match"
    result = []
    for key, person in people:
        record = records.get(key)
        if record is not None:
            result.append(ParticipantStatus(
                person.address, person.name, person.role.value,
                "recorded" if record.recorded else "not_recorded",
                record.sobject_type, record.record_id, record.name, record.reason))
            continue
        if aside.get(key) == SetAsideReason.IGNORE_LIST or context.global_exclusions.matches(key):
            state = "ignored"
        elif aside.get(key) == SetAsideReason.INVALID_ADDRESS:
            state = "invalid"
        elif key in unmatched or no_match:
            state = "unmatched"
        else:
            state = "not_looked_up"
        result.append(ParticipantStatus(person.address, person.name, person.role.value, state))
    return result
