"""Rules shared by the host-only routes: who may call them, and the Office.js error shape their
failures carry back to the add-in (`AsyncResult.error`: name, message, code)."""

from __future__ import annotations

from flask import Response, jsonify, request
from werkzeug.exceptions import HTTPException

from ..microsoft.state import state


def office_error(status: int, name: str, code: int, message: str) -> HTTPException:
    response = jsonify({"error": {"name": name, "message": message, "code": code}})
    response.status_code = status
    return HTTPException(response=response)


def same_origin_only() -> Response | None:
    """Refuse browsers calling from another origin (the add-in's pages must go through the host
    page, which checks who asks). Callers without an Origin header (tests, curl) are allowed:
    a cross-origin browser request always carries one on POST, and Sec-Fetch-Site on any."""
    own = state().settings.microsoft_url.rstrip("/")
    origin = request.headers.get("Origin")
    site = request.headers.get("Sec-Fetch-Site")
    if (origin and origin != own) or site in ("cross-site", "same-site"):
        response = jsonify({"error": {"name": "Forbidden", "code": 403,
                                      "message": "Only the simulated Outlook page may call this route."}})
        response.status_code = 403
        return response
    return None
