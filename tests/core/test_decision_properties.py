"""Properties of the decision that must hold for every email, checked with hypothesis.

Emails are drawn from labelled address pools (own, smart, excluded, ignored, customers,
invalid), with random case and padding, random categories, operations and settings. An
independent oracle below lists the rules in SPEC order; the decision must agree with it.
"""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mailferry.addresses import parse_address
from mailferry.decision import (
    ROLE_RANK,
    DecisionContext,
    EmailFacts,
    Outcome,
    Participant,
    decide,
    resolve_after_lookup,
    smart_address_for,
    to_18_char_id,
)
from mailferry.settings_catalog import SyncMode, effective_settings

from .builders import DO_NOT_RECORD, OWN, OWN_ALIAS, SMART_DOMAIN

MODERATE = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

POOLS = {
    "own": [OWN, OWN_ALIAS],
    "smart": [
        smart_address_for("Account", to_18_char_id("001xx000003DGb2"), SMART_DOMAIN),
        f"noreply@{SMART_DOMAIN}",
        f"x@eu.{SMART_DOMAIN}",
    ],
    "dnr": [DO_NOT_RECORD],
    "excluded": ["payroll@hr-provider.example", "x@eu.hr-provider.example", "ceo@board.example"],
    "ignored": ["news@letters.example", "a@mail.letters.example", "colleague@mailferry-customer.example"],
    "customer": ["jane@acme.example", "bob@globex.example", "li@xn--bcher-kva.example", "ann@bücher.example", '"a b"@acme.example'],
    "invalid": ["", "no-at-sign", "@acme.example", "a..b@acme.example", "x@localhost", "a\\b@acme.example"],
}
GLOBAL_EXCLUSIONS = ("hr-provider.example", "ceo@board.example")
IGNORE_LIST = ("letters.example", "mailferry-customer.example")


def _messy(address: str) -> st.SearchStrategy[str]:
    """The same address as mail clients may send it: other case, padding, invisible marks."""
    return st.sampled_from(
        [address, address.upper(), f"  {address}\t", f"<{address}>", address.replace("@", "\u200b@")]
    )


labelled_address = st.sampled_from([(kind, a) for kind, pool in POOLS.items() for a in pool]).flatmap(
    lambda pair: st.tuples(st.just(pair[0]), _messy(pair[1]))
)
participant = st.tuples(st.sampled_from(["from", "to", "cc", "bcc"]), labelled_address)
categories = st.lists(st.sampled_from(["CRM", "crm", "DoNotSync", " donotsync", "Blue", "Réunion"]), max_size=3)
# Weighted so that most examples get past the early rules and reach the later ones.
mostly_false = st.sampled_from([False, False, False, True])
user_settings = st.fixed_dictionaries(
    {
        "enabled": mostly_false.map(lambda b: not b),
        "sync_mode": st.sampled_from([m.value for m in SyncMode if m != SyncMode.OFF] * 3 + ["off"]),
        "prevent_create": mostly_false,
        "prevent_update": mostly_false,
        "prevent_delete": st.booleans(),
    }
)


@st.composite
def scenarios(draw):
    people = draw(st.lists(participant, max_size=7))
    values = draw(user_settings)
    ctx = DecisionContext(
        settings=effective_settings(user_values=values),
        own_addresses=frozenset({OWN, OWN_ALIAS}),
        global_exclusions=GLOBAL_EXCLUSIONS,
        do_not_record_address=DO_NOT_RECORD,
        smart_domain=SMART_DOMAIN,
        ignore_list=IGNORE_LIST,
        ignore_email_chosen=draw(mostly_false),
    )
    message = EmailFacts(
        operation=draw(st.sampled_from(["create", "update", "update", "delete"])),
        direction=draw(st.sampled_from(["incoming", "outgoing"])),
        participants=tuple(Participant(role, address) for role, (_kind, address) in people),
        categories=tuple(draw(categories)),
    )
    kinds = [kind for _role, (kind, _address) in people]
    return message, ctx, kinds


def oracle_rule(message: EmailFacts, ctx: DecisionContext, kinds: list[str]) -> int:
    """The SPEC table read top to bottom, written independently of the implementation."""
    s = ctx.settings
    folded = {c.strip().casefold() for c in message.categories}
    rules = [
        (0, not s.enabled or s.sync_mode == SyncMode.OFF),
        (1, getattr(s, f"prevent_{message.operation.value}") or message.operation == "delete"),
        (2, "excluded" in kinds),
        (3, ctx.ignore_email_chosen),
        (4, "donotsync" in folded),
        (5, "dnr" in kinds),
        (6, s.sync_mode in (SyncMode.SYNC_DESIGNATED, SyncMode.ATTEMPT_DESIGNATED) and "crm" not in folded),
        (7, "customer" not in kinds),
    ]
    return next((rule for rule, applies in rules if applies), 8)


@MODERATE
@given(scenarios())
def test_every_email_gets_exactly_one_outcome_from_the_earliest_rule_that_applies(scenario):
    message, ctx, kinds = scenario
    decision = decide(message, ctx)
    assert isinstance(decision.outcome, Outcome)
    assert decision.rule == oracle_rule(message, ctx, kinds)


@MODERATE
@given(scenarios())
def test_candidates_never_hold_own_smart_ignored_or_invalid_addresses(scenario):
    message, ctx, _kinds = scenario
    decision = decide(message, ctx)
    forbidden = {parse_address(a).key for kind in ("own", "smart", "dnr", "ignored", "invalid") for a in POOLS[kind]}
    customers = {parse_address(a).canonical for a in POOLS["customer"]}
    assert not forbidden & set(decision.candidates)
    assert set(decision.candidates) <= customers
    assert len(decision.candidates) == len(set(decision.candidates))


@MODERATE
@given(scenarios())
def test_candidates_follow_participant_order(scenario):
    message, ctx, _kinds = scenario
    decision = decide(message, ctx)
    first_rank = {}
    for p in message.participants:
        key = parse_address(p.address).key
        first_rank.setdefault(key, ROLE_RANK[p.role])
    ranks = [first_rank[c] for c in decision.candidates]
    assert ranks == sorted(ranks)


@MODERATE
@given(scenarios(), st.data())
def test_after_the_lookup_every_email_ends_in_exactly_one_final_outcome(scenario, data):
    message, ctx, _kinds = scenario
    decision = decide(message, ctx)
    found = data.draw(st.lists(st.sampled_from(decision.candidates), unique=True) if decision.candidates else st.just([]))
    final = resolve_after_lookup(decision, found, ctx.settings.sync_mode)
    assert final.outcome != Outcome.NEEDS_LOOKUP
    if decision.outcome == Outcome.NEEDS_LOOKUP:
        assert set(final.matched) | set(final.unmatched) == set(decision.candidates)
        assert not set(final.matched) & set(final.unmatched)
        expected = Outcome.TO_RECORD if found else (Outcome.EXCLUDED if ctx.settings.sync_mode.attempt else Outcome.UNRESOLVED)
        assert final.outcome == expected


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.text(max_size=40), max_size=6),
    st.lists(st.text(max_size=12), max_size=3),
    st.sampled_from([m.value for m in SyncMode]),
)
def test_arbitrary_text_as_addresses_and_categories_never_raises(addresses, cats, mode):
    message = EmailFacts(
        "create", "incoming", tuple(Participant("to", a) for a in addresses), tuple(cats)
    )
    ctx = DecisionContext(
        settings=effective_settings(user_values={"sync_mode": mode}),
        own_addresses=frozenset(addresses[:1]),
        global_exclusions=tuple(addresses[1:2]),
        ignore_list=tuple(addresses[2:3]),
        smart_domain=addresses[3] if len(addresses) > 3 else None,
        do_not_record_address=addresses[4] if len(addresses) > 4 else None,
    )
    decision = decide(message, ctx)
    final = resolve_after_lookup(decision, decision.candidates[:1], mode)
    assert isinstance(final.outcome, Outcome)
