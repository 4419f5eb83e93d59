"""The query evaluator against a plain-Python model of SOQL's matching rules, on random data."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st
from simple_salesforce.format import format_soql

from sandbox.salesforce.query import QueryEngine
from sandbox.salesforce.store import Org

# Small alphabets make collisions (same address in another case) and hostile characters likely.
LOCAL = st.text(alphabet="aAbB'\\%_.", min_size=1, max_size=4)
EMAILS = st.builds(lambda local, domain: f"{local}@{domain}.example", LOCAL, st.sampled_from(["x", "X", "y"]))


def org_with(emails: list[str]) -> tuple[Org, QueryEngine, dict[str, str]]:
    org = Org()
    org.load({"User": [{"Username": "u@x.example", "Email": "u@x.example", "LastName": "U"}]})
    by_id = {}
    for i, email in enumerate(emails):
        record_id = org.insert_raw("Contact", {"LastName": f"C{i}", "Email": email})
        by_id[record_id] = email
    return org, QueryEngine(org), by_id


@settings(max_examples=60, deadline=None)
@given(st.lists(EMAILS, max_size=15), st.lists(EMAILS, min_size=1, max_size=6))
def test_email_in_matches_exactly_the_case_insensitive_equals(stored, wanted):
    _, engine, by_id = org_with(stored)
    total, rows = engine.run(format_soql("SELECT Id, Email FROM Contact WHERE Email IN {}", wanted), False, "59.0")
    expected = {i for i, e in by_id.items() if e.lower() in {w.lower() for w in wanted}}
    assert {r["Id"] for r in rows} == expected and total == len(expected)
    _, not_rows = engine.run(format_soql("SELECT Id FROM Contact WHERE Email NOT IN {}", wanted), False, "59.0")
    assert {r["Id"] for r in not_rows} == set(by_id) - expected


@settings(max_examples=60, deadline=None)
@given(st.lists(EMAILS, max_size=15), LOCAL)
def test_like_prefix_with_escaped_wildcards_matches_a_literal_prefix(stored, prefix):
    _, engine, by_id = org_with(stored)
    _, rows = engine.run(format_soql("SELECT Id FROM Contact WHERE Email LIKE '{:like}%'", prefix), False, "59.0")
    expected = {i for i, e in by_id.items() if e.lower().startswith(prefix.lower())}
    assert {r["Id"] for r in rows} == expected


@settings(max_examples=40, deadline=None)
@given(st.lists(EMAILS, max_size=15), st.booleans(), st.integers(min_value=0, max_value=5),
       st.integers(min_value=0, max_value=5))
def test_order_limit_offset_follow_a_case_insensitive_sort(stored, descending, limit, offset):
    _, engine, by_id = org_with(stored)
    order = "DESC" if descending else "ASC"
    _, rows = engine.run(f"SELECT Id, Email FROM Contact ORDER BY Email {order}, Id LIMIT {limit} OFFSET {offset}",
                         False, "59.0")
    emails = sorted(by_id.values(), key=str.lower, reverse=descending)
    got = [r["Email"].lower() for r in rows]
    assert got == [e.lower() for e in emails][offset:offset + limit]


def test_like_translates_to_an_anchored_case_insensitive_pattern():
    _, engine, _ = org_with(["ab@x.example", "xab@x.example", "AB@X.EXAMPLE"])
    _, rows = engine.run("SELECT Email FROM Contact WHERE Email LIKE 'ab@%'", False, "59.0")
    assert sorted(r["Email"] for r in rows) == ["AB@X.EXAMPLE", "ab@x.example"]
