"""The admin pages. Every view is `admin_required` and reads or writes only the signed-in
admin's tenant (`current_user.tenant_id`); nothing here takes a tenant id from the URL."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import func, select

from mailferry import admins, global_exclusions, org_pinning
from mailferry.admin_overview import budget_overview, users_overview
from mailferry.data_retention import LONGEST_DAYS as RETENTION_LONGEST_DAYS, save_retention_days
from mailferry.db import utcnow
from mailferry.models import IgnoreEntry, OmittedDailyCount, Tenant, User
from mailferry.settings_catalog import CATALOGUE
from mailferry.settings_service import (
    save_api_budget_percent,
    save_smart_addresses,
    save_tenant_defaults,
    stored_form,
    tenant_defaults_state,
)
from server.access import admin_required
from server.admin.chart import hourly_chart
from server.extensions import config, db, redis_client
from server.settings.form import BOOLEAN_KEYS, EDIT_KEYS, SYNC_MODES, folders_text, time_zones, values_from_form
from server.time_display import iso, local_time, viewer_zone

blueprint = Blueprint("admin", __name__, url_prefix="/admin", template_folder="templates")


def _tenant() -> Tenant:
    return db().get(Tenant, current_user.tenant_id)


def _me() -> User:
    return db().get(User, current_user.id)


def _zone() -> str:
    """The admin's own time zone, for the times the pages show."""
    return viewer_zone(db(), current_user.id)


@blueprint.get("")
@admin_required
def index():
    tenant = _tenant()
    now = utcnow()
    people = users_overview(db(), tenant, now)
    exclusions = db().scalar(select(func.count()).select_from(IgnoreEntry).where(
        IgnoreEntry.tenant_id == tenant.id, IgnoreEntry.user_id.is_(None)))
    omitted = db().scalar(select(OmittedDailyCount.count).where(
        OmittedDailyCount.tenant_id == tenant.id, OmittedDailyCount.day == now.date())) or 0
    attention = [p for p in people if p.sync.code in ("needs_reconnect", "not_connected")
                 or p.salesforce.status != "connected" or p.microsoft.status != "connected"]
    return render_template("admin/index.html", tenant=tenant, users=len(people), attention=len(attention),
                           exclusions=exclusions, omitted=omitted,
                           budget=budget_overview(db(), redis_client(), tenant, now))


@blueprint.route("/exclusions", methods=["GET", "POST"])
@admin_required
def exclusions():
    tenant = _tenant()
    errors = ()
    if request.method == "POST":
        text = request.form.get("entries", "")
        result = global_exclusions.replace_from_text(db(), tenant, text, current_user.id, utcnow())
        if result.ok:
            db().commit()
            flash(_exclusions_saved(result), "success")
            return redirect(url_for("admin.exclusions"))
        db().rollback()
        errors = result.errors
    else:
        text = global_exclusions.as_text(db(), tenant.id)
    count = len([line for line in text.splitlines() if line.strip()])
    return render_template("admin/exclusions.html", text=text, errors=errors, count=count), (422 if errors else 200)


def _exclusions_saved(result) -> str:
    entries = len(result.entries)
    users = result.affected_users
    return (f"Global Exclusion List saved: {entries} entr{'y' if entries == 1 else 'ies'} "
            f"({len(result.added)} added, {len(result.removed)} removed). "
            f"{users} user{'' if users == 1 else 's'} affected: their email with these addresses is no longer "
            "synced or shown from now on.")


@blueprint.route("/smart-addresses", methods=["GET", "POST"])
@admin_required
def smart_addresses():
    tenant = _tenant()
    errors: dict[str, str] = {}
    shown = {"do_not_record_address": tenant.do_not_record_address or "",
             "smart_address_domain": tenant.smart_address_domain or ""}
    if request.method == "POST":
        shown = {key: request.form.get(key, "") for key in shown}
        result = save_smart_addresses(db(), tenant, shown["do_not_record_address"], shown["smart_address_domain"],
                                      actor=_me())
        if result.ok:
            db().commit()
            flash("Smart addresses saved.", "success")
            return redirect(url_for("admin.smart_addresses"))
        db().rollback()
        errors = result.errors
    example = None
    if tenant.smart_address_domain:
        example = f"account-001xx000003dgb2aag@{tenant.smart_address_domain}"
    return render_template("admin/smart_addresses.html", shown=shown, errors=errors, example=example), (
        422 if errors else 200)


@blueprint.route("/defaults", methods=["GET", "POST"])
@admin_required
def defaults():
    tenant = _tenant()
    state = tenant_defaults_state(db(), tenant.id)
    shown = {key: stored_form(state.values[key]) for key in EDIT_KEYS}
    locks = set(state.locked)
    errors: dict[str, str] = {}
    if request.method == "POST":
        values = values_from_form(request.form, EDIT_KEYS, frozenset())
        locks = {key for key in EDIT_KEYS if request.form.get(f"lock_{key}") == "on"}
        result = save_tenant_defaults(db(), tenant.id, _me(), values, locks)
        if result.ok:
            db().commit()
            flash("Tenant defaults saved. Users without their own value follow them; locked settings "
                  "apply to everyone.", "success")
            return redirect(url_for("admin.defaults"))
        db().rollback()
        errors = result.errors
        shown.update(values)
    return _defaults_page(tenant, state, shown, locks, errors)


@blueprint.post("/defaults/retention")
@admin_required
def save_retention():
    """The Defaults page's Data retention form (mailferry/data_retention.py)."""
    tenant = _tenant()
    typed = request.form.get("retention_days", "")
    error = save_retention_days(db(), tenant, typed, actor=_me())
    if error is None:
        db().commit()
        flash(f"Sync History and Unmatched rows are now kept {tenant.retention_days} days, then purged "
              "(within the hour).", "success")
        return redirect(url_for("admin.defaults"))
    db().rollback()
    tenant = _tenant()
    state = tenant_defaults_state(db(), tenant.id)
    return _defaults_page(tenant, state, {key: stored_form(state.values[key]) for key in EDIT_KEYS},
                          set(state.locked), {}, retention_shown=typed, retention_error=error)


def _defaults_page(tenant: Tenant, state, shown: dict, locks: set, errors: dict[str, str], *,
                   retention_shown: str | None = None, retention_error: str | None = None):
    shown["folders"] = shown["folders"] if isinstance(shown["folders"], str) else folders_text(shown["folders"])
    # The same keys, in the same order, as the user's Edit page (server/settings/form.py).
    return render_template("admin/defaults.html", keys=EDIT_KEYS, boolean_keys=BOOLEAN_KEYS,
                           shown=shown, locks=locks, state=state, errors=errors,
                           catalogue=CATALOGUE, sync_modes=SYNC_MODES, time_zones=time_zones(),
                           retention_days=tenant.retention_days if retention_shown is None else retention_shown,
                           retention_error=retention_error, retention_shortest=tenant.attempt_window_days,
                           retention_longest=RETENTION_LONGEST_DAYS), (422 if errors or retention_error else 200)


@blueprint.get("/users")
@admin_required
def users():
    zone = _zone()
    people = users_overview(db(), _tenant(), utcnow())
    sources = dict(db().execute(select(User.id, User.admin_source).where(User.tenant_id == current_user.tenant_id)).all())
    return render_template("admin/users.html", people=people, zone=zone, local_time=local_time, iso=iso,
                           admin_sources=sources, ADMIN_SOURCE_LABELS=ADMIN_SOURCE_LABELS)


#: Why someone is an admin, as the Users page says it.
ADMIN_SOURCE_LABELS = {"app_role": "Entra app role", "granted": "granted", "first_user": "first user (demo)"}


@blueprint.post("/users/<int:user_id>/admin")
@admin_required
def change_admin(user_id: int):
    """Grant (`action=grant`) or revoke admin for a user of this admin's tenant (CSRF-checked
    like every POST); the last admin of the tenant cannot be revoked here."""
    user = db().execute(select(User).where(User.id == user_id, User.tenant_id == current_user.tenant_id)
                        ).scalar_one_or_none()
    action = request.form.get("action")
    if user is None:
        abort(404)
    if action not in ("grant", "revoke"):
        abort(400)
    by = _me()
    if action == "grant":
        changed = admins.grant(user, by=by)
        message = f"{user.upn} is now an admin." if changed else f"{user.upn} was already an admin by grant."
    else:
        from_role = user.admin_source == "app_role"
        try:
            changed = admins.revoke(db(), user, by=by)
        except admins.LastAdmin as refusal:
            db().rollback()
            flash(f"{refusal} An admin cannot revoke themselves as the tenant's last admin.", "error")
            return redirect(url_for("admin.users"))
        message = f"{user.upn} is no longer an admin." if changed else f"{user.upn} was not an admin."
        if changed and from_role:
            message += (" They hold the Entra app role Mailferry.Admin, so they are an admin again at their next "
                        "sign-in unless it is unassigned in Entra.")
    db().commit()
    flash(message, "success")
    return redirect(url_for("admin.users"))


@blueprint.route("/salesforce-org", methods=["GET", "POST"])
@admin_required
def salesforce_org():
    """The tenant's Salesforce org pin: read-only when MAILFERRY_SALESFORCE_ORG_IDS sets it."""
    tenant = _tenant()
    pin = org_pinning.pin_of(config(), tenant)
    error = None
    if request.method == "POST" and not pin.from_config:
        error = org_pinning.set_pin(tenant, request.form.get("org_id", ""), by=_me())
        if error is None:
            db().commit()
            flash(f"Users of this tenant may now connect only org {tenant.salesforce_pinned_org_id}."
                  if tenant.salesforce_pinned_org_id else "The org pin is cleared: users may connect any org.",
                  "success")
            return redirect(url_for("admin.salesforce_org"))
        db().rollback()
    return render_template("admin/salesforce_org.html", pin=pin, error=error,
                           orgs=org_pinning.connected_orgs(db(), tenant.id)), (422 if error else 200)


@blueprint.route("/api-budget", methods=["GET", "POST"])
@admin_required
def api_budget():
    tenant = _tenant()
    errors: dict[str, str] = {}
    percent = str(tenant.api_budget_percent)
    if request.method == "POST":
        percent = request.form.get("api_budget_percent", "")
        result = save_api_budget_percent(db(), tenant, percent, actor=_me())
        if result.ok:
            db().commit()
            flash(f"Mailferry may now use {tenant.api_budget_percent}% of the org's daily API allowance.", "success")
            return redirect(url_for("admin.api_budget"))
        db().rollback()
        errors = result.errors
        tenant = _tenant()
    overview = budget_overview(db(), redis_client(), tenant, utcnow())
    return render_template("admin/api_budget.html", budget=overview, chart=hourly_chart(overview.hours, overview.share),
                           paused_until=local_time(overview.paused_until, _zone()) if overview.paused_until else None,
                           percent=percent, errors=errors), (422 if errors else 200)
