"""Build a sandbox world: the demo tenant (default) or a benchmark scale ("USERSxMESSAGES").

    build_world(seed=1)                       # the demo: 4 reps, ~30 days of varied mail
    build_world(seed=1, scale="100x1000")     # 100 users × exactly 1,000 mailbox copies

Deterministic: one `random.Random(seed)` draws everything, in a fixed order, and every time
is relative to `now` (default: the current UTC time, so pass `now` for identical worlds;
a naive `now` is read as UTC).
"""

from __future__ import annotations

import datetime as dt
import gc
import random
import re

from sandbox import seed_text as text
from sandbox.seed_demo import add_demo_records, write_demo_mail
from sandbox.seed_everyday import People, fill_mailboxes
from sandbox.seed_ids import SalesforceIds, guid
from sandbox.seed_mail import Mailer
from sandbox.seed_org import Org, company_names, populate, slug
from sandbox.world import Address, DemoUser, World

TENANT_DOMAIN = "contoso-demo.com"
TENANT_NAME = "Contoso Demo"
# Salesforce usernames are global across all orgs, so companies suffix their email.
SALESFORCE_USERNAME_SUFFIX = ".crm"
DEMO_MAIL_PER_USER = 80  # everyday mail under the demo's hand-written scenarios
MAX_SCALE_MESSAGES = 2_000_000  # users × messages; beyond it memory, not time, runs out

# The demo reps: (given name, surname, aliases' local parts, time zone). The first one is
# the admin: the first user who signs in from a tenant becomes its admin (SPEC 6).
DEMO_USERS = (
    ("Alex", "Morgan", ("alex",), "Europe/London"),
    ("Priya", "Shah", ("priya", "sales.apac"), "Asia/Kolkata"),
    ("Diego", "Ramos", (), "America/Los_Angeles"),
    ("Hannah", "Becker", ("hannah",), "America/New_York"),
)
SCALE_TIME_ZONES = ("Europe/London", "America/New_York", "America/Los_Angeles",
                    "Europe/Berlin", "Asia/Kolkata", "Asia/Tokyo", "Australia/Sydney")

_SCALE = re.compile(r"(\d+)[xX](\d+)")


def parse_scale(scale: str | None) -> tuple[int, int] | None:
    """"100x1000" → (100, 1000); None → None (the demo world)."""
    if scale is None:
        return None
    match = _SCALE.fullmatch(scale.strip()) if isinstance(scale, str) else None
    if not match:
        raise ValueError(
            f"scale must look like USERSxMESSAGES, e.g. '100x1000' (100 users with 1,000 "
            f"messages each); got {scale!r}")
    users, messages = int(match[1]), int(match[2])
    if users < 1 or messages < 1:
        raise ValueError(f"scale {scale!r}: users and messages must both be at least 1")
    if users * messages > MAX_SCALE_MESSAGES:
        raise ValueError(
            f"scale {scale!r} asks for {users * messages:,} messages; the limit is "
            f"{MAX_SCALE_MESSAGES:,} (users × messages)")
    return users, messages


def build_world(seed: int = 1, scale: str | None = None,
                now: dt.datetime | None = None) -> World:
    size = parse_scale(scale)
    # A scale allocates hundreds of thousands of small objects and no cycles, so the cyclic
    # garbage collector's passes over them are pure cost (about 15% of the build).
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        return _build(seed, size, now)
    finally:
        if was_enabled:
            gc.enable()


def _build(seed: int, size: tuple[int, int] | None, now: dt.datetime | None) -> World:
    now = now or dt.datetime.now(dt.timezone.utc)
    if now.tzinfo is None:  # a naive time is taken as UTC, not as the machine's local time
        now = now.replace(tzinfo=dt.timezone.utc)
    now = now.astimezone(dt.timezone.utc).replace(microsecond=0)
    rng = random.Random(seed)
    tenant_id = guid(rng)
    org = Org(SalesforceIds(rng), now)

    if size is None:
        users = _users(rng, org, [(g, s, a, tz) for g, s, a, tz in DEMO_USERS])
    else:
        users = _users(rng, org, _scale_user_names(rng, size[0]))
    owners = [record["Id"] for record in org.records["User"]]
    # A rep who left: still owns records (as in every real org) but signs in nowhere.
    former = org.add_user("Chris", "Doyle", f"chris.doyle@{TENANT_DOMAIN}",
                          f"chris.doyle@{TENANT_DOMAIN}{SALESFORCE_USERNAME_SUFFIX}",
                          "Europe/London", active=False)

    if size is None:
        accounts, prospects, leads, converted, unknown = 14, 10, 24, 4, 40
        per_account = (4, 6)
    else:
        count = size[0]
        accounts, prospects, leads, converted = max(20, 4 * count), max(10, 3 * count), \
            10 * count, 2 * count
        unknown, per_account = max(50, 20 * count), (3, 7)
    names = company_names(rng, accounts + prospects)
    prospect_companies = populate(org, rng, owners + [former["Id"]], accounts, per_account,
                                  leads, converted, names)
    specials = add_demo_records(org, rng, owners, prospect_companies) if size is None else None

    mailer = Mailer(rng, now, users, TENANT_DOMAIN)
    people = _people(rng, org, unknown)
    if size is None:
        write_demo_mail(mailer, rng, org, specials, people)
        fill_mailboxes(mailer, rng, people, DEMO_MAIL_PER_USER)
    else:
        fill_mailboxes(mailer, rng, people, size[1])
    # A stable, natural order: by time, then mailbox.
    mailer.mails.sort(key=lambda mail: (mail.received, mail.user_upn, mail.folder))
    return World(seed=seed, tenant_id=tenant_id, tenant_domain=TENANT_DOMAIN,
                 tenant_name=TENANT_NAME, users=users, mails=mailer.mails,
                 salesforce=org.records)


def _scale_user_names(rng: random.Random, count: int):
    taken = {local for _, local in text.COLLEAGUES} | {"chris.doyle"}
    for index in range(count):
        given, surname = rng.choice(text.FIRST_NAMES), rng.choice(text.LAST_NAMES)
        local = f"{slug(given)}.{slug(surname)}"
        number = 2
        while local in taken:  # same name twice: number them, as mail admins do
            local = f"{slug(given)}.{slug(surname)}{number}"
            number += 1
        taken.add(local)
        aliases = (f"{slug(given)}{index}",) if index % 3 == 0 else ()
        yield given, surname, aliases, SCALE_TIME_ZONES[index % len(SCALE_TIME_ZONES)], local


def _users(rng: random.Random, org: Org, specs) -> list[DemoUser]:
    users = []
    for spec in specs:
        given, surname, aliases, time_zone = spec[:4]
        local = spec[4] if len(spec) > 4 else f"{slug(given)}.{slug(surname)}"
        upn = f"{local}@{TENANT_DOMAIN}"
        username = upn + SALESFORCE_USERNAME_SUFFIX
        sf_user = org.add_user(given, surname, upn, username, time_zone)
        users.append(DemoUser(
            oid=guid(rng), upn=upn, display_name=f"{given} {surname}", given_name=given,
            surname=surname, aliases=tuple(f"{alias}@{TENANT_DOMAIN}" for alias in aliases),
            time_zone=time_zone, salesforce_user_id=sf_user["Id"],
            salesforce_username=username))
    return users


def _people(rng: random.Random, org: Org, unknown_count: int) -> People:
    def address(record: dict) -> Address:
        return Address(record["Email"], f"{record['FirstName'] or ''} {record['LastName']}".strip())

    names = {account["Id"]: account["Name"] for account in org.records["Account"]}
    customers = [(names[account_id], [address(c) for c in contacts])
                 for account_id, contacts in org.contacts_by_account.items() if contacts]
    leads = [(lead["Company"], address(lead)) for lead in org.open_leads if lead["Email"]]
    converted = [address(lead) for lead in org.converted_leads]
    # People nobody recorded: at partner firms, freelancers, personal mailboxes.
    domains = [f"{slug(stem)}-partners.example" for stem in text.COMPANY_STEMS[:12]]
    domains += ["mailbox.example", "webmail.example", "freelance.example"]
    unknown = []
    for _ in range(unknown_count):
        given, surname = rng.choice(text.FIRST_NAMES), rng.choice(text.LAST_NAMES)
        email = org.unique_email(rng, given, surname, rng.choice(domains))
        org.used_emails.add(email)
        # Some senders show only their address, no name.
        unknown.append(Address(email, "" if rng.random() < 0.15 else f"{given} {surname}"))
    colleagues = [Address(f"{local}@{TENANT_DOMAIN}", name) for name, local in text.COLLEAGUES]
    bulk = [Address(address_, name) for name, address_ in text.BULK_SENDERS]
    return People(customers, leads, converted, unknown, colleagues, bulk)
