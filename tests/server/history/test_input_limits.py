"""Malformed and oversized input on the signed-in pages answers 4xx with a message that says
what is wrong, never a 500 (issue 12, findings 2 and 4; docs/web.md "Request limits"): ids in
Sync History forms and the Ignore List URL, numeric settings (Edit, the admin's API share),
form fields too many or too long, bodies too large. Graph's webhooks:
tests/server/test_graph_webhook_limits.py; the add-in API: tests/addin/test_api_limits.py."""

from __future__ import annotations

import time

import pytest
from sqlalchemy.orm import Session

from mailferry.models import User
from server.request_limits import MAX_CONTENT_LENGTH, MAX_FIELD_CHARS, MAX_VALUES_PER_FIELD
from tests.server.history.helpers import csrf_token

#: Each is refused: not ASCII digits, more digits than an id has, far more than int() reads.
BAD_IDS = {"superscript": "²", "arabic-indic": "١٢", "full-width": "１２", "30-digits": "9" * 30,
           "5000-digits": "9" * 5000, "zero": "0", "negative": "-3"}


def _refused(response, status: int, *words: str) -> str:
    text = response.get_data(as_text=True)
    assert response.status_code == status, (response.status_code, text[:500])
    for word in words:
        assert word in text, text[:2000]
    return text


@pytest.mark.parametrize("value", BAD_IDS.values(), ids=BAD_IDS.keys())
def test_a_malformed_id_in_the_sync_history_save_is_a_400_naming_the_field(history_client, history_world, sync_queue, value):
    row = history_world.message()
    history_world.commit()
    response = history_client.post("/history/unresolved/save", data={
        "csrf_token": csrf_token(history_client), "ignore_email": [str(row.id), value]})
    _refused(response, 400, "ignore_email", "whole number")
    with Session(history_world.session.bind) as session:  # nothing was applied
        from mailferry.models import Message
        assert session.get(Message, row.id).status == "unresolved"


@pytest.mark.parametrize("value", BAD_IDS.values(), ids=BAD_IDS.keys())
def test_a_malformed_id_in_retry_now_is_a_400_naming_the_field(history_client, history_world, sync_queue, value):
    response = history_client.post("/history/retry", data={"csrf_token": csrf_token(history_client), "message_id": value})
    _refused(response, 400, "message_id", "whole number")


@pytest.mark.parametrize("value", BAD_IDS.values(), ids=BAD_IDS.keys())
def test_a_malformed_id_in_the_ignore_list_remove_url_is_a_400(history_client, history_world, value):
    response = history_client.post(f"/ignore-list/{value}/remove", data={"csrf_token": csrf_token(history_client)})
    _refused(response, 400, "entry id", "whole number")


def test_ids_are_bounded_by_their_key_column_integer_or_bigint(history_client, history_world, sync_queue):
    # IgnoreEntry.id is INTEGER (PostgreSQL int4 refuses to bind more), Message.id BIGINT.
    response = history_client.post(f"/ignore-list/{2**31}/remove", data={"csrf_token": csrf_token(history_client)})
    _refused(response, 400, "from 1 to 2147483647")
    response = history_client.post("/history/retry", data={"csrf_token": csrf_token(history_client), "message_id": str(2**63 - 1)},
                           follow_redirects=True)
    assert response.status_code == 200 and "Nothing to retry" in response.get_data(as_text=True)


def test_an_id_nobody_has_is_still_a_404(history_client, history_world):
    response = history_client.post(f"/ignore-list/{2**31 - 1}/remove", data={"csrf_token": csrf_token(history_client)})  # INTEGER key
    assert response.status_code == 404


@pytest.mark.parametrize("value", ["9" * 5000, "9" * 30, "²", "５"], ids=["5000-digits", "30-digits", "superscript",
                                                                     "full-width"])
def test_a_malformed_sync_frequency_is_refused_on_the_form_with_its_message(history_client, history_world, value):
    form = {"csrf_token": csrf_token(history_client), "enabled": "on", "sync_mode": "sync_all", "crm_category": "CRM",
            "donotsync_category": "DoNotSync", "time_zone": "UTC", "folders": "inbox",
            "sync_frequency_minutes": value}
    response = history_client.post("/settings/sync-jobs/email/edit", data=form)
    _refused(response, 422, "whole number of minutes from 1 to 1440")


@pytest.mark.parametrize("value", ["9" * 5000, "²"], ids=["5000-digits", "superscript"])
def test_a_malformed_api_budget_share_is_refused_with_its_message(history_client, history_world, value):
    with Session(history_world.session.bind) as session:
        session.get(User, history_world.user.id).role = "admin"
        session.commit()
    response = history_client.post("/admin/api-budget", data={"csrf_token": csrf_token(history_client), "api_budget_percent": value})
    _refused(response, 422, "whole number from 1 to 100")


def test_a_body_over_the_limit_is_a_413_page_before_anything_reads_it(history_client, history_world):
    started = time.monotonic()
    response = history_client.post("/ignore-list", data={"csrf_token": csrf_token(history_client), "value": "a" * (30 * 2**20)})
    _refused(response, 413, "larger than 2 MB", 'data-testid="request-refused"')
    assert time.monotonic() - started < 5  # the review measured 31 s


def test_a_form_value_over_the_field_limit_is_a_400_naming_the_field(history_client, history_world):
    response = history_client.post("/ignore-list", data={"csrf_token": csrf_token(history_client), "value": "a" * (MAX_FIELD_CHARS + 1)})
    _refused(response, 400, "“value” is longer than 32,768 characters")


def test_a_field_repeated_more_than_the_limit_is_a_400_and_nothing_is_saved(history_client, history_world, sync_queue):
    values = [f"d{i}.example" for i in range(MAX_VALUES_PER_FIELD + 1)]
    response = history_client.post("/history/unmatched/save", data={"csrf_token": csrf_token(history_client), "ignore_domain": values})
    _refused(response, 400, "“ignore_domain” has 1,001 values", "at most 1,000")
    assert "d0.example" not in history_client.get("/ignore-list").get_data(as_text=True)


def test_an_ignore_list_entry_of_many_characters_is_refused_at_once_with_a_reason(history_client, history_world):
    started = time.monotonic()
    response = history_client.post("/ignore-list", data={"csrf_token": csrf_token(history_client), "value": "a" * 30_000 + ".com"})
    _refused(response, 400, "longer than 1,000 characters")
    assert time.monotonic() - started < 2


def test_the_admins_pasted_list_may_fill_the_body(history_client, history_world):
    with Session(history_world.session.bind) as session:
        session.get(User, history_world.user.id).role = "admin"
        session.commit()
    lines = "\n".join(f"sender{i}@bulk{i}.example" for i in range(40_000))  # ~1.2 MB
    assert MAX_FIELD_CHARS < len(lines) < MAX_CONTENT_LENGTH
    response = history_client.post("/admin/exclusions", data={"csrf_token": csrf_token(history_client), "entries": lines})
    assert response.status_code == 302, response.get_data(as_text=True)[:500]


def test_a_large_save_names_ten_values_and_counts_the_rest_so_its_notice_fits_the_cookie(history_client, history_world, sync_queue):
    values = [f"d{i}.example" for i in range(MAX_VALUES_PER_FIELD)]
    response = history_client.post("/history/unmatched/save", data={"csrf_token": csrf_token(history_client), "ignore_domain": values})
    assert response.status_code == 302
    assert len(history_client.get_cookie("session").value) < 4000  # browsers drop larger cookies
    page = history_client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Added to your Ignore List: d0.example, d1.example" in page and "d9.example and 990 more." in page
