"""The Salesforce sandbox's own control routes (besides the shared stats and faults):
reset to a seeded world, list and plant records, read and change org settings, and hand a
test a session without clicking through the sign-in page.

    POST  /_sandbox/reset             {"seed": n, "scale": "UxM"}   reload the world
    GET   /_sandbox/records/<Type>    ?Field=value filters (exact, case-insensitive)
    POST  /_sandbox/records/<Type>    a record or a list; stored as an admin import would
    GET   /_sandbox/org               the org settings
    PATCH /_sandbox/org               change some of them (also api_used, api_bursts_used)
    POST  /_sandbox/leads/<id>/convert {"contact_id"?, "account_id"?} convert a lead
    POST  /_sandbox/sessions          {"username" | "user_id"} → a token response
"""

from __future__ import annotations

from dataclasses import fields as dataclass_fields

from flask import Blueprint, jsonify, request

from .errors import ApiError
from .oauth import DEFAULT_SCOPE, Sessions, token_response
from .store import LOAD_ORDER, Org, OrgSettings

_SETTING_TYPES = {
    "shared_activities": bool, "external_id_field": bool, "daily_api_limit": int,
    "session_lifetime_seconds": int, "validation_rule": (dict, type(None)), "lock_row": (dict, type(None)),
    "create_only_refusal": (dict, type(None)),
}


def create_blueprint(sandbox) -> Blueprint:
    """`sandbox` is the SalesforceSandbox holding org, sessions, cursors and stats control."""
    bp = Blueprint("salesforce_control", __name__)
    org: Org = sandbox.org
    sessions: Sessions = sandbox.sessions

    @bp.post("/_sandbox/reset")
    def reset():
        payload = request.get_json(silent=True) or {}
        seed = payload.get("seed", sandbox.settings.seed)
        scale = payload.get("scale", sandbox.settings.scale)
        if not isinstance(seed, int) or isinstance(seed, bool) or (scale is not None and not isinstance(scale, str)):
            return jsonify({"error": "seed must be an integer and scale a string like \"100x1000\""}), 400
        try:
            from sandbox.seed import build_world  # lazily: the seed module is optional here
        except ImportError as missing:
            return jsonify({"error": f"sandbox.seed.build_world is not available: {missing}"}), 501
        world = build_world(seed, scale)
        sandbox.load_world(world)
        return jsonify({"reset": True, "seed": seed, "scale": scale, "counts": _counts(org)})

    @bp.get("/_sandbox/records/<type_name>")
    def list_records(type_name: str):
        name = _type_name(org, type_name)
        filters = {k.lower(): v.lower() for k, v in request.args.items()}
        with org.lock:
            rows = [dict(r) for r in org.rows(name)]
        if filters:
            rows = [r for r in rows if all(str(_field(r, k)).lower() == v for k, v in filters.items())]
        return jsonify({"type": name, "totalSize": len(rows), "records": rows})

    @bp.post("/_sandbox/records/<type_name>")
    def add_records(type_name: str):
        name = _type_name(org, type_name)
        payload = request.get_json(silent=True)
        records = payload if isinstance(payload, list) else [payload]
        if not records or not all(isinstance(r, dict) for r in records):
            return jsonify({"error": "post a record object or a list of them"}), 400
        try:
            with org.transaction():
                new_ids = [org.insert_raw(name, r) for r in records]
        except ApiError as error:
            return jsonify({"error": error.message, "errorCode": error.code}), 400
        return jsonify({"ids": new_ids, "records": [org.get(name, i) for i in new_ids]}), 201

    @bp.post("/_sandbox/leads/<lead_id>/convert")
    def convert_lead(lead_id: str):
        payload = request.get_json(silent=True) or {}
        try:
            result = org.convert_lead(lead_id, payload.get("contact_id"), payload.get("account_id"))
        except ApiError as error:
            return jsonify({"error": error.message, "errorCode": error.code}), 400
        return jsonify(result)

    @bp.get("/_sandbox/org")
    def get_org():
        return jsonify(_org_state(org))

    @bp.patch("/_sandbox/org")
    def patch_org():
        changes = request.get_json(silent=True)
        if not isinstance(changes, dict):
            return jsonify({"error": "send a JSON object of settings"}), 400
        known = {f.name for f in dataclass_fields(OrgSettings)} | {"api_used", "api_bursts_used"}
        for key, value in changes.items():
            if key not in known:
                return jsonify({"error": f"unknown setting {key!r}; known: {sorted(known)}"}), 400
            kinds = _SETTING_TYPES.get(key, int)
            if not isinstance(value, kinds) or (kinds is int and isinstance(value, bool)):
                return jsonify({"error": f"setting {key!r} has the wrong type"}), 400
        with org.lock:
            if "api_used" in changes:
                org.api_used = changes.pop("api_used")
            if "api_bursts_used" in changes:
                org.api_bursts_used = changes.pop("api_bursts_used")
        org.update_settings(changes)
        return jsonify(_org_state(org))

    @bp.post("/_sandbox/sessions")
    def new_session():
        payload = request.get_json(silent=True) or {}
        with org.lock:
            users = list(org.records["User"].values())
        user = next((u for u in users if u["Id"] == payload.get("user_id")
                     or (u.get("Username") or "").lower() == str(payload.get("username", "")).lower()), None)
        if user is None and not payload.get("user_id") and not payload.get("username"):
            user = users[0] if users else None
        if user is None:
            return jsonify({"error": "no such user"}), 404
        scope = payload.get("scope", DEFAULT_SCOPE)
        refresh = sessions.new_refresh_token(user["Id"], "sandbox-control", scope)
        access = sessions.issue(user["Id"], "sandbox-control", scope, refresh)
        return jsonify(token_response(sandbox.settings.salesforce_url, user["Id"], access, scope, "", refresh)), 201

    return bp


def _org_state(org: Org) -> dict:
    with org.lock:
        return {**org.settings.as_json(), "api_used": org.api_used, "api_bursts_used": org.api_bursts_used,
                "counts": _counts(org)}


def _counts(org: Org) -> dict:
    return {name: len(org.records[name]) for name in LOAD_ORDER}


def _type_name(org: Org, type_name: str) -> str:
    lower = type_name.lower()
    name = next((n for n in LOAD_ORDER if n.lower() == lower), None)
    if name is None:
        raise _NotFound(type_name)
    return name


def _field(record: dict, lower_name: str):
    return next((v for k, v in record.items() if k.lower() == lower_name), None)


class _NotFound(Exception):
    pass


def register_errors(bp_app) -> None:
    @bp_app.errorhandler(_NotFound)
    def unknown_type(error):
        return jsonify({"error": f"unknown sObject type {error.args[0]!r}; known: {list(LOAD_ORDER)}"}), 404
