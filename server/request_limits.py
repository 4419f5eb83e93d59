"""How much one request may carry, and how malformed input is refused: 413 or 400 with a
message that says what to change, never a 500 (docs/web.md, "Request limits").

- The body: at most `MAX_CONTENT_LENGTH` bytes (Werkzeug refuses more with 413 before the
  form is parsed). The largest real request is an admin's pasted Global Exclusion List:
  tens of thousands of lines fit.
- Form fields: at most `MAX_VALUES_PER_FIELD` values per name (a Sync History page shows 50
  rows) and `MAX_FIELD_CHARS` characters per value (the folders box holds at most 50 folder
  ids of 512 characters); a field a view declares long (`LONG_FIELDS`) may fill the body.
- JSON (the add-in API, Graph's webhooks): at most `JSON_MAX_BYTES`, nested at most
  `JSON_MAX_DEPTH` levels, both checked on the raw bytes before parsing: Python's parser
  recurses once per level, and 100,000 brackets would exhaust its stack.
- Ids from URLs, forms and JSON: `id_from`, ASCII digits in the range of the key column's
  type (`mailferry.whole_numbers`).

Pages get an HTML answer, the add-in API and webhooks JSON.
"""

from __future__ import annotations

import json
import re
from typing import Any

from flask import Flask, jsonify, render_template, request
from sqlalchemy import BigInteger, ColumnElement
from werkzeug.exceptions import BadRequest, HTTPException, RequestEntityTooLarge

from mailferry.whole_numbers import MAX_ID, MAX_INTEGER_ID, identifier

#: Bytes in one request body (2 MiB).
MAX_CONTENT_LENGTH = 2 * 1024 * 1024
#: Values one form field may repeat (checkboxes of one name).
MAX_VALUES_PER_FIELD = 1000
#: Characters in one form value.
MAX_FIELD_CHARS = 32_768
#: Fields allowed to fill the whole body: (endpoint, field name).
LONG_FIELDS = frozenset({("admin.exclusions", "entries")})
#: Bytes in one JSON body (1 MiB): a message with 500 recipients is about 300 KB.
JSON_MAX_BYTES = 1024 * 1024
#: Nesting of JSON arrays and objects (Office.js items and Graph notifications use about 4).
JSON_MAX_DEPTH = 32
_JSON_PATHS = ("/addin/api/", "/webhooks/")


class InvalidInput(BadRequest):
    """A request refused for what it carries; `description` is shown to the sender."""


def init_app(app: Flask) -> None:
    app.config["MAX_CONTENT_LENGTH"] = MAX_CONTENT_LENGTH
    app.before_request(_check_form_fields)
    app.register_error_handler(RequestEntityTooLarge, _refused)
    app.register_error_handler(InvalidInput, _refused)


def id_from(value: Any, name: str, column: ColumnElement) -> int:
    """`value` as an id of `column` (its type sets the range: BIGINT or INTEGER), or a 400
    naming `name`."""
    highest = MAX_ID if isinstance(column.type, BigInteger) else MAX_INTEGER_ID
    number = identifier(value, highest)
    if number is None:
        raise InvalidInput(f"“{name}” must be a whole number from 1 to {highest} (ASCII digits).")
    return number


def ids_from(values: list[str], name: str, column: ColumnElement) -> list[int]:
    return [id_from(value, name, column) for value in values]


# --- JSON -----------------------------------------------------------------------------------

# A JSON string: quotes around anything but quotes and backslashes, or escapes (unrolled so
# the scan stays linear).
_JSON_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")
_EMPTY_PAIR = re.compile(rb"\[\]|\{\}")


def json_depth(raw: bytes, limit: int) -> int | None:
    """How deeply `raw` nests arrays and objects, if at most `limit`; None when deeper or
    when its brackets do not pair up (then it is not JSON anyway).

    Strings are taken out first (their brackets are text), then everything but brackets;
    each pass removes the innermost pairs, so the passes count the depth, each one a scan
    in C rather than a Python loop over the body."""
    brackets = _JSON_STRING.sub(b"", raw).translate(None, _NOT_BRACKETS)
    depth = 0
    while brackets:
        if depth == limit:
            return None
        brackets, removed = _EMPTY_PAIR.subn(b"", brackets)
        if not removed:
            return None
        depth += 1
    return depth


def bounded_json(*, force: bool = False) -> Any | None:
    """The request's JSON body, like `request.get_json(silent=True)`: None when it is not
    JSON (or `force` is off and the Content-Type is not JSON's). A body over
    `JSON_MAX_BYTES` is refused with 413, one nested deeper than `JSON_MAX_DEPTH` with 400,
    before anything parses it."""
    if not (force or request.is_json):
        return None
    if (request.content_length or 0) > JSON_MAX_BYTES:
        raise _too_large_json()
    raw = request.get_data(cache=True)
    if len(raw) > JSON_MAX_BYTES:
        raise _too_large_json()
    if json_depth(raw, JSON_MAX_DEPTH) is None:
        raise InvalidInput(f"The JSON body nests deeper than {JSON_MAX_DEPTH} levels, or its brackets do not match.")
    try:
        return json.loads(raw)
    except (ValueError, RecursionError):  # RecursionError: belt and braces, depth is bounded
        return None


def _too_large_json() -> RequestEntityTooLarge:
    return RequestEntityTooLarge(f"The JSON body is larger than {JSON_MAX_BYTES // 1024} KB.")


# --- forms ----------------------------------------------------------------------------------


def _check_form_fields() -> None:
    """Refuse a form with a field repeated too often or a value too long (400, naming it)."""
    if request.method not in ("POST", "PUT", "PATCH") or request.mimetype not in (
            "application/x-www-form-urlencoded", "multipart/form-data"):
        return
    for name, values in request.form.lists():
        if len(values) > MAX_VALUES_PER_FIELD:
            raise InvalidInput(f"“{name[:60]}” has {len(values):,} values; one request takes at most "
                               f"{MAX_VALUES_PER_FIELD:,}. Select fewer and try again.")
        if (request.endpoint, name) in LONG_FIELDS:
            continue
        for value in values:
            if len(value) > MAX_FIELD_CHARS:
                raise InvalidInput(f"“{name[:60]}” is longer than {MAX_FIELD_CHARS:,} characters.")


# --- the answer -----------------------------------------------------------------------------


def _refused(error: HTTPException):
    if isinstance(error, RequestEntityTooLarge) and error.description == RequestEntityTooLarge.description:
        message = f"The request is larger than {MAX_CONTENT_LENGTH // (1024 * 1024)} MB, the most Mailferry accepts."
    else:
        message = error.description
    if request.path.startswith(_JSON_PATHS) or request.is_json:
        code = "too_large" if error.code == 413 else "bad_request"
        return jsonify(error=code, message=message), error.code
    return render_template("request_refused.html", code=error.code, message=message), error.code
