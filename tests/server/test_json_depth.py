"""The JSON nesting check that runs before parsing (server/request_limits.py): exact depths,
brackets inside strings ignored, and a 100,000-deep body refused quickly."""

from __future__ import annotations

import json
import time

import pytest

from server.request_limits import JSON_MAX_DEPTH, json_depth


@pytest.mark.parametrize(("document", "depth"), [
    (1, 0), ("text", 0), ([], 1), ({}, 1), ([[], {}], 2), ({"a": [{"b": [1]}]}, 4),
    ({"value": [{"resourceData": {"id": "x"}}]}, 4),
    ("[[[[{{{{", 0),  # brackets inside a string are text
    ({"a": "quote \" and [bracket", "b": ["\\", "]"]}, 2),
])
def test_depth_of_real_json(document, depth):
    assert json_depth(json.dumps(document).encode(), JSON_MAX_DEPTH) == depth


def test_the_limit_itself_passes_and_one_more_level_is_refused():
    at_limit = "[" * JSON_MAX_DEPTH + "]" * JSON_MAX_DEPTH
    assert json_depth(at_limit.encode(), JSON_MAX_DEPTH) == JSON_MAX_DEPTH
    assert json_depth(("[" + at_limit + "]").encode(), JSON_MAX_DEPTH) is None


@pytest.mark.parametrize("body", [b"[" * 100_000, b"[" * 100_000 + b"]" * 100_000,
                                  b'{"a":' * 100_000 + b"1" + b"}" * 100_000, b"[}", b"]["])
def test_deep_or_unpaired_bodies_are_refused_in_milliseconds(body):
    started = time.perf_counter()
    assert json_depth(body, JSON_MAX_DEPTH) is None
    assert time.perf_counter() - started < 0.5
