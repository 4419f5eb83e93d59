"""Columns the models derive themselves: sort keys, search text, normalised addresses."""

from __future__ import annotations

from mailferry.models import IgnoreEntry, UnmatchedAddress, UserAddress
from mailferry.models.columns import SORT_KEY_LENGTH
from tests.db import factories


def test_an_enormous_subject_is_kept_whole_and_sorted_by_its_lower_cased_start(db_session):
    subject = "Renewal   QUOTE " + "x" * 200_000
    message = factories.message(db_session, subject=subject)
    db_session.expire(message)

    assert message.subject == subject
    assert message.subject_sort.startswith("renewal quote xxx")
    assert len(message.subject_sort) == SORT_KEY_LENGTH


def test_search_text_holds_the_subject_addresses_and_names_lower_cased(db_session):
    message = factories.message(
        db_session,
        subject="Quarterly Review",
        from_address="  Ana.Silva@Example.COM ",
        from_name="Ana Silva",
        participants=[
            {"address": "ana.silva@example.com", "name": "Ana Silva", "role": "from"},
            {"address": "Bob@Partner.example", "name": "Bob Stone", "role": "cc"},
        ],
    )
    assert message.from_address == "ana.silva@example.com"
    for part in ("quarterly review", "ana.silva@example.com", "bob@partner.example", "bob stone"):
        assert part in message.search_text


def test_search_text_follows_a_changed_subject(db_session):
    message = factories.message(db_session, subject="First draft")
    message.subject = "Signed contract"
    db_session.flush()
    assert "signed contract" in message.search_text
    assert "first draft" not in message.search_text


def test_addresses_and_ignore_values_are_stored_trimmed_and_lower_cased(db_session):
    user = factories.user(db_session)
    address = UserAddress(user_id=user.id, address=" Me@Example.COM", kind="primary")
    entry = IgnoreEntry(
        tenant_id=user.tenant_id, user_id=user.id, kind="domain", value="Example.COM ", source="own_domain"
    )
    db_session.add_all([address, entry])
    db_session.flush()
    assert (address.address, entry.value) == ("me@example.com", "example.com")


def test_an_unmatched_address_knows_its_domain_and_search_text(db_session):
    user = factories.user(db_session)
    row = UnmatchedAddress(
        tenant_id=user.tenant_id,
        user_id=user.id,
        address="Carol@Sub.Prospect.example",
        display_name="Carol  Danvers",
        last_subject="Pilot pricing",
    )
    db_session.add(row)
    db_session.flush()
    assert row.domain == "sub.prospect.example"
    assert row.display_name_sort == "carol danvers"
    assert "pilot pricing" in row.search_text and "carol@sub.prospect.example" in row.search_text
