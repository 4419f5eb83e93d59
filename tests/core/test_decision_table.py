"""Every row of the SPEC section 2 table, and every sync mode, as tables of examples."""

from __future__ import annotations

from dataclasses import replace

import pytest

from mailferry.decision import (
    Decision,
    Outcome,
    Reason,
    SetAsideReason,
    decide,
    parse_smart_address,
    resolve_after_lookup,
    smart_address_for,
    to_18_char_id,
)
from mailferry.settings_catalog import SyncMode

from .builders import (
    CUSTOMER,
    DO_NOT_RECORD,
    EXCLUDED_DOMAIN,
    OTHER_CUSTOMER,
    OWN,
    OWN_ALIAS,
    SMART_DOMAIN,
    context,
    email,
)

ACCOUNT_ID = to_18_char_id("001xx000003DGb2")
ACCOUNT_ADDRESS = smart_address_for("Account", ACCOUNT_ID, SMART_DOMAIN)

# (name, email, context, expected outcome, expected reason, expected rule)
TABLE = [
    ("sync disabled drops everything", email(), context(enabled=False), Outcome.DROPPED, Reason.SYNC_DISABLED, 0),
    ("sync mode off drops everything", email(), context(sync_mode="off"), Outcome.DROPPED, Reason.SYNC_OFF, 0),
    ("rule 1 prevent create drops a new message", email(), context(prevent_create=True), Outcome.DROPPED, Reason.PREVENT_CREATE, 1),
    ("rule 1 prevent update drops a changed message", email(operation="update"), context(prevent_update=True), Outcome.DROPPED, Reason.PREVENT_UPDATE, 1),
    ("rule 1 deletes are prevented by default", email(operation="delete"), context(), Outcome.DROPPED, Reason.PREVENT_DELETE, 1),
    ("rule 1 an allowed delete removes the task", email(operation="delete"), context(prevent_delete=False), Outcome.REMOVE_TASK, Reason.MESSAGE_DELETED, 1),
    ("rule 2 excluded domain omits", email(("from", f"payroll@{EXCLUDED_DOMAIN}"), ("to", OWN)), context(), Outcome.OMITTED, Reason.GLOBAL_EXCLUSION, 2),
    ("rule 2 excluded subdomain omits", email(("from", CUSTOMER), ("cc", f"x@eu.{EXCLUDED_DOMAIN}")), context(), Outcome.OMITTED, Reason.GLOBAL_EXCLUSION, 2),
    ("rule 2 excluded address omits in bcc", email(("from", OWN), ("bcc", "Secret@Acme.example")), context(global_exclusions=("secret@acme.example",)), Outcome.OMITTED, Reason.GLOBAL_EXCLUSION, 2),
    ("rule 2 a look-alike domain is not excluded", email(("from", f"x@bad{EXCLUDED_DOMAIN}"), ("to", OWN)), context(), Outcome.NEEDS_LOOKUP, Reason.CANDIDATES_FOUND, 8),
    ("rule 3 ignore email", email(), context(ignore_email=True), Outcome.IGNORED, Reason.IGNORE_EMAIL, 3),
    ("rule 4 donotsync category excludes", email(categories=("DoNotSync",)), context(), Outcome.EXCLUDED, Reason.DONOTSYNC_CATEGORY, 4),
    ("rule 4 category names compare without case", email(categories=(" donotsync ",)), context(), Outcome.EXCLUDED, Reason.DONOTSYNC_CATEGORY, 4),
    ("rule 4 the category name is configurable", email(categories=("Private",)), context(donotsync_category="Private"), Outcome.EXCLUDED, Reason.DONOTSYNC_CATEGORY, 4),
    ("rule 4 the default name is not used once renamed", email(categories=("DoNotSync",)), context(donotsync_category="Private"), Outcome.NEEDS_LOOKUP, Reason.CANDIDATES_FOUND, 8),
    ("rule 5 do not record address excludes", email(("from", OWN), ("to", CUSTOMER), ("bcc", DO_NOT_RECORD.upper())), context(), Outcome.EXCLUDED, Reason.DO_NOT_RECORD_ADDRESS, 5),
    ("rule 6 designated mode without crm category", email(), context(sync_mode="sync_designated"), Outcome.NOT_DESIGNATED, Reason.NOT_DESIGNATED, 6),
    ("rule 6 attempt designated mode without crm category", email(), context(sync_mode="attempt_designated"), Outcome.NOT_DESIGNATED, Reason.NOT_DESIGNATED, 6),
    ("rule 6 crm category designates", email(categories=("crm",)), context(sync_mode="sync_designated"), Outcome.NEEDS_LOOKUP, Reason.CANDIDATES_FOUND, 8),
    ("rule 6 crm name is configurable", email(categories=("Salesforce",)), context(sync_mode="sync_designated", crm_category="Salesforce"), Outcome.NEEDS_LOOKUP, Reason.CANDIDATES_FOUND, 8),
    ("rule 7 internal mail has no candidates", email(("from", OWN), ("to", "colleague@mailferry-customer.example")), context(), Outcome.SKIPPED, Reason.NO_CANDIDATES, 7),
    ("rule 7 only own aliases and smart addresses", email(("from", OWN_ALIAS), ("to", OWN), ("cc", ACCOUNT_ADDRESS)), context(ignore_list=()), Outcome.SKIPPED, Reason.NO_CANDIDATES, 7),
    ("rule 7 ignore list address", email(("from", CUSTOMER), ("to", OWN)), context(ignore_list=(CUSTOMER,)), Outcome.SKIPPED, Reason.NO_CANDIDATES, 7),
    ("rule 7 ignore list domain covers subdomains", email(("from", "x@eu.acme.example"), ("to", OWN)), context(ignore_list=("acme.example",)), Outcome.SKIPPED, Reason.NO_CANDIDATES, 7),
    ("rule 7 no participants at all", email(("to", OWN)), context(), Outcome.SKIPPED, Reason.NO_CANDIDATES, 7),
    ("a customer participant needs a lookup", email(), context(), Outcome.NEEDS_LOOKUP, Reason.CANDIDATES_FOUND, 8),
]


@pytest.mark.parametrize(
    "message, ctx, outcome, reason, rule", [row[1:] for row in TABLE], ids=[row[0] for row in TABLE]
)
def test_each_row_of_the_decision_table_gives_its_outcome(message, ctx, outcome, reason, rule):
    decision = decide(message, ctx)
    assert (decision.outcome, decision.reason, decision.rule) == (outcome, reason, rule)


# Sync modes: (mode, has CRM category, matched?) → outcome, reason.
MODES = [
    ("sync_all", False, False, Outcome.UNRESOLVED, Reason.NO_MATCH),
    ("sync_all", False, True, Outcome.TO_RECORD, Reason.MATCHED),
    ("attempt_all", False, False, Outcome.EXCLUDED, Reason.NO_MATCH),
    ("attempt_all", False, True, Outcome.TO_RECORD, Reason.MATCHED),
    ("sync_designated", False, True, Outcome.NOT_DESIGNATED, Reason.NOT_DESIGNATED),
    ("sync_designated", True, False, Outcome.UNRESOLVED, Reason.NO_MATCH),
    ("sync_designated", True, True, Outcome.TO_RECORD, Reason.MATCHED),
    ("attempt_designated", False, True, Outcome.NOT_DESIGNATED, Reason.NOT_DESIGNATED),
    ("attempt_designated", True, False, Outcome.EXCLUDED, Reason.NO_MATCH),
    ("attempt_designated", True, True, Outcome.TO_RECORD, Reason.MATCHED),
    ("off", True, True, Outcome.DROPPED, Reason.SYNC_OFF),
    ("off", False, False, Outcome.DROPPED, Reason.SYNC_OFF),
]


def _decide_and_look_up(mode: str, designated: bool, matched: bool) -> Decision:
    message = email(categories=("CRM",) if designated else ())
    decision = decide(message, context(sync_mode=mode))
    return resolve_after_lookup(decision, [CUSTOMER] if matched else [], mode)


@pytest.mark.parametrize("mode, designated, matched, outcome, reason", MODES)
def test_each_sync_mode_treats_designation_and_matches_as_the_spec_says(mode, designated, matched, outcome, reason):
    decision = _decide_and_look_up(mode, designated, matched)
    assert (decision.outcome, decision.reason) == (outcome, reason)


def test_every_sync_mode_is_covered_by_the_mode_table():
    assert {row[0] for row in MODES} == {mode.value for mode in SyncMode}


def test_no_match_lists_every_candidate_as_unmatched_for_the_unmatched_tab():
    decision = decide(email(("from", CUSTOMER), ("cc", OTHER_CUSTOMER), ("to", OWN)), context())
    resolved = resolve_after_lookup(decision, [], "sync_all")
    assert resolved.rule == 8
    assert resolved.unmatched == (CUSTOMER, OTHER_CUSTOMER)


def test_a_match_keeps_the_other_candidates_as_unmatched():
    decision = decide(email(("from", CUSTOMER), ("cc", OTHER_CUSTOMER), ("to", OWN)), context())
    resolved = resolve_after_lookup(decision, ["BOB@GLOBEX.EXAMPLE"], "sync_all")
    assert (resolved.outcome, resolved.rule) == (Outcome.TO_RECORD, 9)
    assert resolved.matched == (OTHER_CUSTOMER,)
    assert resolved.unmatched == (CUSTOMER,)


def test_resolving_a_final_decision_returns_it_unchanged():
    decision = decide(email(categories=("DoNotSync",)), context())
    assert resolve_after_lookup(decision, [CUSTOMER], "sync_all") is decision


def test_candidates_are_in_participant_order_without_repeats():
    message = email(
        ("bcc", "d@delta.example"),
        ("cc", "c@charlie.example"),
        ("to", "B@Bravo.example"),
        ("from", "a@alpha.example"),
        ("cc", "b@bravo.example"),
    )
    decision = decide(message, context())
    assert decision.candidates == ("a@alpha.example", "b@bravo.example", "c@charlie.example", "d@delta.example")


def test_set_aside_addresses_say_why_they_are_not_candidates():
    message = email(("from", OWN), ("to", "colleague@mailferry-customer.example"), ("cc", ACCOUNT_ADDRESS), ("cc", "not an address"))
    decision = decide(message, context())
    reasons = {item.address: item.reason for item in decision.set_aside}
    assert reasons == {
        OWN: SetAsideReason.OWN_ADDRESS,
        "colleague@mailferry-customer.example": SetAsideReason.IGNORE_LIST,
        ACCOUNT_ADDRESS: SetAsideReason.SMART_ADDRESS,
        "not an address": SetAsideReason.INVALID_ADDRESS,
    }


def test_smart_addresses_become_related_to_hints_in_participant_order():
    opportunity = smart_address_for("Opportunity", to_18_char_id("006xx000001aBcD"), SMART_DOMAIN)
    message = email(("from", CUSTOMER), ("to", OWN), ("cc", opportunity), ("to", ACCOUNT_ADDRESS))
    decision = decide(message, context())
    assert decision.candidates == (CUSTOMER,)
    assert [(h.sobject, h.record_id) for h in decision.related_to] == [
        ("Account", ACCOUNT_ID),
        ("Opportunity", to_18_char_id("006xx000001aBcD")),
    ]


def test_smart_address_ids_survive_lower_casing_by_mail_clients():
    hint = parse_smart_address(ACCOUNT_ADDRESS.upper(), SMART_DOMAIN)
    assert hint is not None and hint.record_id == ACCOUNT_ID


@pytest.mark.parametrize(
    "address",
    [
        f"account-001xx000003dgb2baa@{SMART_DOMAIN}",  # suffix upper-cases a digit: not an id
        f"opportunity-{ACCOUNT_ID.lower()}@{SMART_DOMAIN}",  # an account id for an opportunity
        f"account-001xx000003dgb2@{SMART_DOMAIN}",  # 15 characters lose their case
        f"lead-00q000000000001aaa@{SMART_DOMAIN}",  # not a related-to object
        f"account-{ACCOUNT_ID.lower()}@other.example",  # not the smart domain
    ],
)
def test_malformed_smart_addresses_give_no_hint(address):
    assert parse_smart_address(address, SMART_DOMAIN) is None


def test_every_address_on_the_smart_domain_is_set_aside_even_without_a_hint():
    decision = decide(email(("from", f"hello@{SMART_DOMAIN}"), ("to", OWN)), context(ignore_list=()))
    assert (decision.outcome, decision.related_to) == (Outcome.SKIPPED, ())


@pytest.mark.parametrize("reason_outcome", [("ignore", 3), ("donotsync", 4), ("dnr", 5)])
def test_withdrawing_an_email_asks_to_remove_its_task_only_when_deletes_are_allowed(reason_outcome):
    kind, rule = reason_outcome
    message = {
        "ignore": email(operation="update"),
        "donotsync": email(operation="update", categories=("DoNotSync",)),
        "dnr": email(("from", CUSTOMER), ("to", OWN), ("cc", DO_NOT_RECORD), operation="update"),
    }[kind]
    allowed = decide(message, context(ignore_email=kind == "ignore", prevent_delete=False))
    prevented = decide(message, context(ignore_email=kind == "ignore"))
    assert (allowed.rule, allowed.withdraw_task) == (rule, True)
    assert (prevented.rule, prevented.withdraw_task) == (rule, False)


def test_an_email_that_is_simply_excluded_for_no_match_withdraws_nothing():
    decision = resolve_after_lookup(decide(email(), context(prevent_delete=False)), [], "attempt_all")
    assert decision.withdraw_task is False


def test_the_ignore_email_choice_is_per_message():
    ctx = context()
    assert decide(email(), replace(ctx, ignore_email_chosen=True)).outcome == Outcome.IGNORED
    assert decide(email(), ctx).outcome == Outcome.NEEDS_LOOKUP


def test_an_email_that_triggers_every_rule_is_decided_by_the_earliest_one():
    """Peel the rules off one by one: each time, the next rule in SPEC order decides."""
    people = [("from", f"x@{EXCLUDED_DOMAIN}"), ("to", OWN), ("cc", DO_NOT_RECORD)]
    values = dict(sync_mode="sync_designated", prevent_create=True)
    steps = [
        (1, {}, {}),
        (2, {"prevent_create": False}, {}),
        (3, {}, {"drop_excluded": True}),
        (4, {}, {"ignore_email": False}),
        (5, {}, {"categories": ()}),
        (6, {}, {"drop_dnr": True}),
        (7, {}, {"categories": ("CRM",)}),
    ]
    state = {"drop_excluded": False, "ignore_email": True, "categories": ("DoNotSync",), "drop_dnr": False}
    for rule, setting_changes, state_changes in steps:
        values.update(setting_changes)
        state.update(state_changes)
        current = [p for p in people if not (state["drop_excluded"] and EXCLUDED_DOMAIN in p[1])]
        current = [p for p in current if not (state["drop_dnr"] and p[1] == DO_NOT_RECORD)]
        message = email(*current, categories=state["categories"])
        decision = decide(message, context(ignore_email=state["ignore_email"], **values))
        assert decision.rule == rule
