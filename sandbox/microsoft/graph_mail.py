"""Graph v1.0 mail routes for `/me` and `/users/{id | userPrincipalName}`: the user, mail
folders, messages (list, get, PATCH), per-folder delta and master categories
(reference §1.1–§1.7)."""

from __future__ import annotations

import datetime as dt
import json
import re
from urllib.parse import quote, urlencode

from flask import Blueprint, Response, g, request

from . import delta as deltas
from . import odata
from .errors import GraphError
from .gate import require
from .mailstore import Category, Mailbox, Message, is_message_id
from .render import MESSAGE_PROPERTIES, collection_text, folder_json, message_text, project, user_json
from .state import state

bp = Blueprint("graph_mail", __name__, url_prefix="/v1.0")
CATEGORY_COLORS = {"none", *(f"preset{n}" for n in range(25))}
_PREFER_TEXT = re.compile(r'outlook\.body-content-type\s*=\s*"?text"?', re.I)
_PREFER_PAGE = re.compile(r"odata\.maxpagesize\s*=\s*(\d+)", re.I)
_PREFER_IMMUTABLE = re.compile(r'IdType\s*=\s*"?ImmutableId"?', re.I)
_WRITABLE = {"categories", "isRead", "importance", "flag", "inferenceClassification"}
_DRAFT_ONLY = {"subject", "body", "internetMessageId", "replyTo"}


def mailbox_route(rule: str, methods=("GET",)):
    """Serve `rule` under both `/me` and `/users/<user_ref>`."""
    def register(view):
        bp.add_url_rule("/me" + rule, f"{view.__name__}_me", view, methods=list(methods))
        bp.add_url_rule("/users/<user_ref>" + rule, view.__name__, view, methods=list(methods))
        return view
    return register


def as_json(body: dict | str, status: int = 200, headers: dict | None = None) -> Response:
    text = body if isinstance(body, str) else json.dumps(body)
    response = Response(text, status=status, mimetype="application/json")
    response.headers["OData-Version"] = "4.0"
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def base() -> str:
    return state().settings.microsoft_url.rstrip("/") + "/v1.0"


def body_type() -> str:
    return "text" if _PREFER_TEXT.search(request.headers.get("Prefer", "")) else "html"


def preference_headers() -> dict:
    applied = []
    if body_type() == "text":
        applied.append('outlook.body-content-type="text"')
    if _PREFER_IMMUTABLE.search(request.headers.get("Prefer", "")):
        applied.append('IdType="ImmutableId"')  # ids never change on a move here anyway
    return {"Preference-Applied": ", ".join(applied)} if applied else {}


def context(mailbox: Mailbox, tail: str) -> str:
    return f"{base()}/$metadata#users('{mailbox.user.oid}')/{tail}"


def find_folder(mailbox: Mailbox, ref: str):
    folder = mailbox.folder(ref)
    if folder is None:
        raise GraphError(404, "ErrorItemNotFound")
    return folder


def find_message(mailbox: Mailbox, message_id: str, folder_ref: str | None = None) -> Message:
    if not is_message_id(message_id):
        raise GraphError(400, "ErrorInvalidIdMalformed", "Id is malformed.")
    message = mailbox.messages.get(message_id)
    if message is None or (folder_ref and message.folder_id != find_folder(mailbox, folder_ref).id):
        raise GraphError(404, "ErrorItemNotFound")
    return message


# -- users ----------------------------------------------------------------------------------
@bp.get("/me")
@bp.get("/users/<user_ref>")
def get_user(user_ref=None):
    return as_json({"@odata.context": f"{base()}/$metadata#users/$entity", **user_json(g.mailbox.user)})


@bp.get("/users")
def list_users():
    users = [user_json(m.user) for m in state().store.mailboxes.values()]
    return as_json({"@odata.context": f"{base()}/$metadata#users", "value": users})


@mailbox_route("/mailboxSettings")
def mailbox_settings(user_ref=None):
    require("settings.read")
    user = g.mailbox.user
    return as_json({"@odata.context": context(g.mailbox, "mailboxSettings"), "timeZone": user.time_zone,
                    "language": {"locale": "en-GB", "displayName": "English (United Kingdom)"},
                    "dateFormat": "dd/MM/yyyy", "timeFormat": "HH:mm"})


# -- folders --------------------------------------------------------------------------------
@mailbox_route("/mailFolders")
def list_folders(user_ref=None):
    require("read")
    mailbox = g.mailbox
    with state().store.lock:
        value = [folder_json(mailbox, f) for f in mailbox.folders.values()]
    return as_json({"@odata.context": context(mailbox, "mailFolders"), "value": value})


@mailbox_route("/mailFolders/<folder_ref>")
def get_folder(folder_ref, user_ref=None):
    require("read")
    mailbox = g.mailbox
    with state().store.lock:
        body = folder_json(mailbox, find_folder(mailbox, folder_ref))
    return as_json({"@odata.context": context(mailbox, "mailFolders/$entity"), **body})


# -- messages -------------------------------------------------------------------------------
@mailbox_route("/messages")
@mailbox_route("/mailFolders/<folder_ref>/messages")
def list_messages(folder_ref=None, user_ref=None):
    require("read")
    mailbox, query = g.mailbox, odata.parse_list_query(request.args)
    top = query.top or odata.DEFAULT_PAGE
    with state().store.lock:
        folder = find_folder(mailbox, folder_ref) if folder_ref else None
        hits = [m for m in mailbox.messages.values()
                if (folder is None or m.folder_id == folder.id) and query.matches(m)]
        prop, descending = query.orderby or ("receiveddatetime", True)
        hits.sort(key=odata.sort_key(prop), reverse=descending)
        window = hits[query.skip:query.skip + top]
        kind = body_type()
        value = [json.dumps(project(m, query.select, kind)) if query.select else message_text(m, kind)
                 for m in window]
    tail = f"mailFolders('{folder.id}')/messages" if folder else "messages"
    if query.select:
        tail += "(" + ",".join(query.select) + ")"
    links = {}
    if query.skip + top < len(hits):
        args = request.args.to_dict()
        args["$skip"] = str(query.skip + top)
        links["@odata.nextLink"] = f"{base()}{request.path[5:]}?" + urlencode(args, quote_via=quote, safe="$',:()")
    return as_json(collection_text(context(mailbox, tail), value, links), headers=preference_headers())


@mailbox_route("/messages/<message_id>")
@mailbox_route("/mailFolders/<folder_ref>/messages/<message_id>")
def get_message(message_id, folder_ref=None, user_ref=None):
    require("read")
    mailbox, select = g.mailbox, odata.parse_select(request.args.get("$select"))
    with state().store.lock:
        body = project(find_message(mailbox, message_id, folder_ref), select, body_type())
    return as_json({"@odata.context": context(mailbox, "messages/$entity"), **body},
                   headers=preference_headers())


@mailbox_route("/messages/<message_id>", methods=("PATCH",))
@mailbox_route("/mailFolders/<folder_ref>/messages/<message_id>", methods=("PATCH",))
def update_message(message_id, folder_ref=None, user_ref=None):
    require("write")
    mailbox, store = g.mailbox, state().store
    payload = request.get_json(silent=True)
    if not isinstance(payload, dict):
        raise GraphError(400, "RequestBodyRead", "Cannot read the request body as a JSON object.")
    with store.lock:
        message = find_message(mailbox, message_id, folder_ref)
        check_if_match(message)
        changes = message_changes(payload, message)
        store.update_message(mailbox, message, changes)
        body = project(message, None, body_type())
    return as_json({"@odata.context": context(mailbox, "messages/$entity"), **body})


def check_if_match(message: Message) -> None:
    wanted = request.headers.get("If-Match")
    if wanted and wanted != "*" and wanted.strip() not in (f'W/"{message.change_key}"', f'"{message.change_key}"'):
        raise GraphError(412, "ErrorIrresolvableConflict",
                         "The send or update operation could not be performed because the change key passed "
                         "in the request does not match the current change key for the item.")


def message_changes(payload: dict, message: Message) -> dict:
    """Validated attribute changes for a PATCH (categories replace the whole list, §1.5)."""
    changes = {}
    for name, value in payload.items():
        if name in _DRAFT_ONLY and not message.is_draft:
            raise GraphError(400, "ErrorInvalidPropertyUpdateSentMessage",
                             "Update operation is not supported for this property on a sent message.")
        if name not in _WRITABLE:
            if name in MESSAGE_PROPERTIES or name == "id":
                raise GraphError(400, "ErrorInvalidPropertySet", f"The property '{name}' is read-only.")
            raise GraphError(400, "RequestBodyRead",
                             f"The property '{name}' does not exist on type 'microsoft.graph.message'.")
        if name == "categories":
            if not isinstance(value, list) or not all(isinstance(c, str) for c in value):
                raise GraphError(400, "RequestBodyRead", "categories must be an array of strings.")
            changes["categories"] = list(dict.fromkeys(value))
        elif name == "isRead":
            if not isinstance(value, bool):
                raise GraphError(400, "RequestBodyRead", "isRead must be a boolean.")
            changes["is_read"] = value
        elif name == "importance":
            if value not in ("low", "normal", "high"):
                raise GraphError(400, "RequestBodyRead", f"Invalid importance '{value}'.")
            changes["importance"] = value
        elif name == "flag":
            status = value.get("flagStatus") if isinstance(value, dict) else None
            if status not in ("notFlagged", "complete", "flagged"):
                raise GraphError(400, "RequestBodyRead", "flag.flagStatus must be notFlagged, complete or flagged.")
            changes["flag_status"] = status
    return changes


# -- delta ----------------------------------------------------------------------------------
@mailbox_route("/mailFolders/<folder_ref>/messages/delta")
def message_delta(folder_ref, user_ref=None):
    require("read")
    mailbox, store = g.mailbox, state().store
    folder = find_folder(mailbox, folder_ref)
    token = request.args.get("$deltatoken") or request.args.get("$skiptoken")
    cursor = deltas.Cursor.decode(token) if token else new_cursor(mailbox, folder.id)
    size = page_size(cursor)
    since = _since(cursor.since)
    body_kind = body_type()
    with store.lock:
        deltas.check_cursor(cursor, store.epoch, mailbox, folder.id)
        if cursor.hi < 0:
            cursor.hi = mailbox.seq
        entries, more, last = deltas.page(mailbox, cursor, size, since)
        value = [delta_item(kind, item, cursor.select, body_kind) for kind, item in entries]
    link = f"{base()}{request.path[5:]}"
    if more:
        cursor.after = last
        links = {"@odata.nextLink": f"{link}?$skiptoken={cursor.encode()}"}
    else:
        cursor.lo, cursor.after, cursor.hi = cursor.hi, cursor.hi, -1
        links = {"@odata.deltaLink": f"{link}?$deltatoken={cursor.encode()}"}
    body = collection_text(f"{base()}/$metadata#Collection(message)", value, links)
    headers = preference_headers()
    if _PREFER_PAGE.search(request.headers.get("Prefer", "")):
        applied = f"odata.maxpagesize={size}"
        headers["Preference-Applied"] = ", ".join(filter(None, [headers.get("Preference-Applied"), applied]))
    return as_json(body, headers=headers)


def new_cursor(mailbox: Mailbox, folder_id: str) -> deltas.Cursor:
    args = request.args
    select = odata.parse_select(args.get("$select"))
    since = None
    if args.get("$filter"):
        match = re.fullmatch(r"\s*receivedDateTime\s+(ge|gt)\s+(\S+)\s*", args["$filter"], re.I)
        if not match:
            raise odata.invalid_filter()
        since = f"{match[1].lower()}|{match[2]}"
        _since(since)  # validates the date
    if args.get("$orderby") and args["$orderby"].strip().lower() != "receiveddatetime desc":
        raise GraphError(400, "BadRequest", "Delta on messages supports only $orderby=receivedDateTime desc.")
    change_types = [c.strip() for c in args.get("changeType", ",".join(deltas.CHANGE_TYPES)).split(",")]
    if not change_types or any(c not in deltas.CHANGE_TYPES for c in change_types):
        raise GraphError(400, "BadRequest", "changeType must be created, updated and/or deleted.")
    return deltas.Cursor(state().store.epoch, mailbox.delta_generation, mailbox.user.oid, folder_id,
                         lo=0, hi=-1, after=0, select=select, since=since, change_types=change_types,
                         top=odata.parse_top(args.get("$top")))


def page_size(cursor: deltas.Cursor) -> int:
    match = _PREFER_PAGE.search(request.headers.get("Prefer", ""))
    if match:
        return max(1, min(int(match[1]), odata.MAX_PAGE))
    return cursor.top or odata.DEFAULT_PAGE


def _since(spec: str | None):
    if not spec:
        return lambda message: True
    op, raw = spec.split("|", 1)
    try:
        moment = dt.datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError as exc:
        raise odata.invalid_filter() from exc
    if op == "gt":
        return lambda message: message.received > moment
    return lambda message: message.received >= moment


def delta_item(kind: str, item, select, body_kind: str) -> str:
    """One serialized delta entry: a removal, a projection, or the cached full message."""
    if kind == "r":
        return json.dumps({"@odata.type": "#microsoft.graph.message", "id": item, "@removed": {"reason": "deleted"}})
    if select:
        return json.dumps({"@odata.type": "#microsoft.graph.message", **project(item, select, body_kind)})
    return message_text(item, body_kind, delta=True)


# -- master categories ------------------------------------------------------------------------
def category_json(category: Category) -> dict:
    return {"id": category.id, "displayName": category.display_name, "color": category.color}


@mailbox_route("/outlook/masterCategories")
def list_categories(user_ref=None):
    require("settings.read")
    mailbox = g.mailbox
    with state().store.lock:
        value = [category_json(c) for c in mailbox.categories]
    return as_json({"@odata.context": context(mailbox, "outlook/masterCategories"), "value": value})


@mailbox_route("/outlook/masterCategories", methods=("POST",))
def add_category(user_ref=None):
    require("settings.write")
    mailbox, payload = g.mailbox, request.get_json(silent=True)
    name = payload.get("displayName") if isinstance(payload, dict) else None
    color = payload.get("color", "none") if isinstance(payload, dict) else None
    if not isinstance(name, str) or not name.strip():
        raise GraphError(400, "ErrorInvalidParameter", "displayName is required.")
    if color not in CATEGORY_COLORS:
        raise GraphError(400, "RequestBodyRead", f"Invalid categoryColor '{color}'.")
    category = state().store.add_master_category(mailbox, name, color)
    if category is None:
        # Undocumented on Graph (reference §1.6); Graph's generic code for duplicate names.
        raise GraphError(409, "nameAlreadyExists", f"A category named '{name}' already exists.")
    return as_json({"@odata.context": context(mailbox, "outlook/masterCategories/$entity"),
                    **category_json(category)}, status=201)


def _find_category(mailbox: Mailbox, category_id: str) -> Category:
    for category in mailbox.categories:
        if category.id == category_id:
            return category
    raise GraphError(404, "ErrorItemNotFound")


@mailbox_route("/outlook/masterCategories/<category_id>")
def get_category(category_id, user_ref=None):
    require("settings.read")
    with state().store.lock:
        body = category_json(_find_category(g.mailbox, category_id))
    return as_json({"@odata.context": context(g.mailbox, "outlook/masterCategories/$entity"), **body})


@mailbox_route("/outlook/masterCategories/<category_id>", methods=("PATCH",))
def update_category(category_id, user_ref=None):
    require("settings.write")
    payload = request.get_json(silent=True) or {}
    if set(payload) - {"color"}:
        raise GraphError(400, "ErrorInvalidPropertySet", "Only color can be changed on a category.")
    if payload.get("color") not in CATEGORY_COLORS:
        raise GraphError(400, "RequestBodyRead", f"Invalid categoryColor '{payload.get('color')}'.")
    with state().store.lock:
        category = _find_category(g.mailbox, category_id)
        category.color = payload["color"]
        body = category_json(category)
    return as_json(body)


@mailbox_route("/outlook/masterCategories/<category_id>", methods=("DELETE",))
def delete_category(category_id, user_ref=None):
    require("settings.write")
    with state().store.lock:
        g.mailbox.categories.remove(_find_category(g.mailbox, category_id))
    return Response(status=204)
