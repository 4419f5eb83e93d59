"""The admin's App-only access page (SPEC section 14, app-only onboarding): turn tenant-wide
app-only Microsoft access on or off, name the Entra group whose members are synced without
signing in (its display name is what the membership job last read from Graph), connect
Salesforce once as an integration user (the Connections page's OAuth flow with the tenant as
its target), and see each user's mailbox, Salesforce route and mapped Salesforce user, with
an override per user.

Saving queues a membership run (`worker.jobs.sync_group_members`) so the page's members are
there within moments, not at the next 10-minute tick. Everything is scoped to the admin's
own tenant.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass

import redis
from flask import abort, flash, make_response, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import and_, func, select

from mailferry import audit, group_sync_status
from mailferry.job_queue import enqueue_maintenance
from mailferry.models import Connection, Mailbox, Tenant, User
from mailferry.salesforce_integration import integration_of
from server.access import admin_required
from server.connections import form_targets
from server.connections.login_hosts import login_choices
from server.extensions import config, db, redis_client

MEMBERSHIP_JOB = "sync_group_members"  # worker.jobs.sync_group_members
# A Salesforce User id: key prefix 005, 15 or 18 characters.
SALESFORCE_USER_ID = re.compile(r"^005[A-Za-z0-9]{12}(?:[A-Za-z0-9]{3})?$")


@dataclass(frozen=True)
class MemberRow:
    user_id: int
    name: str
    upn: str
    provisioned_by: str
    mailbox_status: str | None
    mailbox_detail: str | None
    own_salesforce: str | None  # the user's own connection's status, None without one
    salesforce_user_id: str | None

    @property
    def recorded_through(self) -> str:
        if self.own_salesforce == "connected":
            return "own connection"
        return "integration" if self.salesforce_user_id else "not recorded (no Salesforce user)"


def register(blueprint) -> None:
    blueprint.add_url_rule("/app-only", "app_only", page, methods=["GET"])
    blueprint.add_url_rule("/app-only", "save_app_only", save, methods=["POST"])
    blueprint.add_url_rule("/app-only/users/<int:user_id>/salesforce-user", "map_salesforce_user",
                           map_salesforce_user, methods=["POST"])


@admin_required
def page():
    tenant = db().get(Tenant, current_user.tenant_id)
    try:
        failure = group_sync_status.last_failure(redis_client(), tenant.id)
    except redis.RedisError:
        failure = None
    integration = integration_of(db(), tenant.id)
    response = make_response(render_template("admin/app_only.html", tenant=tenant, members=_members(tenant.id),
                                             failure=failure, integration=integration,
                                             choices=login_choices(config())))
    # The Connect form's answer redirects to Salesforce: allowed as on the Connections page.
    response.headers["Content-Security-Policy"] = form_targets.policy(config(), integration and integration.login_host)
    return response


@admin_required
def save():
    tenant = db().get(Tenant, current_user.tenant_id)
    enabled = request.form.get("app_only_enabled") == "on"
    group_id = request.form.get("group_id", "").strip().lower()
    if group_id and not _is_guid(group_id):
        flash("Enter the group's Object ID from Entra (a GUID such as 2f8e…-…), not its name.", "error")
        return redirect(url_for("admin.app_only"))
    if enabled and not group_id:
        flash("Name the Entra group whose members Mailferry syncs: its Object ID.", "error")
        return redirect(url_for("admin.app_only"))
    before = {"enabled": tenant.app_only_enabled, "group_id": tenant.app_only_group_id}
    if group_id != (tenant.app_only_group_id or ""):
        tenant.app_only_group_id = group_id or None
        tenant.app_only_group_name = None  # read from Graph by the next membership run
        tenant.app_only_members_synced_at = None
    tenant.app_only_enabled = enabled
    audit.record(db(), tenant.id, current_user.id, "app_only.save", "App-only access", before,
                 {"enabled": enabled, "group_id": tenant.app_only_group_id})
    db().commit()
    if enabled:
        try:
            enqueue_maintenance(redis_client(), MEMBERSHIP_JOB)
        except redis.RedisError:
            flash("Saved, but the group will be read at the next scheduled run (Redis is unreachable).", "warning")
            return redirect(url_for("admin.app_only"))
        flash("App-only access is on: the group's members are being provisioned and synced.", "success")
    else:
        flash("App-only access is off: each user's mailbox syncs only once they sign in with Microsoft.", "success")
    return redirect(url_for("admin.app_only"))


@admin_required
def map_salesforce_user(user_id: int):
    user = db().execute(select(User).where(User.id == user_id, User.tenant_id == current_user.tenant_id)
                        ).scalar_one_or_none()
    if user is None:
        abort(404)  # another tenant's user, like change_admin: existence not revealed
    value = request.form.get("salesforce_user_id", "").strip()
    if value and not SALESFORCE_USER_ID.match(value):
        flash("A Salesforce user id starts with 005 and has 15 or 18 characters (Setup → Users → the user's "
              "page address).", "error")
        return redirect(url_for("admin.app_only"))
    audit.record(db(), user.tenant_id, current_user.id, "app_only.salesforce_user", user.upn,
                 {"salesforce_user_id": user.salesforce_user_id}, {"salesforce_user_id": value or None})
    user.salesforce_user_id = value or None
    db().commit()
    flash(f"{user.display_name or user.upn}: " + (f"Tasks are owned by Salesforce user {value}." if value else
          "mapping cleared; the next membership run maps them by email again."), "success")
    return redirect(url_for("admin.app_only"))


def _members(tenant_id: int) -> list[MemberRow]:
    rows = db().execute(
        select(User.id, User.display_name, User.upn, User.provisioned_by, User.salesforce_user_id,
               Mailbox.status, Mailbox.status_detail, Connection.status.label("own_salesforce"))
        .outerjoin(Mailbox, Mailbox.user_id == User.id)
        .outerjoin(Connection, and_(Connection.user_id == User.id, Connection.provider == "salesforce"))
        .where(User.tenant_id == tenant_id)
        .order_by(func.lower(func.coalesce(func.nullif(User.display_name, ""), User.upn)), User.id)
    ).all()
    return [MemberRow(row.id, row.display_name or row.upn, row.upn, row.provisioned_by, row.status,
                      row.status_detail, row.own_salesforce, row.salesforce_user_id) for row in rows]


def _is_guid(value: str) -> bool:
    try:
        return str(uuid.UUID(value)) == value
    except ValueError:
        return False
