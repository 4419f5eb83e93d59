"""The parts of the control API both sandbox servers share: call statistics and fault rules.

`SandboxControl(error_response).init_app(app)` counts every call that is not itself a control
call (per method and route template, plus a total) and applies the fault rules posted to
`/_sandbox/faults`: added latency, and error answers in the service's own error format, built
by the `error_response(status, code, message)` callable each server passes in.
"""

from __future__ import annotations

import fnmatch
import itertools
import random
import threading
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Callable

from flask import Flask, Response, jsonify, request

CONTROL_PREFIX = "/_sandbox"
# Set by a server on the requests it runs inside a `$batch`: they are counted like any call
# (real throttling counts them too) and also as batch parts, so a client's own HTTP requests
# are `total - batch_parts`.
BATCH_PART_HEADER = "X-Sandbox-Batch-Part"
ErrorResponse = Callable[[int, str, str], Response]


@dataclass
class FaultRule:
    """One fault: which calls it hits and what it does to them.

    `path` is a shell-style pattern over the request path (`*` crosses slashes), `method` an
    HTTP method or `*`. `status` 0 means "latency only". `count` limits how many calls it
    hits (None: until removed); `rate` is the share of matching calls hit.
    """

    id: int
    path: str = "*"
    method: str = "*"
    status: int = 0
    error_code: str = ""
    message: str = ""
    rate: float = 1.0
    latency_ms: int = 0
    retry_after: int | None = None
    count: int | None = None
    hits: int = 0

    def matches(self, method: str, path: str) -> bool:
        return (self.method in ("*", method)) and fnmatch.fnmatchcase(path, self.path)


@dataclass
class CallStats:
    by_route: Counter = field(default_factory=Counter)
    total: int = 0
    batch_parts: int = 0

    def as_json(self) -> dict:
        return {"total": self.total, "batch_parts": self.batch_parts, "calls": dict(sorted(self.by_route.items()))}


class SandboxControl:
    def __init__(self, error_response: ErrorResponse, extra_stats: Callable[[], dict] | None = None):
        self._error_response = error_response
        self._extra_stats = extra_stats
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        # Unseeded: a rule of rate 0.2 hits about a fifth of calls from the first call on.
        self._random = random.Random()
        self.stats = CallStats()
        self.faults: list[FaultRule] = []

    def init_app(self, app: Flask) -> None:
        app.before_request(self._before_request)
        app.add_url_rule(f"{CONTROL_PREFIX}/stats", "sandbox_stats", self._get_stats, methods=["GET"])
        app.add_url_rule(
            f"{CONTROL_PREFIX}/stats/reset", "sandbox_stats_reset", self._reset_stats, methods=["POST"]
        )
        app.add_url_rule(f"{CONTROL_PREFIX}/faults", "sandbox_faults", self._list_faults, methods=["GET"])
        app.add_url_rule(f"{CONTROL_PREFIX}/faults", "sandbox_add_faults", self._add_faults, methods=["POST"])
        app.add_url_rule(
            f"{CONTROL_PREFIX}/faults", "sandbox_clear_faults", self._clear_faults, methods=["DELETE"]
        )

    def reset(self) -> None:
        """Forget statistics and fault rules (part of `POST /_sandbox/reset`)."""
        with self._lock:
            self.stats = CallStats()
            self.faults = []

    def count(self, key: str) -> None:
        """Count one call under `key` (used for calls not routed through Flask, like `$batch` parts)."""
        with self._lock:
            self.stats.by_route[key] += 1
            self.stats.total += 1

    def fault_for(self, method: str, path: str) -> FaultRule | None:
        """The first rule that hits this call, counting the hit; None when no rule does."""
        with self._lock:
            for rule in self.faults:
                if not rule.matches(method, path):
                    continue
                if rule.count is not None and rule.hits >= rule.count:
                    continue
                if rule.rate < 1.0 and self._random.random() >= rule.rate:
                    continue
                rule.hits += 1
                return rule
        return None

    def apply_fault(self, rule: FaultRule) -> Response | None:
        """Sleep for the rule's latency; return its error answer, or None for latency only."""
        if rule.latency_ms:
            time.sleep(rule.latency_ms / 1000)
        if not rule.status:
            return None
        response = self._error_response(rule.status, rule.error_code, rule.message or _default_message(rule))
        if rule.retry_after is not None:
            response.headers["Retry-After"] = str(rule.retry_after)
        return response

    def _before_request(self) -> Response | None:
        if request.path.startswith(CONTROL_PREFIX):
            return None
        template = request.url_rule.rule if request.url_rule else "<unrouted>"
        self.count(f"{request.method} {template}")
        if request.headers.get(BATCH_PART_HEADER):
            with self._lock:
                self.stats.batch_parts += 1
        rule = self.fault_for(request.method, request.path)
        return self.apply_fault(rule) if rule else None

    def _get_stats(self) -> Response:
        with self._lock:
            body = self.stats.as_json()
        if self._extra_stats:
            body.update(self._extra_stats())
        return jsonify(body)

    def _reset_stats(self) -> Response:
        with self._lock:
            self.stats = CallStats()
        return jsonify({"reset": True})

    def _list_faults(self) -> Response:
        with self._lock:
            return jsonify({"faults": [asdict(rule) for rule in self.faults]})

    def _add_faults(self) -> tuple[Response, int]:
        payload = request.get_json(silent=True)
        rules = payload.get("rules", [payload]) if isinstance(payload, dict) else payload
        if not isinstance(rules, list) or not rules:
            return jsonify({"error": "post a rule object, a list of them, or {\"rules\": [...]}"}), 400
        added = []
        for raw in rules:
            problem = _rule_problem(raw)
            if problem:
                return jsonify({"error": problem, "rule": raw}), 400
            added.append(FaultRule(id=next(self._ids), **raw))
        with self._lock:
            self.faults.extend(added)
        return jsonify({"faults": [asdict(rule) for rule in added]}), 201

    def _clear_faults(self) -> Response:
        with self._lock:
            removed = len(self.faults)
            self.faults = []
        return jsonify({"removed": removed})


_RULE_FIELDS = {
    "path": str, "method": str, "status": int, "error_code": str, "message": str,
    "rate": (int, float), "latency_ms": int, "retry_after": (int, type(None)),
    "count": (int, type(None)),
}


def _rule_problem(raw: object) -> str | None:
    if not isinstance(raw, dict):
        return "each rule must be a JSON object"
    unknown = set(raw) - set(_RULE_FIELDS)
    if unknown:
        return f"unknown rule fields: {', '.join(sorted(unknown))}; known: {', '.join(_RULE_FIELDS)}"
    for name, kinds in _RULE_FIELDS.items():
        if name in raw and (not isinstance(raw[name], kinds) or isinstance(raw[name], bool)):
            return f"rule field {name!r} has the wrong type"
    if raw.get("status", 0) and not 400 <= raw["status"] <= 599:
        return "status must be an HTTP error status (400-599) or 0 for latency only"
    if not raw.get("status") and not raw.get("latency_ms"):
        return "a rule needs a status or a latency_ms"
    if not 0 < raw.get("rate", 1.0) <= 1:
        return "rate must be above 0 and at most 1"
    if "method" in raw:
        raw["method"] = raw["method"].upper()
    return None


def _default_message(rule: FaultRule) -> str:
    return f"Injected fault {rule.id} ({rule.error_code or rule.status})."
