"""Graph's error body (reference §1.11) and the exception Graph handlers raise to send one."""

from __future__ import annotations

import datetime as dt
import json
import uuid

from flask import Response, request

# Messages real Graph sends for these codes, so injected faults read like the real thing.
DEFAULT_MESSAGES = {
    "ApplicationThrottled": "Application is over its MailboxConcurrency limit.",
    "MailboxConcurrency": "Application is over its MailboxConcurrency limit.",
    "TooManyRequests": "Too many requests.",
    "activityLimitReached": "The application or user has been throttled.",
    "serviceNotAvailable": "The service is temporarily unavailable. Please retry later.",
    "generalException": "An unspecified error has occurred.",
    "ErrorItemNotFound": "The specified object was not found in the store.",
    "SyncStateNotFound": "The sync state generation is not found. Please restart synchronization.",
    "InvalidAuthenticationToken": "Access token validation failure.",
}
# The code Graph uses when a fault rule names only a status.
DEFAULT_CODES = {
    400: "BadRequest", 401: "InvalidAuthenticationToken", 403: "ErrorAccessDenied",
    404: "ErrorItemNotFound", 409: "ErrorConflict", 410: "SyncStateNotFound",
    412: "ErrorIrresolvableConflict", 429: "ApplicationThrottled", 500: "generalException",
    502: "serviceNotAvailable", 503: "serviceNotAvailable", 504: "serviceNotAvailable",
}


class GraphError(Exception):
    """Raised anywhere inside a Graph handler; becomes the standard error response."""

    def __init__(self, status: int, code: str, message: str = "", headers: dict | None = None):
        super().__init__(message)
        self.status, self.code = status, code
        self.message = message or DEFAULT_MESSAGES.get(code, code)
        self.headers = headers or {}


def error_body(code: str, message: str) -> dict:
    client_request_id = request.headers.get("client-request-id") or str(uuid.uuid4())
    return {"error": {
        "code": code,
        "message": message,
        "innerError": {
            "date": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S"),
            "request-id": str(uuid.uuid4()),
            "client-request-id": client_request_id,
        },
    }}


def error_response(status: int, code: str, message: str, headers: dict | None = None) -> Response:
    """Graph's error answer; also the `error_response` the shared fault control calls."""
    code = code or DEFAULT_CODES.get(status, "generalException")
    if not message or message.startswith("Injected fault"):
        message = DEFAULT_MESSAGES.get(code, message or code)
    response = Response(json.dumps(error_body(code, message)), status=status,
                        mimetype="application/json")
    for name, value in (headers or {}).items():
        response.headers[name] = value
    if status == 401:
        response.headers.setdefault("WWW-Authenticate", www_authenticate())
    return response


def www_authenticate() -> str:
    root = request.host_url.rstrip("/")
    return (f'Bearer realm="", authorization_uri="{root}/common/oauth2/authorize", '
            'client_id="00000003-0000-0000-c000-000000000000"')


def graph_error_response(error: GraphError) -> Response:
    return error_response(error.status, error.code, error.message, error.headers)
