"""Security headers on every response.

Scripts and styles come only from our origin (no inline script); pages cannot be framed,
except the add-in's pages, which name the Outlook origins themselves
(`content_security_policy(frame_ancestors=...)`, see `server.addin.pages`). Redirects carry
no Cross-Origin-Opener-Policy (see `_add_headers`).
"""

from __future__ import annotations

from flask import Flask, Response

DIRECTIVES = {
    "default-src": "'self'",
    "script-src": "'self'",
    "style-src": "'self'",
    "img-src": "'self' data:",
    "connect-src": "'self'",
    "form-action": "'self'",
    "base-uri": "'none'",
    "object-src": "'none'",
    "frame-ancestors": "'none'",
}


def content_security_policy(**changes: str) -> str:
    """The app's policy with some directives replaced (`frame_ancestors="..."` for
    frame-ancestors)."""
    directives = {**DIRECTIVES, **{name.replace("_", "-"): value for name, value in changes.items()}}
    return "; ".join(f"{name} {value}" for name, value in directives.items())


CONTENT_SECURITY_POLICY = content_security_policy()

HEADERS = {
    "Strict-Transport-Security": "max-age=31536000; includeSubDomains",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "strict-origin-when-cross-origin",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
}


def init_app(app: Flask) -> None:
    app.after_request(_add_headers)


def _add_headers(response: Response) -> Response:
    response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
    for name, value in HEADERS.items():
        if name == "Cross-Origin-Opener-Policy" and response.status_code in (301, 302, 303, 307, 308):
            # Browsers apply COOP to every redirect of a navigation: on the sign-in redirects
            # it would cut the add-in's sign-in dialog off from the window that opened it,
            # which Office.js on the web reaches through window.opener (the redirect itself
            # renders nothing that COOP could protect).
            continue
        response.headers.setdefault(name, value)
    return response
