"""Graph message JSON → GraphMessage: malformed and hostile payloads parse, never raise."""

from __future__ import annotations

import datetime as dt

from hypothesis import given, settings
from hypothesis import strategies as st

from worker.microsoft.messages import EmailAddress, GraphMessage, parse_datetime, parse_message


def recipient(address, name="Someone"):
    return {"emailAddress": {"name": name, "address": address}}


def test_missing_from_and_sender_and_empty_recipients_give_none_and_empty():
    message = parse_message({"id": "AAMk1", "subject": "No one", "toRecipients": [], "ccRecipients": None})
    assert message.from_ is None and message.sender is None and message.originator is None
    assert message.to == message.cc == message.bcc == ()
    assert message.internet_message_id is None and message.body_text is None
    assert message.received_at is None and message.categories == () and message.is_draft is False


def test_recipients_without_an_address_are_dropped_and_odd_shapes_ignored():
    message = parse_message({"id": "AAMk2", "toRecipients": [
        recipient("  padded@example.com  ", None), recipient(""), {"emailAddress": None}, None, "x@y.z",
        {"emailAddress": {"address": 42}}, recipient("keep@example.com", "Keep"),
    ]})
    assert message.to == (EmailAddress("", "padded@example.com"), EmailAddress("Keep", "keep@example.com"))


def test_hostile_addresses_and_names_are_kept_verbatim_for_the_core_to_judge():
    hostile = [
        recipient('"quoted\\"name"@example.com', 'O\'Brien, "The Boss" \\ <script>'),
        recipient("user@bücher.example", "Jürgen"),
        recipient("not-an-address", "Just a name"),
        recipient("a@b@c", ""),
    ]
    message = parse_message({"id": "AAMk3", "from": hostile[0], "ccRecipients": hostile[1:]})
    assert message.from_ == EmailAddress('O\'Brien, "The Boss" \\ <script>', '"quoted\\"name"@example.com')
    assert [a.address for a in message.cc] == ["user@bücher.example", "not-an-address", "a@b@c"]


def test_huge_subject_and_null_subject():
    assert parse_message({"id": "A", "subject": "x" * 100_000}).subject == "x" * 100_000
    assert parse_message({"id": "A", "subject": None}).subject == ""


def test_dates_with_seven_fraction_digits_offsets_or_garbage():
    assert parse_datetime("2026-11-01T09:00:00Z") == dt.datetime(2026, 11, 1, 9, tzinfo=dt.timezone.utc)
    assert parse_datetime("2026-11-01T09:00:00.1234567Z") == \
        dt.datetime(2026, 11, 1, 9, 0, 0, 123456, tzinfo=dt.timezone.utc)
    assert parse_datetime("2026-11-01T10:00:00+01:00") == dt.datetime(2026, 11, 1, 9, tzinfo=dt.timezone.utc)
    assert parse_datetime("2026-11-01T09:00:00") == dt.datetime(2026, 11, 1, 9, tzinfo=dt.timezone.utc)
    for junk in ("yesterday", "", None, 17, "2026-13-45T99:00:00Z"):
        assert parse_datetime(junk) is None


def test_html_body_is_turned_into_text_when_a_server_ignores_the_text_preference():
    message = parse_message({"id": "A", "body": {"contentType": "html", "content":
        "<html><head><style>p{}</style></head><body><p>Hello&nbsp;<b>Bob</b></p><script>x()</script>"
        "<div>Line 2</div></body></html>"}})
    assert message.body_text == "Hello\xa0Bob\nLine 2"
    assert parse_message({"id": "A", "body": {"contentType": "text", "content": "<b>kept</b>"}}).body_text == "<b>kept</b>"


def test_categories_keep_only_strings():
    assert parse_message({"id": "A", "categories": ["CRM", None, 3, "DoNotSync"]}).categories == ("CRM", "DoNotSync")
    assert parse_message({"id": "A", "categories": "CRM"}).categories == ()


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=20,
)
message_keys = st.sampled_from([
    "id", "internetMessageId", "conversationId", "subject", "from", "sender", "toRecipients", "ccRecipients",
    "bccRecipients", "receivedDateTime", "sentDateTime", "categories", "parentFolderId", "isDraft", "body",
])


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(message_keys, json_values | st.just({"emailAddress": {"name": None, "address": "a@b"}})))
def test_any_json_shape_parses_into_a_graph_message_without_raising(payload):
    message = parse_message(payload)
    assert isinstance(message, GraphMessage)
    assert isinstance(message.subject, str) and isinstance(message.id, str)
    for group in (message.to, message.cc, message.bcc):
        assert all(isinstance(a.address, str) and a.address for a in group)
    assert message.received_at is None or message.received_at.tzinfo is not None
