"""Salesforce's error answers (reference 2.8): an array of {"message", "errorCode"} objects,
with `fields` on save errors. One exception type carries them through the layers."""

from __future__ import annotations

import json

from flask import Response


class ApiError(Exception):
    """An error answered as `[{"message", "errorCode"(, "fields")}]` with an HTTP status."""

    def __init__(self, status: int, code: str, message: str, fields: list[str] | None = None):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.fields = fields

    def body(self) -> list[dict]:
        item = {"message": self.message, "errorCode": self.code}
        if self.fields is not None:
            item["fields"] = self.fields
        return [item]


class DmlError(ApiError):
    """A record could not be saved: 400 at the top level, `statusCode` inside collections."""

    def __init__(self, code: str, message: str, fields: list[str] | None = None):
        super().__init__(400, code, message, fields if fields is not None else [])

    def collection_item(self) -> dict:
        return {"statusCode": self.code, "message": self.message, "fields": self.fields or []}


def not_found() -> ApiError:
    return ApiError(404, "NOT_FOUND", "The requested resource does not exist")


def session_expired() -> ApiError:
    return ApiError(401, "INVALID_SESSION_ID", "Session expired or invalid")


class RawJson(str):
    """JSON text already encoded (a cached answer)."""


def json_response(body, status: int = 200, headers: dict | None = None) -> Response:
    if isinstance(body, RawJson):
        text = body
    else:
        text = "" if body is None else json.dumps(body, separators=(",", ":"))
    response = Response(text, status=status, mimetype="application/json" if body is not None else None)
    if body is not None:
        response.headers["Content-Type"] = "application/json;charset=UTF-8"
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def error_response(status: int, code: str, message: str) -> Response:
    """What `sandbox.control.SandboxControl` answers for an injected fault. An injected
    REQUEST_LIMIT_EXCEEDED without a message of its own says what Salesforce says for the
    daily limit: its two limits share the code and differ only in the message (reference
    wave2 8.1), so a placeholder message would be neither."""
    code = code or _default_code(status)
    if code == "REQUEST_LIMIT_EXCEEDED" and message.startswith(INJECTED_MESSAGE_PREFIX):
        message = "TotalRequests Limit exceeded."
    return json_response([{"message": message, "errorCode": code}], status)


#: How sandbox/control.py words a fault rule's default message.
INJECTED_MESSAGE_PREFIX = "Injected fault "


def _default_code(status: int) -> str:
    return {
        401: "INVALID_SESSION_ID", 403: "REQUEST_LIMIT_EXCEEDED", 404: "NOT_FOUND",
        500: "UNKNOWN_EXCEPTION", 503: "SERVER_UNAVAILABLE",
    }.get(status, "UNKNOWN_EXCEPTION")
