"""My Settings → Sync Jobs and Email Sync → Edit (SPEC section 6). Each user sees and
changes only their own settings (`current_user.id`)."""

from __future__ import annotations

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from sqlalchemy import select

from mailferry.db import utcnow
from mailferry.models import Connection, Mailbox, User
from mailferry.settings_catalog import CATALOGUE
from mailferry.settings_service import save_user_settings, stored_form, user_settings_state
from mailferry.sync_job_status import describe
from server.extensions import db, read_db
from server.settings.form import EDIT_KEYS, SYNC_MODES, folders_text, time_zones, values_from_form
from server.time_display import iso, local_time

blueprint = Blueprint("settings", __name__, url_prefix="/settings", template_folder="templates")


def _me() -> User:
    return db().get(User, current_user.id)


@blueprint.get("")
@login_required
def index():
    return redirect(url_for("settings.sync_jobs"))


@blueprint.get("/sync-jobs")
@login_required
def sync_jobs():
    session = read_db()  # only reads: never waits for a write
    user = session.get(User, current_user.id)
    state = user_settings_state(session, user)
    settings = state.effective
    mailbox = session.scalar(select(Mailbox).where(Mailbox.user_id == user.id))
    salesforce = session.scalar(
        select(Connection).where(Connection.user_id == user.id, Connection.provider == "salesforce"))
    status = describe(mailbox.status if mailbox else None, mailbox.status_detail if mailbox else None,
                      mailbox.retry_after if mailbox else None, settings, utcnow(),
                      salesforce.status if salesforce else None, salesforce.status_detail if salesforce else None)
    zone = settings.time_zone
    return render_template(
        "settings/sync_jobs.html",
        settings=settings, status=status, mailbox=mailbox,
        last_run=local_time(mailbox.last_run_at if mailbox else None, zone),
        last_run_iso=iso(mailbox.last_run_at if mailbox else None),
        last_success=local_time(mailbox.last_success_at if mailbox else None, zone),
        until=local_time(status.until, zone) if status.until else None,
        history_url=url_for("history.index") if "history.index" in current_app.view_functions else None,
        connections_url=url_for("connections.index") if "connections.index" in current_app.view_functions else None,
    )


@blueprint.route("/sync-jobs/email/edit", methods=["GET", "POST"])
@login_required
def edit_email_sync():
    user = _me()
    state = user_settings_state(db(), user)
    shown = {key: stored_form(getattr(state.effective, key)) for key in EDIT_KEYS}
    errors: dict[str, str] = {}
    if request.method == "POST":
        values = values_from_form(request.form, EDIT_KEYS, state.effective.locked)
        result = save_user_settings(db(), user, values)
        if result.ok:
            db().commit()
            flash("Email Sync settings saved. They apply to emails decided from now on.", "success")
            return redirect(url_for("settings.sync_jobs"))
        db().rollback()
        errors = result.errors
        shown.update({key: value for key, value in values.items() if key not in state.effective.locked})
    shown["folders"] = shown["folders"] if isinstance(shown["folders"], str) else folders_text(shown["folders"])
    return render_template(
        "settings/edit_email_sync.html",
        shown=shown, errors=errors, state=state, catalogue=CATALOGUE,
        sync_modes=SYNC_MODES, time_zones=time_zones(),
    ), (422 if errors else 200)
