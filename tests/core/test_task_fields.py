"""The Task record of SPEC section 3 and its external id, Mailferry_Key__c."""

from __future__ import annotations

import re
from datetime import datetime, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mailferry.allowances import (
    DESCRIPTION_LENGTH,
    SUBJECT_LENGTH,
    apply_allowances,
    normalise_message_id,
    task_description,
    task_fields,
    task_key,
    task_subject,
    utf16_length,
)
from mailferry.decision import Participant, RelatedTo

from .builders import record

WHEN = datetime(2026, 11, 26, 3, 30, tzinfo=timezone.utc)
PEOPLE = (
    Participant("from", "jane@acme.example", "Jane Doe"),
    Participant("to", "rep@mailferry-customer.example", "Rep"),
    Participant("cc", "bob@globex.example"),
    Participant("bcc", "secret@hidden.example", "Secret Person"),
)
CONTACT_WITH_ACCOUNT = apply_allowances(
    [record("Contact", "003A")], "incoming", True, [RelatedTo("Account", "001xx000003DGb2AAG", "a@s.example")]
)


def fields(**overrides):
    arguments = dict(
        subject="Quarterly review",
        participants=PEOPLE,
        message_date=WHEN,
        body="Hello,\r\nsee you soon.",
        time_zone="Europe/Paris",
        owner_id="005000000000001AAA",
        allocation=CONTACT_WITH_ACCOUNT,
    )
    arguments.update(overrides)
    return task_fields(**arguments)


def test_a_task_is_a_completed_email_owned_by_the_user_with_who_and_what():
    task = fields()
    assert task["TaskSubtype"] == "Email"
    assert task["Status"] == "Completed"
    assert task["Subject"] == "Email: Quarterly review"
    assert task["OwnerId"] == "005000000000001AAA"
    assert task["WhoId"] == "003A"
    assert task["WhatId"] == "001xx000003DGb2AAG"
    assert task["ActivityDate"] == "2026-11-26"


def test_a_lead_task_has_no_what_id():
    task = fields(allocation=apply_allowances([record("Lead", "00QA")], "incoming", True))
    assert task["WhoId"] == "00QA"
    assert "WhatId" not in task


def test_the_activity_date_is_the_message_date_in_the_users_time_zone():
    assert fields(time_zone="America/New_York")["ActivityDate"] == "2026-11-25"
    assert fields(time_zone="Asia/Tokyo")["ActivityDate"] == "2026-11-26"


def test_a_naive_message_date_is_taken_as_utc_and_a_bad_time_zone_falls_back_to_utc():
    assert fields(message_date=datetime(2026, 11, 26, 3, 30), time_zone="America/New_York")["ActivityDate"] == "2026-11-25"
    assert fields(time_zone="Not/AZone")["ActivityDate"] == "2026-11-26"


def test_without_a_message_date_the_task_has_no_activity_date():
    assert "ActivityDate" not in fields(message_date=None)


def test_the_description_has_a_header_block_then_the_body():
    description = fields()["Description"]
    header, body = description.split("\n\n", 1)
    assert header.splitlines() == [
        "From: Jane Doe <jane@acme.example>",
        "To: Rep <rep@mailferry-customer.example>",
        "Cc: bob@globex.example",
        "Date: 2026-11-26 04:30 CET (Europe/Paris)",
    ]
    assert body == "Hello,\nsee you soon."


def test_bcc_recipients_never_appear_in_the_task():
    assert "secret" not in fields()["Description"].lower()


def test_a_missing_from_is_shown_as_no_address():
    description = task_description([Participant("to", "a@b.example")], None, "", "UTC")
    assert description.startswith("From: (no address)\nTo: a@b.example")


@pytest.mark.parametrize(
    "subject, expected",
    [
        ("", "Email: (no subject)"),
        (None, "Email: (no subject)"),
        ("  Re:\r\n  Offer\t2026 ", "Email: Re: Offer 2026"),
        ("<script>alert(1)</script>", "Email: <script>alert(1)</script>"),
    ],
)
def test_the_subject_is_prefixed_and_kept_on_one_line(subject, expected):
    assert task_subject(subject) == expected


def test_an_enormous_subject_is_cut_to_255_with_an_ellipsis():
    subject = task_subject("x" * 10_000)
    assert utf16_length(subject) == SUBJECT_LENGTH
    assert subject.startswith("Email: xxx") and subject.endswith("…")


def test_subject_length_counts_emoji_as_salesforce_does():
    subject = task_subject("😀" * 300)
    assert utf16_length(subject) <= SUBJECT_LENGTH
    assert "\ud83d" not in subject  # never half an emoji


def test_a_long_body_is_cut_to_32000_with_a_visible_marker():
    description = fields(body="word " * 20_000)["Description"]
    assert utf16_length(description) <= DESCRIPTION_LENGTH
    assert re.search(r"\[… Mailferry cut the email here: [\d,]+ more characters are in the mailbox\.\]$", description)


def test_the_marker_counts_exactly_the_characters_cut():
    body = "a" * 40_000
    description = task_description([], None, body, "UTC")
    shown = description.split("\n\n[…")[0]
    cut = int(re.search(r"here: ([\d,]+) more", description).group(1).replace(",", ""))
    full = task_description([], None, "", "UTC") + body
    assert len(shown) + cut == len(full)


def test_a_body_within_the_limit_has_no_marker():
    assert "Mailferry cut" not in fields(body="short")["Description"]


def test_a_huge_recipient_list_is_summarised_in_the_header():
    crowd = [Participant("to", f"person{i}@example.com", f"Person {i}") for i in range(5_000)]
    description = task_description(crowd, WHEN, "body", "UTC")
    to_line = next(line for line in description.splitlines() if line.startswith("To: "))
    assert len(to_line) <= 2_100 and re.search(r"… and \d+ more$", to_line)
    assert description.endswith("body")


def test_control_characters_in_the_body_are_removed_but_lines_kept():
    description = task_description([], None, "a\x00b\x07c\nd\te", "UTC")
    assert description.endswith("abc\nd\te")


@settings(max_examples=100, deadline=None)
@given(st.text(max_size=400), st.text(max_size=3_000), st.text(max_size=60))
def test_any_subject_and_body_fit_the_task_fields(subject, body, name):
    task = task_fields(
        subject=subject * 30,
        participants=[Participant("from", name, name), Participant("to", "a@b.example", name)],
        message_date=WHEN,
        body=body * 15,
        time_zone="UTC",
        owner_id="005",
        allocation=CONTACT_WITH_ACCOUNT,
    )
    assert utf16_length(task["Subject"]) <= SUBJECT_LENGTH
    assert utf16_length(task["Description"]) <= DESCRIPTION_LENGTH
    assert "\n" not in task["Subject"]


KEY_SHAPE = re.compile(r"^mf1-[0-9a-f]{64}$")


def test_the_task_key_is_deterministic_short_and_url_safe():
    key = task_key(7, 42, "<CAF=abc/def+ghi%20@mail.example.com>")
    assert key == task_key("7", "42", "<CAF=abc/def+ghi%20@mail.example.com>")
    assert KEY_SHAPE.match(key) and len(key) <= 255


def test_the_task_key_ignores_angle_brackets_and_padding_but_not_case():
    assert task_key(1, 1, " <Abc@host> ") == task_key(1, 1, "Abc@host")
    assert task_key(1, 1, "Abc@host") != task_key(1, 1, "abc@host")


def test_the_task_key_differs_by_tenant_user_and_message():
    keys = {task_key(1, 1, "m@h"), task_key(2, 1, "m@h"), task_key(1, 2, "m@h"), task_key(1, 1, "n@h")}
    assert len(keys) == 4


def test_the_task_key_parts_cannot_run_into_each_other():
    assert task_key("1", "23", "m@h") != task_key("12", "3", "m@h")


def test_a_task_key_needs_a_message_id():
    with pytest.raises(ValueError, match="internetMessageId"):
        task_key(1, 1, "  <>  ")


@settings(max_examples=100, deadline=None)
@given(st.integers(), st.text(min_size=1, max_size=30), st.text(min_size=1, max_size=2_000).filter(normalise_message_id))
def test_every_task_key_fits_the_field_and_a_url_path(tenant, user, message_id):
    assert KEY_SHAPE.match(task_key(tenant, user, message_id))
