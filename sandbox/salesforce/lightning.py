"""The few Lightning Experience pages a person reaches from Mailferry's links (reference 3.5):
New Contact / New Lead forms prefilled from `defaultFieldValues`, which create the record on
Save, and a record page showing the record and its activities.

Pages don't ask for a sign-in: records made here belong to the org's first active user.
"""

from __future__ import annotations

from urllib.parse import unquote, unquote_plus

from flask import Blueprint, redirect, render_template, request

from .errors import ApiError
from .store import Org

# The fields each New form shows, in order (a simple page layout).
LAYOUTS = {
    "Contact": ("FirstName", "LastName", "AccountId", "Title", "Email", "Phone"),
    "Lead": ("FirstName", "LastName", "Company", "Title", "Email", "Phone", "Status"),
}


def parse_default_field_values(raw_query: str) -> dict[str, str | None]:
    """`defaultFieldValues` from the raw query string: `Field=Value` pairs joined by `,`, each
    side percent-encoded like encodeURIComponent, `+` read as a space, a bare key meaning null.

    The raw string is split before decoding, so an encoded `,` or `=` inside a value stays part
    of it. A value the navigation service encoded twice has no literal `=` left at the top
    level; it is decoded once first.
    """
    raw = ""
    for part in raw_query.split("&"):
        name, _, value = part.partition("=")
        if unquote_plus(name) == "defaultFieldValues":
            raw = value
    if raw and "=" not in raw and "%3D" in raw.upper():
        raw = unquote(raw)
    values: dict[str, str | None] = {}
    for pair in filter(None, raw.split(",")):
        key, has_value, value = pair.partition("=")
        values[unquote_plus(key)] = unquote_plus(value) if has_value else None
    return values


def create_blueprint(org: Org) -> Blueprint:
    bp = Blueprint("salesforce_lightning", __name__, template_folder="templates")

    def layout_for(obj):
        fields = []
        for name in LAYOUTS[obj.name]:
            f = obj.fields[name]
            options = None
            if name == "AccountId":
                with org.lock:
                    accounts = sorted(org.records["Account"].values(), key=lambda a: (a.get("Name") or "").lower())
                options = [(a["Id"], a.get("Name") or a["Id"]) for a in accounts]
            elif f.picklist:
                options = [(v, v) for v in f.picklist]
            fields.append({"name": name, "label": f.label, "required": f.required, "options": options})
        return fields

    @bp.route("/lightning/o/<sobject>/new", methods=["GET", "POST"])
    def new_record(sobject: str):
        obj = org.sobject(sobject)
        if obj is None or obj.name not in LAYOUTS:
            return render_template("lightning_missing.html", message=f"Can't create a {sobject} here."), 404
        defaults = parse_default_field_values(request.query_string.decode("latin-1"))
        layout = layout_for(obj)
        shown = {f["name"] for f in layout}
        # Fields outside the layout are still saved (reference 3.5): they ride along hidden.
        hidden = {k: v for k, v in defaults.items() if k not in shown}
        if request.method == "GET":
            values = {k: v for k, v in defaults.items() if k in shown}
            if obj.name == "Lead" and not values.get("Status"):
                values["Status"] = obj.fields["Status"].default
            return render_template("lightning_new.html", sobject=obj.name, label=obj.label, layout=layout,
                                   values=values, hidden=hidden, error=None)
        submitted = {k: v for k, v in request.form.items()}
        fields = {k: (v if v != "" else None) for k, v in submitted.items()}
        fields = {k: v for k, v in fields.items() if v is not None}
        try:
            record_id = org.create(obj.name, fields, org.default_user_id())
        except ApiError as error:
            return render_template("lightning_new.html", sobject=obj.name, label=obj.label, layout=layout,
                                   values=submitted, hidden={k: submitted.get(k) for k in hidden},
                                   error=f"{error.code}: {error.message}"), 400
        return redirect(f"/lightning/r/{obj.name}/{record_id}/view", 303)

    @bp.get("/lightning/r/<sobject>/<record_id>/view")
    def view_record(sobject: str, record_id: str):
        obj = org.sobject(sobject)
        record = org.get(obj.name, record_id) if obj else None
        if record is None:
            return render_template("lightning_missing.html",
                                   message="The record you're looking for doesn't exist or was deleted."), 404
        with org.lock:
            activities = _activities(org, record["Id"])
            relations = _relations(org, record) if obj.name == "Task" else []
        fields = [(name, value) for name, value in record.items() if value not in (None, "")]
        title = record.get("Name") or record.get("Subject") or record.get("CaseNumber") or record["Id"]
        return render_template("lightning_view.html", sobject=obj.name, label=obj.label, record=record,
                               title=title, fields=fields, activities=activities, relations=relations)

    return bp


def _activities(org: Org, record_id: str) -> list[dict]:
    """Tasks naming the record as Who, What, or through a TaskRelation; newest first."""
    found: dict[str, dict] = {}
    for field_name in ("WhoId", "WhatId"):
        for task in org.lookup("Task", field_name, [record_id]) or []:
            found[task["Id"]] = task
    for relation in org.lookup("TaskRelation", "RelationId", [record_id]) or []:
        task = org.records["Task"].get(relation["TaskId"])
        if task:
            found[task["Id"]] = task
    return sorted(found.values(), key=lambda t: (t.get("ActivityDate") or "", t["CreatedDate"]), reverse=True)


def _relations(org: Org, task: dict) -> list[dict]:
    out = []
    for relation in org.lookup("TaskRelation", "TaskId", [task["Id"]]) or []:
        kind = org.type_of(relation["RelationId"])
        target = org.get(kind, relation["RelationId"]) if kind else None
        out.append({"type": kind or "?", "id": relation["RelationId"],
                    "name": (target or {}).get("Name") or (target or {}).get("Subject") or ""})
    if not out:
        for key in ("WhoId", "WhatId"):
            if task.get(key):
                kind = org.type_of(task[key])
                target = org.get(kind, task[key]) if kind else None
                out.append({"type": kind or "?", "id": task[key], "name": (target or {}).get("Name") or ""})
    return out
