"""The decision for one email (SPEC section 2), as pure functions.

`decide(email, context)` walks the rules of the SPEC table in their order and returns the
first that applies; when no rule before the Salesforce lookup applies, it returns
`needs_lookup` with the candidate addresses to look up. After the lookup,
`resolve_after_lookup(decision, matches, mode)` applies rules 8 and 9.

Two steps come before the table, both "dropped" (not stored at all, like rule 1):
Email Sync disabled (`sync_disabled`) and sync mode Off (`sync_off`): a user who turned
sync off asked for nothing to be recorded, and storing history rows for every email would
fill the tabs with rows nobody asked for.

A message deletion that rule 1 does not prevent ends in `remove_task`: rules 2-9 decide
whether to *record* an email, which no longer applies to a message that is gone; the worker
deletes the Task upserted under the message's key, if there is one.

Nothing here raises on hostile input (missing From, empty recipients, invalid or
internationalised addresses): every email gets exactly one Decision.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from enum import StrEnum
from functools import cached_property
from typing import Iterable

from mailferry.addresses import EntryList, ParsedAddress, parse_address, domain_matches, normalise_domain
from mailferry.settings_catalog import EffectiveSettings, SyncMode


class Operation(StrEnum):
    CREATE = "create"
    UPDATE = "update"
    DELETE = "delete"


class Direction(StrEnum):
    INCOMING = "incoming"
    OUTGOING = "outgoing"


class Role(StrEnum):
    FROM = "from"
    TO = "to"
    CC = "cc"
    BCC = "bcc"


#: Participant order of SPEC sections 2 and 3: From, To, Cc, Bcc.
ROLE_ORDER = (Role.FROM, Role.TO, Role.CC, Role.BCC)
ROLE_RANK = {role: rank for rank, role in enumerate(ROLE_ORDER)}


class Outcome(StrEnum):
    DROPPED = "dropped"  # not stored at all (rule 1, sync off / disabled)
    OMITTED = "omitted"  # only an anonymous daily count (rule 2)
    IGNORED = "ignored"  # the user chose Ignore Email (rule 3)
    EXCLUDED = "excluded"  # Excluded tab (rules 4, 5, and 8 in Attempt modes)
    NOT_DESIGNATED = "not_designated"  # not stored; the task pane computes it live (rule 6)
    SKIPPED = "skipped"  # nobody left to look up (rule 7)
    NEEDS_LOOKUP = "needs_lookup"  # look the candidates up in Salesforce (then rule 8/9)
    UNRESOLVED = "unresolved"  # Unresolved tab, retried (rule 8 in the other modes)
    TO_RECORD = "to_record"  # at least one match: write the Task (rule 9), then "synced"
    REMOVE_TASK = "remove_task"  # the message was deleted and deletes are allowed


class Reason(StrEnum):
    SYNC_DISABLED = "sync_disabled"
    SYNC_OFF = "sync_off"
    PREVENT_CREATE = "prevent_create"
    PREVENT_UPDATE = "prevent_update"
    PREVENT_DELETE = "prevent_delete"
    MESSAGE_DELETED = "message_deleted"
    GLOBAL_EXCLUSION = "global_exclusion"
    IGNORE_EMAIL = "ignore_email"
    DONOTSYNC_CATEGORY = "donotsync_category"
    DO_NOT_RECORD_ADDRESS = "do_not_record_address"
    NOT_DESIGNATED = "not_designated"
    NO_CANDIDATES = "no_candidates"
    CANDIDATES_FOUND = "candidates_found"
    NO_MATCH = "no_match"
    MATCHED = "matched"


class SetAsideReason(StrEnum):
    """Why a participant is not a candidate (the task pane shows it for rule 7)."""

    OWN_ADDRESS = "own_address"
    SMART_ADDRESS = "smart_address"
    IGNORE_LIST = "ignore_list"
    INVALID_ADDRESS = "invalid_address"


@dataclass(frozen=True)
class Participant:
    """One person on an email, as received; `parsed` and `key` are the forms every
    comparison uses (`Ann@Bücher.de` and `<ann@xn--bcher-kva.de>` have one key)."""

    role: Role
    address: str
    name: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "role", Role(self.role))
        object.__setattr__(self, "address", self.address if isinstance(self.address, str) else "")
        object.__setattr__(self, "name", self.name if isinstance(self.name, str) else "")

    @cached_property
    def parsed(self) -> ParsedAddress:
        return parse_address(self.address)

    @property
    def key(self) -> str:
        return self.parsed.key


@dataclass(frozen=True)
class EmailFacts:
    """What the decision needs to know about one email, and nothing more."""

    operation: Operation
    direction: Direction
    participants: tuple[Participant, ...] = ()
    categories: tuple[str, ...] = ()
    internet_message_id: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "operation", Operation(self.operation))
        object.__setattr__(self, "direction", Direction(self.direction))
        object.__setattr__(self, "participants", tuple(self.participants or ()))
        categories = tuple(c for c in (self.categories or ()) if isinstance(c, str))
        object.__setattr__(self, "categories", categories)


@dataclass(frozen=True)
class DecisionContext:
    """Everything about the user and tenant that the decision reads.

    Accepts plain strings; they are canonicalised once here, so deciding a batch of emails
    for one user does not re-parse the lists for each email. `ignore_email_chosen` is the
    one per-message field: use `dataclasses.replace(context, ignore_email_chosen=True)`.
    """

    settings: EffectiveSettings = field(default_factory=EffectiveSettings)
    own_addresses: frozenset[str] = frozenset()
    global_exclusions: EntryList = field(default_factory=lambda: EntryList(()))
    do_not_record_address: str | None = None
    smart_domain: str | None = None
    ignore_list: EntryList = field(default_factory=lambda: EntryList(()))
    ignore_email_chosen: bool = False

    def __post_init__(self) -> None:
        own = frozenset(k for k in (parse_address(a).key for a in self.own_addresses or ()) if k)
        object.__setattr__(self, "own_addresses", own)
        for name in ("global_exclusions", "ignore_list"):
            value = getattr(self, name)
            if not isinstance(value, EntryList):
                object.__setattr__(self, name, EntryList.of(value))
        dnr = parse_address(self.do_not_record_address).key if self.do_not_record_address else None
        object.__setattr__(self, "do_not_record_address", dnr or None)
        object.__setattr__(self, "smart_domain", normalise_domain(self.smart_domain))


# --- smart addresses -----------------------------------------------------------------------

#: The Related To records a smart address can name, by the word before the id, with the
#: key prefix every id of that object starts with.
SMART_ADDRESS_OBJECTS = {
    "account": ("Account", "001"),
    "opportunity": ("Opportunity", "006"),
    "case": ("Case", "500"),
}
_ID_SUFFIX_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"


@dataclass(frozen=True)
class RelatedTo:
    """A related-to (WhatId) hint read from a smart address such as account-<id>@smart.domain."""

    sobject: str
    record_id: str
    address: str


def to_18_char_id(record_id: str) -> str | None:
    """The case-insensitive 18-character form of a 15- or 18-character Salesforce id."""
    if len(record_id) == 18:
        return record_id if restore_id_case(record_id.lower()) == record_id else None
    if len(record_id) != 15 or not record_id.isalnum() or not record_id.isascii():
        return None
    suffix = ""
    for start in (0, 5, 10):
        bits = sum(1 << i for i, ch in enumerate(record_id[start : start + 5]) if "A" <= ch <= "Z")
        suffix += _ID_SUFFIX_ALPHABET[bits]
    return record_id + suffix


def restore_id_case(lowered: str) -> str | None:
    """Recover an 18-character id from its lower-cased form (email local parts lose case).

    The last three characters encode, five bits each, which of the first fifteen are
    upper case; that is exactly why smart addresses carry 18-character ids.
    """
    if len(lowered) != 18 or not lowered.isascii() or not lowered.isalnum():
        return None
    suffix = lowered[15:].upper()
    chars = list(lowered[:15].lower())
    for chunk, code in enumerate(suffix):
        bits = _ID_SUFFIX_ALPHABET.find(code)
        if bits < 0:
            return None
        for i in range(5):
            if bits & (1 << i):
                if not chars[chunk * 5 + i].isalpha():
                    return None
                chars[chunk * 5 + i] = chars[chunk * 5 + i].upper()
    return "".join(chars) + suffix


def parse_smart_address(address: ParsedAddress | str | None, smart_domain: str | None) -> RelatedTo | None:
    """The related-to record named by a smart address, or None if it names none."""
    parsed = address if isinstance(address, ParsedAddress) else parse_address(address)
    domain = normalise_domain(smart_domain)
    if not parsed.valid or domain is None or parsed.domain != domain or not parsed.local:
        return None
    word, _, lowered_id = parsed.local.partition("-")
    if word not in SMART_ADDRESS_OBJECTS:
        return None
    sobject, key_prefix = SMART_ADDRESS_OBJECTS[word]
    record_id = restore_id_case(lowered_id)
    if record_id is None or not record_id.startswith(key_prefix):
        return None
    return RelatedTo(sobject, record_id, parsed.canonical or "")


def smart_address_for(sobject: str, record_id: str, smart_domain: str) -> str | None:
    """The smart address that relates an email to a record (None if it cannot have one)."""
    domain = normalise_domain(smart_domain)
    full_id = to_18_char_id(record_id)
    for word, (name, key_prefix) in SMART_ADDRESS_OBJECTS.items():
        if name == sobject and domain and full_id and full_id.startswith(key_prefix):
            return f"{word}-{full_id.lower()}@{domain}"
    return None


# --- the decision ----------------------------------------------------------------------------


@dataclass(frozen=True)
class SetAside:
    address: str
    reason: SetAsideReason


@dataclass(frozen=True)
class Decision:
    """The outcome for one email, the reason code, and the rule that decided it.

    `rule` is the SPEC table row (1-9); 0 means "before the table" (sync disabled or Off).
    `candidates` (canonical, participant order), `related_to` and `participants` (in
    participant order, each with its key: what the allowances' roles and the Unmatched
    names are read from) are set from rule 7 on; `matched` / `unmatched` after the lookup.
    `withdraw_task` tells the worker to delete an already recorded Task for this message
    (SPEC section 4: DoNotSync or Ignore Email after a sync), which Prevent Operations'
    delete setting forbids.
    """

    outcome: Outcome
    reason: Reason
    rule: int
    candidates: tuple[str, ...] = ()
    related_to: tuple[RelatedTo, ...] = ()
    set_aside: tuple[SetAside, ...] = ()
    matched: tuple[str, ...] = ()
    unmatched: tuple[str, ...] = ()
    withdraw_task: bool = False
    participants: tuple[Participant, ...] = ()

    def role_of(self, key: str) -> Role:
        """The role of the first participant with this address key (To if none has it)."""
        return next((p.role for p in self.participants if p.key == key), Role.TO)

    def names(self) -> dict[str, str]:
        """Each participant's display name by address key (the first one given)."""
        names: dict[str, str] = {}
        for p in self.participants:
            if p.name and p.key not in names:
                names[p.key] = p.name
        return names


def ordered_participants(participants: Iterable[Participant]) -> list[Participant]:
    """Participants in From, To, Cc, Bcc order, keeping the given order within a role."""
    return sorted(participants, key=lambda p: ROLE_RANK[p.role])


def _has_category(categories: Iterable[str], name: str) -> bool:
    # Outlook category names are unique regardless of case, so compare them that way.
    wanted = name.strip().casefold()
    return any(c.strip().casefold() == wanted for c in categories)


def _is_smart(parsed: ParsedAddress, context: DecisionContext) -> bool:
    if context.do_not_record_address and parsed.key == context.do_not_record_address:
        return True
    if context.smart_domain and parsed.domain:
        return domain_matches(context.smart_domain, parsed.domain)
    return False


def sort_out_candidates(
    parsed: list[ParsedAddress], context: DecisionContext
) -> tuple[tuple[str, ...], tuple[RelatedTo, ...], tuple[SetAside, ...]]:
    """Rule 7's removals: own, smart, ignored and invalid addresses; repeats kept once.
    (The task pane also uses it to say why each participant is or is not looked up.)"""
    candidates: list[str] = []
    hints: list[RelatedTo] = []
    set_aside: list[SetAside] = []
    seen: set[str] = set()
    for address in parsed:
        if address.key in seen:
            continue
        seen.add(address.key)
        shown = address.canonical or address.key
        if address.key in context.own_addresses:
            set_aside.append(SetAside(shown, SetAsideReason.OWN_ADDRESS))
        elif _is_smart(address, context):
            set_aside.append(SetAside(shown, SetAsideReason.SMART_ADDRESS))
            hint = parse_smart_address(address, context.smart_domain)
            if hint is not None:
                hints.append(hint)
        elif context.ignore_list.matches(address):
            set_aside.append(SetAside(shown, SetAsideReason.IGNORE_LIST))
        elif not address.valid:
            # Cannot be looked up: Salesforce holds no such address, and the SOQL must not
            # carry it. Shown, so the task pane can say why the email was skipped.
            set_aside.append(SetAside(shown, SetAsideReason.INVALID_ADDRESS))
        else:
            candidates.append(address.canonical or address.key)
    return tuple(candidates), tuple(hints), tuple(set_aside)


_PREVENT_REASON = {
    Operation.CREATE: Reason.PREVENT_CREATE,
    Operation.UPDATE: Reason.PREVENT_UPDATE,
    Operation.DELETE: Reason.PREVENT_DELETE,
}


def decide(email: EmailFacts, context: DecisionContext) -> Decision:
    """Apply SPEC section 2 to one email; the first rule that applies decides."""
    settings = context.settings
    withdraw = not settings.prevent_delete

    # Before the table: nothing is processed for a user whose sync is disabled or Off.
    if not settings.enabled:
        return Decision(Outcome.DROPPED, Reason.SYNC_DISABLED, 0)
    if settings.sync_mode == SyncMode.OFF:
        return Decision(Outcome.DROPPED, Reason.SYNC_OFF, 0)

    # Rule 1: Prevent Operations, on the mailbox operation (create / update / delete).
    if settings.prevents(email.operation.value):
        return Decision(Outcome.DROPPED, _PREVENT_REASON[email.operation], 1)
    if email.operation == Operation.DELETE:
        return Decision(Outcome.REMOVE_TASK, Reason.MESSAGE_DELETED, 1)

    participants = ordered_participants(email.participants)
    parsed = [p.parsed for p in participants]

    # Rule 2: any participant on the Global Exclusion List. Invalid addresses are matched by
    # their best-effort form too: a privacy exclusion must not be dodged by a malformed one.
    if any(context.global_exclusions.matches(a) for a in parsed):
        return Decision(Outcome.OMITTED, Reason.GLOBAL_EXCLUSION, 2)

    # Rule 3: the user chose Ignore Email for this message.
    if context.ignore_email_chosen:
        return Decision(Outcome.IGNORED, Reason.IGNORE_EMAIL, 3, withdraw_task=withdraw)

    # Rule 4: the DoNotSync category.
    if _has_category(email.categories, settings.donotsync_category):
        return Decision(Outcome.EXCLUDED, Reason.DONOTSYNC_CATEGORY, 4, withdraw_task=withdraw)

    # Rule 5: the tenant's Do Not Record smart address among the participants.
    dnr = context.do_not_record_address
    if dnr and any(a.key == dnr for a in parsed):
        return Decision(Outcome.EXCLUDED, Reason.DO_NOT_RECORD_ADDRESS, 5, withdraw_task=withdraw)

    # Rule 6: designated-only modes need the CRM category.
    if settings.sync_mode.designated_only and not _has_category(email.categories, settings.crm_category):
        return Decision(Outcome.NOT_DESIGNATED, Reason.NOT_DESIGNATED, 6)

    # Rule 7: remove own, smart and ignored addresses; is anyone left to look up?
    candidates, hints, set_aside = sort_out_candidates(parsed, context)
    if not candidates:
        return Decision(Outcome.SKIPPED, Reason.NO_CANDIDATES, 7, (), hints, set_aside,
                        participants=tuple(participants))

    return Decision(Outcome.NEEDS_LOOKUP, Reason.CANDIDATES_FOUND, 8, candidates, hints, set_aside,
                    participants=tuple(participants))


def resolve_after_lookup(decision: Decision, matches: Iterable[str], mode: SyncMode | str) -> Decision:
    """Rules 8 and 9 once the candidates were looked up.

    `matches` holds the candidate addresses that matched at least one Contact or Lead (any
    case or form: they are canonicalised). No match: `excluded` in the Attempt modes,
    `unresolved` otherwise, both `no_match`. At least one: `to_record` (rule 9), which
    becomes "synced" once the write succeeds. A decision that was not `needs_lookup` is
    returned unchanged, so a batch can pass every decision through.
    """
    if decision.outcome != Outcome.NEEDS_LOOKUP:
        return decision
    found = {parse_address(address).key for address in matches}
    matched = tuple(c for c in decision.candidates if c in found)
    unmatched = tuple(c for c in decision.candidates if c not in found)
    if matched:
        return replace(decision, outcome=Outcome.TO_RECORD, reason=Reason.MATCHED, rule=9,
                       matched=matched, unmatched=unmatched)
    outcome = Outcome.EXCLUDED if SyncMode(mode).attempt else Outcome.UNRESOLVED
    return replace(decision, outcome=outcome, reason=Reason.NO_MATCH, rule=8,
                   matched=(), unmatched=unmatched)
