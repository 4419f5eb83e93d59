"""Flask wiring for the REST API: what happens around every /services/data call.

In order: the 16,384-byte URI and header limit (414/431), the session check (401
INVALID_SESSION_ID), the daily allowance (403 REQUEST_LIMIT_EXCEEDED, else the call is counted),
then the handler; every versioned response carries `Sforce-Limit-Info` (reference 2.1, 2.9, 5).
"""

from __future__ import annotations

import json

from flask import Flask, Response, g, request

from .errors import ApiError, RawJson, json_response, session_expired
from .oauth import Sessions, bearer_token
from .rest import Call, RestApi, parse_json_body, versions_list

MAX_REQUEST_BYTES = 16384
DATA_PREFIX = "/services/data/v"


class _SmallCache(dict):
    """A dict that forgets everything when full: enough for the few hot entries here."""

    def __init__(self, size: int):
        super().__init__()
        self.size = size

    def put(self, key, value):
        if len(self) >= self.size:
            self.clear()
        self[key] = value
        return value


def install(app: Flask, api: RestApi, sessions: Sessions) -> None:
    org = api.org

    @app.get("/services/data", strict_slashes=False)
    def versions():
        # The versions list needs no session and doesn't count against the allowance.
        return json_response(versions_list())

    def check_size() -> Response | None:
        uri = request.environ.get("RAW_URI") or request.environ.get("REQUEST_URI") or request.full_path
        if len(uri.encode("latin-1", "replace")) > MAX_REQUEST_BYTES:
            return json_response([{"message": "URI Too Long", "errorCode": "URI_TOO_LONG"}], 414)
        header_bytes = len(uri) + sum(len(k) + len(v) + 4 for k, v in request.headers.items())
        if header_bytes > MAX_REQUEST_BYTES:
            return json_response([{"message": "Request Header Fields Too Large",
                                   "errorCode": "REQUEST_HEADER_FIELDS_TOO_LARGE"}], 431)
        return None

    def check_session_and_allowance() -> Response | None:
        if not request.path.startswith(DATA_PREFIX):
            return None
        session = sessions.check(bearer_token())
        if session is None:
            return _error(session_expired())
        with org.lock:
            if org.api_used >= org.settings.daily_api_limit:
                return _error(ApiError(403, "REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded."))
            org.api_used += 1
        g.salesforce_user = session.user_id
        return None

    # Size limits come before everything, fault rules included, as a front-end proxy would.
    app.before_request_funcs.setdefault(None, []).insert(0, check_size)
    app.before_request(check_session_and_allowance)

    @app.after_request
    def limit_info(response: Response) -> Response:
        if request.path.startswith(DATA_PREFIX):
            response.headers["Sforce-Limit-Info"] = f"api-usage={org.api_used}/{org.settings.daily_api_limit}"
        return response

    # Mailferry and the benchmarks repeat the same long SOQL URLs; decoding a 10 KB query
    # string and encoding the same answer again cost more than the query itself. One pair of
    # caches per app: their keys hold the org's generation, which only means something per org.
    args_cache, json_cache = _SmallCache(512), _SmallCache(256)
    for template, endpoint, methods in api.templates:
        app.add_url_rule(template, f"sf_{endpoint}", _view(api, endpoint, args_cache, json_cache),
                         methods=list(methods), strict_slashes=False)


def _view(api: RestApi, endpoint: str, args_cache: _SmallCache, json_cache: _SmallCache):
    def view(version: str, **url_args):
        try:
            body = parse_json_body(request.get_data()) if request.method in ("POST", "PATCH", "PUT") else None
        except ApiError as error:
            return _error(error)
        raw_query = request.environ.get("QUERY_STRING", "")
        args = args_cache.get(raw_query)
        if args is None:
            args = args_cache.put(raw_query, request.args.to_dict())
        call = Call(request.method, version, dict(args), body, g.get("salesforce_user"), request.headers)
        try:
            reply = api.dispatch(endpoint, call, url_args)
        except RecursionError:  # a pathological body that json accepted but is too deep to walk
            return _error(ApiError(400, "JSON_PARSER_ERROR", "The request body is nested too deeply"))
        if reply.status == 204:
            response = Response(status=204)
            for name, value in reply.headers.items():
                response.headers[name] = value
            return response
        if reply.cache_key is not None:
            text = json_cache.get(reply.cache_key)
            if text is None:
                text = json_cache.put(reply.cache_key, json.dumps(reply.body, separators=(",", ":")))
            return json_response(RawJson(text), reply.status, reply.headers)
        return json_response(reply.body, reply.status, reply.headers)

    view.__name__ = f"sf_{endpoint}"
    return view


def _error(error: ApiError) -> Response:
    return json_response(error.body(), error.status)


def install_error_pages(app: Flask) -> None:
    """Salesforce answers unknown paths and wrong methods with its JSON error array."""

    @app.errorhandler(404)
    def missing(_error):
        return json_response([{"errorCode": "NOT_FOUND", "message": "The requested resource does not exist"}], 404)

    @app.errorhandler(405)
    def wrong_method(_error):
        allowed = ",".join(sorted(m for m in (_error.valid_methods or []) if m not in ("HEAD", "OPTIONS")))
        return json_response([{"errorCode": "METHOD_NOT_ALLOWED",
                               "message": f"HTTP Method '{request.method}' not allowed. Allowed are {allowed}"}], 405)
