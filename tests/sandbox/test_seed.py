"""The seeded world: deterministic, consistent, and covering every kind of mail the product
must handle (SPEC sections 2, 3 and 9)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
import time
import uuid
from collections import Counter, defaultdict
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sandbox import seed_text as text
from sandbox.seed import build_world, parse_scale
from sandbox.seed_ids import KEY_PREFIXES, BASE62, checksum_suffix, is_valid_sf_id
from sandbox.world import World

NOW = dt.datetime(2026, 11, 26, 12, 0, tzinfo=dt.timezone.utc)
SF_DATETIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.000\+0000")
SF_DATE = re.compile(r"\d{4}-\d\d-\d\d")
BULK_LOCAL = re.compile(r"no-?reply|newsletter|notification|do-not-reply")


@pytest.fixture(scope="module")
def demo() -> World:
    return build_world(seed=1, now=NOW)


# -- helpers: an independent reading of the world ----------------------------------------


def participants(mail):
    return ([mail.sender] if mail.sender else []) + [*mail.to, *mail.cc, *mail.bcc]


def user_addresses(world):
    return {a.lower() for u in world.users for a in (u.upn, *u.aliases)}


def classify(world):
    """Mail kinds by the matching rules of SPEC section 2 (case-insensitive emails; leads
    only when not converted), written independently of the seed's own bookkeeping."""
    sf = world.salesforce
    contacts = Counter(c["Email"].lower() for c in sf["Contact"] if c["Email"])
    open_leads = {l["Email"].lower() for l in sf["Lead"] if l["Email"] and not l["IsConverted"]}
    converted = {l["Email"].lower() for l in sf["Lead"] if l["IsConverted"]}
    own = user_addresses(world)
    kinds = defaultdict(list)
    for mail in world.mails:
        others = [p.address.lower() for p in participants(mail) if p.address.lower() not in own]
        hit_contacts = {a for a in others if a in contacts}
        hit_leads = {a for a in others if a in open_leads}
        if hit_contacts:
            kinds["contact"].append(mail)
        if hit_leads:
            kinds["lead"].append(mail)
        if hit_contacts and hit_leads:
            kinds["lead_and_contact"].append(mail)
        if len(hit_leads) >= 2:
            kinds["several_leads"].append(mail)
        if len(hit_contacts) > 50:
            kinds["over_50_contacts"].append(mail)
        if any(a in converted and a in contacts for a in others):
            kinds["converted_lead_address_of_contact"].append(mail)
        if any(a in converted and a not in contacts for a in others):
            kinds["converted_lead_only"].append(mail)
        if others and all(a.endswith("@" + world.tenant_domain) for a in others):
            kinds["internal_with_non_user_colleague"].append(mail)
        if not others and mail.sender:
            kinds["between_demo_users"].append(mail)
        if mail.sender and BULK_LOCAL.search(mail.sender.address.split("@")[0]):
            kinds["newsletter_or_noreply"].append(mail)
        if others and not hit_contacts and not hit_leads and not all(
                a.endswith("@" + world.tenant_domain) for a in others):
            kinds["unmatched"].append(mail)
        if any(contacts[a] > 1 for a in others):
            kinds["address_shared_by_contacts"].append(mail)
        if any(a in contacts and a in open_leads for a in others):
            kinds["address_of_contact_and_lead"].append(mail)
        for category in mail.categories:
            kinds["category:" + category].append(mail)
        if mail.conversation_key:
            kinds["_by_conversation"].append(mail)
    return kinds


def threads_mixing_leads_and_contacts(world, kinds):
    lead_convs = {m.conversation_key for m in kinds["lead"]}
    contact_convs = {m.conversation_key for m in kinds["contact"]}
    return lead_convs & contact_convs


def assert_consistent(world: World, now: dt.datetime) -> None:
    """Everything that must hold for any seed and scale."""
    sf = world.salesforce
    uuid.UUID(world.tenant_id)
    by_id = {r["Id"]: (sobject, r) for sobject, records in sf.items() for r in records}
    assert len(by_id) == sum(len(records) for records in sf.values()), "Ids are unique"
    for sobject, records in sf.items():
        keys = {tuple(r) for r in records}
        assert len(keys) <= 1, f"every {sobject} has the same fields"
        for record in records:
            assert is_valid_sf_id(record["Id"], KEY_PREFIXES[sobject]), record["Id"]

    def points_at(value, sobject):
        return value in by_id and by_id[value][0] == sobject

    for contact in sf["Contact"]:
        assert points_at(contact["AccountId"], "Account")
        assert points_at(contact["OwnerId"], "User")
        assert SF_DATETIME.fullmatch(contact["CreatedDate"])
    for lead in sf["Lead"]:
        assert points_at(lead["OwnerId"], "User")
        assert SF_DATETIME.fullmatch(lead["CreatedDate"])
        if lead["IsConverted"]:
            assert points_at(lead["ConvertedContactId"], "Contact")
            contact = by_id[lead["ConvertedContactId"]][1]
            assert lead["ConvertedAccountId"] == contact["AccountId"]
        else:
            assert lead["ConvertedContactId"] is None and lead["ConvertedAccountId"] is None
    for account in sf["Account"]:
        assert points_at(account["OwnerId"], "User")
    for opportunity in sf["Opportunity"]:
        assert points_at(opportunity["AccountId"], "Account")
        assert SF_DATE.fullmatch(opportunity["CloseDate"])
    for case in sf["Case"]:
        assert points_at(case["ContactId"], "Contact")
        assert by_id[case["ContactId"]][1]["AccountId"] == case["AccountId"]

    sf_users = {u["Id"]: u for u in sf["User"]}
    upns = {u.upn for u in world.users}
    assert len(upns) == len(world.users)
    for user in world.users:
        uuid.UUID(user.oid)
        ZoneInfo(user.time_zone)
        assert user.upn.endswith("@" + world.tenant_domain)
        sf_user = sf_users[user.salesforce_user_id]
        assert sf_user["Username"] == user.salesforce_username
        assert sf_user["Email"] == user.upn and sf_user["IsActive"]
        assert sf_user["TimeZoneSidKey"] == user.time_zone

    own = {u.upn: {a.lower() for a in (u.upn, *u.aliases)} for u in world.users}
    copies = defaultdict(list)
    for mail in world.mails:
        assert mail.user_upn in upns and mail.folder in ("inbox", "sentitems")
        assert now - dt.timedelta(days=30) <= mail.received <= now
        assert mail.received.tzinfo is not None
        assert re.fullmatch(r"<[^<>@\s]+@[^<>@\s]+>", mail.internet_message_id)
        assert mail.conversation_key
        if mail.folder == "sentitems":
            assert mail.sender and mail.sender.address.lower() in own[mail.user_upn]
        else:
            recipients = {a.address.lower() for a in (*mail.to, *mail.cc, *mail.bcc)}
            assert recipients & own[mail.user_upn] or not (mail.to or mail.cc)
            assert not mail.bcc, "only the sender's copy knows the Bcc list"
        copies[mail.internet_message_id].append(mail)
    for message_id, group in copies.items():
        mailboxes = [(m.user_upn, m.folder) for m in group]
        assert len(set(mailboxes)) == len(mailboxes), f"{message_id} twice in one folder"
        first = group[0]
        for other in group[1:]:
            for name in ("sender", "to", "cc", "subject", "body_text", "received",
                         "conversation_key"):
                assert getattr(other, name) == getattr(first, name), (message_id, name)


# -- determinism ---------------------------------------------------------------------------


def test_same_seed_scale_and_now_build_identical_worlds():
    assert build_world(7, now=NOW) == build_world(7, now=NOW)
    assert build_world(7, "3x50", NOW) == build_world(7, "3x50", NOW)


def test_different_seeds_give_different_mail_and_ids(demo):
    other = build_world(2, now=NOW)
    assert [m.subject for m in other.mails] != [m.subject for m in demo.mails]
    assert other.tenant_id != demo.tenant_id
    assert other.salesforce["Contact"][0]["Id"] != demo.salesforce["Contact"][0]["Id"]


def test_mail_is_dated_relative_to_now_which_defaults_to_the_current_time():
    world = build_world(3, "1x30")
    current = dt.datetime.now(dt.timezone.utc)
    assert all(current - dt.timedelta(days=30, minutes=1) <= m.received <= current
               for m in world.mails)
    naive = build_world(3, "1x30", NOW.replace(tzinfo=None))
    assert naive == build_world(3, "1x30", NOW)


# -- the demo tenant and org ---------------------------------------------------------------


def test_demo_world_is_consistent(demo):
    assert_consistent(demo, NOW)


def test_demo_tenant_has_reps_with_aliases_time_zones_and_salesforce_users(demo):
    assert demo.tenant_domain == "contoso-demo.com"
    assert len(demo.users) == 4
    assert demo.users[0].upn == "alex.morgan@contoso-demo.com"  # the admin: signs in first
    assert sum(1 for u in demo.users if u.aliases) >= 2
    assert len({u.time_zone for u in demo.users}) == 4
    inactive = [u for u in demo.salesforce["User"] if not u["IsActive"]]
    assert inactive, "a former rep still owns records"


def test_demo_org_has_contacts_leads_converted_leads_and_related_records(demo):
    sf = demo.salesforce
    assert len([c for c in sf["Contact"] if c["Email"]]) > 50
    assert any(c["Email"] is None for c in sf["Contact"])
    assert [l for l in sf["Lead"] if not l["IsConverted"]]
    assert len([l for l in sf["Lead"] if l["IsConverted"]]) >= 2
    assert sf["Account"] and sf["Opportunity"] and sf["Case"]


def test_two_contacts_share_an_email_and_were_created_at_different_times(demo):
    by_email = defaultdict(list)
    for contact in demo.salesforce["Contact"]:
        if contact["Email"]:
            by_email[contact["Email"].lower()].append(contact)
    shared = [group for group in by_email.values() if len(group) > 1]
    assert shared
    group = shared[0]
    assert len({c["CreatedDate"] for c in group}) == len(group)
    # Id order is not age order, so "oldest first" has to read CreatedDate.
    assert group[0]["CreatedDate"] > group[1]["CreatedDate"]


def test_a_contact_and_an_open_lead_share_an_email(demo):
    contacts = {c["Email"].lower() for c in demo.salesforce["Contact"] if c["Email"]}
    assert any(l["Email"] and l["Email"].lower() in contacts and not l["IsConverted"]
               for l in demo.salesforce["Lead"])


def test_a_lead_email_is_stored_in_mixed_case_and_mailed_in_other_cases(demo):
    lead = next(l for l in demo.salesforce["Lead"] if l["Email"] and l["Email"] != l["Email"].lower())
    written = {p.address for m in demo.mails for p in participants(m)
               if p.address.lower() == lead["Email"].lower()}
    assert len(written - {lead["Email"]}) >= 2


# -- the demo mail -------------------------------------------------------------------------


def test_demo_mail_covers_every_kind_of_mail(demo):
    kinds = classify(demo)
    for kind in ("contact", "lead", "lead_and_contact", "several_leads", "over_50_contacts",
                 "converted_lead_address_of_contact", "converted_lead_only",
                 "internal_with_non_user_colleague", "between_demo_users",
                 "newsletter_or_noreply", "unmatched", "address_shared_by_contacts",
                 "address_of_contact_and_lead", "category:CRM", "category:DoNotSync"):
        assert kinds[kind], f"no {kind} mail in the demo world"
    assert threads_mixing_leads_and_contacts(demo, kinds)
    assert any(set(m.categories) == {"CRM", "DoNotSync"} for m in demo.mails)


def test_every_demo_user_has_inbox_and_sent_mail_over_thirty_days(demo):
    for user in demo.users:
        mine = [m for m in demo.mails if m.user_upn == user.upn]
        assert {m.folder for m in mine} == {"inbox", "sentitems"}
        assert len(mine) >= 60
        span = max(m.received for m in mine) - min(m.received for m in mine)
        assert span > dt.timedelta(days=25)


def test_mail_to_an_alias_reaches_the_users_inbox(demo):
    aliases = {a.lower(): u.upn for u in demo.users for a in u.aliases}
    assert any(aliases.get(r.address.lower()) == m.user_upn
               for m in demo.mails if m.folder == "inbox" for r in m.to)


def test_a_message_between_demo_users_has_one_id_in_sent_and_inbox_copies(demo):
    copies = defaultdict(set)
    for mail in demo.mails:
        copies[mail.internet_message_id].add((mail.user_upn, mail.folder))
    shared = [boxes for boxes in copies.values() if len(boxes) > 1]
    assert any(any(f == "sentitems" for _, f in b) and any(f == "inbox" for _, f in b)
               for b in shared)
    assert any(all(f == "inbox" for _, f in b) for b in shared), "two recipients' inboxes"


def test_malformed_mail_without_sender_and_with_no_recipients_exists(demo):
    assert any(m.sender is None for m in demo.mails)
    assert any(not m.to and not m.cc and not m.bcc and m.sender for m in demo.mails)


def test_hostile_strings_appear_in_subjects_names_and_bodies(demo):
    subjects = {m.subject for m in demo.mails}
    names = {p.name for m in demo.mails for p in participants(m)}
    bodies = "\n".join(m.body_text for m in demo.mails)
    for hostile in text.HOSTILE_STRINGS:
        assert hostile in subjects and hostile in names and hostile in bodies, hostile
    assert any(len(s) == 10_000 for s in subjects)
    assert "" in subjects
    assert text.HOSTILE_HTML_BODY in bodies and "javascript:" in bodies
    record_names = {f"{r['FirstName']} {r['LastName']}" for r in
                    demo.salesforce["Contact"] + demo.salesforce["Lead"]}
    assert any("<script>" in n for n in record_names)
    assert any('"' in n and "\\" in n for n in record_names)


def test_awkward_addresses_appear_in_mail(demo):
    addresses = {p.address for m in demo.mails for p in participants(m)}
    assert text.HOSTILE_ADDRESS_QUOTED in addresses and '\\' in text.HOSTILE_ADDRESS_QUOTED
    assert text.HOSTILE_ADDRESS_IDN in addresses
    assert text.HOSTILE_ADDRESS_PUNYCODE in addresses
    assert any("'" in a.split("@")[0] for a in addresses)
    assert any("+" in a.split("@")[0] for a in addresses)
    contacts = {c["Email"] for c in demo.salesforce["Contact"] if c["Email"]}
    assert any("'" in email for email in contacts), "an apostrophe Salesforce must query"
    assert any(a.split("@")[1].count(".") >= 2 and a in contacts for a in addresses), \
        "a contact at a subdomain of its account's domain"


def test_subjects_and_bodies_read_like_business_mail(demo):
    ordinary = [m for m in demo.mails if m.subject and len(m.subject) < 100]
    assert len(ordinary) > 0.9 * len(demo.mails)
    assert any(m.subject.startswith("RE: ") for m in demo.mails)
    assert all("\n" in m.body_text for m in demo.mails if m.sender and m.subject == "Intro call next week")


# -- ids -----------------------------------------------------------------------------------


@pytest.mark.parametrize("id15, suffix", [("a0D30000001n7Pi", "EAI"), ("0019000000B98de", "AAB"),
                                          ("00300000000000A", "AAQ"), ("ABCDEABCDEABCDE", "555")])
def test_checksum_suffix_follows_the_published_algorithm(id15, suffix):
    assert checksum_suffix(id15) == suffix
    assert is_valid_sf_id(id15 + suffix)
    assert not is_valid_sf_id(id15 + "AAA") or suffix == "AAA"


@given(st.text(alphabet=BASE62, min_size=15, max_size=15))
def test_ids_differing_only_in_case_get_different_suffixes(id15):
    swapped = id15.swapcase()
    assert is_valid_sf_id(id15 + checksum_suffix(id15))
    if swapped != id15:
        assert checksum_suffix(swapped) != checksum_suffix(id15)
        assert (id15 + checksum_suffix(id15)).lower() != (swapped + checksum_suffix(swapped)).lower()


# -- scale ---------------------------------------------------------------------------------


def test_scale_gives_each_user_exactly_the_asked_number_of_messages():
    world = build_world(5, "6x200", NOW)
    assert len(world.users) == 6
    per_user = Counter(m.user_upn for m in world.mails)
    assert set(per_user.values()) == {200}
    assert_consistent(world, NOW)


def test_scale_has_the_same_mix_of_kinds_as_the_demo():
    world = build_world(5, "4x400", NOW)
    kinds = classify(world)
    for kind in ("contact", "lead", "lead_and_contact", "several_leads",
                 "converted_lead_address_of_contact", "internal_with_non_user_colleague",
                 "between_demo_users", "newsletter_or_noreply", "unmatched",
                 "category:CRM", "category:DoNotSync"):
        assert kinds[kind], kind
    total = len(world.mails)
    assert 0.3 < len(kinds["contact"]) / total < 0.7
    assert 0.05 < len(kinds["unmatched"]) / total < 0.3
    assert threads_mixing_leads_and_contacts(world, kinds)
    sf = world.salesforce
    assert len(sf["Contact"]) >= 4 * 10 and len(sf["Lead"]) >= 4 * 10


def test_a_single_user_scale_sends_internal_mail_to_themselves():
    world = build_world(1, "1x100", NOW)
    assert len(world.mails) == 100
    assert_consistent(world, NOW)


@pytest.mark.parametrize("scale", ["", "100", "x100", "0x10", "10x0", "ax10", "10x10x10",
                                   "-1x10", "2000x2000", 42])
def test_malformed_scales_are_refused_with_a_message_naming_the_format(scale):
    with pytest.raises(ValueError, match=r"scale"):
        parse_scale(scale)


def test_scale_accepts_upper_case_x_and_spaces():
    assert parse_scale(" 20X500 ") == (20, 500)
    assert parse_scale(None) is None


def test_benchmark_scale_100x1000_builds(capsys):
    started = time.perf_counter()
    world = build_world(1, "100x1000", NOW)
    elapsed = time.perf_counter() - started
    assert len(world.mails) == 100_000 and len(world.users) == 100
    assert len(world.salesforce["Contact"]) >= 2000
    with capsys.disabled():
        print(f"\nbuild_world(scale='100x1000'): {elapsed:.2f} s")


# -- any seed ------------------------------------------------------------------------------


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(min_value=0, max_value=2**63),
       hours=st.integers(min_value=0, max_value=24 * 366))
def test_any_seed_and_time_yield_a_consistent_demo_world(seed, hours):
    now = NOW + dt.timedelta(hours=hours, minutes=17)
    world = build_world(seed, now=now)
    assert_consistent(world, now)
    kinds = classify(world)
    for kind in ("contact", "lead", "lead_and_contact", "over_50_contacts", "unmatched",
                 "converted_lead_only", "address_shared_by_contacts"):
        assert kinds[kind], kind


@settings(max_examples=10, deadline=None)
@given(seed=st.integers(min_value=0, max_value=2**32), users=st.integers(1, 5),
       messages=st.integers(1, 60))
def test_any_small_scale_is_consistent_and_exact(seed, users, messages):
    world = build_world(seed, f"{users}x{messages}", NOW)
    assert Counter(m.user_upn for m in world.mails) == {u.upn: messages for u in world.users}
    assert_consistent(world, NOW)


def test_world_fields_are_those_of_the_contract(demo):
    assert {f.name for f in dataclasses.fields(demo)} >= {"users", "mails", "salesforce"}
    assert set(demo.salesforce) == {"User", "Account", "Contact", "Lead", "Opportunity", "Case"}
