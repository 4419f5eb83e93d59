"""The add-in's JSON API (SPEC section 7), one route per thing the pane or a command does.

Every route takes a bearer token (`server.addin.bearer`), acts only on the caller's own rows,
and answers JSON the scripts in `addin/` render as text. Cookies play no part, so the
session's CSRF token is not needed (and not checked): a cross-site page cannot attach the
bearer token, which lives only in the pane's memory.
"""

from __future__ import annotations

from flask import Blueprint, g, jsonify, request, url_for
from sqlalchemy import select

from mailferry import history, ignoring
from mailferry.db import utcnow
from mailferry.email_status import OutlookItem, status_of
from mailferry.models import Connection, Mailbox, Message
from mailferry.user_context import user_settings
from server.addin import presenting
from server.addin.bearer import token_required
from server.extensions import config, db
from server.history.actions import enqueue_syncs, retry_now
from server.history.presenting import Links, instance_url
from server.request_limits import bounded_json, id_from

blueprint = Blueprint("addin_api", __name__, url_prefix="/addin/api")
#: Longest Internet Message-ID accepted (RFC 5322 lines are at most 998 characters).
MAX_MESSAGE_ID = 998
COMPACT_PAGE_SIZE = 10


class BadRequest(Exception):
    pass


@blueprint.errorhandler(BadRequest)
def _bad_request(error: BadRequest):
    return jsonify(error="bad_request", message=str(error)), 400


def _body() -> dict:
    # Size and nesting are checked before parsing (413 / 400, `server.request_limits`).
    body = bounded_json()
    if not isinstance(body, dict):
        raise BadRequest("Send a JSON object (Content-Type: application/json).")
    return body


def _text(body: dict, name: str, limit: int = 320, required: bool = True) -> str:
    value = body.get(name)
    if not isinstance(value, str) or not value.strip():
        if required:
            raise BadRequest(f"“{name}” is missing.")
        return ""
    if len(value) > limit:
        raise BadRequest(f"“{name}” is longer than {limit} characters.")
    return value.strip()


def _people(value) -> tuple[tuple[str, str], ...]:
    """Office.js EmailAddressDetails → (address, display name); anything else is dropped."""
    if not isinstance(value, list):
        return ()
    people = []
    for entry in value[:500]:
        if isinstance(entry, dict) and isinstance(entry.get("emailAddress"), str):
            name = entry.get("displayName") if isinstance(entry.get("displayName"), str) else ""
            people.append((entry["emailAddress"][:320], name[:256]))
    return tuple(people)


def _item(body: dict) -> OutlookItem:
    sender = _people([body.get("from")])
    categories = body.get("categories") if isinstance(body.get("categories"), list) else []
    return OutlookItem(
        internet_message_id=_text(body, "internetMessageId", MAX_MESSAGE_ID),
        sender=sender[0] if sender else ("", ""),
        to=_people(body.get("to")),
        cc=_people(body.get("cc")),
        categories=tuple(c[:255] for c in categories[:100] if isinstance(c, str)),
    )


@blueprint.get("/me")
@token_required
def me():
    """Who is signed in and the settings the commands need (category names, sync mode)."""
    user = g.addin_user
    settings = user_settings(db(), user)
    salesforce = db().execute(
        select(Connection.status).where(Connection.user_id == user.id, Connection.provider == "salesforce")
    ).scalar_one_or_none()
    return jsonify(
        user={"name": user.display_name or user.upn, "upn": user.upn},
        sync_enabled=settings.enabled, sync_mode=settings.sync_mode.value, sync_mode_label=settings.sync_mode.label,
        crm_category=settings.crm_category, donotsync_category=settings.donotsync_category,
        prevent_delete=settings.prevent_delete,
        salesforce_connected=salesforce == "connected",
        history_url=config().base_url + url_for("history.index"),
    )


@blueprint.post("/status")
@token_required
def status():
    """The open email's status, its records and participants (looked up by Internet Message-ID)."""
    user = g.addin_user
    found = status_of(db(), user, _item(_body()))
    return jsonify(presenting.status_json(found, Links(instance_url(db(), user.id))))


@blueprint.post("/ignore")
@token_required
def ignore():
    """Ignore sender / Ignore sender's domain: an Ignore List entry, re-evaluated at once."""
    body = _body()
    kind = body.get("kind")
    if kind not in ("address", "domain"):
        raise BadRequest("“kind” must be address or domain.")
    user = g.addin_user
    added = ignoring.add_entry(db(), user.id, user.tenant_id, _text(body, "value"), "addin", utcnow(), kind=kind,
                               commit=db().commit)
    if added.error:
        raise BadRequest(f"Not added: {added.error}.")
    db().commit()
    queued = enqueue_syncs(added.mailbox_ids)
    noun = "address" if kind == "address" else "domain"
    message = (f"{added.entry.value} is on your Ignore List: its email is no longer synced."
               if added.created else f"{added.entry.value} was already on your Ignore List.")
    return jsonify(value=added.entry.value, kind=noun, created=added.created, queued=queued, message=message)


@blueprint.post("/sync")
@token_required
def sync_now():
    """Sync now / Sync to Salesforce / Don't sync: the category is on the item already (the
    command put it there); the user's mailbox sync runs now to act on it. Graph's delta finds
    what changed, so the body names no email."""
    user = g.addin_user
    mailboxes = db().execute(select(Mailbox.id).where(Mailbox.user_id == user.id)).scalars().all()
    return jsonify(queued=enqueue_syncs(mailboxes))


@blueprint.post("/ignore-email")
@token_required
def ignore_email():
    """Ignore Email for the open email, when Mailferry has stored it."""
    user = g.addin_user
    message_id = _text(_body(), "internetMessageId", MAX_MESSAGE_ID)
    ids = db().execute(select(Message.id).where(Message.user_id == user.id,
                                                Message.internet_message_id == message_id)).scalars().all()
    rows, mailboxes = ignoring.ignore_emails(db(), user.id, list(ids), "addin", utcnow())
    db().commit()
    return jsonify(ignored=len(rows), queued=enqueue_syncs(mailboxes))


@blueprint.post("/retry")
@token_required
def retry():
    body = _body()
    count = retry_now(db(), g.addin_user.id, id_from(body.get("messageId"), "messageId", Message.id))
    return jsonify(retrying=count)


@blueprint.get("/history")
@token_required
def compact_history():
    """One page of a Sync History tab, compact: ten rows, searchable, for the pane."""
    user = g.addin_user
    try:
        view = history.View.of(request.args.get("tab", history.DEFAULT_TAB), query=request.args.get("q"),
                               page=request.args.get("page"), page_size=COMPACT_PAGE_SIZE)
    except KeyError as error:
        raise BadRequest(f"Unknown tab; use one of {', '.join(history.TABS)}.") from error
    page = history.page_query(db(), user.id, view)
    return jsonify(presenting.history_json(page, history.tab_counts(db(), user.id),
                                           Links(instance_url(db(), user.id)), user_settings(db(), user).time_zone))
