"""Flask wiring for the REST API: what happens around every /services/data call.

In order: the 16,384-byte URI and header limit (414/431), the session check (401
INVALID_SESSION_ID), the concurrent long-running requests limit and the daily allowance (both
403 REQUEST_LIMIT_EXCEEDED, told apart by the message; else the call is counted, bursting past
the allowance when the org has bursts), then the handler; every versioned response carries
`Sforce-Limit-Info` (reference 2.1, 2.9, 5; wave2 8.1).
"""

from __future__ import annotations

import itertools
import json
import time

from flask import Flask, Response, g, request

from .errors import ApiError, RawJson, json_response, session_expired
from .oauth import Sessions, bearer_token
from .rest import Call, RestApi, parse_json_body, versions_list

MAX_REQUEST_BYTES = 16384
DATA_PREFIX = "/services/data/v"
TOTAL_REQUESTS = "TotalRequests Limit exceeded."
CONCURRENT_LONG = "ConcurrentPerOrgLongTxn Limit exceeded."
_request_keys = itertools.count(1)


def too_large(status: int, reason: str) -> Response:
    """What Salesforce's front end answers for a request over 16,384 bytes: not the REST error
    array but its web server's HTML page, `<h1>Bad Message 414</h1><pre>reason: URI Too
    Long</pre>` (seen by simple-salesforce#271, jsforce#1134, sfpowerscripts#860,
    afawcett/dependencies-cli#24). Which status: help article 000386264 ("Maximum number of
    rows returned by SOQL queries over the REST API"): URI plus headers over 16,384 bytes →
    431 Request Header Fields Too Large; the URI alone over it → 414 URI Too Long."""
    return Response(f"<h1>Bad Message {status}</h1><pre>reason: {reason}</pre>", status=status,
                    content_type="text/html;charset=iso-8859-1")


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
            return too_large(414, "URI Too Long")
        header_bytes = len(uri) + sum(len(k) + len(v) + 4 for k, v in request.headers.items())
        if header_bytes > MAX_REQUEST_BYTES:
            return too_large(431, "Request Header Fields Too Large")
        if request.path.startswith(DATA_PREFIX):
            # From here on the request is being answered (fault latency included): it counts
            # as long-running for the others once it has taken long_request_ms.
            g.sf_request_key = next(_request_keys)
            with org.lock:
                org.in_flight[g.sf_request_key] = time.monotonic()
        return None

    @app.teardown_request
    def finished(_error=None) -> None:
        key = g.pop("sf_request_key", None)
        if key is not None:
            with org.lock:
                org.in_flight.pop(key, None)

    def long_running_others() -> int:
        """Long requests in the org now, other than this one (called with org.lock held)."""
        started_before = time.monotonic() - org.settings.long_request_ms / 1000
        mine = g.get("sf_request_key")
        ours = sum(1 for key, start in org.in_flight.items() if key != mine and start <= started_before)
        return org.settings.other_long_requests + ours

    def check_session_and_allowance() -> Response | None:
        if not request.path.startswith(DATA_PREFIX):
            return None
        session = sessions.check(bearer_token())
        if session is None:
            return _error(session_expired())
        with org.lock:
            settings = org.settings
            if long_running_others() >= settings.concurrent_long_requests_limit:
                # The limits cheat sheet: past 25 (5) concurrent requests of 20 s or more, new
                # ones are refused until one ends; the message names the limit (wave2 8.1).
                return _error(ApiError(403, "REQUEST_LIMIT_EXCEEDED", CONCURRENT_LONG))
            limit = settings.daily_api_limit
            if org.api_used >= limit:
                # An org with burst entitlement goes on past its limit (Sforce-Limit-Info then
                # shows used > max and api-bursts); the first call past the limit starts a burst.
                bursting = org.api_used > limit or org.api_bursts_used < settings.api_bursts_monthly
                if not (settings.api_bursts_monthly and bursting
                        and org.api_used < limit + settings.api_burst_headroom):
                    return _error(ApiError(403, "REQUEST_LIMIT_EXCEEDED", TOTAL_REQUESTS))
                if org.api_used == limit:
                    org.api_bursts_used += 1
            org.api_used += 1
        g.salesforce_user = session.user_id
        return None

    # Size limits come before everything, fault rules included, as a front-end proxy would.
    app.before_request_funcs.setdefault(None, []).insert(0, check_size)
    app.before_request(check_session_and_allowance)

    @app.after_request
    def limit_info(response: Response) -> Response:
        if request.path.startswith(DATA_PREFIX) and response.status_code not in (414, 431):
            # "Limit Info Header" (headers_api_usage.htm): `api-usage=10018/100000`, or with a
            # burst entitlement `api-usage=110018/100000; api-bursts=1/750`.
            info = f"api-usage={org.api_used}/{org.settings.daily_api_limit}"
            if org.settings.api_bursts_monthly:
                info += f"; api-bursts={org.api_bursts_used}/{org.settings.api_bursts_monthly}"
            response.headers["Sforce-Limit-Info"] = info
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
