"""Addresses: canonical form, domains, Ignore / Global Exclusion List entries, display names."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mailferry.addresses import (
    EntryList,
    ListEntry,
    PersonName,
    check_entry_lines,
    check_list_entry,
    domain_for_display,
    domain_matches,
    domain_of,
    normalise_address,
    parse_address,
    same_address,
    split_display_name,
)

CANONICAL = [
    ("jane@acme.example", "jane@acme.example"),
    ("  Jane.Doe@ACME.Example \t", "jane.doe@acme.example"),
    ("<jane@acme.example>", "jane@acme.example"),
    ("mailto:Jane@acme.example", "jane@acme.example"),
    ("jane@acme.example.", "jane@acme.example"),
    ('"jane"@acme.example', "jane@acme.example"),
    ('"Jane Doe"@acme.example', '"jane doe"@acme.example'),
    ('"a\\"b"@acme.example', '"a\\"b"@acme.example'),
    ('"a\\\\b"@acme.example', '"a\\\\b"@acme.example'),
    ('"a@b"@acme.example', '"a@b"@acme.example'),
    ("o'brien+news@acme.example", "o'brien+news@acme.example"),
    ("jane@Bücher.example", "jane@xn--bcher-kva.example"),
    ("jane@xn--bcher-kva.example", "jane@xn--bcher-kva.example"),
    ("ü@例え.テスト", "ü@xn--r8jz45g.xn--zckzah"),
    ("jane\u200b@acme\u200d.example", "jane@acme.example"),
    ("\u202ejane@acme.example", "jane@acme.example"),
]


@pytest.mark.parametrize("raw, canonical", CANONICAL)
def test_addresses_are_canonicalised_for_comparison(raw, canonical):
    assert normalise_address(raw) == canonical


INVALID = [
    (None, "empty address"),
    ("", "empty address"),
    ("   ", "empty address"),
    ("jane", "no @"),
    ("@acme.example", "nothing before the @"),
    ("jane@", "no domain"),
    ("a..b@acme.example", "misplaced dots"),
    (".a@acme.example", "misplaced dots"),
    ("a\\b@acme.example", "need quotes"),
    ("a b@acme.example", "need quotes"),
    ('"unterminated@acme.example', "no @"),
    ('"a"b"@acme.example', "no @"),
    ("jane@localhost", "needs a dot"),
    ("jane@[192.0.2.1]", "IP-address"),
    ("jane@acme..example", "empty label"),
    ("jane@-acme.example", "letters, digits"),
    ("jane@acme_corp.example", "letters, digits"),
    ("jane@acme.123", "numeric"),
    ("jane\n@acme.example", "control characters"),
    ("x" * 65 + "@acme.example", "64 octets"),
    ("jane@" + "a" * 64 + ".example", "letters, digits"),
    ("jane@" + ".".join(["abcdefgh"] * 30) + ".example", "longer than 253"),
]


@pytest.mark.parametrize("raw, message", INVALID)
def test_invalid_addresses_are_reported_with_a_reason_not_raised(raw, message):
    parsed = parse_address(raw)
    assert not parsed.valid
    assert message in parsed.error


def test_an_invalid_address_still_has_a_best_effort_domain_for_exclusions():
    assert parse_address("a\\b@EU.Acme.example").domain == "eu.acme.example"


def test_same_address_ignores_case_padding_and_idna_form():
    assert same_address(" Jane@Bücher.example", "jane@XN--BCHER-KVA.example")
    assert not same_address("jane@acme.example", "jane@acme.example.org")
    assert not same_address("", "")


def test_domain_of_gives_the_canonical_domain():
    assert domain_of("Jane@EU.Bücher.example") == "eu.xn--bcher-kva.example"
    assert domain_for_display("eu.xn--bcher-kva.example") == "eu.bücher.example"


@pytest.mark.parametrize(
    "entry, domain, expected",
    [
        ("example.com", "example.com", True),
        ("example.com", "eu.example.com", True),
        ("example.com", "a.b.eu.example.com", True),
        ("Example.COM", "EU.example.com.", True),
        ("example.com", "badexample.com", False),
        ("example.com", "example.com.evil.org", False),
        ("eu.example.com", "example.com", False),
        ("bücher.example", "shop.xn--bcher-kva.example", True),
        ("example.com", "not a domain", False),
    ],
)
def test_a_domain_entry_matches_the_domain_and_its_subdomains_only(entry, domain, expected):
    assert domain_matches(entry, domain) is expected


label = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789", min_size=1, max_size=8)
domain = st.lists(label, min_size=1, max_size=3).map(lambda labels: ".".join(labels) + ".example")


@settings(max_examples=200, deadline=None)
@given(domain, st.lists(label, max_size=3), label)
def test_domain_entries_match_every_subdomain_and_no_look_alike(entry, sub_labels, prefix):
    subdomain = ".".join([*sub_labels, entry])
    assert domain_matches(entry, subdomain)
    assert not domain_matches(entry, prefix + entry)  # "badexample.com"
    assert EntryList.of([entry]).matches(f"x@{subdomain}")
    assert not EntryList.of([entry]).matches(f"x@{prefix}{entry}")


@settings(max_examples=200, deadline=None)
@given(domain, domain)
def test_domain_matching_is_exactly_equal_or_dot_suffix(entry, other):
    assert domain_matches(entry, other) == (other == entry or other.endswith("." + entry))


ENTRIES = [
    ("example.com", ListEntry("domain", "example.com")),
    ("  EXAMPLE.com  ", ListEntry("domain", "example.com")),
    ("@example.com", ListEntry("domain", "example.com")),
    ("*@example.com", ListEntry("domain", "example.com")),
    ("*.example.com", ListEntry("domain", "example.com")),
    (".example.com", ListEntry("domain", "example.com")),
    ("bücher.example", ListEntry("domain", "xn--bcher-kva.example")),
    ("Jane@Example.com", ListEntry("address", "jane@example.com")),
    ('"a b"@example.com', ListEntry("address", '"a b"@example.com')),
]


@pytest.mark.parametrize("raw, entry", ENTRIES)
def test_list_entries_are_addresses_or_domains_in_canonical_form(raw, entry):
    assert check_list_entry(raw).entry == entry


BAD_ENTRIES = [
    ("", "empty"),
    ("com", "bare top-level domain"),
    ("acme", "bare top-level domain"),
    ("a@b.com, c@d.com", "one address or domain per line"),
    ("a@b.com c@d.com", "one address or domain per line"),
    ("https://example.com/about", "web address"),
    ("example.com/path", "web address"),
    ("jane@", "not a valid address"),
    ("a..b@example.com", "not a valid address"),
    ("ex*ample.com", "wildcard"),
    ("exa_mple.com", "not a valid domain"),
    ("192.0.2.1", "not a valid domain"),
]


@pytest.mark.parametrize("raw, message", BAD_ENTRIES)
def test_invalid_list_entries_get_a_clear_message(raw, message):
    checked = check_list_entry(raw)
    assert checked.entry is None
    assert message in checked.error


def test_a_pasted_list_reports_each_bad_line_by_number_and_keeps_the_good_ones():
    result = check_entry_lines("acme.example\n\ncom\nJane@Globex.example\nACME.example\nnot valid\n")
    assert result.entries == (ListEntry("domain", "acme.example"), ListEntry("address", "jane@globex.example"))
    assert [(e.line_number, e.text) for e in result.errors] == [(3, "com"), (6, "not valid")]


def test_an_entry_list_matches_exact_addresses_and_domains_with_subdomains():
    entries = EntryList.of(["jane@acme.example", "globex.example", "not an entry"])
    assert entries.matches("JANE@acme.example")
    assert not entries.matches("john@acme.example")
    assert entries.matches("x@eu.globex.example")
    assert not entries.matches("x@myglobex.example")
    assert entries.matching_entry("x@eu.globex.example") == ListEntry("domain", "globex.example")
    assert len(entries.entries) == 2


NAMES = [
    ("Doe, Jane", "jane.doe@x.example", PersonName(first="Jane", last="Doe")),
    ("Jane Doe", None, PersonName(first="Jane", last="Doe")),
    ("Jane Q. Doe", None, PersonName(first="Jane", middle="Q.", last="Doe")),
    ("Doe, Jane Q.", None, PersonName(first="Jane", middle="Q.", last="Doe")),
    ("Dr. Jane Doe Jr.", None, PersonName(first="Jane", last="Doe", salutation="Dr.", suffix="Jr.")),
    ("Ludwig van Beethoven", None, PersonName(first="Ludwig", last="van Beethoven")),
    ('"Jane Doe (Acme)"', None, PersonName(first="Jane", last="Doe")),
    ("'Jane Doe'", None, PersonName(first="Jane", last="Doe")),
    ("Madonna", None, PersonName(last="Madonna")),
    ("Doe, Jr.", None, PersonName(last="Doe", suffix="Jr.")),
    ("", "jane.doe@x", PersonName(first="Jane", last="Doe")),
    (None, "jane_doe+news@x.example", PersonName(first="Jane", last="Doe")),
    ("jane.doe@x.example", "jane.doe@x.example", PersonName(first="Jane", last="Doe")),
    (None, "jdoe42@x.example", PersonName(last="Jdoe")),
    ("José Ñúñez", None, PersonName(first="José", last="Ñúñez")),
    ("\u202eJane\u200b Doe", None, PersonName(first="Jane", last="Doe")),
    (None, None, PersonName()),
]


@pytest.mark.parametrize("display, address, expected", NAMES)
def test_display_names_split_into_first_and_last_name(display, address, expected):
    assert split_display_name(display, address) == expected


def test_names_fit_salesforce_field_widths():
    name = split_display_name("A" * 500 + " " + "B" * 500)
    assert (len(name.first), len(name.last)) == (40, 80)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=80), st.text(max_size=80))
def test_parsing_any_text_never_raises(display, address):
    parse_address(address)
    check_list_entry(address)
    split_display_name(display, address)
    domain_matches(display, address)


def test_values_that_are_not_text_are_reported_as_empty_not_raised():
    for value in (None, 42, ["jane@acme.example"], {"address": "x"}):
        assert parse_address(value).error == "empty address"  # type: ignore[arg-type]
        assert not domain_matches(value, value)  # type: ignore[arg-type]
