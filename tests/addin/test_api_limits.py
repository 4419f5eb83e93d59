"""The add-in API refuses malformed and oversized JSON with a 4xx and a message, never a 500
(issue 12, finding 4; docs/web.md "Request limits"): ids out of range or not ASCII digits,
100,000-deep JSON (Python's parser would exhaust its stack), bodies over 1 MiB."""

from __future__ import annotations

import json

import pytest

from tests.sandbox.microsoft.tenant import ALICE

POST_ROUTES = ["/addin/api/status", "/addin/api/ignore", "/addin/api/ignore-email", "/addin/api/retry"]
DEEP_JSON = b"[" * 100_000 + b"]" * 100_000


@pytest.mark.parametrize("route", POST_ROUTES)
def test_deep_json_is_a_400_with_a_message_on_every_route(addin_api, api_token, addin_world, route):
    response = addin_api(api_token()).post(route, data=DEEP_JSON, content_type="application/json")
    assert response.status_code == 400, response.get_data(as_text=True)[:300]
    assert response.get_json() == {"error": "bad_request", "message": "The JSON body nests deeper than 32 levels, "
                                                                      "or its brackets do not match."}


def test_a_body_over_the_json_limit_is_a_413_with_a_message(addin_api, api_token, addin_world):
    item = {"internetMessageId": "<big@x>", "from": {"emailAddress": "a@b.example"},
            "to": [{"emailAddress": f"person{i}@example.com", "displayName": "x" * 200} for i in range(5000)]}
    response = addin_api(api_token()).post("/addin/api/status", data=json.dumps(item), content_type="application/json")
    assert response.status_code == 413
    assert response.get_json() == {"error": "too_large", "message": "The JSON body is larger than 1024 KB."}


def test_a_message_with_500_recipients_is_well_within_the_limit(addin_api, api_token, addin_world):
    item = {"internetMessageId": "<many@x>", "from": {"emailAddress": "carol@customer.example"},
            "to": [{"emailAddress": f"person{i}@customer.example", "displayName": f"Person {i}"} for i in range(500)]
            + [{"emailAddress": ALICE.upn, "displayName": ""}], "cc": [], "categories": []}
    assert addin_api(api_token()).post("/addin/api/status", json=item).status_code == 200


@pytest.mark.parametrize("message_id", [10**29, "9" * 5000, "²", "١٢", True, -1, 0, 1.5, None],
                         ids=["30-digits", "5000-digit-text", "superscript", "arabic-indic", "true", "negative",
                              "zero", "decimal", "missing"])
def test_retry_with_a_malformed_message_id_is_a_400_naming_it(addin_api, api_token, addin_world, message_id):
    response = addin_api(api_token()).post("/addin/api/retry", json={"messageId": message_id})
    assert response.status_code == 400, response.get_data(as_text=True)[:300]
    assert "“messageId” must be a whole number" in response.get_json()["message"]


def test_a_5000_digit_json_number_is_a_400_not_a_500(addin_api, api_token, addin_world):
    response = addin_api(api_token()).post("/addin/api/retry", data=b'{"messageId": ' + b"9" * 5000 + b"}",
                                     content_type="application/json")
    assert response.status_code == 400
    assert response.get_json()["error"] == "bad_request"
