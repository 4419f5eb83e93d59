"""Recording in Salesforce (SPEC section 3): which matched records an activity may carry,
and the Task record itself. Pure functions, no I/O.

Salesforce lets one activity relate to one Lead or up to 50 Contacts, never a mix; without
Shared Activities, one Who only. `apply_allowances` applies those rules deterministically
and gives every matched record either a place on the Task or a reason code.
"""

from __future__ import annotations

import hashlib
import unicodedata
from dataclasses import dataclass
from datetime import date, datetime, time, timezone
from enum import StrEnum
from typing import Iterable, Sequence
from zoneinfo import ZoneInfo

from mailferry.decision import ROLE_RANK, Direction, Participant, RelatedTo, Role

#: Shared Activities: at most 50 contacts per activity (the WhoId plus 49 TaskRelations).
CONTACT_LIMIT = 50
SUBJECT_LENGTH = 255
DESCRIPTION_LENGTH = 32_000
#: A header line (To or Cc) longer than this is cut, so the body still has room.
HEADER_LINE_LENGTH = 2_000
SUBJECT_PREFIX = "Email: "
NO_SUBJECT = "(no subject)"
#: TaskSubtype can be set when a Task is created and never changed; an upsert that updates
#: an existing Task must leave it out of the body.
CREATE_ONLY_FIELDS = frozenset({"TaskSubtype"})


class NotRecordedReason(StrEnum):
    MIXED_LEADS_AND_CONTACTS = "mixed_leads_and_contacts"
    CONTACT_LIMIT = "contact_limit"
    ONE_LEAD_PER_ACTIVITY = "one_lead_per_activity"
    SINGLE_WHO_ORG = "single_who_org"
    LEAD_CANNOT_HAVE_WHAT = "lead_cannot_have_what"
    ONE_WHAT_PER_ACTIVITY = "one_what_per_activity"


@dataclass(frozen=True)
class MatchedRecord:
    """A Contact or Lead found for one candidate address.

    `role` and `position` say which participant matched: `position` is the index of the
    address in the email's candidate order (From, To, Cc, Bcc), as in `Decision.candidates`.
    `created` (Salesforce CreatedDate) orders several contacts sharing one address.
    """

    sobject: str
    record_id: str
    name: str
    address: str
    created: datetime | date | str | None
    role: Role
    position: int

    def __post_init__(self) -> None:
        if self.sobject not in ("Contact", "Lead"):
            raise ValueError(f"a matched record is a Contact or a Lead, not {self.sobject!r}")
        object.__setattr__(self, "role", Role(self.role))


@dataclass(frozen=True)
class NotRecorded:
    """A matched record the activity could not carry, with the reason shown to the user."""

    record: MatchedRecord
    reason: NotRecordedReason


@dataclass(frozen=True)
class Allocation:
    """The records an activity carries (WhoId first, then one TaskRelation each) and why
    every other matched record, or related-to hint, is left off."""

    recorded: tuple[MatchedRecord, ...]
    not_recorded: tuple[NotRecorded, ...]
    what: RelatedTo | None
    what_not_set: tuple[tuple[RelatedTo, NotRecordedReason], ...] = ()

    @property
    def who_id(self) -> str | None:
        return self.recorded[0].record_id if self.recorded else None

    @property
    def what_id(self) -> str | None:
        return self.what.record_id if self.what else None

    @property
    def relation_ids(self) -> tuple[str, ...]:
        """The further contacts, one TaskRelation each."""
        return tuple(record.record_id for record in self.recorded[1:])


_LATEST = datetime.max


def _created_order(value: datetime | date | str | None) -> datetime:
    """A comparable creation time (naive UTC); unknown or unreadable dates sort last."""
    if isinstance(value, str):
        text = value.strip().replace("Z", "+00:00")
        if len(text) > 5 and text[-5] in "+-" and text[-4:].isdigit():
            text = text[:-2] + ":" + text[-2:]  # Salesforce's "+0000" → "+00:00"
        try:
            value = datetime.fromisoformat(text)
        except ValueError:
            return _LATEST
    if isinstance(value, datetime):
        if value.tzinfo is not None:
            value = value.astimezone(timezone.utc).replace(tzinfo=None)
        return value
    if isinstance(value, date):
        return datetime.combine(value, time())
    return _LATEST


def _participant_order(record: MatchedRecord) -> tuple:
    # Participant order first; several records for one address: oldest first, then by id
    # so that the result never depends on the order Salesforce returned the rows.
    return (ROLE_RANK[record.role], record.position, _created_order(record.created), record.record_id)


def _first_lead(leads: list[MatchedRecord], direction: Direction) -> MatchedRecord:
    """Rule 2: the first lead in To for an outgoing email, in From for an incoming one."""
    wanted = Role.TO if Direction(direction) == Direction.OUTGOING else Role.FROM
    for lead in leads:
        if lead.role == wanted:
            return lead
    return leads[0]


def apply_allowances(
    records: Iterable[MatchedRecord],
    direction: Direction | str,
    shared_activities: bool,
    related_to: Sequence[RelatedTo] | RelatedTo | None = (),
) -> Allocation:
    """SPEC section 3, rules 1-4: what one activity records, and why the rest is left off."""
    unique: dict[str, MatchedRecord] = {}
    for record in sorted(records, key=_participant_order):
        unique.setdefault(record.record_id, record)
    ordered = list(unique.values())
    contacts = [r for r in ordered if r.sobject == "Contact"]
    leads = [r for r in ordered if r.sobject == "Lead"]
    not_recorded: list[NotRecorded] = []

    if contacts:
        # Rule 1: contacts win; leads cannot share an activity with them.
        chosen = contacts[:CONTACT_LIMIT]
        not_recorded += [NotRecorded(r, NotRecordedReason.CONTACT_LIMIT) for r in contacts[CONTACT_LIMIT:]]
        not_recorded += [NotRecorded(r, NotRecordedReason.MIXED_LEADS_AND_CONTACTS) for r in leads]
    elif leads:
        # Rule 2: one lead per activity.
        lead = _first_lead(leads, Direction(direction))
        chosen = [lead]
        not_recorded += [
            NotRecorded(r, NotRecordedReason.ONE_LEAD_PER_ACTIVITY) for r in leads if r is not lead
        ]
    else:
        chosen = []

    if not shared_activities and len(chosen) > 1:
        # Rule 3: without Shared Activities the Task has one Who and no TaskRelations.
        not_recorded += [NotRecorded(r, NotRecordedReason.SINGLE_WHO_ORG) for r in chosen[1:]]
        chosen = chosen[:1]

    # Rule 4: the first related-to hint becomes the WhatId, if the Who is a contact.
    if isinstance(related_to, RelatedTo):
        hints = [related_to]
    else:
        hints = list(dict.fromkeys(related_to or ()))
    what: RelatedTo | None = None
    what_not_set: list[tuple[RelatedTo, NotRecordedReason]] = []
    if hints and chosen:
        if chosen[0].sobject == "Contact":
            what = hints[0]
            what_not_set += [(h, NotRecordedReason.ONE_WHAT_PER_ACTIVITY) for h in hints[1:]]
        else:
            what_not_set += [(h, NotRecordedReason.LEAD_CANNOT_HAVE_WHAT) for h in hints]

    order = {r.record_id: i for i, r in enumerate(ordered)}
    not_recorded.sort(key=lambda n: order[n.record.record_id])
    return Allocation(tuple(chosen), tuple(not_recorded), what, tuple(what_not_set))


# --- the Task record -------------------------------------------------------------------------


def utf16_length(text: str) -> int:
    """Length as Salesforce counts it (UTF-16 code units: an emoji counts twice)."""
    return len(text.encode("utf-16-le")) // 2


def cut_utf16(text: str, limit: int) -> str:
    """The longest prefix of `text` within `limit` UTF-16 units, never splitting a character."""
    if utf16_length(text) <= limit:
        return text
    units = 0
    for index, ch in enumerate(text):
        units += 2 if ord(ch) > 0xFFFF else 1
        if units > limit:
            return text[:index]
    return text


def _one_line(text: str | None) -> str:
    """Header text on one line: control and invisible format characters become spaces."""
    cleaned = "".join(
        " " if unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp") else ch for ch in (text or "")
    )
    return " ".join(cleaned.split())


def _body_text(text: str | None) -> str:
    """The plain-text body with newlines kept and other control characters removed."""
    text = (text or "").replace("\r\n", "\n").replace("\r", "\n")
    return "".join(ch for ch in text if ch in "\n\t" or unicodedata.category(ch) != "Cc")


def task_subject(subject: str | None) -> str:
    """`Email: <subject>` on one line, at most 255 characters (an ellipsis marks a cut)."""
    full = SUBJECT_PREFIX + (_one_line(subject) or NO_SUBJECT)
    if utf16_length(full) <= SUBJECT_LENGTH:
        return full
    return cut_utf16(full, SUBJECT_LENGTH - 1) + "…"


def _person(participant: Participant) -> str:
    name = _one_line(participant.name)[:100].replace("<", "").replace(">", "")
    address = _one_line(participant.address)[:320]
    if name and name.lower() != address.lower():
        return f"{name} <{address}>"
    return address or "(no address)"


def _header_line(label: str, people: Sequence[Participant]) -> str:
    line = f"{label}: "
    for index, person in enumerate(people):
        piece = ("; " if index else "") + _person(person)
        if utf16_length(line + piece) > HEADER_LINE_LENGTH:
            return line + f"; … and {len(people) - index} more"
        line += piece
    return line


def _zone(time_zone: str | None) -> ZoneInfo:
    try:
        return ZoneInfo(time_zone or "UTC")
    except (ValueError, OSError, KeyError):
        return ZoneInfo("UTC")  # a bad stored zone must not stop a write; dates stay UTC


def _local(message_date: datetime, time_zone: str | None) -> datetime:
    if message_date.tzinfo is None:
        message_date = message_date.replace(tzinfo=timezone.utc)  # Graph dates are UTC
    return message_date.astimezone(_zone(time_zone))


def truncation_marker(cut_characters: int) -> str:
    return f"\n\n[… Mailferry cut the email here: {cut_characters:,} more characters are in the mailbox.]"


def task_description(
    participants: Sequence[Participant], message_date: datetime | None, body: str | None, time_zone: str | None
) -> str:
    """A short header block (From, To, Cc, Date) and the plain-text body, within 32,000.

    Bcc is never written: a Task is visible to colleagues, and Bcc recipients were hidden
    from the other recipients on purpose.
    """
    by_role = {role: [p for p in participants if p.role == role] for role in Role}
    lines = [_header_line("From", by_role[Role.FROM][:1] or [Participant(Role.FROM, "")])]
    if by_role[Role.TO]:
        lines.append(_header_line("To", by_role[Role.TO]))
    if by_role[Role.CC]:
        lines.append(_header_line("Cc", by_role[Role.CC]))
    if message_date is not None:
        local = _local(message_date, time_zone)
        lines.append(f"Date: {local:%Y-%m-%d %H:%M} {local.tzname()} ({local.tzinfo})")
    text = "\n".join(lines) + "\n\n" + _body_text(body)
    if utf16_length(text) <= DESCRIPTION_LENGTH:
        return text
    budget = DESCRIPTION_LENGTH - utf16_length(truncation_marker(len(text)))
    kept = cut_utf16(text, budget)
    return kept + truncation_marker(len(text) - len(kept))


def task_fields(
    *,
    subject: str | None,
    participants: Sequence[Participant],
    message_date: datetime | None,
    body: str | None,
    time_zone: str | None,
    owner_id: str,
    allocation: Allocation,
) -> dict[str, str]:
    """The Task of SPEC section 3 (without Mailferry_Key__c, which the upsert supplies).

    ActivityDate is the message date in the user's time zone: an email received late on
    Monday evening in New York belongs to Monday there, though it is Tuesday in UTC.
    """
    fields = {
        "TaskSubtype": "Email",
        "Status": "Completed",
        "Subject": task_subject(subject),
        "Description": task_description(participants, message_date, body, time_zone),
        "OwnerId": owner_id,
    }
    if message_date is not None:
        fields["ActivityDate"] = _local(message_date, time_zone).date().isoformat()
    if allocation.who_id:
        fields["WhoId"] = allocation.who_id
    if allocation.what_id:
        fields["WhatId"] = allocation.what_id
    return fields


# --- the external id ---------------------------------------------------------------------------

TASK_KEY_PREFIX = "mf1-"


def normalise_message_id(internet_message_id: str) -> str:
    """A message id as compared: trimmed, without its angle brackets (case is kept:
    the left part of a Message-ID is case-sensitive)."""
    text = (internet_message_id or "").strip()
    if text.startswith("<") and text.endswith(">"):
        text = text[1:-1].strip()
    return text


def task_key(tenant_id: int | str, user_id: int | str, internet_message_id: str) -> str:
    """The Task's Mailferry_Key__c: `mf1-` + SHA-256 hex of tenant, user and message id.

    A hash, not the raw values, because message ids can be up to ~1,000 characters and
    carry `/`, `%`, `+` and `@`, while the key travels in the upsert URL path and the field
    holds 255 characters; a hash is always 68 URL-safe characters. It also keeps host
    names and user ids out of a field everyone with Task access can read. Each part is
    length-prefixed, so ("1", "23") and ("12", "3") never hash the same input.
    `mf1` versions the derivation. Raises ValueError without a message id: a key made
    from nothing would make unrelated emails overwrite each other's Task.
    """
    message_id = normalise_message_id(internet_message_id)
    if not message_id:
        raise ValueError("a Task key needs the message's internetMessageId (or another stable id)")
    parts = (str(tenant_id), str(user_id), message_id)
    material = "mailferry-task|" + "|".join(f"{len(part)}:{part}" for part in parts)
    return TASK_KEY_PREFIX + hashlib.sha256(material.encode("utf-8")).hexdigest()
