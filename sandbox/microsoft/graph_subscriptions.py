"""`/v1.0/subscriptions`: create (with the validation handshake), list, get, renew, delete,
reauthorize (reference §1.8)."""

from __future__ import annotations

import datetime as dt

from flask import Blueprint, Response, g, request

from .errors import GraphError
from .gate import Caller, check_app_access_policy, require
from .graph_mail import as_json, base
from .subscriptions import Subscription, new_id, parse_resource
from .state import state

bp = Blueprint("graph_subscriptions", __name__, url_prefix="/v1.0")
CHANGE_TYPES = {"created", "updated", "deleted"}
MAX_CLIENT_STATE = 128


def _entity(sub: Subscription, status: int = 200) -> Response:
    return as_json({"@odata.context": f"{base()}/$metadata#subscriptions/$entity", **sub.as_json()}, status)


def _payload() -> dict:
    payload = request.get_json(silent=True)
    if not isinstance(payload, dict):
        raise GraphError(400, "InvalidRequest", "Cannot read the request body as a JSON object.")
    return payload


def _expiration(raw) -> dt.datetime:
    try:
        moment = dt.datetime.fromisoformat(str(raw).replace("Z", "+00:00"))
    except ValueError as exc:
        raise GraphError(400, "InvalidRequest", f"Invalid expirationDateTime '{raw}'.") from exc
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.timezone.utc)
    now = dt.datetime.now(dt.timezone.utc)
    limit = state().tunables.subscription_max_minutes
    if moment <= now:
        raise GraphError(400, "ExtensionError", "Subscription expiration must be in the future.")
    if moment > now + dt.timedelta(minutes=limit):
        # Graph's answer to a too-long expiration on create and on PATCH alike: 400
        # `ExtensionError` "Subscription expiration can only be 4230 minutes in the future."
        # (observed, microsoftgraph/microsoft-graph-docs-contrib #7726; limits per cloud and
        # doc version in reference §1.8: 4,230 minutes in older docs and national clouds,
        # 10,080 in the current table), with the configured limit in the wording.
        raise GraphError(400, "ExtensionError", f"Subscription expiration can only be {limit} minutes in the future.")
    return moment.astimezone(dt.timezone.utc)


def _https(url, name: str) -> str:
    if not isinstance(url, str) or not url.lower().startswith("https://"):
        raise GraphError(400, "InvalidRequest", f"The {name} must be an HTTPS URL.")
    return url


def _validate_endpoint(url: str) -> None:
    ok, why = state().notifier.validate(url)
    if not ok:
        raise GraphError(400, "InvalidRequest", f"Subscription validation request failed: {why}.")


def _watched(resource, caller: Caller) -> tuple[str, str | None]:
    """(mailbox oid, folder id or None) for a subscription resource the caller may watch."""
    parsed = parse_resource(resource) if isinstance(resource, str) else None
    if parsed is None:
        raise GraphError(400, "InvalidRequest", f"Resource '{resource}' is not supported: the sandbox "
                         "emulates subscriptions to messages of a mailbox or one of its folders.")
    user_ref, folder_ref, query = parsed
    if query:
        raise GraphError(400, "InvalidRequest", "Query options in subscription resources are not supported by the sandbox.")
    store = state().store
    if user_ref is None and not caller.delegated:
        raise GraphError(400, "BadRequest", "/me request is only valid with delegated authentication flow.")
    mailbox = store.mailbox(user_ref or caller.oid)
    if mailbox is None:
        raise GraphError(404, "ErrorInvalidUser", f"The requested user '{user_ref}' is invalid.")
    if caller.delegated and mailbox.user.oid != caller.oid:
        raise GraphError(403, "ErrorAccessDenied", "Access is denied. Check credentials and try again.")
    check_app_access_policy(caller, mailbox)
    folder = mailbox.folder(folder_ref) if folder_ref else None
    if folder_ref and folder is None:
        raise GraphError(404, "ErrorItemNotFound")
    return mailbox.user.oid, folder.id if folder else None


@bp.post("/subscriptions")
def create_subscription():
    require("read")
    payload, caller = _payload(), g.caller
    for name in ("changeType", "notificationUrl", "resource", "expirationDateTime"):
        if not payload.get(name):
            raise GraphError(400, "InvalidRequest", f"The property '{name}' is required.")
    if payload.get("includeResourceData"):
        raise GraphError(400, "InvalidRequest", "Rich notifications (includeResourceData) are not supported by the sandbox.")
    change_types = [c.strip() for c in str(payload["changeType"]).split(",")]
    if not change_types or not set(change_types) <= CHANGE_TYPES:
        raise GraphError(400, "InvalidRequest", f"Invalid changeType '{payload['changeType']}'.")
    client_state = payload.get("clientState")
    if client_state is not None and (not isinstance(client_state, str) or len(client_state) > MAX_CLIENT_STATE):
        raise GraphError(400, "InvalidRequest", f"clientState must be a string of at most {MAX_CLIENT_STATE} characters.")
    url = _https(payload["notificationUrl"], "notificationUrl")
    lifecycle = payload.get("lifecycleNotificationUrl")
    if lifecycle is not None:
        _https(lifecycle, "lifecycleNotificationUrl")
    expiration = _expiration(payload["expirationDateTime"])
    mailbox_oid, folder_id = _watched(payload["resource"], caller)
    _validate_endpoint(url)
    if lifecycle:
        _validate_endpoint(lifecycle)
    sub = Subscription(new_id(), payload["resource"], change_types, url, lifecycle, expiration,
                       client_state, caller.client_id, caller.oid, mailbox_oid, folder_id)
    state().subscriptions.add(sub)
    return _entity(sub, 201)


def _own(subscription_id: str) -> Subscription:
    """The caller's subscription. Any other id (expired, deleted, dropped by Graph, another
    app's) is Graph's 404 `ResourceNotFound` "The object was not found." for GET, PATCH
    and DELETE alike, as observed in microsoftgraph/microsoft-graph-docs-contrib #1522
    (GET) and #6599 (DELETE); the body has the usual shape (reference §1.11)."""
    sub = state().subscriptions.get(subscription_id)
    if sub is None or sub.application_id != g.caller.client_id:
        raise GraphError(404, "ResourceNotFound", "The object was not found.")
    return sub


@bp.get("/subscriptions")
def list_subscriptions():
    mine = [s.as_json() for s in state().subscriptions.all() if s.application_id == g.caller.client_id]
    return as_json({"@odata.context": f"{base()}/$metadata#subscriptions", "value": mine})


@bp.get("/subscriptions/<subscription_id>")
def get_subscription(subscription_id):
    return _entity(_own(subscription_id))


@bp.patch("/subscriptions/<subscription_id>")
def renew_subscription(subscription_id):
    sub, payload = _own(subscription_id), _payload()
    unknown = set(payload) - {"expirationDateTime", "notificationUrl"}
    if unknown:
        raise GraphError(400, "InvalidRequest", f"Only expirationDateTime and notificationUrl can be updated, not {sorted(unknown)}.")
    if "expirationDateTime" in payload:
        sub.expiration = _expiration(payload["expirationDateTime"])
    if "notificationUrl" in payload:
        url = _https(payload["notificationUrl"], "notificationUrl")
        _validate_endpoint(url)
        sub.notification_url = url
    return _entity(sub)


@bp.delete("/subscriptions/<subscription_id>")
def delete_subscription(subscription_id):
    state().subscriptions.remove(_own(subscription_id).id)
    return Response(status=204)


@bp.post("/subscriptions/<subscription_id>/reauthorize")
def reauthorize_subscription(subscription_id):
    _own(subscription_id)
    return Response(status=204)
