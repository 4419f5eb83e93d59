"""Malformed and hostile emails get a clear outcome and never raise (SPEC section 9)."""

from __future__ import annotations

from mailferry.decision import EmailFacts, Outcome, Participant, Reason, SetAsideReason, decide, resolve_after_lookup

from .builders import CUSTOMER, EXCLUDED_DOMAIN, OWN, context, email


def test_a_missing_from_still_looks_up_the_recipients():
    decision = decide(email(("to", CUSTOMER), ("cc", OWN)), context())
    assert (decision.outcome, decision.candidates) == (Outcome.NEEDS_LOOKUP, (CUSTOMER,))


def test_an_email_without_any_participant_is_skipped_for_no_candidates():
    decision = decide(EmailFacts("create", "incoming", (), ()), context())
    assert (decision.outcome, decision.reason) == (Outcome.SKIPPED, Reason.NO_CANDIDATES)


def test_an_email_with_only_invalid_addresses_is_skipped_and_says_which():
    decision = decide(email(("from", "<script>alert(1)</script>"), ("to", ""), ("cc", "no at sign")), context())
    assert decision.outcome == Outcome.SKIPPED
    assert {s.reason for s in decision.set_aside} == {SetAsideReason.INVALID_ADDRESS}


def test_quotes_and_backslashes_in_local_parts_are_candidates_when_valid():
    decision = decide(email(("from", '"O\\"Neil, Pat"@Acme.example'), ("to", OWN), ("cc", "a\\b@acme.example")), context())
    assert decision.candidates == ('"o\\"neil, pat"@acme.example',)
    assert [s.address for s in decision.set_aside if s.reason == SetAsideReason.INVALID_ADDRESS] == ["a\\b@acme.example"]


def test_an_internationalised_domain_matches_its_ascii_exclusion_entry_and_back():
    unicode_mail = email(("from", "kunde@Bücher.example"), ("to", OWN))
    ascii_mail = email(("from", "kunde@xn--bcher-kva.example"), ("to", OWN))
    assert decide(unicode_mail, context(global_exclusions=("xn--bcher-kva.example",))).outcome == Outcome.OMITTED
    assert decide(ascii_mail, context(global_exclusions=("bücher.example",))).outcome == Outcome.OMITTED


def test_zero_width_and_bidi_characters_cannot_dodge_the_global_exclusion_list():
    for disguised in (f"x@hr\u200b-provider.example", f"\u202ex@{EXCLUDED_DOMAIN}", f"x@{EXCLUDED_DOMAIN}\u200e"):
        decision = decide(email(("from", disguised), ("to", OWN)), context())
        assert decision.outcome == Outcome.OMITTED, disguised


def test_an_invalid_address_on_an_excluded_domain_is_still_omitted():
    decision = decide(email(("from", f"bad address@{EXCLUDED_DOMAIN}"), ("to", CUSTOMER)), context())
    assert decision.outcome == Outcome.OMITTED


def test_a_ten_thousand_character_address_is_set_aside_as_invalid():
    decision = decide(email(("from", "x" * 10_000 + "@acme.example"), ("to", CUSTOMER)), context())
    assert decision.candidates == (CUSTOMER,)
    assert decision.set_aside[0].reason == SetAsideReason.INVALID_ADDRESS


def test_thousands_of_recipients_are_de_duplicated_into_candidates():
    people = [("to", f"Person{i % 1000}@Acme.example") for i in range(5_000)]
    decision = decide(email(("from", OWN), *people), context())
    assert len(decision.candidates) == 1_000
    final = resolve_after_lookup(decision, decision.candidates[:3], "sync_all")
    assert (final.outcome, len(final.unmatched)) == (Outcome.TO_RECORD, 997)


def test_missing_values_from_a_malformed_payload_are_tolerated():
    message = EmailFacts("update", "outgoing", (Participant("from", None, None),), None)  # type: ignore[arg-type]
    decision = decide(message, context())
    assert decision.outcome == Outcome.SKIPPED


def test_hostile_category_names_do_not_designate_or_exclude_by_accident():
    decision = decide(email(categories=("CRM\u200b", "Do Not Sync", "<b>CRM</b>")), context(sync_mode="sync_designated"))
    assert decision.outcome == Outcome.NOT_DESIGNATED
