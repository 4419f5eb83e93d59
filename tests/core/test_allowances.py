"""SPEC section 3 rules 1-4: one lead or up to 50 contacts, never a mix; single-who orgs; WhatId."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from mailferry.allowances import CONTACT_LIMIT, NotRecordedReason, apply_allowances
from mailferry.decision import RelatedTo

from .builders import record

ACCOUNT = RelatedTo("Account", "001xx000003DGb2AAG", "account-001xx000003dgb2aag@smart.example")
CASE = RelatedTo("Case", "500xx000000bcdeAAA", "case-500xx000000bcdeaaa@smart.example")


def reasons(allocation):
    return {item.record.record_id: item.reason for item in allocation.not_recorded}


def test_contacts_are_recorded_in_participant_order_with_the_first_as_who():
    allocation = apply_allowances(
        [record("Contact", "C3", "cc", 3), record("Contact", "C1", "from", 0), record("Contact", "C2", "to", 1)],
        "incoming",
        shared_activities=True,
    )
    assert [r.record_id for r in allocation.recorded] == ["C1", "C2", "C3"]
    assert allocation.who_id == "C1"
    assert allocation.relation_ids == ("C2", "C3")
    assert allocation.not_recorded == ()


def test_contacts_win_over_leads_which_are_matched_but_not_recorded():
    allocation = apply_allowances(
        [record("Lead", "L1", "from", 0), record("Contact", "C1", "cc", 2), record("Lead", "L2", "to", 1)],
        "incoming",
        shared_activities=True,
    )
    assert [r.record_id for r in allocation.recorded] == ["C1"]
    assert reasons(allocation) == {
        "L1": NotRecordedReason.MIXED_LEADS_AND_CONTACTS,
        "L2": NotRecordedReason.MIXED_LEADS_AND_CONTACTS,
    }


def test_at_most_fifty_contacts_are_recorded_and_the_rest_hit_the_contact_limit():
    contacts = [record("Contact", f"C{i:02}", "to", i) for i in range(60)]
    allocation = apply_allowances(contacts, "outgoing", shared_activities=True)
    assert len(allocation.recorded) == CONTACT_LIMIT == 50
    assert [r.record_id for r in allocation.recorded] == [f"C{i:02}" for i in range(50)]
    assert reasons(allocation) == {f"C{i:02}": NotRecordedReason.CONTACT_LIMIT for i in range(50, 60)}


def test_several_contacts_with_one_address_are_taken_oldest_first():
    allocation = apply_allowances(
        [
            record("Contact", "Cnew", "to", 0, created="2025-03-01T00:00:00.000+0000"),
            record("Contact", "Cunknown", "to", 0, created=None),
            record("Contact", "Cold", "to", 0, created="2019-06-01T09:30:00.000+0000"),
            record("Contact", "Cmid", "to", 0, created="2021-01-01T00:00:00Z"),
        ],
        "outgoing",
        shared_activities=True,
    )
    assert [r.record_id for r in allocation.recorded] == ["Cold", "Cmid", "Cnew", "Cunknown"]


def test_the_lead_in_to_is_recorded_for_an_outgoing_email():
    allocation = apply_allowances(
        [record("Lead", "Lcc", "cc", 2), record("Lead", "Lto", "to", 1)], "outgoing", shared_activities=True
    )
    assert allocation.who_id == "Lto"
    assert reasons(allocation) == {"Lcc": NotRecordedReason.ONE_LEAD_PER_ACTIVITY}


def test_the_lead_in_from_is_recorded_for_an_incoming_email():
    allocation = apply_allowances(
        [record("Lead", "Lto", "to", 1), record("Lead", "Lfrom", "from", 0), record("Lead", "Lcc", "cc", 2)],
        "incoming",
        shared_activities=True,
    )
    assert allocation.who_id == "Lfrom"
    assert reasons(allocation) == {
        "Lto": NotRecordedReason.ONE_LEAD_PER_ACTIVITY,
        "Lcc": NotRecordedReason.ONE_LEAD_PER_ACTIVITY,
    }


def test_without_a_lead_in_the_expected_place_the_first_lead_in_participant_order_is_recorded():
    allocation = apply_allowances(
        [record("Lead", "Lbcc", "bcc", 3), record("Lead", "Lcc", "cc", 2)], "incoming", shared_activities=True
    )
    assert allocation.who_id == "Lcc"


def test_an_org_without_shared_activities_records_only_the_first_contact():
    contacts = [record("Contact", f"C{i:02}", "to", i) for i in range(55)]
    allocation = apply_allowances([*contacts, record("Lead", "L1", "cc", 60)], "outgoing", shared_activities=False)
    assert [r.record_id for r in allocation.recorded] == ["C00"]
    assert allocation.relation_ids == ()
    found = reasons(allocation)
    assert {found[f"C{i:02}"] for i in range(1, 50)} == {NotRecordedReason.SINGLE_WHO_ORG}
    assert {found[f"C{i:02}"] for i in range(50, 55)} == {NotRecordedReason.CONTACT_LIMIT}
    assert found["L1"] == NotRecordedReason.MIXED_LEADS_AND_CONTACTS


def test_an_org_without_shared_activities_still_records_one_lead():
    allocation = apply_allowances(
        [record("Lead", "L1", "to", 0), record("Lead", "L2", "to", 1)], "outgoing", shared_activities=False
    )
    assert allocation.who_id == "L1"
    assert reasons(allocation) == {"L2": NotRecordedReason.ONE_LEAD_PER_ACTIVITY}


def test_a_smart_address_sets_the_what_id_when_the_who_is_a_contact():
    allocation = apply_allowances([record("Contact", "C1")], "outgoing", True, (ACCOUNT, CASE))
    assert allocation.what_id == ACCOUNT.record_id
    assert allocation.what_not_set == ((CASE, NotRecordedReason.ONE_WHAT_PER_ACTIVITY),)


def test_a_lead_cannot_carry_a_what_id():
    allocation = apply_allowances([record("Lead", "L1")], "outgoing", True, ACCOUNT)
    assert allocation.what_id is None
    assert allocation.what_not_set == ((ACCOUNT, NotRecordedReason.LEAD_CANNOT_HAVE_WHAT),)


def test_a_single_who_org_keeps_the_what_id_with_a_contact():
    allocation = apply_allowances([record("Contact", "C1"), record("Contact", "C2", position=1)], "outgoing", False, [ACCOUNT])
    assert (allocation.who_id, allocation.what_id) == ("C1", ACCOUNT.record_id)


def test_no_matched_record_means_nothing_to_record_and_no_what_id():
    allocation = apply_allowances([], "outgoing", True, [ACCOUNT])
    assert (allocation.who_id, allocation.what_id, allocation.recorded) == (None, None, ())


def test_a_record_matched_through_two_addresses_is_recorded_once():
    allocation = apply_allowances([record("Contact", "C1", "to", 0), record("Contact", "C1", "cc", 1)], "outgoing", True)
    assert [r.record_id for r in allocation.recorded] == ["C1"]
    assert allocation.not_recorded == ()


matched_records = st.lists(
    st.builds(
        record,
        sobject=st.sampled_from(["Contact", "Lead"]),
        record_id=st.integers(0, 10_000).map(lambda n: f"R{n:05}"),
        role=st.sampled_from(["from", "to", "cc", "bcc"]),
        position=st.integers(0, 80),
        created=st.one_of(st.none(), st.datetimes().map(lambda d: d.isoformat())),
    ),
    max_size=80,
)


@settings(max_examples=150, deadline=None)
@given(matched_records, st.sampled_from(["incoming", "outgoing"]), st.booleans(), st.booleans())
def test_an_activity_carries_one_lead_or_up_to_fifty_contacts_never_a_mix(records, direction, shared, hinted):
    allocation = apply_allowances(records, direction, shared, [ACCOUNT] if hinted else [])
    kinds = {r.sobject for r in allocation.recorded}
    assert len(kinds) <= 1
    if kinds == {"Lead"}:
        assert len(allocation.recorded) == 1
    assert len(allocation.recorded) <= (CONTACT_LIMIT if shared else 1)
    # Every matched record is shown exactly once: recorded, or not recorded with a reason.
    shown = [r.record_id for r in allocation.recorded] + [n.record.record_id for n in allocation.not_recorded]
    assert sorted(shown) == sorted({r.record_id for r in records})
    # A WhatId only ever sits beside a contact Who.
    if allocation.what_id:
        assert allocation.recorded[0].sobject == "Contact"
    if records and hinted:
        assert (allocation.what_id is not None) == (allocation.recorded[0].sobject == "Contact")
