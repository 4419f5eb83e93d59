"""The Ignore List page: the signed-in user's entries (address or domain, when and where
added), a form to add one, and a Remove button per entry.

    GET  /ignore-list                 the entries
    POST /ignore-list                 add one (validated; the error says why not)
    POST /ignore-list/<id>/remove     remove one of the user's own entries

Adding re-evaluates the user's Unresolved and Unmatched rows, removing brings back the
skipped emails it kept out (SPEC section 4, `mailferry.ignoring`); either way the user's
mailbox syncs are queued by job name.
"""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from sqlalchemy import select

from mailferry import ignoring
from mailferry.db import utcnow
from mailferry.models import IgnoreEntry
from server.extensions import db, read_db
from server.history.actions import enqueue_syncs
from server.history.presenting import Clock
from server.request_limits import id_from
from server.time_display import viewer_zone

blueprint = Blueprint("ignore_list", __name__, url_prefix="/ignore-list")


@blueprint.get("")
@login_required
def index():
    return _page(request.args.get("value", ""))


@blueprint.post("")
@login_required
def add():
    text = request.form.get("value", "")
    session = db()
    added = ignoring.add_entry(session, current_user.id, current_user.tenant_id, text, "settings", utcnow(),
                               commit=session.commit)
    if added.error:
        flash(f"Not added: {added.error}.", "error")
        # The page again, the typed text kept, with status 400 so the failure is visible.
        return _page(text[:320], invalid=True), 400
    session.commit()
    if added.created:
        queued = enqueue_syncs(added.mailbox_ids)
        flash(f"Added {added.entry.value} to your Ignore List. Its emails leave the Unresolved tab and "
              "Unmatched Contacts/Leads now.", "success")
        if not queued:
            flash("The sync service did not answer; the change applies at its next run.", "warning")
    else:
        flash(f"{added.entry.value} is already on your Ignore List.", "info")
    return redirect(url_for("ignore_list.index"))


def _page(value: str, invalid: bool = False) -> str:
    """The user's entries, domains first (they cover the most), then by value (read-only:
    never waits for a write)."""
    session = read_db()
    entries = session.execute(
        select(IgnoreEntry).where(IgnoreEntry.user_id == current_user.id)
        .order_by(IgnoreEntry.kind.desc(), IgnoreEntry.value, IgnoreEntry.id)
    ).scalars().all()
    return render_template("ignore_list/index.html", entries=entries, sources=ignoring.SOURCES,
                           clock=Clock(viewer_zone(session, current_user.id)), value=value, invalid=invalid)


@blueprint.post("/<entry_id>/remove")
@login_required
def remove(entry_id: str):
    # Not Werkzeug's int converter: it takes any Unicode digits and any number of them.
    entry_id = id_from(entry_id, "entry id", IgnoreEntry.id)
    session = db()
    value = session.execute(
        select(IgnoreEntry.value).where(IgnoreEntry.id == entry_id, IgnoreEntry.user_id == current_user.id)
    ).scalar_one_or_none()
    mailboxes = ignoring.remove_entry(session, current_user.id, entry_id, utcnow(), commit=session.commit)
    if mailboxes is None:
        abort(404)
    session.commit()
    enqueue_syncs(mailboxes)
    flash(f"Removed {value} from your Ignore List. Emails of the last 30 days it kept out are checked again.",
          "success")
    return redirect(url_for("ignore_list.index"))
