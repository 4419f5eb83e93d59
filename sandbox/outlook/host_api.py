"""What the host page asks its own server: the signed-in user's mailbox for the message list, an
item for Office.js, and the category changes Office.js makes (`item.categories`,
`mailbox.masterCategories`). Category writes go through the mail store's own update path, so the
product's delta sync and change notifications see them exactly like a Graph PATCH.

Host-only: these routes answer only the sandbox's own pages (see `guard.same_origin_only`);
the add-in reaches them through the host page's postMessage bridge, never directly.
"""

from __future__ import annotations

from flask import Blueprint, jsonify, request

from ..microsoft.mailstore import Mailbox
from ..microsoft.state import state
from . import items
from .guard import office_error, same_origin_only

bp = Blueprint("outlook_api", __name__, url_prefix="/outlook/api/users/<upn>")
bp.before_request(same_origin_only)
# Office.js error names (reference §3.6); the numeric codes are the sandbox's best knowledge.
INVALID_CATEGORY = ("InvalidCategory", 9044, "The category provided isn't in the master category list.")
DUPLICATE_CATEGORY = ("DuplicateCategory", 9045, "One of the categories provided is already in the master category list.")


def _mailbox(upn: str) -> Mailbox:
    mailbox = state().store.mailbox(upn)
    if mailbox is None:
        raise office_error(404, "InvalidUser", 9020, f"No mailbox for '{upn}' in the sandbox tenant.")
    return mailbox


def _payload_list(key: str) -> list:
    payload = request.get_json(silent=True)
    value = payload.get(key) if isinstance(payload, dict) else None
    if not isinstance(value, list) or not value:
        raise office_error(400, "InvalidParameterValueError", 9031, f"The value of the parameter '{key}' is invalid.")
    return value


@bp.get("/mailbox")
def mailbox_view(upn):
    mailbox = _mailbox(upn)
    user = mailbox.user
    with state().store.lock:
        folders = items.folder_rows(mailbox)
    return jsonify({"userProfile": {"displayName": user.display_name, "emailAddress": user.upn,
                                    "timeZone": user.time_zone, "accountType": "enterprise"},
                    "folders": folders})


@bp.get("/messages/<message_id>")
def message_view(upn, message_id):
    mailbox = _mailbox(upn)
    store = state().store
    with store.lock:
        message = mailbox.messages.get(message_id)
        if message is None:
            raise office_error(404, "ItemNotFound", 9040, "The item was not found.")
        return jsonify({"item": items.item(mailbox, message, store.tenant_domain),
                        "row": items.row(mailbox, message)})


@bp.get("/messages/<message_id>/categories")
def item_categories(upn, message_id):
    mailbox = _mailbox(upn)
    with state().store.lock:
        message = mailbox.messages.get(message_id)
        if message is None:
            raise office_error(404, "ItemNotFound", 9040, "The item was not found.")
        return jsonify({"value": items.categories(mailbox, message)})


@bp.post("/messages/<message_id>/categories")
def change_item_categories(upn, message_id):
    """`{"add": [names]}` (each must be a master category, as Office.js requires) or
    `{"remove": [names]}`; answers the item's categories afterwards."""
    mailbox = _mailbox(upn)
    store = state().store
    payload = request.get_json(silent=True) or {}
    adding = "add" in payload
    names = _payload_list("add" if adding else "remove")
    if not all(isinstance(n, str) and n for n in names):
        raise office_error(400, "InvalidParameterValueError", 9031, "Categories must be non-empty strings.")
    with store.lock:
        message = mailbox.messages.get(message_id)
        if message is None:
            raise office_error(404, "ItemNotFound", 9040, "The item was not found.")
        current = list(message.categories)
        if adding:
            masters = [store.master_category(mailbox, n) for n in names]
            if any(m is None for m in masters):
                raise office_error(400, *INVALID_CATEGORY)
            wanted = current + [m.display_name for m in masters if m.display_name.casefold()
                                not in {c.casefold() for c in current}]
        else:
            dropped = {n.casefold() for n in names}
            wanted = [c for c in current if c.casefold() not in dropped]
    if wanted != current:  # outside the lock: the store tells its listeners after releasing it
        store.update_message(mailbox, message, {"categories": list(dict.fromkeys(wanted))})
    with store.lock:
        return jsonify({"value": items.categories(mailbox, message)})


@bp.get("/masterCategories")
def master_categories(upn):
    mailbox = _mailbox(upn)
    with state().store.lock:
        return jsonify({"value": items.master_categories(mailbox)})


@bp.post("/masterCategories")
def change_master_categories(upn):
    """`{"add": [{displayName, color}]}` (all or nothing: a duplicate name refuses the call, as
    Outlook does) or `{"remove": [names]}` (names not in the list are ignored)."""
    mailbox = _mailbox(upn)
    store = state().store
    payload = request.get_json(silent=True) or {}
    with store.lock:
        if "add" in payload:
            wanted = [_new_category(c) for c in _payload_list("add")]
            folded = [name.casefold() for name, _ in wanted]
            if len(set(folded)) != len(folded) or any(store.master_category(mailbox, n) for n, _ in wanted):
                raise office_error(400, *DUPLICATE_CATEGORY)
            for name, color in wanted:
                store.add_master_category(mailbox, name, color)
        else:
            dropped = {n.casefold() for n in _payload_list("remove") if isinstance(n, str)}
            mailbox.categories = [c for c in mailbox.categories if c.display_name.casefold() not in dropped]
        return jsonify({"value": items.master_categories(mailbox)})


def _new_category(raw) -> tuple[str, str]:
    name = raw.get("displayName") if isinstance(raw, dict) else None
    color = items.graph_color(raw.get("color", "None")) if isinstance(raw, dict) else None
    if not isinstance(name, str) or not name.strip() or color is None:
        raise office_error(400, "InvalidParameterValueError", 9031,
                           "Each category needs a displayName and a color from Office.MailboxEnums.CategoryColor.")
    return name, color
