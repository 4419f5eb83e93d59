"""The SOQL tokenizer and parser on their own: escapes, grammar, and hostile input (reference 2.3)."""

from __future__ import annotations

import re
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from simple_salesforce.format import format_soql

from sandbox.salesforce.query import like_match
from sandbox.salesforce.soql import ANY_RUN, Compare, Logic, SoqlError, parse, tokenize


def literal_of(soql_literal: str):
    [token, _end] = tokenize(soql_literal)
    assert token.kind == "string"
    return token.value


@pytest.mark.parametrize("escaped, value", [
    (r"'\n'", "\n"), (r"'\N'", "\n"), (r"'\r'", "\r"), (r"'\R'", "\r"), (r"'\t'", "\t"), (r"'\T'", "\t"),
    (r"'\b'", "\b"), (r"'\B'", "\b"), (r"'\f'", "\f"), (r"'\F'", "\f"), (r"'\"'", '"'), (r"'\''", "'"),
    (r"'\\'", "\\"), (r"'\u00e9'", "é"), (r"'caf\u00E9 ok'", "café ok"),
])
def test_every_documented_escape_decodes(escaped, value):
    assert literal_of(escaped) == value


@pytest.mark.parametrize("bad", [r"'\q'", r"'\x41'", r"'\u12'", "'open", "'trailing\\"])
def test_other_escapes_and_unterminated_literals_are_malformed(bad):
    with pytest.raises(SoqlError) as raised:
        tokenize(bad)
    assert raised.value.code == "MALFORMED_QUERY"


def test_like_escapes_are_literal_inside_like_patterns_only():
    [token, _] = tokenize(r"'50\%\_off%'")
    assert token.value == "50%_off%" and token.like_escape
    assert token.like == ("5", "0", "%", "_", "o", "f", "f", ANY_RUN)  # escaped ones are literal


def test_parser_builds_and_or_not_trees_and_rejects_mixing_without_parentheses():
    query = parse("SELECT Id FROM Contact WHERE (A = 'x' OR B = 'y') AND NOT C IN ('1','2')")
    assert isinstance(query.where, Logic) and query.where.op == "AND"
    assert query.where.parts[0].op == "OR" and query.where.parts[1].op == "NOT"
    assert isinstance(query.where.parts[1].parts[0], Compare) and query.where.parts[1].parts[0].op == "IN"
    with pytest.raises(SoqlError):
        parse("SELECT Id FROM Contact WHERE A = 'x' OR B = 'y' AND C = 'z'")


def test_keywords_are_case_insensitive_and_order_defaults_follow_salesforce():
    query = parse("select id from contact where email != null order by Email desc, LastName limit 5 offset 2")
    assert query.limit == 5 and query.offset == 2
    assert query.order[0].descending and query.order[0].nulls_last
    assert not query.order[1].descending and not query.order[1].nulls_last


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_any_value_quoted_by_format_soql_reads_back_exactly(value):
    assert literal_of(format_soql("{}", value)) == value


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=200))
def test_arbitrary_text_only_ever_fails_as_a_soql_error(text):
    try:
        parse("SELECT Id FROM Contact WHERE " + text)
    except SoqlError as error:
        assert error.status == 400 and error.code in ("MALFORMED_QUERY", "QUERY_TOO_COMPLICATED")


@settings(max_examples=200, deadline=None)
@given(st.lists(st.text(min_size=1, max_size=30), min_size=1, max_size=20))
def test_in_lists_of_hostile_strings_parse_to_the_same_values(values):
    query = parse(format_soql("SELECT Id FROM Contact WHERE Email IN {}", values))
    assert [v.value for v in query.where.values] == values


def test_deep_nesting_is_refused_not_recursed():
    nested = "SELECT Id FROM Contact WHERE " + "(" * 5000 + "Email = 'a'" + ")" * 5000
    with pytest.raises(SoqlError) as raised:
        parse(nested)
    assert raised.value.code == "QUERY_TOO_COMPLICATED"
    with pytest.raises(SoqlError):
        parse("SELECT Id FROM Contact WHERE " + "NOT " * 5000 + "Email = 'a'")
    assert parse("SELECT Id FROM Contact WHERE " + "(" * 30 + "Email = 'a'" + ")" * 30).where.op == "="


def test_hostile_like_patterns_stay_fast():
    pattern = tokenize("'" + "%a" * 40 + "%b'")[0].like
    started = time.perf_counter()
    assert not like_match(pattern, "a" * 255)
    assert time.perf_counter() - started < 0.5


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet="aA%_b", max_size=8), st.text(alphabet="aAbB", max_size=10))
def test_like_matching_agrees_with_a_regex_model(pattern_text, text):
    pattern = tokenize("'" + pattern_text + "'")[0].like
    model = "".join(".*" if c == "%" else "." if c == "_" else re.escape(c) for c in pattern_text)
    expected = re.fullmatch(model, text, re.IGNORECASE | re.DOTALL) is not None
    assert like_match(tuple(p.lower() if isinstance(p, str) else p for p in pattern), text) == expected
