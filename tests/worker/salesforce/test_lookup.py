"""find_people / find_related: many addresses per call, under the URI limit, quoted safely,
matched back exactly and case-insensitively; converted leads never match."""

from __future__ import annotations

import itertools

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from simple_salesforce import format_soql

from worker.salesforce.batching import MAX_REQUEST_BYTES, header_bytes, in_list_queries
from worker.salesforce.lookup import CONTACT_QUERY, MatchCache, Person, find_people, find_people_cached, find_related

HOSTILE = [
    "o'brien@quotes.example",
    "back\\slash@quotes.example",
    "percent%sign@wild.example",
    "under_score@wild.example",
    "zoë.müller@xn--bcher-kva.example",
    "名前@unicode.example",
    "semi;colon,comma@odd.example",
    "x') OR Email != ('@inject.example",
]
# Not storable as a Contact Email, but a query for it must still be harmless.
UNSTORABLE = ["\"quoted local\"@quotes.example", "x\\') OR Id != null OR Email IN ('@inject.example"]


def contact(email: str, last: str = "Person", **extra) -> dict:
    return {"LastName": last, "Email": email, **extra}


def test_a_thousand_addresses_take_two_calls_and_every_match_comes_back(salesforce_control, salesforce_session):
    matched = [f"known{n:04d}@bulk-lookup.example" for n in range(300)]
    leads = [f"lead{n:04d}@bulk-lookup.example" for n in range(100)]
    salesforce_control.plant("Contact", [contact(a) for a in matched])
    salesforce_control.plant("Lead", [{"LastName": "L", "Company": "C", "Email": a} for a in leads])
    unknown = [f"nobody{n:04d}@bulk-lookup.example" for n in range(600)]
    asked = matched + leads + unknown
    salesforce_control.reset_stats()
    calls_before = salesforce_session.calls
    found = find_people(salesforce_session, asked)
    used = salesforce_session.calls - calls_before
    print(f"\nfind_people: {len(asked)} addresses in {used} Salesforce API calls")
    assert used == salesforce_control.data_calls() <= 2
    assert set(found) == set(asked)
    assert all(len(found[a]) == 1 and found[a][0].sobject_type == "Contact" for a in matched)
    assert all(len(found[a]) == 1 and found[a][0].sobject_type == "Lead" for a in leads)
    assert all(found[a] == [] for a in unknown)
    assert "URI_TOO_LONG" not in str(salesforce_control.stats())


def test_every_statement_stays_under_the_uri_limit_even_with_long_addresses(salesforce_session):
    long_ones = [f"{'x' * 60}{n:05d}@{'long-domain' * 1}.example" for n in range(2000)]
    statements = in_list_queries(salesforce_session, CONTACT_QUERY, long_ones)
    budget = MAX_REQUEST_BYTES - header_bytes(salesforce_session)
    assert len(statements) > 5
    assert all(salesforce_session.query_uri_bytes(s) <= budget for s in statements)
    # Nothing lost, nothing doubled.
    covered = [a for s in statements for a in long_ones if format_soql("{}", a) in s]
    assert sorted(covered) == sorted(long_ones)


def test_chunked_get_queries_really_pass_the_sandbox_size_check(salesforce_control, salesforce_session):
    addresses = [f"{'y' * 60}{n:05d}@long.example" for n in range(600)]
    salesforce_control.plant("Contact", contact(addresses[-1]))
    found = find_people(salesforce_session, addresses)
    assert [p.email for p in found[addresses[-1]]] == [addresses[-1]]


def test_hostile_addresses_match_exactly_and_break_nothing(salesforce_control, salesforce_session):
    salesforce_control.plant("Contact", [contact(a, last=f"H{n}") for n, a in enumerate(HOSTILE[:-1])])
    # Wildcard look-alikes that must NOT match the % and _ addresses.
    salesforce_control.plant("Contact", [contact("percentXsign@wild.example"), contact("underXscore@wild.example")])
    found = find_people(salesforce_session, HOSTILE + UNSTORABLE + ["percent_sign@wild.example", "under%score@wild.example"])
    for address in HOSTILE[:-1]:
        assert [p.email for p in found[address]] == [address], address
    assert found["x') OR Email != ('@inject.example"] == []
    assert all(found[a] == [] for a in UNSTORABLE)
    assert found["percent_sign@wild.example"] == [] and found["under%score@wild.example"] == []


def test_matching_is_case_insensitive_and_answers_in_the_spelling_asked(salesforce_control, salesforce_session):
    salesforce_control.plant("Contact", contact("Cat.Upper@Globex-Case.example"))
    found = find_people(salesforce_session, ["cat.upper@globex-case.example", "CAT.UPPER@GLOBEX-CASE.EXAMPLE"])
    assert [p.email for p in found["cat.upper@globex-case.example"]] == ["Cat.Upper@Globex-Case.example"]
    assert found["CAT.UPPER@GLOBEX-CASE.EXAMPLE"] == found["cat.upper@globex-case.example"]


def test_converted_leads_are_excluded_and_contacts_come_first_oldest_first(salesforce_control, salesforce_session):
    address = "shared@convert.example"
    older, newer = salesforce_control.plant("Contact", [
        contact(address, last="Older", CreatedDate="2025-01-01T00:00:00.000+0000"),
        contact(address, last="Newer", CreatedDate="2026-01-01T00:00:00.000+0000"),
    ])
    open_lead, converted = salesforce_control.plant("Lead", [
        {"LastName": "Open", "Company": "C", "Email": address},
        {"LastName": "Done", "Company": "C", "Email": address},
    ])
    salesforce_control.http.post(f"{salesforce_control.url}/_sandbox/leads/{converted}/convert", json={"contact_id": older}).raise_for_status()
    people = find_people(salesforce_session, [address])[address]
    assert [(p.sobject_type, p.id) for p in people] == [("Contact", older), ("Contact", newer), ("Lead", open_lead)]
    assert isinstance(people[0], Person) and people[0].name == "Older" and people[0].created_date


def test_empty_and_impossible_addresses_cost_no_call(salesforce_session):
    before = salesforce_session.calls
    found = find_people(salesforce_session, ["", "x" * 81 + "@toolong.example", "ctl\x01char@x.example"])
    assert salesforce_session.calls == before and all(v == [] for v in found.values())
    assert find_people(salesforce_session, []) == {}


def test_the_match_cache_answers_repeats_without_calls_and_expires(salesforce_control, salesforce_session):
    salesforce_control.plant("Contact", contact("cached@cache.example"))
    now = [0.0]
    cache = MatchCache(ttl=60, clock=lambda: now[0])
    first = find_people_cached(salesforce_session, ["cached@cache.example", "miss@cache.example"], cache)
    before = salesforce_session.calls
    again = find_people_cached(salesforce_session, ["CACHED@cache.example", "miss@cache.example"], cache)
    assert salesforce_session.calls == before
    assert again["CACHED@cache.example"] == first["cached@cache.example"] and again["miss@cache.example"] == []
    now[0] = 61.0
    find_people_cached(salesforce_session, ["cached@cache.example"], cache)
    assert salesforce_session.calls == before + 1


def test_find_related_says_which_smart_address_records_exist(salesforce_control, salesforce_session):
    account = salesforce_control.plant("Account", {"Name": "Smart Co"})[0]
    case = salesforce_control.plant("Case", {"Subject": "Help", "AccountId": account})[0]
    missing_account = account[:3] + "ZZZZZZZZZZZZ"
    found = find_related(salesforce_session, [account, case[:15], missing_account, "003000000000001AAA", "not-an-id"])
    assert found == {account: "Account", case[:15]: "Case"}
    assert find_related(salesforce_session, []) == {}


_EXAMPLES = itertools.count()
_LOCAL_ALPHABET = "ab'\\\"%_.-+!#$&*=?^`{|}~zé名\u00df"


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(local=st.text(alphabet=_LOCAL_ALPHABET, min_size=1, max_size=20))
def test_any_quoting_hostile_address_matches_itself_and_nothing_else(salesforce_control, salesforce_session, local):
    # A fresh domain per example: the org is reset per test, not per example.
    address = f"{local}@prop{next(_EXAMPLES)}.example"
    decoy = "x" + address  # would match only if a wildcard or a broken quote leaked through
    salesforce_control.plant("Contact", [{"LastName": "Prop", "Email": address}, {"LastName": "Decoy", "Email": decoy}])
    found = find_people(salesforce_session, [address, address.upper()])
    assert [p.email for p in found[address]] == [address]


def test_more_matches_than_one_page_are_all_returned(salesforce_control, salesforce_session):
    salesforce_control.plant("Contact", [contact("popular@pages.example", last=f"P{n}") for n in range(2_100)])
    before = salesforce_session.calls
    people = find_people(salesforce_session, ["popular@pages.example"])["popular@pages.example"]
    assert len(people) == 2_100 and len({p.id for p in people}) == 2_100
    assert salesforce_session.calls - before == 2  # the Composite call, then one query_more page
