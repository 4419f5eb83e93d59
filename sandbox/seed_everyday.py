"""Everyday mail: a weighted mix of the kinds of mail a sales rep has, for any number of
users and messages. The demo world adds hand-written scenarios on top; a benchmark scale is
made of this alone, so it has the same mix.

Each user's mailbox gets exactly `per_user` copies: every message involves one demo user
only, except internal mail, which goes from each user to the next one (so every user sends
and receives the same number of internal messages).
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from sandbox import seed_text as text
from sandbox.seed_mail import Mailer, compose_body, fill_subject, pick
from sandbox.world import Address, DemoUser

# Kind → weight. "excluded" is customer mail carrying DoNotSync; "hostile" has a hostile
# subject and sender name; CRM categories are sprinkled over customer and prospect mail.
KINDS = {
    "contact_in": 18, "contact_out": 18, "lead_in": 6, "lead_out": 7, "mixed": 5,
    "multi_lead": 3, "converted": 3, "unmatched_in": 8, "unmatched_out": 4, "colleague": 4,
    "bulk": 8, "excluded": 3, "hostile": 1,
}
INTERNAL_SHARE = 0.05  # of each mailbox sent to the next user (and as much received)
CRM_SHARE = 0.1
THREAD_SHARE = 0.3  # chance that customer/prospect mail continues an earlier conversation


@dataclass
class People:
    """Who mail can involve, as ready-made participants (shared objects: saves memory)."""

    # Each account's contacts, for mail that stays within one customer.
    customers: list[tuple[str, list[Address]]]  # (account name, contacts)
    leads: list[tuple[str, Address]]  # (company, lead)
    converted: list[Address]  # addresses of converted leads (they match contacts only)
    unknown: list[Address]
    colleagues: list[Address]
    bulk: list[Address]


def fill_mailboxes(mailer: Mailer, rng: random.Random, people: People,
                   per_user: int) -> None:
    users = mailer.users
    internal = int(per_user * INTERNAL_SHARE)
    kinds, weights = zip(*KINDS.items())
    for index, user in enumerate(users):
        colleague = users[(index + 1) % len(users)]  # to self when there is only one user
        # Each internal message gives two copies when sender and recipient differ (one here,
        # one next door) and two here when they are the same user: either way 2 slots.
        plan = ["internal"] * internal + rng.choices(kinds, weights, k=per_user - 2 * internal)
        times = sorted(mailer.business_time(user.upn) for _ in plan)
        rng.shuffle(plan)
        writer = _UserMail(mailer, rng, people, user, colleague)
        for kind, when in zip(plan, times):
            writer.write(kind, when)


class _UserMail:
    """Writes one user's everyday mail, remembering conversations to reply to."""

    def __init__(self, mailer: Mailer, rng: random.Random, people: People, user: DemoUser,
                 colleague: DemoUser):
        self.mailer, self.rng, self.people = mailer, rng, people
        self.me = Address(user.upn, user.display_name)
        # Mail to a user's alias lands in the same mailbox; some senders use it.
        self.my_addresses = [self.me] + [Address(a, user.display_name) for a in user.aliases]
        self.colleague = Address(colleague.upn, colleague.display_name)
        # Conversations by family ("contact", "lead", "mixed"): (key, subject, company,
        # external participants), replied to later by the other side.
        self.threads: dict[str, list[tuple[str, str, str, list[Address]]]] = {
            "contact": [], "lead": [], "mixed": []}

    def write(self, kind: str, when) -> None:
        getattr(self, "_" + kind)(when)

    # -- customers and prospects ---------------------------------------------------------

    def _conversation(self, family: str, incoming: bool, when, choose, categories=()):
        """Start a conversation with the people `choose()` returns, or continue one."""
        rng = self.rng
        threads = self.threads[family]
        if threads and rng.random() < THREAD_SHARE:
            key, subject, company, others = pick(rng, threads[-10:])
            subject = "RE: " + subject.removeprefix("RE: ")
        else:
            company, others = choose()
            templates = text.CUSTOMER_SUBJECTS if incoming else text.SALES_SUBJECTS
            subject = fill_subject(rng, templates, company, others[0])
            key = self.mailer.new_conversation()
            threads.append((key, subject, company, others))
        if not categories and rng.random() < CRM_SHARE:
            categories = ("CRM",)
        if incoming:
            to = [pick(rng, self.my_addresses) if rng.random() < 0.1 else self.me]
            self.mailer.send(others[0], to, others[1:], subject=subject,
                             body=compose_body(rng, self.me, others[0]), when=when,
                             categories=categories, conversation=key)
        else:
            self.mailer.send(self.me, others[:1], others[1:], subject=subject,
                             body=compose_body(rng, others[0], self.me), when=when,
                             categories=categories, conversation=key,
                             attachments=rng.random() < 0.15)

    def _pick_customer(self, with_lead: bool = False):
        company, contacts = pick(self.rng, self.people.customers)
        count = min(len(contacts), pick(self.rng, (1, 1, 1, 2, 3)))
        # Mostly one person; rng.sample only when several (it is slow for one).
        chosen = [pick(self.rng, contacts)] if count == 1 else self.rng.sample(contacts, count)
        if with_lead:
            chosen.append(pick(self.rng, self.people.leads)[1])
        return company, chosen

    def _pick_lead(self):
        company, lead = pick(self.rng, self.people.leads)
        return company, [lead]

    def _contact_in(self, when):
        self._conversation("contact", True, when, self._pick_customer)

    def _contact_out(self, when):
        self._conversation("contact", False, when, self._pick_customer)

    def _excluded(self, when):
        self._conversation("contact", self.rng.random() < 0.5, when, self._pick_customer,
                           categories=("DoNotSync",))

    def _lead_in(self, when):
        self._conversation("lead", True, when, self._pick_lead)

    def _lead_out(self, when):
        self._conversation("lead", False, when, self._pick_lead)

    def _mixed(self, when):
        # A lead and a contact in one message: both orders occur.
        def choose():
            company, people = self._pick_customer(with_lead=True)
            if self.rng.random() < 0.5:
                people = [people[-1], *people[:-1]]
            return company, people
        self._conversation("mixed", self.rng.random() < 0.4, when, choose)

    def _multi_lead(self, when):
        leads = [lead for _, lead in self.rng.sample(self.people.leads, 3)]
        company = pick(self.rng, self.people.leads)[0]
        subject = fill_subject(self.rng, text.SALES_SUBJECTS, company, None)
        self.mailer.send(self.me, leads[:2], leads[2:], subject=subject,
                         body=compose_body(self.rng, None, self.me), when=when)

    def _converted(self, when):
        sender = pick(self.rng, self.people.converted)
        self.mailer.send(sender, [self.me], subject=fill_subject(
            self.rng, text.CUSTOMER_SUBJECTS, "your team", self.me),
            body=compose_body(self.rng, self.me, sender), when=when)

    # -- everything that matches nothing -------------------------------------------------

    def _unmatched_in(self, when):
        sender = pick(self.rng, self.people.unknown)
        self.mailer.send(sender, [self.me], subject=fill_subject(
            self.rng, text.CUSTOMER_SUBJECTS, "you", self.me),
            body=compose_body(self.rng, self.me, sender), when=when)

    def _unmatched_out(self, when):
        recipient = pick(self.rng, self.people.unknown)
        self.mailer.send(self.me, [recipient], subject=fill_subject(
            self.rng, text.SALES_SUBJECTS, "your company", recipient),
            body=compose_body(self.rng, recipient, self.me), when=when)

    def _colleague(self, when):
        other = pick(self.rng, self.people.colleagues)
        subject = fill_subject(self.rng, text.INTERNAL_SUBJECTS, "Northwind", other)
        sender, to = (other, self.me) if self.rng.random() < 0.6 else (self.me, other)
        self.mailer.send(sender, [to], subject=subject,
                         body=compose_body(self.rng, to, sender, lines=1), when=when)

    def _internal(self, when):
        company = pick(self.rng, self.people.customers)[0]
        subject = fill_subject(self.rng, text.INTERNAL_SUBJECTS, company, self.colleague)
        self.mailer.send(self.me, [self.colleague], subject=subject,
                         body=compose_body(self.rng, self.colleague, self.me, lines=1),
                         when=when)

    def _bulk(self, when):
        sender = pick(self.rng, self.people.bulk)
        subject = fill_subject(self.rng, text.NEWSLETTER_SUBJECTS, "", None)
        self.mailer.send(sender, [self.me], subject=subject, body=text.NEWSLETTER_BODY,
                         when=when)

    def _hostile(self, when):
        hostile = pick(self.rng, text.HOSTILE_STRINGS)
        sender = Address(pick(self.rng, self.people.unknown).address, hostile)
        self.mailer.send(sender, [self.me], subject=hostile,
                         body=f"{hostile}\n\n{compose_body(self.rng, self.me, None)}", when=when)
