"""The admin's Audit log page (SPEC section 14): the tenant's admin actions, newest first,
filtered by action, actor (part of their name or UPN) and date range (days in the admin's
own time zone), and the same selection as a CSV download. Only the signed-in admin's
tenant is ever read; entries are written by `mailferry.audit.record`."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Iterator
from zoneinfo import ZoneInfo

from flask import Response, render_template, request, stream_with_context
from flask_login import current_user
from sqlalchemy import func, or_, select

from mailferry.audit import ACTIONS, RETENTION
from mailferry.db import utcnow
from mailferry.history import csv_text, spreadsheet_safe_cell
from mailferry.models import AuditEntry
from server.access import admin_required
from server.extensions import db, db_session
from server.time_display import iso, local_time, viewer_zone

PAGE_SIZE = 100
CSV_CHUNK = 1000
CSV_HEADER = ["When (UTC)", "Actor", "Actor UPN", "Action", "Subject", "Before", "After"]


def register(blueprint) -> None:
    blueprint.add_url_rule("/audit", "audit_log", page, methods=["GET"])
    blueprint.add_url_rule("/audit.csv", "audit_log_export", export, methods=["GET"])


@dataclass(frozen=True)
class Filters:
    action: str = ""
    actor: str = ""
    since: date | None = None
    until: date | None = None
    errors: tuple[str, ...] = ()

    @classmethod
    def from_args(cls, args) -> Filters:
        errors = []
        action = args.get("action", "").strip()
        if action and action not in ACTIONS:
            errors.append(f"{action!r} is not an action of the audit log.")
            action = ""
        days = {}
        for key in ("since", "until"):
            text = args.get(key, "").strip()
            try:
                days[key] = date.fromisoformat(text) if text else None
            except ValueError:
                errors.append(f"{text!r} is not a date: use YYYY-MM-DD.")
                days[key] = None
        return cls(action, args.get("actor", "").strip(), days["since"], days["until"], tuple(errors))

    def query(self, tenant_id: int, zone: str):
        """The tenant's entries under these filters, newest first."""
        query = select(AuditEntry).where(AuditEntry.tenant_id == tenant_id)
        if self.action:
            query = query.where(AuditEntry.action == self.action)
        if self.actor:
            pattern = self.actor.lower()
            query = query.where(or_(func.lower(AuditEntry.actor_name).contains(pattern, autoescape=True),
                                    func.lower(AuditEntry.actor_upn).contains(pattern, autoescape=True)))
        if self.since:
            query = query.where(AuditEntry.at >= _start_of(self.since, zone))
        if self.until:
            query = query.where(AuditEntry.at < _start_of(self.until + timedelta(days=1), zone))
        return query.order_by(AuditEntry.at.desc(), AuditEntry.id.desc())

    def as_args(self) -> dict[str, str]:
        return {key: value for key, value in (("action", self.action), ("actor", self.actor),
                                              ("since", self.since and self.since.isoformat()),
                                              ("until", self.until and self.until.isoformat())) if value}


def _start_of(day: date, zone: str) -> datetime:
    return datetime.combine(day, time.min, ZoneInfo(zone))


def as_json(value) -> str:
    return "" if value is None else json.dumps(value, ensure_ascii=False, sort_keys=True)


@admin_required
def page():
    zone = viewer_zone(db(), current_user.id)
    filters = Filters.from_args(request.args)
    number = max(1, request.args.get("page", 1, type=int) or 1)
    rows = list(db().execute(filters.query(current_user.tenant_id, zone)
                             .offset((number - 1) * PAGE_SIZE).limit(PAGE_SIZE + 1)).scalars())
    return render_template("admin/audit_log.html", entries=rows[:PAGE_SIZE], more=len(rows) > PAGE_SIZE,
                           number=number, filters=filters, actions=ACTIONS, zone=zone, local_time=local_time,
                           iso=iso, as_json=as_json, retention_days=RETENTION.days), (400 if filters.errors else 200)


@admin_required
def export():
    zone = viewer_zone(db(), current_user.id)
    filters = Filters.from_args(request.args)
    tenant_id = current_user.tenant_id
    db().close()  # a long download must not hold the request's transaction (as history.export)
    filename = f"mailferry-audit-{utcnow():%Y%m%d-%H%M}.csv"
    return Response(stream_with_context(csv_text(_csv_rows(filters, tenant_id, zone))), mimetype="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="{filename}"', "Cache-Control": "no-store"})


def _csv_rows(filters: Filters, tenant_id: int, zone: str) -> Iterator[list[str]]:
    yield CSV_HEADER
    offset = 0
    while True:
        with db_session() as session:
            entries = session.execute(filters.query(tenant_id, zone).offset(offset).limit(CSV_CHUNK)).scalars()
            chunk = [[spreadsheet_safe_cell(value) for value in (iso(e.at), e.actor_name, e.actor_upn, e.action,
                                                                 e.subject, as_json(e.before), as_json(e.after))]
                     for e in entries]
        yield from chunk
        if len(chunk) < CSV_CHUNK:
            return
        offset += CSV_CHUNK
