"""Turning "who wrote to whom" into mailbox copies, and filling mailboxes with everyday mail.

One message becomes one `MailSpec` per mailbox that holds it: the sender's Sent Items when
the sender is a demo user, and the Inbox of every demo user among the recipients, all with
the same `internetMessageId` and conversation, as Exchange does.
"""

from __future__ import annotations

import datetime as dt
import functools
import random
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from sandbox import seed_text as text
from sandbox.world import Address, DemoUser, MailSpec

UTC = dt.timezone.utc
WINDOW_DAYS = 30
# Local hours mail is written at, weighted towards mornings and early afternoons.
_WORK_HOURS = (8, 9, 9, 10, 10, 10, 11, 11, 12, 13, 14, 14, 15, 15, 16, 16, 17, 18)


@functools.lru_cache(maxsize=4096)  # a few hundred domains, encoded once each
def ascii_domain(domain: str) -> str:
    try:
        return domain.encode("idna").decode("ascii")
    except UnicodeError:  # a domain idna refuses still needs some host for the message id
        return "invalid.example"


@dataclass
class Mailer:
    """Collects mailbox copies. `users` are the demo users (their copies are created)."""

    rng: random.Random
    now: dt.datetime
    users: list[DemoUser]
    tenant_domain: str
    mails: list[MailSpec] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._owner = {}
        for user in self.users:
            for address in (user.upn, *user.aliases):
                self._owner[address.lower()] = user.upn
        self._zones = {user.upn: ZoneInfo(user.time_zone) for user in self.users}
        self._days: dict[str, list[tuple[dt.datetime, int]]] = {}  # see _local_days
        self._conversations = 0
        # One Exchange Online server name for the tenant, as in real Message-IDs.
        rng = self.rng
        self._tenant_host = (
            f"{rng.choice(('AM6', 'DB9', 'BN8', 'CH2', 'SN4'))}PR{rng.randrange(10, 99)}"
            f"MB{rng.randrange(1000, 9999)}.{rng.choice(('eurprd', 'namprd'))}"
            f"{rng.randrange(1, 20):02d}.prod.outlook.com"
        )

    def owner_of(self, address: str) -> str | None:
        return self._owner.get(address.lower())

    def new_conversation(self) -> str:
        self._conversations += 1
        return f"conv-{self._conversations:06d}"

    def message_id(self, sender: Address | None) -> str:
        bits = self.rng.getrandbits(128)
        if sender is None:
            return f"<{bits:032x}@localhost.localdomain>"
        domain = sender.address.rpartition("@")[2].lower()
        if domain == self.tenant_domain:
            return f"<{self._tenant_host[:12]}{bits:032X}@{self._tenant_host}>"
        return f"<{bits:032x}@mail.{ascii_domain(domain)}>"

    def local_time(self, upn: str, days_ago: int, hour: int, minute: int) -> dt.datetime:
        """`days_ago` days before today in the user's own time zone, at a local hour; moved
        back into the past when it would lie in the future."""
        zone = self._zones[upn]
        day = self.now.astimezone(zone).date() - dt.timedelta(days=days_ago)
        when = dt.datetime(day.year, day.month, day.day, hour, minute,
                           self.rng.randrange(60), tzinfo=zone).astimezone(UTC)
        if when > self.now - dt.timedelta(minutes=1):
            when = self.now - dt.timedelta(minutes=self.rng.randint(1, 240))
        return when.replace(microsecond=0)

    def business_time(self, upn: str) -> dt.datetime:
        """A plausible moment of the last 30 days for this user: mostly working hours on
        weekdays, in their time zone.

        Hot path (a benchmark scale draws one per message): it adds an offset to the user's
        local midnight in UTC instead of building a zoned datetime. On a day the clocks
        change that is an hour off, which no reader of a seeded mailbox can tell."""
        rng = self.rng
        days = self._days.get(upn) or self._local_days(upn)
        days_ago = int(rng.random() * WINDOW_DAYS)
        midnight, weekday = days[days_ago]
        if weekday >= 5 and rng.random() < 0.8:  # most weekend mail moves to Friday
            midnight, weekday = days[min(WINDOW_DAYS - 1, days_ago + weekday - 4)]
        when = midnight + dt.timedelta(
            seconds=pick(rng, _WORK_HOURS) * 3600 + int(rng.random() * 3600))
        if when > self.now - dt.timedelta(minutes=1):
            when = self.now - dt.timedelta(seconds=60 + int(rng.random() * 14400))
        return when

    def _local_days(self, upn: str) -> list[tuple[dt.datetime, int]]:
        """The last 30 local days of this user: (midnight in UTC, weekday), today first."""
        zone = self._zones[upn]
        today = self.now.astimezone(zone).date()
        days = []
        for days_ago in range(WINDOW_DAYS):
            day = today - dt.timedelta(days=days_ago)
            midnight = dt.datetime(day.year, day.month, day.day, tzinfo=zone).astimezone(UTC)
            days.append((midnight, day.weekday()))
        self._days[upn] = days
        return days

    def send(self, sender: Address | None, to=(), cc=(), bcc=(), *, subject: str, body: str,
             when: dt.datetime, categories: tuple[str, ...] = (), conversation: str = "",
             attachments: bool = False, deliver_to: tuple[str, ...] = ()) -> str:
        """Record one message in every demo mailbox that holds it; returns its Message-ID.

        `deliver_to` adds Inbox copies for demo users who got it without appearing in the
        headers (a Bcc seen from the recipient's side, a distribution list)."""
        internet_id = self.message_id(sender)
        conversation = conversation or self.new_conversation()
        to, cc, bcc = tuple(to), tuple(cc), tuple(bcc)
        copies: list[tuple[str, str]] = []
        if sender is not None and (owner := self.owner_of(sender.address)):
            copies.append((owner, "sentitems"))
        for recipient in (*to, *cc, *bcc):
            owner = self.owner_of(recipient.address)
            if owner and (owner, "inbox") not in copies:
                copies.append((owner, "inbox"))
        for owner in deliver_to:
            if (owner, "inbox") not in copies:
                copies.append((owner, "inbox"))
        age = self.now - when
        for owner, folder in copies:
            incoming = folder == "inbox"
            self.mails.append(MailSpec(
                user_upn=owner, folder=folder, sender=sender, to=to, cc=cc,
                # Only the sender's copy knows the Bcc list, as in Exchange.
                bcc=() if incoming else bcc,
                subject=subject, body_text=body, received=when, categories=categories,
                internet_message_id=internet_id, conversation_key=conversation,
                is_read=not incoming or age > dt.timedelta(days=2) or self.rng.random() < 0.4,
                has_attachments=attachments,
            ))
        return internet_id


def first_name(address: Address) -> str:
    return (address.name.split() or ["there"])[0]


def pick(rng: random.Random, items):
    """rng.choice, without its rejection loop: about three times faster, which matters for
    the hundreds of thousands of picks of a benchmark scale. (Float rounding makes it
    uneven by at most 1 in 2**53.)"""
    return items[int(rng.random() * len(items))]


def compose_body(rng: random.Random, to: Address | None, sender: Address | None,
                 lines: int = 2) -> str:
    greeting = pick(rng, text.GREETINGS).format(first=first_name(to) if to else "there")
    count = len(text.BODY_LINES)
    first = int(rng.random() * count)
    middle = text.BODY_LINES[first]
    if lines > 1:  # a second, different line
        middle += " " + text.BODY_LINES[(first + 1 + int(rng.random() * (count - 1))) % count]
    signature = sender.name if sender and sender.name else ""
    return f"{greeting}\n\n{middle}\n\n{pick(rng, text.CLOSINGS)}\n{signature}".rstrip()


def fill_subject(rng: random.Random, templates: tuple[str, ...], company: str,
                 person: Address | None) -> str:
    return pick(rng, templates).format(
        company=company, product=pick(rng, text.PRODUCTS), month=pick(rng, text.MONTHS),
        first=first_name(person) if person else "team",
    )
