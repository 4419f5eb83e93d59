"""The Sync History's URL state (tab, sort, dir, q, page) and the links built from it.

Defaults are left out of URLs, so the plain tab link is `/history/unresolved` and a
shared link holds only what the person changed.
"""

from __future__ import annotations

from flask import url_for

from mailferry.history import ASCENDING, DESCENDING, View


def params(view: View, **changes) -> dict[str, str | int]:
    """The query parameters of `view` with `changes` applied (sort, direction, query, page)."""
    tab = view.tab
    sort = changes.get("sort", view.sort)
    direction = changes.get("direction", view.direction)
    query = changes.get("query", view.query)
    page = changes.get("page", view.page)
    values: dict[str, str | int] = {}
    if sort != tab.default_sort or direction != tab.default_direction:
        values["sort"] = sort
        values["dir"] = direction
    if query:
        values["q"] = query
    if page and page > 1:
        values["page"] = page
    return values


def tab_url(view: View, **changes) -> str:
    return url_for("history.tab", tab=view.tab.key, **params(view, **changes))


def csv_url(view: View) -> str:
    return url_for("history.export", tab=view.tab.key, **params(view, page=1))


def sort_url(view: View, column_key: str) -> str:
    """The header link: the current column flips direction, another column starts
    ascending (the tab's default column starts in its default direction). Back to page 1."""
    if column_key == view.sort:
        direction = ASCENDING if view.direction == DESCENDING else DESCENDING
    elif column_key == view.tab.default_sort:
        direction = view.tab.default_direction
    else:
        direction = ASCENDING
    return tab_url(view, sort=column_key, direction=direction, page=1)


def aria_sort(view: View, column_key: str) -> str | None:
    if column_key != view.sort:
        return None
    return "ascending" if view.direction == ASCENDING else "descending"
