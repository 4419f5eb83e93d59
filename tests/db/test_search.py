"""History search finds rows by partial terms through each database's search index."""

from __future__ import annotations

import pytest
from sqlalchemy import delete, select, text

from mailferry.models import Mailbox, Message, UnmatchedAddress
from mailferry.search import search_condition
from tests.db import factories


@pytest.fixture
def session(both_backends_session):
    return both_backends_session


def _dialect(session) -> str:
    return session.get_bind().dialect.name


def _found(session, model, query, **where) -> set[int]:
    statement = select(model.id).where(search_condition(model, query, _dialect(session)))
    for column, value in where.items():
        statement = statement.where(getattr(model, column) == value)
    return set(session.scalars(statement))


def _check_sqlite_search_index(session) -> None:
    """Fail unless the FTS index agrees row for row with the table it indexes.

    Rank 1 makes FTS5 compare against the content table (it raises "malformed" if not)."""
    session.execute(
        text("INSERT INTO messages_search(messages_search, rank) VALUES ('integrity-check', 1)")
    )


@pytest.fixture
def inbox(session):
    mailbox = factories.mailbox(session)
    quote = factories.message(
        session,
        mailbox,
        subject="Renewal quote for ACME Corporation",
        from_address="ana.silva@acme.example",
        from_name="Ana Silva",
        participants=[{"address": "ana.silva@acme.example", "name": "Ana Silva", "role": "from"}],
    )
    lunch = factories.message(
        session,
        mailbox,
        subject="Lunch on Friday?",
        from_address="bob@bistro.example",
        participants=[{"address": "bob@bistro.example", "name": "Bob", "role": "from"}],
    )
    return mailbox, quote, lunch


def test_a_partial_term_finds_messages_by_subject_or_address(session, inbox):
    mailbox, quote, lunch = inbox
    assert _found(session, Message, "newal", user_id=mailbox.user_id) == {quote.id}
    assert _found(session, Message, "BISTRO", user_id=mailbox.user_id) == {lunch.id}
    assert _found(session, Message, "silva@acme", user_id=mailbox.user_id) == {quote.id}
    assert _found(session, Message, "", user_id=mailbox.user_id) == {quote.id, lunch.id}


def test_every_term_of_a_search_must_match(session, inbox):
    mailbox, quote, _ = inbox
    assert _found(session, Message, "acme quote", user_id=mailbox.user_id) == {quote.id}
    assert _found(session, Message, "acme lunch", user_id=mailbox.user_id) == set()


def test_search_stays_within_the_users_own_rows(session, inbox):
    mailbox, quote, _ = inbox
    other = factories.message(session, subject="Renewal quote (someone else's)")
    assert _found(session, Message, "renewal", user_id=mailbox.user_id) == {quote.id}
    assert _found(session, Message, "renewal", user_id=other.user_id) == {other.id}


def test_short_terms_and_search_syntax_characters_match_literally(session):
    mailbox = factories.mailbox(session)
    odd = factories.message(
        session, mailbox, subject='50% off_now "quoted" back\\slash it\'s Q4 *NEAR* OR'
    )
    plain = factories.message(session, mailbox, subject="5000 offers")
    for query in ("50%", "off_", '"quoted"', "back\\slash", "it's", "q4", "*near*", "or"):
        assert _found(session, Message, query, user_id=mailbox.user_id) == {odd.id}, query
    assert _found(session, Message, "%", user_id=mailbox.user_id) == {odd.id}
    assert _found(session, Message, "offers", user_id=mailbox.user_id) == {plain.id}


def test_search_follows_changed_and_deleted_messages(session, inbox):
    mailbox, quote, lunch = inbox
    quote.subject = "Signed contract"
    session.flush()
    assert _found(session, Message, "renewal", user_id=mailbox.user_id) == set()
    assert _found(session, Message, "contract", user_id=mailbox.user_id) == {quote.id}

    session.delete(lunch)
    session.flush()
    assert _found(session, Message, "bistro", user_id=mailbox.user_id) == set()
    if _dialect(session) == "sqlite":
        _check_sqlite_search_index(session)


def test_messages_removed_by_a_cascade_leave_the_search_too(session, inbox):
    mailbox, _, _ = inbox
    session.execute(delete(Mailbox).where(Mailbox.id == mailbox.id))
    assert _found(session, Message, "renewal") == set()
    assert _found(session, Message, "bistro") == set()
    if _dialect(session) == "sqlite":
        _check_sqlite_search_index(session)


def test_a_partial_term_finds_unmatched_addresses_by_address_or_name(session):
    user = factories.user(session)
    carol = UnmatchedAddress(
        tenant_id=user.tenant_id, user_id=user.id, address="carol@prospect.example", display_name="Carol Danvers"
    )
    dave = UnmatchedAddress(
        tenant_id=user.tenant_id, user_id=user.id, address="dave@vendor.example", display_name="Dave"
    )
    session.add_all([carol, dave])
    session.flush()
    assert _found(session, UnmatchedAddress, "prosp", user_id=user.id) == {carol.id}
    assert _found(session, UnmatchedAddress, "danv", user_id=user.id) == {carol.id}
    assert _found(session, UnmatchedAddress, "example", user_id=user.id) == {carol.id, dave.id}


def test_the_search_is_answered_by_the_search_index(session, inbox):
    mailbox, _, _ = inbox
    condition = search_condition(Message, "renewal", _dialect(session))
    statement = select(Message.id).where(condition)
    compiled = statement.compile(session.get_bind(), compile_kwargs={"literal_binds": True})
    if _dialect(session) == "sqlite":
        plan = session.execute(text(f"EXPLAIN QUERY PLAN {compiled}")).all()
        assert any("VIRTUAL TABLE INDEX" in row[-1] for row in plan), plan
    else:
        # With a handful of rows the planner would rightly scan; forbid that to see
        # that the trigram index can serve the query.
        session.execute(text("SET LOCAL enable_seqscan = off"))
        plan = session.execute(text(f"EXPLAIN {compiled}")).scalars().all()
        assert any("ix_messages_search_trgm" in line for line in plan), plan
