"""`POST /v1.0/$batch` (reference §1.9): up to 20 requests, run one after another through the
whole app (so each part is authenticated, counted, throttled and fault-injected like a direct
call), `dependsOn` with 424 for dependents of a failed request."""

from __future__ import annotations

import json

from flask import Blueprint, current_app, request

from ..control import BATCH_PART_HEADER
from .errors import GraphError, error_body
from .graph_mail import as_json

bp = Blueprint("graph_batch", __name__, url_prefix="/v1.0")
MAX_REQUESTS = 20
_PASSED_HEADERS = ("Authorization", "client-request-id")


def _bad(message: str) -> GraphError:
    return GraphError(400, "BadRequest", message)


def _validate(parts) -> None:
    if not isinstance(parts, list) or not parts:
        raise _bad("Invalid batch payload format.")
    if len(parts) > MAX_REQUESTS:
        raise _bad(f"The number of batch requests exceeds the limit of {MAX_REQUESTS}.")
    seen: set[str] = set()
    for part in parts:
        if not isinstance(part, dict) or not all(isinstance(part.get(k), str) and part.get(k) for k in ("id", "method", "url")):
            raise _bad("Each batch request needs string id, method and url properties.")
        if part["id"].lower() in seen:
            raise _bad(f"Batch request id '{part['id']}' is not unique.")
        if part["url"].lower().startswith(("http://", "https://")):
            raise _bad("Batch request urls must be relative to the version root, e.g. /me/messages.")
        headers = {k.lower(): v for k, v in (part.get("headers") or {}).items()}
        if "body" in part and "content-type" not in headers:
            raise _bad(f"Write request id : {part['id']} does not contain Content-Type header or body.")
        for dependency in part.get("dependsOn") or []:
            if dependency.lower() not in seen:
                raise _bad(f"Batch request '{part['id']}' depends on '{dependency}', which is not an earlier request.")
        seen.add(part["id"].lower())


def _run(part: dict, client) -> dict:
    headers = {k: v for k, v in (part.get("headers") or {}).items()}
    headers[BATCH_PART_HEADER] = "1"
    for name in _PASSED_HEADERS:
        if request.headers.get(name) and name not in headers:
            headers[name] = request.headers[name]
    url = "/v1.0/" + part["url"].lstrip("/")
    body = part.get("body")
    data = json.dumps(body) if isinstance(body, (dict, list)) else body
    answer = client.open(url, method=part["method"].upper(), headers=headers, data=data,
                         base_url=request.host_url)
    result = {"id": part["id"], "status": answer.status_code,
              "headers": {k: v for k, v in answer.headers.items()
                          if k in ("Content-Type", "Retry-After", "Location", "Preference-Applied")}}
    if answer.data:
        result["body"] = answer.get_json(silent=True) if answer.is_json else answer.get_data(as_text=True)
    return result


@bp.post("/$batch")
def batch():
    payload = request.get_json(silent=True)
    parts = payload.get("requests") if isinstance(payload, dict) else None
    _validate(parts)
    client = current_app.test_client()
    results: dict[str, dict] = {}
    for part in parts:
        failed = [d for d in part.get("dependsOn") or [] if results[d.lower()]["status"] >= 400]
        if failed:
            results[part["id"].lower()] = {
                "id": part["id"], "status": 424, "headers": {"Content-Type": "application/json"},
                "body": error_body("FailedDependency", f"The request depends on failed request(s) {', '.join(failed)}.")}
            continue
        results[part["id"].lower()] = _run(part, client)
    return as_json({"responses": list(results.values())})
