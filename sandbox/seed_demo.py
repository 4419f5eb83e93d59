"""The demo world's hand-written part: records and messages for every case worth showing.

Generated everyday mail makes the mailboxes look lived in; these scenarios make sure each
rule of SPEC sections 2, 3 and 9 has at least one email to act on, whatever the seed.
"""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass

from sandbox import seed_text as text
from sandbox.seed_everyday import People
from sandbox.seed_mail import Mailer, compose_body
from sandbox.seed_org import Org, phone
from sandbox.world import Address


@dataclass
class Specials:
    """Records created for particular scenarios."""

    shared_email: tuple[dict, dict]  # two contacts with one Email; the first is the newer
    contact_and_lead: tuple[dict, dict]  # a contact and an open lead with the same Email
    mixed_case_lead: dict  # Email stored in mixed case
    subdomain_contact: dict  # at eu.<account domain>
    apostrophe_contact: dict  # o'brien@...
    plus_contact: dict  # deals+crm@...
    punycode_lead: dict
    hostile_lead: dict  # script and attribute breaker in the name
    hostile_contact: dict  # emoji, quote and backslash in the name
    moved_contact: dict  # converted from a lead whose old address it no longer uses
    moved_lead: dict  # that converted lead (its Email matches no contact)


def _domain(org: Org, account: dict) -> str:
    return account["Website"].removeprefix("https://www.")


def add_demo_records(org: Org, rng: random.Random, owners: list[str],
                     prospects: list[tuple[str, str]]) -> Specials:
    accounts = org.records["Account"]
    owner = owners[0]

    def created(days_ago: int) -> dt.datetime:
        return org.now - dt.timedelta(days=days_ago, seconds=rng.randrange(86400))

    def contact(first, last, email, account, days_ago, title="Buyer"):
        return org.add_contact(first, last, email, account, owner, created(days_ago), title,
                               phone(rng))

    def lead(first, last, email, company, days_ago=60, converted_to=None):
        status = text.CONVERTED_LEAD_STATUS if converted_to else "Working - Contacted"
        return org.add_lead(first, last, email, company, owner, created(days_ago), status,
                            converted_to)

    # A shared purchasing mailbox entered twice, years apart; the newer record comes first
    # in Id order, so "oldest first" must really read CreatedDate.
    buyer_email = f"purchasing@{_domain(org, accounts[0])}"
    newer = contact("Grace", "Turner", buyer_email, accounts[0], 120, "Procurement Officer")
    older = contact("Tomasz", "Novak", buyer_email, accounts[0], 900, "Head of Procurement")

    # Someone who is a customer contact also filled in a web form: an open lead, same Email.
    both_email = org.unique_email(rng, "Nadia", "Haddad", _domain(org, accounts[1]))
    both_contact = contact("Nadia", "Haddad", both_email, accounts[1], 400, "CFO")
    both_lead = lead("Nadia", "Haddad", both_email, accounts[1]["Name"], 20)

    company, domain = prospects[0]
    mixed_case = lead("Dana", "Whitfield", f"Dana.Whitfield@{domain.capitalize()}", company)
    subdomain = contact("Lars", "Andersen", f"lars.andersen@eu.{_domain(org, accounts[2])}",
                        accounts[2], 300, "Regional Director")
    apostrophe = contact("Siobhan", "O'Brien", f"o'brien@{_domain(org, accounts[3])}",
                         accounts[3], 200, "Operations Manager")
    plus = contact("Kwame", "Okafor", f"deals+crm@{_domain(org, accounts[4])}", accounts[4],
                   150, "Senior Buyer")
    punycode = lead("José", "Müller", text.HOSTILE_ADDRESS_PUNYCODE, "Exämple GmbH")
    hostile_lead = lead(text.HOSTILE_SCRIPT, text.HOSTILE_ATTRIBUTE,
                        f"xss.tester@{prospects[1][1]}", "<b>Evil</b> & Sons \"Ltd\"")
    hostile_contact = contact("Zoë 🚀", 'Quote"Back\\slash', f"zoe@{_domain(org, accounts[5])}",
                              accounts[5], 90, text.HOSTILE_RTL)
    # No email at all: a contact mail can never match (and must not break a lookup).
    contact("Paper", "Only", None, accounts[6], 500, "Retired")

    moved = contact("Elena", "Rossi", org.unique_email(rng, "Elena", "Rossi",
                                                       _domain(org, accounts[7])),
                    accounts[7], 700, "COO")
    moved_lead = lead("Elena", "Rossi", org.unique_email(rng, "Elena", "Rossi", prospects[2][1]),
                      prospects[2][0],
                      days_ago=800, converted_to=moved)
    return Specials((newer, older), (both_contact, both_lead), mixed_case, subdomain,
                    apostrophe, plus, punycode, hostile_lead, hostile_contact, moved,
                    moved_lead)


def _address(record: dict) -> Address:
    return Address(record["Email"], f"{record['FirstName']} {record['LastName']}")


def write_demo_mail(m: Mailer, rng: random.Random, org: Org, s: Specials,
                    people: People) -> None:
    users = m.users
    me = [Address(user.upn, user.display_name) for user in users]
    alex, priya, diego, hannah = (me + me * 3)[:4]  # any user count ≥ 1 keeps working
    upns = [user.upn for user in users]

    def at(who: Address, days_ago: int, hour: int, minute: int = 0) -> dt.datetime:
        return m.local_time(m.owner_of(who.address), days_ago, hour, minute)

    def body(to: Address | None, sender: Address | None, extra: str = "") -> str:
        core = compose_body(rng, to, sender)
        return f"{extra}\n\n{core}" if extra else core

    contacts = [Address(c["Email"], f"{c['FirstName']} {c['LastName']}") for c in org.contacts]
    customer = contacts[10:]  # clear of the special records at the front of each account
    leads = [lead for _, lead in people.leads]
    c1, c2, c3, c4, c5 = customer[:5]
    l1, l2, l3, l4, l5, l6, l7 = leads[:7]

    # 1. One conversation mixing a lead and a contact, both directions, CRM at the end.
    key = m.new_conversation()
    subject = "Workshop invitation: data migration"
    m.send(alex, [c1], [l1], subject=subject, body=body(c1, alex), when=at(alex, 12, 9),
           conversation=key)
    m.send(l1, [alex], [c1], subject="RE: " + subject, body=body(alex, l1),
           when=at(alex, 11, 14), conversation=key)
    m.send(c1, [alex], [l1], subject="RE: " + subject, body=body(alex, c1),
           when=at(alex, 10, 10), conversation=key)
    m.send(alex, [c1], subject="RE: " + subject, body=body(c1, alex), when=at(alex, 9, 16),
           conversation=key, categories=("CRM",))

    # 2. A thread two demo users share: both inbox copies carry one internetMessageId.
    key = m.new_conversation()
    m.send(c2, [priya], [diego], subject="Renewal questions", body=body(priya, c2),
           when=at(priya, 8, 10), conversation=key)
    m.send(priya, [c2], [diego], subject="RE: Renewal questions", body=body(c2, priya),
           when=at(priya, 8, 15), conversation=key, attachments=True)

    # 3. Internal mail between demo users (sent copy + inbox copies), and a reply.
    key = m.new_conversation()
    m.send(alex, [priya, diego], [hannah], subject="Pipeline review prep",
           body=body(None, alex), when=at(alex, 6, 8, 30), conversation=key)
    m.send(hannah, [alex], subject="RE: Pipeline review prep", body=body(alex, hannah),
           when=at(hannah, 6, 9), conversation=key)
    for colleague in people.colleagues[:3]:
        m.send(colleague, [rng.choice(me)], subject="Expense report reminder",
               body=body(None, colleague), when=at(alex, rng.randrange(1, 20), 11))

    # 4. More than 50 contacts on one message (To + Cc), and a Bcc-only mass mail.
    distinct = list({c.address.lower(): c for c in contacts}.values())
    many = distinct[:56]
    m.send(hannah, many[:30], many[30:], subject="Invitation: Customer Advisory Board",
           body=body(None, hannah), when=at(hannah, 15, 11), categories=("CRM",))
    m.send(diego, [diego], bcc=distinct[-52:], subject="Our office hours over the holidays",
           body=body(None, diego), when=at(diego, 4, 17))

    # 5. A lead and a contact in To at once; 6. several leads (out and in).
    m.send(priya, [c3, l2], subject="Intro call next week", body=body(c3, priya),
           when=at(priya, 7, 12))
    m.send(diego, [l3, l4], [l5], subject="Webinar follow-up", body=body(None, diego),
           when=at(diego, 13, 10), categories=("CRM",))
    m.send(l6, [diego], [l7], subject="Questions from our team", body=body(diego, l6),
           when=at(diego, 12, 15))
    m.send(l2, [priya], subject="Interested in a demo", body=body(priya, l2),
           when=at(priya, 5, 9))
    m.send(priya, [l2], subject="RE: Interested in a demo", body=body(l2, priya),
           when=at(priya, 5, 13))

    # 7. Converted leads: the address now matches the contact; and one that moved on.
    for index, lead in enumerate(org.converted_leads[:3]):
        m.send(_address(lead), [me[index % len(me)]], subject="Onboarding: next session",
               body=body(me[index % len(me)], _address(lead)), when=at(alex, 3 + index, 10))
    m.send(_address(s.moved_lead), [alex], subject="Quick update from my old address",
           body=body(alex, _address(s.moved_lead)), when=at(alex, 2, 15))

    # 8. Shared email of two contacts; a contact and a lead with one email; case, subdomain,
    # apostrophe, plus addressing.
    newer, older = s.shared_email
    m.send(_address(newer), [priya], subject="Purchase order for the Enterprise plan",
           body=body(priya, _address(newer)), when=at(priya, 9, 11), categories=("CRM",))
    m.send(_address(s.contact_and_lead[1]), [hannah],
           subject="Interested in the analytics add-on", body=body(hannah, None),
           when=at(hannah, 3, 14))
    m.send(diego, [Address(s.mixed_case_lead["Email"].lower(), "Dana Whitfield")],
           subject="Following up on our call", body=body(None, diego), when=at(diego, 9, 9))
    m.send(Address(s.mixed_case_lead["Email"].upper(), "DANA WHITFIELD"), [diego],
           subject="RE: Following up on our call", body=body(diego, None),
           when=at(diego, 8, 12))
    m.send(_address(s.subdomain_contact), [alex], subject="EU rollout dates",
           body=body(alex, None), when=at(alex, 14, 10))
    m.send(_address(s.apostrophe_contact), [priya], subject="Can we move the meeting?",
           body=body(priya, None), when=at(priya, 4, 16))
    m.send(diego, [_address(s.plus_contact)], subject="Updated quote attached",
           body=body(None, diego), when=at(diego, 6, 14), attachments=True)

    # 9. Mail to an alias; unknown senders and recipients; newsletters and no-reply mail.
    for user, demo_user in zip(me, users):
        for alias in demo_user.aliases[:1]:
            m.send(c4, [Address(alias, user.name)], subject="Question about the invoice",
                   body=body(user, c4), when=at(user, 16, 10))
    for index, user in enumerate(me):
        stranger = people.unknown[index]
        m.send(stranger, [user], subject="Partnership opportunity",
               body=body(user, stranger), when=at(user, 17, 13))
        m.send(user, [people.unknown[-1 - index]], subject="Nice meeting you at the expo",
               body=body(people.unknown[-1 - index], user), when=at(user, 18, 9))
        for sender in people.bulk[index::len(me)][:2] or people.bulk[:2]:
            m.send(sender, [user], subject="Your weekly digest", body=text.NEWSLETTER_BODY,
                   when=at(user, 19 - index, 6))

    # 10. Categories: DoNotSync, and both CRM and DoNotSync at once.
    m.send(alex, [c5], subject="Personal: dinner on Friday", body=body(c5, alex),
           when=at(alex, 7, 18), categories=("DoNotSync",))
    m.send(c5, [hannah], subject="Confidential: salary benchmark", body=body(hannah, c5),
           when=at(hannah, 2, 10), categories=("CRM", "DoNotSync"))

    _write_hostile_mail(m, rng, s, people, me, at, body, upns)


def _write_hostile_mail(m, rng, s, people, me, at, body, upns) -> None:
    """Section 9 of the SPEC: hostile strings in every field, malformed messages."""
    def target(index: int) -> Address:  # spread the cases over the mailboxes
        return me[index % len(me)]

    stranger = people.unknown[5]
    for index, hostile in enumerate(text.HOSTILE_STRINGS):
        user = target(index)
        m.send(Address(stranger.address, hostile), [user], subject=hostile,
               body=body(user, None, extra=hostile), when=at(user, 20, 8 + index % 9))
    m.send(stranger, [target(0)], subject=text.HOSTILE_LONG_SUBJECT,
           body=body(target(0), stranger), when=at(target(0), 21, 9))
    m.send(stranger, [target(1)], subject="", body=body(target(1), stranger),
           when=at(target(1), 21, 10))
    m.send(stranger, [target(2)], subject="Newsletter in HTML",
           body=text.HOSTILE_HTML_BODY, when=at(target(2), 21, 11))
    m.send(stranger, [target(3)], subject="Click here",
           body=f"Open {text.HOSTILE_JS_URL} or <a href=\"{text.HOSTILE_JS_URL}\">this</a>",
           when=at(target(3), 21, 12))
    # Hostile records in Salesforce, writing and being written to.
    m.send(_address(s.hostile_lead), [target(0)], subject="Demo request",
           body=body(target(0), None), when=at(target(0), 22, 10))
    m.send(target(1), [_address(s.hostile_contact)], subject="Contract redlines for review",
           body=body(None, target(1)), when=at(target(1), 22, 11))
    # Addresses that are awkward to parse, quote or query.
    m.send(target(1), [Address(text.HOSTILE_ADDRESS_QUOTED, 'A "Backslash" \\ User')],
           subject="Quoted local part", body=body(None, target(1)), when=at(target(1), 23, 9))
    m.send(Address(text.HOSTILE_ADDRESS_IDN, "José Müller"), [target(3)],
           subject="Grüße aus Köln", body=body(target(3), None), when=at(target(3), 23, 10))
    m.send(Address(text.HOSTILE_ADDRESS_PUNYCODE, "José Müller"), [target(3)],
           subject="Angebot", body=body(target(3), None), when=at(target(3), 23, 11))
    # Malformed: no sender at all; and no recipients in the headers (a Bcc delivery).
    m.send(None, [target(2)], subject="Undeliverable: Proposal", body="Delivery failed.",
           when=at(target(2), 24, 3))
    m.send(stranger, [], subject="Undisclosed recipients", body=body(None, stranger),
           when=at(target(3), 24, 9), deliver_to=(upns[3 % len(upns)],))
