"""The main navigation: the pages of SPEC sections 5 and 6, in the order people use them.
Links appear only for pages the app has and the person may open."""

from __future__ import annotations

from flask import Flask, current_app, request, url_for
from flask_login import current_user

# (endpoint, label, admins only)
MAIN_NAVIGATION = (
    ("history.index", "Sync History", False),
    ("settings.sync_jobs", "My Settings", False),
    ("connections.index", "Connections", False),
    ("ignore_list.index", "Ignore List", False),
    ("admin.index", "Admin", True),
)


def init_app(app: Flask) -> None:
    app.context_processor(lambda: {"navigation": navigation})


def navigation() -> list[dict]:
    if not current_user.is_authenticated:
        return []
    links = []
    for endpoint, label, admins_only in MAIN_NAVIGATION:
        if endpoint not in current_app.view_functions or (admins_only and not current_user.is_admin):
            continue
        links.append({"href": url_for(endpoint), "label": label,
                      "current": request.endpoint is not None and request.endpoint.split(".")[0] == endpoint.split(".")[0]})
    return links
