"""The Microsoft side of the sandbox control API (`/_sandbox/...`, documented in
docs/sandbox.md, Microsoft 365): reset to a seeded world, list users, deliver/change/delete mail,
expire delta tokens, revoke sign-ins, drop subscriptions, fire lifecycle events, tune limits,
register apps.

Statistics and fault rules (`/_sandbox/stats`, `/_sandbox/faults`) come from the shared
`sandbox.control.SandboxControl`.
"""

from __future__ import annotations

import datetime as dt
import re

from flask import Blueprint, jsonify, request

from ..world import Address, MailSpec
from .apps import SIGN_IN_AUDIENCES, AppRegistration, RoleAssignment
from .mailstore import Mailbox
from .state import state

bp = Blueprint("microsoft_control", __name__, url_prefix="/_sandbox")
LIFECYCLE_EVENTS = ("missed", "subscriptionRemoved", "reauthorizationRequired")
_NAMED = re.compile(r"^\s*(?:\"?([^\"<]*?)\"?\s*)<([^>]+)>\s*$")


def _problem(message: str, status: int = 400):
    return jsonify({"error": message}), status


def _mailbox(upn: str) -> Mailbox | None:
    return state().store.mailbox(upn)


def parse_address(raw) -> Address:
    """`"a@b"`, `"Name <a@b>"` or `{"name", "address"}` → Address."""
    if isinstance(raw, dict) and isinstance(raw.get("address"), str):
        return Address(raw["address"], raw.get("name") or "")
    if isinstance(raw, str) and raw.strip():
        match = _NAMED.match(raw)
        return Address(match[2].strip(), match[1].strip()) if match else Address(raw.strip())
    raise ValueError(f"not an address: {raw!r}")


def _addresses(raw) -> tuple[Address, ...]:
    if raw is None:
        return ()
    return tuple(parse_address(a) for a in (raw if isinstance(raw, list) else [raw]))


def _date(raw) -> dt.datetime:
    if raw is None:
        return dt.datetime.now(dt.timezone.utc)
    moment = dt.datetime.fromisoformat(str(raw).replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.timezone.utc)


@bp.post("/reset")
def reset():
    payload = request.get_json(silent=True) or {}
    sandbox = state()
    seed = payload.get("seed", sandbox.settings.seed)
    scale = payload.get("scale", sandbox.settings.scale)
    if not isinstance(seed, int) or isinstance(seed, bool) or (scale is not None and not isinstance(scale, str)):
        return _problem("seed must be an integer and scale a string like \"100x1000\"")
    try:
        from ..seed import build_world  # written separately; imported late so this module loads without it
    except ImportError as exc:
        return _problem(f"sandbox.seed.build_world is not available: {exc}", 503)
    world = build_world(seed, scale)
    sandbox.load(world)
    return jsonify({"seed": seed, "scale": scale, "tenantId": world.tenant_id,
                    "users": len(world.users), "messages": len(world.mails)})


@bp.get("/tenant")
def tenant():
    sandbox = state()
    root = sandbox.settings.microsoft_url.rstrip("/")
    store = sandbox.store
    return jsonify({
        "tenantId": store.tenant_id, "domain": store.tenant_domain, "name": store.tenant_name,
        "authority": f"{root}/{store.tenant_id}", "graph": f"{root}/v1.0",
        "apps": [{"clientId": a.client_id, "clientSecret": a.client_secret, "displayName": a.display_name}
                 for a in sandbox.apps.all()],
    })


@bp.get("/users")
def users():
    store = state().store
    with store.lock:
        body = [{"id": m.user.oid, "userPrincipalName": m.user.upn, "displayName": m.user.display_name,
                 "aliases": list(m.user.aliases), "messages": len(m.messages),
                 "salesforceUsername": m.user.salesforce_username}
                for m in store.mailboxes.values()]
    return jsonify({"tenantId": store.tenant_id, "users": body})


@bp.post("/users/<upn>/messages")
def deliver(upn):
    mailbox = _mailbox(upn)
    if mailbox is None:
        return _problem(f"no mailbox {upn}", 404)
    payload = request.get_json(silent=True)
    if not isinstance(payload, dict):
        return _problem("post a JSON object")
    folder = payload.get("folder", "inbox")
    if mailbox.folder(folder) is None:
        return _problem(f"unknown folder {folder!r}")
    categories = payload.get("categories") or []
    if not isinstance(categories, list) or not all(isinstance(c, str) for c in categories):
        return _problem("categories must be a list of strings")
    try:
        sender = parse_address(payload["from"]) if payload.get("from") else None
        spec = MailSpec(
            user_upn=mailbox.user.upn, folder=folder, sender=sender, to=_addresses(payload.get("to")),
            cc=_addresses(payload.get("cc")), bcc=_addresses(payload.get("bcc")),
            subject=str(payload.get("subject", "")), body_text=str(payload.get("body", "")),
            received=_date(payload.get("date")), categories=tuple(categories),
            internet_message_id=str(payload.get("internetMessageId", "")),
            conversation_key=str(payload.get("conversation", "")),
            is_read=bool(payload.get("isRead", False)),
            has_attachments=bool(payload.get("hasAttachments", False)))
    except (ValueError, TypeError) as exc:
        return _problem(str(exc))
    message = state().store.add_message(mailbox, spec)
    return jsonify({"id": message.id, "internetMessageId": message.internet_message_id,
                    "conversationId": message.conversation_id, "parentFolderId": message.folder_id}), 201


@bp.patch("/users/<upn>/messages/<message_id>")
def change(upn, message_id):
    mailbox = _mailbox(upn)
    message = mailbox.messages.get(message_id) if mailbox else None
    if message is None:
        return _problem("no such message", 404)
    payload = request.get_json(silent=True) or {}
    store, changes = state().store, {}
    if "categories" in payload:
        if not isinstance(payload["categories"], list) or not all(isinstance(c, str) for c in payload["categories"]):
            return _problem("categories must be a list of strings")
        changes["categories"] = list(payload["categories"])
    if "isRead" in payload:
        changes["is_read"] = bool(payload["isRead"])
    if "subject" in payload:
        changes["subject"] = str(payload["subject"])
    target = mailbox.folder(payload["folder"]) if payload.get("folder") else None
    if payload.get("folder") and target is None:
        return _problem(f"unknown folder {payload['folder']!r}")
    if changes:
        store.update_message(mailbox, message, changes)
    if target is not None:
        store.move_message(mailbox, message, target)
    return jsonify({"id": message.id, "parentFolderId": message.folder_id, "categories": message.categories})


@bp.delete("/users/<upn>/messages/<message_id>")
def delete(upn, message_id):
    mailbox = _mailbox(upn)
    message = mailbox.messages.get(message_id) if mailbox else None
    if message is None:
        return _problem("no such message", 404)
    state().store.delete_message(mailbox, message)
    return jsonify({"deleted": message_id})


@bp.post("/users/<upn>/delta/expire")
def expire_delta(upn):
    mailbox = _mailbox(upn)
    if mailbox is None:
        return _problem(f"no mailbox {upn}", 404)
    state().store.expire_delta_tokens(mailbox)
    return jsonify({"expired": True})


@bp.post("/users/<upn>/known-issues")
def known_issues(upn):
    """`{"moveBackUnannounced": true|false}`: emulate Graph's known issue with immutable ids
    for this mailbox (a message moved out of a folder and back raises no notification for
    the move back; its delta still shows it; `mailstore.MailStore.move_message`)."""
    mailbox = _mailbox(upn)
    if mailbox is None:
        return _problem(f"no mailbox {upn}", 404)
    payload = request.get_json(silent=True) or {}
    if not isinstance(payload.get("moveBackUnannounced"), bool):
        return _problem("post {\"moveBackUnannounced\": true or false}")
    quirky = state().store.move_back_unannounced
    if payload["moveBackUnannounced"]:
        quirky.add(mailbox.user.oid)
    else:
        quirky.discard(mailbox.user.oid)
    return jsonify({"moveBackUnannounced": mailbox.user.oid in quirky})


@bp.put("/application-access-policies/<app_id>")
def put_application_access_policy(app_id):
    """`{"accessRight": "RestrictAccess" | "DenyAccess", "mailboxes": [upn, ...]}`: what an
    Exchange admin's `New-ApplicationAccessPolicy -AppId <app_id> -PolicyScopeGroupId <group>
    -AccessRight …` does; app-only calls of that app outside the scope then answer 403
    `ErrorAccessDenied` (gate.check_app_access_policy)."""
    payload = request.get_json(silent=True) or {}
    right, upns = payload.get("accessRight"), payload.get("mailboxes")
    if right not in ("RestrictAccess", "DenyAccess") or not isinstance(upns, list):
        return _problem("post {\"accessRight\": \"RestrictAccess\" or \"DenyAccess\", \"mailboxes\": [upn, ...]}")
    mailboxes = [_mailbox(str(upn)) for upn in upns]
    if None in mailboxes:
        return _problem("unknown mailbox in mailboxes", 404)
    state().store.app_access_policies[app_id] = (right, frozenset(m.user.oid for m in mailboxes))
    return jsonify({"appId": app_id, "accessRight": right, "mailboxes": [m.user.upn for m in mailboxes]})


@bp.delete("/application-access-policies/<app_id>")
def delete_application_access_policy(app_id):
    if state().store.app_access_policies.pop(app_id, None) is None:
        return _problem("no policy for that app", 404)
    return jsonify({"removed": app_id})


@bp.post("/users/<upn>/revoke")
def revoke(upn):
    mailbox = _mailbox(upn)
    if mailbox is None:
        return _problem(f"no mailbox {upn}", 404)
    return jsonify({"revoked": state().grants.revoke_user(mailbox.user.oid)})


@bp.get("/subscriptions")
def subscriptions():
    return jsonify({"subscriptions": [s.as_json() for s in state().subscriptions.all()]})


@bp.delete("/subscriptions/<subscription_id>")
def drop_subscription(subscription_id):
    """Graph forgets the subscription without a word, as real Graph sometimes does: no more
    notifications, and GET/PATCH/DELETE of it answer 404. (The lifecycle route with
    `subscriptionRemoved` drops it and says so.)"""
    if state().subscriptions.remove(subscription_id) is None:
        return _problem("no such subscription", 404)
    return jsonify({"dropped": subscription_id})


@bp.post("/subscriptions/<subscription_id>/lifecycle")
def lifecycle(subscription_id):
    sandbox = state()
    event = (request.get_json(silent=True) or {}).get("event")
    if event not in LIFECYCLE_EVENTS:
        return _problem(f"event must be one of {', '.join(LIFECYCLE_EVENTS)}")
    sub = sandbox.subscriptions.get(subscription_id)
    if sub is None:
        return _problem("no such subscription", 404)
    if not sub.lifecycle_url:
        return _problem("the subscription has no lifecycleNotificationUrl", 409)
    if event == "subscriptionRemoved":
        sandbox.subscriptions.remove(sub.id)
    sandbox.notifier.deliver(sub.lifecycle_url, sandbox.subscriptions.lifecycle_notification(sub, event), "lifecycle")
    return jsonify({"sent": event}), 202


@bp.get("/notifications")
def notifications():
    """Delivery log; `?wait=1` first waits (up to 10 s) for queued notifications to go out."""
    notifier = state().notifier
    if request.args.get("wait"):
        notifier.wait_idle()
    return jsonify({"notifications": list(notifier.log)})


@bp.post("/settings")
def settings():
    tunables = state().tunables
    unknown = tunables.update(request.get_json(silent=True) or {})
    if unknown:
        return _problem(f"unknown or invalid settings: {', '.join(unknown)}; known: {', '.join(vars(tunables))}")
    return jsonify(vars(tunables))


@bp.get("/apps")
def apps():
    return jsonify({"apps": [a.as_json() for a in state().apps.all()]})


@bp.post("/apps")
def register_app():
    payload = request.get_json(silent=True) or {}
    try:
        app = AppRegistration(**payload)
    except TypeError as exc:
        return _problem(str(exc))
    if not app.client_id or not app.client_secret:
        return _problem("client_id and client_secret are required")
    state().apps.register(app)
    return jsonify(app.as_json()), 201


# What an admin changes on an existing registration (its manifest): who may sign in and the
# version of the access tokens issued for its API (docs/sandbox.md, "App registrations").
# Also the tenant's consent to it: whether users may consent themselves (Entra's user
# consent setting) and whether an administrator consented for everyone (reference wave2.md §7.4).
MANIFEST_SETTINGS = {
    "sign_in_audience": lambda v: v in SIGN_IN_AUDIENCES,
    "requested_access_token_version": lambda v: v in (None, 1, 2),
    "user_consent": lambda v: isinstance(v, bool),
    "admin_consented": lambda v: isinstance(v, bool),
}


@bp.patch("/apps/<client_id>")
def change_app(client_id):
    app = state().apps.get(client_id)
    if app is None:
        return _problem(f"no app registration {client_id!r}", 404)
    payload = request.get_json(silent=True) or {}
    wrong = [k for k, v in payload.items() if k not in MANIFEST_SETTINGS or not MANIFEST_SETTINGS[k](v)]
    if wrong or not payload:
        return _problem(f"invalid or unknown settings: {', '.join(wrong) or '(none given)'}; known: "
                        f"sign_in_audience ({' or '.join(SIGN_IN_AUDIENCES)}), "
                        "requested_access_token_version (null, 1 or 2), user_consent, admin_consented (true/false)")
    for key, value in payload.items():
        setattr(app, key, value)
    return jsonify(app.as_json())


@bp.post("/apps/<client_id>/role-assignments")
def assign_app_role(client_id):
    """`{"role": "Mailferry.Admin", "user": upn}` assigns one of the app's own roles to a
    user; `{"role": …, "group": group id}` to a group (`/_sandbox/groups`), and so to its
    members, nested groups' too (reference wave2.md §7.3). Their next tokens carry it in `roles`."""
    app = state().apps.get(client_id)
    if app is None:
        return _problem(f"no app registration {client_id!r}", 404)
    payload = request.get_json(silent=True) or {}
    role = payload.get("role")
    if not isinstance(role, str) or not app.assignable_role(role):
        values = [r["value"] for r in app.defined_roles]
        return _problem(f"role must be an enabled app role of the registration for users: {', '.join(values)}")
    if isinstance(payload.get("user"), str):
        user = state().store.user(payload["user"])
        if user is None:
            return _problem(f"no user {payload['user']}", 404)
        assignment = RoleAssignment(role, user.oid)
    elif isinstance(payload.get("group"), str):
        group = state().groups.get(payload["group"])
        if group is None:
            return _problem(f"no group {payload['group']}", 404)
        assignment = RoleAssignment(role, group.id, "Group")
    else:
        return _problem("post {\"role\", \"user\": upn} or {\"role\", \"group\": group id}")
    app.role_assignments = [a for a in app.role_assignments
                            if (a.role, a.principal_id) != (role, assignment.principal_id)] + [assignment]
    return jsonify(app.as_json()["role_assignments"]), 201


@bp.delete("/apps/<client_id>/role-assignments/<principal>")
def unassign_app_role(client_id, principal):
    """Remove the assignments of a user (by upn or object id) or a group (by id)."""
    app = state().apps.get(client_id)
    if app is None:
        return _problem(f"no app registration {client_id!r}", 404)
    user, group = state().store.user(principal), state().groups.get(principal)
    principal_id = user.oid if user else group.id if group else principal
    kept = [a for a in app.role_assignments if a.principal_id != principal_id]
    if len(kept) == len(app.role_assignments):
        return _problem(f"{principal} has no role assignment", 404)
    app.role_assignments = kept
    return jsonify(app.as_json()["role_assignments"])
