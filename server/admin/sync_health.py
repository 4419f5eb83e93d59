"""The admin's Sync Health page (SPEC section 14): each user's connection state with the
mailbox's last error and its fix, mailboxes stuck or backing off, queue depth, webhook
health, the day's top error codes and the recent failed jobs (`mailferry.sync_health`); and
where the tenant's alerts go (`mailferry.alert_settings`, sent by `worker.alerts`).
Scoped to the signed-in admin's tenant."""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from flask_login import current_user

from mailferry import alert_settings, audit
from mailferry.db import utcnow
from mailferry.models import Tenant
from mailferry.sync_health import sync_health
from server.access import admin_required
from server.extensions import db, redis_client
from server.time_display import iso, local_time, viewer_zone


def register(blueprint) -> None:
    blueprint.add_url_rule("/sync-health", "sync_health", page, methods=["GET"])
    blueprint.add_url_rule("/sync-health/alerts", "save_alerts", save_alerts, methods=["POST"])


def _render(alerts: alert_settings.AlertSettings, errors: dict[str, str]):
    tenant = db().get(Tenant, current_user.tenant_id)
    health = sync_health(db(), redis_client(), tenant, utcnow())
    return render_template("admin/sync_health.html", health=health, alerts=alerts, errors=errors,
                           zone=viewer_zone(db(), current_user.id), local_time=local_time, iso=iso), (
        422 if errors else 200)


@admin_required
def page():
    return _render(alert_settings.read(db(), current_user.tenant_id), {})


@admin_required
def save_alerts():
    alerts, errors = alert_settings.check(request.form.get("alert_email"), request.form.get("alert_webhook_url"))
    if errors:
        return _render(alerts, errors)
    before = alert_settings.read(db(), current_user.tenant_id)
    alert_settings.save(db(), current_user.tenant_id, alerts)
    audit.record(db(), current_user.tenant_id, current_user.id, "alerts.save", "Sync Health alerts",
                 _audited(before), _audited(alerts))
    db().commit()
    flash("Alerts go to " + " and ".join(filter(None, (alerts.email, alerts.webhook_url)))
          if alerts.enabled else "Alerts are off: no address and no webhook URL.", "success")
    return redirect(url_for("admin.sync_health"))


def _audited(alerts: alert_settings.AlertSettings) -> dict:
    return {"email": alerts.email, "webhook_url": alerts.webhook_url}
