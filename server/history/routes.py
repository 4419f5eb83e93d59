"""Sync History routes. Every query is scoped to the signed-in user (`current_user.id`);
ids from a form that are not theirs are simply not found.

    GET  /history                   → the Unresolved tab
    GET  /history/<tab>             ?sort=&dir=&q=&page=   one page of a tab
    GET  /history/<tab>.csv         the whole tab under the same sort and search
    POST /history/<tab>/save        Ignore Email / Ignore Address / Ignore Domain, all selected
    POST /history/retry             Retry now (one email, or all Unresolved)
"""

from __future__ import annotations

from flask import (
    Blueprint, Response, abort, flash, redirect, render_template, request, stream_with_context, url_for,
)
from flask_login import current_user, login_required

from mailferry import history
from mailferry.db import utcnow
from mailferry.history import TABS, View
from mailferry.models import Message
from server.extensions import db, db_session, read_db
from server.history import actions, presenting, state
from server.request_limits import id_from
from server.time_display import viewer_zone

blueprint = Blueprint("history", __name__, url_prefix="/history")


def _view(tab: str, values) -> View:
    if tab not in TABS:
        abort(404)
    return View.of(tab, values.get("sort"), values.get("dir"), values.get("q"), values.get("page"))


@blueprint.get("")
@login_required
def index():
    return redirect(url_for("history.tab", tab=history.DEFAULT_TAB))


@blueprint.get("/<tab>")
@login_required
def tab(tab: str):
    view = _view(tab, request.args)
    # Only reads: on SQLite it never waits for another user's Save or a worker's write.
    session = read_db()
    page = history.page_query(session, current_user.id, view)
    counts = history.tab_counts(session, current_user.id)
    links = presenting.Links(presenting.instance_url(session, current_user.id))
    return render_template(
        "history/index.html", view=view, page=page, counts=counts, tabs=TABS.values(), links=links,
        state=state, reason_text=history.reason_text, clock=presenting.Clock(viewer_zone(session, current_user.id)),
        total=None if view.query else counts[view.tab.key],
    )


@blueprint.get("/<tab>.csv")
@login_required
def export(tab: str):
    view = _view(tab, request.args)
    # The request's session (used to load the signed-in user) ends here: on SQLite an open
    # transaction holds the write lock, which a long download must not keep.
    db().close()
    rows = history.csv_rows(db_session, current_user.id, view)
    filename = f"mailferry-{view.tab.key}-{utcnow():%Y%m%d-%H%M}.csv"
    return Response(
        stream_with_context(history.csv_text(rows)),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{filename}"', "Cache-Control": "no-store"},
    )


@blueprint.post("/<tab>/save")
@login_required
def save(tab: str):
    view = _view(tab, request.form)
    result = actions.save_selection(db(), current_user, request.form)
    for category, message in result.messages():
        flash(message, category)
    return redirect(state.tab_url(view))


@blueprint.post("/retry")
@login_required
def retry():
    view = _view(request.form.get("tab", history.DEFAULT_TAB), request.form)
    message_id = request.form.get("message_id", "")
    count = actions.retry_now(db(), current_user.id, id_from(message_id, "message_id", Message.id) if message_id else None)
    if count:
        flash(f"Retrying {count} email{'s' if count != 1 else ''} now: "
              "they leave this tab when they find a Contact or Lead.", "success")
    else:
        flash("Nothing to retry: no such unresolved email.", "warning")
    return redirect(state.tab_url(view))
