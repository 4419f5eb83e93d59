"""Graph's webhooks take no sign-in, so their JSON is bounded before parsing: 100,000-deep JSON
is a 400 and an oversized body a 413, each with a message, never a 500 (issue 12, finding 4;
docs/web.md "Request limits"). Ordinary malformed bodies are still counted and ignored with
202 (tests/server/test_graph_webhooks.py)."""

from __future__ import annotations

import pytest

DEEP_JSON = b"[" * 100_000 + b"]" * 100_000


@pytest.mark.parametrize("route", ["/webhooks/graph/notifications", "/webhooks/graph/lifecycle"])
def test_deep_json_on_the_graph_webhooks_is_a_400_without_signing_in(app, route):
    response = app.test_client().post(route, data=DEEP_JSON, content_type="application/json")
    assert response.status_code == 400, response.get_data(as_text=True)[:300]
    assert "deeper than 32 levels" in response.get_json()["message"]


@pytest.mark.parametrize("route", ["/webhooks/graph/notifications", "/webhooks/graph/lifecycle"])
def test_a_json_body_over_its_limit_on_the_graph_webhooks_is_a_413(app, route):
    body = b'{"value": [' + b",".join([b'{"subscriptionId": "x"}'] * 50_000) + b"]}"
    response = app.test_client().post(route, data=body, content_type="application/json")
    assert response.status_code == 413
    assert "larger than 1024 KB" in response.get_json()["message"]
