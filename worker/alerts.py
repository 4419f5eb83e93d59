"""Tenants' Sync Health alerts (SPEC section 14), sent by the periodic `send_alerts` job:

- a mailbox needs reconnecting (`sync_health.DISCONNECTED_CODES`) and its mail has not
  synced for more than an hour (since its last successful run; never synced: since it was
  added). The mailbox row keeps no "disconnected at", and the last success is what the
  operator cares about: how long this user's mail has been waiting;
- errors on more than 5% of the day's mail (UTC day, emails first seen today carrying an
  error code), once the day has at least `MIN_DAY_MAIL` emails, so that the first failure of
  the morning is not "100%".

Each goes to the tenant's email address and/or webhook URL (`alert_settings`), at most once a
day per condition, subject (the mailbox, or the tenant) and channel: a Redis key set before
sending (SET NX, kept two days) and removed if the sending fails, so the next run tries again.
Webhooks are an HTTPS POST of JSON through the worker's outbound session (its CA bundle);
emails go through the SMTP server of `MAILFERRY_SMTP_URL` (worker/alert_email.py).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import partial

import requests
from sqlalchemy import select

from mailferry import alert_settings
from mailferry.config import SmtpServer
from mailferry.models import Tenant
from mailferry.sync_health import day_errors, disconnected_longer_than, mailbox_health
from worker import alert_email

log = logging.getLogger(__name__)

DISCONNECTED_FOR = timedelta(hours=1)
ERROR_SHARE = 0.05
MIN_DAY_MAIL = 20
_DEDUPE_SECONDS = 2 * 24 * 60 * 60
_WEBHOOK_TIMEOUT_SECONDS = 10
CONDITION_LABELS = {"mailbox_disconnected": "a mailbox needs reconnecting", "error_rate": "errors on today's mail"}


@dataclass(frozen=True)
class Alert:
    condition: str  # mailbox_disconnected | error_rate
    subject: str  # what it is about: "mailbox-<id>" or "tenant"
    text: str
    facts: dict = field(default_factory=dict)


def due_alerts(session, connection, tenant: Tenant, now: datetime) -> list[Alert]:
    """The tenant's conditions that hold now (whether or not already sent today)."""
    alerts = []
    for m in disconnected_longer_than(mailbox_health(session, connection, tenant, now), now, DISCONNECTED_FOR):
        hours = (now - m.synced_since).total_seconds() / 3600
        alerts.append(Alert(
            "mailbox_disconnected", f"mailbox-{m.mailbox_id}",
            f"{m.user.name} <{m.user.upn}>: {m.user.sync.label}, no mail synced for {hours:.1f} hours. "
            f"{m.user.sync.detail or ''}".strip(),
            {"user": m.user.upn, "mailbox_id": m.mailbox_id, "status": m.user.sync.code,
             "fix": m.user.sync.detail, "last_error": m.last_error, "synced_since": m.synced_since.isoformat()}))
    day = day_errors(session, tenant.id, now)
    if day.mail >= MIN_DAY_MAIL and day.with_errors > ERROR_SHARE * day.mail:
        alerts.append(Alert(
            "error_rate", "tenant",
            f"{day.with_errors} of today's {day.mail} emails ({day.percent:.1f}%) have an error; most frequent: "
            + ", ".join(f"{code} ({n})" for code, n in day.top_codes[:3]),
            {"day": day.day.date().isoformat(), "mail": day.mail, "with_errors": day.with_errors,
             "percent": round(day.percent, 1), "top_codes": [list(pair) for pair in day.top_codes]}))
    return alerts


def send_all(rt, now: datetime) -> list[str]:
    """Every tenant with alerts set: send what is due and not yet sent today. Returns what
    was sent ("<tenant id>:<condition>:<subject>:<channel>")."""
    with rt.session() as session:
        tenant_ids = session.execute(select(Tenant.id)).scalars().all()
    smtp = rt.config.smtp  # MAILFERRY_SMTP_URL, checked at start-up
    sent = []
    for tenant_id in tenant_ids:
        with rt.session() as session:
            settings = alert_settings.read(session, tenant_id)
            if not settings.enabled:
                continue
            tenant = session.get(Tenant, tenant_id)
            alerts = due_alerts(session, rt.redis, tenant, now)
            tenant_name = tenant.name
        if settings.email and smtp is None and alerts:
            log.warning("tenant %s: alert emails to %s wait for %s to be set on the workers", tenant_id,
                        settings.email, alert_email.VARIABLE)
        for alert in alerts:
            sent += _send(rt, tenant_id, tenant_name, settings, smtp, alert, now)
    return sent


def _send(rt, tenant_id: int, tenant_name: str, settings: alert_settings.AlertSettings,
          smtp: SmtpServer | None, alert: Alert, now: datetime) -> list[str]:
    channels = []
    if settings.webhook_url:
        channels.append(("webhook", settings.webhook_url, partial(_post_webhook, rt)))
    if settings.email and smtp is not None:
        channels.append(("email", settings.email, partial(_email, rt, smtp)))
    sent = []
    for channel, target, deliver in channels:
        name = f"{tenant_id}:{alert.condition}:{alert.subject}:{channel}"
        key = f"mailferry:alerts:{name}:{now:%Y-%m-%d}"
        if not rt.redis.set(key, now.isoformat(), nx=True, ex=_DEDUPE_SECONDS):
            continue  # already sent today
        try:
            deliver(target, tenant_name, alert, now)
        except (requests.RequestException, OSError) as error:
            rt.redis.delete(key)  # not sent: the next run tries again
            log.warning("tenant %s: the %s alert %s could not be sent to %s (%s)", tenant_id, channel,
                        alert.condition, target, error)
            continue
        log.info("tenant %s: sent the %s alert %s", tenant_id, channel, alert.condition)
        sent.append(name)
    return sent


def _post_webhook(rt, url: str, tenant_name: str, alert: Alert, now: datetime) -> None:
    payload = {"source": "mailferry", "tenant": tenant_name, "condition": alert.condition, "subject": alert.subject,
               "text": alert.text, "at": now.isoformat(), **alert.facts}
    rt.http.post(url, json=payload, timeout=_WEBHOOK_TIMEOUT_SECONDS).raise_for_status()


def _email(rt, smtp: SmtpServer, to: str, tenant_name: str, alert: Alert, now: datetime) -> None:
    facts = "\n".join(f"{key}: {value}" for key, value in alert.facts.items() if value is not None)
    alert_email.send(smtp, rt.config.client_ca_file, to,
                     f"Mailferry alert for {tenant_name}: {CONDITION_LABELS[alert.condition]}",
                     f"{alert.text}\n\n{facts}\n\nAt {now:%Y-%m-%d %H:%M} UTC. Sync Health: "
                     f"{rt.config.base_url}/admin/sync-health\n")
