"""The seeded Salesforce org: users, accounts, contacts, leads, opportunities, cases.

Records are plain dicts with the field names and value formats the REST API returns
(datetimes `2026-11-26T10:00:00.000+0000`, dates `2026-11-26`), so an emulator can serve
them as they are. Every record of one sObject type has the same keys (null as None).
"""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass, field

from sandbox import seed_text as text
from sandbox.seed_ids import SalesforceIds


def sf_datetime(value: dt.datetime) -> str:
    return value.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.000+0000")


def sf_date(value: dt.date) -> str:
    return value.isoformat()


def slug(name: str) -> str:
    return "".join(char for char in name.lower() if char.isalnum())


@dataclass
class Org:
    """The records, plus the groupings the mail generator picks participants from."""

    ids: SalesforceIds
    now: dt.datetime
    records: dict[str, list[dict]] = field(
        default_factory=lambda: {
            name: [] for name in ("User", "Account", "Contact", "Lead", "Opportunity", "Case")
        }
    )
    # Contacts with an email, in creation order (the ones mail can match).
    contacts: list[dict] = field(default_factory=list)
    open_leads: list[dict] = field(default_factory=list)
    converted_leads: list[dict] = field(default_factory=list)
    # Account id → its contacts with an email, so mail can stay within one customer.
    contacts_by_account: dict[str, list[dict]] = field(default_factory=dict)
    used_emails: set[str] = field(default_factory=set)
    used_domains: set[str] = field(default_factory=set)

    # -- records -------------------------------------------------------------------------

    def add_user(self, first: str, last: str, email: str, username: str, tz: str,
                 active: bool = True) -> dict:
        record = {
            "Id": self.ids.new("User"), "Username": username, "Email": email,
            "FirstName": first, "LastName": last, "Name": f"{first} {last}",
            "IsActive": active, "TimeZoneSidKey": tz,
        }
        self.records["User"].append(record)
        return record

    def add_account(self, name: str, domain: str, owner_id: str) -> dict:
        record = {
            "Id": self.ids.new("Account"), "Name": name, "Website": f"https://www.{domain}",
            "OwnerId": owner_id,
        }
        self.records["Account"].append(record)
        self.contacts_by_account[record["Id"]] = []
        self.used_domains.add(domain)
        return record

    def add_contact(self, first: str, last: str, email: str | None, account: dict,
                    owner_id: str, created: dt.datetime, title: str, phone: str) -> dict:
        record = {
            "Id": self.ids.new("Contact"), "FirstName": first, "LastName": last,
            "Email": email, "AccountId": account["Id"], "OwnerId": owner_id,
            "CreatedDate": sf_datetime(created), "Title": title, "Phone": phone,
        }
        self.records["Contact"].append(record)
        if email:
            self.contacts.append(record)
            self.contacts_by_account[account["Id"]].append(record)
            self.used_emails.add(email.lower())
        return record

    def add_lead(self, first: str, last: str, email: str | None, company: str,
                 owner_id: str, created: dt.datetime, status: str,
                 converted_to: dict | None = None) -> dict:
        record = {
            "Id": self.ids.new("Lead"), "FirstName": first, "LastName": last, "Email": email,
            "Company": company, "Status": status, "IsConverted": converted_to is not None,
            "ConvertedContactId": converted_to["Id"] if converted_to else None,
            "ConvertedAccountId": converted_to["AccountId"] if converted_to else None,
            "OwnerId": owner_id, "CreatedDate": sf_datetime(created),
        }
        self.records["Lead"].append(record)
        (self.converted_leads if converted_to else self.open_leads).append(record)
        if email:
            self.used_emails.add(email.lower())
        return record

    def add_opportunity(self, name: str, account: dict, stage: str, close: dt.date,
                        owner_id: str) -> dict:
        record = {
            "Id": self.ids.new("Opportunity"), "Name": name, "AccountId": account["Id"],
            "StageName": stage, "CloseDate": sf_date(close), "OwnerId": owner_id,
        }
        self.records["Opportunity"].append(record)
        return record

    def add_case(self, subject: str, contact: dict, status: str) -> dict:
        record = {
            "Id": self.ids.new("Case"), "Subject": subject, "AccountId": contact["AccountId"],
            "ContactId": contact["Id"], "Status": status,
        }
        self.records["Case"].append(record)
        return record

    # -- helpers for generated people --------------------------------------------------

    def unique_email(self, rng: random.Random, first: str, last: str, domain: str) -> str:
        local = f"{slug(first)}.{slug(last)}"
        email = f"{local}@{domain}"
        while email in self.used_emails:
            email = f"{local}{rng.randrange(2, 99)}@{domain}"
        return email

    def created_before_now(self, rng: random.Random, max_days: int = 1000,
                           min_days: int = 31) -> dt.datetime:
        """A creation time before the mail window, so records exist before their mail."""
        return (self.now - dt.timedelta(days=rng.uniform(min_days, max_days))).replace(
            microsecond=0)


def phone(rng: random.Random) -> str:
    return f"+1 ({rng.randrange(200, 999)}) 555-{rng.randrange(0, 10000):04d}"


def company_names(rng: random.Random, count: int) -> list[str]:
    """`count` distinct company names: the stems in order first (stable demo names), then
    every stem × kind pair in a seed-shuffled order, then numbered ones if a scale needs
    more than that."""
    names: list[str] = []
    seen: set[str] = set()
    kinds = list(text.COMPANY_KINDS)
    for stem in text.COMPANY_STEMS:
        names.append(f"{stem} {rng.choice(kinds)}")
        seen.add(names[-1])
    pairs = [f"{stem} {kind}" for stem in text.COMPANY_STEMS for kind in kinds]
    rng.shuffle(pairs)
    names.extend(pair for pair in pairs if pair not in seen)
    number = 2
    while len(names) < count:
        names.extend(f"{pair} {number}" for pair in pairs)
        number += 1
    return names[:count]


def company_domain(name: str, used: set[str]) -> str:
    base = slug(name.replace("Margie's", "margies")) or "company"
    domain = f"{base}.example"
    number = 2
    while domain in used:
        domain = f"{base}{number}.example"
        number += 1
    used.add(domain)
    return domain


def populate(org: Org, rng: random.Random, owners: list[str], accounts: int,
             contacts_per_account: tuple[int, int], leads: int, converted: int,
             names: list[str]) -> list[tuple[str, str]]:
    """Generated customers (accounts with contacts, opportunities, cases) and prospects
    (open leads at companies that are not accounts) and converted leads (each pointing at
    one of the contacts, with that contact's email as conversion keeps it).

    `names` supplies company names: the first `accounts` become accounts, the rest
    prospect companies. Returns the prospect companies as (name, domain).
    """
    for name in names[:accounts]:
        domain = company_domain(name, org.used_domains)
        account = org.add_account(name, domain, rng.choice(owners))
        for _ in range(rng.randint(*contacts_per_account)):
            first, last = rng.choice(text.FIRST_NAMES), rng.choice(text.LAST_NAMES)
            org.add_contact(first, last, org.unique_email(rng, first, last, domain), account,
                            account["OwnerId"], org.created_before_now(rng),
                            rng.choice(text.TITLES), phone(rng))
        if rng.random() < 0.6:
            org.add_opportunity(
                f"{name} - {rng.choice(text.PRODUCTS).removeprefix('the ').capitalize()}",
                account, rng.choice(text.OPPORTUNITY_STAGES),
                (org.now + dt.timedelta(days=rng.randint(-60, 120))).date(),
                account["OwnerId"])
        people = org.contacts_by_account[account["Id"]]
        if people and rng.random() < 0.3:
            org.add_case(rng.choice(text.CASE_SUBJECTS), rng.choice(people),
                         rng.choice(text.CASE_STATUSES))

    prospects = []
    for name in names[accounts:]:
        prospects.append((name, company_domain(name, org.used_domains)))
    for index in range(leads):
        company, domain = prospects[index % len(prospects)]
        first, last = rng.choice(text.FIRST_NAMES), rng.choice(text.LAST_NAMES)
        org.add_lead(first, last, org.unique_email(rng, first, last, domain), company,
                     rng.choice(owners), org.created_before_now(rng, max_days=400),
                     rng.choice(text.OPEN_LEAD_STATUSES))

    # Conversion turned an earlier lead into the contact: the lead keeps the email, and is
    # older than the contact it became.
    account_names = {account["Id"]: account["Name"] for account in org.records["Account"]}
    for contact in rng.sample(org.contacts, min(converted, len(org.contacts))):
        org.add_lead(contact["FirstName"], contact["LastName"], contact["Email"],
                     account_names[contact["AccountId"]], contact["OwnerId"],
                     org.created_before_now(rng, max_days=1500, min_days=1000),
                     text.CONVERTED_LEAD_STATUS, converted_to=contact)
    return prospects
